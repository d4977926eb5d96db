/* portwatch: taps reported as they appear, in a private network namespace;
 * other links are not; buffer_ready_port gives a tap its clsact once. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include <cmocka.h>

#include "netmove/buffer.h"
#include "netmove/portwatch.h"
#include "netns_helper.h"

static const char *net_skip = "not set up";

struct seen {
	int n;
	char names[8][IF_NAMESIZE];
};

static void record(const char *ifname, int ifindex, void *arg)
{
	struct seen *s = arg;

	(void)ifindex;
	if (s->n < 8)
		snprintf(s->names[s->n], IF_NAMESIZE, "%s", ifname);
	s->n++;
}

static bool saw(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->n && i < 8; i++)
		if (!strcmp(s->names[i], name))
			return true;
	return false;
}

static int make_tap(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup(void **state)
{
	(void)state;
	if (test_private_netns() < 0) {
		net_skip = "needs root and unshare(CLONE_NEWNET)";
		return 0;
	}
	net_skip = access("/dev/net/tun", R_OK | W_OK) < 0 ? "no /dev/net/tun" : NULL;
	return 0;
}

static void reports_new_taps_only(void **state)
{
	struct pollfd p;
	struct seen s = { 0 };
	int wfd, tfd, i;

	(void)state;
	NEED_NET();
	wfd = portwatch_open();
	assert_true(wfd >= 0);
	assert_int_equal(portwatch_read(wfd, record, &s), 0);
	assert_int_equal(test_sh("ip link add nmpw-v0 type veth peer name nmpw-v1"), 0);
	tfd = make_tap("nmpw-tap0");
	assert_true(tfd >= 0);
	for (i = 0; i < 50 && !saw(&s, "nmpw-tap0"); i++) {
		p = (struct pollfd){ .fd = wfd, .events = POLLIN };
		poll(&p, 1, 100);
		assert_true(portwatch_read(wfd, record, &s) >= 0);
	}
	assert_true(saw(&s, "nmpw-tap0"));
	assert_false(saw(&s, "nmpw-v0"));
	assert_false(saw(&s, "nmpw-v1"));
	memset(&s, 0, sizeof(s));
	assert_int_equal(portwatch_each(record, &s), 1);
	assert_true(saw(&s, "nmpw-tap0"));
	/* The clsact qdisc: added once, then found. */
	assert_int_equal(buffer_ready_port("nmpw-tap0"), 1);
	assert_int_equal(buffer_ready_port("nmpw-tap0"), 0);
	assert_int_equal(test_sh("tc qdisc show dev nmpw-tap0 | grep -q clsact"), 0);
	assert_int_equal(buffer_ready_port("nmpw-none"), -ENODEV);
	close(tfd);
	close(wfd);
	test_sh("ip link del nmpw-v0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reports_new_taps_only),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
