/* The paravirtual NIC (dev_nic.c) and the guest's network stack: ARP, ICMP
 * echo and UDP echo answered over a datagram socketpair back-end, frames too
 * large for a buffer counted, the NIC state carried by a migration, and a
 * real tap in a private network namespace answering ping. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "netns_helper.h"
#include "netmove/ctl.h"
#include "precopy.h"
#include "stream.h"
#include "tap.h"
#include "vm.h"

#define RAM (8u << 20)

static const uint8_t key[32] = "netmove-nic-unit-test-key-012345";

/* The migration stream's TLS (PSK): built once, as a program does. */
static struct ctl_tls *stream_tls(void)
{
	static struct ctl_tls *t;

	if (!t)
		assert_int_equal(ctl_tls_new_psk(key, sizeof(key), "nic-test", &t), 0);
	return t;
}
static const uint8_t gmac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x40 };
static const uint8_t gip[4] = { 10, 9, 0, 2 };
static const uint8_t hmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t hip[4] = { 10, 9, 0, 1 };

static uint16_t csum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)(p[0] << 8 | p[1]);
}

static size_t eth(uint8_t *f, const uint8_t *dst, unsigned type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, hmac, 6);
	put16(f + 12, type);
	return 14;
}

static size_t arp_req(uint8_t *f)
{
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = f + eth(f, bc, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, 1);
	memcpy(a + 8, hmac, 6);
	memcpy(a + 14, hip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, gip, 4);
	return 60;
}

/* An IPv4 frame to the guest with an l4 payload of len bytes. */
static size_t ip_frame(uint8_t *f, unsigned proto, const uint8_t *l4, size_t len)
{
	uint8_t *ip = f + eth(f, gmac, 0x0800);

	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + len));
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	memcpy(ip + 12, hip, 4);
	memcpy(ip + 16, gip, 4);
	put16(ip + 10, csum(ip, 20, 0));
	memcpy(ip + 20, l4, len);
	return 34 + len;
}

static size_t icmp_req(uint8_t *f, unsigned seq)
{
	uint8_t m[40] = { 8, 0, 0, 0, 0x12, 0x34 };
	size_t i;

	put16(m + 6, seq);
	for (i = 8; i < sizeof(m); i++)
		m[i] = (uint8_t)i;
	put16(m + 2, csum(m, sizeof(m), 0));
	return ip_frame(f, 1, m, sizeof(m));
}

static size_t udp_req(uint8_t *f, const char *payload)
{
	uint8_t u[256];
	size_t len = 8 + strlen(payload);

	put16(u, 40000);
	put16(u + 2, HW_NIC_ECHO_PORT);
	put16(u + 4, (unsigned)len);
	put16(u + 6, 0);	/* no checksum: allowed for IPv4 */
	memcpy(u + 8, payload, strlen(payload));
	return ip_frame(f, 17, u, len);
}

static void make_nic_vm(struct vm *vm, int fd)
{
	struct vm_config vc = { .ram_size = RAM, .ops = &cpu_emu_ops, .lockstep = true,
				.ws = 64, .rate = 4, .serial_fd = -1, .nic = true, .nic_fd = fd };

	memcpy(vc.mac, gmac, 6);
	memcpy(&vc.ip, gip, 4);
	assert_int_equal(vm_create(vm, &vc), 0);
}

static void backend(int sp[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(fcntl(sp[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(sp[1], F_SETFL, O_NONBLOCK), 0);
}

static ssize_t next_frame(int fd, uint8_t *f, size_t cap)
{
	return read(fd, f, cap);
}

static void check_arp_reply(const uint8_t *f, ssize_t len)
{
	assert_true(len >= 42);
	assert_memory_equal(f, hmac, 6);
	assert_memory_equal(f + 6, gmac, 6);
	assert_int_equal(get16(f + 12), 0x0806);
	assert_int_equal(get16(f + 20), 2);
	assert_memory_equal(f + 22, gmac, 6);
	assert_memory_equal(f + 28, gip, 4);
	assert_memory_equal(f + 32, hmac, 6);
	assert_memory_equal(f + 38, hip, 4);
}

static void check_ip_reply(const uint8_t *f, ssize_t len, unsigned proto)
{
	const uint8_t *ip = f + 14;

	assert_true(len >= 42);
	assert_memory_equal(f, hmac, 6);
	assert_memory_equal(f + 6, gmac, 6);
	assert_int_equal(get16(f + 12), 0x0800);
	assert_int_equal(ip[9], proto);
	assert_memory_equal(ip + 12, gip, 4);
	assert_memory_equal(ip + 16, hip, 4);
	assert_int_equal(csum(ip, 20, 0), 0);
}

static void check_udp_echo(const uint8_t *f, ssize_t len, const char *payload)
{
	const uint8_t *ip = f + 14, *u = f + 34;
	uint8_t ph[12];
	size_t ulen = 8 + strlen(payload);

	check_ip_reply(f, len, 17);
	assert_int_equal(get16(u), HW_NIC_ECHO_PORT);
	assert_int_equal(get16(u + 2), HW_NIC_ECHO_PORT);
	assert_int_equal(get16(u + 4), ulen);
	assert_memory_equal(u + 8, payload, strlen(payload));
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	put16(ph + 10, (unsigned)ulen);
	assert_int_equal(csum(u, ulen, (uint32_t)(0xffff & ~csum(ph, 12, 0))), 0);
}

static void stack_answers(void **state)
{
	uint8_t f[4096], r[4096];
	struct vm vm;
	ssize_t n;
	int sp[2];

	(void)state;
	backend(sp);
	make_nic_vm(&vm, sp[1]);
	assert_true(write(sp[0], f, arp_req(f)) > 0);
	assert_true(write(sp[0], f, icmp_req(f, 7)) > 0);
	memset(f, 0xab, 3000);	/* too large for a 2048-byte buffer */
	assert_true(write(sp[0], f, 3000) > 0);
	assert_true(write(sp[0], f, udp_req(f, "probe payload 1")) > 0);
	/* Not for the guest: another IP, another UDP port. */
	assert_true(write(sp[0], f, udp_req(f, "x")) > 0);
	f[14 + 19] = 99;
	assert_true(write(sp[0], f, 60) > 0);
	assert_int_equal(vm_run_iters(&vm, 20), 0);

	n = next_frame(sp[0], r, sizeof(r));
	check_arp_reply(r, n);
	n = next_frame(sp[0], r, sizeof(r));
	check_ip_reply(r, n, 1);
	assert_int_equal(r[34], 0);	/* echo reply */
	assert_int_equal(get16(r + 34 + 6), 7);
	assert_int_equal(csum(r + 34, 40, 0), 0);
	n = next_frame(sp[0], r, sizeof(r));
	check_udp_echo(r, n, "probe payload 1");
	n = next_frame(sp[0], r, sizeof(r));
	check_udp_echo(r, n, "x");
	assert_true(next_frame(sp[0], r, sizeof(r)) < 0);	/* the corrupted one got no answer */
	assert_int_equal(vm.nic.rx_frames, 5);
	assert_int_equal(vm.nic.rx_dropped, 1);
	assert_int_equal(vm.nic.tx_frames, 4);
	assert_int_equal(vm.nic.tx_errors, 0);
	vm_destroy(&vm);
	close(sp[0]);
	close(sp[1]);
}

static void no_nic_reads_absent(void **state)
{
	struct vm_config vc = { .ram_size = RAM, .ops = &cpu_emu_ops, .lockstep = true,
				.ws = 64, .rate = 4, .serial_fd = -1 };
	struct vm vm;
	uint32_t v = 7;

	(void)state;
	assert_int_equal(vm_create(&vm, &vc), 0);
	dev_io(&vm, HW_CTL_NET, 4, false, &v);
	assert_int_equal(v, 0);
	dev_io(&vm, HW_NIC_RX_POLL, 4, true, &v);	/* harmless */
	assert_int_equal(vm_run_iters(&vm, 10), 0);
	assert_int_equal(vm.nic.rx_frames + vm.nic.tx_frames, 0);
	vm_destroy(&vm);
}

struct dst {
	int fd;
	struct vm vm;
	struct vm_config tmpl;
	struct precopy_config cfg;
	struct precopy_stats st;
	int ret;
};

static void *dst_main(void *arg)
{
	struct dst *d = arg;
	struct ctl_conn c;

	d->ret = ctl_conn_init(&c, d->fd, stream_tls(), "src");
	if (!d->ret)
		d->ret = ctl_handshake_server(&c, 5000);
	if (!d->ret)
		d->ret = precopy_recv(&d->vm, &d->tmpl, &c, &d->cfg, &d->st);
	ctl_conn_close(&c);
	return NULL;
}

static void state_migrates(void **state)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct ctl_conn c;
	uint8_t f[2048], r[2048];
	struct vm src;
	pthread_t t;
	int sp[2], bp[2], ss[2];
	ssize_t n;

	(void)state;
	backend(sp);
	backend(bp);
	make_nic_vm(&src, sp[1]);
	assert_true(write(sp[0], f, udp_req(f, "before")) > 0);
	assert_int_equal(vm_run_iters(&src, 50), 0);
	n = next_frame(sp[0], r, sizeof(r));
	check_udp_echo(r, n, "before");

	precopy_config_default(&cfg);
	cfg.downtime_ms = 1;
	cfg.ls_pages_per_ms = 50;
	cfg.timeout_ms = 5000;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ss), 0);
	d.fd = ss[1];
	d.cfg = cfg;
	/* The destination brings only its back-end: MAC, IP, rings come with the guest. */
	d.tmpl = (struct vm_config){ .ops = &cpu_emu_ops, .lockstep = true, .serial_fd = -1,
				     .nic = true, .nic_fd = bp[1] };
	stream_tls();	/* before the destination's thread needs it */
	assert_int_equal(pthread_create(&t, NULL, dst_main, &d), 0);
	assert_int_equal(ctl_conn_init(&c, ss[0], stream_tls(), "dst"), 0);
	assert_int_equal(ctl_handshake_client(&c, NULL, 5000), 0);
	assert_int_equal(precopy_send(&src, &c, &cfg, &st), 0);
	ctl_conn_close(&c);
	pthread_join(t, NULL);
	assert_int_equal(d.ret, 0);

	assert_true(d.vm.nic.present);
	assert_int_equal(d.vm.nic.fd, bp[1]);
	assert_memory_equal(d.vm.nic.mac, gmac, 6);
	assert_memory_equal(&d.vm.nic.ip, gip, 4);
	assert_int_equal(d.vm.nic.rx_base, src.nic.rx_base);
	assert_int_equal(d.vm.nic.tx_base, src.nic.tx_base);
	assert_int_equal(d.vm.nic.rx_next, src.nic.rx_next);
	assert_int_equal(d.vm.nic.tx_next, src.nic.tx_next);
	assert_int_equal(d.vm.nic.rx_frames, 1);
	assert_int_equal(d.vm.nic.tx_frames, 1);

	/* The guest answers from its new home, through the new back-end only. */
	assert_true(write(bp[0], f, udp_req(f, "after")) > 0);
	assert_true(write(bp[0], f, arp_req(f)) > 0);
	assert_int_equal(vm_run_iters(&d.vm, 20), 0);
	n = next_frame(bp[0], r, sizeof(r));
	check_udp_echo(r, n, "after");
	n = next_frame(bp[0], r, sizeof(r));
	check_arp_reply(r, n);
	assert_true(next_frame(sp[0], r, sizeof(r)) < 0);
	assert_int_equal(d.vm.nic.rx_frames, 3);
	assert_int_equal(d.vm.nic.tx_frames, 3);
	vm_destroy(&d.vm);
	vm_destroy(&src);
	close(sp[0]);
	close(sp[1]);
	close(bp[0]);
	close(bp[1]);
}

static void tap_ping(void **state)
{
	struct vm_config vc = { .ram_size = RAM, .ops = &cpu_emu_ops, .ws = 64, .rate = 4,
				.tick_us = 500, .serial_fd = -1, .nic = true };
	char err[256];
	struct vm vm;
	int fd, ret;

	(void)state;
	if (test_private_netns()) {
		skip();
		return;
	}
	fd = tap_open("nmtest0", NULL, TAP_TXQLEN, err, sizeof(err));
	if (fd < 0)
		fprintf(stderr, "tap: %s\n", err);
	assert_true(fd >= 0);
	assert_int_equal(test_sh("ip addr add 10.9.0.1/24 dev nmtest0"), 0);
	vc.nic_fd = fd;
	memcpy(vc.mac, gmac, 6);
	memcpy(&vc.ip, gip, 4);
	assert_int_equal(vm_create(&vm, &vc), 0);
	assert_int_equal(vm_start(&vm), 0);
	ret = test_sh("ping -q -c 5 -i 0.05 -W 2 10.9.0.2 >/dev/null");
	vm_pause(&vm);
	assert_int_equal(ret, 0);
	assert_true(vm.nic.rx_frames >= 6);	/* ARP + 5 echo requests */
	assert_true(vm.nic.tx_frames >= 6);
	assert_int_equal(vm.nic.rx_dropped + vm.nic.tx_errors, 0);
	vm_destroy(&vm);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_nic_reads_absent),
		cmocka_unit_test(stack_answers),
		cmocka_unit_test(state_migrates),
		cmocka_unit_test(tap_ping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
