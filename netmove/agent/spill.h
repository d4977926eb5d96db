/* spill: a source's ring drained into the agent's memory during a long
 * blackout (netmoved internals).
 *
 * The buffer program's ring is a fixed size (--ring-mib): at 50 kpps of
 * 1500-byte frames 16 MiB fill in about 0.2 s, and a full ring drops what
 * comes next.  While the VM is paused the source agent looks at the ring
 * every SPILL_STEP_MS and, once a quarter of it is used, moves what it
 * holds into memory, so the ring never fills.  Below that the frames stay
 * in the ring, which outlives an agent that dies (recover.h).  The
 * spilled frames keep their order and go first, before what the ring still
 * holds, at the handoff (shipped) or at a rollback (replayed locally).
 * Memory is bounded by the limit (--spill-mib per relocation): past it the
 * ring keeps the rest and what no longer fits is counted as lost. */
#ifndef NETMOVE_AGENT_SPILL_H
#define NETMOVE_AGENT_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netmove/buffer.h"
#include "netmove/ctl.h"

#define SPILL_STEP_MS 5			/* the ring is looked at this often while paused */
#define SPILL_FROM 4			/* and drained once 1/SPILL_FROM of it is used */
#define SPILL_CHUNK (4u << 20)		/* bytes of encoded records per chunk */
#define SPILL_DEFAULT_MIB 256		/* default limit per relocation */

/* Frames moved out of one ring, in capture order. */
struct spill {
	struct ctl_msg *chunks;		/* encoded records (A_RECORD attributes) */
	size_t n, cap;			/* chunks used and allocated */
	size_t bytes;			/* encoded bytes held */
	size_t limit;			/* most bytes held */
	uint64_t frames;		/* records held */
	bool full;			/* the limit was reached once */
};

/* An empty spill holding at most limit bytes (allocates nothing). */
void spill_init(struct spill *s, size_t limit);

/* Move every record the ring of b holds into s, in order, up to the limit
 * (the rest stays in the ring).  Returns the records moved, or a negative
 * errno (-ENOMEM). */
int spill_take(struct spill *s, struct buffer *b);

/* Call fn for each spilled record, in order (stops at fn's negative
 * return, which it returns). */
int spill_each(const struct spill *s, buffer_record_fn fn, void *arg);

/* Free what is held; s is empty afterwards. */
void spill_free(struct spill *s);

#endif
