/* spill: a ring drained into a record file during a long blackout
 * (netmoved internals).
 *
 * The buffer program's ring is a fixed size (--ring-mib): at 50 kpps of
 * 1500-byte frames 16 MiB fill in about 0.2 s, and a full ring drops what
 * comes next.  While the VM is paused the source agent looks at the ring
 * every SPILL_STEP_MS and, once a quarter of it is used, moves what it
 * holds into its spill file (recfile.h, beside the agent's socket: on a
 * runtime directory's tmpfs, memory that is not the agent's), so the ring
 * never fills.  Below that the frames stay in the ring.  Both outlive an
 * agent that dies, and the restarted one sends them on (recover.h); at
 * most SPILL_FLUSH bytes of records taken from the ring are in the agent's
 * memory only, on their way to the file.  The spilled frames keep their
 * order and go first, before what the ring still holds, at the handoff
 * (shipped) or at a rollback (replayed locally).  The file is bounded by
 * the limit (--spill-mib per relocation): past it the ring keeps the rest
 * and what no longer fits is counted as lost.  A file that cannot be
 * written (its file system full) leaves the records in memory, still
 * bounded by the limit. */
#ifndef NETMOVE_AGENT_SPILL_H
#define NETMOVE_AGENT_SPILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netmove/buffer.h"
#include "netmove/ctl.h"
#include "recfile.h"

#define SPILL_STEP_MS 5			/* the ring is looked at this often while paused */
#define SPILL_FROM 4			/* and drained once 1/SPILL_FROM of it is used */
#define SPILL_FLUSH (256u << 10)	/* records in memory go to the file at this size */
#define SPILL_DEFAULT_MIB 256		/* default limit per relocation */

/* Frames moved out of one ring, in capture order. */
struct spill {
	char path[RECFILE_PATH];	/* the spill file */
	int fd;				/* open on it, -1: not made yet */
	int file_err;			/* why it could not be written, 0: it could */
	size_t file_len;		/* bytes of whole records in it */
	struct ctl_msg mem;		/* records taken, not (yet) in the file */
	size_t bytes;			/* encoded bytes held */
	size_t limit;			/* most bytes held */
	uint64_t frames;		/* records held */
	bool full;			/* the limit was reached once */
	bool in_mem_each;		/* spill_each is handing mem's records: a take
					 * now would move them (it waits) */
};

/* An empty spill holding at most limit bytes in the file path (made at the
 * first spill_take; a path too long or "" keeps the records in memory). */
void spill_init(struct spill *s, size_t limit, const char *path);

/* Move every record the ring of b holds into s, in order, up to the limit
 * (the rest stays in the ring).  Returns the records moved, or a negative
 * errno (-ENOMEM). */
int spill_take(struct spill *s, struct buffer *b);

/* Call fn for each spilled record, in order (stops at fn's negative
 * return, which it returns).  fn may spill_take: what it moves into the
 * file meanwhile is handed on too, after the rest. */
int spill_each(struct spill *s, buffer_record_fn fn, void *arg);

/* Free what is held and remove the file; s is empty afterwards. */
void spill_free(struct spill *s);

#endif
