#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "netmove/probe.h"
#include "netmove/timeutil.h"

static void feed(struct probe_rx *rx, uint64_t seq, uint64_t at_ms)
{
	struct probe_pkt p = { .run = 7, .seq = seq, .send_ns = at_ms * NSEC_PER_MSEC };

	assert_int_equal(probe_rx_account(rx, &p, at_ms * NSEC_PER_MSEC), 0);
}

static void end(struct probe_rx *rx, uint64_t total)
{
	struct probe_pkt p = { .flags = PROBE_FLAG_END, .run = 7, .seq = total };

	assert_int_equal(probe_rx_account(rx, &p, 0), 0);
}

static void encode_decode(void **state)
{
	struct probe_pkt in = { .flags = 0, .run = 0xdeadbeef, .seq = 1ULL << 40,
				.send_ns = 1234567890123ULL }, out;
	uint8_t buf[128];

	(void)state;
	assert_int_equal(probe_encode(buf, sizeof(buf), &in, 100), 100);
	assert_int_equal(probe_decode(buf, 100, &out), 0);
	assert_int_equal(out.run, in.run);
	assert_int_equal(out.seq, in.seq);
	assert_int_equal(out.send_ns, in.send_ns);
	assert_int_equal(probe_decode(buf, PROBE_HDR_LEN - 1, &out), -EINVAL);
	assert_int_equal(probe_encode(buf, sizeof(buf), &in, 16), -EINVAL);
	assert_int_equal(probe_encode(buf, 50, &in, 100), -ENOSPC);
	buf[0] ^= 1;
	assert_int_equal(probe_decode(buf, 100, &out), -EINVAL);
	buf[0] ^= 1;
	buf[5] = 0x80; /* unknown flag */
	assert_int_equal(probe_decode(buf, 100, &out), -EINVAL);
}

static void clean_stream(void **state)
{
	struct probe_rx rx;
	struct probe_stats st;
	uint64_t i;

	(void)state;
	probe_rx_init(&rx);
	for (i = 0; i < 1000; i++)
		feed(&rx, i, i);
	end(&rx, 1000);
	probe_rx_result(&rx, &st);
	assert_int_equal(st.received, 1000);
	assert_int_equal(st.lost, 0);
	assert_int_equal(st.duplicated, 0);
	assert_int_equal(st.reordered, 0);
	assert_int_equal(st.max_gap_ns, 1 * NSEC_PER_MSEC);
	assert_true(st.end_seen);
	probe_rx_free(&rx);
}

static void loss_gap_dup_reorder(void **state)
{
	struct probe_rx rx;
	struct probe_stats st;
	uint64_t i;

	(void)state;
	probe_rx_init(&rx);
	for (i = 0; i < 100; i++)
		feed(&rx, i, i);
	/* 100..299 lost, then a 250 ms hole in arrivals */
	for (i = 300; i < 400; i++)
		feed(&rx, i, i + 150);
	feed(&rx, 350, 600);	/* duplicate */
	feed(&rx, 50, 601);	/* duplicate of an early one */
	feed(&rx, 450, 602);
	feed(&rx, 420, 603);	/* reordered */
	feed(&rx, 430, 604);	/* reordered */
	end(&rx, 500);
	probe_rx_result(&rx, &st);
	assert_int_equal(st.expected, 500);
	assert_int_equal(st.unique, 203);
	assert_int_equal(st.lost, 297);
	assert_int_equal(st.duplicated, 2);
	assert_int_equal(st.reordered, 2);
	assert_int_equal(st.received, 205);
	assert_int_equal(st.max_gap_ns, 351 * NSEC_PER_MSEC);
	assert_int_equal(st.gap_before_seq, 300);
	probe_rx_free(&rx);
}

static void no_end_marker(void **state)
{
	struct probe_rx rx;
	struct probe_stats st;

	(void)state;
	probe_rx_init(&rx);
	feed(&rx, 0, 0);
	feed(&rx, 9, 1);
	probe_rx_result(&rx, &st);
	assert_false(st.end_seen);
	assert_int_equal(st.expected, 10);
	assert_int_equal(st.lost, 8);
	probe_rx_free(&rx);
}

static void foreign_and_range(void **state)
{
	struct probe_rx rx;
	struct probe_stats st;
	struct probe_pkt other = { .run = 8, .seq = 1 };
	struct probe_pkt huge = { .run = 7, .seq = PROBE_MAX_SEQ };

	(void)state;
	probe_rx_init(&rx);
	feed(&rx, 0, 0);
	assert_int_equal(probe_rx_account(&rx, &other, 1), 0);
	assert_int_equal(probe_rx_account(&rx, &huge, 2), -ERANGE);
	feed(&rx, 200000, 3); /* grows the bitmap */
	probe_rx_result(&rx, &st);
	assert_int_equal(st.foreign, 2);
	assert_int_equal(st.unique, 2);
	assert_int_equal(st.lost, 199999);
	probe_rx_free(&rx);
}

struct rx_thread {
	struct probe_recv_cfg cfg;
	struct probe_stats st;
	int ret;
	pthread_t th;
	int ready[2];	/* the receiver says "ready" here */
};

static void *rx_main(void *arg)
{
	struct rx_thread *t = arg;

	t->ret = probe_recv(&t->cfg, &t->st);
	return NULL;
}

/* A receiver on 127.0.0.1:port in its own thread, listening on return. */
static void rx_start(struct rx_thread *t, uint16_t port)
{
	char c;

	memset(t, 0, sizeof(*t));
	t->cfg.port = port;
	t->cfg.timeout_ns = 20 * NSEC_PER_SEC;
	assert_int_equal(pipe(t->ready), 0);
	t->cfg.ready_fd = t->ready[1];
	inet_pton(AF_INET, "127.0.0.1", &t->cfg.bind);
	assert_int_equal(pthread_create(&t->th, NULL, rx_main, t), 0);
	assert_int_equal(read(t->ready[0], &c, 1), 1);
}

/* Its run is over (END seen, or the timeout): t->st holds the count. */
static void rx_join(struct rx_thread *t)
{
	pthread_join(t->th, NULL);
	close(t->ready[0]);
	close(t->ready[1]);
	assert_int_equal(t->ret, 0);
}

/* Real sockets on loopback: 2000 datagrams at 20 kpps, nothing lost. */
static void loopback_stream(void **state)
{
	struct probe_send_cfg s = { .port = 47869, .rate = 20000, .size = 200,
				    .duration_ns = 100 * NSEC_PER_MSEC };
	struct probe_send_result sr;
	struct rx_thread t;

	(void)state;
	rx_start(&t, s.port);
	s.dst = t.cfg.bind;
	assert_int_equal(probe_send(&s, &sr), 0);
	rx_join(&t);
	assert_int_equal(sr.sent, 2000);
	assert_true(t.st.end_seen);
	assert_int_equal(t.st.expected, 2000);
	assert_int_equal(t.st.received, 2000);
	assert_int_equal(t.st.lost, 0);
	assert_int_equal(t.st.reordered, 0);
	assert_int_equal(t.st.duplicated, 0);
}

static volatile sig_atomic_t stop_flag;

static void *stopper(void *arg)
{
	(void)arg;
	usleep(50000);
	stop_flag = 1;
	return NULL;
}

/* A stream ended early (cfg.stop, as SIGINT does in the command): its END
 * carries what was sent, so the receiver counts nothing lost. */
static void stopped_stream(void **state)
{
	struct probe_send_cfg s = { .port = 47870, .rate = 10000, .size = 64,
				    .duration_ns = 60 * NSEC_PER_SEC, .stop = &stop_flag };
	struct probe_send_result sr;
	struct rx_thread t;
	pthread_t st;

	(void)state;
	stop_flag = 0;
	rx_start(&t, s.port);
	s.dst = t.cfg.bind;
	assert_int_equal(pthread_create(&st, NULL, stopper, NULL), 0);
	assert_int_equal(probe_send(&s, &sr), 0);
	pthread_join(st, NULL);
	rx_join(&t);
	assert_true(sr.stopped);
	assert_true(sr.sent > 0 && sr.sent < 600000);
	assert_true(t.st.end_seen);
	assert_int_equal(t.st.expected, sr.sent);
	assert_int_equal(t.st.received, sr.sent);
	assert_int_equal(t.st.lost, 0);

	/* Stopped before it began: an END with nothing before it. */
	stop_flag = 1;
	rx_start(&t, s.port);
	assert_int_equal(probe_send(&s, &sr), 0);
	rx_join(&t);
	assert_true(sr.stopped);
	assert_int_equal(sr.sent, 0);
	assert_true(t.st.end_seen);
	assert_int_equal(t.st.expected, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encode_decode),
		cmocka_unit_test(clean_stream),
		cmocka_unit_test(loss_gap_dup_reorder),
		cmocka_unit_test(no_end_marker),
		cmocka_unit_test(foreign_and_range),
		cmocka_unit_test(loopback_stream),
		cmocka_unit_test(stopped_stream),
	};

	return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
