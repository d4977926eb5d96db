/* bench_tls: the control channel's cost over a socketpair on one machine:
 * TLS 1.3 handshake (PSK, and certificates with --pki-dir DIR), one
 * small-message round trip, and one-way throughput of 1 MiB messages.
 * Prints "bench: ..." lines; make bench runs it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netmove/ctl.h"
#include "netmove/timeutil.h"

#define HANDSHAKES 200
#define PINGS 5000
#define MIB_MSGS 256

struct side {
	struct ctl_tls *tls;
	int fd, ret, mode;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double median_us(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	return (double)v[n / 2] / 1000.0;
}

/* The server end: handshake, then echo (mode 1) or sink (mode 2). */
static void *server(void *arg)
{
	struct side *s = arg;
	struct ctl_conn c;
	struct ctl_msg m;

	ctl_msg_init(&m, 0);
	s->ret = ctl_conn_init(&c, s->fd, s->tls, "client");
	if (!s->ret)
		s->ret = ctl_handshake_server(&c, 5000);
	while (!s->ret && s->mode && ctl_recv(&c, &m, 5000) == 0)
		if (s->mode == 1 && ctl_send(&c, &m) < 0)
			break;
	ctl_msg_free(&m);
	ctl_conn_close(&c);
	return NULL;
}

static int pair(struct ctl_tls *t, int mode, struct ctl_conn *c, pthread_t *th, struct side *s)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	*s = (struct side){ .tls = t, .fd = sv[1], .mode = mode };
	pthread_create(th, NULL, server, s);
	if (ctl_conn_init(c, sv[0], t, "server") < 0 || ctl_handshake_client(c, NULL, 5000) < 0)
		return -1;
	return 0;
}

static int run(const char *name, struct ctl_tls *t)
{
	static uint64_t hs[HANDSHAKES], rtt[PINGS];
	struct ctl_conn c;
	struct ctl_msg m;
	struct side s;
	pthread_t th;
	uint64_t t0;
	int i;

	for (i = 0; i < HANDSHAKES; i++) {
		t0 = timeutil_mono_ns();
		if (pair(t, 0, &c, &th, &s) < 0)
			return -1;
		hs[i] = timeutil_mono_ns() - t0;
		ctl_conn_close(&c);
		pthread_join(th, NULL);
	}
	ctl_msg_init(&m, 1);
	ctl_put_reserve(&m, 1, 64);
	if (pair(t, 1, &c, &th, &s) < 0)
		return -1;
	for (i = 0; i < PINGS; i++) {
		t0 = timeutil_mono_ns();
		if (ctl_send(&c, &m) < 0 || ctl_recv(&c, &m, 5000) < 0)
			return -1;
		rtt[i] = timeutil_mono_ns() - t0;
	}
	ctl_conn_close(&c);
	pthread_join(th, NULL);
	ctl_msg_reset(&m, 2);
	memset(ctl_put_reserve(&m, 1, 1 << 20), 0x5a, 1 << 20);
	if (pair(t, 2, &c, &th, &s) < 0)
		return -1;
	t0 = timeutil_mono_ns();
	for (i = 0; i < MIB_MSGS; i++)
		if (ctl_send(&c, &m) < 0)
			return -1;
	ctl_conn_close(&c);
	pthread_join(th, NULL);
	printf("bench: ctl %s: handshake median %.0f us, 64-byte round trip median %.1f us, "
	       "1 MiB messages %.0f MB/s one way\n", name, median_us(hs, HANDSHAKES),
	       median_us(rtt, PINGS),
	       (double)MIB_MSGS * (1 << 20) / ((double)(timeutil_mono_ns() - t0) / 1e9) / 1e6);
	ctl_msg_free(&m);
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t key[] = "bench-tls-pre-shared-key-0123456";
	struct ctl_tls *t;
	char err[512];

	if (ctl_tls_new_psk(key, sizeof(key) - 1, "bench", &t) < 0 || run("TLS 1.3 PSK", t) < 0) {
		fprintf(stderr, "bench_tls: PSK run failed\n");
		return 1;
	}
	ctl_tls_free(t);
	if (run("plain (no TLS, the local socket's path)", NULL) < 0)
		return 1;
	if (argc == 3 && !strcmp(argv[1], "--pki-dir")) {
		struct ctl_tls_opts o = { .pki_dir = argv[2] };

		if (ctl_tls_new(&o, "bench", &t, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_tls: %s\n", err);
			return 1;
		}
		if (run("TLS 1.3 certificates (P-256)", t) < 0)
			return 1;
		ctl_tls_free(t);
	}
	return 0;
}
