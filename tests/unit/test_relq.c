/* Unit tests for netmove/agent/relq.c: the order queued relocations start
 * in.  No root, no network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relq.h"

static int item[1200];

static void priority_then_arrival(void **state)
{
	struct relq q = { 0 };

	(void)state;
	assert_null(relq_pop(&q, "hostb"));
	assert_int_equal(relq_push(&q, &item[0], "hostb", 50), 0);
	assert_int_equal(relq_push(&q, &item[1], "hostb", 10), 0);
	assert_int_equal(relq_push(&q, &item[2], "hostb", 90), 0);
	assert_int_equal(relq_push(&q, &item[3], "hostb", 50), 0);
	assert_int_equal(relq_push(&q, &item[4], "hostb", 90), 0);
	assert_int_equal(relq_position(&q, &item[2]), 1);
	assert_int_equal(relq_position(&q, &item[4]), 2);
	assert_int_equal(relq_position(&q, &item[0]), 3);
	assert_int_equal(relq_position(&q, &item[3]), 4);
	assert_int_equal(relq_position(&q, &item[1]), 5);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[2]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[4]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[0]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[3]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[1]);
	assert_null(relq_pop(&q, "hostb"));
	assert_int_equal(relq_count(&q, NULL), 0);
	relq_free(&q);
}

/* A flood of low ones, then one high: it goes next, and one that comes
 * after it at the same priority goes after it, before every low one. */
static void high_never_starved(void **state)
{
	struct relq q = { 0 };
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(relq_push(&q, &item[i], "hostb", 1), 0);
	assert_int_equal(relq_push(&q, &item[1000], "hostb", 99), 0);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[0 + 1000]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[0]);
	for (i = 1001; i < 1100; i++)
		assert_int_equal(relq_push(&q, &item[i], "hostb", 1), 0);
	assert_int_equal(relq_push(&q, &item[1100], "hostb", 99), 0);
	assert_int_equal(relq_push(&q, &item[1101], "hostb", 99), 0);
	assert_int_equal(relq_position(&q, &item[1101]), 2);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[1100]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[1101]);
	/* Then the low ones in their order of arrival. */
	for (i = 1; i < 1000; i++)
		assert_ptr_equal(relq_pop(&q, "hostb"), &item[i]);
	for (i = 1001; i < 1100; i++)
		assert_ptr_equal(relq_pop(&q, "hostb"), &item[i]);
	assert_null(relq_pop(&q, "hostb"));
	relq_free(&q);
}

/* Each destination has its own line. */
static void per_destination(void **state)
{
	struct relq q = { 0 };

	(void)state;
	assert_int_equal(relq_push(&q, &item[0], "hostb", 10), 0);
	assert_int_equal(relq_push(&q, &item[1], "hostc", 90), 0);
	assert_int_equal(relq_push(&q, &item[2], "hostb", 20), 0);
	assert_int_equal(relq_count(&q, "hostb"), 2);
	assert_int_equal(relq_count(&q, "hostc"), 1);
	assert_int_equal(relq_count(&q, "hostd"), 0);
	assert_int_equal(relq_count(&q, NULL), 3);
	assert_int_equal(relq_position(&q, &item[1]), 1);
	assert_int_equal(relq_position(&q, &item[0]), 2);
	assert_null(relq_pop(&q, "hostd"));
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[2]);
	assert_ptr_equal(relq_pop(&q, "hostc"), &item[1]);
	assert_null(relq_pop(&q, "hostc"));
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[0]);
	relq_free(&q);
}

static void remove_and_clamp(void **state)
{
	struct relq q = { 0 };

	(void)state;
	assert_int_equal(relq_push(&q, &item[0], "hostb", 5000), 0);	/* clamped to 100 */
	assert_int_equal(relq_push(&q, &item[1], "hostb", RELQ_PRIORITY_MAX), 0);
	assert_int_equal(relq_push(&q, &item[2], "hostb", 0), 0);
	assert_int_equal(relq_remove(&q, &item[1]), 0);
	assert_int_equal(relq_remove(&q, &item[1]), -ENOENT);
	assert_int_equal(relq_position(&q, &item[1]), 0);
	assert_int_equal(relq_count(&q, "hostb"), 2);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[0]);
	assert_ptr_equal(relq_pop(&q, "hostb"), &item[2]);
	relq_free(&q);
	assert_int_equal(relq_count(&q, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(priority_then_arrival),
		cmocka_unit_test(high_never_starved),
		cmocka_unit_test(per_destination),
		cmocka_unit_test(remove_and_clamp),
	};

	return cmocka_run_group_tests_name("relq", tests, NULL, NULL);
}
