/* vm: the VMM core.  Guest RAM, the dirty bitmap, the devices and the vCPU
 * thread, independent of the CPU back-end (reached only through cpu_ops). */
#ifndef NM_VM_H
#define NM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu.h"
#include "dev.h"
#include "hw.h"

#define VM_PAGE_SHIFT 12
#define VM_PAGE_SIZE (1u << VM_PAGE_SHIFT)
#define VM_ERRLEN 256
#define VM_MIN_RAM (2u << 20)
#define VM_THROTTLE_MAX 99		/* percent: the vCPU always runs a little */
#define VM_THROTTLE_SLICE_MS 10		/* a throttled vCPU runs this long, then sits out */

/* VM creation parameters. */
struct vm_config {
	uint64_t ram_size;	/* bytes, multiple of the page size, >= VM_MIN_RAM */
	const struct cpu_ops *ops;	/* back-end */
	bool lockstep;		/* deterministic: guest runs only in vm_run_iters */
	uint32_t ws;		/* initial working set (pages) */
	uint32_t rate;		/* initial pages per iteration */
	uint32_t tick_us;	/* live mode: minimum time per iteration */
	int serial_fd;		/* copy serial output here (-1: no) */
	bool no_boot;		/* leave RAM empty (a migration destination) */
	bool prefault;		/* allocate every page of RAM now, not at first touch */
	bool nic;		/* give the guest a NIC (a destination takes it from the stream) */
	uint8_t mac[6];		/* NIC MAC */
	uint32_t ip;		/* NIC IPv4 address, network order */
	int nic_fd;		/* NIC back-end (tap), -1: none; the caller closes it */
};

/* A VM. */
struct vm {
	uint8_t *ram;		/* guest physical memory, mmap'd */
	uint64_t ram_size;	/* its size */
	uint64_t npages;	/* pages in it */
	_Atomic uint64_t *dirty;	/* 1 bit per page, set on every write */
	const struct cpu_ops *ops;	/* back-end */
	void *cpu;		/* back-end private */
	struct dev_serial serial;	/* console */
	struct dev_ctl ctl;	/* workload control */
	struct dev_nic nic;	/* paravirtual NIC */
	atomic_int stop;	/* back-end run() returns when set */
	bool lockstep;		/* no vCPU thread: the caller runs the guest */
	pthread_t thread;	/* vCPU thread (live mode) */
	bool thread_up;		/* thread started */
	pthread_mutex_t lock;	/* protects the fields below */
	pthread_cond_t cond;	/* signals changes of them */
	bool want_pause;	/* the vCPU thread should stay stopped */
	bool running;		/* the vCPU thread is inside run() */
	bool quit;		/* the vCPU thread should exit */
	unsigned throttle;	/* percent of the time the vCPU is held off */
	bool throttle_hold;	/* the vCPU thread is to sit out its off-time */
	pthread_t throttler;	/* kicks a throttled vCPU once per slice */
	bool throttler_up;	/* throttler started */
	int error;		/* guest failure (negative errno), 0 if none */
	char err[VM_ERRLEN];	/* text of the last error */
};

/* Create a VM (booted with the embedded guest unless cfg->no_boot).  The vCPU
 * is stopped; vm_start or vm_run_iters run it. */
int vm_create(struct vm *vm, const struct vm_config *cfg);
void vm_destroy(struct vm *vm);

/* Live mode: start the vCPU thread (running), pause it, resume it. */
int vm_start(struct vm *vm);
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/* Live mode: hold the vCPU off pct percent of the time (0: run freely, at
 * most VM_THROTTLE_MAX): it runs VM_THROTTLE_SLICE_MS, then sits out
 * slice * pct / (100 - pct).  Both back-ends, through kick. */
void vm_set_throttle(struct vm *vm, unsigned pct);
/* Live mode: sticky guest failure, or 0. */
int vm_error(struct vm *vm);

/* Lockstep: run exactly n more guest iterations (vCPU thread not started). */
int vm_run_iters(struct vm *vm, uint64_t n);

/* Mark [gpa, gpa+len) dirty: the back-ends' write tracking and the VMM's own
 * writes to guest RAM both end here. */
static inline void vm_mark_dirty(struct vm *vm, uint64_t gpa, uint64_t len)
{
	uint64_t p, last;

	if (!len || gpa >= vm->ram_size)
		return;
	last = (gpa + len - 1) >> VM_PAGE_SHIFT;
	if (last >= vm->npages)
		last = vm->npages - 1;
	for (p = gpa >> VM_PAGE_SHIFT; p <= last; p++)
		atomic_fetch_or_explicit(&vm->dirty[p / 64], 1ull << (p % 64),
					 memory_order_relaxed);
}

/* Copy into guest RAM, marking the pages dirty.  -EFAULT if out of range. */
int vm_write(struct vm *vm, uint64_t gpa, const void *src, size_t len);
/* Mark every page dirty (round 0). */
void vm_dirty_all(struct vm *vm);
/* Count dirty pages (after folding the back-end's log in). */
uint64_t vm_dirty_count(struct vm *vm);
/* Take and clear the 64 dirty bits of pages [64*word, 64*word+63]. */
uint64_t vm_dirty_take(struct vm *vm, uint64_t word);

/* Set the workload (takes effect at the guest's next iteration). */
void vm_set_workload(struct vm *vm, uint32_t ws, uint32_t rate);

#endif
