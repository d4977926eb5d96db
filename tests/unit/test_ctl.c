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
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "netmove/ctl.h"

static const uint8_t key[] = "0123456789abcdef-shared-secret";
static const uint8_t other[] = "fedcba9876543210-not-the-secret";

/* A HELLO on the wire: header, nonce attribute, HMAC-SHA256. */
#define HELLO_LEN (CTL_HDR_LEN + 6 + CTL_NONCE_LEN + CTL_HELLO_TAG_LEN)

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

/* Connect a (key ka) and b (key kb) over a socketpair, run both handshakes. */
static void pair_keys(struct ctl_conn *a, const uint8_t *ka, struct ctl_conn *b,
		      const uint8_t *kb, int *ra, int *rb)
{
	int sv[2];
	pthread_t th;
	struct hs h = { .c = b };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(a, sv[0], ka, sizeof(key) - 1, "a"), 0);
	assert_int_equal(ctl_conn_init(b, sv[1], kb, kb ? sizeof(key) - 1 : 0, "b"), 0);
	pthread_create(&th, NULL, hs_main, &h);
	*ra = ctl_handshake(a, 2000);
	pthread_join(th, NULL);
	*rb = h.ret;
}

static void pair(struct ctl_conn *a, struct ctl_conn *b, const uint8_t *kb, int *ra, int *rb)
{
	pair_keys(a, key, b, kb, ra, rb);
}

/* A handshaken pair with the right key on both sides. */
static void good_pair(struct ctl_conn *a, struct ctl_conn *b)
{
	int ra, rb;

	pair(a, b, key, &ra, &rb);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
}

/* Read exactly len bytes off fd (what the peer sent, before ctl_recv). */
static void capture(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* Send m from a and take its bytes off b's socket.  Returns the length. */
static size_t send_capture(struct ctl_conn *a, struct ctl_conn *b, struct ctl_msg *m,
			   uint8_t *wire, size_t cap)
{
	size_t len = CTL_HDR_LEN + m->len + CTL_TAG_LEN;

	assert_true(len <= cap);
	assert_int_equal(ctl_send(a, m), 0);
	capture(b->fd, wire, len);
	return len;
}

/* Bytes written to from's socket arrive at its peer. */
static void inject(const struct ctl_conn *from, const uint8_t *wire, size_t len)
{
	assert_int_equal(write(from->fd, wire, len), (ssize_t)len);
}

/* A connected pair, and the bytes of a's first message (text) as b would
 * have received them, taken off b's socket. */
static size_t pair_and_capture(struct ctl_conn *a, struct ctl_conn *b, struct ctl_msg *m,
			       struct ctl_msg *r, const char *text, uint8_t *wire, size_t cap)
{
	good_pair(a, b);
	ctl_msg_init(m, 3);
	ctl_msg_init(r, 0);
	ctl_put_str(m, 1, text);
	return send_capture(a, b, m, wire, cap);
}

static void roundtrip(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	char s[32];
	uint64_t v;

	(void)state;
	good_pair(&a, &b);
	assert_int_equal(ctl_handshake(&a, 100), -EALREADY);
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
	/* And the other direction; an empty body too. */
	assert_int_equal(ctl_send(&b, &m), 0);
	assert_int_equal(ctl_recv(&a, &r, 1000), 0);
	ctl_msg_reset(&m, 8);
	assert_int_equal(ctl_send(&b, &m), 0);
	assert_int_equal(ctl_recv(&a, &r, 1000), 0);
	assert_int_equal(r.type, 8);
	assert_int_equal(r.len, 0);
	ctl_conn_close(&b);
	assert_int_equal(ctl_recv(&a, &r, 1000), -ECONNRESET);
	ctl_conn_close(&a);
	ctl_conn_close(&a);	/* twice: harmless */
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* ctl_send never tags under the pre-shared key: a message of HELLO's type
 * gets a GMAC, and the peer refuses a HELLO after the handshake. */
static void late_hello_refused(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;

	(void)state;
	good_pair(&a, &b);
	ctl_msg_init(&m, 0xffff);
	ctl_msg_init(&r, 0);
	assert_int_equal(ctl_send(&a, &m), 0);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EBADMSG);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* Version 2 on the wire: header byte 4, a 16-byte tag after the body. */
static void wire_format(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m;
	uint8_t wire[256];
	size_t n;

	(void)state;
	good_pair(&a, &b);
	ctl_msg_init(&m, 3);
	ctl_put_str(&m, 1, "x");
	n = send_capture(&a, &b, &m, wire, sizeof(wire));
	assert_int_equal(n, CTL_HDR_LEN + 7 + 16);
	assert_memory_equal(wire, "NMC1", 4);
	assert_int_equal(wire[4], 2);
	/* Nothing else was sent: the next read would block. */
	assert_int_equal(recv(b.fd, wire, sizeof(wire), MSG_DONTWAIT), -1);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
}

/* The tag is recomputed here from the spec alone: key = HKDF-SHA256(ikm =
 * the pre-shared key, salt = sender's nonce || receiver's nonce, info =
 * CTL_KDF_INFO), tag = AES-256-GCM with IV 0000 || seq (big-endian), header
 * and body as AAD, no plaintext. */
static void tag_matches_spec(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m;
	uint8_t wire[256], salt[2 * CTL_NONCE_LEN], k[32], iv[12] = { 0 }, tag[16], none[16];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string("key", (void *)key, sizeof(key) - 1),
		OSSL_PARAM_construct_octet_string("salt", salt, sizeof(salt)),
		OSSL_PARAM_construct_octet_string("info", (void *)CTL_KDF_INFO,
						  sizeof(CTL_KDF_INFO) - 1),
		OSSL_PARAM_construct_end(),
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = EVP_KDF_CTX_new(kdf);
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	size_t n;
	int outl;

	(void)state;
	good_pair(&a, &b);
	ctl_msg_init(&m, 3);
	ctl_put_str(&m, 1, "resume");
	memcpy(salt, a.my_nonce, CTL_NONCE_LEN);
	memcpy(salt + CTL_NONCE_LEN, b.my_nonce, CTL_NONCE_LEN);
	assert_true(EVP_KDF_derive(kc, k, sizeof(k), params) > 0);
	for (uint8_t seq = 1; seq <= 2; seq++) {
		n = send_capture(&a, &b, &m, wire, sizeof(wire));
		iv[11] = seq;
		assert_true(EVP_EncryptInit_ex(x, EVP_aes_256_gcm(), NULL, k, iv) > 0);
		assert_true(EVP_EncryptUpdate(x, NULL, &outl, wire, (int)(n - CTL_TAG_LEN)) > 0);
		assert_true(EVP_EncryptFinal_ex(x, none, &outl) > 0);
		assert_true(EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, 16, tag) > 0);
		assert_memory_equal(wire + n - CTL_TAG_LEN, tag, 16);
	}
	EVP_CIPHER_CTX_free(x);
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
}

static void wrong_key_rejected(void **state)
{
	struct ctl_conn a, b, e, f;
	struct ctl_msg m, r;
	uint8_t wire[256];
	size_t n;
	int ra, rb;

	(void)state;
	pair(&a, &b, other, &ra, &rb);
	/* HELLOs are tagged too: a stranger fails at the handshake. */
	assert_int_equal(ra, -EBADMSG);
	assert_int_equal(rb, -EBADMSG);
	/* And a side that ignored that has no session key to use. */
	ctl_msg_init(&m, 3);
	ctl_msg_init(&r, 0);
	ctl_put_str(&m, 1, "prepare");
	assert_int_equal(ctl_send(&a, &m), -ENOTCONN);
	assert_int_equal(ctl_recv(&b, &r, 100), -ENOTCONN);
	ctl_conn_close(&a);
	ctl_conn_close(&b);

	/* A well-formed first message (seq 1) tagged under another key, from
	 * a complete conversation between two holders of that key. */
	pair_keys(&e, other, &f, other, &ra, &rb);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	n = send_capture(&e, &f, &m, wire, sizeof(wire));
	good_pair(&a, &b);
	inject(&a, wire, n);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EBADMSG);
	ctl_conn_close(&e);
	ctl_conn_close(&f);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* One bit flipped at off of a captured message: the receiver's verdict. */
static int tampered(size_t off)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	uint8_t wire[256];
	size_t n;
	int ret;

	good_pair(&a, &b);
	ctl_msg_init(&m, 3);
	ctl_msg_init(&r, 0);
	ctl_put_str(&m, 1, "switchover");
	n = send_capture(&a, &b, &m, wire, sizeof(wire));
	if (off < n)
		wire[off] ^= 0x10;
	inject(&a, wire, n);
	ret = ctl_recv(&b, &r, 1000);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
	return ret;
}

static void tamper_rejected(void **state)
{
	const size_t body = CTL_HDR_LEN, tag = CTL_HDR_LEN + 6 + 10;

	(void)state;
	assert_int_equal(tampered((size_t)-1), 0);		/* untouched: accepted */
	assert_int_equal(tampered(7), -EBADMSG);		/* header: type */
	assert_int_equal(tampered(15), -EBADMSG);		/* header: sequence number */
	assert_int_equal(tampered(body + 1), -EBADMSG);		/* attribute tag */
	assert_int_equal(tampered(body + 6 + 3), -EBADMSG);	/* attribute value */
	assert_int_equal(tampered(tag), -EBADMSG);		/* tag: first byte */
	assert_int_equal(tampered(tag + CTL_TAG_LEN - 1), -EBADMSG);	/* tag: last byte */
}

/* Capture what a sends to b, then play it again or out of order. */
static void replay_rejected(void **state)
{
	struct ctl_conn a, b, a2, b2;
	struct ctl_msg m, r;
	uint8_t w1[256], w2[256], old[256];
	size_t n0, n1, n2;

	(void)state;
	good_pair(&a, &b);
	ctl_msg_init(&m, 3);
	ctl_msg_init(&r, 0);
	ctl_put_str(&m, 1, "commit");
	n0 = send_capture(&a, &b, &m, old, sizeof(old));
	memcpy(w1, old, n0);
	n1 = n0;
	/* Delivered once: accepted. */
	inject(&a, w1, n1);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	assert_int_equal(r.seq, 1);
	/* Delivered again: same sequence number, rejected. */
	inject(&a, w1, n1);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTO);

	/* Reordered: 3 before 2 is rejected, 2 then 3 still pass. */
	n1 = send_capture(&a, &b, &m, w1, sizeof(w1));
	n2 = send_capture(&a, &b, &m, w2, sizeof(w2));
	inject(&a, w2, n2);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTO);
	inject(&a, w1, n1);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	assert_int_equal(r.seq, 2);
	inject(&a, w2, n2);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	assert_int_equal(r.seq, 3);

	/* Into a new connection with the same key, where seq 1 is due: other
	 * nonces, other session key, bad tag. */
	good_pair(&a2, &b2);
	inject(&a2, old, n0);
	assert_int_equal(ctl_recv(&b2, &r, 1000), -EBADMSG);

	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_conn_close(&a2);
	ctl_conn_close(&b2);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* Each direction has its own key: what a sent to b, sent back to a (where
 * seq 1 is due too), does not verify. */
static void directions_differ(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	uint8_t wire[256];
	size_t n;

	(void)state;
	n = pair_and_capture(&a, &b, &m, &r, "handoff", wire, sizeof(wire));
	inject(&b, wire, n);
	assert_int_equal(ctl_recv(&a, &r, 1000), -EBADMSG);
	/* b's own seq 1 is accepted by a. */
	assert_int_equal(ctl_send(&b, &m), 0);
	assert_int_equal(ctl_recv(&a, &r, 1000), 0);
	assert_int_equal(r.seq, 1);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* a's handshake (in a thread) answered with its own HELLO: the first n
 * bytes of it, changed by edit (may be NULL).  The peer's end of the socket
 * goes to *peer.  Returns the handshake's result. */
static int answer_own_hello(struct ctl_conn *a, int *peer, size_t n, void (*edit)(uint8_t *))
{
	struct hs h = { .c = a };
	uint8_t hello[HELLO_LEN];
	pthread_t th;
	int sv[2];

	assert_true(n <= sizeof(hello));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(a, sv[0], key, sizeof(key) - 1, "a"), 0);
	pthread_create(&th, NULL, hs_main, &h);
	capture(sv[1], hello, n);
	if (edit)
		edit(hello);
	assert_int_equal(write(sv[1], hello, n), (ssize_t)n);
	pthread_join(th, NULL);
	*peer = sv[1];
	return h.ret;
}

/* Our own HELLO sent back to us is not a peer. */
static void reflected_hello_rejected(void **state)
{
	struct ctl_conn a;
	struct ctl_msg m;
	int peer;

	(void)state;
	assert_int_equal(answer_own_hello(&a, &peer, HELLO_LEN, NULL), -EPROTO);
	ctl_msg_init(&m, 3);
	assert_int_equal(ctl_send(&a, &m), -ENOTCONN);
	ctl_conn_close(&a);
	close(peer);
	ctl_msg_free(&m);
}

static void declare_1mib(uint8_t *hdr)
{
	hdr[16] = 0;
	hdr[17] = 0x10;
	hdr[18] = hdr[19] = 0;
}

/* Before authentication nothing bigger than a HELLO is read: a declared
 * HELLO body over CTL_HELLO_MAX_BODY is refused on its header. */
static void big_hello_refused(void **state)
{
	struct ctl_conn a;
	int peer;

	(void)state;
	assert_int_equal(answer_own_hello(&a, &peer, CTL_HDR_LEN, declare_1mib), -EMSGSIZE);
	ctl_conn_close(&a);
	close(peer);
}

/* A peer that stops reading cannot hold a sender past its deadline. */
static void send_deadline(void **state)
{
	static uint8_t big[1 << 20];
	struct ctl_conn a, b;
	struct ctl_msg m;
	int ret = 0, i;

	(void)state;
	good_pair(&a, &b);
	a.send_timeout_ms = 200;
	ctl_msg_init(&m, 3);
	assert_int_equal(ctl_put(&m, 1, big, sizeof(big)), 0);
	/* b reads nothing: the socket buffers fill, then the send gives up. */
	for (i = 0; i < 64 && ret == 0; i++)
		ret = ctl_send(&a, &m);
	assert_int_equal(ret, -ETIMEDOUT);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
}

/* A name that is too long, empty or holds a NUL says so, not "missing". */
static void name_attributes(void **state)
{
	char big[5000], name[16], err[128];
	struct ctl_msg m;

	(void)state;
	memset(big, 'p', sizeof(big));
	ctl_msg_init(&m, 3);
	assert_int_equal(ctl_put(&m, 1, big, sizeof(big)), 0);
	assert_int_equal(ctl_put(&m, 2, "", 0), 0);
	assert_int_equal(ctl_put(&m, 3, "a\0b", 3), 0);
	assert_int_equal(ctl_put_str(&m, 4, "vnet0"), 0);
	assert_int_equal(ctl_get_name(&m, 1, "VM port", name, sizeof(name), err, sizeof(err)),
			 -ENAMETOOLONG);
	assert_string_equal(err, "VM port of 5000 bytes: at most 15");
	assert_int_equal(ctl_get_name(&m, 2, "VM port", name, sizeof(name), err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "empty VM port");
	assert_int_equal(ctl_get_name(&m, 3, "VM port", name, sizeof(name), err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(ctl_get_name(&m, 9, "VM port", name, sizeof(name), err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "missing VM port");
	assert_int_equal(ctl_get_name(&m, 4, "VM port", name, sizeof(name), err, sizeof(err)), 0);
	assert_string_equal(name, "vnet0");
	ctl_msg_free(&m);
}

/* A declared length over CTL_MAX_BODY is refused on the header alone, as
 * such (not as a bad tag), with nothing reserved for it. */
static void oversized_length_refused(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	uint8_t wire[256];
	size_t n;

	(void)state;
	n = pair_and_capture(&a, &b, &m, &r, "handoff", wire, sizeof(wire));
	assert_true(n >= CTL_HDR_LEN);
	wire[16] = 0x04;	/* 64 MiB + the message's own length */
	inject(&a, wire, CTL_HDR_LEN);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EMSGSIZE);
	assert_true(r.cap < 1u << 20);
	assert_string_equal(ctl_strerror(-EMSGSIZE), "declared length over the limit");
	ctl_conn_close(&a);
	ctl_conn_close(&b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* A version 1 peer with the right key: its HELLO (HMAC-SHA256 over 16 zero
 * bytes, header and body) is refused, and so is a version 1 header later. */
static void version1_rejected(void **state)
{
	static const uint8_t zero[CTL_NONCE_LEN];
	uint8_t hello[CTL_HDR_LEN + 6 + CTL_NONCE_LEN + 32] = { 0 }, mac[64], wire[256];
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	struct hs h = { .c = &a };
	uint8_t *hb = hello + CTL_HDR_LEN;
	pthread_t th;
	size_t n;
	int sv[2];
	EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *hm = EVP_MAC_CTX_new(alg);
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t outl = 0;

	(void)state;
	memcpy(hello, "NMC1", 4);
	hello[4] = 1;
	hello[6] = hello[7] = 0xff;
	hello[19] = 6 + CTL_NONCE_LEN;
	hb[1] = 1;
	hb[5] = CTL_NONCE_LEN;
	memset(hb + 6, 0x5a, CTL_NONCE_LEN);
	assert_true(EVP_MAC_init(hm, key, sizeof(key) - 1, params));
	assert_true(EVP_MAC_update(hm, zero, sizeof(zero)));
	assert_true(EVP_MAC_update(hm, hello, CTL_HDR_LEN + 6 + CTL_NONCE_LEN));
	assert_true(EVP_MAC_final(hm, mac, &outl, sizeof(mac)));
	assert_int_equal(outl, 32);
	memcpy(hb + 6 + CTL_NONCE_LEN, mac, 32);
	EVP_MAC_CTX_free(hm);
	EVP_MAC_free(alg);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(&a, sv[0], key, sizeof(key) - 1, "a"), 0);
	pthread_create(&th, NULL, hs_main, &h);
	assert_int_equal(write(sv[1], hello, sizeof(hello)), (ssize_t)sizeof(hello));
	pthread_join(th, NULL);
	assert_int_equal(h.ret, -EPROTONOSUPPORT);
	ctl_conn_close(&a);
	close(sv[1]);

	/* Refused on its header alone, not after waiting for body and tag. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(&a, sv[0], key, sizeof(key) - 1, "a"), 0);
	pthread_create(&th, NULL, hs_main, &h);
	assert_int_equal(write(sv[1], hello, CTL_HDR_LEN), CTL_HDR_LEN);
	pthread_join(th, NULL);
	assert_int_equal(h.ret, -EPROTONOSUPPORT);
	ctl_conn_close(&a);
	close(sv[1]);

	/* Mid-connection: a valid message with its version byte set to 1. */
	n = pair_and_capture(&a, &b, &m, &r, "verify", wire, sizeof(wire));
	wire[4] = 1;
	inject(&a, wire, n);
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTONOSUPPORT);
	ctl_conn_close(&a);
	ctl_conn_close(&b);
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
		cmocka_unit_test(wire_format),
		cmocka_unit_test(late_hello_refused),
		cmocka_unit_test(tag_matches_spec),
		cmocka_unit_test(wrong_key_rejected),
		cmocka_unit_test(tamper_rejected),
		cmocka_unit_test(replay_rejected),
		cmocka_unit_test(directions_differ),
		cmocka_unit_test(reflected_hello_rejected),
		cmocka_unit_test(version1_rejected),
		cmocka_unit_test(oversized_length_refused),
		cmocka_unit_test(name_attributes),
		cmocka_unit_test(big_hello_refused),
		cmocka_unit_test(send_deadline),
		cmocka_unit_test(unauthenticated_local),
		cmocka_unit_test(tlv_checks),
		cmocka_unit_test(key_files),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
