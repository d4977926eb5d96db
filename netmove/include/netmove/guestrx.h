/* guestrx: the last frame a VM's virtio-net NIC put into its guest's RX
 * ring, read from the VMM process's memory (/proc/PID/mem) once the VM has
 * stopped.
 *
 * A VMM that reads its tap in user space (QEMU) may take a frame from the
 * tap while it stops and then drop it, or keep it undelivered: nothing on
 * the host tells such a frame from one delivered just before the stop.  The
 * guest's RX ring does.  Its used ring lists the buffers the device filled,
 * in the order it filled them, with the bytes written into each; only the
 * device writes it.  A frame's bytes stay in its buffers until the guest
 * posts their descriptors again (Linux refills its ring in batches), so the
 * newest frame whose buffers are not posted again can be read whole: the
 * anchor.  The lengths written after it tell which of the frames the reader
 * took after the anchor reached the guest (taprec matches them); the rest
 * were lost inside the VMM.  The ring's and the RAM's addresses come from
 * the VMM (qemu_nic.h asks QEMU); reading is then a few preads, which need
 * no answer from the stopped VMM.  Split virtqueues only (virtio 1.0,
 * QEMU's default); all values in the ring are little-endian.  A buffer the
 * guest was posting again at the very instant its vCPU stopped (descriptor
 * written, avail slot not yet) is read as still there: that window is the
 * few instructions of one virtqueue_add. */
#ifndef NETMOVE_GUESTRX_H
#define NETMOVE_GUESTRX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GUESTRX_REGIONS 16		/* RAM regions mapped at most */
#define GUESTRX_FRAME_MAX (65536 + 64)	/* longest frame read (a GSO frame) */
#define GUESTRX_AFTER_MAX 64		/* buffers after the anchor told */

/* One range of guest-physical RAM and where the VMM maps it. */
struct guestrx_region {
	uint64_t gpa;			/* guest-physical start */
	uint64_t size;			/* bytes */
	uint64_t hva;			/* the VMM's address of gpa */
};

/* Where one NIC's RX queue 0 and the guest's RAM are. */
struct guestrx {
	int memfd;			/* the VMM's memory (/proc/PID/mem), -1: none */
	uint64_t desc, avail, used;	/* guest-physical addresses of the ring's parts */
	uint16_t num;			/* ring size (a power of two) */
	uint8_t hdr_len;		/* virtio-net header before each frame: 10, 12 */
	bool mergeable;			/* VIRTIO_NET_F_MRG_RXBUF: a frame may span buffers */
	size_t nregions;		/* regions in use */
	struct guestrx_region region[GUESTRX_REGIONS];
};

/* Empty (memfd -1, no ring). */
void guestrx_init(struct guestrx *g);

/* Open process pid's memory for reading.  Returns 0 or a negative errno
 * (-ESRCH: no such process, -EACCES/-EPERM: not allowed to read it). */
int guestrx_open(struct guestrx *g, pid_t pid);

/* Add a RAM region.  Returns 0, -ENOSPC (GUESTRX_REGIONS already), -EINVAL
 * (empty, or it overlaps one already added). */
int guestrx_add_region(struct guestrx *g, uint64_t gpa, uint64_t size, uint64_t hva);

/* The tail of the ring (see above). */
struct guestrx_tail {
	bool anchored;			/* an anchor frame was read */
	size_t len;			/* its bytes (no header); 0 without one */
	unsigned buffers;		/* ring buffers it filled */
	unsigned nafter;		/* buffers the device filled after it (without an
					 * anchor: the newest ones) */
	uint32_t after[GUESTRX_AFTER_MAX]; /* bytes written into each, oldest first
					 * (a frame's header in the first of its own) */
};

/* Read the tail of the ring once the VM has stopped: the anchor's bytes
 * without the virtio-net header into frame (cap bytes), the rest into *t.
 * Without an anchor (no frame in the newest 128 buffers can be read: the
 * guest has just posted them all again, as Linux does when it refills; or
 * more than GUESTRX_AFTER_MAX buffers came after it) t->anchored is false
 * and t->after holds the lengths of the newest buffers.  Returns 0, -ENOENT
 * (the device has filled no buffer yet), -ESTALE (not even lengths),
 * -E2BIG (the anchor is longer than cap), -EPROTO (the rings do not read as
 * rings), -EFAULT (an address in no region), -EBADF (nothing open), or
 * pread's negative errno. */
int guestrx_tail(const struct guestrx *g, uint8_t *frame, size_t cap, struct guestrx_tail *t);

/* Close the memory (the struct may be opened again). */
void guestrx_close(struct guestrx *g);

#endif
