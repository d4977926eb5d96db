/* vm: guest RAM, dirty bitmap, boot, and the vCPU thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "netmove/timeutil.h"
#include "vm.h"

extern const uint8_t hh_guest_image[], hh_guest_image_end[];

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
	return (limit & 0xffffull) | ((uint64_t)(base & 0xffffff) << 16) |
	       ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

static struct cpu_seg flat_seg(uint16_t sel, uint16_t type)
{
	/* s=1, p=1, db=1, g=1 */
	return (struct cpu_seg){ .sel = sel, .base = 0, .limit = 0xffffffff,
				 .attr = (uint16_t)(type | 1 << 4 | 1 << 7 | 1 << 14 | 1 << 15) };
}

static int vm_boot(struct vm *vm)
{
	uint64_t gdt[4] = {
		0,
		gdt_entry(0, 0xfffff, 0x9a, 0xc),
		gdt_entry(0, 0xfffff, 0x92, 0xc),
		gdt_entry(HW_TSS, 0x67, 0x8b, 0x0),
	};
	size_t img = (size_t)(hh_guest_image_end - hh_guest_image);
	struct cpu_state *s;
	int i, ret;

	if (HW_LOAD + img > HW_STACK_TOP - 0x1000 || vm->ram_size < HW_WS_BASE)
		return -ENOSPC;
	ret = vm_write(vm, HW_GDT, gdt, sizeof(gdt));
	if (ret == 0)
		ret = vm_write(vm, HW_LOAD, hh_guest_image, img);
	if (ret)
		return ret;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (i = 0; i < CPU_NSEG; i++)
		s->seg[i] = flat_seg(HW_SEL_DATA, 0x3);
	s->seg[CPU_CS] = flat_seg(HW_SEL_CODE, 0xb);
	s->tr = (struct cpu_seg){ .sel = HW_SEL_TSS, .base = HW_TSS, .limit = 0x67,
				  .attr = 0xb | 1 << 7 };
	s->ldt = (struct cpu_seg){ .attr = 0x2 | 1 << 7 };
	s->gdt_base = HW_GDT;
	s->gdt_limit = sizeof(gdt) - 1;
	s->idt_limit = 0xffff;
	s->cr0 = 0x11;		/* PE | ET: what both back-ends reset to */
	s->eflags = 0x2;
	s->eip = HW_LOAD;
	s->gpr[4] = HW_STACK_TOP;
	ret = vm->ops->set_state(vm, s);
	free(s);
	return ret;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/* Fresh memory costs its allocation and zeroing at first touch, which on a
 * destination would fall inside the copy: pay it up front.  Zero bytes
 * written, so the guest sees nothing. */
static void vm_prefault(struct vm *vm)
{
	uint64_t off;

	if (madvise(vm->ram, vm->ram_size, MADV_POPULATE_WRITE) == 0)
		return;
	for (off = 0; off < vm->ram_size; off += VM_PAGE_SIZE)
		((volatile uint8_t *)vm->ram)[off] = 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg)
{
	pthread_condattr_t ca;
	int ret;

	memset(vm, 0, sizeof(*vm));
	pthread_mutex_init(&vm->lock, NULL);
	/* Timed waits (the throttle) count on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &ca);
	pthread_condattr_destroy(&ca);
	vm->serial.out_fd = -1;
	vm->nic.fd = -1;
	if (!cfg->ops || cfg->ram_size < VM_MIN_RAM || cfg->ram_size % VM_PAGE_SIZE ||
	    cfg->ram_size > (3ull << 30)) {
		snprintf(vm->err, sizeof(vm->err), "RAM size must be 2 MiB..3 GiB in pages");
		return -EINVAL;
	}
	vm->ops = cfg->ops;
	vm->lockstep = cfg->lockstep;
	vm->ram_size = cfg->ram_size;
	vm->npages = cfg->ram_size >> VM_PAGE_SHIFT;
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		ret = -errno;
		snprintf(vm->err, sizeof(vm->err), "guest RAM: %s", strerror(-ret));
		goto out;
	}
	/* Huge pages where the kernel has them: nested paging makes every TLB
	 * miss costly, and a migration destination faults its RAM in 2 MiB at
	 * a time instead of 4 KiB (3-4x the stream rate on these machines). */
	madvise(vm->ram, vm->ram_size, MADV_HUGEPAGE);
	if (cfg->prefault)
		vm_prefault(vm);
	vm->dirty = calloc((vm->npages + 63) / 64, sizeof(uint64_t));
	if (!vm->dirty) {
		ret = -ENOMEM;
		goto out;
	}
	ret = dev_init(vm);
	if (ret)
		goto out;
	vm->serial.out_fd = cfg->serial_fd;
	ret = dev_nic_init(&vm->nic, cfg->nic, cfg->mac, cfg->ip, cfg->nic ? cfg->nic_fd : -1);
	if (ret)
		goto out;
	vm->ctl.lockstep = cfg->lockstep;
	vm->ctl.tick_us = cfg->tick_us;
	vm_set_workload(vm, cfg->ws, cfg->rate);
	ret = vm->ops->create(vm, vm->err, sizeof(vm->err));
	if (ret)
		goto out;
	if (!cfg->no_boot) {
		ret = vm_boot(vm);
		if (ret)
			snprintf(vm->err, sizeof(vm->err), "boot: %s", strerror(-ret));
	}
out:
	if (ret)
		vm_destroy(vm);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	if (vm->thread_up) {
		pthread_mutex_lock(&vm->lock);
		vm->quit = true;
		atomic_store(&vm->stop, 1);
		if (vm->ops)
			vm->ops->kick(vm);
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
		pthread_join(vm->thread, NULL);
		if (vm->throttler_up)
			pthread_join(vm->throttler, NULL);
		vm->thread_up = vm->throttler_up = false;
	}
	if (vm->cpu && vm->ops)
		vm->ops->destroy(vm);
	vm->cpu = NULL;
	dev_exit(vm);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	vm->ram = NULL;
	free((void *)vm->dirty);
	vm->dirty = NULL;
}

static struct timespec vm_abstime(uint64_t mono_ns)
{
	return (struct timespec){ .tv_sec = (time_t)(mono_ns / NSEC_PER_SEC),
				  .tv_nsec = (long)(mono_ns % NSEC_PER_SEC) };
}

/* Throttled: sit out the off-time, unless a pause or an exit comes first. */
static void vm_sit_out(struct vm *vm)
{
	uint64_t until = timeutil_mono_ns() + VM_THROTTLE_SLICE_MS * NSEC_PER_MSEC *
			 vm->throttle / (100 - vm->throttle);
	struct timespec ts = vm_abstime(until);

	while (!vm->want_pause && !vm->quit && vm->throttle && timeutil_mono_ns() < until)
		pthread_cond_timedwait(&vm->cond, &vm->lock, &ts);
	vm->throttle_hold = false;
	if (!vm->want_pause && !vm->quit)
		atomic_store(&vm->stop, 0);
	pthread_cond_broadcast(&vm->cond);
}

static void *vm_thread(void *arg)
{
	struct vm *vm = arg;
	int ret;

	pthread_mutex_lock(&vm->lock);
	for (;;) {
		while (vm->want_pause && !vm->quit) {
			vm->running = false;
			pthread_cond_broadcast(&vm->cond);
			pthread_cond_wait(&vm->cond, &vm->lock);
		}
		if (vm->quit)
			break;
		vm->running = true;
		pthread_mutex_unlock(&vm->lock);
		ret = vm->ops->run(vm);
		pthread_mutex_lock(&vm->lock);
		if (ret < 0) {
			/* A dead guest stays stopped; vm_error reports why. */
			vm->error = ret;
			vm->want_pause = true;
		}
		if (vm->throttle_hold)
			vm_sit_out(vm);
	}
	vm->running = false;
	vm->throttle_hold = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

/* Once per slice of a throttled vCPU: stop it so that it sits out (the same
 * stop and kick a pause uses, so both back-ends obey it). */
static void *vm_throttler(void *arg)
{
	struct vm *vm = arg;
	struct timespec ts;

	pthread_mutex_lock(&vm->lock);
	while (!vm->quit) {
		if (!vm->throttle) {
			pthread_cond_wait(&vm->cond, &vm->lock);
			continue;
		}
		ts = vm_abstime(timeutil_mono_ns() + VM_THROTTLE_SLICE_MS * NSEC_PER_MSEC);
		while (!vm->quit && vm->throttle &&
		       pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) != ETIMEDOUT)
			;
		if (vm->quit || !vm->throttle || vm->want_pause || !vm->running)
			continue;
		vm->throttle_hold = true;
		atomic_store(&vm->stop, 1);
		vm->ops->kick(vm);
		while (vm->throttle_hold && !vm->quit)
			pthread_cond_wait(&vm->cond, &vm->lock);
	}
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vm_start(struct vm *vm)
{
	int ret;

	if (vm->lockstep || vm->thread_up)
		return -EINVAL;
	atomic_store(&vm->stop, 0);
	vm->want_pause = false;
	ret = -pthread_create(&vm->thread, NULL, vm_thread, vm);
	if (ret)
		return ret;
	vm->thread_up = true;
	ret = -pthread_create(&vm->throttler, NULL, vm_throttler, vm);
	vm->throttler_up = !ret;
	return ret;
}

void vm_set_throttle(struct vm *vm, unsigned pct)
{
	pthread_mutex_lock(&vm->lock);
	vm->throttle = pct > VM_THROTTLE_MAX ? VM_THROTTLE_MAX : pct;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm)
{
	if (!vm->thread_up)
		return;
	pthread_mutex_lock(&vm->lock);
	vm->want_pause = true;
	atomic_store(&vm->stop, 1);
	vm->ops->kick(vm);
	pthread_cond_broadcast(&vm->cond);	/* a throttled vCPU sitting out */
	while (vm->running)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
}

void vm_resume(struct vm *vm)
{
	if (!vm->thread_up)
		return;
	pthread_mutex_lock(&vm->lock);
	if (!vm->error) {
		vm->want_pause = false;
		atomic_store(&vm->stop, 0);
		vm->ctl.next_ns = 0;
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
}

int vm_error(struct vm *vm)
{
	int ret;

	pthread_mutex_lock(&vm->lock);
	ret = vm->error;
	pthread_mutex_unlock(&vm->lock);
	return ret;
}

int vm_run_iters(struct vm *vm, uint64_t n)
{
	int ret;

	if (!vm->lockstep)
		return -EINVAL;
	if (!n)
		return 0;
	vm->ctl.budget = vm->ctl.iters + n;
	atomic_store(&vm->stop, 0);
	ret = vm->ops->run(vm);
	if (ret == 0 && vm->ctl.iters != vm->ctl.budget) {
		snprintf(vm->err, sizeof(vm->err), "guest stopped after %llu of %llu iterations",
			 (unsigned long long)vm->ctl.iters, (unsigned long long)vm->ctl.budget);
		ret = -EIO;
	}
	return ret;
}

int vm_write(struct vm *vm, uint64_t gpa, const void *src, size_t len)
{
	if (gpa > vm->ram_size || len > vm->ram_size - gpa)
		return -EFAULT;
	memcpy(vm->ram + gpa, src, len);
	vm_mark_dirty(vm, gpa, len);
	return 0;
}

void vm_dirty_all(struct vm *vm)
{
	uint64_t w, words = (vm->npages + 63) / 64;

	for (w = 0; w < words; w++) {
		uint64_t bits = ~0ull;

		if (w == words - 1 && vm->npages % 64)
			bits = (1ull << (vm->npages % 64)) - 1;
		atomic_fetch_or(&vm->dirty[w], bits);
	}
}

uint64_t vm_dirty_count(struct vm *vm)
{
	uint64_t w, n = 0;

	vm->ops->sync_dirty(vm);
	for (w = 0; w < (vm->npages + 63) / 64; w++)
		n += (uint64_t)__builtin_popcountll(atomic_load_explicit(&vm->dirty[w],
									 memory_order_relaxed));
	return n;
}

uint64_t vm_dirty_take(struct vm *vm, uint64_t word)
{
	return atomic_exchange(&vm->dirty[word], 0);
}

void vm_set_workload(struct vm *vm, uint32_t ws, uint32_t rate)
{
	uint64_t max = vm->ram_size > HW_WS_BASE ? (vm->ram_size - HW_WS_BASE) / VM_PAGE_SIZE : 0;

	/* The guest reads these without a lock: a torn pair only lasts one iteration. */
	__atomic_store_n(&vm->ctl.ws, ws > max ? (uint32_t)max : ws, __ATOMIC_RELAXED);
	__atomic_store_n(&vm->ctl.rate, rate, __ATOMIC_RELAXED);
}
