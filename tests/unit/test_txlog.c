/* txlog: copies of what is sent into a port, in order, the newest kept; in
 * a private network namespace, on a tap that nobody reads. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <cmocka.h>

#include "netmove/frame.h"
#include "netmove/txlog.h"
#include "netns_helper.h"

#define SENT 3000	/* more than TXLOG_KEEP */

static const char *net_skip = "not set up";
static int tap_fd = -1;

/* A 64-byte frame carrying seq (an experimental EtherType: no stack cares). */
static void make_frame(uint8_t *f, uint32_t seq)
{
	static const uint8_t dst[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x42 };

	memset(f, 0, 64);
	memcpy(f, dst, 6);
	f[6] = 0x02;
	f[12] = 0x88;
	f[13] = 0xb5;
	memcpy(f + 14, &seq, sizeof(seq));
}

static void logs_in_order(void **state)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	struct buffer_record rec;
	struct txlog *l;
	uint8_t f[64];
	uint32_t i, seq, h;
	int s;

	(void)state;
	NEED_NET();
	assert_int_equal(txlog_start("nmtx-none", &l), -ENODEV);
	assert_int_equal(txlog_start("nmtx0", &l), 0);
	to.sll_ifindex = (int)if_nametoindex("nmtx0");
	s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	assert_true(s >= 0);
	for (i = 0; i < SENT; i++) {
		make_frame(f, i);
		assert_int_equal(sendto(s, f, sizeof(f), 0, (struct sockaddr *)&to, sizeof(to)),
				 sizeof(f));
	}
	close(s);
	assert_int_equal(txlog_stop(l), SENT);
	/* The oldest are gone, the newest TXLOG_KEEP are there, in order. */
	assert_int_equal(txlog_get(l, SENT - TXLOG_KEEP - 1, &rec, &h), -ENOENT);
	assert_int_equal(txlog_get(l, SENT, &rec, &h), -ENOENT);
	for (i = SENT - TXLOG_KEEP; i < SENT; i++) {
		assert_int_equal(txlog_get(l, i, &rec, &h), 0);
		assert_int_equal(rec.len, 64);
		memcpy(&seq, rec.frame + 14, sizeof(seq));
		assert_int_equal(seq, i);
		assert_int_equal(rec.seq, i);
		assert_int_equal(h, frame_hash(rec.frame, rec.len));
	}
	txlog_free(l);
	txlog_free(NULL);
	print_message("%d frames sent into a tap, the newest %d kept in order\n", SENT, TXLOG_KEEP);
}

static int setup(void **state)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

	(void)state;
	if (test_private_netns() < 0) {
		net_skip = "needs root and unshare(CLONE_NEWNET)";
		return 0;
	}
	tap_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "nmtx0");
	if (tap_fd < 0 || ioctl(tap_fd, TUNSETIFF, &ifr) < 0) {
		net_skip = "no /dev/net/tun";
		return 0;
	}
	/* No IPv6: the kernel's own MLD and RS frames would be logged too. */
	if (test_sh("sysctl -qw net.ipv6.conf.nmtx0.disable_ipv6=1 && ip link set nmtx0 up"))
		return -1;
	net_skip = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(logs_in_order),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
