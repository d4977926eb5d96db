/* portwatch: taps as rtnetlink announces them (see portwatch.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "netmove/portwatch.h"

#define PW_BUF 32768

int portwatch_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd, rcv = 1 << 20;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* True if the link message describes a tap; its name into name. */
static bool link_is_tap(struct nlmsghdr *h, char *name)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifi));
	bool tun = false;
	struct rtattr *a;

	name[0] = 0;
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME && RTA_PAYLOAD(a) <= IF_NAMESIZE) {
			memcpy(name, RTA_DATA(a), RTA_PAYLOAD(a));
			name[IF_NAMESIZE - 1] = 0;
		} else if (a->rta_type == IFLA_LINKINFO) {
			struct rtattr *k = RTA_DATA(a);
			int klen = (int)RTA_PAYLOAD(a);

			for (; RTA_OK(k, klen); k = RTA_NEXT(k, klen))
				if (k->rta_type == IFLA_INFO_KIND && RTA_PAYLOAD(k) >= 4 &&
				    !memcmp(RTA_DATA(k), "tun", 4))
					tun = true;
		}
	}
	/* The tun driver's tap mode is an Ethernet device. */
	return tun && name[0] && ifi->ifi_type == 1 /* ARPHRD_ETHER */;
}

static int parse(const char *buf, size_t n, portwatch_fn fn, void *arg, bool *done)
{
	struct nlmsghdr *h = NULL;
	char name[IF_NAMESIZE];
	size_t off = 0;
	int count = 0;

	for (; off + sizeof(struct nlmsghdr) <= n; off += NLMSG_ALIGN(h->nlmsg_len)) {
		h = (struct nlmsghdr *)(buf + off);
		if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > n - off)
			break;
		if (h->nlmsg_type == NLMSG_DONE) {
			*done = true;
			break;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			*done = true;
			return e->error < 0 ? e->error : count;
		}
		if (h->nlmsg_type != RTM_NEWLINK)
			continue;
		if (link_is_tap(h, name)) {
			fn(name, ((struct ifinfomsg *)NLMSG_DATA(h))->ifi_index, arg);
			count++;
		}
	}
	return count;
}

int portwatch_read(int fd, portwatch_fn fn, void *arg)
{
	static char buf[PW_BUF];
	bool done = false;
	int total = 0, r;

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? total : -errno;
		r = parse(buf, (size_t)n, fn, arg, &done);
		if (r < 0)
			return r;
		total += r;
	}
}

int portwatch_each(portwatch_fn fn, void *arg)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		.i = { .ifi_family = AF_UNSPEC },
	};
	static char buf[PW_BUF];
	bool done = false;
	int fd, total = 0, r = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		r = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0) {
			r = -errno;
			goto out;
		}
		r = parse(buf, (size_t)n, fn, arg, &done);
		if (r < 0)
			goto out;
		total += r;
	}
	r = total;
out:
	close(fd);
	return r;
}
