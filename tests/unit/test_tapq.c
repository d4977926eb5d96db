/* tapq: reading out what a stopped reader left in its tap, in a private
 * network namespace.  A child process plays the stopped hypervisor: it holds
 * the tap and never reads it. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <cmocka.h>

#include "netmove/buffer.h"
#include "netmove/tapq.h"
#include "netns_helper.h"

static const char *net_skip = "not set up";
static const struct mac vm = { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x42 } };
static const struct mac other = { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x43 } };
static const struct mac bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

struct holder {
	pid_t pid;
	int done;	/* write end: closing it lets the child go */
};

/* Fork a child that creates tap name (with a virtio header and checksum
 * offload, as QEMU does), in a namespace of its own if own_ns, and holds it
 * unread until h->done is closed. */
static int hold_tap(const char *name, bool own_ns, struct holder *h)
{
	int ready[2], done[2];
	char c = 0;

	if (pipe(ready) < 0 || pipe(done) < 0)
		return -1;
	h->pid = fork();
	if (h->pid < 0)
		return -1;
	if (h->pid == 0) {
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
		int fd, hl = 12;

		close(ready[0]);
		close(done[1]);
		if (own_ns && unshare(CLONE_NEWNET) < 0)
			_exit(1);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
		fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hl) < 0 ||
		    ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) < 0)
			_exit(2);
		if (write(ready[1], &c, 1) != 1)
			_exit(3);
		while (read(done[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	h->done = done[1];
	if (read(ready[0], &c, 1) != 1) {
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	return 0;
}

static void release(struct holder *h)
{
	int st;

	close(h->done);
	waitpid(h->pid, &st, 0);
}

/* An IPv4/UDP frame to dst carrying seq; 100 bytes. */
static void make_frame(uint8_t *f, const struct mac *dst, uint32_t seq)
{
	memset(f, 0, 100);
	memcpy(f, dst->b, 6);
	memcpy(f + 6, other.b, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[16] = 0;
	f[17] = 86;
	f[22] = 64;
	f[23] = 17;
	f[38] = 0;
	f[39] = 66;
	memcpy(f + 42, &seq, sizeof(seq));
}

struct got {
	uint32_t n;
	uint32_t next;		/* expected seq of the next frame */
	bool bad;
	bool partial_seen;
};

static int collect(const struct buffer_record *rec, void *arg)
{
	struct got *g = arg;
	uint32_t seq;

	memcpy(&seq, rec->frame + 42, sizeof(seq));
	if (rec->len != 100 || memcmp(rec->frame, vm.b, 6) || seq != g->next || rec->seq != g->n)
		g->bad = true;
	if (rec->ip_summed == BUFFER_CSUM_PARTIAL) {
		g->partial_seen = true;
		if (rec->csum_start != 34 || rec->csum_offset != 6)
			g->bad = true;
	}
	g->next++;
	g->n++;
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (test_private_netns() < 0) {
		net_skip = "needs root and unshare(CLONE_NEWNET)";
		return 0;
	}
	if (access("/dev/net/tun", R_OK | W_OK) < 0) {
		net_skip = "no /dev/net/tun";
		return 0;
	}
	net_skip = NULL;
	return 0;
}

static void refusals(void **state)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	struct tapq *q = (struct tapq *)1;
	int fd;

	(void)state;
	NEED_NET();
	assert_int_equal(tapq_open("nmtq-none", &q), -ENODEV);
	assert_null(q);
	assert_int_equal(tapq_open("lo", &q), -ENOTTY);
	assert_int_equal(tapq_open("", &q), -EINVAL);
	assert_int_equal(tapq_open("a-name-far-too-long", &q), -EINVAL);
	/* A tap only this process holds has no other reader to take from. */
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "nmtq-self");
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(tapq_open("nmtq-self", &q), -ENOENT);
	close(fd);
	assert_int_equal(tapq_drain(NULL, &vm, collect, NULL, NULL), -EINVAL);
	tapq_close(NULL);
}

/* Frames queued to a tap its reader no longer reads come out whole, in
 * order, with their checksum state; group and foreign frames are counted and
 * left; a second read-out finds nothing. */
static void recovers_in_order(void **state)
{
	struct buffer_replay_stats rs = { 0 };
	struct buffer_record rec = { .len = 100 };
	struct tapq_stats st;
	struct got g = { 0 };
	struct holder h;
	struct replay *r;
	struct tapq *q;
	uint8_t f[100];
	uint32_t i, seq = 0;

	(void)state;
	NEED_NET();
	assert_int_equal(hold_tap("nmtq0", false, &h), 0);
	/* No IPv6 on it: the kernel's own MLD and RS frames would count. */
	assert_int_equal(test_sh("sysctl -qw net.ipv6.conf.nmtq0.disable_ipv6=1 && "
				 "ip link set nmtq0 txqueuelen 1000 up"), 0);
	assert_int_equal(replay_open("nmtq0", &r), 0);
	rec.frame = f;
	for (i = 0; i < 300; i++) {
		const struct mac *dst = i % 10 == 3 ? &bcast : i % 10 == 7 ? &other : &vm;

		make_frame(f, dst, dst == &vm ? seq++ : 0);
		rec.ip_summed = i == 5 ? BUFFER_CSUM_PARTIAL : BUFFER_CSUM_NONE;
		rec.csum_start = i == 5 ? 34 : 0;
		rec.csum_offset = i == 5 ? 6 : 0;
		assert_int_equal(replay_send(r, &rec, &rs), 0);
	}
	replay_close(r);
	assert_int_equal(tapq_open("nmtq0", &q), 0);
	assert_int_equal(tapq_queues(q), 1);
	assert_int_equal(tapq_holder(q), h.pid);
	assert_int_equal(tapq_drain(q, &vm, collect, &g, &st), 240);
	assert_false(g.bad);
	assert_true(g.partial_seen);
	assert_int_equal(g.n, 240);
	assert_int_equal(st.frames, 240);
	assert_int_equal(st.bytes, 240 * 100);
	assert_int_equal(st.other, 60);
	assert_int_equal(st.bad, 0);
	assert_int_equal(tapq_drain(q, &vm, collect, &g, &st), 0);
	assert_int_equal(st.frames + st.other, 0);
	/* The duplicates keep the queue readable after its reader is gone. */
	release(&h);
	assert_int_equal(tapq_drain(q, &vm, collect, &g, &st), 0);
	tapq_close(q);
	print_message("240 frames for the VM read out of a held tap in order, 60 others left\n");
}

/* A tap of the same name in another namespace is not ours, even when its
 * holder comes first in /proc. */
static void other_namespace_ignored(void **state)
{
	struct holder foreign, local;
	struct tapq *q;

	(void)state;
	NEED_NET();
	assert_int_equal(hold_tap("nmtq1", true, &foreign), 0);
	assert_int_equal(tapq_open("nmtq1", &q), -ENODEV);
	assert_int_equal(hold_tap("nmtq1", false, &local), 0);
	assert_int_equal(tapq_open("nmtq1", &q), 0);
	assert_int_equal(tapq_holder(q), local.pid);
	tapq_close(q);
	release(&local);
	release(&foreign);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refusals),
		cmocka_unit_test(recovers_in_order),
		cmocka_unit_test(other_namespace_ignored),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
