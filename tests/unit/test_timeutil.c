/* Unit tests for netmove/lib/timeutil.c: the wall-clock instants an
 * operator writes (timeutil_parse_real), and the deadline helpers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "netmove/timeutil.h"

#define MIDNIGHT 1796256000ULL	/* 2026-12-03T00:00:00Z */
#define NOW (MIDNIGHT * NSEC_PER_SEC + 123456789ULL)

static uint64_t parse_ok(const char *s)
{
	uint64_t ns = 0;

	assert_int_equal(timeutil_parse_real(s, NOW, &ns), 0);
	return ns;
}

static void instants(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2026-12-03T08:30:15Z"), (MIDNIGHT + 8 * 3600 + 30 * 60 + 15) *
								    NSEC_PER_SEC);
	assert_int_equal(parse_ok("2026-12-03T08:30:15"), parse_ok("2026-12-03 08:30:15"));
	assert_int_equal(parse_ok("2026-12-03"), MIDNIGHT * NSEC_PER_SEC);
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("@1796284800"), 1796284800ULL * NSEC_PER_SEC);
	assert_int_equal(parse_ok("@0"), 0);
	assert_int_equal(parse_ok("now"), NOW);
}

static void spans(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("-15m"), NOW - 15 * 60 * NSEC_PER_SEC);
	assert_int_equal(parse_ok("+2h"), NOW + 2 * 3600 * NSEC_PER_SEC);
	assert_int_equal(parse_ok("-1d"), NOW - 86400 * NSEC_PER_SEC);
	assert_int_equal(parse_ok("+30s"), NOW + 30 * NSEC_PER_SEC);
	assert_int_equal(parse_ok("-0s"), NOW);
}

/* A bare span (--window 15m): the same units, no sign. */
static void bare_spans(void **state)
{
	static const char *const bad[] = { "", "15", "m", "-15m", "+15m", "15mm", "15w", " 1s",
					   "99999999999999999999s", "1e3s" };
	uint64_t ns = 42;
	size_t i;

	(void)state;
	assert_int_equal(timeutil_parse_span("15m", &ns), 0);
	assert_int_equal(ns, 15 * 60 * NSEC_PER_SEC);
	assert_int_equal(timeutil_parse_span("0s", &ns), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(timeutil_parse_span("3d", &ns), 0);
	assert_int_equal(ns, 3 * 86400 * NSEC_PER_SEC);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ns = 42;
		print_message("%s\n", bad[i]);
		assert_int_equal(timeutil_parse_span(bad[i], &ns), -EINVAL);
		assert_int_equal(ns, 42);
	}
	assert_int_equal(timeutil_parse_span(NULL, &ns), -EINVAL);
}

static void refused(void **state)
{
	static const char *const bad[] = {
		"", "yesterday", "2026-13-03", "2026-12-03T25:00:00Z", "2026-12-03T08:00:00+01:00",
		"2026-12-03Z", "2026-12-03T08:00", "@", "@-5", "@12x", "@99999999999999999999",
		"-15", "-m", "15m", "-15mm", "-15w", "+-3s", "- 3s", "-99999999999999999999d",
		"-1000000d", "now ", " now",
	};
	uint64_t ns = 42;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(timeutil_parse_real(bad[i], NOW, &ns), -EINVAL);
		assert_int_equal(ns, 42);
	}
	assert_int_equal(timeutil_parse_real(NULL, NOW, &ns), -EINVAL);
}

/* What it formats, timeutil_parse_real reads back. */
static void formatted(void **state)
{
	char buf[TIMEUTIL_REAL_LEN];
	uint64_t ns;

	(void)state;
	assert_string_equal(timeutil_format_real(1796284800ULL * NSEC_PER_SEC + 999, buf,
						 sizeof(buf)), "2026-12-03T08:00:00Z");
	assert_int_equal(timeutil_parse_real(buf, NOW, &ns), 0);
	assert_int_equal(ns, 1796284800ULL * NSEC_PER_SEC);
	assert_string_equal(timeutil_format_real(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
}

static void deadlines(void **state)
{
	uint64_t d;

	(void)state;
	assert_int_equal(timeutil_deadline_ms(-1), 0);
	assert_int_equal(timeutil_poll_ms(0), -1);
	d = timeutil_deadline_ms(10000);
	assert_true(timeutil_poll_ms(d) > 9000 && timeutil_poll_ms(d) <= 10000);
	assert_int_equal(timeutil_poll_ms(timeutil_mono_ns() - 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(instants),
		cmocka_unit_test(spans),
		cmocka_unit_test(bare_spans),
		cmocka_unit_test(refused),
		cmocka_unit_test(formatted),
		cmocka_unit_test(deadlines),
	};

	return cmocka_run_group_tests_name("timeutil", tests, NULL, NULL);
}
