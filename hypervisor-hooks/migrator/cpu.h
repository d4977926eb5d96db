/* cpu: the vCPU back-end interface.  The VMM core (vm, dev, precopy, stream)
 * sees only this ops table and the neutral state below; each back-end is one
 * file (cpu_emu.c, cpu_kvm.c). */
#ifndef NM_CPU_H
#define NM_CPU_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Back-end kinds, carried in the migration stream. */
enum cpu_kind {
	CPU_KIND_EMU = 1,	/* emulated CPU (Unicorn) */
	CPU_KIND_KVM = 2,	/* /dev/kvm */
};

#define CPU_EXT_MAX 16384	/* room for a back-end's private state */
#define CPU_FEAT_WORDS 4	/* CPUID words compared at the destination */

/* One segment register, with its hidden part. */
struct cpu_seg {
	uint16_t sel;		/* selector */
	uint32_t base;		/* cached base */
	uint32_t limit;		/* cached limit (bytes - 1) */
	uint16_t attr;		/* type | s<<4 | dpl<<5 | p<<7 | avl<<12 | l<<13 | db<<14 | g<<15 */
};

enum { CPU_ES, CPU_CS, CPU_SS, CPU_DS, CPU_FS, CPU_GS, CPU_NSEG };

/* Neutral vCPU state: 32-bit protected mode, plus the back-end's own blob. */
struct cpu_state {
	uint32_t gpr[8];	/* eax ecx edx ebx esp ebp esi edi */
	uint32_t eip;		/* instruction pointer */
	uint32_t eflags;	/* flags */
	struct cpu_seg seg[CPU_NSEG];	/* es cs ss ds fs gs */
	struct cpu_seg tr;	/* task register */
	struct cpu_seg ldt;	/* LDT register */
	uint32_t gdt_base;	/* GDTR */
	uint16_t gdt_limit;	/* GDTR limit */
	uint32_t idt_base;	/* IDTR */
	uint16_t idt_limit;	/* IDTR limit */
	uint32_t cr0, cr2, cr3, cr4;	/* control registers */
	uint64_t efer;		/* EFER MSR */
	uint32_t ext_len;	/* bytes used in ext */
	uint8_t ext[CPU_EXT_MAX];	/* back-end private: FPU/XSAVE, MSRs, events... */
};

/* A back-end. */
struct cpu_ops {
	const char *name;	/* "emu", "kvm" */
	enum cpu_kind kind;	/* stream identifier */
	/* Can this back-end run on this host?  0, or a negative errno with
	 * the reason in why (NULL: always). */
	int (*probe)(char *why, size_t len);
	/* Create the vCPU on vm->ram; write why it failed into err. */
	int (*create)(struct vm *vm, char *err, size_t errlen);
	/* Free everything create made. */
	void (*destroy)(struct vm *vm);
	/* Run until vm->stop is seen (0) or the guest fails (negative). */
	int (*run)(struct vm *vm);
	/* From another thread: make a running run() look at vm->stop soon. */
	void (*kick)(struct vm *vm);
	/* Read / write the vCPU state (vCPU stopped). */
	int (*get_state)(struct vm *vm, struct cpu_state *s);
	int (*set_state)(struct vm *vm, const struct cpu_state *s);
	/* Fold the back-end's dirty log into vm's bitmap (if it keeps its own). */
	int (*sync_dirty)(struct vm *vm);
	/* CPUID feature words guests may rely on. */
	void (*features)(struct vm *vm, uint32_t f[CPU_FEAT_WORDS]);
};

extern const struct cpu_ops cpu_emu_ops;	/* Unicorn */
extern const struct cpu_ops cpu_kvm_ops;	/* /dev/kvm */

/* Look a back-end up by name or kind; NULL if unknown. */
const struct cpu_ops *cpu_ops_by_name(const char *name);
const struct cpu_ops *cpu_ops_by_kind(uint32_t kind);
/* The i-th back-end (NULL past the last), for listings. */
const struct cpu_ops *cpu_ops_at(unsigned i);
/* ops->probe, or 0 for a back-end that runs everywhere. */
int cpu_probe(const struct cpu_ops *ops, char *why, size_t len);
/* The first back-end that runs here, fastest first (kvm, then emu); why
 * gets the reason the faster ones do not. */
const struct cpu_ops *cpu_ops_best(char *why, size_t len);

#endif
