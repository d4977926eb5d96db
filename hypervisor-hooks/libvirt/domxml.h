/* domxml: the netmove view of a libvirt domain XML document: its name and
 * its Open vSwitch interfaces, each with the IPv4 address netmove's own
 * metadata element gives it:
 *   <metadata>
 *     <nm:netmove xmlns:nm="https://netmove.dev/xmlns/libvirt/1">
 *       <nm:interface mac="52:54:00:00:00:70" ip="198.18.0.70"/>
 *     </nm:netmove>
 *   </metadata>
 * (the <interface> children in that namespace, as virsh metadata --set
 * writes them, or unprefixed).  Parsed with libxml2 without network
 * access, DTDs or entity expansion.  Errors are negative errnos with a text
 * in the caller's buffer. */
#ifndef NETMOVE_DOMXML_H
#define NETMOVE_DOMXML_H

#include <stdbool.h>
#include <stddef.h>
#include <net/if.h>
#include <netinet/in.h>

#include "netmove/mac.h"

/* The namespace of netmove's metadata element (matched by URI, not prefix). */
#define DOMXML_NS "https://netmove.dev/xmlns/libvirt/1"
/* Netmove (OVS) interfaces one domain may have. */
#define DOMXML_MAX_IFACES 16
/* Domain name size including the NUL. */
#define DOMXML_NAME_SIZE 256
/* Largest document accepted, in bytes. */
#define DOMXML_MAX_LEN (16u << 20)

/* One <devices><interface> with <virtualport type='openvswitch'/>. */
struct domxml_iface {
	struct mac mac;			/* <mac address=...>: unicast */
	char target[IF_NAMESIZE];	/* <target dev=...>, "" when absent (not started yet) */
	char bridge[IF_NAMESIZE];	/* <source bridge=...>, "" when absent */
	bool have_ip;			/* netmove's metadata gives this MAC an address */
	struct in_addr ip;		/* that address, if have_ip */
};

/* A domain as far as netmove cares. */
struct domxml_domain {
	char name[DOMXML_NAME_SIZE];	/* <name> */
	size_t n_ifaces;		/* entries used in ifaces */
	struct domxml_iface ifaces[DOMXML_MAX_IFACES]; /* in document order */
};

/* Parse the domain XML document xml (len bytes, need not be NUL-terminated)
 * into *out.  Interfaces without an OVS virtualport are skipped; metadata
 * entries for MACs the domain has no OVS interface with are ignored.
 * Returns 0; -EBADMSG for a document that is not well-formed XML, has a
 * DTD or whose root is not <domain>; -EINVAL for a missing or overlong
 * name, an OVS interface without a MAC, a bad or multicast MAC (in an
 * interface or the metadata), a MAC given twice, an overlong or invalid
 * target dev or bridge name, or a bad IPv4 address; -E2BIG for a document
 * over DOMXML_MAX_LEN or more than DOMXML_MAX_IFACES OVS interfaces;
 * -ENOMEM.  On error err (errlen bytes) says what and where. */
int domxml_parse(const char *xml, size_t len, struct domxml_domain *out, char *err,
		 size_t errlen);

/* The interface of d with MAC mac, or NULL. */
const struct domxml_iface *domxml_find(const struct domxml_domain *d, const struct mac *mac);

#endif
