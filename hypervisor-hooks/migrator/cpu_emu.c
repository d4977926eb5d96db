/* cpu_emu: the emulated back-end (Unicorn 2.0.1) on the VMM's own RAM.
 *
 * Unicorn 2.0.1 can re-execute part of a block (port I/O included) when
 * uc_emu_stop comes from another thread, a timeout or an I/O hook, so the
 * only stop path is a flag read by a block hook, which calls uc_emu_stop at a
 * block boundary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicorn/unicorn.h>

#include "vm.h"

struct cpu_emu {
	uc_engine *uc;
	uc_hook h_in, h_out, h_write, h_block;
	uint64_t last_addr;	/* the previous store, marked again once it landed */
	uint64_t last_size;	/* its size, 0: none pending */
};

static const int emu_gpr[8] = {
	UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
	UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI,
};

static const int emu_seg[CPU_NSEG] = {
	UC_X86_REG_ES, UC_X86_REG_CS, UC_X86_REG_SS,
	UC_X86_REG_DS, UC_X86_REG_FS, UC_X86_REG_GS,
};

static uint32_t emu_in(uc_engine *uc, uint32_t port, int size, void *arg)
{
	uint32_t v = 0;

	(void)uc;
	dev_io(arg, (uint16_t)port, (unsigned)size, false, &v);
	return v;
}

static void emu_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *arg)
{
	(void)uc;
	dev_io(arg, (uint16_t)port, (unsigned)size, true, &value);
}

/* The write hook runs before Unicorn performs the store.  A migration
 * thread that takes the page's dirty bit and copies the page between the
 * two would send the old content and lose the bit, so each store's page is
 * marked again once the store has certainly landed: at the next store or the
 * next block. */
static void emu_settle(struct vm *vm, struct cpu_emu *e)
{
	if (e->last_size)
		vm_mark_dirty(vm, e->last_addr, e->last_size);
	e->last_size = 0;
}

static void emu_write(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
		      int64_t value, void *arg)
{
	struct vm *vm = arg;
	struct cpu_emu *e = vm->cpu;

	(void)uc;
	(void)type;
	(void)value;
	emu_settle(vm, e);
	vm_mark_dirty(vm, addr, (uint64_t)size);
	e->last_addr = addr;
	e->last_size = (uint64_t)size;
}

static void emu_block(uc_engine *uc, uint64_t addr, uint32_t size, void *arg)
{
	struct vm *vm = arg;

	(void)addr;
	(void)size;
	emu_settle(vm, vm->cpu);
	if (atomic_load_explicit(&vm->stop, memory_order_acquire))
		uc_emu_stop(uc);
}

static void emu_destroy(struct vm *vm)
{
	struct cpu_emu *e = vm->cpu;

	if (!e)
		return;
	if (e->uc)
		uc_close(e->uc);
	free(e);
	vm->cpu = NULL;
}

static int emu_create(struct vm *vm, char *err, size_t errlen)
{
	struct cpu_emu *e = calloc(1, sizeof(*e));
	uc_err u;

	if (!e)
		return -ENOMEM;
	vm->cpu = e;
	u = uc_open(UC_ARCH_X86, UC_MODE_32, &e->uc);
	if (u == UC_ERR_OK)
		u = uc_mem_map_ptr(e->uc, 0, vm->ram_size, UC_PROT_ALL, vm->ram);
	if (u == UC_ERR_OK)
		u = uc_hook_add(e->uc, &e->h_in, UC_HOOK_INSN, (void *)emu_in, vm, 1, 0,
				UC_X86_INS_IN);
	if (u == UC_ERR_OK)
		u = uc_hook_add(e->uc, &e->h_out, UC_HOOK_INSN, (void *)emu_out, vm, 1, 0,
				UC_X86_INS_OUT);
	if (u == UC_ERR_OK)
		u = uc_hook_add(e->uc, &e->h_write, UC_HOOK_MEM_WRITE, (void *)emu_write, vm,
				1, 0);
	if (u == UC_ERR_OK)
		u = uc_hook_add(e->uc, &e->h_block, UC_HOOK_BLOCK, (void *)emu_block, vm, 1, 0);
	if (u != UC_ERR_OK) {
		snprintf(err, errlen, "unicorn: %s", uc_strerror(u));
		emu_destroy(vm);
		return -EIO;
	}
	return 0;
}

static int emu_run(struct vm *vm)
{
	struct cpu_emu *e = vm->cpu;
	uint32_t eip = 0;
	uc_err u;

	while (!atomic_load(&vm->stop)) {
		uc_reg_read(e->uc, UC_X86_REG_EIP, &eip);
		u = uc_emu_start(e->uc, eip, 0xffffffffull, 0, 0);
		emu_settle(vm, e);
		if (u != UC_ERR_OK) {
			uc_reg_read(e->uc, UC_X86_REG_EIP, &eip);
			snprintf(vm->err, sizeof(vm->err), "guest fault at eip %#x: %s", eip,
				 uc_strerror(u));
			return -EFAULT;
		}
		if (!atomic_load(&vm->stop)) {
			uc_reg_read(e->uc, UC_X86_REG_EIP, &eip);
			snprintf(vm->err, sizeof(vm->err), "guest halted at eip %#x", eip);
			return -EIO;
		}
	}
	return 0;
}

static void emu_kick(struct vm *vm)
{
	/* The block hook polls vm->stop; nothing else may stop Unicorn safely. */
	(void)vm;
}

static void mmr_get(uc_engine *uc, int reg, uint32_t *base, uint16_t *limit)
{
	uc_x86_mmr m = { 0 };

	uc_reg_read(uc, reg, &m);
	*base = (uint32_t)m.base;
	*limit = (uint16_t)m.limit;
}

static int emu_get_state(struct vm *vm, struct cpu_state *s)
{
	struct cpu_emu *e = vm->cpu;
	uint32_t v;
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < 8; i++)
		uc_reg_read(e->uc, emu_gpr[i], &s->gpr[i]);
	uc_reg_read(e->uc, UC_X86_REG_EIP, &s->eip);
	uc_reg_read(e->uc, UC_X86_REG_EFLAGS, &s->eflags);
	for (i = 0; i < CPU_NSEG; i++) {
		v = 0;
		uc_reg_read(e->uc, emu_seg[i], &v);
		s->seg[i].sel = (uint16_t)v;
	}
	mmr_get(e->uc, UC_X86_REG_GDTR, &s->gdt_base, &s->gdt_limit);
	mmr_get(e->uc, UC_X86_REG_IDTR, &s->idt_base, &s->idt_limit);
	uc_reg_read(e->uc, UC_X86_REG_CR0, &s->cr0);
	uc_reg_read(e->uc, UC_X86_REG_CR2, &s->cr2);
	uc_reg_read(e->uc, UC_X86_REG_CR3, &s->cr3);
	uc_reg_read(e->uc, UC_X86_REG_CR4, &s->cr4);
	return 0;
}

static int emu_set_state(struct vm *vm, const struct cpu_state *s)
{
	struct cpu_emu *e = vm->cpu;
	uc_x86_mmr gdtr = { .base = s->gdt_base, .limit = s->gdt_limit };
	uc_x86_mmr idtr = { .base = s->idt_base, .limit = s->idt_limit };
	uint32_t v;
	uc_err u = UC_ERR_OK;
	int i;

	/* Only the 32-bit flat protected mode this VMM boots is supported. */
	if ((s->cr0 & 0x80000001) != 1 || s->cr4 || s->efer)
		return -EOPNOTSUPP;
	uc_reg_write(e->uc, UC_X86_REG_CR2, &s->cr2);
	uc_reg_write(e->uc, UC_X86_REG_CR3, &s->cr3);
	/* GDTR first: each selector write reloads its descriptor from guest RAM. */
	u = uc_reg_write(e->uc, UC_X86_REG_GDTR, &gdtr);
	if (u == UC_ERR_OK)
		u = uc_reg_write(e->uc, UC_X86_REG_IDTR, &idtr);
	for (i = 0; i < CPU_NSEG && u == UC_ERR_OK; i++) {
		v = s->seg[i].sel;
		u = uc_reg_write(e->uc, emu_seg[i], &v);
	}
	for (i = 0; i < 8 && u == UC_ERR_OK; i++)
		u = uc_reg_write(e->uc, emu_gpr[i], &s->gpr[i]);
	if (u == UC_ERR_OK)
		u = uc_reg_write(e->uc, UC_X86_REG_EIP, &s->eip);
	if (u == UC_ERR_OK)
		u = uc_reg_write(e->uc, UC_X86_REG_EFLAGS, &s->eflags);
	if (u != UC_ERR_OK) {
		snprintf(vm->err, sizeof(vm->err), "unicorn: set state: %s", uc_strerror(u));
		return -EINVAL;
	}
	return 0;
}

static int emu_sync_dirty(struct vm *vm)
{
	/* The write hook marks vm->dirty directly. */
	(void)vm;
	return 0;
}

static void emu_features(struct vm *vm, uint32_t f[CPU_FEAT_WORDS])
{
	(void)vm;
	/* The emulated model is fixed by the library build: compare that. */
	memset(f, 0, CPU_FEAT_WORDS * sizeof(f[0]));
	f[CPU_FEAT_WORDS - 1] = uc_version(NULL, NULL);
}

const struct cpu_ops cpu_emu_ops = {
	.name = "emu",
	.kind = CPU_KIND_EMU,
	.create = emu_create,
	.destroy = emu_destroy,
	.run = emu_run,
	.kick = emu_kick,
	.get_state = emu_get_state,
	.set_state = emu_set_state,
	.sync_dirty = emu_sync_dirty,
	.features = emu_features,
};
