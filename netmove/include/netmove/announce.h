/* announce: RARP and gratuitous ARP bursts that tell the fabric where a VM's
 * MAC now lives.  The default schedule is QEMU's: 5 rounds, first at once,
 * then after 50, 150, 250, 350 ms (step 100 ms, capped at 550 ms). */
#ifndef NETMOVE_ANNOUNCE_H
#define NETMOVE_ANNOUNCE_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "netmove/mac.h"
#include "netmove/wire.h"

#define ANNOUNCE_MAX_ROUNDS 1000
#define ANNOUNCE_MAX_DELAY_MS 60000

/* What to announce and when. */
struct announce_cfg {
	struct mac mac;		/* the VM's MAC */
	struct in_addr ip;	/* the VM's IPv4 address (GARP only) */
	bool has_ip;		/* ip is set */
	int vlan;		/* 802.1Q tag or FRAME_NO_VLAN */
	bool rarp;		/* send a RARP each round */
	bool garp;		/* send a gratuitous ARP each round (needs ip) */
	unsigned rounds;	/* number of rounds, >= 1 */
	unsigned initial_ms;	/* delay before the second round */
	unsigned step_ms;	/* added to the delay for every further round */
	unsigned max_ms;	/* upper bound of a delay */
};

/* Outcome of a burst. */
struct announce_result {
	unsigned rounds;	/* rounds completed */
	unsigned frames;	/* frames sent */
	uint64_t first_ns;	/* CLOCK_REALTIME just before the first frame was sent */
	uint64_t last_ns;	/* CLOCK_REALTIME just before the last frame was sent */
};

/* QEMU-compatible defaults for mac: RARP on, GARP off, untagged. */
void announce_defaults(struct announce_cfg *cfg, const struct mac *mac);

/* Check a configuration; returns 0 or -EINVAL. */
int announce_validate(const struct announce_cfg *cfg);

/* Delay in ms before round r (round 0 leaves at once). */
unsigned announce_delay_ms(const struct announce_cfg *cfg, unsigned r);

/* Send one round (RARP and/or GARP) on an open wire; adds to res. */
int announce_round(struct wire *w, const struct announce_cfg *cfg,
		   struct announce_result *res);

/* Run rounds first..rounds-1 of the schedule on an open wire, each after its
 * scheduled delay counted from now (so a caller can send round 0 itself,
 * then hand the rest to a thread).  Adds to res.  Returns 0 or a negative errno (w->err). */
int announce_rounds(struct wire *w, const struct announce_cfg *cfg, unsigned first,
		    struct announce_result *res);

/* Run the whole schedule on an open wire.  Returns 0 or a negative errno
 * (w->err says why). */
int announce_run_wire(struct wire *w, const struct announce_cfg *cfg,
		      struct announce_result *res);

/* Open ifname and run the schedule.  On error err (WIRE_ERRLEN) says why. */
int announce_run(const char *ifname, const struct announce_cfg *cfg,
		 struct announce_result *res, char *err);

#endif
