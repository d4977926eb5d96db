/* wire: raw frames in and out of one interface through libpcap. */
#ifndef NETMOVE_WIRE_H
#define NETMOVE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "netmove/mac.h"

#define WIRE_ERRLEN 256

/* An open capture/inject handle. */
struct wire {
	void *pcap;			/* pcap_t */
	int fd;				/* selectable descriptor */
	char ifname[IF_NAMESIZE];	/* interface */
	char err[WIRE_ERRLEN];		/* text of the last error */
};

/* Open ifname for injection and capture.  filter (pcap syntax) may be NULL;
 * in_only keeps frames this host sends out of the capture.  Returns 0 or a
 * negative errno with w->err set. */
int wire_open(struct wire *w, const char *ifname, const char *filter, bool in_only);

/* Inject one frame.  Returns 0 or a negative errno with w->err set. */
int wire_send(struct wire *w, const void *frame, size_t len);

/* Wait until deadline (CLOCK_MONOTONIC ns) for the next captured frame.
 * Returns 1 with frame, len and ts_ns (CLOCK_REALTIME) set, 0 on timeout, or a
 * negative errno.  The frame stays valid until the next call. */
int wire_recv(struct wire *w, uint64_t deadline_ns, const uint8_t **frame,
	      size_t *len, uint64_t *ts_ns);

/* Close the handle; safe on a zeroed or already closed wire. */
void wire_close(struct wire *w);

/* Hardware address of an interface in the current namespace. */
int wire_ifmac(const char *ifname, struct mac *out);

#endif
