/* arpprobe: ask from one interface who has a few IPv4 addresses, with ARP
 * probes (RFC 5227: sender protocol address 0.0.0.0) sent as a probe
 * identity that is no VM's.
 *
 * An ARP cache takes no entry from a sender 0.0.0.0, and the fabric learns
 * only the probe's own MAC, where it was sent: a host can find out what it
 * reaches (the gateway, a VM's L2 domain) without moving any VM's FDB
 * entry or ARP entry.  Linux and the common guests answer a probe for an
 * address of theirs (duplicate address detection depends on it) to the
 * probe's MAC, so an answer proves both directions between the interface
 * and the address's owner. */
#ifndef NETMOVE_ARPPROBE_H
#define NETMOVE_ARPPROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "netmove/mac.h"
#include "netmove/wire.h"

#define ARPPROBE_MAX 4			/* addresses asked at once */
#define ARPPROBE_MAX_TRIES 20		/* most rounds */
#define ARPPROBE_MAX_TIMEOUT_MS 10000	/* longest wait per round */

/* What to ask. */
struct arpprobe_cfg {
	struct mac src;			/* the probe identity: Ethernet and ARP sender */
	struct in_addr target[ARPPROBE_MAX]; /* the addresses asked for */
	int ntargets;			/* how many, 1..ARPPROBE_MAX */
	int vlan;			/* 802.1Q tag or FRAME_NO_VLAN */
	unsigned tries;			/* rounds: each asks the unanswered again */
	unsigned timeout_ms;		/* wait after each round's requests */
};

/* What one address answered. */
struct arpprobe_answer {
	bool answered;			/* a matching reply arrived */
	uint64_t rtt_ns;		/* its request -> the reply, capture clock */
	struct mac mac;			/* the MAC that answered */
};

/* Check cfg: a unicast, non-zero src, 1..ARPPROBE_MAX non-zero targets,
 * tries and timeout in range, a valid VLAN.  Returns 0 or -EINVAL. */
int arpprobe_validate(const struct arpprobe_cfg *cfg);

/* The request for target i, padded to the minimum frame: broadcast, sha =
 * src, spa = 0, tha = 0, tpa = target.  Returns its length or a negative
 * errno. */
int arpprobe_build(const struct arpprobe_cfg *cfg, int i, uint8_t *buf, size_t cap);

/* Which target frame answers: the index of the target whose reply it is
 * (to src, from that address, for 0.0.0.0 or for the requester's own
 * address, tagged as asked) with the answerer's MAC in *who, or -1. */
int arpprobe_match(const struct arpprobe_cfg *cfg, const uint8_t *frame, size_t len,
		   struct mac *who);

/* Ask from ifname and wait for the answers; ans has cfg->ntargets entries.
 * Returns the requests it sent when it ran (answered or not: see ans), or
 * a negative errno with err (WIRE_ERRLEN bytes, may be NULL) saying why it
 * could not. */
int arpprobe_run(const char *ifname, const struct arpprobe_cfg *cfg,
		 struct arpprobe_answer *ans, char *err);

#endif
