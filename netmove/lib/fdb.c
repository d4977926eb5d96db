#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/neighbour.h>

#include "netmove/fdb.h"
#include "netmove/frame.h"
#include "netmove/timeutil.h"

#define WATCH_BUF 65536
#define DUMP_TRIES 5

/* One rtnetlink request socket; the error callback keeps the kernel's errno,
 * which libnl would otherwise fold into a coarser NLE_* code. */
struct nlctx {
	struct nl_sock *sk;
	int kerr;
};

/* Per thread so that concurrent callers do not see each other's reasons. */
static _Thread_local char last_errmsg[256];

/* Interface names seen during one dump, to spare an ioctl per entry. */
struct names {
	int n;
	struct {
		int ifindex;
		char name[FDB_IFNAMSIZ];
	} tab[32];
};

/* Every entry of one AF_BRIDGE dump. */
struct dump {
	struct fdb_entry *v;
	size_t n, cap;
	struct names names;
	int err;
};

struct fdb_watch {
	struct nl_sock *sk;
	bool any_mac;
	struct mac mac;
	int ifindex;
	uint8_t *buf;
	int len;		/* bytes of the last datagram */
	int off;		/* first message not yet looked at */
	uint64_t stamp;		/* CLOCK_REALTIME when it arrived */
};

static const int nle_errno[] = {
	[NLE_SUCCESS] = 0,
	[NLE_FAILURE] = EIO,
	[NLE_INTR] = EINTR,
	[NLE_BAD_SOCK] = EBADF,
	[NLE_AGAIN] = EAGAIN,
	[NLE_NOMEM] = ENOMEM,
	[NLE_EXIST] = EEXIST,
	[NLE_INVAL] = EINVAL,
	[NLE_RANGE] = ERANGE,
	[NLE_MSGSIZE] = EMSGSIZE,
	[NLE_OPNOTSUPP] = EOPNOTSUPP,
	[NLE_AF_NOSUPPORT] = EAFNOSUPPORT,
	[NLE_OBJ_NOTFOUND] = ENOENT,
	[NLE_NOATTR] = ENODATA,
	[NLE_MISSING_ATTR] = EINVAL,
	[NLE_AF_MISMATCH] = EAFNOSUPPORT,
	[NLE_SEQ_MISMATCH] = EPROTO,
	[NLE_MSG_OVERFLOW] = EOVERFLOW,
	[NLE_MSG_TRUNC] = EMSGSIZE,
	[NLE_NOADDR] = EADDRNOTAVAIL,
	[NLE_SRCRT_NOSUPPORT] = EOPNOTSUPP,
	[NLE_MSG_TOOSHORT] = EPROTO,
	[NLE_MSGTYPE_NOSUPPORT] = EOPNOTSUPP,
	[NLE_OBJ_MISMATCH] = EINVAL,
	[NLE_NOCACHE] = ENOENT,
	[NLE_BUSY] = EBUSY,
	[NLE_PROTO_MISMATCH] = EPROTONOSUPPORT,
	[NLE_NOACCESS] = EACCES,
	[NLE_PERM] = EPERM,
	[NLE_PKTLOC_FILE] = ENOENT,
	[NLE_PARSE_ERR] = EINVAL,
	[NLE_NODEV] = ENODEV,
	[NLE_IMMUTABLE] = EPERM,
	[NLE_DUMP_INTR] = EAGAIN,
	[NLE_ATTRSIZE] = ERANGE,
};

int fdb_nlerr(int nlerr)
{
	if (nlerr < 0)
		nlerr = -nlerr;
	if (nlerr == 0)
		return 0;
	if ((size_t)nlerr >= sizeof(nle_errno) / sizeof(nle_errno[0]))
		return -EIO;
	return -nle_errno[nlerr];
}

const char *fdb_errmsg(void)
{
	return last_errmsg;
}

static void keep_errmsg(const struct nlmsghdr *nlh, const struct nlmsgerr *e)
{
	const struct nlattr *a;
	int off, total, rem;

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED) && e->msg.nlmsg_len >= NLMSG_HDRLEN)
		off += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);
	total = (int)nlh->nlmsg_len - NLMSG_HDRLEN;
	if (off >= total)
		return;
	nla_for_each_attr(a, (const struct nlattr *)((const char *)e + off), total - off, rem) {
		if (nla_type(a) == NLMSGERR_ATTR_MSG && nla_len(a) > 0) {
			snprintf(last_errmsg, sizeof(last_errmsg), "%.*s",
				 (int)strnlen(nla_data(a), (size_t)nla_len(a)),
				 (const char *)nla_data(a));
			return;
		}
	}
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nlctx *c = arg;

	(void)who;
	c->kerr = e->error < 0 ? e->error : -e->error;
	keep_errmsg((const struct nlmsghdr *)e - 1, e);
	return NL_STOP;
}

static int ctx_open(struct nlctx *c)
{
	int one = 1, ret;

	c->kerr = 0;
	c->sk = nl_socket_alloc();
	if (!c->sk)
		return -ENOMEM;
	ret = nl_connect(c->sk, NETLINK_ROUTE);
	if (ret < 0) {
		nl_socket_free(c->sk);
		c->sk = NULL;
		return fdb_nlerr(ret);
	}
	/* The kernel's reason text; older kernels simply lack it. */
	(void)setsockopt(nl_socket_get_fd(c->sk), SOL_NETLINK, NETLINK_EXT_ACK,
			 &one, sizeof(one));
	nl_socket_modify_err_cb(c->sk, NL_CB_CUSTOM, on_error, c);
	return 0;
}

static void ctx_close(struct nlctx *c)
{
	if (c->sk)
		nl_socket_free(c->sk);
	c->sk = NULL;
}

static void req_begin(struct nlctx *c)
{
	c->kerr = 0;
	last_errmsg[0] = '\0';
}

static int req_errno(const struct nlctx *c, int nlerr)
{
	return c->kerr ? c->kerr : fdb_nlerr(nlerr);
}

static void ifname_of(struct names *nc, int ifindex, char *out)
{
	char buf[IF_NAMESIZE];
	int i;

	out[0] = '\0';
	if (ifindex <= 0)
		return;
	for (i = 0; nc && i < nc->n; i++) {
		if (nc->tab[i].ifindex == ifindex) {
			memcpy(out, nc->tab[i].name, FDB_IFNAMSIZ);
			return;
		}
	}
	if (!if_indextoname((unsigned int)ifindex, buf))
		return;
	snprintf(out, FDB_IFNAMSIZ, "%s", buf);
	if (nc && nc->n < (int)(sizeof(nc->tab) / sizeof(nc->tab[0]))) {
		nc->tab[nc->n].ifindex = ifindex;
		memcpy(nc->tab[nc->n].name, out, FDB_IFNAMSIZ);
		nc->n++;
	}
}

/* Fill e from an RTM_NEWNEIGH/RTM_DELNEIGH message.  Returns 0, 1 if it is no
 * FDB entry (another family, no Ethernet address), or a negative errno. */
static int parse_entry(struct nlmsghdr *nlh, struct names *nc, struct fdb_entry *e)
{
	struct rtnl_neigh *n = NULL;
	struct nl_addr *a;
	struct nlattr *ci;
	int ret, vlan;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ndmsg)))
		return 1;
	ret = rtnl_neigh_parse(nlh, &n);
	if (ret < 0)
		return ret == -NLE_NOMEM ? -ENOMEM : 1;
	ret = 1;
	if (rtnl_neigh_get_family(n) != AF_BRIDGE)
		goto out;
	a = rtnl_neigh_get_lladdr(n);
	if (!a || nl_addr_get_len(a) != MAC_LEN)
		goto out;

	memset(e, 0, sizeof(*e));
	memcpy(e->mac.b, nl_addr_get_binary_addr(a), MAC_LEN);
	e->ifindex = rtnl_neigh_get_ifindex(n);
	e->master_ifindex = rtnl_neigh_get_master(n);
	if (e->master_ifindex < 0)
		e->master_ifindex = 0;
	vlan = rtnl_neigh_get_vlan(n);
	e->vlan = vlan > 0 ? vlan : FDB_VLAN_NONE;
	a = rtnl_neigh_get_dst(n);
	if (a && nl_addr_get_len(a) == sizeof(e->dst)) {
		memcpy(&e->dst, nl_addr_get_binary_addr(a), sizeof(e->dst));
		e->has_dst = true;
	}
	e->state = (uint16_t)rtnl_neigh_get_state(n);
	e->flags = (uint8_t)rtnl_neigh_get_flags(n);
	e->is_self = e->flags & NTF_SELF;
	/* The bridge marks its entries with NDA_MASTER, not with NTF_MASTER. */
	e->is_master = (e->flags & NTF_MASTER) || (e->master_ifindex && !e->is_self);
	e->extern_learn = e->flags & NTF_EXT_LEARNED;
	e->is_static = e->state & (NUD_NOARP | NUD_PERMANENT);
	/* The bridge reports its own and its ports' addresses as permanent;
	 * for other tables (VXLAN, device address lists) it just means static. */
	e->local = e->is_master && (e->state & NUD_PERMANENT);

	/* libnl 3.7 parses NDA_CACHEINFO but has no getter: read it here. */
	e->age_ms = -1;
	ci = nlmsg_find_attr(nlh, sizeof(struct ndmsg), NDA_CACHEINFO);
	if (ci && nla_len(ci) >= (int)sizeof(struct nda_cacheinfo)) {
		const struct nda_cacheinfo *info = nla_data(ci);
		long hz = sysconf(_SC_CLK_TCK);	/* the kernel's USER_HZ */

		if (hz > 0)
			e->age_ms = (int64_t)info->ndm_updated * 1000 / hz;
	}
	ifname_of(nc, e->ifindex, e->ifname);
	ifname_of(nc, e->master_ifindex, e->master_name);
	ret = 0;
out:
	rtnl_neigh_put(n);
	return ret;
}

static int on_dump(struct nl_msg *msg, void *arg)
{
	struct dump *d = arg;
	struct fdb_entry e;
	int ret;

	ret = parse_entry(nlmsg_hdr(msg), &d->names, &e);
	if (ret < 0) {
		d->err = ret;
		return NL_STOP;
	}
	if (ret > 0)
		return NL_SKIP;
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		struct fdb_entry *v = realloc(d->v, cap * sizeof(*v));

		if (!v) {
			d->err = -ENOMEM;
			return NL_STOP;
		}
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = e;
	return NL_OK;
}

/* Dump every AF_BRIDGE neighbour into d (the caller frees d->v). */
static int snapshot(struct nlctx *c, struct dump *d)
{
	struct ndmsg ndm = { .ndm_family = AF_BRIDGE };
	int ret, tries;

	for (tries = 1;; tries++) {
		d->n = 0;
		d->err = 0;
		req_begin(c);
		ret = nl_send_simple(c->sk, RTM_GETNEIGH, NLM_F_DUMP, &ndm, sizeof(ndm));
		if (ret < 0)
			return req_errno(c, ret);
		nl_socket_modify_cb(c->sk, NL_CB_VALID, NL_CB_CUSTOM, on_dump, d);
		ret = nl_recvmsgs_default(c->sk);
		/* d lives on the caller's stack: do not leave it in the socket. */
		nl_socket_modify_cb(c->sk, NL_CB_VALID, NL_CB_DEFAULT, NULL, NULL);
		if (d->err)
			return d->err;
		/* The table changed under the dump: take it again. */
		if (ret == -NLE_DUMP_INTR && tries < DUMP_TRIES)
			continue;
		return ret < 0 ? req_errno(c, ret) : 0;
	}
}

static int dev_index(const char *dev, int *ifindex)
{
	unsigned int idx;
	size_t len;

	*ifindex = 0;
	if (!dev)
		return 0;
	len = strnlen(dev, FDB_IFNAMSIZ);
	if (len == 0 || len >= FDB_IFNAMSIZ)
		return -EINVAL;
	idx = if_nametoindex(dev);
	if (!idx)
		return errno == ENODEV || errno == ENXIO ? -ENODEV : -errno;
	*ifindex = (int)idx;
	return 0;
}

static bool on_dev(const struct fdb_entry *e, int ifindex)
{
	return !ifindex || e->ifindex == ifindex || e->master_ifindex == ifindex;
}

/* What the kernel says about one link. */
struct link {
	int ifindex;
	int master;		/* 0 if none */
	int bridge;		/* master if that is a Linux bridge, else 0 */
	char kind[16];		/* "bridge", "vxlan", "veth", ... or "" */
};

static int link_get(struct nlctx *c, const char *name, int ifindex, struct link *l)
{
	struct rtnl_link *rl = NULL;
	const char *kind;
	int ret;

	req_begin(c);
	ret = rtnl_link_get_kernel(c->sk, ifindex, name, &rl);
	if (ret < 0)
		return req_errno(c, ret);
	memset(l, 0, sizeof(*l));
	l->ifindex = rtnl_link_get_ifindex(rl);
	l->master = rtnl_link_get_master(rl);
	kind = rtnl_link_get_type(rl);
	snprintf(l->kind, sizeof(l->kind), "%s", kind ? kind : "");
	rtnl_link_put(rl);
	return 0;
}

/* dev and, when it is enslaved to a Linux bridge, that bridge. */
static int port_get(struct nlctx *c, const char *dev, struct link *l)
{
	struct link m;
	int ret;

	ret = link_get(c, dev, 0, l);
	if (ret < 0 || !l->master)
		return ret;
	ret = link_get(c, NULL, l->master, &m);
	if (ret < 0)
		return ret;
	if (strcmp(m.kind, "bridge") == 0)
		l->bridge = m.ifindex;
	return 0;
}

/* Which link a spec acts on, with the spec's kind of device checked. */
static int spec_link(struct nlctx *c, const struct fdb_spec *s, struct link *l)
{
	int ret;

	ret = port_get(c, s->dev, l);
	if (ret < 0)
		return ret;
	if (s->remote) {
		if (strcmp(l->kind, "vxlan") != 0)
			return -EOPNOTSUPP;
		/* The VLAN only applies to the bridge's entry. */
		if (s->vlan != FDB_VLAN_NONE && !l->bridge)
			return -EINVAL;
		return 0;
	}
	if (!l->master)
		return -ENOTCONN;
	return l->bridge ? 0 : -EOPNOTSUPP;
}

/* RTM_NEWNEIGH (create or replace) or RTM_DELNEIGH for one AF_BRIDGE entry. */
static int neigh_req(struct nlctx *c, bool add, int ifindex, const struct mac *mac,
		     unsigned int flags, int state, int vlan, const struct in_addr *dst)
{
	struct nl_addr *ll = NULL, *ip = NULL;
	struct rtnl_neigh *n;
	int ret = -ENOMEM;

	n = rtnl_neigh_alloc();
	if (!n)
		return -ENOMEM;
	ll = nl_addr_build(AF_LLC, mac->b, MAC_LEN);
	if (!ll)
		goto out;
	if (dst) {
		ip = nl_addr_build(AF_INET, dst, sizeof(*dst));
		if (!ip)
			goto out;
		/* Before the family: libnl refuses a dst of another family. */
		ret = rtnl_neigh_set_dst(n, ip);
		if (ret < 0) {
			ret = fdb_nlerr(ret);
			goto out;
		}
	}
	rtnl_neigh_set_family(n, AF_BRIDGE);
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_flags(n, flags);
	if (state)
		rtnl_neigh_set_state(n, state);
	if (vlan >= 0)
		rtnl_neigh_set_vlan(n, vlan);

	req_begin(c);
	if (add)
		ret = rtnl_neigh_add(c->sk, n, NLM_F_CREATE | NLM_F_REPLACE);
	else
		ret = rtnl_neigh_delete(c->sk, n, 0);
	ret = ret < 0 ? req_errno(c, ret) : 0;
out:
	if (ip)
		nl_addr_put(ip);
	if (ll)
		nl_addr_put(ll);
	rtnl_neigh_put(n);
	return ret;
}

/* A bridge entry on another port than `port` that a move to port leaves
 * behind: same bridge and MAC, same VLAN (any VLAN for FDB_VLAN_NONE). */
static bool is_stale(const struct fdb_entry *e, const struct mac *mac, int port,
		     int bridge, int vlan)
{
	return mac_equal(&e->mac, mac) && e->master_ifindex == bridge &&
	       e->is_master && !e->local && e->ifindex != port &&
	       (vlan == FDB_VLAN_NONE || e->vlan == vlan);
}

/* A VXLAN entry (MAC -> remote) on another port of the bridge: once the
 * bridge sends the MAC elsewhere it only misleads.  Returns 1, 0 or < 0. */
static int is_stale_remote(struct nlctx *c, const struct fdb_entry *e,
			   const struct mac *mac, int port, int bridge)
{
	struct link l;
	int ret;

	if (!bridge || !e->is_self || !e->has_dst || e->ifindex == port ||
	    !mac_equal(&e->mac, mac))
		return 0;
	ret = link_get(c, NULL, e->ifindex, &l);
	if (ret == -ENODEV)
		return 0;
	return ret < 0 ? ret : l.master == bridge;
}

/* MAC -> port in the bridge's table, then remove what is left elsewhere: the
 * kernel moves the one entry it is asked about, but a VLAN-aware bridge adds
 * one per port VLAN for a request without a VLAN (only those the new port
 * also has move), and VXLAN ports keep their own entry for the MAC. */
static int bridge_set(struct nlctx *c, const struct mac *mac, int port, int bridge,
		      int vlan, bool is_static)
{
	struct dump d = { 0 };
	size_t i;
	int ret;

	ret = neigh_req(c, true, port, mac, NTF_MASTER,
			is_static ? NUD_NOARP : NUD_REACHABLE, vlan, NULL);
	if (ret < 0)
		return ret;
	ret = snapshot(c, &d);
	if (ret < 0)
		goto out;
	for (i = 0; i < d.n; i++) {
		const struct fdb_entry *e = &d.v[i];

		if (is_stale(e, mac, port, bridge, vlan)) {
			ret = neigh_req(c, false, e->ifindex, mac, NTF_MASTER, 0, e->vlan, NULL);
		} else {
			ret = is_stale_remote(c, e, mac, port, bridge);
			if (ret > 0)
				ret = neigh_req(c, false, e->ifindex, mac, NTF_SELF, 0,
						FDB_VLAN_NONE, NULL);
		}
		if (ret == -ENOENT)
			ret = 0;
		if (ret < 0)
			goto out;
	}
out:
	free(d.v);
	return ret;
}

int fdb_spec_check(const struct fdb_spec *s)
{
	size_t len;

	if (!s || !s->dev)
		return -EINVAL;
	len = strnlen(s->dev, FDB_IFNAMSIZ);
	if (len == 0 || len >= FDB_IFNAMSIZ)
		return -EINVAL;
	if (mac_is_zero(&s->mac) || mac_is_multicast(&s->mac))
		return -EINVAL;
	if (s->vlan != FDB_VLAN_NONE && (s->vlan < 1 || s->vlan > 4094))
		return -EINVAL;
	if (s->remote ? s->dst.s_addr == htonl(INADDR_BROADCAST) : s->dst.s_addr != 0)
		return -EINVAL;
	return 0;
}

/* Resolve dev (NULL: any) and take one dump of the FDB.  On error c and d
 * are left safe to release. */
static int dump_dev(const char *dev, int *ifindex, struct nlctx *c, struct dump *d)
{
	int ret = dev_index(dev, ifindex);

	if (ret == 0)
		ret = ctx_open(c);
	if (ret == 0)
		ret = snapshot(c, d);
	return ret;
}

int fdb_list(const char *dev, fdb_entry_fn fn, void *arg)
{
	struct nlctx c = { 0 };
	struct dump d = { 0 };
	int ret, ifindex;
	size_t i;

	if (!fn)
		return -EINVAL;
	ret = dump_dev(dev, &ifindex, &c, &d);
	if (ret < 0)
		goto out;
	for (i = 0; i < d.n; i++) {
		if (!on_dev(&d.v[i], ifindex))
			continue;
		ret = fn(&d.v[i], arg);
		if (ret)
			goto out;
	}
out:
	free(d.v);
	ctx_close(&c);
	return ret;
}

/* Higher is better: non-local, then in the bridge's table, then untagged. */
static int get_score(const struct fdb_entry *e)
{
	return !e->local << 2 | e->is_master << 1 | (e->vlan == FDB_VLAN_NONE);
}

int fdb_get(const struct mac *mac, const char *dev, int vlan, struct fdb_entry *out)
{
	const struct fdb_entry *best = NULL;
	struct nlctx c = { 0 };
	struct dump d = { 0 };
	int ret, ifindex, score, best_score = -1;
	size_t i;

	if (!mac || !out || vlan < FDB_VLAN_ANY || vlan > FRAME_VLAN_MAX)
		return -EINVAL;
	ret = dump_dev(dev, &ifindex, &c, &d);
	if (ret < 0)
		goto out;
	for (i = 0; i < d.n; i++) {
		const struct fdb_entry *e = &d.v[i];

		if (!mac_equal(&e->mac, mac) || !on_dev(e, ifindex) ||
		    (vlan != FDB_VLAN_ANY && e->vlan != vlan))
			continue;
		score = get_score(e);
		if (score > best_score) {
			best = e;
			best_score = score;
		}
	}
	if (!best) {
		ret = -ENOENT;
		goto out;
	}
	*out = *best;
	/* A bridge entry on a VXLAN port: the remote is in the port's table. */
	for (i = 0; !out->has_dst && i < d.n; i++) {
		const struct fdb_entry *e = &d.v[i];

		if (e->is_self && e->has_dst && e->ifindex == out->ifindex &&
		    mac_equal(&e->mac, mac)) {
			out->dst = e->dst;
			out->has_dst = true;
		}
	}
	ret = 0;
out:
	free(d.v);
	ctx_close(&c);
	return ret;
}

int fdb_replace(const struct fdb_spec *spec)
{
	struct nlctx c = { 0 };
	struct link l;
	int ret;

	ret = fdb_spec_check(spec);
	if (ret < 0)
		return ret;
	if (spec->remote && spec->dst.s_addr == htonl(INADDR_ANY))
		return -EINVAL;
	ret = ctx_open(&c);
	if (ret < 0)
		return ret;
	ret = spec_link(&c, spec, &l);
	if (ret < 0)
		goto out;
	if (spec->remote) {
		ret = neigh_req(&c, true, l.ifindex, &spec->mac, NTF_SELF,
				spec->is_static ? NUD_PERMANENT | NUD_NOARP : NUD_REACHABLE,
				FDB_VLAN_NONE, &spec->dst);
		if (ret < 0 || !l.bridge)
			goto out;
	}
	ret = bridge_set(&c, &spec->mac, l.ifindex, l.bridge, spec->vlan, spec->is_static);
out:
	ctx_close(&c);
	return ret;
}

/* The bridge's entry for a spec on port: 0, -ENOENT or -ESTALE; *found is the
 * entry on port, else one elsewhere, else NULL. */
static int check_bridge(const struct dump *d, const struct fdb_spec *s, int port,
			int bridge, const struct fdb_entry **found)
{
	const struct fdb_entry *hit = NULL, *other = NULL;
	size_t i;

	for (i = 0; i < d->n; i++) {
		const struct fdb_entry *e = &d->v[i];

		if (e->ifindex == port && e->vlan == s->vlan && e->is_master &&
		    e->master_ifindex == bridge && mac_equal(&e->mac, &s->mac) && !e->local)
			hit = e;
		else if (is_stale(e, &s->mac, port, bridge, s->vlan))
			other = e;
	}
	*found = hit ? hit : other;
	if (!hit)
		return other ? -ESTALE : -ENOENT;
	if (other || hit->is_static != s->is_static)
		return -ESTALE;
	return 0;
}

int fdb_check(const struct fdb_spec *spec, struct fdb_entry *out)
{
	const struct fdb_entry *found = NULL, *self = NULL;
	struct nlctx c = { 0 };
	struct dump d = { 0 };
	bool stale_remote;
	struct link l;
	size_t i;
	int ret;

	ret = fdb_spec_check(spec);
	if (ret < 0)
		return ret;
	ret = ctx_open(&c);
	if (ret < 0)
		return ret;
	ret = spec_link(&c, spec, &l);
	if (ret < 0)
		goto out;
	ret = snapshot(&c, &d);
	if (ret < 0)
		goto out;
	for (i = 0, ret = 0; i < d.n; i++) {
		ret = is_stale_remote(&c, &d.v[i], &spec->mac, l.ifindex, l.bridge);
		if (ret < 0)
			goto out;
		if (ret > 0)
			break;
	}
	stale_remote = ret > 0;
	if (!spec->remote) {
		ret = check_bridge(&d, spec, l.ifindex, l.bridge, &found);
		if (!ret && stale_remote)
			ret = -ESTALE;
		goto out;
	}
	for (i = 0; i < d.n && !self; i++) {
		const struct fdb_entry *e = &d.v[i];

		if (e->is_self && e->ifindex == l.ifindex && mac_equal(&e->mac, &spec->mac))
			self = e;
	}
	found = self;
	if (!self) {
		ret = -ENOENT;
		goto out;
	}
	ret = 0;
	if (!self->has_dst || self->is_static != spec->is_static ||
	    (spec->dst.s_addr && self->dst.s_addr != spec->dst.s_addr))
		ret = -ESTALE;
	if (!ret && l.bridge) {
		const struct fdb_entry *be;

		if (stale_remote || check_bridge(&d, spec, l.ifindex, l.bridge, &be) < 0)
			ret = -ESTALE;
	}
out:
	if (found && out)
		*out = *found;
	free(d.v);
	ctx_close(&c);
	return ret;
}

int fdb_delete(const struct fdb_spec *spec)
{
	struct nlctx c = { 0 };
	struct link l;
	int ret, ret2;

	ret = fdb_spec_check(spec);
	if (ret < 0)
		return ret;
	ret = ctx_open(&c);
	if (ret < 0)
		return ret;
	ret = spec_link(&c, spec, &l);
	if (ret < 0)
		goto out;
	if (!spec->remote) {
		ret = neigh_req(&c, false, l.ifindex, &spec->mac, NTF_MASTER, 0, spec->vlan, NULL);
		goto out;
	}
	ret = neigh_req(&c, false, l.ifindex, &spec->mac, NTF_SELF, 0, FDB_VLAN_NONE, NULL);
	if (ret < 0 || !l.bridge)
		goto out;
	ret2 = neigh_req(&c, false, l.ifindex, &spec->mac, NTF_MASTER, 0, spec->vlan, NULL);
	if (ret2 < 0 && ret2 != -ENOENT)
		ret = ret2;
out:
	ctx_close(&c);
	return ret;
}

int fdb_watch_open(const struct mac *mac, const char *dev, struct fdb_watch **out)
{
	struct fdb_watch *w;
	int ret;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->any_mac = !mac;
	if (mac)
		w->mac = *mac;
	ret = dev_index(dev, &w->ifindex);
	if (ret < 0)
		goto fail;
	ret = -ENOMEM;
	w->buf = malloc(WATCH_BUF);
	w->sk = nl_socket_alloc();
	if (!w->buf || !w->sk)
		goto fail;
	nl_socket_disable_seq_check(w->sk);
	ret = nl_connect(w->sk, NETLINK_ROUTE);
	if (ret < 0)
		goto fail_nl;
	ret = nl_socket_add_membership(w->sk, RTNLGRP_NEIGH);
	if (ret < 0)
		goto fail_nl;
	/* A busy host sends many ARP/ND changes too: room for bursts. */
	ret = nl_socket_set_buffer_size(w->sk, 1 << 20, 0);
	if (ret < 0)
		goto fail_nl;
	*out = w;
	return 0;
fail_nl:
	ret = fdb_nlerr(ret);
fail:
	fdb_watch_close(w);
	return ret;
}

void fdb_watch_close(struct fdb_watch *w)
{
	if (!w)
		return;
	if (w->sk)
		nl_socket_free(w->sk);
	free(w->buf);
	free(w);
}

/* Next matching message of the last datagram: 0, 1 if none left, or < 0. */
static int watch_take(struct fdb_watch *w, struct fdb_event *ev)
{
	while (w->off < w->len) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(w->buf + w->off);
		int rem = w->len - w->off, ret;

		if (rem < (int)sizeof(*nlh) || !NLMSG_OK(nlh, (unsigned int)rem)) {
			w->off = w->len;
			break;
		}
		w->off += NLMSG_ALIGN(nlh->nlmsg_len);
		if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
			continue;
		ret = parse_entry(nlh, NULL, &ev->entry);
		if (ret < 0)
			return ret;
		if (ret > 0 || (!w->any_mac && !mac_equal(&ev->entry.mac, &w->mac)) ||
		    !on_dev(&ev->entry, w->ifindex))
			continue;
		ev->deleted = nlh->nlmsg_type == RTM_DELNEIGH;
		ev->time_ns = w->stamp;
		return 0;
	}
	return 1;
}

/* Read one datagram without blocking: 0, -EAGAIN if none, or < 0. */
static int watch_recv(struct fdb_watch *w)
{
	struct sockaddr_nl sa;
	struct iovec iov = { .iov_base = w->buf, .iov_len = WATCH_BUF };
	struct msghdr mh = {
		.msg_name = &sa, .msg_namelen = sizeof(sa),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	ssize_t n;

	n = recvmsg(nl_socket_get_fd(w->sk), &mh, MSG_DONTWAIT);
	w->stamp = timeutil_real_ns();
	w->len = w->off = 0;
	if (n < 0)
		return errno == EINTR || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	if (sa.nl_pid == 0)	/* from the kernel, not a process */
		w->len = (int)n;
	return 0;
}

int fdb_watch_next(struct fdb_watch *w, uint64_t timeout_ns, struct fdb_event *ev)
{
	struct pollfd pfd = { .fd = nl_socket_get_fd(w->sk), .events = POLLIN };
	uint64_t deadline = 0, now;
	struct timespec ts;
	int ret;

	if (timeout_ns != FDB_FOREVER) {
		now = timeutil_mono_ns();
		deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
	}
	for (;;) {
		ret = watch_take(w, ev);
		if (ret <= 0)
			return ret;
		ret = watch_recv(w);
		if (ret == 0)
			continue;
		if (ret != -EAGAIN)
			return ret;
		if (timeout_ns != FDB_FOREVER) {
			now = timeutil_mono_ns();
			if (now >= deadline)
				return -ETIMEDOUT;
			ts.tv_sec = (time_t)((deadline - now) / NSEC_PER_SEC);
			ts.tv_nsec = (long)((deadline - now) % NSEC_PER_SEC);
		}
		if (ppoll(&pfd, 1, timeout_ns == FDB_FOREVER ? NULL : &ts, NULL) < 0 &&
		    errno != EINTR)
			return -errno;
	}
}

int fdb_watch(const struct mac *mac, const char *dev, uint64_t timeout_ns,
	      fdb_event_fn fn, void *arg)
{
	struct fdb_watch *w;
	struct fdb_event ev;
	uint64_t deadline = 0, now, left = FDB_FOREVER;
	int ret;

	if (!fn)
		return -EINVAL;
	ret = fdb_watch_open(mac, dev, &w);
	if (ret < 0)
		return ret;
	if (timeout_ns != FDB_FOREVER) {
		now = timeutil_mono_ns();
		deadline = timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
	}
	for (;;) {
		if (timeout_ns != FDB_FOREVER) {
			now = timeutil_mono_ns();
			left = deadline > now ? deadline - now : 0;
		}
		ret = fdb_watch_next(w, left, &ev);
		if (ret < 0)
			break;
		ret = fn(&ev, arg);
		if (ret) {
			if (ret > 0)
				ret = 0;
			break;
		}
	}
	fdb_watch_close(w);
	return ret;
}

int fdb_flag_names(const struct fdb_entry *e, const char **names)
{
	int n = 0;

	names[n++] = e->local ? "local" : e->is_static ? "static" : "dynamic";
	if (e->is_master)
		names[n++] = "master";
	if (e->is_self)
		names[n++] = "self";
	if (e->extern_learn)
		names[n++] = "extern_learn";
	if (e->flags & NTF_OFFLOADED)
		names[n++] = "offload";
	if (e->flags & NTF_STICKY)
		names[n++] = "sticky";
	return n;
}

char *fdb_flags_format(const struct fdb_entry *e, char *buf, size_t len)
{
	const char *names[FDB_FLAG_NAMES_MAX];
	size_t used = 0;
	int i, n, w;

	if (!len)
		return buf;
	buf[0] = '\0';
	n = fdb_flag_names(e, names);
	for (i = 0; i < n && used < len; i++) {
		w = snprintf(buf + used, len - used, "%s%s", i ? "," : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}
