/* summary: what a migration did, for people or (--json) for scripts. */
#include <stdio.h>

#include "netmove/out.h"
#include "summary.h"

static const char *summary_outcome(enum precopy_outcome out)
{
	return out == PC_OUT_MOVED ? "moved" : out == PC_OUT_UNKNOWN ? "unknown" : "stayed";
}

void summary_print(const struct summary *sm, const struct precopy_stats *st, int ret)
{
	uint32_t i, n = st->rounds < PRECOPY_MAX_ROUNDS ? st->rounds : PRECOPY_MAX_ROUNDS;
	double page_mbps = st->copy_ns ? (double)st->page_bytes * 1e3 / (double)st->copy_ns : 0;
	const char *role = sm->role, *cpu = sm->cpu;
	struct out o;

	if (sm->progress_line)
		fputc('\n', stderr);	/* end the progress line */
	if (!sm->json) {
		printf("%s: %s\n", role, ret ? "FAILED" : "done");
		printf("  %s\n", st->why);
		printf("  cpu %s, outcome %s, rounds %u, pages per round:", cpu,
		       summary_outcome(st->outcome), st->rounds);
		for (i = 0; i < n; i++)
			printf(" %llu", (unsigned long long)st->pages[i]);
		printf(", final %llu\n", (unsigned long long)st->final_pages);
		if (n && st->throttle[n - 1]) {
			printf("  vCPU throttle per round (%%):");
			for (i = 0; i < n; i++)
				printf(" %u", st->throttle[i]);
			printf("\n");
		}
		printf("  %.1f MB in %.1f ms, downtime %.2f ms (destination load %.2f ms)\n",
		       (double)st->bytes / 1e6, (double)st->total_ns / 1e6,
		       (double)st->downtime_ns / 1e6, (double)st->load_ns / 1e6);
		return;
	}
	/* JSON through netmove's one printer (out), keys as nm-migrate(8) lists. */
	out_init(&o, stdout, true);
	out_str(&o, "role", role);
	out_bool(&o, "ok", !ret);
	out_str(&o, "cpu", cpu);
	out_str(&o, "outcome", summary_outcome(st->outcome));
	out_str(&o, "mode", sm->mode);
	out_u64(&o, "ram_mib", sm->ram_mib);
	out_bool(&o, "converged", st->converged);
	out_u64(&o, "rounds", st->rounds);
	out_arr_begin(&o, "pages_per_round");
	for (i = 0; i < n; i++)
		out_u64(&o, NULL, st->pages[i]);
	out_arr_end(&o);
	out_arr_begin(&o, "throttle_per_round");
	for (i = 0; i < n; i++)
		out_u64(&o, NULL, st->throttle[i]);
	out_arr_end(&o);
	out_u64(&o, "final_pages", st->final_pages);
	out_u64(&o, "zero_pages", st->zero_pages);
	out_u64(&o, "bytes", st->bytes);
	out_double(&o, "mbps", st->mbps, 1);
	out_u64(&o, "page_bytes", st->page_bytes);
	out_double(&o, "copy_ms", (double)st->copy_ns / 1e6, 3);
	out_double(&o, "page_mbps", page_mbps, 1);
	out_double(&o, "total_ms", (double)st->total_ns / 1e6, 3);
	out_double(&o, "downtime_ms", (double)st->downtime_ns / 1e6, 3);
	out_double(&o, "load_ms", (double)st->load_ns / 1e6, 3);
	out_double(&o, "predicted_ms", st->predicted_ms, 3);
	out_str(&o, "why", st->why);
	out_finish(&o);
}

