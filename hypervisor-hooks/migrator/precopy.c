/* precopy: parameters and the names of migration events (both ends). */
#include <string.h>

#include "precopy.h"

static const char *const pc_event_names[PC_EV_COUNT] = {
	[PC_EV_ROUND] = "round",
	[PC_EV_BLACKOUT] = "blackout",
	[PC_EV_PAUSED] = "pause",
	[PC_EV_END] = "end",
	[PC_EV_COMMIT] = "commit",
	[PC_EV_RESUMED] = "resumed",
	[PC_EV_FAILED] = "failed",
	[PC_EV_UNKNOWN] = "unknown",
};

void precopy_config_default(struct precopy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->downtime_ms = 30;
	cfg->max_rounds = 30;
	cfg->max_time_ms = 30000;
	cfg->stall_rounds = 5;
	cfg->auto_converge = true;
	cfg->throttle_initial = 20;
	cfg->throttle_step = 10;
	cfg->throttle_max = VM_THROTTLE_MAX;
	cfg->ls_pages_per_iter = 2;
	cfg->ls_pages_per_ms = 100;
	cfg->timeout_ms = 10000;
	cfg->max_ram = 3ull << 30;
}

void precopy_emit(const struct precopy_config *cfg, enum precopy_event ev, uint32_t round)
{
	if (cfg->event)
		cfg->event(ev, round, cfg->arg);
}

const char *precopy_event_name(enum precopy_event ev)
{
	return (unsigned)ev < PC_EV_COUNT ? pc_event_names[ev] : "?";
}

int precopy_event_parse(const char *name)
{
	int i;

	for (i = 0; i < PC_EV_COUNT; i++)
		if (!strcmp(pc_event_names[i], name))
			return i;
	return -1;
}
