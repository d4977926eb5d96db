/* verify: ARP-ping the gateway as a VM (its MAC and IP) from an interface and
 * report whether, when and where the reply arrived.
 *
 * By default the request's Ethernet source is a neutral address (the
 * interface's own, or a locally administered one derived from the VM's MAC)
 * while the ARP sender fields carry the VM's MAC and IP.  The fabric then
 * does not learn the VM's MAC from the probe itself, so the reply - addressed
 * to the VM's MAC - follows the fabric's existing forwarding state: an answer
 * proves frames for the VM reach this interface.  learn = true sends as the
 * VM's MAC instead, which also acts as an announcement. */
#ifndef NETMOVE_VERIFY_H
#define NETMOVE_VERIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <net/if.h>

#include "netmove/mac.h"
#include "netmove/wire.h"

/* What to verify. */
struct verify_cfg {
	struct mac mac;		/* the VM's MAC (ARP sender hardware address) */
	struct in_addr ip;	/* the VM's IPv4 address (ARP sender address) */
	struct in_addr gateway;	/* the router to ask */
	int vlan;		/* 802.1Q tag or FRAME_NO_VLAN */
	bool learn;		/* Ethernet source = VM MAC (fabric learns it) */
	bool eth_src_set;	/* use eth_src as Ethernet source */
	struct mac eth_src;	/* explicit Ethernet source */
	unsigned tries;		/* requests to send, >= 1 */
	unsigned timeout_ms;	/* wait per request */
};

/* What happened. */
struct verify_result {
	bool answered;			/* a matching reply arrived */
	unsigned sent;			/* requests sent */
	uint64_t rtt_ns;		/* request -> reply, capture timestamps */
	uint64_t reply_ns;		/* CLOCK_REALTIME of the reply */
	struct mac gw_mac;		/* the gateway's MAC from the reply */
	struct mac eth_src;		/* Ethernet source actually used */
	int vlan;			/* VLAN the reply carried or FRAME_NO_VLAN */
	char ifname[IF_NAMESIZE];	/* interface the reply arrived on */
};

/* Defaults: untagged, neutral source, 3 tries of 1000 ms. */
void verify_defaults(struct verify_cfg *cfg);

/* Check a configuration; returns 0 or -EINVAL. */
int verify_validate(const struct verify_cfg *cfg);

/* The locally administered neutral source derived from a VM MAC. */
void verify_neutral_mac(const struct mac *vm, struct mac *out);

/* pcap filter text for replies to cfg (written to buf). */
int verify_filter(const struct verify_cfg *cfg, char *buf, size_t len);

/* True if frame is the gateway's ARP reply to the request cfg describes. */
bool verify_match(const struct verify_cfg *cfg, const uint8_t *frame, size_t len,
		  struct mac *gw_mac, int *vlan);

/* Send from ifname and wait for the reply on listen (NULL: ifname).  On
 * another interface, frames in both directions count, so a hypervisor can
 * send out of its uplink and watch the VM's port for what is delivered to
 * the VM.  Returns 0 when it ran (answered or not; see res), or a negative
 * errno with err (WIRE_ERRLEN bytes) saying why it could not run. */
int verify_run(const char *ifname, const char *listen, const struct verify_cfg *cfg,
	       struct verify_result *res, char *err);

#endif
