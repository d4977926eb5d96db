/* tap: open a tap device, optionally inside another network namespace. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "tap.h"

static int tap_create(const char *name, unsigned txqlen, char *err, size_t errlen)
{
	struct ifreq ifr = { 0 };
	char path[128];
	int fd, sk = -1, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return ret;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: %s", name, strerror(errno));
		goto out;
	}
	sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0) {
		ret = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto out;
	}
	if (txqlen) {
		ifr.ifr_qlen = (int)txqlen;
		if (ioctl(sk, SIOCSIFTXQLEN, &ifr) < 0) {
			ret = -errno;
			snprintf(err, errlen, "tap %s: txqueuelen: %s", name, strerror(errno));
			goto out;
		}
	}
	/* The guest speaks IPv4 only; keep the host's own IPv6 chatter off the port. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", name);
	ret = open(path, O_WRONLY | O_CLOEXEC);
	if (ret >= 0) {
		if (write(ret, "1", 1) < 0)
			(void)0;
		close(ret);
	}
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: flags: %s", name, strerror(errno));
		goto out;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "tap %s: up: %s", name, strerror(errno));
		goto out;
	}
	ret = fd;
out:
	if (sk >= 0)
		close(sk);
	if (ret < 0)
		close(fd);
	return ret;
}

int tap_open(const char *name, const char *netns, unsigned txqlen, char *err, size_t errlen)
{
	char path[256];
	int self = -1, target = -1, ret;

	if (!name || !*name || strlen(name) >= IFNAMSIZ) {
		snprintf(err, errlen, "bad tap name");
		return -EINVAL;
	}
	if (!netns)
		return tap_create(name, txqlen, err, errlen);
	if (strchr(netns, '/')) {
		snprintf(err, errlen, "bad namespace name %s", netns);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", self < 0 ? "own namespace" : path, strerror(errno));
		goto out;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		ret = -errno;
		snprintf(err, errlen, "setns %s: %s", path, strerror(errno));
		goto out;
	}
	ret = tap_create(name, txqlen, err, errlen);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Staying in the wrong namespace would misroute the migration stream. */
		snprintf(err, errlen, "cannot return to the own namespace: %s", strerror(errno));
		if (ret >= 0)
			close(ret);
		ret = -EIO;
	}
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return ret;
}
