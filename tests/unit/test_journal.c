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

static void field_of_own_lines(void **state)
{
	const char *line = "{\"host\":\"a\",\"id\":17,\"outcome\":\"rollback \\\"peer lost\\\"\","
			   "\"delta\":-3,\"ok\":true,\"to\":\"\"}";
	char buf[32];

	(void)state;
	assert_int_equal(journal_field(line, "host", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "a");
	assert_int_equal(journal_field(line, "id", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "17");
	assert_int_equal(journal_field(line, "outcome", buf, sizeof(buf)), 20);
	assert_string_equal(buf, "rollback \"peer lost\"");
	assert_int_equal(journal_field(line, "delta", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "-3");
	assert_int_equal(journal_field(line, "to", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(journal_field(line, "ok", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(journal_field(line, "port", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(journal_field(line, "hos", buf, sizeof(buf)), -ENOENT);
	/* Too long for buf: nothing, not a prefix that might compare equal. */
	assert_int_equal(journal_field(line, "outcome", buf, 20), -ENAMETOOLONG);
	assert_string_equal(buf, "");
	assert_int_equal(journal_field(line, "outcome", buf, 21), 20);
	assert_int_equal(journal_field(line, "id", buf, 0), -ENAMETOOLONG);
}

/* Only the top level counts: a key inside a nested object or an array (the
 * strstr parser recover.c had took those), or written in a string, is not
 * the field. */
static void field_top_level_only(void **state)
{
	const char *line = "{\"err\":\"peer says \\\"host\\\":\\\"b\\\"\",\"peer\":{\"host\":\"c\"},"
			   "\"list\":[{\"host\":\"d\"},\"host\",1],\"host\":\"a\"}";
	char buf[32];

	(void)state;
	assert_int_equal(journal_field(line, "host", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "a");
	assert_int_equal(journal_field("{\"peer\":{\"host\":\"c\"}}", "host", buf, sizeof(buf)),
			 -ENOENT);
}

static void field_escapes(void **state)
{
	struct journal_entry e;
	char buf[64];

	(void)state;
	assert_int_equal(journal_begin(&e), 0);
	out_str(&e.o, "k\"ey", "a\nb\tc\\d\x01" "e\xc3\xa9");
	out_u64(&e.o, "n", 18446744073709551615ull);
	out_finish(&e.o);
	fflush(e.stream);
	assert_int_equal(journal_field(e.buf, "k\"ey", buf, sizeof(buf)), 11);
	assert_string_equal(buf, "a\nb\tc\\d\x01" "e\xc3\xa9");
	assert_int_equal(journal_field(e.buf, "n", buf, sizeof(buf)), 20);
	assert_string_equal(buf, "18446744073709551615");
	journal_abort(&e);
	assert_int_equal(journal_field("{\"a\":\"\\u00e9\\u20ac\"}", "a", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "\xc3\xa9\xe2\x82\xac");
}

static void field_malformed(void **state)
{
	static const char *const bad[] = {
		"", "x", "[\"a\",1]", "{\"a\"", "{\"a\":", "{\"a\":\"b", "{\"a\":\"\\q\"}",
		"{\"a\":\"\\u12\"}", "{\"a\":\"\\u0000\"}", "{\"a\":\"\\ud800\"}",
		"{\"x\":1 \"a\":2}", "{\"x\":{\"y\":1}", "{\"x\":\"\t\",\"a\":1}", "{a:1}",
	};
	char buf[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(journal_field(bad[i], "a", buf, sizeof(buf)), -EBADMSG);
		assert_string_equal(buf, "");
	}
	assert_int_equal(journal_field("{}", "a", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(journal_field(" { \"a\" : 5 } ", "a", buf, sizeof(buf)), 1);
	assert_int_equal(journal_field("{\"a\":null}", "a", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(journal_field("{\"a\":{}}", "a", buf, sizeof(buf)), -EINVAL);
}

/* The reader's filters, each alone and together, on lines as the agent
 * writes them. */
static void match_filters(void **state)
{
	const char *src = "{\"time_us\":1796284800000000,\"host\":\"hosta\",\"id\":7,"
			  "\"role\":\"source\",\"mac\":\"52:54:00:00:00:01\",\"from\":\"hosta\","
			  "\"to\":\"hostb\",\"requested_by\":{\"kind\":\"local\",\"user\":\"root\"},"
			  "\"outcome\":\"rolled back\"}";
	const char *rec = "{\"time_us\":1796284900000000,\"host\":\"hostb\","
			  "\"mac\":\"52:54:00:00:00:02\",\"outcome\":\"recovered\"}";
	struct journal_filter f = { 0 };

	(void)state;
	assert_true(journal_match(src, &f));
	assert_true(journal_match("not json", &f));
	f.mac = "52:54:00:00:00:01";
	assert_true(journal_match(src, &f));
	f.mac = "52:54:00:00:00:0A";
	assert_false(journal_match(src, &f));
	f.mac = "52:54:00:00:00:02";
	assert_true(journal_match(rec, &f));
	f = (struct journal_filter){ .host = "HOSTB" };
	assert_true(journal_match(src, &f));	/* its "to" */
	assert_true(journal_match(rec, &f));	/* its "host" */
	f.host = "hostc";
	assert_false(journal_match(src, &f));
	f = (struct journal_filter){ .outcome = "rolled back" };
	assert_true(journal_match(src, &f));
	f.outcome = "rolled";
	assert_false(journal_match(src, &f));
	/* A key inside requested_by is not the top-level one. */
	f = (struct journal_filter){ .outcome = "root" };
	assert_false(journal_match(src, &f));
	f = (struct journal_filter){ .id = 7 };
	assert_true(journal_match(src, &f));
	assert_false(journal_match(rec, &f));	/* no id at all */
	f.id = 70;
	assert_false(journal_match(src, &f));
	f = (struct journal_filter){ .since_us = 1796284800000000ULL };
	assert_true(journal_match(src, &f));
	f.since_us++;
	assert_false(journal_match(src, &f));
	assert_true(journal_match(rec, &f));
	f = (struct journal_filter){ .until_us = 1796284800000000ULL };
	assert_true(journal_match(src, &f));
	assert_false(journal_match(rec, &f));
	assert_false(journal_match("{\"host\":\"hosta\"}", &f));	/* no time */
	f = (struct journal_filter){ .mac = "52:54:00:00:00:01", .host = "hosta",
				     .outcome = "rolled back", .id = 7,
				     .since_us = 1796284700000000ULL,
				     .until_us = 1796284800000000ULL };
	assert_true(journal_match(src, &f));
	f.host = "hostb";
	assert_true(journal_match(src, &f));
	f.outcome = "committed";
	assert_false(journal_match(src, &f));
	assert_false(journal_match("{\"mac\":", &f));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(append_and_read),
		cmocka_unit_test(field_of_own_lines),
		cmocka_unit_test(field_top_level_only),
		cmocka_unit_test(field_escapes),
		cmocka_unit_test(field_malformed),
		cmocka_unit_test(match_filters),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
