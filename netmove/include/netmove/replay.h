/* replay: frames handed back into a port (a VM's tap or veth, or the
 * uplink) as they were when captured: an AF_PACKET socket that bypasses the
 * qdisc, so the port's own clsact programs (the buffer) do not take them
 * again, with a virtio-net header carrying the checksum and segmentation
 * offload.  GSO frames the port cannot segment are segmented here, with
 * their checksums computed.  A full port queue is waited for (ENOBUFS is
 * retried, up to 2 s); frames are never truncated.  A handle is used by one
 * thread at a time. */
#ifndef NETMOVE_REPLAY_H
#define NETMOVE_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "netmove/record.h"

#define REPLAY_BATCH 64		/* frames replay_queue holds for one replay_flush */

/* Replay figures; calls add to them. */
struct buffer_replay_stats {
	uint64_t frames;	/* frames replayed */
	uint64_t bytes;		/* their bytes */
	uint64_t partial;	/* of which CHECKSUM_PARTIAL (sent with NEEDS_CSUM) */
	uint64_t gso;		/* of which GSO (sent with a GSO header) */
	uint64_t retries;	/* sends retried after ENOBUFS */
	uint64_t skipped;	/* frames the port refused (too big, unsupported GSO) */
	uint64_t duration_ns;	/* time spent (buffer_drain) */
	bool flipped_by_prog;	/* buffer_drain: the program handed back to PASS */
};

/* A port to replay into (opaque). */
struct replay;

/* Open one on ifname.  Returns 0, -EINVAL (not an interface name), -ENODEV
 * or another negative errno. */
int replay_open(const char *ifname, struct replay **out);

/* Close it (NULL is a no-op). */
void replay_close(struct replay *rp);

/* Send one record into the port, offloads and VLAN tag restored.  Returns
 * 0, or -EMSGSIZE / -EOPNOTSUPP / -EINVAL for a frame the port refuses or
 * that cannot be expressed (replay_refused: counted as skipped), or another
 * negative errno. */
int replay_send(struct replay *rp, const struct buffer_record *rec,
		struct buffer_replay_stats *st);

/* Whether err is a refusal of one frame (the next may go) rather than a
 * failure of the port. */
bool replay_refused(int err);

/* Add a frame that needs no segmentation (gso_size 0) to the batch; its
 * bytes must stay where they are until replay_flush.  Returns 0, -ENOSPC
 * (REPLAY_BATCH already queued), -EINVAL (GSO, or not valid) or -ENOMEM. */
int replay_queue(struct replay *rp, const struct buffer_record *rec, const void *cookie);

/* Send the batch with sendmmsg, in order, waiting out a full queue as
 * replay_send does; fn (if not NULL) is told each frame that went, with
 * its cookie.  Empties the batch.  Returns 0 or a negative errno (the
 * frames not told were not sent). */
typedef void (*replay_sent_fn)(void *arg, const void *cookie);
int replay_flush(struct replay *rp, struct buffer_replay_stats *st, replay_sent_fn fn, void *arg);

#endif
