/* srcship: the source's side of the handoff's frames.  Held frames are
 * shipped to the destination in batches, kept until it confirms them
 * (shipq.h), and sent out of the uplink after the VM instead once it cannot
 * take them: gone, or finished without them.  reloc_src.c drives it. */
#ifndef NETMOVE_AGENT_SRCSHIP_H
#define NETMOVE_AGENT_SRCSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "netmove/buffer.h"
#include "work.h"

/* One handoff's shipping: w, and enc (BUFFER_WIRE_HDR_LEN +
 * BUFFER_MAX_FRAME bytes) unless it only forwards (forwarding set). */
struct ship {
	struct work *w;
	uint8_t *enc;		/* one encoded record */
	uint64_t in_msg;	/* records in w->out */
	bool forwarding;	/* the destination cannot take them: out of the uplink */
	int err;		/* why not (the first shipping error) */
	int ferr;		/* the first forwarding error */
};

/* Take the destination's messages that came, waiting up to timeout_ms for
 * the first: FRAMES_ACK confirms shipped frames, DONE ends the handoff and
 * confirms what it says it took (all shipped, from one that does not say).
 * Returns 0, or a negative errno: the connection failed, or the
 * destination gave up (-EPROTO, its text in the relocation's error). */
int take_acks(struct work *w, int timeout_ms);

/* Send one held frame out of the uplink, after the VM (arg: the work). */
int forward_one(const struct buffer_record *rec, void *arg);

/* Open the uplink for forward_one (once).  Returns 0 or a negative errno. */
int forward_open(struct work *w);

/* The destination agent cannot take what it was shipped (err): if it is
 * gone, or finished without them (-ESHUTDOWN: its DONE came first), send
 * what it never confirmed out of the uplink after the VM, oldest first; if
 * it may still take them (slow, a cut link), count them as unconfirmed.
 * Later frames go out of the uplink too (ship_one). */
int forward_unconfirmed(struct work *w, int err);

/* Ship w->out, kept until confirmed; on failure, go on out of the uplink. */
int ship_flush(struct ship *s);

/* One record into the batch (arg: the ship), or out of the uplink once
 * forwarding. */
int ship_one(const struct buffer_record *rec, void *arg);

/* Export what the ring holds and ship it (or forward it): the records
 * exported, or a negative errno.  ship_ring_step is the same for
 * agent_until_quiet (arg: the ship). */
int ship_ring(struct ship *s);
int ship_ring_step(void *arg);

#endif
