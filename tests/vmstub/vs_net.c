#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_tun.h>

#include "vs_net.h"

int vs_ns_open(const char *name)
{
	char path[PATH_MAX];
	int fd;

	if (!*name)
		return -EINVAL;
	if (strchr(name, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else if (snprintf(path, sizeof(path), "/run/netns/%s", name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int vs_ns_enter(int nsfd)
{
	return setns(nsfd, CLONE_NEWNET) < 0 ? -errno : 0;
}

static int ifr_init(struct ifreq *ifr, const char *ifname)
{
	memset(ifr, 0, sizeof(*ifr));
	if (strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	memcpy(ifr->ifr_name, ifname, strlen(ifname));
	return 0;
}

int vs_tap_create(const char *name)
{
	unsigned int offload = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	int hdr_len = VS_VNET_HDR_LEN;
	struct ifreq ifr;
	int fd, ret;

	ret = ifr_init(&ifr, name);
	if (ret < 0)
		return ret;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, offload) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int vs_sysctl_net(const char *key, const char *value)
{
	char path[PATH_MAX];
	ssize_t n, len = (ssize_t)strlen(value);
	int fd, ret = 0;

	if (snprintf(path, sizeof(path), "/proc/sys/net/%s", key) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* /proc/sys/net shows the namespace of the process that opens it. */
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, (size_t)len);
	if (n < 0)
		ret = -errno;
	else if (n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* One ioctl on a socket of the current namespace. */
static int net_ioctl(unsigned long req, void *arg)
{
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, req, arg) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int vs_link_set_mac(const char *ifname, const uint8_t mac[6])
{
	struct ifreq ifr;
	int ret;

	ret = ifr_init(&ifr, ifname);
	if (ret < 0)
		return ret;
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return net_ioctl(SIOCSIFHWADDR, &ifr);
}

int vs_link_set_txqlen(const char *ifname, int qlen)
{
	struct ifreq ifr;
	int ret;

	ret = ifr_init(&ifr, ifname);
	if (ret < 0)
		return ret;
	ifr.ifr_qlen = qlen;
	return net_ioctl(SIOCSIFTXQLEN, &ifr);
}

int vs_link_up(const char *ifname)
{
	struct ifreq ifr;
	int ret;

	ret = ifr_init(&ifr, ifname);
	if (ret < 0)
		return ret;
	ret = net_ioctl(SIOCGIFFLAGS, &ifr);
	if (ret < 0)
		return ret;
	ifr.ifr_flags |= IFF_UP;
	return net_ioctl(SIOCSIFFLAGS, &ifr);
}

static void sin_set(struct sockaddr *sa, struct in_addr a)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = a };

	memcpy(sa, &sin, sizeof(sin));
}

int vs_addr_add(const char *ifname, struct in_addr addr, int prefix)
{
	struct in_addr mask;
	struct ifreq ifr;
	int ret;

	if (prefix < 1 || prefix > 32)
		return -EINVAL;
	mask.s_addr = htonl(prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix));
	ret = ifr_init(&ifr, ifname);
	if (ret < 0)
		return ret;
	sin_set(&ifr.ifr_addr, addr);
	ret = net_ioctl(SIOCSIFADDR, &ifr);
	if (ret < 0)
		return ret;
	/* SIOCSIFADDR guesses a classful mask: set the real one (this also fixes the
	 * prefix route and the broadcast address). */
	sin_set(&ifr.ifr_netmask, mask);
	return net_ioctl(SIOCSIFNETMASK, &ifr);
}

int vs_route_default(const char *ifname, struct in_addr gw)
{
	char dev[IFNAMSIZ];
	struct rtentry rt;
	struct in_addr any = { 0 };

	if (strlen(ifname) >= sizeof(dev))
		return -ENAMETOOLONG;
	snprintf(dev, sizeof(dev), "%s", ifname);
	memset(&rt, 0, sizeof(rt));
	sin_set(&rt.rt_dst, any);
	sin_set(&rt.rt_genmask, any);
	sin_set(&rt.rt_gateway, gw);
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	rt.rt_dev = dev;
	return net_ioctl(SIOCADDRT, &rt);
}
