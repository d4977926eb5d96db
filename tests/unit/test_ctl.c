/* ctl over TLS 1.3 (PSK and certificates made at test time with the
 * openssl command), the frame decoder behind it, plain local connections,
 * options and key files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "netmove/ctl.h"
#include "netmove/timeutil.h"

static const uint8_t key[] = "0123456789abcdef-shared-secret";
static const uint8_t other[] = "fedcba9876543210-not-the-secret";

static char dir[64];			/* certificates of this run */
static struct ctl_tls *psk_a, *psk_b;	/* PSK contexts of hosta and hostb */
static struct ctl_tls *cert_a, *cert_b;	/* CA 1: hosta (+ hosta.mgmt), hostb */
static struct ctl_tls *cert_cn;		/* CA 1: CN "cnonly", no subjectAltName */
static struct ctl_tls *evil_b;		/* CA 2 (trusts CA 2), names hostb */

/* A CA and host certificates, made with the openssl command. */
static const char gen_sh[] =
	"set -e; cd \"$1\"\n"
	"ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
	"-subj /CN=$1 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign "
	"-keyout $1-key.pem -out $1-cert.pem 2>/dev/null; }\n"
	"host() { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	"-subj /CN=$2 -keyout $2-key.pem -out $2.csr 2>/dev/null\n"
	"  { [ -n \"$3\" ] && echo \"subjectAltName=$3\"; "
	"echo extendedKeyUsage=serverAuth,clientAuth; } >$2.ext\n"
	"  openssl x509 -req -in $2.csr -CA $1-cert.pem -CAkey $1-key.pem -CAcreateserial "
	"-days 2 -extfile $2.ext -out $2-cert.pem 2>/dev/null; }\n"
	"ca ca1; ca ca2\n"
	"host ca1 hosta DNS:hosta,DNS:hosta.mgmt; host ca1 hostb DNS:hostb; host ca1 cnonly ''\n"
	"host ca2 evilb DNS:hostb\n"
	"mkdir pki; cp ca1-cert.pem pki/ca-cert.pem; cp hosta-cert.pem pki/cert.pem; "
	"cp hosta-key.pem pki/key.pem\n";

static char *path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static struct ctl_tls *cert_ctx(const char *ca, const char *host)
{
	char c[32], k[32], e[512];
	struct ctl_tls_opts o = { 0 };
	struct ctl_tls *t = NULL;

	snprintf(c, sizeof(c), "%s-cert.pem", host);
	snprintf(k, sizeof(k), "%s-key.pem", host);
	o.ca = path(ca);
	o.cert = path(c);
	o.key = path(k);
	if (ctl_tls_new(&o, host, &t, e, sizeof(e)) < 0)
		fprintf(stderr, "ctl_tls_new %s: %s\n", host, e);
	return t;
}

static int setup(void **state)
{
	char cmd[256], *sh;
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nm-test-ctl.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	sh = path("gen.sh");
	f = fopen(sh, "w");
	if (!f)
		return -1;
	fputs(gen_sh, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "sh %s %s", sh, dir);
	if (system(cmd) != 0)
		return -1;
	if (ctl_tls_new_psk(key, sizeof(key) - 1, "hosta", &psk_a) < 0 ||
	    ctl_tls_new_psk(key, sizeof(key) - 1, "hostb", &psk_b) < 0)
		return -1;
	cert_a = cert_ctx("ca1-cert.pem", "hosta");
	cert_b = cert_ctx("ca1-cert.pem", "hostb");
	cert_cn = cert_ctx("ca1-cert.pem", "cnonly");
	evil_b = cert_ctx("ca2-cert.pem", "evilb");
	return cert_a && cert_b && cert_cn && evil_b ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	ctl_tls_free(psk_a);
	ctl_tls_free(psk_b);
	ctl_tls_free(cert_a);
	ctl_tls_free(cert_b);
	ctl_tls_free(cert_cn);
	ctl_tls_free(evil_b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct hs {
	struct ctl_conn *c;
	int ret;
};

static void *server_main(void *arg)
{
	struct hs *h = arg;

	h->ret = ctl_handshake_server(h->c, 2000);
	return NULL;
}

/* Client a (context ta, expecting host expect) meets server b (tb) over
 * fds fa, fb; both handshakes run, their results in *ra, *rb. */
static void meet_fds(struct ctl_conn *a, struct ctl_tls *ta, int fa, const char *expect,
		     struct ctl_conn *b, struct ctl_tls *tb, int fb, int *ra, int *rb)
{
	struct hs h = { .c = b };
	pthread_t th;

	assert_int_equal(ctl_conn_init(a, fa, ta, "b"), 0);
	assert_int_equal(ctl_conn_init(b, fb, tb, "a"), 0);
	pthread_create(&th, NULL, server_main, &h);
	*ra = ctl_handshake_client(a, expect, 2000);
	/* A failed client closes: the server must not wait for its deadline. */
	if (*ra < 0)
		shutdown(fa, SHUT_RDWR);
	pthread_join(th, NULL);
	*rb = h.ret;
}

static void meet(struct ctl_conn *a, struct ctl_tls *ta, const char *expect, struct ctl_conn *b,
		 struct ctl_tls *tb, int *ra, int *rb)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	meet_fds(a, ta, sv[0], expect, b, tb, sv[1], ra, rb);
}

static void good_pair(struct ctl_conn *a, struct ctl_tls *ta, const char *expect,
		      struct ctl_conn *b, struct ctl_tls *tb)
{
	int ra, rb;

	meet(a, ta, expect, b, tb, &ra, &rb);
	if (ra || rb)
		printf("client %d (%s), server %d (%s)\n", ra, a->why, rb, b->why);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
}

static void close_both(struct ctl_conn *a, struct ctl_conn *b)
{
	ctl_conn_close(a);
	ctl_conn_close(b);
}

/* Messages both ways, sequence numbers, an empty body, the end. */
static void exchange(struct ctl_conn *a, struct ctl_conn *b)
{
	struct ctl_msg m, r;
	char s[32];
	uint64_t v;

	ctl_msg_init(&m, 7);
	ctl_msg_init(&r, 0);
	assert_int_equal(ctl_put_u64(&m, 1, 0x1122334455667788ULL), 0);
	assert_int_equal(ctl_put_str(&m, 2, "hostb"), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ctl_send(a, &m), 0);
		assert_int_equal(ctl_recv(b, &r, 1000), 0);
		assert_int_equal(r.type, 7);
		assert_int_equal(r.seq, i + 1);
		assert_int_equal(ctl_get_u64(&r, 1, &v), 0);
		assert_true(v == 0x1122334455667788ULL);
		assert_int_equal(ctl_get_str(&r, 2, s, sizeof(s)), 0);
		assert_string_equal(s, "hostb");
	}
	assert_int_equal(ctl_send(b, &m), 0);
	assert_int_equal(ctl_recv(a, &r, 1000), 0);
	ctl_msg_reset(&m, 8);
	assert_int_equal(ctl_send(b, &m), 0);
	assert_int_equal(ctl_recv(a, &r, 1000), 0);
	assert_int_equal(r.type, 8);
	assert_int_equal(r.len, 0);
	/* A large body (many TLS records) arrives whole. */
	ctl_msg_reset(&m, 9);
	memset(ctl_put_reserve(&m, 3, 120000), 0xa5, 120000);	/* fits the socket buffer */
	assert_int_equal(ctl_send(a, &m), 0);
	assert_int_equal(ctl_recv(b, &r, 2000), 0);
	assert_int_equal(r.len, m.len);
	assert_memory_equal(r.body, m.body, m.len);
	/* Nothing of it waits inside TLS: polling the socket stays valid. */
	assert_int_equal(SSL_pending(b->ssl), 0);
	ctl_conn_close(b);
	assert_int_equal(ctl_recv(a, &r, 1000), -ECONNRESET);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

static void psk_roundtrip(void **state)
{
	struct ctl_conn a, b;

	(void)state;
	good_pair(&a, psk_a, "hostb", &b, psk_b);
	assert_string_equal(b.peer_id, "psk:hosta");
	assert_true(ctl_peer_is(&b, "hosta"));
	assert_true(ctl_peer_is(&b, "HOSTA"));
	assert_false(ctl_peer_is(&b, "hostb"));
	assert_true(ctl_peer_is(&a, "hostb"));
	assert_false(ctl_peer_is(&a, "hosta"));
	assert_string_equal(SSL_get_cipher_name(a.ssl), "TLS_AES_256_GCM_SHA384");
	assert_string_equal(SSL_get_version(a.ssl), "TLSv1.3");
	assert_int_equal(ctl_handshake_client(&a, "hostb", 100), -EALREADY);
	exchange(&a, &b);
	ctl_conn_close(&a);
	ctl_conn_close(&a);	/* twice: harmless */
}

static void psk_wrong_key(void **state)
{
	struct ctl_tls *wrong;
	struct ctl_conn a, b;
	struct ctl_msg m;
	int ra, rb;

	(void)state;
	assert_int_equal(ctl_tls_new_psk(other, sizeof(other) - 1, "hosta", &wrong), 0);
	meet(&a, wrong, "hostb", &b, psk_b, &ra, &rb);
	printf("client: %s; server: %s\n", a.why, b.why);
	assert_int_equal(ra, -EACCES);
	assert_true(rb < 0);
	assert_false(ctl_peer_is(&b, "hosta"));
	ctl_msg_init(&m, 1);
	assert_int_equal(ctl_send(&a, &m), -ENOTCONN);
	assert_int_equal(ctl_recv(&b, &m, 10), -ENOTCONN);
	ctl_msg_free(&m);
	close_both(&a, &b);
	ctl_tls_free(wrong);
}

/* A PSK client that means to reach hostc is refused by hostb. */
static void psk_misaddressed(void **state)
{
	struct ctl_conn a, b;
	int ra, rb;

	(void)state;
	meet(&a, psk_a, "hostc", &b, psk_b, &ra, &rb);
	printf("client: %s; server: %s\n", a.why, b.why);
	assert_int_equal(ra, -EACCES);
	assert_true(rb < 0);
	assert_non_null(strstr(b.why, "hostc"));
	close_both(&a, &b);
}

static void cert_roundtrip(void **state)
{
	struct ctl_conn a, b;

	(void)state;
	good_pair(&a, cert_a, "hostb", &b, cert_b);
	assert_string_equal(b.peer_id, "cert:hosta,hosta.mgmt");
	assert_true(ctl_peer_is(&b, "hosta"));
	assert_true(ctl_peer_is(&b, "hosta.mgmt"));
	assert_false(ctl_peer_is(&b, "hostb"));
	assert_false(ctl_peer_is(&b, "hosta.mgm"));
	assert_string_equal(a.peer_id, "cert:hostb");
	assert_true(ctl_peer_is(&a, "hostb"));
	assert_string_equal(SSL_get_version(a.ssl), "TLSv1.3");
	exchange(&a, &b);
	ctl_conn_close(&a);
}

/* Without a subjectAltName the CN names the peer. */
static void cert_cn_fallback(void **state)
{
	struct ctl_conn a, b;

	(void)state;
	good_pair(&a, cert_cn, "hostb", &b, cert_b);
	assert_string_equal(b.peer_id, "cert:cnonly");
	assert_true(ctl_peer_is(&b, "cnonly"));
	close_both(&a, &b);
}

/* The client reaches hostb's agent but meant hostc: its certificate does
 * not name hostc. */
static void cert_wrong_host(void **state)
{
	struct ctl_conn a, b;
	int ra, rb;

	(void)state;
	meet(&a, cert_a, "hostc", &b, cert_b, &ra, &rb);
	printf("client: %s\n", a.why);
	assert_int_equal(ra, -EACCES);
	assert_non_null(strstr(a.why, "mismatch"));
	close_both(&a, &b);
}

/* A certificate from another CA is refused both ways. */
static void cert_other_ca(void **state)
{
	struct ctl_conn a, b;
	int ra, rb;

	(void)state;
	meet(&a, evil_b, "hostb", &b, cert_b, &ra, &rb);
	printf("evil client: %s; server: %s\n", a.why, b.why);
	assert_int_equal(rb, -EACCES);
	assert_true(ra < 0);
	assert_false(ctl_peer_is(&b, "hostb"));
	close_both(&a, &b);
	meet(&a, cert_a, "hostb", &b, evil_b, &ra, &rb);
	printf("client: %s; evil server: %s\n", a.why, b.why);
	assert_int_equal(ra, -EACCES);
	assert_true(rb < 0);
	close_both(&a, &b);
	/* A PSK client to a certificate server, and the other way round. */
	meet(&a, psk_a, "hostb", &b, cert_b, &ra, &rb);
	assert_true(ra < 0 && rb < 0);
	close_both(&a, &b);
	meet(&a, cert_a, "hostb", &b, psk_b, &ra, &rb);
	assert_true(ra < 0 && rb < 0);
	close_both(&a, &b);
}

/* A TLS 1.3 client that trusts the CA but shows no certificate. */
static void *bare_client(void *arg)
{
	int fd = *(int *)arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *s;

	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_load_verify_locations(ctx, path("ca1-cert.pem"), NULL);
	s = SSL_new(ctx);
	SSL_set_fd(s, fd);
	if (SSL_connect(s) == 1) {
		char c;

		SSL_read(s, &c, 1);	/* the server's verdict comes after ours */
	}
	SSL_free(s);
	SSL_CTX_free(ctx);
	shutdown(fd, SHUT_RDWR);
	return NULL;
}

static void client_without_cert(void **state)
{
	struct ctl_conn b;
	pthread_t th;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(&b, sv[1], cert_b, "bare"), 0);
	pthread_create(&th, NULL, bare_client, &sv[0]);
	assert_int_equal(ctl_handshake_server(&b, 2000), -EACCES);
	printf("server: %s\n", b.why);
	pthread_join(th, NULL);
	ctl_conn_close(&b);
	close(sv[0]);
}

/* A peer that says nothing: the handshake gives up at its deadline. */
static void handshake_deadline(void **state)
{
	struct ctl_conn a;
	uint64_t t0;
	int sv[2];

	(void)state;
	for (int server = 0; server < 2; server++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		assert_int_equal(ctl_conn_init(&a, sv[0], server ? cert_b : psk_a, "silent"), 0);
		t0 = timeutil_mono_ns();
		assert_int_equal(server ? ctl_handshake_server(&a, 200) :
					  ctl_handshake_client(&a, "hostb", 200), -ETIMEDOUT);
		assert_true(timeutil_mono_ns() - t0 >= 190 * NSEC_PER_MSEC);
		assert_true(timeutil_mono_ns() - t0 < 1000 * NSEC_PER_MSEC);
		ctl_conn_close(&a);
		close(sv[1]);
	}
}

/* Not TLS: an old (version 2) netmove HELLO or plain text. */
static void not_tls_refused(void **state)
{
	static const uint8_t v2[] = { 'N', 'M', 'C', '1', 2, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 22, 0, 1, 0, 0, 0, 16 };
	struct ctl_conn b;
	int sv[2], ret;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ctl_conn_init(&b, sv[1], psk_b, "v2"), 0);
	assert_int_equal(write(sv[0], v2, sizeof(v2)), (ssize_t)sizeof(v2));
	ret = ctl_handshake_server(&b, 2000);
	printf("server: %d %s\n", ret, b.why);
	assert_true(ret == -EPROTONOSUPPORT || ret == -EMSGSIZE);
	ctl_conn_close(&b);
	close(sv[0]);
}

/* Write raw application data into a's TLS session: what a peer holding
 * the key could send (a forged header) is still checked. */
static void ssl_inject(struct ctl_conn *a, const uint8_t *buf, size_t len)
{
	assert_int_equal(SSL_write(a->ssl, buf, (int)len), (int)len);
}

static void hdr(uint8_t *h, uint8_t version, uint64_t seq, uint32_t len)
{
	memset(h, 0, CTL_HDR_LEN);
	memcpy(h, "NMC1", 4);
	h[4] = version;
	h[7] = 3;
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		h[16 + i] = (uint8_t)(len >> (24 - 8 * i));
}

/* A declared length over CTL_MAX_BODY is refused on the header alone, with
 * nothing reserved for it; so are another version and a replayed or
 * skipped sequence number. */
static void decoder_checks(void **state)
{
	uint8_t h[CTL_HDR_LEN];
	struct ctl_conn a, b;
	struct ctl_msg m, r;

	(void)state;
	ctl_msg_init(&m, 3);
	ctl_msg_init(&r, 0);
	good_pair(&a, psk_a, "hostb", &b, psk_b);
	hdr(h, CTL_VERSION, 1, CTL_MAX_BODY + 1);
	ssl_inject(&a, h, sizeof(h));
	assert_int_equal(ctl_recv(&b, &r, 1000), -EMSGSIZE);
	assert_true(r.cap < 1u << 20);
	close_both(&a, &b);

	good_pair(&a, psk_a, "hostb", &b, psk_b);
	hdr(h, 2, 1, 0);
	ssl_inject(&a, h, sizeof(h));
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTONOSUPPORT);
	close_both(&a, &b);

	good_pair(&a, psk_a, "hostb", &b, psk_b);
	assert_int_equal(ctl_send(&a, &m), 0);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	hdr(h, CTL_VERSION, 1, 0);	/* sequence number 1 again */
	ssl_inject(&a, h, sizeof(h));
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTO);
	hdr(h, CTL_VERSION, 5, 0);	/* 2..4 skipped */
	ssl_inject(&a, h, sizeof(h));
	assert_int_equal(ctl_recv(&b, &r, 1000), -EPROTO);
	close_both(&a, &b);
	ctl_msg_free(&m);
	ctl_msg_free(&r);
}

/* A relay between two socketpairs that keeps every byte it forwards and
 * may flip one byte of the n-th chunk it forwards from a to b. */
struct relay {
	int a, b;
	uint8_t *seen;
	size_t len, cap;
	int flip_chunk;		/* 0: none */
};

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	uint8_t buf[65536];
	int chunks = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = r->a, .events = POLLIN },
				       { .fd = r->b, .events = POLLIN } };
		int i;

		if (poll(p, 2, 5000) <= 0)
			break;
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (!p[i].revents)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0)
				goto out;
			if (i == 0 && ++chunks == r->flip_chunk)
				buf[n - 1] ^= 0x20;
			if (r->len + (size_t)n <= r->cap) {
				memcpy(r->seen + r->len, buf, (size_t)n);
				r->len += (size_t)n;
			}
			if (write(p[!i].fd, buf, (size_t)n) != n)
				goto out;
		}
	}
out:
	shutdown(r->a, SHUT_RDWR);
	shutdown(r->b, SHUT_RDWR);
	return NULL;
}

/* Send a message with a 64-byte pattern both ways through a relay; return
 * whether the relay saw the pattern. */
static bool pattern_seen(struct ctl_tls *ta, struct ctl_tls *tb)
{
	struct relay r = { .cap = 1 << 20 };
	uint8_t pat[64];
	int s1[2], s2[2], ra = 0, rb = 0;
	struct ctl_conn a, b;
	struct ctl_msg m, in;
	pthread_t th;
	bool seen = false;
	size_t i;

	for (i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)("netmove-frame-payload-"[i % 22] ^ (i / 22));
	r.seen = malloc(r.cap);
	assert_non_null(r.seen);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
	r.a = s1[1];
	r.b = s2[0];
	pthread_create(&th, NULL, relay_main, &r);
	if (ta) {
		meet_fds(&a, ta, s1[0], "hostb", &b, tb, s2[1], &ra, &rb);
	} else {
		ctl_conn_init(&a, s1[0], NULL, "a");
		ctl_conn_init(&b, s2[1], NULL, "b");
	}
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	ctl_msg_init(&m, 4);
	ctl_msg_init(&in, 0);
	assert_int_equal(ctl_put(&m, 1, pat, sizeof(pat)), 0);
	assert_int_equal(ctl_send(&a, &m), 0);
	assert_int_equal(ctl_recv(&b, &in, 1000), 0);
	assert_int_equal(ctl_send(&b, &m), 0);
	assert_int_equal(ctl_recv(&a, &in, 1000), 0);
	close_both(&a, &b);
	pthread_join(th, NULL);
	assert_true(r.len > 2 * sizeof(pat));
	for (i = 0; i + sizeof(pat) <= r.len && !seen; i++)
		seen = !memcmp(r.seen + i, pat, sizeof(pat));
	/* Not even a quarter of it. */
	for (i = 0; i + 16 <= r.len && !seen; i++)
		seen = !memcmp(r.seen + i, pat + 24, 16);
	close(s1[1]);
	close(s2[0]);
	free(r.seen);
	ctl_msg_free(&m);
	ctl_msg_free(&in);
	return seen;
}

/* What crosses the wire is encrypted: the payload pattern is not in it
 * (while on a plain connection it is, so the check can fail). */
static void wire_encrypted(void **state)
{
	(void)state;
	assert_true(pattern_seen(NULL, NULL));
	assert_false(pattern_seen(psk_a, psk_b));
	assert_false(pattern_seen(cert_a, cert_b));
}

/* A byte altered in transit: the record does not decrypt, the message is
 * refused as corrupted. */
static void tampered_record(void **state)
{
	struct relay r = { .cap = 1 << 20, .flip_chunk = 0 };
	int s1[2], s2[2], ra, rb, ret;
	struct ctl_conn a, b;
	struct ctl_msg m, in;
	pthread_t th;

	(void)state;
	r.seen = malloc(r.cap);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s2), 0);
	r.a = s1[1];
	r.b = s2[0];
	pthread_create(&th, NULL, relay_main, &r);
	meet_fds(&a, psk_a, s1[0], "hostb", &b, psk_b, s2[1], &ra, &rb);
	assert_int_equal(ra, 0);
	assert_int_equal(rb, 0);
	usleep(20000);
	r.flip_chunk = 3;	/* ClientHello, Finished, then this message */
	ctl_msg_init(&m, 4);
	ctl_msg_init(&in, 0);
	assert_int_equal(ctl_put_str(&m, 1, "reprogram the uplink"), 0);
	assert_int_equal(ctl_send(&a, &m), 0);
	ret = ctl_recv(&b, &in, 1000);
	printf("server: %s\n", b.why);
	assert_int_equal(ret, -EBADMSG);
	close_both(&a, &b);
	pthread_join(th, NULL);
	close(s1[1]);
	close(s2[0]);
	free(r.seen);
	ctl_msg_free(&m);
	ctl_msg_free(&in);
}

/* A peer that stops reading cannot hold a sender past its deadline. */
static void send_deadline(void **state)
{
	static uint8_t big[1 << 20];
	struct ctl_conn a, b;
	struct ctl_msg m;
	int ret = 0, i;

	(void)state;
	good_pair(&a, psk_a, "hostb", &b, psk_b);
	a.send_timeout_ms = 200;
	ctl_msg_init(&m, 3);
	assert_int_equal(ctl_put(&m, 1, big, sizeof(big)), 0);
	for (i = 0; i < 64 && ret == 0; i++)
		ret = ctl_send(&a, &m);
	assert_int_equal(ret, -ETIMEDOUT);
	close_both(&a, &b);
	ctl_msg_free(&m);
}

/* The options: one mode, every part, files that load and match. */
static void tls_options(void **state)
{
	struct ctl_tls_opts o;
	struct ctl_tls *t = NULL;
	char e[512];

	(void)state;
#define TRY(want, ...)								\
	do {									\
		o = (struct ctl_tls_opts){ __VA_ARGS__ };			\
		assert_int_equal(ctl_tls_new(&o, "hosta", &t, e, sizeof(e)), want); \
		printf("%s\n", e);						\
		if (!want)							\
			ctl_tls_free(t);					\
		else								\
			assert_null(t);						\
	} while (0)
	TRY(-EINVAL, 0);
	assert_non_null(strstr(e, "needs --key-file"));
	TRY(-EINVAL, .key_file = path("k"), .pki_dir = path("pki"));
	assert_non_null(strstr(e, "exclude each other"));
	TRY(-EINVAL, .ca = path("ca1-cert.pem"), .cert = path("hosta-cert.pem"));
	assert_non_null(strstr(e, "missing --tls-key"));
	TRY(-ENOENT, .ca = path("nope.pem"), .cert = path("hosta-cert.pem"),
	    .key = path("hosta-key.pem"));
	assert_non_null(strstr(e, "--tls-ca"));
	TRY(-ENOENT, .key_file = path("nope.key"));
	TRY(-EINVAL, .ca = path("ca1-cert.pem"), .cert = path("hosta-cert.pem"),
	    .key = path("hostb-key.pem"));
	assert_non_null(strstr(e, "does not match"));
	TRY(-EINVAL, .ca = path("ca1-cert.pem"), .cert = path("evilb-cert.pem"),
	    .key = path("evilb-key.pem"));
	assert_non_null(strstr(e, "does not verify"));
	TRY(-EIO, .ca = path("ca1-cert.pem"), .cert = path("hosta.ext"),
	    .key = path("hosta-key.pem"));
	TRY(0, .pki_dir = path("pki"));
	TRY(-ENOENT, .pki_dir = path("nope"));
	assert_int_equal(ctl_tls_opt(&o, CTL_OPT_TLS_CA, "x"), 1);
	assert_string_equal(o.ca, "x");
	assert_int_equal(ctl_tls_opt(&o, 'k', "x"), 0);
#undef TRY
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

/* The local socket stays plain; its decoder checks the same. */
static void unauthenticated_local(void **state)
{
	struct ctl_conn a, b;
	struct ctl_msg m, r;
	uint8_t h[CTL_HDR_LEN];
	int sv[2];
	uint64_t v;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ctl_conn_init(&a, sv[0], NULL, "cli");
	ctl_conn_init(&b, sv[1], NULL, "agent");
	assert_int_equal(ctl_handshake_client(&a, NULL, 100), 0);
	assert_false(ctl_peer_is(&a, "hosta"));
	ctl_msg_init(&m, 9);
	ctl_msg_init(&r, 0);
	ctl_put_u64(&m, 4, 42);
	assert_int_equal(ctl_send(&a, &m), 0);
	assert_int_equal(ctl_recv(&b, &r, 1000), 0);
	assert_int_equal(ctl_get_u64(&r, 4, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(ctl_recv(&b, &r, 50), -ETIMEDOUT);
	hdr(h, CTL_VERSION, 2, CTL_MAX_BODY + 1);
	assert_int_equal(write(sv[0], h, sizeof(h)), (ssize_t)sizeof(h));
	assert_int_equal(ctl_recv(&b, &r, 1000), -EMSGSIZE);
	close_both(&a, &b);
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
	char p[] = "/tmp/nmkeyXXXXXX";
	uint8_t k[CTL_MAX_KEY];
	int fd;

	(void)state;
	fd = mkstemp(p);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "00112233445566778899aabbccddeeff\n", 33), 33);
	close(fd);
	assert_int_equal(ctl_key_load(p, k, sizeof(k)), 16);
	assert_int_equal(k[0], 0x00);
	assert_int_equal(k[15], 0xff);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "short", 5), 5);
	close(fd);
	assert_int_equal(ctl_key_load(p, k, sizeof(k)), -EINVAL);
	fd = open(p, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "a raw passphrase of some length", 31), 31);
	close(fd);
	assert_int_equal(ctl_key_load(p, k, sizeof(k)), 31);
	unlink(p);
	assert_int_equal(ctl_key_load("/nonexistent/key", k, sizeof(k)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(psk_roundtrip),
		cmocka_unit_test(psk_wrong_key),
		cmocka_unit_test(psk_misaddressed),
		cmocka_unit_test(cert_roundtrip),
		cmocka_unit_test(cert_cn_fallback),
		cmocka_unit_test(cert_wrong_host),
		cmocka_unit_test(cert_other_ca),
		cmocka_unit_test(client_without_cert),
		cmocka_unit_test(handshake_deadline),
		cmocka_unit_test(not_tls_refused),
		cmocka_unit_test(decoder_checks),
		cmocka_unit_test(wire_encrypted),
		cmocka_unit_test(tampered_record),
		cmocka_unit_test(send_deadline),
		cmocka_unit_test(tls_options),
		cmocka_unit_test(name_attributes),
		cmocka_unit_test(unauthenticated_local),
		cmocka_unit_test(tlv_checks),
		cmocka_unit_test(key_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
