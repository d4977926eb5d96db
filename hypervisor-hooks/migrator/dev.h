/* dev: the port-I/O devices (serial console, control device) and their
 * migratable state. */
#ifndef NM_DEV_H
#define NM_DEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct stream_w;
struct stream_r;

#define DEV_SERIAL_LOG_MAX (1u << 20)

/* Serial console: a transmit-only 16550 subset whose output is kept. */
struct dev_serial {
	char *log;		/* everything the guest printed (carried on migration) */
	size_t len;		/* bytes in log */
	size_t cap;		/* bytes allocated */
	int out_fd;		/* also copy output here (-1: no) */
	uint8_t scr;		/* scratch register */
	uint8_t lcr;		/* line control register */
};

/* Control device: sets the guest workload and counts its iterations. */
struct dev_ctl {
	uint32_t ws;		/* working set in pages (clamped to RAM) */
	uint32_t rate;		/* pages dirtied per iteration */
	uint64_t iters;		/* iterations the guest finished */
	uint64_t budget;	/* lockstep: stop when iters reaches this */
	bool lockstep;		/* count time in iterations, no sleeping */
	uint32_t tick_us;	/* live: minimum time per iteration */
	uint64_t next_ns;	/* live: when the next iteration may end */
};

/* Paravirtual NIC (hw.h): two descriptor rings in guest RAM, frames to and
 * from a host fd (a tap, or any datagram socket in tests). */
struct dev_nic {
	bool present;		/* the guest sees a NIC (HW_CTL_NET reads 1) */
	int fd;			/* back-end, nonblocking; -1: none (never migrated, not owned) */
	uint8_t mac[6];		/* guest MAC */
	uint32_t ip;		/* guest IPv4 address, network order */
	uint32_t rx_base;	/* RX ring address (0: not set up yet) */
	uint32_t tx_base;	/* TX ring address (0: not set up yet) */
	uint32_t rx_next;	/* next RX descriptor the VMM fills */
	uint32_t tx_next;	/* next TX descriptor the VMM sends */
	uint64_t rx_frames;	/* frames delivered to the guest */
	uint64_t tx_frames;	/* frames the guest sent */
	uint64_t rx_bytes;	/* bytes delivered to the guest */
	uint64_t tx_bytes;	/* bytes the guest sent */
	uint64_t rx_dropped;	/* frames read from the back-end but not delivered (too large) */
	uint64_t tx_errors;	/* guest frames not sent (bad descriptor, no back-end, write error) */
	uint8_t *bounce;	/* one back-end read, to detect oversized frames */
	uint8_t *pend;		/* frames taken from the back-end at the pause but not yet
				 * in a guest buffer: u16 length + bytes each; they
				 * migrate with the NIC and are delivered first */
	size_t pend_len;	/* bytes used in pend */
	size_t pend_off;	/* offset of the next frame to deliver */
	size_t pend_cap;	/* bytes allocated */
	uint64_t carried;	/* frames that travelled this way */
};

/* Port I/O from the guest: size 1, 2 or 4; *val is written on reads. */
void dev_io(struct vm *vm, uint16_t port, unsigned size, bool out, uint32_t *val);

/* NIC registers (HW_NIC_*); called by dev_io. */
void dev_nic_io(struct vm *vm, uint16_t port, bool out, uint32_t *val);
/* Set up / free the NIC of a fresh VM (fd: back-end or -1; not owned). */
int dev_nic_init(struct dev_nic *n, bool present, const uint8_t mac[6], uint32_t ip, int fd);
void dev_nic_exit(struct dev_nic *n);
void dev_nic_save(const struct dev_nic *n, struct stream_w *w);
/* Restore the guest-visible NIC state; the back-end fd stays. */
int dev_nic_load(struct dev_nic *n, struct stream_r *r);

/* vCPU paused for good (final copy): move frames still queued in the NIC
 * back-end into the buffers the guest posted, so that they migrate. */
void dev_quiesce(struct vm *vm);

/* Reset the devices of a fresh VM. */
int dev_init(struct vm *vm);
void dev_exit(struct vm *vm);

/* Serialize / restore the guest-visible device state. */
void dev_save(const struct vm *vm, struct stream_w *w);
int dev_load(struct vm *vm, struct stream_r *r);

#endif
