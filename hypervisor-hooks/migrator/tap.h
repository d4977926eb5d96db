/* tap: the host side of the guest NIC. */
#ifndef NM_TAP_H
#define NM_TAP_H

#include <stddef.h>

#define TAP_TXQLEN 10000	/* room for netmove's replay burst at resume */

/* Create (or attach to) tap NAME, IFF_TAP | IFF_NO_PI, nonblocking, up,
 * with txqlen frames of queue (0: keep the kernel's), IPv6 off.  With netns
 * set, inside /run/netns/NETNS (the calling thread returns to its own
 * namespace before this returns).  Returns the fd, or a negative errno with
 * the reason in err. */
int tap_open(const char *name, const char *netns, unsigned txqlen, char *err, size_t errlen);

#endif
