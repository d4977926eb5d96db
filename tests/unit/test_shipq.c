/* shipq: shipped frames kept until confirmed (netmove/agent/shipq.c). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "shipq.h"
#include "records_msg.h"

struct seen {
	int first[64];
	int n;
};

static int see(const struct buffer_record *rec, void *arg)
{
	struct seen *s = arg;

	s->first[s->n++] = rec->frame[0];
	return 0;
}

static void unconfirmed_in_order(void **state)
{
	struct shipq q;
	struct ctl_msg m;
	struct seen s = { 0 };
	int i;

	(void)state;
	shipq_init(&q);
	for (i = 0; i < 4; i++) {
		make_msg(&m, i * 3, 3);
		assert_int_equal(shipq_push(&q, &m, 3), 0);
		/* The body moved into the queue. */
		assert_int_equal(m.len, 0);
		ctl_msg_free(&m);
	}
	assert_int_equal(shipq_unconfirmed(&q), 12);
	/* 4 confirmed: the first message goes, the second is half kept. */
	shipq_confirm(&q, 4);
	assert_int_equal(q.n, 3);
	assert_int_equal(shipq_unconfirmed(&q), 8);
	assert_int_equal(shipq_each_unconfirmed(&q, see, &s), 0);
	assert_int_equal(s.n, 8);
	for (i = 0; i < 8; i++)
		assert_int_equal(s.first[i], 4 + i);
	/* A late, smaller count changes nothing; more than shipped is capped. */
	shipq_confirm(&q, 2);
	assert_int_equal(shipq_unconfirmed(&q), 8);
	shipq_confirm(&q, 100);
	assert_int_equal(shipq_unconfirmed(&q), 0);
	assert_int_equal(q.n, 0);
	s.n = 0;
	assert_int_equal(shipq_each_unconfirmed(&q, see, &s), 0);
	assert_int_equal(s.n, 0);
	shipq_free(&q);
}

static int stop_at_two(const struct buffer_record *rec, void *arg)
{
	(void)arg;
	return rec->frame[0] == 2 ? -EIO : 0;
}

static void callback_error_stops(void **state)
{
	struct shipq q;
	struct ctl_msg m;

	(void)state;
	shipq_init(&q);
	make_msg(&m, 0, 5);
	assert_int_equal(shipq_push(&q, &m, 5), 0);
	ctl_msg_free(&m);
	assert_int_equal(shipq_each_unconfirmed(&q, stop_at_two, NULL), -EIO);
	shipq_free(&q);
	assert_int_equal(q.n, 0);
	assert_int_equal(q.shipped, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unconfirmed_in_order),
		cmocka_unit_test(callback_error_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
