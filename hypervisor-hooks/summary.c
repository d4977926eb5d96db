/* summary: what a migration did, for people or (--json) for scripts. */
#include <stdio.h>

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
	printf("{\"role\":\"%s\",\"ok\":%s,\"cpu\":\"%s\",\"outcome\":\"%s\",\"mode\":\"%s\","
	       "\"ram_mib\":%llu,\"converged\":%s,\"rounds\":%u,\"pages_per_round\":[",
	       role, ret ? "false" : "true", cpu, summary_outcome(st->outcome), sm->mode,
	       (unsigned long long)sm->ram_mib,
	       st->converged ? "true" : "false", st->rounds);
	for (i = 0; i < n; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)st->pages[i]);
	printf("],\"throttle_per_round\":[");
	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", st->throttle[i]);
	printf("],\"final_pages\":%llu,\"zero_pages\":%llu,\"bytes\":%llu,\"mbps\":%.1f,"
	       "\"page_bytes\":%llu,\"copy_ms\":%.3f,\"page_mbps\":%.1f,"
	       "\"total_ms\":%.3f,\"downtime_ms\":%.3f,\"load_ms\":%.3f,\"predicted_ms\":%.3f,"
	       "\"why\":\"", (unsigned long long)st->final_pages,
	       (unsigned long long)st->zero_pages, (unsigned long long)st->bytes, st->mbps,
	       (unsigned long long)st->page_bytes, (double)st->copy_ns / 1e6, page_mbps,
	       (double)st->total_ns / 1e6, (double)st->downtime_ns / 1e6,
	       (double)st->load_ns / 1e6, st->predicted_ms);
	for (i = 0; st->why[i]; i++)
		if (st->why[i] == '"' || st->why[i] == '\\')
			printf("\\%c", st->why[i]);
		else if ((unsigned char)st->why[i] >= 0x20)
			putchar(st->why[i]);
	printf("\"}\n");
}

