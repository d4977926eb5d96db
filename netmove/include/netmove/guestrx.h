/* guestrx: the last frame a VM's virtio-net NIC put into its guest's RX
 * ring, read from the VMM process's memory (/proc/PID/mem) once the VM has
 * stopped.
 *
 * A VMM that reads its tap in user space (QEMU) may take a frame from the
 * tap while it stops and then drop it, or keep it undelivered: nothing on
 * the host tells such a frame from one delivered just before the stop.  The
 * guest's RX ring does.  Its used ring lists the buffers the device filled,
 * in the order it filled them, and the last frame's bytes are still in the
 * buffers the ring points to: so every frame the reader took after that
 * frame was lost inside the VMM.  The ring's and the RAM's addresses come
 * from the VMM (qemu_nic.h asks QEMU); reading is then a few preads, which
 * need no answer from the stopped VMM.  Split virtqueues only (virtio 1.0,
 * QEMU's default); all values in the ring are little-endian. */
#ifndef NETMOVE_GUESTRX_H
#define NETMOVE_GUESTRX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define GUESTRX_REGIONS 16		/* RAM regions mapped at most */
#define GUESTRX_FRAME_MAX (65536 + 64)	/* longest frame read (a GSO frame) */

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

/* The last frame the device put into the ring: its bytes without the
 * virtio-net header into frame (cap bytes), their count in *len; *buffers
 * gets how many ring buffers it filled.  Returns 0, -ENOENT (the device
 * has filled no buffer yet), -EPROTO (the ring does not read as a filled
 * frame: a header whose buffer count does not match, a descriptor out of
 * the ring), -EFAULT (an address in no region), -E2BIG (longer than cap),
 * -EBADF (nothing open), or pread's negative errno. */
int guestrx_last(const struct guestrx *g, uint8_t *frame, size_t cap, size_t *len,
		 unsigned *buffers);

/* Close the memory (the struct may be opened again). */
void guestrx_close(struct guestrx *g);

#endif
