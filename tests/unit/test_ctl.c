#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "netmove/ctl.h"

static const uint8_t key[] = "0123456789abcdef-shared-secret";
static const uint8_t other[] = "fedcba9876543210-not-the-secret";

struct hs {
	struct ctl_conn *c;
	int ret;
};

static void *hs_main(void *arg)
{
	struct hs *h = arg;

	h->ret = ctl_handshake(h->c, 2000);
	return NULL;
}

/* Connect a and b over a socketpair and run both handshakes. */
static void pair(struct ctl_conn *a, struct ctl_conn *b, const uint8_t *kb, int *ra, int *rb)
{
	int sv[2];
	pthread_t th;
	struct hs h = { .c = b };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(a, sv[0], key, sizeof(key) - 1, "a"), 0);
	assert_int_equal(ctl_conn_init(b, sv[1], kb, kb ? sizeof(key) - 1 : 0, "b"), 0);
	pthread_create(&th, NULL, hs_main, &h);
	*ra = ctl_handshake(a, 2000);
	pthread_join(th, NULL);
	*rb = h.ret;
}

static void roundtrip(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	char s[32];
	uint64_t v;
	int ra, rb;

	(void)state;
	pair(&a, &b, key, &ra, &rb);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	ctl_msg_init(&m, 7);
	ctl_msg_init(&r, 0);
	assert_int_equal(ctl_put_u64(&m, 1, 0x1122334455667788ULL), 0);
	assert_int_equal(ctl_put_str(&m, 2, "hostb"), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ctl_send(&a, &m), 0);
		assert_int_equal(ctl_recv(&b, &r, 1000), 0);
		assert_int_equal(r.type, 7);
		assert_int_equal(r.seq, i + 1);
		assert_int_equal(ctl_get_u64(&r, 1, &v), 0);
		assert_true(v == 0x1122334455667788ULL);
		assert_int_equal(ctl_get_str(&r, 2, s, sizeof(s)), 0);
		assert_string_equal(s, "hostb");
		assert_int_equal(ctl_get_str(&r, 2, s, 3), -EBADMSG);
		assert_int_equal(ctl_get_u64(&r, 2, &v), -EBADMSG);
		assert_int_equal(ctl_get_u64(&r, 9, &v), -ENOENT);
	}
	/* And the other direction. */
	assert_int_equal(ctl_send(&b, &m), 0);
	assert_int_equal(ctl_recv(&a, &r, 1000), 0);
	ctl_conn_close(&b);
	assert_int_equal(ctl_recv(&a, &r, 1000), -ECONNRESET);
	ctl_conn_close(&a);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

static void wrong_key_rejected(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	int ra, rb;

	(void)state;
	pair(&a, &b, other, &ra, &rb);
	/* HELLOs are tagged too: a stranger fails at the handshake. */
	assert_int_equal(ra, -EBADMSG);
	assert_int_equal(rb, -EBADMSG);
	/* Even if a side ignored that, its messages would not verify. */
	ctl_msg_init(&m, 3);
	ctl_msg_init(&r, 0);
	ctl_put_str(&m, 1, "prepare");
	assert_int_equal(ctl_send(&a, &m), 0);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EBADMSG);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* Capture what a sends to b, then play it again. */
static void replay_rejected(void **state)
{
	struct ctl_conn a, b, a2, b2;
	struct ctl_msg m, r;
	uint8_t wire[4096];
	ssize_t n;
	int ra, rb, sv[2];

	(void)state;
	pair(&a, &b, key, &ra, &rb);
	ctl_msg_init(&m, 3);
	ctl_msg_init(&r, 0);
	ctl_put_str(&m, 1, "commit");
	/* Read the raw bytes off b's socket instead of ctl_recv. */
	assert_int_equal(ctl_send(&a, &m), 0);
	n = recv(b.fd, wire, sizeof(wire), 0);
	assert_true(n > 0);
	/* Delivered once: accepted. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(a.fd, wire, (size_t)n), n);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	/* Delivered again: same sequence number, rejected. */
	assert_int_equal(write(a.fd, wire, (size_t)n), n);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTO);
	close(sv[0]);
	close(sv[1]);

	/* Into a new connection with the right key: other nonce, bad tag. */
	pair(&a2, &b2, key, &ra, &rb);
	assert_int_equal(write(a2.fd, wire, (size_t)n), n);
	assert_int_equal(ctl_recv(&b2, &r, 1000), -EBADMSG);

	/* A flipped bit anywhere: bad tag. */
	assert_int_equal(ctl_send(&a2, &m), 0);
	n = recv(b2.fd, wire, sizeof(wire), 0);
	wire[n - 40] ^= 0x10;
	assert_int_equal(write(a2.fd, wire, (size_t)n), n);
	assert_int_equal(ctl_recv(&b2, &r, 1000), -EBADMSG);

	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_conn_close(&a2);
	ctl_conn_close(&b2);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

static void unauthenticated_local(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	int sv[2];
	uint64_t v;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_conn_init(&a, sv[0], NULL, 0, "cli");
	ctl_conn_init(&b, sv[1], NULL, 0, "agent");
	assert_int_equal(ctl_handshake(&a, 100), 0);
	ctl_msg_init(&m, 9);
	ctl_msg_init(&r, 0);
	ctl_put_u64(&m, 4, 42);
	assert_int_equal(ctl_send(&a, &m), 0);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	assert_int_equal(ctl_get_u64(&r, 4, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ctl_recv(&b, &r, 50), -ETIMEDOUT);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

static void tlv_checks(void **state)
{
	uint8_t ok[] = { 0, 1, 0, 0, 0, 2, 'h', 'i', 0, 2, 0, 0, 0, 0 };
	uint8_t bad[] = { 0, 1, 0, 0, 0, 9, 'h', 'i' };
	struct ctl_msg m = { .body = ok, .len = sizeof(ok) };
	size_t off = 0, len;
	uint16_t tag;
	const void *v;

	(void)state;
	assert_int_equal(ctl_body_check(ok, sizeof(ok)), 0);
	assert_int_equal(ctl_body_check(bad, sizeof(bad)), -EBADMSG);
	assert_int_equal(ctl_body_check(ok, 5), -EBADMSG);
	assert_int_equal(ctl_next(&m, &off, &tag, &v, &len), 1);
	assert_int_equal(tag, 1);
	assert_int_equal(len, 2);
	assert_int_equal(ctl_next(&m, &off, &tag, &v, &len), 1);
	assert_int_equal(tag, 2);
	assert_int_equal(len, 0);
	assert_int_equal(ctl_next(&m, &off, &tag, &v, &len), 0);
}

static void key_files(void **state)
{
	char path[] = "/tmp/nmkeyXXXXXX";
	uint8_t k[CTL_MAX_KEY];
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "00112233445566778899aabbccddeeff\n", 33), 33);
	close(fd);
	assert_int_equal(ctl_key_load(path, k, sizeof(k)), 16);
	assert_int_equal(k[0], 0x00);
	assert_int_equal(k[15], 0xff);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(ctl_key_load(path, k, sizeof(k)), -EINVAL);
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "a raw passphrase of some length", 31), 31);
	close(fd);
	assert_int_equal(ctl_key_load(path, k, sizeof(k)), 31);
	unlink(path);
	assert_int_equal(ctl_key_load("/nonexistent/key", k, sizeof(k)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip),
		cmocka_unit_test(wrong_key_rejected),
		cmocka_unit_test(replay_rejected),
		cmocka_unit_test(unauthenticated_local),
		cmocka_unit_test(tlv_checks),
		cmocka_unit_test(key_files),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
