/* Unit tests for netmove/agent/sched.c: the schedule's order, what is due,
 * cancelling, and its file (round trip, a cut or bad file, the ids that
 * are never given twice).  No root, no network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "sched.h"
#include "netmove/proto.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/test_sched.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	char tmp[80];

	(void)state;
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	return 0;
}

static struct sched_entry entry(uint64_t at_us, const char *mac)
{
	struct sched_entry e;

	memset(&e, 0, sizeof(e));	/* padding too: entries are compared whole */
	e.at_us = at_us;
	e.until_us = at_us + 60000000;
	e.priority = 50;
	assert_int_equal(mac_parse(mac, &e.mac), 0);
	inet_pton(AF_INET, "198.18.0.10", &e.ip);
	snprintf(e.host, sizeof(e.host), "hostb");
	snprintf(e.port, sizeof(e.port), "vnet-vm1");
	e.created_us = 1;
	e.by.uid = 0;
	e.by.pid = 4242;
	snprintf(e.by.user, sizeof(e.by.user), "root");
	snprintf(e.by.program, sizeof(e.by.program), "netmove");
	return e;
}

static void order_and_due(void **state)
{
	struct sched s = { 0 };
	struct sched_entry a = entry(3000000, "52:54:00:00:00:01");
	struct sched_entry b = entry(1000000, "52:54:00:00:00:02");
	struct sched_entry c = entry(3000000, "52:54:00:00:00:03");
	struct sched_entry out;

	(void)state;
	assert_int_equal(sched_next_ms(&s, 0), -1);
	assert_int_equal(sched_add(&s, &a), 0);
	assert_int_equal(sched_add(&s, &b), 0);
	assert_int_equal(sched_add(&s, &c), 0);
	assert_int_equal(a.id, 1);
	assert_int_equal(c.id, 3);
	/* By time, then in the order asked. */
	assert_int_equal(s.v[0].id, b.id);
	assert_int_equal(s.v[1].id, a.id);
	assert_int_equal(s.v[2].id, c.id);
	assert_int_equal(sched_next_ms(&s, 0), 1000);
	assert_int_equal(sched_next_ms(&s, 999999), 1);
	assert_false(sched_take_due(&s, 999999, &out));
	assert_true(sched_take_due(&s, 1000000, &out));
	assert_int_equal(out.id, b.id);
	assert_int_equal(sched_next_ms(&s, 2000000), 1000);
	assert_false(sched_take_due(&s, 2999999, &out));
	assert_true(sched_take_due(&s, 5000000, &out));
	assert_int_equal(out.id, a.id);
	assert_true(sched_take_due(&s, 5000000, &out));
	assert_int_equal(out.id, c.id);
	assert_false(sched_take_due(&s, UINT64_MAX, &out));
	sched_free(&s);
}

static void cancel(void **state)
{
	struct sched s = { 0 };
	struct sched_entry a = entry(1, "52:54:00:00:00:01"), b = entry(2, "52:54:00:00:00:02");
	struct sched_entry out;

	(void)state;
	sched_add(&s, &a);
	sched_add(&s, &b);
	assert_int_equal(sched_cancel(&s, 7, &out), -ENOENT);
	assert_int_equal(sched_cancel(&s, a.id, &out), 0);
	assert_int_equal(out.id, a.id);
	assert_true(mac_equal(&out.mac, &a.mac));
	assert_int_equal(sched_cancel(&s, a.id, NULL), -ENOENT);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].id, b.id);
	/* A cancelled id is not given again. */
	sched_add(&s, &a);
	assert_int_equal(a.id, 3);
	sched_free(&s);
}

static void full(void **state)
{
	struct sched s = { 0 };
	struct sched_entry e = entry(5, "52:54:00:00:00:01");
	int i;

	(void)state;
	for (i = 0; i < SCHED_MAX; i++)
		assert_int_equal(sched_add(&s, &e), 0);
	assert_int_equal(sched_add(&s, &e), -ENOSPC);
	assert_int_equal(s.n, SCHED_MAX);
	sched_free(&s);
}

/* What is saved is read back whole, who asked included; the ids go on
 * past the highest ever given, even once its entry is gone. */
static void file_round_trip(void **state)
{
	struct sched s = { 0 }, t = { 0 };
	struct sched_entry a = entry(1796284800000000ULL, "52:54:00:00:00:01");
	struct sched_entry b = entry(1796284900000000ULL, "52:54:00:00:00:02");
	struct sched_entry c = entry(1796285000000000ULL, "52:54:00:00:00:03");
	unsigned line = 99;

	(void)state;
	assert_int_equal(sched_load(&t, path, &line), 0);	/* no file: empty */
	assert_int_equal(t.n, 0);
	b.pull = true;
	memset(b.host, 0, sizeof(b.host));
	b.priority = 90;
	b.by.peer = true;
	snprintf(b.by.identity, sizeof(b.by.identity), "cert:hosta \"q\"\\");
	snprintf(b.by.origin, sizeof(b.by.origin), "user root (uid 0), on hosta");
	snprintf(a.dst_port, sizeof(a.dst_port), "vnet-x");
	sched_add(&s, &a);
	sched_add(&s, &b);
	sched_add(&s, &c);
	sched_cancel(&s, c.id, NULL);
	assert_int_equal(sched_save(&s, path), 0);
	assert_int_equal(sched_load(&t, path, &line), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.next_id, 3);
	assert_memory_equal(&t.v[0], &s.v[0], sizeof(s.v[0]));
	assert_memory_equal(&t.v[1], &s.v[1], sizeof(s.v[1]));
	assert_true(t.v[1].pull);
	assert_string_equal(t.v[1].by.identity, "cert:hosta \"q\"\\");
	sched_add(&t, &c);
	assert_int_equal(c.id, 4);
	sched_free(&s);
	sched_free(&t);
}

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A line that is not an entry, or a file cut before its last line. */
static void bad_files(void **state)
{
	struct sched s = { 0 }, t = { 0 };
	struct sched_entry a = entry(1796284800000000ULL, "52:54:00:00:00:01");
	char *good = NULL, *p;
	size_t len;
	unsigned line = 0;
	FILE *f;

	(void)state;
	sched_add(&s, &a);
	assert_int_equal(sched_save(&s, path), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_true(getline(&good, &len, f) > 0);	/* the entry's line */
	fclose(f);

	/* Cut: the entry but no last line. */
	write_file(good);
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	assert_int_equal(line, 2);
	assert_int_equal(t.n, 1);	/* what came before is kept */
	sched_free(&t);

	/* Not JSON, then a bad MAC, a bad kind, until before at. */
	write_file("garbage\n{\"last_id\":1}\n");
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	assert_int_equal(line, 1);
	sched_free(&t);
	p = strstr(good, "52:54:00:00:00:01");
	assert_non_null(p);
	memcpy(p, "52:54:00:00:00:0g", 17);
	write_file(good);
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	assert_int_equal(line, 1);
	sched_free(&t);
	memcpy(p, "52:54:00:00:00:01", 17);
	p = strstr(good, "\"relocate\"");
	memcpy(p, "\"relocatx\"", 10);
	write_file(good);
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	sched_free(&t);
	memcpy(p, "\"relocate\"", 10);

	/* The same id twice: the first is kept. */
	f = fopen(path, "w");
	fprintf(f, "%s%s{\"last_id\":1}\n", good, good);
	fclose(f);
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	assert_int_equal(line, 2);
	assert_int_equal(t.n, 1);
	sched_free(&t);

	/* A last id below an entry's, or lines after the last one. */
	write_file("{\"last_id\":0}\n");
	assert_int_equal(sched_load(&t, path, &line), 0);
	sched_free(&t);
	f = fopen(path, "w");
	fprintf(f, "%s{\"last_id\":0}\n", good);
	fclose(f);
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	sched_free(&t);
	f = fopen(path, "w");
	fprintf(f, "{\"last_id\":5}\n%s", good);
	fclose(f);
	assert_int_equal(sched_load(&t, path, &line), -EBADMSG);
	assert_int_equal(line, 2);
	sched_free(&t);
	free(good);
	sched_free(&s);
}

/* The request it makes is the one the CLI makes. */
static void request(void **state)
{
	struct sched_entry e = entry(1, "52:54:00:00:00:01");
	struct ctl_msg m;
	uint64_t prio = 0;
	char to[32];

	(void)state;
	e.priority = 77;
	ctl_msg_init(&m, 0);
	assert_int_equal(sched_request(&e, &m), 0);
	assert_int_equal(m.type, PROTO_REQ_RELOCATE);
	assert_int_equal(ctl_get_str(&m, A_TO, to, sizeof(to)), 0);
	assert_string_equal(to, "hostb");
	assert_int_equal(ctl_get_u64(&m, A_PRIORITY, &prio), 0);
	assert_int_equal(prio, 77);
	ctl_msg_free(&m);
	e.pull = true;
	e.host[0] = 0;
	ctl_msg_init(&m, 0);
	assert_int_equal(sched_request(&e, &m), 0);
	assert_int_equal(m.type, PROTO_REQ_PULL);
	assert_int_equal(ctl_get_str(&m, A_FROM, to, sizeof(to)), -ENOENT);
	ctl_msg_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(order_and_due),
		cmocka_unit_test(cancel),
		cmocka_unit_test(full),
		cmocka_unit_test_setup_teardown(file_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_files, setup, teardown),
		cmocka_unit_test(request),
	};

	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
