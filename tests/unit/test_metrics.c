/* metrics: the counters and their Prometheus text (netmove/agent/metrics.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static const char *const phases[METRICS_PHASES] = {
	"prepare", "blackout", "switchover", "handoff", "verify", "commit", "rollback",
};

static void snap_init(struct metrics_snap *s)
{
	int p;

	memset(s, 0, sizeof(*s));
	s->host = "hosta";
	for (p = 0; p < METRICS_PHASES; p++)
		s->phase_name[p] = phases[p];
}

static char *format(const struct metrics_snap *s)
{
	char *buf;
	size_t len;

	assert_int_equal(metrics_format(s, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(strlen(buf), len);
	return buf;
}

/* True if text holds line as one whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void expect_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("missing line: %s", line);
}

/* Every line is a comment (HELP, TYPE) or a sample of a metric whose TYPE
 * came before; no empty line; the text ends with a newline. */
static void well_formed(const char *text)
{
	char typed[16][64];
	int ntyped = 0, i;
	const char *p = text, *nl;

	assert_true(*text && text[strlen(text) - 1] == '\n');
	for (; *p; p = nl + 1) {
		char line[512], name[64];
		size_t n;

		nl = strchr(p, '\n');
		assert_non_null(nl);
		n = (size_t)(nl - p);
		assert_true(n > 0 && n < sizeof(line));
		memcpy(line, p, n);
		line[n] = 0;
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line + 7, "%63s", typed[ntyped]), 1);
			ntyped++;
			continue;
		}
		if (!strncmp(line, "# HELP ", 7))
			continue;
		assert_true(line[0] >= 'a' && line[0] <= 'z');
		assert_int_equal(sscanf(line, "%63[a-z_]", name), 1);
		for (i = 0; i < ntyped; i++) {
			size_t t = strlen(typed[i]);

			if (!strncmp(name, typed[i], t) &&
			    (!name[t] || !strcmp(name + t, "_bucket") || !strcmp(name + t, "_sum") ||
			     !strcmp(name + t, "_count")))
				break;
		}
		if (i == ntyped)
			fail_msg("sample before its TYPE: %s", line);
		/* One space, then the value, nothing after it. */
		assert_non_null(strrchr(line, ' '));
		assert_true(strrchr(line, ' ')[1] != 0);
	}
}

static void empty_agent(void **state)
{
	struct metrics_snap s;
	char *t;

	(void)state;
	snap_init(&s);
	s.start_us = 1700000000123456ULL;
	t = format(&s);
	well_formed(t);
	expect_line(t, "# HELP netmove_agent_info This agent; always 1, its host name as a label.");
	expect_line(t, "# TYPE netmove_agent_info gauge");
	expect_line(t, "netmove_agent_info{host=\"hosta\"} 1");
	expect_line(t, "netmove_agent_start_time_seconds 1700000000.123456");
	expect_line(t, "# TYPE netmove_relocations_total counter");
	/* Every role and outcome from the start, at 0: a rate() sees the first. */
	expect_line(t, "netmove_relocations_total{role=\"source\",outcome=\"committed\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"committed with errors\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"source\",outcome=\"committed with loss\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"rolled back\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"source\",outcome=\"failed\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"source\",outcome=\"interrupted\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"other\"} 0");
	expect_line(t, "# TYPE netmove_relocations_in_flight gauge");
	expect_line(t, "netmove_relocations_in_flight{role=\"source\"} 0");
	expect_line(t, "netmove_relocations_in_flight{role=\"destination\"} 0");
	expect_line(t, "# TYPE netmove_frames_buffered_total counter");
	expect_line(t, "netmove_frames_buffered_total 0");
	expect_line(t, "netmove_frames_replayed_total 0");
	expect_line(t, "netmove_frames_lost_total 0");
	expect_line(t, "# TYPE netmove_phase_duration_seconds histogram");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"source\",phase=\"prepare\",le=\"0.001\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"rollback\",le=\"+Inf\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"destination\",phase=\"rollback\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"source\",phase=\"handoff\"} 0");
	expect_line(t, "netmove_relocations_queued 0");
	expect_line(t, "netmove_relocations_scheduled 0");
	free(t);
}

static void outcomes_and_frames(void **state)
{
	uint64_t t_us[METRICS_PHASES] = { 0 };
	struct metrics_snap s;
	char *t;

	(void)state;
	snap_init(&s);
	assert_int_equal(metrics_outcome("committed with loss"), METRICS_COMMITTED_LOSS);
	assert_int_equal(metrics_outcome("rolled back"), METRICS_ROLLED_BACK);
	assert_int_equal(metrics_outcome("committed "), METRICS_OTHER);
	assert_string_equal(metrics_outcome_name(METRICS_INTERRUPTED), "interrupted");
	metrics_reloc_end(&s.m, &(struct metrics_reloc){ .is_src = true, .outcome = "committed",
							 .t_us = t_us, .buffered = 10,
							 .replayed = 0, .lost = 0 });
	metrics_reloc_end(&s.m, &(struct metrics_reloc){ .is_src = true, .outcome = "committed",
							 .t_us = t_us, .buffered = 5, .lost = 2 });
	metrics_reloc_end(&s.m, &(struct metrics_reloc){ .outcome = "committed with errors",
							 .t_us = t_us, .buffered = 1, .replayed = 16,
							 .lost = 1 });
	metrics_reloc_end(&s.m, &(struct metrics_reloc){ .outcome = "some new outcome",
							 .t_us = t_us });
	metrics_count(&s.m, METRICS_DST, "interrupted");
	s.in_flight[METRICS_SRC] = 3;
	s.queued = 4;
	s.scheduled = 7;
	t = format(&s);
	well_formed(t);
	expect_line(t, "netmove_relocations_total{role=\"source\",outcome=\"committed\"} 2");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"committed\"} 0");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"committed with errors\"} 1");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"other\"} 1");
	expect_line(t, "netmove_relocations_queued 4");
	expect_line(t, "netmove_relocations_scheduled 7");
	expect_line(t, "netmove_relocations_total{role=\"destination\",outcome=\"interrupted\"} 1");
	expect_line(t, "netmove_relocations_in_flight{role=\"source\"} 3");
	expect_line(t, "netmove_frames_buffered_total 16");
	expect_line(t, "netmove_frames_replayed_total 16");
	expect_line(t, "netmove_frames_lost_total 3");
	/* No phase began: nothing observed. */
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"source\",phase=\"prepare\"} 0");
	free(t);
}

/* Each phase lasts until the next one begun; the last until the outcome. */
static void phase_durations(void **state)
{
	uint64_t t_us[METRICS_PHASES] = { 0 };
	struct metrics_snap s;
	char *t;

	(void)state;
	snap_init(&s);
	t_us[0] = 1000000;		/* prepare: 1.5 ms, to switchover */
	t_us[2] = 1001500;		/* switchover: 2 s, to handoff */
	t_us[3] = 3001500;		/* handoff: 1 µs, to verify */
	t_us[4] = 3001501;		/* verify: 0, to commit */
	t_us[5] = 3001501;		/* commit: 70 s, to the outcome */
	metrics_reloc_end(&s.m, &(struct metrics_reloc){ .outcome = "committed", .t_us = t_us,
							 .end_us = 73001501 });
	t = format(&s);
	well_formed(t);
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"prepare\",le=\"0.001\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"prepare\",le=\"0.0025\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"prepare\",le=\"60\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"prepare\",le=\"+Inf\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"destination\",phase=\"prepare\"} 0.0015");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"destination\",phase=\"prepare\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"destination\",phase=\"blackout\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"switchover\",le=\"1\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"switchover\",le=\"2.5\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"destination\",phase=\"switchover\"} 2");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"destination\",phase=\"handoff\"} 0.000001");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"verify\",le=\"0.001\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"destination\",phase=\"verify\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"destination\",phase=\"verify\"} 1");
	/* 70 s: past the last bound, only in +Inf. */
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"commit\",le=\"60\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"commit\",le=\"+Inf\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"destination\",phase=\"commit\"} 70");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"source\",phase=\"commit\"} 0");
	free(t);
}

/* Buckets are cumulative, bounds inclusive; _sum and _count add up. */
static void histogram_cumulative(void **state)
{
	static const uint64_t obs[] = { 500, 1000, 1001, 3000, 30000000, 70000000, 0 };
	static const struct { const char *le; int n; } want[] = {
		{ "0.001", 3 }, { "0.0025", 4 }, { "0.005", 5 }, { "0.01", 5 }, { "0.025", 5 },
		{ "0.05", 5 }, { "0.1", 5 }, { "0.25", 5 }, { "0.5", 5 }, { "1", 5 }, { "2.5", 5 },
		{ "5", 5 }, { "10", 5 }, { "30", 6 }, { "60", 6 }, { "+Inf", 7 },
	};
	struct metrics_snap s;
	char line[256], *t;
	size_t i;

	(void)state;
	snap_init(&s);
	for (i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		metrics_observe(&s.m.phase[METRICS_SRC][6], obs[i]);
	t = format(&s);
	well_formed(t);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line),
			 "netmove_phase_duration_seconds_bucket{role=\"source\",phase=\"rollback\",le=\"%s\"} %d",
			 want[i].le, want[i].n);
		expect_line(t, line);
	}
	/* 0.0005 + 0.001 + 0.001001 + 0.003 + 30 + 70 + 0 */
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"source\",phase=\"rollback\"} 100.005501");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"source\",phase=\"rollback\"} 7");
	/* The buckets come in order, +Inf last, then _sum, then _count. */
	assert_true(strstr(t, "phase=\"rollback\",le=\"0.001\"") < strstr(t, "phase=\"rollback\",le=\"60\""));
	assert_true(strstr(t, "phase=\"rollback\",le=\"60\"") < strstr(t, "phase=\"rollback\",le=\"+Inf\""));
	assert_true(strstr(t, "source\",phase=\"rollback\",le=\"+Inf\"") <
		    strstr(t, "_sum{role=\"source\",phase=\"rollback\"}"));
	assert_true(strstr(t, "_sum{role=\"source\",phase=\"rollback\"}") <
		    strstr(t, "_count{role=\"source\",phase=\"rollback\"}"));
	free(t);
}

/* A late blackout (noted after the handoff began) ends before it begins:
 * not observed; the other phases keep the rule. */
static void phase_out_of_order(void **state)
{
	uint64_t t_us[METRICS_PHASES] = { 0 };
	struct metrics_snap s;
	char *t;

	(void)state;
	snap_init(&s);
	t_us[0] = 100;
	t_us[1] = 900;		/* blackout, noted after handoff's begin */
	t_us[3] = 500;		/* handoff */
	metrics_reloc_end(&s.m, &(struct metrics_reloc){ .is_src = true, .outcome = "committed",
							 .t_us = t_us, .end_us = 1500 });
	t = format(&s);
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"source\",phase=\"prepare\"} 0.0008");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"source\",phase=\"blackout\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_sum{role=\"source\",phase=\"handoff\"} 0.001");
	free(t);
}

/* Label values escape backslash, double quote and line feed. */
static void label_escaping(void **state)
{
	struct metrics_snap s;
	char *t;

	(void)state;
	snap_init(&s);
	s.host = "a\"b\\c\nd";
	s.phase_name[1] = "black\"out";
	t = format(&s);
	well_formed(t);
	expect_line(t, "netmove_agent_info{host=\"a\\\"b\\\\c\\nd\"} 1");
	expect_line(t, "netmove_phase_duration_seconds_count{role=\"source\",phase=\"black\\\"out\"} 0");
	expect_line(t, "netmove_phase_duration_seconds_bucket{role=\"destination\",phase=\"black\\\"out\",le=\"+Inf\"} 0");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_agent),
		cmocka_unit_test(outcomes_and_frames),
		cmocka_unit_test(phase_durations),
		cmocka_unit_test(histogram_cumulative),
		cmocka_unit_test(phase_out_of_order),
		cmocka_unit_test(label_escaping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
