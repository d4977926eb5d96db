/* tapq: the frames a stopped VM left unread in its tap.
 *
 * A hypervisor tells netmove that a VM stopped only after it stopped (QEMU's
 * STOP event follows the vCPU stop).  Frames that reached the VM's tap in
 * between went through the tap and now sit in its queue, which the stopped
 * hypervisor never reads again.  tapq finds the process that holds the tap's
 * queues (the reader: QEMU, a stand-in), takes duplicates of its queue
 * descriptors (pidfd_getfd, Linux 5.6) and, once the VM runs elsewhere, reads
 * out what is queued so it can be delivered at the VM's new home ahead of the
 * frames buffered after the stop.
 *
 * Holding the duplicates keeps the tap alive after its reader exits (the
 * queued frames stay readable); tapq_close lets it go.  Read out only when
 * the reader will never read again (the VM resumed on another host): a
 * reader that runs on competes for the same frames. */
#ifndef NETMOVE_TAPQ_H
#define NETMOVE_TAPQ_H

#include <stdint.h>
#include <sys/types.h>

#include "netmove/buffer.h"
#include "netmove/mac.h"

#define TAPQ_MAX_QUEUES 16	/* queue descriptors taken per tap */

/* What tapq_drain read. */
struct tapq_stats {
	uint64_t frames;	/* frames for the VM's MAC handed on */
	uint64_t bytes;		/* their bytes (without the virtio header) */
	uint64_t other;		/* frames for other or group addresses, not handed on */
	uint64_t bad;		/* frames with a malformed virtio header, not handed on */
	uint64_t read;		/* every frame read: handed on, other and bad */
	uint32_t *hashes;	/* in: NULL, or room for hashes_cap frame_hash values, */
	size_t hashes_cap;	/*     one per frame read, in order (the first ones) */
};

/* A tap's queues (opaque). */
struct tapq;

/* Find the process holding ifname's tap queues in this network namespace and
 * take its queue descriptors.  Returns 0, -ENODEV (no such interface),
 * -ENOTTY (ifname is not a tap), -ENOENT (no process holds a queue of it),
 * -EPERM, or another negative errno. */
int tapq_open(const char *ifname, struct tapq **out);

/* Queue descriptors held, and the holder's PID. */
int tapq_queues(const struct tapq *q);
pid_t tapq_holder(const struct tapq *q);

/* Read every frame queued in the tap and hand each one addressed to mac to
 * fn, in queue order, as a record with the checksum and GSO state its virtio
 * header gave (rec->seq counts from 0 per call, rec->tstamp_ns is the read
 * time).  Frames for other addresses (the fabric floods group frames to
 * every host: the VM gets them at its new home too) are counted, not handed
 * on.  Returns the number of records handed on, or fn's negative return (the
 * frame it refused is lost), or a negative errno.  st may be NULL. */
int tapq_drain(struct tapq *q, const struct mac *mac, buffer_record_fn fn, void *arg,
	       struct tapq_stats *st);

/* Close the duplicates (NULL is a no-op). */
void tapq_close(struct tapq *q);

/* One counter of ifname's statistics (/sys/class/net/IF/statistics/NAME,
 * e.g. "tx_packets", "tx_dropped").  On a tap, tx_packets counts only what
 * its reader took: frames passed to it minus tx_packets wait unread, and
 * tx_dropped counts those it dropped with txqueuelen waiting.  Returns 0,
 * -ENOENT or -EIO. */
int tapq_stat(const char *ifname, const char *counter, uint64_t *v);

/* ifname's txqueuelen (/sys/class/net/IF/tx_queue_len): 0, -ENOENT or -EIO. */
int tapq_txqlen(const char *ifname, uint64_t *v);

#endif
