/* cpu: the back-end registry (the only place naming both back-ends). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cpu.h"

/* Fastest first: cpu_ops_best takes the first that runs here. */
static const struct cpu_ops *const cpu_all[] = { &cpu_kvm_ops, &cpu_emu_ops };
#define CPU_NALL (sizeof(cpu_all) / sizeof(cpu_all[0]))

const struct cpu_ops *cpu_ops_at(unsigned i)
{
	return i < CPU_NALL ? cpu_all[i] : NULL;
}

const struct cpu_ops *cpu_ops_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < CPU_NALL; i++)
		if (!strcmp(cpu_all[i]->name, name))
			return cpu_all[i];
	return NULL;
}

const struct cpu_ops *cpu_ops_by_kind(uint32_t kind)
{
	size_t i;

	for (i = 0; i < CPU_NALL; i++)
		if ((uint32_t)cpu_all[i]->kind == kind)
			return cpu_all[i];
	return NULL;
}

int cpu_probe(const struct cpu_ops *ops, char *why, size_t len)
{
	if (len)
		why[0] = 0;
	return ops->probe ? ops->probe(why, len) : 0;
}

const struct cpu_ops *cpu_ops_best(char *why, size_t len)
{
	char tmp[256];
	size_t i;

	if (len)
		why[0] = 0;
	for (i = 0; i < CPU_NALL; i++) {
		if (cpu_probe(cpu_all[i], tmp, sizeof(tmp)) == 0)
			return cpu_all[i];
		if (len && !why[0])
			snprintf(why, len, "%s: %s", cpu_all[i]->name, tmp);
	}
	return NULL;
}
