/* taprec: what the source tap's reader left behind (netmoved internals).
 *
 * A hypervisor reports the VM's stop after it happened.  What reached the
 * tap meanwhile sits in the tap's queue, which the stopped reader never reads
 * again; and QEMU's user-space network path reads one more frame after it has
 * begun to stop and keeps it, undelivered.  taprec holds duplicates of the
 * reader's queue descriptors (tapq) and a log of what goes into the tap
 * (txlog), reads the tap out once the VM has stopped, finds the kept frame,
 * and hands all of it on in order: to the destination, or back into the tap
 * when the VM resumes here. */
#ifndef NETMOVE_AGENT_TAPREC_H
#define NETMOVE_AGENT_TAPREC_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "netmove/buffer.h"
#include "netmove/ctl.h"
#include "netmove/rxmatch.h"
#include "netmove/mac.h"
#include "netmove/tapq.h"
#include "netmove/txlog.h"
#include "recfile.h"

/* One relocation's source tap. */
struct taprec {
	char port[IF_NAMESIZE];		/* the tap */
	struct mac mac;			/* the VM's MAC */
	struct buffer *buf;		/* the port's buffer (borrowed): sends the marker */
	struct tapq *tq;		/* the reader's queues, NULL: none */
	struct txlog *txl;		/* copies of what goes into the tap, NULL: none */
	uint64_t tx0;			/* the tap's tx_packets at the start */
	struct ctl_msg early;		/* frames read out of the tap, A_RECORDs, in order */
	uint64_t early_frames;		/* how many */
	uint8_t *enc;			/* one record being encoded */
	uint64_t other;			/* frames for other addresses read out, left */
	uint32_t hashes[TXLOG_KEEP];	/* frame_hash of each frame read out (the first ones) */
	size_t nhashes;			/* how many */
	uint64_t out;			/* every frame read out */
	bool keeps;			/* the reader keeps one frame read after the stop */
	bool have_last;			/* last is known */
	struct rxmatch_tail last;	/* what the guest's RX ring told at the stop */
	bool marker_sent;		/* the marker went into the tap */
	uint64_t marker_tx;		/* the tap's tx_packets just before it */
	uint64_t read_since_marker;	/* frames we read out since (tx_packets counts them) */
	char keep[RECFILE_PATH];	/* early is kept in this file until handed on, or "" */
};

/* What became of the tap's frames, for the journal. */
struct taprec_counts {
	uint64_t recovered;		/* frames for the VM read out of the tap */
	uint64_t other;			/* frames for other addresses read out, left */
	uint64_t reader_took;		/* frames the reader took since the start */
	uint64_t reader_lost;		/* frames it took and lost, sent on */
	char kept[176];			/* the frames a keeping reader lost: what became of them */
};

/* Take the tap's queues from its reader (-ECANCELED if off) and, for a
 * single-queue tap, start its log.  keep (NULL: none) names a file that
 * holds the frames read out at the blackout until they are handed on, so
 * that they outlive an agent that dies meanwhile (a record file, recfile.h).
 * Returns the queues held or a negative errno (a port that is not a tap, or
 * that nobody reads, has none: not an error for the relocation); *log_err
 * gets txlog_start's error, 0 if none. */
int taprec_open(struct taprec *t, const char *port, const struct mac *mac, struct buffer *buf,
		const char *keep, bool off, int *log_err);

/* The VM has stopped (the blackout gave the stop time): read the tap out now
 * (into the keep file too) and, if the reader keeps a frame, send the
 * marker.  last (NULL: not told)
 * names the guest's last frame: the handoff then sends on every frame the
 * reader took after it, and falls back on the marker only if it is not
 * found.  Returns 0 or the read's negative errno; *marker_err gets the
 * marker's, *keep_err the keep file's. */
int taprec_blackout(struct taprec *t, bool reader_keeps, const struct rxmatch_tail *last,
		    int *marker_err, int *keep_err);

/* The VM runs elsewhere: read out what is left, and hand the frames the
 * reader took and lost (if any) and then every frame read out to fn, in
 * order.  The keep file is removed first: from here on the frames are fn's
 * (at most once, as the ring's).  Returns 0, fn's negative return, or the
 * read's negative errno (*read_err, the rest still handed on). */
int taprec_handoff(struct taprec *t, buffer_record_fn fn, void *arg, struct taprec_counts *c,
		   int *read_err);

/* The VM resumes here: replay what was read out back into the tap, ahead of
 * the buffer (the keep file is removed first).  Returns 0 or a negative
 * errno. */
int taprec_give_back(struct taprec *t, struct buffer_replay_stats *st);

/* The counts so far (after the blackout, or after taprec_handoff). */
void taprec_counts(const struct taprec *t, struct taprec_counts *c);

/* Frees t; the keep file goes with it (what it held was handed on, or the
 * relocation is over). */
void taprec_close(struct taprec *t);

#endif
