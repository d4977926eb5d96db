/* txlog: the last frames sent into a VM's port, in the order its reader
 * receives them.
 *
 * QEMU's user-space network path reads one frame from its tap after it has
 * begun to stop and keeps it, never delivered (its net layer queues frames
 * while the VM is not running).  That frame is the last one QEMU read, and
 * only a copy taken on the way into the tap can bring it back.  txlog keeps
 * those copies: a packet socket on the port (PACKET_VNET_HDR, so checksum
 * and GSO state come along) sees every frame the kernel transmits on it
 * after tc, and a thread keeps the newest ones.  Frames the agent replays
 * itself (PACKET_QDISC_BYPASS) are not seen. */
#ifndef NETMOVE_TXLOG_H
#define NETMOVE_TXLOG_H

#include <stdint.h>

#include "netmove/buffer.h"

#define TXLOG_KEEP 2048			/* frames kept (the newest) */

struct txlog;

/* Start logging what is sent into ifname (in this network namespace).
 * Returns 0, -ENODEV, or another negative errno. */
int txlog_start(const char *ifname, struct txlog **out);

/* Stop the thread and take in what the socket still holds.  Returns the
 * number of frames logged since the start, or -ENOBUFS if the kernel dropped
 * some (the order is then unknown), or another negative errno. */
int64_t txlog_stop(struct txlog *l);

/* The frame logged at position pos (0: the first since the start) as a
 * record, with its frame_hash; rec->frame stays valid until txlog_free.
 * Returns 0, or -ENOENT if it is no longer (or not) kept. */
int txlog_get(const struct txlog *l, uint64_t pos, struct buffer_record *rec, uint32_t *hash);

/* Stop if needed and free (NULL is a no-op). */
void txlog_free(struct txlog *l);

#endif
