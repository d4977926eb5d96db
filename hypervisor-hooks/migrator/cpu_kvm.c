/* cpu_kvm: the KVM back-end.  One memory slot with dirty logging, one vCPU
 * started in the same 32-bit flat protected mode as the emulated back-end.
 *
 * Migration carries the raw KVM structures in cpu_state.ext (CPUID, SREGS,
 * REGS, XSAVE, XCRS, MSRs, VCPU_EVENTS, MP_STATE, DEBUGREGS) and restores them
 * in that order: CPUID before MSRs, SREGS before REGS. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "vm.h"

#define KVM_TSS_ADDR 0xfffbd000u
#define KVM_MAX_CPUID 128
#define KVM_KICK_SIGNAL SIGUSR1
#define KVM_HIDE_ENV "NETMOVE_NO_KVM"	/* set (not "0"): behave as if there were no KVM */

/* Chunks of cpu_state.ext. */
enum { KX_CPUID = 1, KX_SREGS, KX_REGS, KX_XSAVE, KX_XCRS, KX_MSRS, KX_EVENTS, KX_MP, KX_DEBUG };

static const uint32_t kvm_msr_list[] = {
	0x10,		/* TSC */
	0x174, 0x175, 0x176,	/* SYSENTER_CS/ESP/EIP */
	0x1a0,		/* MISC_ENABLE */
	0x277,		/* PAT */
};
#define KVM_NMSR (sizeof(kvm_msr_list) / sizeof(kvm_msr_list[0]))

struct kvm_msrs_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[KVM_NMSR];
};

struct kvm_cpuid_buf {
	struct kvm_cpuid2 hdr;
	struct kvm_cpuid_entry2 e[KVM_MAX_CPUID];
};

struct cpu_kvm {
	int sys, vmfd, vcpu;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;		/* thread inside run(), for kick */
	atomic_bool in_run;
	struct kvm_cpuid_buf cpuid;
	uint64_t *log;			/* KVM_GET_DIRTY_LOG buffer */
};

static void kvm_kick_handler(int sig)
{
	(void)sig;
}

static void kvm_destroy(struct vm *vm)
{
	struct cpu_kvm *k = vm->cpu;

	if (!k)
		return;
	if (k->run)
		munmap(k->run, k->run_size);
	if (k->vcpu >= 0)
		close(k->vcpu);
	if (k->vmfd >= 0)
		close(k->vmfd);
	if (k->sys >= 0)
		close(k->sys);
	free(k->log);
	free(k);
	vm->cpu = NULL;
}

/* Open /dev/kvm (unless KVM_HIDE_ENV hides it, to try the no-KVM case on a
 * host that has it): the fd, or a negative errno with the reason in why. */
static int kvm_open_sys(char *why, size_t len)
{
	const char *hide = getenv(KVM_HIDE_ENV);
	int fd, ret;

	if (hide && *hide && strcmp(hide, "0")) {
		snprintf(why, len, "KVM hidden by %s=%s", KVM_HIDE_ENV, hide);
		return -ENODEV;
	}
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, len, "no /dev/kvm: %s", strerror(-ret));
		return ret;
	}
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(fd);
		snprintf(why, len, "/dev/kvm: unexpected API version");
		return -ENOTSUP;
	}
	return fd;
}

static int kvm_probe(char *why, size_t len)
{
	int sys = kvm_open_sys(why, len), vmfd, ret = 0;

	if (sys < 0)
		return sys;
	vmfd = ioctl(sys, KVM_CREATE_VM, 0);
	if (vmfd < 0) {
		ret = -errno;
		snprintf(why, len, "KVM_CREATE_VM: %s", strerror(-ret));
	} else {
		close(vmfd);
	}
	close(sys);
	return ret;
}

static int kvm_create(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0,
		.flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = 0,
		.memory_size = vm->ram_size,
		.userspace_addr = (uintptr_t)vm->ram,
	};
	struct sigaction sa = { .sa_handler = kvm_kick_handler };	/* no SA_RESTART */
	struct cpu_kvm *k = calloc(1, sizeof(*k));
	const char *what = "";
	int ret, sz;

	if (!k)
		return -ENOMEM;
	k->sys = k->vmfd = k->vcpu = -1;
	vm->cpu = k;
	k->sys = kvm_open_sys(err, errlen);
	if (k->sys < 0) {
		ret = k->sys;
		goto out;
	}
	k->log = calloc((vm->npages + 63) / 64, sizeof(uint64_t));
	if (!k->log) {
		ret = -ENOMEM;
		goto out;
	}
	what = "KVM_CREATE_VM";
	k->vmfd = ioctl(k->sys, KVM_CREATE_VM, 0);
	if (k->vmfd < 0)
		goto fail;
	what = "KVM_SET_TSS_ADDR";	/* needed on Intel without unrestricted guest */
	if (ioctl(k->vmfd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		goto fail;
	what = "KVM_SET_USER_MEMORY_REGION";
	if (ioctl(k->vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto fail;
	what = "KVM_CREATE_VCPU";
	k->vcpu = ioctl(k->vmfd, KVM_CREATE_VCPU, 0);
	if (k->vcpu < 0)
		goto fail;
	what = "KVM_GET_VCPU_MMAP_SIZE";
	sz = ioctl(k->sys, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		goto fail;
	k->run_size = (size_t)sz;
	what = "mmap kvm_run";
	k->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, k->vcpu, 0);
	if (k->run == MAP_FAILED) {
		k->run = NULL;
		goto fail;
	}
	what = "KVM_GET_SUPPORTED_CPUID";
	k->cpuid.hdr.nent = KVM_MAX_CPUID;
	if (ioctl(k->sys, KVM_GET_SUPPORTED_CPUID, &k->cpuid) < 0)
		goto fail;
	what = "KVM_SET_CPUID2";
	if (ioctl(k->vcpu, KVM_SET_CPUID2, &k->cpuid) < 0)
		goto fail;
	sigemptyset(&sa.sa_mask);
	sigaction(KVM_KICK_SIGNAL, &sa, NULL);
	return 0;
fail:
	ret = -errno;
	snprintf(err, errlen, "%s: %s", what, strerror(-ret));
out:
	kvm_destroy(vm);
	return ret;
}

static int kvm_io(struct vm *vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		uint32_t v = 0;

		if (run->io.direction == KVM_EXIT_IO_OUT) {
			memcpy(&v, data, run->io.size);
			dev_io(vm, run->io.port, run->io.size, true, &v);
		} else {
			dev_io(vm, run->io.port, run->io.size, false, &v);
			memcpy(data, &v, run->io.size);
		}
	}
	return 0;
}

static int kvm_run_loop(struct vm *vm)
{
	struct cpu_kvm *k = vm->cpu;
	int ret = 0;

	k->thread = pthread_self();
	atomic_store(&k->in_run, true);
	while (!atomic_load(&vm->stop)) {
		if (ioctl(k->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				k->run->immediate_exit = 0;
				continue;
			}
			ret = -errno;
			snprintf(vm->err, sizeof(vm->err), "KVM_RUN: %s", strerror(errno));
			break;
		}
		switch (k->run->exit_reason) {
		case KVM_EXIT_IO:
			kvm_io(vm, k->run);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_HLT:
			snprintf(vm->err, sizeof(vm->err), "guest halted");
			ret = -EIO;
			goto out;
		default:
			snprintf(vm->err, sizeof(vm->err), "unexpected KVM exit %u",
				 k->run->exit_reason);
			ret = -EIO;
			goto out;
		}
	}
out:
	/* Finish a pending I/O exit so the saved state is consistent. */
	k->run->immediate_exit = 1;
	ioctl(k->vcpu, KVM_RUN, 0);
	k->run->immediate_exit = 0;
	atomic_store(&k->in_run, false);
	return ret;
}

static void kvm_kick(struct vm *vm)
{
	struct cpu_kvm *k = vm->cpu;

	if (!k || !atomic_load(&k->in_run))
		return;
	k->run->immediate_exit = 1;
	pthread_kill(k->thread, KVM_KICK_SIGNAL);
}

static void ext_put(struct cpu_state *s, uint32_t tag, const void *p, uint32_t len, int *ret)
{
	if (*ret)
		return;
	if (s->ext_len + 8 + len > CPU_EXT_MAX) {
		*ret = -ENOSPC;
		return;
	}
	memcpy(s->ext + s->ext_len, &tag, 4);
	memcpy(s->ext + s->ext_len + 4, &len, 4);
	memcpy(s->ext + s->ext_len + 8, p, len);
	s->ext_len += 8 + len;
}

static const void *ext_get(const struct cpu_state *s, uint32_t tag, uint32_t len)
{
	uint32_t off = 0, t, l;

	while (off + 8 <= s->ext_len) {
		memcpy(&t, s->ext + off, 4);
		memcpy(&l, s->ext + off + 4, 4);
		if (l > s->ext_len - off - 8)
			return NULL;
		if (t == tag)
			return l == len ? s->ext + off + 8 : NULL;
		off += 8 + l;
	}
	return NULL;
}

static void seg_from_kvm(struct cpu_seg *d, const struct kvm_segment *s)
{
	d->sel = s->selector;
	d->base = (uint32_t)s->base;
	d->limit = s->limit;
	d->attr = (uint16_t)(s->type | s->s << 4 | s->dpl << 5 | s->present << 7 |
			     s->avl << 12 | s->l << 13 | s->db << 14 | s->g << 15);
}

static void seg_to_kvm(struct kvm_segment *d, const struct cpu_seg *s)
{
	memset(d, 0, sizeof(*d));
	d->selector = s->sel;
	d->base = s->base;
	d->limit = s->limit;
	d->type = s->attr & 0xf;
	d->s = (s->attr >> 4) & 1;
	d->dpl = (s->attr >> 5) & 3;
	d->present = (s->attr >> 7) & 1;
	d->avl = (s->attr >> 12) & 1;
	d->l = (s->attr >> 13) & 1;
	d->db = (s->attr >> 14) & 1;
	d->g = (s->attr >> 15) & 1;
	d->unusable = !d->present;
}

static int kvm_get_state(struct vm *vm, struct cpu_state *s)
{
	struct cpu_kvm *k = vm->cpu;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave *xsave = NULL;
	struct kvm_xcrs xcrs;
	struct kvm_msrs_buf msrs;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_debugregs dbg;
	struct kvm_segment *seg[CPU_NSEG];
	uint32_t cpuid_len;
	size_t i;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	memset(&msrs, 0, sizeof(msrs));
	xsave = calloc(1, sizeof(*xsave));
	if (!xsave)
		return -ENOMEM;
	msrs.hdr.nmsrs = KVM_NMSR;
	for (i = 0; i < KVM_NMSR; i++)
		msrs.e[i].index = kvm_msr_list[i];
	if (ioctl(k->vcpu, KVM_GET_REGS, &regs) < 0 || ioctl(k->vcpu, KVM_GET_SREGS, &sregs) < 0 ||
	    ioctl(k->vcpu, KVM_GET_XSAVE, xsave) < 0 || ioctl(k->vcpu, KVM_GET_XCRS, &xcrs) < 0 ||
	    ioctl(k->vcpu, KVM_GET_MSRS, &msrs) != (int)KVM_NMSR ||
	    ioctl(k->vcpu, KVM_GET_VCPU_EVENTS, &ev) < 0 ||
	    ioctl(k->vcpu, KVM_GET_MP_STATE, &mp) < 0 ||
	    ioctl(k->vcpu, KVM_GET_DEBUGREGS, &dbg) < 0) {
		ret = errno ? -errno : -EIO;
		snprintf(vm->err, sizeof(vm->err), "KVM get state: %s", strerror(-ret));
		goto out;
	}
	s->gpr[0] = (uint32_t)regs.rax;
	s->gpr[1] = (uint32_t)regs.rcx;
	s->gpr[2] = (uint32_t)regs.rdx;
	s->gpr[3] = (uint32_t)regs.rbx;
	s->gpr[4] = (uint32_t)regs.rsp;
	s->gpr[5] = (uint32_t)regs.rbp;
	s->gpr[6] = (uint32_t)regs.rsi;
	s->gpr[7] = (uint32_t)regs.rdi;
	s->eip = (uint32_t)regs.rip;
	s->eflags = (uint32_t)regs.rflags;
	seg[CPU_ES] = &sregs.es;
	seg[CPU_CS] = &sregs.cs;
	seg[CPU_SS] = &sregs.ss;
	seg[CPU_DS] = &sregs.ds;
	seg[CPU_FS] = &sregs.fs;
	seg[CPU_GS] = &sregs.gs;
	for (i = 0; i < CPU_NSEG; i++)
		seg_from_kvm(&s->seg[i], seg[i]);
	seg_from_kvm(&s->tr, &sregs.tr);
	seg_from_kvm(&s->ldt, &sregs.ldt);
	s->gdt_base = (uint32_t)sregs.gdt.base;
	s->gdt_limit = sregs.gdt.limit;
	s->idt_base = (uint32_t)sregs.idt.base;
	s->idt_limit = sregs.idt.limit;
	s->cr0 = (uint32_t)sregs.cr0;
	s->cr2 = (uint32_t)sregs.cr2;
	s->cr3 = (uint32_t)sregs.cr3;
	s->cr4 = (uint32_t)sregs.cr4;
	s->efer = sregs.efer;
	cpuid_len = (uint32_t)(sizeof(k->cpuid.hdr) +
			       k->cpuid.hdr.nent * sizeof(struct kvm_cpuid_entry2));
	ext_put(s, KX_CPUID, &k->cpuid, cpuid_len, &ret);
	ext_put(s, KX_SREGS, &sregs, sizeof(sregs), &ret);
	ext_put(s, KX_REGS, &regs, sizeof(regs), &ret);
	ext_put(s, KX_XSAVE, xsave, sizeof(*xsave), &ret);
	ext_put(s, KX_XCRS, &xcrs, sizeof(xcrs), &ret);
	ext_put(s, KX_MSRS, &msrs, sizeof(msrs), &ret);
	ext_put(s, KX_EVENTS, &ev, sizeof(ev), &ret);
	ext_put(s, KX_MP, &mp, sizeof(mp), &ret);
	ext_put(s, KX_DEBUG, &dbg, sizeof(dbg), &ret);
out:
	free(xsave);
	return ret;
}

static int kvm_set_cpuid(struct cpu_kvm *k, const struct cpu_state *s)
{
	uint32_t off = 0, t, l;

	while (off + 8 <= s->ext_len) {
		memcpy(&t, s->ext + off, 4);
		memcpy(&l, s->ext + off + 4, 4);
		if (l > s->ext_len - off - 8)
			return -EBADMSG;
		if (t == KX_CPUID) {
			if (l < sizeof(k->cpuid.hdr) || l > sizeof(k->cpuid))
				return -EBADMSG;
			memcpy(&k->cpuid, s->ext + off + 8, l);
			if (k->cpuid.hdr.nent > KVM_MAX_CPUID ||
			    sizeof(k->cpuid.hdr) + k->cpuid.hdr.nent * sizeof(struct kvm_cpuid_entry2) != l)
				return -EBADMSG;
			return ioctl(k->vcpu, KVM_SET_CPUID2, &k->cpuid) < 0 ? -errno : 0;
		}
		off += 8 + l;
	}
	return 0;
}

static int kvm_set_state(struct vm *vm, const struct cpu_state *s)
{
	struct cpu_kvm *k = vm->cpu;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	const void *p;
	const char *what = "KVM_SET_CPUID2";
	int ret;

	ret = kvm_set_cpuid(k, s);
	if (ret)
		goto fail_ret;
	p = ext_get(s, KX_SREGS, sizeof(sregs));
	what = "KVM_GET_SREGS";
	if (p)
		memcpy(&sregs, p, sizeof(sregs));
	else if (ioctl(k->vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	if (!p) {
		seg_to_kvm(&sregs.es, &s->seg[CPU_ES]);
		seg_to_kvm(&sregs.cs, &s->seg[CPU_CS]);
		seg_to_kvm(&sregs.ss, &s->seg[CPU_SS]);
		seg_to_kvm(&sregs.ds, &s->seg[CPU_DS]);
		seg_to_kvm(&sregs.fs, &s->seg[CPU_FS]);
		seg_to_kvm(&sregs.gs, &s->seg[CPU_GS]);
		seg_to_kvm(&sregs.tr, &s->tr);
		seg_to_kvm(&sregs.ldt, &s->ldt);
		sregs.gdt.base = s->gdt_base;
		sregs.gdt.limit = s->gdt_limit;
		sregs.idt.base = s->idt_base;
		sregs.idt.limit = s->idt_limit;
		sregs.cr0 = s->cr0;
		sregs.cr2 = s->cr2;
		sregs.cr3 = s->cr3;
		sregs.cr4 = s->cr4;
		sregs.efer = s->efer;
	}
	what = "KVM_SET_SREGS";
	if (ioctl(k->vcpu, KVM_SET_SREGS, &sregs) < 0)
		goto fail;
	p = ext_get(s, KX_REGS, sizeof(regs));
	if (p) {
		memcpy(&regs, p, sizeof(regs));
	} else {
		memset(&regs, 0, sizeof(regs));
		regs.rax = s->gpr[0];
		regs.rcx = s->gpr[1];
		regs.rdx = s->gpr[2];
		regs.rbx = s->gpr[3];
		regs.rsp = s->gpr[4];
		regs.rbp = s->gpr[5];
		regs.rsi = s->gpr[6];
		regs.rdi = s->gpr[7];
		regs.rip = s->eip;
		regs.rflags = s->eflags;
	}
	what = "KVM_SET_REGS";
	if (ioctl(k->vcpu, KVM_SET_REGS, &regs) < 0)
		goto fail;
	what = "KVM_SET_XSAVE";
	p = ext_get(s, KX_XSAVE, sizeof(struct kvm_xsave));
	if (p && ioctl(k->vcpu, KVM_SET_XSAVE, p) < 0)
		goto fail;
	what = "KVM_SET_XCRS";
	p = ext_get(s, KX_XCRS, sizeof(struct kvm_xcrs));
	if (p && ioctl(k->vcpu, KVM_SET_XCRS, p) < 0)
		goto fail;
	what = "KVM_SET_MSRS";
	p = ext_get(s, KX_MSRS, sizeof(struct kvm_msrs_buf));
	if (p && ioctl(k->vcpu, KVM_SET_MSRS, p) != (int)KVM_NMSR)
		goto fail;
	what = "KVM_SET_VCPU_EVENTS";
	p = ext_get(s, KX_EVENTS, sizeof(struct kvm_vcpu_events));
	if (p && ioctl(k->vcpu, KVM_SET_VCPU_EVENTS, p) < 0)
		goto fail;
	what = "KVM_SET_MP_STATE";
	p = ext_get(s, KX_MP, sizeof(struct kvm_mp_state));
	if (p && ioctl(k->vcpu, KVM_SET_MP_STATE, p) < 0)
		goto fail;
	what = "KVM_SET_DEBUGREGS";
	p = ext_get(s, KX_DEBUG, sizeof(struct kvm_debugregs));
	if (p && ioctl(k->vcpu, KVM_SET_DEBUGREGS, p) < 0)
		goto fail;
	return 0;
fail:
	ret = errno ? -errno : -EIO;
fail_ret:
	snprintf(vm->err, sizeof(vm->err), "%s: %s", what, strerror(-ret));
	return ret;
}

static int kvm_sync_dirty(struct vm *vm)
{
	struct cpu_kvm *k = vm->cpu;
	struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = k->log };
	uint64_t w;

	/* KVM's log covers guest writes only; the VMM's own writes are marked
	 * in vm->dirty by vm_write. */
	if (ioctl(k->vmfd, KVM_GET_DIRTY_LOG, &log) < 0)
		return -errno;
	for (w = 0; w < (vm->npages + 63) / 64; w++)
		if (k->log[w])
			atomic_fetch_or(&vm->dirty[w], k->log[w]);
	return 0;
}

static void kvm_features(struct vm *vm, uint32_t f[CPU_FEAT_WORDS])
{
	struct cpu_kvm *k = vm->cpu;
	uint32_t i;

	memset(f, 0, CPU_FEAT_WORDS * sizeof(f[0]));
	for (i = 0; i < k->cpuid.hdr.nent; i++) {
		const struct kvm_cpuid_entry2 *e = &k->cpuid.e[i];

		if (e->function == 1) {
			f[0] = e->edx;
			f[1] = e->ecx;
		} else if (e->function == 7 && e->index == 0) {
			f[2] = e->ebx;
		}
	}
}

const struct cpu_ops cpu_kvm_ops = {
	.name = "kvm",
	.kind = CPU_KIND_KVM,
	.probe = kvm_probe,
	.create = kvm_create,
	.destroy = kvm_destroy,
	.run = kvm_run_loop,
	.kick = kvm_kick,
	.get_state = kvm_get_state,
	.set_state = kvm_set_state,
	.sync_dirty = kvm_sync_dirty,
	.features = kvm_features,
};
