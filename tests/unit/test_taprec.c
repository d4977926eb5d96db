/* taprec's keep file: the frames a source read out of the VM's tap, as an
 * agent started after it died finds them (netmove/agent/taprec.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "taprec.h"
#include "records_msg.h"

struct seen {
	int first[64];
	int n;
	int fail_at;			/* -1: never */
};

static int see(const struct buffer_record *rec, void *arg)
{
	struct seen *s = arg;

	if (s->n == s->fail_at)
		return -EPIPE;
	s->first[s->n++] = rec->frame[0];
	return 0;
}

/* A keep file holding records 0..n-1, cut to len bytes (SIZE_MAX: whole). */
static void write_keep(const char *path, int n, size_t len)
{
	struct ctl_msg m;
	int fd;

	make_msg(&m, 0, n);
	if (len > m.len)
		len = m.len;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, m.body, len), (ssize_t)len);
	close(fd);
	ctl_msg_free(&m);
}

static char *tmp_path(void)
{
	static char p[64];

	snprintf(p, sizeof(p), "/tmp/nm-test-taprec-%d", (int)getpid());
	return p;
}

static void whole_in_order_then_gone(void **state)
{
	struct seen s = { .fail_at = -1 };
	int i;

	(void)state;
	write_keep(tmp_path(), 7, SIZE_MAX);
	assert_int_equal(taprec_kept_each(tmp_path(), see, &s), 0);
	assert_int_equal(s.n, 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(s.first[i], i);
	assert_int_equal(access(tmp_path(), F_OK), -1);
	/* Once handed on, never again. */
	assert_int_equal(taprec_kept_each(tmp_path(), see, &s), -ENOENT);
	assert_int_equal(s.n, 7);
}

static void cut_short_hands_what_came_before(void **state)
{
	struct seen s = { .fail_at = -1 };
	struct ctl_msg one;

	(void)state;
	make_msg(&one, 0, 1);
	/* Three whole records and a piece of the fourth. */
	write_keep(tmp_path(), 5, one.len * 3 + 10);
	assert_true(taprec_kept_each(tmp_path(), see, &s) < 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.first[2], 2);
	assert_int_equal(access(tmp_path(), F_OK), -1);
	ctl_msg_free(&one);
}

static void callback_error_stops(void **state)
{
	struct seen s = { .fail_at = 2 };

	(void)state;
	write_keep(tmp_path(), 5, SIZE_MAX);
	assert_int_equal(taprec_kept_each(tmp_path(), see, &s), -EPIPE);
	assert_int_equal(s.n, 2);
	assert_int_equal(access(tmp_path(), F_OK), -1);
}

static void empty_file_hands_nothing(void **state)
{
	struct seen s = { .fail_at = -1 };

	(void)state;
	write_keep(tmp_path(), 1, 0);
	assert_int_equal(taprec_kept_each(tmp_path(), see, &s), 0);
	assert_int_equal(s.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_in_order_then_gone),
		cmocka_unit_test(cut_short_hands_what_came_before),
		cmocka_unit_test(callback_error_stops),
		cmocka_unit_test(empty_file_hands_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
