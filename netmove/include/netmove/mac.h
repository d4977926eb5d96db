/* mac: Ethernet MAC and IPv4 address text <-> binary. */
#ifndef NETMOVE_MAC_H
#define NETMOVE_MAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define MAC_LEN 6
/* "aa:bb:cc:dd:ee:ff" plus the terminating NUL. */
#define MAC_STRLEN 18

/* A 48-bit Ethernet address in network order. */
struct mac {
	uint8_t b[MAC_LEN];	/* the six octets, first on the wire first */
};

/* Parse "aa:bb:cc:dd:ee:ff" (or '-' separated, any case); the whole string
 * must be consumed.  Returns 0 or -EINVAL. */
int mac_parse(const char *s, struct mac *out);

/* Format as lower-case colon form into buf (at least MAC_STRLEN bytes);
 * returns buf. */
char *mac_format(const struct mac *m, char *buf);

/* True for ff:ff:ff:ff:ff:ff. */
bool mac_is_broadcast(const struct mac *m);

/* True for group (multicast or broadcast) addresses. */
bool mac_is_multicast(const struct mac *m);

/* True for 00:00:00:00:00:00. */
bool mac_is_zero(const struct mac *m);

/* True if the two addresses are equal. */
bool mac_equal(const struct mac *a, const struct mac *b);

/* Parse a dotted-quad IPv4 address (no hostnames); returns 0 or -EINVAL. */
int mac_parse_ipv4(const char *s, struct in_addr *out);

#endif
