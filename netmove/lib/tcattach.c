/* tcattach: netmove's filters on a port's clsact hooks (see tcattach.h). */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/qdisc.h>

#include "nm_buffer.h"
#include "tcattach.h"

static const enum bpf_tc_attach_point points[] = {
	[TCATTACH_EGRESS] = BPF_TC_EGRESS,
	[TCATTACH_INGRESS] = BPF_TC_INGRESS,
};

static void hook_init(struct bpf_tc_hook *h, int ifindex, enum bpf_tc_attach_point at)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = at;
}

static void opts_init(struct bpf_tc_opts *o, int prog_fd, __u32 flags)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->handle = NM_TC_HANDLE;
	o->priority = NM_TC_PRIORITY;
	o->prog_fd = prog_fd;
	o->flags = flags;
}

int tcattach_clsact(int ifindex)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	const char *kind;
	int ret = 0;

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE) < 0 || rtnl_qdisc_alloc_cache(sk, &cache) < 0) {
		ret = -EIO;
		goto out;
	}
	/* clsact and the plain ingress qdisc share one place (ffff:). */
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_CLSACT);
	if (q) {
		kind = rtnl_tc_get_kind(TC_CAST(q));
		ret = kind && !strcmp(kind, "clsact") ? 1 : -EBUSY;
		rtnl_qdisc_put(q);
	}
out:
	if (cache)
		nl_cache_free(cache);
	nl_socket_free(sk);
	return ret;
}

int tcattach_clsact_create(int ifindex)
{
	struct bpf_tc_hook h;
	int ret = tcattach_clsact(ifindex);

	if (ret != 0)
		return ret < 0 ? ret : 0;
	hook_init(&h, ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
	ret = bpf_tc_hook_create(&h);
	return ret == -EEXIST ? 0 : ret < 0 ? ret : 1;
}

int tcattach_filters(int ifindex)
{
	static const uint32_t parents[] = {
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS),
		TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
	};
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *cache;
	int n = 0, ret = 0;
	size_t i;

	if (!sk)
		return -ENOMEM;
	if (nl_connect(sk, NETLINK_ROUTE) < 0) {
		ret = -ECONNREFUSED;
		goto out;
	}
	for (i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		if (rtnl_cls_alloc_cache(sk, ifindex, parents[i], &cache) < 0) {
			ret = -EIO;
			goto out;
		}
		n += nl_cache_nitems(cache);
		nl_cache_free(cache);
	}
	ret = n;
out:
	nl_socket_free(sk);
	return ret;
}

int tcattach_clsact_release(int ifindex)
{
	struct bpf_tc_hook h;
	int ret = tcattach_filters(ifindex);

	if (ret != 0)
		return ret < 0 ? ret : 0;
	hook_init(&h, ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
	ret = bpf_tc_hook_destroy(&h);
	return ret == -ENOENT || ret == -EINVAL ? 0 : ret < 0 ? ret : 1;
}

int tcattach_attach(int ifindex, enum tcattach_hook hook, int prog_fd, bool replace)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;

	hook_init(&h, ifindex, points[hook]);
	opts_init(&o, prog_fd, replace ? BPF_TC_F_REPLACE : 0);
	return bpf_tc_attach(&h, &o);
}

int tcattach_query(int ifindex, enum tcattach_hook hook, __u32 *id)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	int ret;

	hook_init(&h, ifindex, points[hook]);
	opts_init(&o, 0, 0);
	ret = bpf_tc_query(&h, &o);
	/* The kernel says EINVAL when the port has no clsact qdisc at all. */
	if (ret < 0)
		return ret == -EINVAL ? -ENOENT : ret;
	*id = o.prog_id;
	return 0;
}

int tcattach_prog_fd(int ifindex, enum tcattach_hook hook)
{
	__u32 id;
	int fd, ret;

	ret = tcattach_query(ifindex, hook, &id);
	if (ret < 0)
		return ret;
	fd = bpf_prog_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

int tcattach_prog_id(int prog_fd, __u32 *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return -errno;
	*id = info.id;
	return 0;
}

int tcattach_detach(int ifindex, enum tcattach_hook hook, int prog_fd)
{
	struct bpf_tc_hook h;
	struct bpf_tc_opts o;
	__u32 there = 0, ours = 0;
	int ret;

	if (prog_fd >= 0) {
		ret = tcattach_query(ifindex, hook, &there);
		if (ret == 0)
			ret = tcattach_prog_id(prog_fd, &ours);
		if (ret < 0)
			return ret;
		if (there != ours)
			return -ESTALE;
	}
	hook_init(&h, ifindex, points[hook]);
	opts_init(&o, 0, 0);
	ret = bpf_tc_detach(&h, &o);
	return ret == -EINVAL ? -ENOENT : ret;
}
