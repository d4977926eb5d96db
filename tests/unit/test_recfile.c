/* Record files: the frames an agent kept beside its socket (what taprec
 * read out of the VM's tap, what spill moved out of the ring), as an agent
 * started after it died finds them (netmove/agent/recfile.c). */
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
#include <sys/stat.h>
#include <cmocka.h>

#include "recfile.h"
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

	snprintf(p, sizeof(p), "/tmp/nm-test-recfile-%d", (int)getpid());
	return p;
}

static void whole_in_order_then_gone(void **state)
{
	struct seen s = { .fail_at = -1 };
	int i;

	(void)state;
	write_keep(tmp_path(), 7, SIZE_MAX);
	assert_int_equal(recfile_each(tmp_path(), see, &s), 0);
	assert_int_equal(s.n, 7);
	for (i = 0; i < 7; i++)
		assert_int_equal(s.first[i], i);
	assert_int_equal(access(tmp_path(), F_OK), -1);
	/* Once handed on, never again. */
	assert_int_equal(recfile_each(tmp_path(), see, &s), -ENOENT);
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
	assert_true(recfile_each(tmp_path(), see, &s) < 0);
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
	assert_int_equal(recfile_each(tmp_path(), see, &s), -EPIPE);
	assert_int_equal(s.n, 2);
	assert_int_equal(access(tmp_path(), F_OK), -1);
}

static void empty_file_hands_nothing(void **state)
{
	struct seen s = { .fail_at = -1 };

	(void)state;
	write_keep(tmp_path(), 1, 0);
	assert_int_equal(recfile_each(tmp_path(), see, &s), 0);
	assert_int_equal(s.n, 0);
}

/* Records in order by their seq, for files larger than one window. */
struct seq_seen {
	uint64_t next;
	int bad;
};

static int see_seq(const struct buffer_record *rec, void *arg)
{
	struct seq_seen *s = arg;

	if (rec->seq != s->next || rec->len != 60 || rec->frame[0] != (uint8_t)rec->seq)
		s->bad++;
	s->next++;
	return 0;
}

/* Appended in batches, as spill does, past several windows: every record
 * comes back once, in order, also those that straddle a window's end; the
 * file's offset is left alone, and it can be read again. */
static void appended_past_windows(void **state)
{
	struct seq_seen s = { 0 };
	struct ctl_msg m;
	int fd, i, total = 0;

	(void)state;
	fd = open(tmp_path(), O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	assert_true(fd >= 0);
	for (i = 0; total * 80 < 3 * (int)RECFILE_WINDOW; i++) {
		make_msg(&m, total, 997);
		assert_int_equal(recfile_append(fd, &m), 0);
		total += 997;
		ctl_msg_free(&m);
	}
	assert_int_equal(recfile_each_fd(fd, see_seq, &s), 0);
	assert_int_equal(s.next, (uint64_t)total);
	assert_int_equal(s.bad, 0);
	s.next = 0;
	assert_int_equal(recfile_each_fd(fd, see_seq, &s), 0);
	assert_int_equal(s.next, (uint64_t)total);
	close(fd);
	unlink(tmp_path());
}

/* Written whole: mode 0600, read back in order, and no temporary left. */
static void written_whole(void **state)
{
	struct seen s = { .fail_at = -1 };
	char tmp[96];
	struct ctl_msg m;
	struct stat sb;

	(void)state;
	make_msg(&m, 0, 4);
	assert_int_equal(recfile_write(tmp_path(), &m), 0);
	assert_int_equal(stat(tmp_path(), &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	snprintf(tmp, sizeof(tmp), "%s.new", tmp_path());
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(recfile_each(tmp_path(), see, &s), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.first[3], 3);
	ctl_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_in_order_then_gone),
		cmocka_unit_test(cut_short_hands_what_came_before),
		cmocka_unit_test(callback_error_stops),
		cmocka_unit_test(empty_file_hands_nothing),
		cmocka_unit_test(appended_past_windows),
		cmocka_unit_test(written_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
