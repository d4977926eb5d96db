/* Unit tests for netmove/agent/series.c: a count over time kept in
 * bounded memory.  No root, no network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "series.h"

/* Changes only; the first point, then each at least SERIES_STEP_US apart,
 * the newest value always the last. */
static void changes_spaced(void **state)
{
	struct series s = { 0 };

	(void)state;
	series_add(&s, 1000, 0);
	series_add(&s, 1100, 0);		/* no change */
	assert_int_equal(s.n, 1);
	series_add(&s, 1200, 5);
	series_add(&s, 1300, 9);		/* within the step: replaces */
	assert_int_equal(s.n, 2);
	assert_int_equal(s.p[1].t_us, 1300);
	assert_int_equal(s.p[1].v, 9);
	series_add(&s, 2300, 12);		/* p[1] stood a step after p[0]: kept */
	assert_int_equal(s.n, 3);
	assert_int_equal(s.p[2].v, 12);
	series_add(&s, 2400, 13);		/* and p[2] a step after p[1] */
	assert_int_equal(s.n, 4);
	series_add(&s, 2500, 14);		/* p[3] is not a step after p[2] yet */
	assert_int_equal(s.n, 4);
	assert_int_equal(s.p[3].t_us, 2500);
	assert_int_equal(s.p[3].v, 14);
}

/* A long run thins itself: never more than SERIES_POINTS, spread over the
 * whole run, first and newest kept, times and counts in order. */
static void long_run(void **state)
{
	struct series s = { 0 };
	uint64_t t, v = 0;
	uint32_t i;

	(void)state;
	for (t = 0; t <= 10000000; t += 50)	/* 10 s, a frame every 50 µs */
		series_add(&s, t, ++v);
	assert_true(s.n <= SERIES_POINTS);
	assert_true(s.n >= SERIES_POINTS / 2);
	assert_int_equal(s.p[0].t_us, 0);
	assert_int_equal(s.p[0].v, 1);
	assert_int_equal(s.p[s.n - 1].t_us, 10000000);
	assert_int_equal(s.p[s.n - 1].v, v);
	for (i = 1; i < s.n; i++) {
		assert_true(s.p[i].t_us > s.p[i - 1].t_us);
		assert_true(s.p[i].v > s.p[i - 1].v);
	}
	/* No gap wider than a few times the even spacing. */
	for (i = 1; i < s.n; i++)
		assert_true(s.p[i].t_us - s.p[i - 1].t_us <= 4 * 10000000 / SERIES_POINTS);
}

static void rendered(void **state)
{
	struct series s = { 0 };
	char buf[256] = "";
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	struct out o;

	(void)state;
	out_init(&o, f, true);
	series_render(&s, "empty", &o);
	series_add(&s, 7, 1);
	series_add(&s, 5007, 3);
	series_render(&s, "held", &o);
	out_finish(&o);
	fclose(f);
	assert_string_equal(buf, "{\"held\":[[7,1],[5007,3]]}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(changes_spaced),
		cmocka_unit_test(long_run),
		cmocka_unit_test(rendered),
	};

	return cmocka_run_group_tests_name("series", tests, NULL, NULL);
}
