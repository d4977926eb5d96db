#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "netmove/journal.h"

static int collect(const char *line, void *arg)
{
	char *buf = arg;

	strcat(buf, line);
	strcat(buf, "|");
	return 0;
}

static void append_and_read(void **state)
{
	char path[] = "/tmp/nmjournalXXXXXX";
	struct journal_entry e;
	char buf[512] = "";
	int fd;

	(void)state;
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	assert_int_equal(journal_read(path, collect, buf), 0);
	assert_string_equal(buf, "");
	assert_int_equal(journal_begin(&e), 0);
	out_str(&e.o, "mac", "52:54:00:00:00:10");
	out_u64(&e.o, "lost", 0);
	assert_int_equal(journal_commit(&e, path), 0);
	assert_int_equal(journal_begin(&e), 0);
	out_str(&e.o, "outcome", "rollback \"peer lost\"");
	assert_int_equal(journal_commit(&e, path), 0);
	assert_int_equal(journal_begin(&e), 0);
	out_str(&e.o, "never", "written");
	journal_abort(&e);
	assert_int_equal(journal_read(path, collect, buf), 0);
	assert_string_equal(buf, "{\"mac\":\"52:54:00:00:00:10\",\"lost\":0}|"
				 "{\"outcome\":\"rollback \\\"peer lost\\\"\"}|");
	unlink(path);
	assert_int_equal(journal_begin(&e), 0);
	assert_int_equal(journal_commit(&e, "/nonexistent/dir/journal"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_and_read),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
