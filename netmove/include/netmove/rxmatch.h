/* rxmatch: which of the frames a VM's tap reader took reached the guest,
 * from what the guest's RX ring told at the stop (guestrx.h).
 *
 * The reader (QEMU) takes frames from the tap in order; the last ones it
 * took while stopping may never have reached the guest.  The ring tells the
 * newest frame it could read whole (the anchor, by hash and length) and the
 * bytes the NIC wrote into each buffer after it, or, without an anchor, the
 * bytes written into the newest buffers.  The NIC fills every buffer of a
 * frame but the last to the brim, and its filter may drop a frame for
 * another address.  Pure functions, no I/O. */
#ifndef NETMOVE_RXMATCH_H
#define NETMOVE_RXMATCH_H

#include <stdint.h>

#include "netmove/buffer.h"
#include "netmove/guestrx.h"
#include "netmove/mac.h"

#define RXMATCH_LOST_MAX 8		/* frames a reader may lose while it stops */
/* Frames looked through, newest first: the anchor may be followed by
 * GUESTRX_AFTER_MAX buffers, then the lost ones. */
#define RXMATCH_TAKEN_MAX (GUESTRX_AFTER_MAX + RXMATCH_LOST_MAX + 1)

/* What the ring told. */
struct rxmatch_tail {
	uint32_t hash;			/* the anchor's frame_hash */
	uint32_t len;			/* its bytes; 0: no anchor */
	uint8_t hdr_len;		/* the NIC's header before each frame */
	uint8_t nafter;			/* buffers in after[] */
	uint32_t after[GUESTRX_AFTER_MAX]; /* bytes written into each, oldest first */
};

/* How many of the frames the reader took last (taken[0] the newest, n of
 * them, hashes[i] the frame_hash of taken[i], as the tap log keeps it) did
 * not reach the guest (the VM's MAC is mac): 0..n.  Returns that
 * count, or -ENOENT (the anchor is not among them), -EPROTO (the lengths do
 * not match those frames), -EAGAIN (no anchor and the lengths fit more than
 * one count: a stream of equal frames does not tell).  *anchor gets the
 * anchor's index (-1 without one). */
int rxmatch_lost(const struct rxmatch_tail *t, const struct buffer_record *taken,
		 const uint32_t *hashes, int n, const struct mac *mac, int *anchor);

#endif
