#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "netmove/buffer.h"
#include "netmove/replay.h"
#include "netmove/timeutil.h"
#include "netns_helper.h"

#define ETH_TEST 0x88b5
#define TEST_MAGIC 0x4e4d5442u
#define HOLD_FRAMES 10000
#define LIVE_FRAMES 2000
#define TCP_WARMUP (4u << 20)
#define TCP_HELD (64u << 10)
#define UDP_HELD 50

static const char *net_skip = "not set up";
static int ns_a = -1, ns_b = -1;
static struct buffer *g_b;
static struct replay *g_r;

static const struct mac vm = { { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 } };
static const struct mac other = { { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 } };
static const struct mac peer = { { 0x02, 0x00, 0x00, 0x00, 0x00, 0x03 } };
static const struct mac vt1_mac = { { 0x02, 0x00, 0x00, 0x00, 0x77, 0x02 } };

static const char *const setup_cmds[] = {
	"sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
	"sysctl -qw net.ipv4.tcp_slow_start_after_idle=0",
	"ip link add va type veth peer name vb",
	"ip link add vc type veth peer name vd",
	"ip link add vx0 type veth peer name vx1",
	"for d in va vb vc vd vx0 vx1; do ip link set $d up || exit 1; done",
};

static void in_ns(int fd)
{
	assert_int_equal(setns(fd, CLONE_NEWNET), 0);
}

static int group_setup(void **state)
{
	char cmd[256];
	size_t i;

	(void)state;
	if (test_private_netns() < 0) {
		net_skip = "needs root and unshare(CLONE_NEWNET)";
		return 0;
	}
	for (i = 0; i < sizeof(setup_cmds) / sizeof(setup_cmds[0]); i++)
		if (test_sh(setup_cmds[i]) != 0)
			goto fail;
	/* A second namespace (the "VM" side of the TCP/UDP tests), reached by fd. */
	ns_a = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns_a < 0 || unshare(CLONE_NEWNET) < 0)
		goto fail;
	ns_b = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (ns_b < 0 || test_sh("ip link set lo up") != 0 ||
	    test_sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		    "net.ipv6.conf.default.disable_ipv6=1") != 0 ||
	    setns(ns_a, CLONE_NEWNET) < 0)
		goto fail;
	snprintf(cmd, sizeof(cmd),
		 "ip link add vt0 address 02:00:00:00:77:01 type veth peer name vt1 "
		 "address 02:00:00:00:77:02 netns /proc/%d/fd/%d && "
		 "ip addr add 10.77.0.1/24 dev vt0 && ip link set vt0 up && "
		 "ip neigh replace 10.77.0.2 lladdr 02:00:00:00:77:02 dev vt0 nud permanent",
		 (int)getpid(), ns_b);
	if (test_sh(cmd) != 0 || setns(ns_b, CLONE_NEWNET) < 0)
		goto fail;
	if (test_sh("ip addr add 10.77.0.2/24 dev vt1 && ip link set vt1 up && "
		    "ip neigh replace 10.77.0.1 lladdr 02:00:00:00:77:01 dev vt1 nud permanent") != 0 ||
	    setns(ns_a, CLONE_NEWNET) < 0)
		goto fail;
	net_skip = NULL;
	return 0;
fail:
	net_skip = "could not build the veth test topology";
	return 0;
}

static int tx_csum_set(bool on);

static int teardown(void **state)
{
	(void)state;
	if (ns_a >= 0) {
		(void)setns(ns_a, CLONE_NEWNET);
		(void)tx_csum_set(true);
	}
	if (g_b)
		buffer_detach(g_b);
	replay_close(g_r);
	g_b = NULL;
	g_r = NULL;
	return 0;
}

/* ------------------------------------------------------------ frames */

static size_t make_frame(uint8_t *f, const struct mac *dst, const struct mac *src,
			 uint32_t seq, size_t size)
{
	uint32_t v;
	size_t i;

	memcpy(f, dst->b, 6);
	memcpy(f + 6, src->b, 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	v = htonl(TEST_MAGIC);
	memcpy(f + 14, &v, 4);
	v = htonl(seq);
	memcpy(f + 18, &v, 4);
	for (i = 22; i < size; i++)
		f[i] = (uint8_t)(seq * 7 + i);
	return size;
}

static int frame_seq(const uint8_t *f, size_t len, uint32_t *seq)
{
	uint32_t v;
	size_t i;

	if (len < 22 || f[12] != ETH_TEST >> 8 || f[13] != (ETH_TEST & 0xff))
		return -1;
	memcpy(&v, f + 14, 4);
	if (ntohl(v) != TEST_MAGIC)
		return -1;
	memcpy(&v, f + 18, 4);
	*seq = ntohl(v);
	for (i = 22; i < len; i++)
		if (f[i] != (uint8_t)(*seq * 7 + i))
			return -1;
	return 0;
}

/* AF_PACKET socket on ifname: proto 0 sends only (through the qdisc, so
 * through clsact), otherwise it receives that protocol with a big queue. */
static int pkt_open(const char *ifname, uint16_t proto)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(proto) };
	int fd, sz = 64 << 20, one = 1;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
	assert_true(fd >= 0);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	assert_true(sll.sll_ifindex > 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	if (proto) {
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)), 0);
		assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)), 0);
	}
	return fd;
}

/* Send frames first..first+count-1; returns how many the stack accepted. */
static uint32_t send_seq(int fd, const struct mac *dst, const struct mac *src, uint32_t first,
			 uint32_t count, size_t size, uint64_t gap_ns)
{
	uint8_t f[1600];
	uint32_t i, ok = 0;

	for (i = 0; i < count; i++) {
		make_frame(f, dst, src, first + i, size);
		if (send(fd, f, size, 0) == (ssize_t)size)
			ok++;
		else
			assert_true(errno == ENOBUFS); /* the device's own queue */
		if (gap_ns)
			nanosleep(&(struct timespec){ .tv_nsec = (long)gap_ns }, NULL);
	}
	return ok;
}

/* One received frame; returns its length, 0 after idle_ms without one. */
static size_t recv_frame(int fd, uint8_t *buf, size_t cap, int idle_ms, int *vlan_tci)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	struct iovec iov = { buf, cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
			      .msg_controllen = sizeof(ctl) };
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;

	*vlan_tci = -1;
	if (poll(&p, 1, idle_ms) <= 0)
		return 0;
	n = recvmsg(fd, &msg, 0);
	assert_true(n > 0);
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		struct tpacket_auxdata aux;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (aux.tp_status & TP_STATUS_VLAN_VALID)
			*vlan_tci = aux.tp_vlan_tci;
	}
	return (size_t)n;
}

/* Receive test frames until idle; checks they carry exactly 0..n-1 in order. */
static uint32_t recv_in_order(int fd, int idle_ms)
{
	uint8_t buf[2048];
	uint32_t next = 0, seq;
	int tci;
	size_t n;

	while ((n = recv_frame(fd, buf, sizeof(buf), idle_ms, &tci)) > 0) {
		if (frame_seq(buf, n, &seq) < 0)
			continue;
		if (seq != next)
			fail_msg("frame %u arrived when %u was expected (lost, duplicated or "
				 "reordered)", seq, next);
		next++;
	}
	return next;
}

static void attach(const char *ifname, uint32_t ring)
{
	struct buffer_opts o = { .ring_bytes = ring };

	assert_int_equal(buffer_attach(ifname, &o, &g_b), 0);
}

static bool has_clsact(const char *ifname)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "tc qdisc show dev %s | grep -q clsact", ifname);
	return system(cmd) == 0;
}

/* ------------------------------------------------------------ kernel */

/* The build this kernel runs, as asked for (NETMOVE_BPF_CAPTURE) or chosen:
 * the one that ring_full_counted and the rest then load. */
static void kernel_capture(void **state)
{
	const char *want = getenv("NETMOVE_BPF_CAPTURE");
	struct buffer_kernel k;

	(void)state;
	NEED_NET();
	assert_int_equal(buffer_kernel(&k), 0);
	print_message("measured: kernel %s, capture %s%s%s\n", k.release,
		      buffer_capture_name(k.capture), k.why[0] ? ": " : "", k.why);
	assert_true(k.capture == BUFFER_CAPTURE_KFUNC || k.capture == BUFFER_CAPTURE_COPY);
	if (want && *want)
		assert_string_equal(buffer_capture_name(k.capture), want);
	if (k.capture == BUFFER_CAPTURE_COPY)
		assert_true(k.why[0] != 0);
}

/* ------------------------------------------------------------- tests */

struct live {
	int fd;			/* sender */
	uint32_t sent;		/* frames accepted */
};

static void *live_main(void *arg)
{
	struct live *l = arg;

	l->sent = send_seq(l->fd, &vm, &peer, HOLD_FRAMES, LIVE_FRAMES, 100, 40 * NSEC_PER_USEC);
	return NULL;
}

/* 10 000 frames held while armed, then handed back in order while live
 * frames keep coming: those must all arrive after the held ones. */
static void hold_then_drain_in_order(void **state)
{
	struct buffer_replay_stats st = { 0 };
	struct buffer_stats bs;
	struct live l;
	pthread_t th;
	int tx, rx;
	uint32_t got;

	(void)state;
	NEED_NET();
	attach("va", 0);
	assert_true(has_clsact("va"));
	assert_int_equal(buffer_pretouch(g_b), 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, HOLD_FRAMES, 100, 0), HOLD_FRAMES);
	assert_int_equal(recv_in_order(rx, 50), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, HOLD_FRAMES);
	assert_int_equal(bs.mode, BUFFER_MODE_BUFFER);
	assert_true(bs.ring_used > HOLD_FRAMES * 100ULL);
	assert_int_equal(bs.next_seq, HOLD_FRAMES);

	l.fd = pkt_open("va", 0);
	assert_int_equal(pthread_create(&th, NULL, live_main, &l), 0);
	nanosleep(&(struct timespec){ .tv_nsec = 5 * NSEC_PER_MSEC }, NULL);
	assert_int_equal(buffer_drain(g_b, &vm, &st), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(l.sent, LIVE_FRAMES);

	got = recv_in_order(rx, 100);
	assert_int_equal(got, HOLD_FRAMES + LIVE_FRAMES);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.mode, BUFFER_MODE_PASS);
	assert_int_equal(bs.ring_used, 0);
	assert_int_equal(bs.c.drained, st.frames);
	assert_int_equal(bs.c.buffered, st.frames);
	assert_int_equal(bs.c.passed + bs.c.buffered, HOLD_FRAMES + LIVE_FRAMES);
	assert_int_equal(st.skipped, 0);
	print_message("measured: drain replayed %llu frames (%llu live ones queued behind) in "
		      "%.1f ms: %.0f frames/s, %llu ENOBUFS retries, hand-back by %s\n",
		      (unsigned long long)st.frames,
		      (unsigned long long)(st.frames - HOLD_FRAMES), st.duration_ns / 1e6,
		      st.frames / (st.duration_ns / 1e9), (unsigned long long)st.retries,
		      st.flipped_by_prog ? "the program" : "userspace");
	close(tx);
	close(rx);
	close(l.fd);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
	assert_false(has_clsact("va"));
}

/* A program loaded ahead buffers as one loaded at attach; a spare for
 * another ring size is refused (and freed: ASan would tell). */
/* FORWARD sends the MAC's frames out of another port, in order and
 * counted; other MACs still pass. */
static void forward_mode(void **state)
{
	struct buffer_stats bs;
	int tx, rx, rx_other;

	(void)state;
	NEED_NET();
	attach("va", 0);
	assert_int_equal(buffer_forward(g_b, &vm, "nosuch0"), -ENODEV);
	assert_int_equal(buffer_forward(g_b, &vm, "va"), -ELOOP);
	assert_int_equal(buffer_forward(g_b, &vm, NULL), -EINVAL);
	assert_int_equal(buffer_forward(g_b, &vm, "vc"), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.mode, BUFFER_MODE_FORWARD);
	assert_string_equal(buffer_mode_name(bs.mode), "forward");
	tx = pkt_open("va", 0);
	rx = pkt_open("vd", ETH_TEST);
	rx_other = pkt_open("vb", ETH_TEST);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 100, 100, 0), 100);
	assert_int_equal(recv_in_order(rx, 50), 100);
	assert_int_equal(recv_in_order(rx_other, 30), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.forwarded, 100);
	assert_int_equal(bs.c.dropped, 0);
	assert_int_equal(bs.c.passed, 0);
	assert_int_equal(send_seq(tx, &other, &peer, 0, 10, 100, 0), 10);
	assert_int_equal(recv_in_order(rx_other, 30), 10);
	close(tx);
	close(rx);
	close(rx_other);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
}

static void spare_loaded_ahead(void **state)
{
	struct buffer_spare *sp = NULL;
	struct buffer_stats bs;
	int tx, rx;

	(void)state;
	NEED_NET();
	assert_int_equal(buffer_spare_load(1000, &sp), -EINVAL);
	assert_null(sp);
	assert_int_equal(buffer_spare_load(0, &sp), 0);
	assert_int_equal(buffer_spare_ring(sp), BUFFER_RING_DEFAULT);
	assert_int_equal(buffer_attach("va", &(struct buffer_opts){ .ring_bytes = 1u << 16,
								  .spare = sp }, &g_b), -EINVAL);
	assert_null(g_b);
	assert_int_equal(buffer_spare_load(0, &sp), 0);
	assert_int_equal(buffer_attach("va", &(struct buffer_opts){ .spare = sp }, &g_b), 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 100, 100, 0), 100);
	assert_int_equal(recv_in_order(rx, 50), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, 100);
	close(tx);
	close(rx);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
}

/* The owner's lease: renewed, the modes hold; past it, frames pass (fail
 * open); 0, no lease.  Lease times are set directly: nothing here waits for a
 * clock. */
static void lease_fails_open(void **state)
{
	struct timespec now;
	struct buffer_stats bs;
	int tx, rx;

	(void)state;
	NEED_NET();
	clock_gettime(CLOCK_MONOTONIC, &now);
	attach("va", 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	assert_int_equal(buffer_lease(g_b, (uint64_t)now.tv_sec * NSEC_PER_SEC + 60 * NSEC_PER_SEC), 0);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 50, 100, 0), 50);
	assert_int_equal(recv_in_order(rx, 30), 0);
	/* Expired: the same armed MAC's frames pass. */
	assert_int_equal(buffer_lease(g_b, 1), 0);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 50, 100, 0), 50);
	assert_int_equal(recv_in_order(rx, 50), 50);
	assert_int_equal(buffer_stats(g_b, NULL, &bs), 0);
	assert_int_equal(bs.lease_passed, 50);
	assert_int_equal(bs.lease_ns, 1);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, 50);
	assert_int_equal(bs.mode, BUFFER_MODE_BUFFER);
	/* No lease: the mode holds again. */
	assert_int_equal(buffer_lease(g_b, 0), 0);
	assert_int_equal(send_seq(tx, &vm, &peer, 50, 10, 100, 0), 10);
	assert_int_equal(recv_in_order(rx, 30), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, 60);
	close(tx);
	close(rx);
}

/* A handle detaches only its own programs: one that replaced them stays. */
static void detach_leaves_a_newer_owner(void **state)
{
	struct buffer *newer = NULL;

	(void)state;
	NEED_NET();
	attach("va", 0);
	assert_int_equal(buffer_attach("va", &(struct buffer_opts){ .replace = true }, &newer), 0);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = newer;
	assert_int_equal(buffer_hooked("va"), 1);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
	assert_int_equal(buffer_hooked("va"), 0);
	/* The qdisc was the first handle's, which left it to the filter that
	 * was still there: nobody removed it. */
	assert_true(has_clsact("va"));
	assert_int_equal(test_sh("tc qdisc del dev va clsact"), 0);
}

/* A handle on programs whose owner is gone (a killed agent left them): its
 * held frames come out in order, and detach removes exactly those
 * programs. */
static void adopt_after_owner_died(void **state)
{
	struct buffer_replay_stats st = { 0 };
	struct buffer_stats bs;
	struct mac macs[4];
	int tx, rx;

	(void)state;
	NEED_NET();
	assert_int_equal(buffer_adopt("va", &g_b), -ENOENT);
	attach("va", 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 40, 100, 0), 40);
	assert_int_equal(recv_in_order(rx, 30), 0);
	buffer_close(g_b);
	g_b = NULL;
	assert_int_equal(buffer_hooked("va"), 1);

	assert_int_equal(buffer_adopt("va", &g_b), 0);
	assert_int_equal(buffer_macs(g_b, macs, 4), 1);
	assert_memory_equal(macs[0].b, vm.b, MAC_LEN);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, 40);
	assert_int_equal(bs.mode, BUFFER_MODE_BUFFER);
	assert_int_equal(buffer_drain(g_b, &vm, &st), 0);
	assert_int_equal(st.frames, 40);
	assert_int_equal(recv_in_order(rx, 50), 40);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
	assert_int_equal(buffer_hooked("va"), 0);
	close(tx);
	close(rx);
}

/* DROP drops and counts; an existing clsact qdisc survives detach. */
static void drop_mode_and_foreign_clsact(void **state)
{
	struct buffer_stats bs;
	int tx, rx;

	(void)state;
	NEED_NET();
	assert_int_equal(test_sh("tc qdisc add dev va clsact"), 0);
	attach("va", 0);
	assert_int_equal(buffer_set_mode(g_b, &vm, BUFFER_MODE_DROP), 0);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	/* Dropped as stolen: the sender's sends succeed (a failed one would
	 * make a batch sender drop the rest of its batch, uncounted), and the
	 * counter says what became of them. */
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 100, 100, 0), 100);
	assert_int_equal(recv_in_order(rx, 30), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.dropped, 100);
	assert_int_equal(bs.c.buffered, 0);
	assert_int_equal(buffer_set_mode(g_b, &vm, BUFFER_MODE_PASS), 0);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 100, 100, 0), 100);
	assert_int_equal(recv_in_order(rx, 30), 100);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.passed, 100);
	/* DRAIN with an empty ring: the next frame flips the MAC to PASS itself. */
	assert_int_equal(buffer_set_mode(g_b, &vm, BUFFER_MODE_DRAIN), 0);
	assert_int_equal(send_seq(tx, &vm, &peer, 100, 1, 100, 0), 1);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.mode, BUFFER_MODE_PASS);
	assert_int_equal(bs.c.flips, 1);
	assert_int_equal(bs.c.passed, 101);
	assert_int_equal(recv_frame(rx, (uint8_t[2048]){ 0 }, 2048, 30, &(int){ 0 }), 100);
	/* Untracked MACs pass and count only in the port totals. */
	assert_int_equal(send_seq(tx, &other, &peer, 0, 10, 100, 0), 10);
	assert_int_equal(recv_in_order(rx, 30), 10);
	assert_int_equal(buffer_stats(g_b, NULL, &bs), 0);
	assert_true(bs.c.passed >= 111);
	assert_int_equal(bs.c.dropped, 100);
	assert_int_equal(buffer_stats(g_b, &other, &bs), -ENOENT);
	assert_int_equal(buffer_set_mode(g_b, &(struct mac){ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } },
					 BUFFER_MODE_BUFFER), -EINVAL);
	close(tx);
	close(rx);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
	assert_true(has_clsact("va"));
	assert_int_equal(test_sh("tc qdisc del dev va clsact"), 0);
}

/* A frame that does not fit is dropped and counted, never silently. */
static void ring_full_counted(void **state)
{
	struct buffer_replay_stats st = { 0 };
	struct buffer_stats bs;
	struct buffer *dup;
	int tx, rx;
	uint32_t ok;

	(void)state;
	NEED_NET();
	assert_int_equal(buffer_attach("va", &(struct buffer_opts){ .ring_bytes = 12288 }, &dup),
			 -EINVAL);
	attach("va", BUFFER_RING_MIN);
	assert_int_equal(buffer_attach("va", NULL, &dup), -EEXIST);
	assert_int_equal(buffer_pretouch(g_b), 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	ok = send_seq(tx, &vm, &peer, 0, 1000, 100, 0);
	/* Every send succeeds (stolen, see drop_mode_and_foreign_clsact): each
	 * frame is buffered or counted. */
	assert_int_equal(ok, 1000);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered + bs.c.ring_full, 1000);
	assert_true(bs.c.ring_full > 0);
	assert_int_equal(buffer_pretouch(g_b), -EBUSY);
	assert_int_equal(recv_in_order(rx, 30), 0);
	assert_int_equal(buffer_drain(g_b, &vm, &st), 0);
	assert_int_equal(recv_in_order(rx, 50), bs.c.buffered);
	print_message("ring of %u bytes: %llu buffered, %llu counted as ring_full\n",
		      BUFFER_RING_MIN, (unsigned long long)bs.c.buffered,
		      (unsigned long long)bs.c.ring_full);
	close(tx);
	close(rx);
}

struct stream {
	uint8_t *buf;		/* encoded records */
	size_t len, cap;	/* used, allocated */
	uint32_t records;	/* count */
	uint32_t partial, gso;	/* metadata seen */
};

static int stream_add(const struct buffer_record *rec, void *arg)
{
	struct stream *s = arg;
	size_t need = buffer_record_wire_len(rec);
	int n;

	if (s->len + need > s->cap) {
		s->cap = (s->len + need) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	n = buffer_record_encode(rec, s->buf + s->len, s->cap - s->len);
	assert_int_equal(n, (int)need);
	s->len += need;
	s->records++;
	s->partial += rec->ip_summed == BUFFER_CSUM_PARTIAL;
	s->gso += rec->gso_size != 0;
	return 0;
}

static int stream_count(const struct buffer_record *rec, void *arg)
{
	(void)rec;
	(void)arg;
	return 0;
}

#define INSN(c, d, s_, o, i) { .code = (c), .dst_reg = (d), .src_reg = (s_), .off = (o), .imm = (i) }

/* No 8021q module here: a tiny program on vx0's egress puts an offloaded
 * VLAN tag on each frame and redirects it to to's egress. */
static void vlan_pusher(const char *to, uint16_t vid)
{
	const struct bpf_insn insns[] = {
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, htons(0x8100)),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, vid),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_skb_vlan_push),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_1, 0, 0, (int)if_nametoindex(to)),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = (int)if_nametoindex("vx0"),
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = 1, .priority = 1);
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "vlan_push", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	assert_true(fd >= 0);
	o.prog_fd = fd;
	assert_int_equal(bpf_tc_hook_create(&h), 0);
	assert_int_equal(bpf_tc_attach(&h, &o), 0);
	close(fd);
}

/* Export -> encode -> decode -> replay on another port: same bytes, same
 * order, the offloaded VLAN tag restored. */
static void export_encode_replay(void **state)
{
	static const size_t sizes[] = { 60, 64, 100, 511, 1000, 1514 };
	struct buffer_replay_stats st = { 0 };
	struct stream s = { 0 };
	struct buffer_record rec;
	struct buffer_stats bs;
	uint8_t buf[2048], want[2048];
	uint32_t seq, i, n = 0;
	int tx, txv, rx, tci, ret;
	size_t off, len, cut;

	(void)state;
	NEED_NET();
	attach("va", 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	tx = pkt_open("va", 0);
	vlan_pusher("va", 100);
	txv = pkt_open("vx0", 0);
	for (i = 0; i < 60; i++)
		assert_int_equal(send_seq(i % 10 == 9 ? txv : tx, &vm, &peer, i, 1,
					  sizes[i % 6], 0), 1);
	s.cap = 1 << 16;
	s.buf = malloc(s.cap);
	assert_non_null(s.buf);
	assert_int_equal(buffer_export(g_b, stream_add, &s), 60);
	assert_int_equal(s.records, 60);
	assert_int_equal(buffer_export(g_b, stream_add, &s), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.exported, 60);
	assert_int_equal(bs.ring_used, 0);

	/* Every truncation of the first record is refused. */
	ret = buffer_record_decode(s.buf, s.len, &rec);
	assert_true(ret > 0);
	for (cut = 0; cut < (size_t)ret; cut++)
		assert_int_equal(buffer_record_decode(s.buf, cut, &rec), -EINVAL);

	assert_int_equal(replay_open("vc", &g_r), 0);
	rx = pkt_open("vd", ETH_P_ALL);
	for (off = 0; off < s.len; off += (size_t)ret) {
		ret = buffer_record_decode(s.buf + off, s.len - off, &rec);
		assert_true(ret > 0);
		assert_int_equal(rec.vlan, n % 10 == 9);
		assert_int_equal(rec.seq, n);
		assert_int_equal(replay_send(g_r, &rec, &st), 0);
		n++;
	}
	assert_int_equal(n, 60);
	for (i = 0; i < 60; i++) {
		do {
			len = recv_frame(rx, buf, sizeof(buf), 100, &tci);
			assert_true(len > 0);
		} while (frame_seq(buf, len, &seq) < 0);
		assert_int_equal(seq, i);
		make_frame(want, &vm, &peer, i, sizes[i % 6]);
		assert_int_equal(len, sizes[i % 6]);
		assert_memory_equal(buf, want, len);
		assert_int_equal(tci, i % 10 == 9 ? 100 : -1);
	}
	assert_int_equal(st.frames, 60);
	assert_int_equal(st.skipped, 0);
	free(s.buf);
	close(tx);
	close(txv);
	close(rx);
	assert_int_equal(test_sh("tc qdisc del dev vx0 clsact"), 0);
}

/* --------------------------------------------------- checksum offload */

static int64_t snmp_get(const char *proto, const char *field)
{
	char head[1024], vals[1024], *hs, *vs, *h, *v;
	size_t pl = strlen(proto);
	int64_t ret = -1;
	FILE *f = fopen("/proc/self/net/snmp", "r");

	if (!f)
		return -1;
	while (fgets(head, sizeof(head), f) && fgets(vals, sizeof(vals), f)) {
		if (strncmp(head, proto, pl) || head[pl] != ':')
			continue;
		h = strtok_r(head + pl + 1, " \n", &hs);
		v = strtok_r(vals + pl + 1, " \n", &vs);
		for (; h && v; h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(h, field))
				ret = strtoll(v, NULL, 10);
	}
	fclose(f);
	return ret;
}

/* Turn vt0's transmit checksum offload (and with it TSO) on or off. */
static int tx_csum_set(bool on)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = on };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vt0");
	ifr.ifr_data = (void *)&ev;
	ret = ioctl(fd, SIOCETHTOOL, &ifr);
	close(fd);
	return ret;
}

static void tx_csum(bool on)
{
	assert_int_equal(tx_csum_set(on), 0);
}

static int inet_sock(int type, bool in_b, uint16_t port, bool listen_it)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd, one = 1, sz = 8 << 20;

	if (in_b)
		in_ns(ns_b);
	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (in_b)
		in_ns(ns_a);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)), 0);
	inet_pton(AF_INET, in_b ? "10.77.0.2" : "10.77.0.1", &a.sin_addr);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listen_it)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static void peer_connect(int fd, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	inet_pton(AF_INET, "10.77.0.2", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
}

/* Move n bytes of pattern from c to s (both blocking, s with a timeout). */
static void tcp_pump(int c, int s, size_t n, size_t *sent, size_t *got, bool send_it)
{
	uint8_t buf[65536];
	size_t i;

	while (*got < n) {
		struct pollfd p[2] = { { .fd = s, .events = POLLIN },
				       { .fd = c, .events = POLLOUT } };
		ssize_t r;

		assert_true(poll(p, send_it && *sent < n ? 2 : 1, 2000) > 0);
		if (send_it && *sent < n && (p[1].revents & POLLOUT)) {
			size_t k = n - *sent < sizeof(buf) ? n - *sent : sizeof(buf);

			for (i = 0; i < k; i++)
				buf[i] = (uint8_t)((*sent + i) * 13);
			r = send(c, buf, k, MSG_DONTWAIT);
			assert_true(r > 0 || errno == EAGAIN);
			if (r > 0)
				*sent += (size_t)r;
		}
		if (p[0].revents & POLLIN) {
			r = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
			assert_true(r > 0);
			for (i = 0; i < (size_t)r; i++)
				if (buf[i] != (uint8_t)((*got + i) * 13))
					fail_msg("TCP byte %zu corrupted", *got + i);
			*got += (size_t)r;
		}
	}
}

/* One round: hold TCP_HELD bytes, export them, replay them with the MAC in
 * DROP (so the sender's retransmissions cannot stand in for bad replays) and
 * read them at the receiving socket. */
static void tcp_round(int c, int a, bool port_offload)
{
	struct buffer_replay_stats st = { 0 };
	struct stream s = { 0 };
	struct buffer_record rec;
	size_t sent = 0, got = 0, off;
	int64_t err0;
	int ret, unsent;

	assert_int_equal(buffer_arm(g_b, &vt1_mac), 0);
	while (sent < TCP_HELD) {
		uint8_t buf[4096];
		size_t i, k = TCP_HELD - sent < sizeof(buf) ? TCP_HELD - sent : sizeof(buf);
		ssize_t r;

		for (i = 0; i < k; i++)
			buf[i] = (uint8_t)((sent + i) * 13);
		r = send(c, buf, k, 0);
		assert_true(r > 0);
		sent += (size_t)r;
	}
	nanosleep(&(struct timespec){ .tv_nsec = 20 * NSEC_PER_MSEC }, NULL);
	assert_int_equal(ioctl(c, SIOCOUTQNSD, &unsent), 0);
	if (unsent)
		fail_msg("the window did not let all %u bytes out (%d unsent)", TCP_HELD, unsent);
	assert_int_equal(buffer_set_mode(g_b, &vt1_mac, BUFFER_MODE_DROP), 0);
	assert_true(buffer_export(g_b, stream_add, &s) > 0);
	assert_true(s.partial > 0);
	assert_true(s.gso > 0);

	in_ns(ns_b);
	err0 = snmp_get("Tcp", "InCsumErrors");
	in_ns(ns_a);
	if (!port_offload)
		tx_csum(false);
	for (off = 0; off < s.len; off += (size_t)ret) {
		ret = buffer_record_decode(s.buf + off, s.len - off, &rec);
		assert_true(ret > 0);
		assert_int_equal(replay_send(g_r, &rec, &st), 0);
	}
	tcp_pump(c, a, TCP_HELD, &sent, &got, false);
	tx_csum(true);
	in_ns(ns_b);
	assert_int_equal(snmp_get("Tcp", "InCsumErrors"), err0);
	in_ns(ns_a);
	assert_int_equal(buffer_set_mode(g_b, &vt1_mac, BUFFER_MODE_PASS), 0);
	assert_int_equal(st.frames, s.records);
	print_message("TCP, %s segmentation: %u records held (%u CHECKSUM_PARTIAL, %u GSO), "
		      "%llu bytes replayed and read by the receiver\n",
		      port_offload ? "port" : "software", s.records, s.partial, s.gso,
		      (unsigned long long)st.bytes);
	free(s.buf);
}

/* Real TCP with checksum and segmentation offload: the held segments are
 * CHECKSUM_PARTIAL GSO frames.  Replayed once into a port that segments and
 * checksums them, once with offload off on the port: then the kernel
 * computes every checksum (netmove segments the GSO frames itself) and the
 * receiving socket verifies them. */
static void tcp_offload_replay(void **state)
{
	size_t sent = 0, got = 0;
	int l, c, a;

	(void)state;
	NEED_NET();
	attach("vt0", 0);
	assert_int_equal(replay_open("vt0", &g_r), 0);
	l = inet_sock(SOCK_STREAM, true, 5001, true);
	c = inet_sock(SOCK_STREAM, false, 0, false);
	peer_connect(c, 5001);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	tcp_pump(c, a, TCP_WARMUP, &sent, &got, true);	/* grow the window */
	tcp_round(c, a, true);
	sent = got = 0;
	tcp_pump(c, a, TCP_WARMUP, &sent, &got, true);	/* regrow it after the hold */
	tcp_round(c, a, false);
	close(a);
	close(c);
	close(l);
}

/* UDP with checksum offload through buffer_drain (the local hand-back). */
static void udp_offload_drain(void **state)
{
	struct buffer_replay_stats st = { 0 };
	uint8_t buf[2048];
	int64_t err0, in0;
	uint32_t i, j;
	int srv, c;

	(void)state;
	NEED_NET();
	attach("vt0", 0);
	srv = inet_sock(SOCK_DGRAM, true, 5002, false);
	c = inet_sock(SOCK_DGRAM, false, 0, false);
	peer_connect(c, 5002);
	assert_int_equal(buffer_arm(g_b, &vt1_mac), 0);
	for (i = 0; i < UDP_HELD; i++) {
		for (j = 0; j < 1200; j++)
			buf[j] = (uint8_t)(i + j);
		assert_int_equal(send(c, buf, 1200, 0), 1200);
	}
	assert_int_equal(recv(srv, buf, sizeof(buf), MSG_DONTWAIT), -1);
	in_ns(ns_b);
	err0 = snmp_get("Udp", "InCsumErrors");
	in0 = snmp_get("Udp", "InDatagrams");
	in_ns(ns_a);
	tx_csum(false);
	assert_int_equal(buffer_drain(g_b, &vt1_mac, &st), 0);
	tx_csum(true);
	assert_int_equal(st.frames, UDP_HELD);
	assert_int_equal(st.partial, UDP_HELD);
	for (i = 0; i < UDP_HELD; i++) {
		struct pollfd p = { .fd = srv, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 1000), 1);
		assert_int_equal(recv(srv, buf, sizeof(buf), 0), 1200);
		for (j = 0; j < 1200; j++)
			if (buf[j] != (uint8_t)(i + j))
				fail_msg("datagram %u byte %u differs", i, j);
	}
	in_ns(ns_b);
	assert_int_equal(snmp_get("Udp", "InCsumErrors"), err0);
	assert_int_equal(snmp_get("Udp", "InDatagrams"), in0 + UDP_HELD);
	in_ns(ns_a);
	close(srv);
	close(c);
}

/* ------------------------------------------------------- backpressure */

/* A tap named name, up with the ip-link settings extra: its fd (the test
 * is skipped, saying why, without /dev/net/tun). */
static int tap_make(const char *name, const char *extra)
{
	struct ifreq ifr = { 0 };
	char cmd[128];
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		print_message("skip: no /dev/net/tun: %s\n", strerror(errno));
		skip();
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	snprintf(cmd, sizeof(cmd), "ip link set %s %s up", name, extra);
	assert_int_equal(test_sh(cmd), 0);
	return fd;
}

struct tap_reader {
	int fd;			/* tap */
	uint32_t want;		/* test frames to read */
	uint32_t got;		/* read in order */
	bool bad;		/* one was lost, duplicated or out of order */
	bool fast;		/* read as fast as frames come */
};

/* Read slowly (100 frames, then 2 ms) so the tap's queue fills up, or as
 * fast as frames come. */
static void *tap_main(void *arg)
{
	struct tap_reader *t = arg;
	uint64_t deadline = timeutil_mono_ns() + 10 * NSEC_PER_SEC;
	uint8_t buf[2048];
	uint32_t seq, n = 0;
	ssize_t len;

	while (t->got < t->want && timeutil_mono_ns() < deadline) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		len = read(t->fd, buf, sizeof(buf));
		if (len <= 0 || frame_seq(buf, (size_t)len, &seq) < 0)
			continue;
		if (seq != t->got)
			t->bad = true;
		t->got++;
		if (++n % 100 == 0 && !t->fast)
			nanosleep(&(struct timespec){ .tv_nsec = 2 * NSEC_PER_MSEC }, NULL);
	}
	return NULL;
}

/* Replay into a tap whose reader is slower than the replay: the full queue
 * is waited for (ENOBUFS retried), nothing is lost or reordered. */
static void replay_backpressure_tap(void **state)
{
	struct buffer_replay_stats st = { 0 };
	struct tap_reader t = { .want = 5000 };
	struct buffer_record rec = { .len = 100 };
	uint8_t f[100];
	pthread_t th;
	uint32_t i;

	(void)state;
	NEED_NET();
	t.fd = tap_make("nmtap0", "txqueuelen 100");
	assert_int_equal(replay_open("nmtap0", &g_r), 0);
	assert_int_equal(pthread_create(&th, NULL, tap_main, &t), 0);
	rec.frame = f;
	for (i = 0; i < t.want; i++) {
		make_frame(f, &vm, &peer, i, sizeof(f));
		rec.seq = i;
		assert_int_equal(replay_send(g_r, &rec, &st), 0);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_false(t.bad);
	assert_int_equal(t.got, t.want);
	assert_true(st.retries > 0);
	print_message("tap with a slow reader: %u frames in order, %llu ENOBUFS retries\n",
		      t.got, (unsigned long long)st.retries);
	close(t.fd);
}

/* ------------------------------------------------------------ resume */

/* Frames ifname received, from this namespace's /proc/net/dev. */
static uint64_t rx_packets(const char *ifname)
{
	char line[512], name[IF_NAMESIZE + 2];
	unsigned long long bytes, pkts;
	uint64_t v = 0;
	FILE *f = fopen("/proc/net/dev", "r");

	assert_non_null(f);
	snprintf(name, sizeof(name), "%s:", ifname);
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " ");

		if (!strncmp(p, name, strlen(name)) &&
		    sscanf(p + strlen(name), "%llu %llu", &bytes, &pkts) == 2)
			v = pkts;
	}
	fclose(f);
	return v;
}

/* Hold N 64-byte frames for vm on the attached port, each its own number. */
static void hold_small(uint32_t n)
{
	struct buffer_stats bs;
	uint8_t f[64];
	uint64_t ns;
	uint32_t i;

	assert_int_equal(buffer_arm(g_b, &vm), 0);
	for (i = 0; i < n; i++) {
		make_frame(f, &vm, &peer, i, sizeof(f));
		assert_int_equal(buffer_bench_egress(g_b, f, sizeof(f), 1, &ns), 0);
	}
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, n);
}

/* The floor the replay is held against: N 64-byte frames into ifname by a
 * bare loop of sendmmsg on a socket set up as the replay's is (qdisc
 * bypass, virtio-net header), no netmove code in the way.  Frames/s. */
static double bare_sendmmsg_rate(const char *ifname, int n)
{
	enum { B = REPLAY_BATCH };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_ifindex = (int)if_nametoindex(ifname) };
	struct virtio_net_hdr vh = { 0 };
	struct mmsghdr m[B];
	struct iovec iov[B][2];
	uint8_t f[B][64];
	int fd, one = 1, sz = 4 << 20, sent = 0, k, i, batch;
	uint64_t t0;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)), 0);
	assert_int_equal(setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	t0 = timeutil_mono_ns();
	while (sent < n) {
		batch = n - sent < B ? n - sent : B;
		for (i = 0; i < batch; i++) {
			make_frame(f[i], &vm, &peer, (uint32_t)(sent + i), sizeof(f[i]));
			iov[i][0] = (struct iovec){ &vh, sizeof(vh) };
			iov[i][1] = (struct iovec){ f[i], sizeof(f[i]) };
			memset(&m[i], 0, sizeof(m[i]));
			m[i].msg_hdr.msg_iov = iov[i];
			m[i].msg_hdr.msg_iovlen = 2;
		}
		for (i = 0; i < batch; i += k) {
			k = sendmmsg(fd, m + i, (unsigned)(batch - i), 0);
			if (k < 0) {
				assert_true(errno == ENOBUFS || errno == EAGAIN || errno == EINTR);
				k = 0;
				usleep(50);
			}
		}
		sent += batch;
	}
	t0 = timeutil_mono_ns() - t0;
	close(fd);
	return (double)n * 1e9 / (double)t0;
}

/* The drain's rate for 64-byte frames into a veth and into a tap whose
 * reader takes them as they come: every frame there, in order. */
static void replay_rate_small(void **state)
{
	enum { N = 20000 };
	struct buffer_replay_stats st = { 0 };
	struct tap_reader t = { .want = N, .fast = true };
	double rate, bare;
	pthread_t th;
	uint64_t rx0;
	int i;

	(void)state;
	NEED_NET();
	attach("va", 0);
	hold_small(N);
	rx0 = rx_packets("vb");
	assert_int_equal(buffer_drain(g_b, &vm, &st), 0);
	assert_int_equal(st.frames, N);
	for (i = 0; i < 100 && rx_packets("vb") - rx0 < N; i++)
		usleep(10000);
	assert_int_equal(rx_packets("vb") - rx0, N);
	rate = (double)N * 1e9 / (double)st.duration_ns;
	print_message("measured: replay of 64 B frames into a veth: %d in %.1f ms: %.0f frames/s, "
		      "all received\n", N, (double)st.duration_ns / 1e6, rate);
	rx0 = rx_packets("vb");
	bare = bare_sendmmsg_rate("va", N);
	for (i = 0; i < 100 && rx_packets("vb") - rx0 < N; i++)
		usleep(10000);
	assert_int_equal(rx_packets("vb") - rx0, N);
	print_message("measured: the same into the veth by a bare sendmmsg loop (no netmove code: "
		      "this kernel's floor): %.0f frames/s; the replay runs at %.0f%% of it\n",
		      bare, rate * 100 / bare);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;

	t.fd = tap_make("nmtap1", "");
	attach("nmtap1", 0);
	hold_small(N);
	memset(&st, 0, sizeof(st));
	assert_int_equal(pthread_create(&th, NULL, tap_main, &t), 0);
	assert_int_equal(buffer_drain(g_b, &vm, &st), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_false(t.bad);
	assert_int_equal(t.got, N);
	print_message("measured: replay of 64 B frames into a tap: %d in %.1f ms: %.0f frames/s, "
		      "all read in order, %llu ENOBUFS retries\n", N, (double)st.duration_ns / 1e6,
		      (double)N * 1e9 / (double)st.duration_ns, (unsigned long long)st.retries);
	close(t.fd);
}

static void resume_detector(void **state)
{
	struct buffer_resume_event ev;
	struct buffer_stats bs;
	uint64_t before;
	uint8_t f[60];
	int tx;

	(void)state;
	NEED_NET();
	attach("va", 0);
	tx = pkt_open("vb", 0);
	make_frame(f, &(struct mac){ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } }, &vm, 1, sizeof(f));
	/* Not armed: nothing. */
	assert_int_equal(send(tx, f, sizeof(f), 0), (ssize_t)sizeof(f));
	assert_int_equal(buffer_poll_resume(g_b, 30, &ev), -ETIMEDOUT);
	assert_int_equal(buffer_watch_resume(g_b, &vm), 0);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_true(bs.watching);
	/* Another MAC: nothing. */
	make_frame(f, &(struct mac){ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } }, &other, 2, sizeof(f));
	assert_int_equal(send(tx, f, sizeof(f), 0), (ssize_t)sizeof(f));
	assert_int_equal(buffer_poll_resume(g_b, 30, &ev), -ETIMEDOUT);
	/* The VM's MAC: exactly one event, however many frames. */
	before = timeutil_real_ns();
	make_frame(f, &(struct mac){ { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } }, &vm, 3, sizeof(f));
	f[12] = 0x80;
	f[13] = 0x35;
	assert_int_equal(send(tx, f, sizeof(f), 0), (ssize_t)sizeof(f));
	assert_int_equal(send(tx, f, sizeof(f), 0), (ssize_t)sizeof(f));
	assert_int_equal(buffer_poll_resume(g_b, 1000, &ev), 0);
	assert_memory_equal(ev.mac.b, vm.b, MAC_LEN);
	assert_int_equal(ev.ethertype, 0x8035);
	assert_int_equal(ev.len, sizeof(f));
	assert_true(ev.real_ns + NSEC_PER_MSEC >= before);
	assert_true(ev.real_ns <= ev.read_real_ns + NSEC_PER_MSEC);
	assert_true(ev.read_real_ns >= before);
	assert_int_equal(buffer_poll_resume(g_b, 30, &ev), -ETIMEDOUT);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_false(bs.watching);
	assert_int_equal(bs.resumes, 1);
	/* Re-armed: one more. */
	assert_int_equal(buffer_watch_resume(g_b, &vm), 0);
	assert_int_equal(send(tx, f, sizeof(f), 0), (ssize_t)sizeof(f));
	assert_int_equal(buffer_poll_resume(g_b, 1000, &ev), 0);
	assert_int_equal(buffer_poll_resume(g_b, 0, &ev), -ETIMEDOUT);
	print_message("resume event %.3f ms before it was read\n",
		      (double)(ev.read_real_ns - ev.real_ns) / 1e6);
	close(tx);
}

/* ------------------------------------------------------------- pins */

/* Attach with pins, reopen from them as a later CLI invocation would,
 * detach.  Runs in a private mount namespace with its own bpffs. */
static void pinned_reopen(void **state)
{
	struct buffer_opts o = { .pin = true };
	struct buffer_replay_stats st = { 0 };
	struct buffer_stats bs;
	struct buffer *b2;
	struct mac macs[4];
	bool mounted;
	int tx, rx;

	(void)state;
	NEED_NET();
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/sys/fs/bpf", "tmpfs", 0, "size=64k") < 0) {
		print_message("skip: no private mount namespace: %s\n", strerror(errno));
		skip();
	}
	assert_int_equal(buffer_open_pinned("va", &b2), -ENOENT);
	assert_int_equal(buffer_bpffs_mount(&mounted), 0);
	assert_true(mounted);
	assert_int_equal(buffer_bpffs_mount(&mounted), 0);
	assert_false(mounted);
	assert_int_equal(buffer_attach("va", &o, &g_b), 0);
	assert_int_equal(buffer_attach("va", &o, &b2), -EEXIST);
	buffer_close(g_b);
	g_b = NULL;
	assert_int_equal(access(BUFFER_PIN_ROOT "/va/ring", F_OK), 0);

	assert_int_equal(buffer_open_pinned("va", &g_b), 0);
	assert_int_equal(buffer_arm(g_b, &vm), 0);
	buffer_close(g_b);
	tx = pkt_open("va", 0);
	rx = pkt_open("vb", ETH_TEST);
	assert_int_equal(send_seq(tx, &vm, &peer, 0, 100, 100, 0), 100);
	assert_int_equal(recv_in_order(rx, 30), 0);
	assert_int_equal(buffer_open_pinned("va", &g_b), 0);
	assert_int_equal(buffer_macs(g_b, macs, 4), 1);
	assert_memory_equal(macs[0].b, vm.b, MAC_LEN);
	assert_int_equal(buffer_stats(g_b, &vm, &bs), 0);
	assert_int_equal(bs.c.buffered, 100);
	assert_int_equal(buffer_drain(g_b, &vm, &st), 0);
	assert_int_equal(recv_in_order(rx, 50), 100);
	assert_int_equal(buffer_detach(g_b), 0);
	g_b = NULL;
	assert_int_equal(access(BUFFER_PIN_ROOT "/va", F_OK), -1);
	assert_int_equal(buffer_open_pinned("va", &g_b), -ENOENT);
	assert_false(has_clsact("va"));

	/* A filter left behind by a process that died without detaching. */
	assert_int_equal(buffer_attach("va", NULL, &b2), 0);
	buffer_close(b2);
	assert_true(has_clsact("va"));
	assert_int_equal(buffer_attach("va", NULL, &g_b), -EEXIST);
	assert_int_equal(buffer_hooked("va"), 1);
	assert_int_equal(buffer_attach("va", &(struct buffer_opts){ .replace = true }, &g_b), 0);
	buffer_close(g_b);
	g_b = NULL;
	assert_int_equal(buffer_unhook("va"), 0);
	assert_int_equal(buffer_hooked("va"), 0);
	assert_int_equal(buffer_unhook("va"), -ENOENT);
	assert_int_equal(buffer_unpin("va"), -ENOENT);
	assert_int_equal(test_sh("tc qdisc del dev va clsact"), 0);
	close(tx);
	close(rx);
	(void)umount2("/sys/fs/bpf", MNT_DETACH);
}

/* ---------------------------------------------------------- figures */

static void overhead_figures(void **state)
{
	static const size_t sizes[] = { 64, 1514 };
	static const uint32_t reps[] = { 50000, 8000 };
	uint8_t f[1514];
	uint64_t pass_ns, buf_ns;
	size_t i;

	(void)state;
	NEED_NET();
	attach("va", 0);
	for (i = 0; i < 2; i++) {
		make_frame(f, &vm, &peer, 0, sizes[i]);
		assert_int_equal(buffer_set_mode(g_b, &vm, BUFFER_MODE_PASS), 0);
		assert_int_equal(buffer_bench_egress(g_b, f, sizes[i], reps[i], &pass_ns), 0);
		assert_int_equal(buffer_pretouch(g_b), 0);
		assert_int_equal(buffer_arm(g_b, &vm), 0);
		assert_int_equal(buffer_bench_egress(g_b, f, sizes[i], reps[i], &buf_ns), 0);
		assert_int_equal(buffer_set_mode(g_b, &vm, BUFFER_MODE_DROP), 0);
		assert_int_equal(buffer_forget(g_b, &vm), 0);
		assert_true(buffer_export(g_b, stream_count, NULL) > 0);
		print_message("measured: %zu B frame: PASS %llu ns, BUFFER %llu ns per frame "
			      "(overhead %lld ns)\n", sizes[i], (unsigned long long)pass_ns,
			      (unsigned long long)buf_ns, (long long)buf_ns - (long long)pass_ns);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kernel_capture),
		cmocka_unit_test_teardown(hold_then_drain_in_order, teardown),
		cmocka_unit_test_teardown(drop_mode_and_foreign_clsact, teardown),
		cmocka_unit_test_teardown(forward_mode, teardown),
		cmocka_unit_test_teardown(spare_loaded_ahead, teardown),
		cmocka_unit_test_teardown(detach_leaves_a_newer_owner, teardown),
		cmocka_unit_test_teardown(lease_fails_open, teardown),
		cmocka_unit_test_teardown(adopt_after_owner_died, teardown),
		cmocka_unit_test_teardown(ring_full_counted, teardown),
		cmocka_unit_test_teardown(export_encode_replay, teardown),
		cmocka_unit_test_teardown(tcp_offload_replay, teardown),
		cmocka_unit_test_teardown(udp_offload_drain, teardown),
		cmocka_unit_test_teardown(replay_backpressure_tap, teardown),
		cmocka_unit_test_teardown(replay_rate_small, teardown),
		cmocka_unit_test_teardown(resume_detector, teardown),
		cmocka_unit_test_teardown(overhead_figures, teardown),
		cmocka_unit_test_teardown(pinned_reopen, teardown),
	};

	return cmocka_run_group_tests_name("buffer", tests, group_setup, NULL);
}
