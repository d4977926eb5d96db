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

/* Port I/O from the guest: size 1, 2 or 4; *val is written on reads. */
void dev_io(struct vm *vm, uint16_t port, unsigned size, bool out, uint32_t *val);

/* Reset the devices of a fresh VM. */
int dev_init(struct vm *vm);
void dev_exit(struct vm *vm);

/* Serialize / restore the guest-visible device state. */
void dev_save(const struct vm *vm, struct stream_w *w);
int dev_load(struct vm *vm, struct stream_r *r);

#endif
