/* cpu: the back-end registry (the only place naming both back-ends). */
#include <stddef.h>
#include <string.h>

#include "cpu.h"

static const struct cpu_ops *const cpu_all[] = { &cpu_emu_ops, &cpu_kvm_ops };

const struct cpu_ops *cpu_ops_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cpu_all) / sizeof(cpu_all[0]); i++)
		if (!strcmp(cpu_all[i]->name, name))
			return cpu_all[i];
	return NULL;
}

const struct cpu_ops *cpu_ops_by_kind(uint32_t kind)
{
	size_t i;

	for (i = 0; i < sizeof(cpu_all) / sizeof(cpu_all[0]); i++)
		if ((uint32_t)cpu_all[i]->kind == kind)
			return cpu_all[i];
	return NULL;
}
