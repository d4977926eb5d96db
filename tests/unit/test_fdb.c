/* fdb: spec validation and error mapping, then the real kernel in a private
 * network namespace: bridge br0 (ports v1, v2 and VXLAN vx0), standalone
 * VXLAN vx1, bridge br1 (ports v3, v4) for VLANs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "netmove/fdb.h"
#include "netmove/timeutil.h"
#include "netns_helper.h"

/* Why the kernel tests cannot run; NULL once the namespace is ready. */
static const char *net_skip = "namespace not set up";

static const char *const setup_cmds[] = {
	"ip link add br0 type bridge",
	"ip link add v1 type veth peer name v1p",
	"ip link add v2 type veth peer name v2p",
	"ip link add v3 type veth peer name v3p",
	"ip link add v4 type veth peer name v4p",
	"ip link set v1 master br0",
	"ip link set v2 master br0",
	"ip addr add 198.18.0.2/24 dev br0",
	"ip link add vx0 type vxlan id 42 dstport 4789 local 198.18.0.2 nolearning",
	"ip link set vx0 master br0",
	"ip link add vx1 type vxlan id 43 dstport 4789 local 198.18.0.2 nolearning",
	"ip link add br1 type bridge",
	"ip link set v3 master br1",
	"ip link set v4 master br1",
	"for d in br0 br1 v1 v1p v2 v2p v3 v3p v4 v4p vx0 vx1; do ip link set $d up || exit 1; done",
};

static int group_setup(void **state)
{
	size_t i;

	(void)state;
	if (test_private_netns() < 0) {
		net_skip = "needs root and unshare(CLONE_NEWNET)";
		return 0;
	}
	for (i = 0; i < sizeof(setup_cmds) / sizeof(setup_cmds[0]); i++) {
		if (test_sh(setup_cmds[i]) != 0) {
			net_skip = "could not build the bridge/veth/vxlan test topology";
			return 0;
		}
	}
	net_skip = NULL;
	return 0;
}

static struct mac mk(uint8_t last)
{
	struct mac m = { { 0x02, 0x6e, 0x6d, 0xfd, 0xb0, last } };

	return m;
}

static struct fdb_spec port_spec(const struct mac *m, const char *dev, bool is_static)
{
	struct fdb_spec s = { .mac = *m, .dev = dev, .vlan = FDB_VLAN_NONE,
			      .is_static = is_static };

	return s;
}

static struct fdb_spec remote_spec(const struct mac *m, const char *dev, const char *ip)
{
	struct fdb_spec s = { .mac = *m, .dev = dev, .vlan = FDB_VLAN_NONE,
			      .is_static = true, .remote = true };

	assert_int_equal(inet_pton(AF_INET, ip, &s.dst), 1);
	return s;
}

static int idx(const char *name)
{
	int i = (int)if_nametoindex(name);

	assert_true(i > 0);
	return i;
}

/* Entries for one MAC seen by fdb_list. */
struct census {
	struct mac mac;
	int vlan;		/* FDB_VLAN_ANY or the one to count */
	int master;		/* bridge table entries, not local */
	int self;		/* device table entries */
	int ifindex;		/* port of the last bridge entry */
	int ports[8];		/* ... and of each of them */
};

static int census_cb(const struct fdb_entry *e, void *arg)
{
	struct census *c = arg;

	if (!mac_equal(&e->mac, &c->mac) || (c->vlan != FDB_VLAN_ANY && e->vlan != c->vlan))
		return 0;
	if (e->is_self)
		c->self++;
	if (e->is_master && !e->local) {
		if (c->master < 8)
			c->ports[c->master] = e->ifindex;
		c->master++;
		c->ifindex = e->ifindex;
	}
	return 0;
}

static struct census census(const struct mac *m, const char *dev, int vlan)
{
	struct census c = { .mac = *m, .vlan = vlan };

	assert_int_equal(fdb_list(dev, census_cb, &c), 0);
	return c;
}

/* --- no kernel --- */

static void spec_check_rules(void **state)
{
	struct mac m = mk(1), mc = { { 0x01, 0, 0x5e, 0, 0, 1 } }, zero = { { 0 } };
	struct fdb_spec s;

	(void)state;
	s = port_spec(&m, "v1", true);
	assert_int_equal(fdb_spec_check(&s), 0);
	s.vlan = 1;
	assert_int_equal(fdb_spec_check(&s), 0);
	s.vlan = 4094;
	assert_int_equal(fdb_spec_check(&s), 0);
	s.vlan = 0;
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s.vlan = 4095;
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s.vlan = -2;
	assert_int_equal(fdb_spec_check(&s), -EINVAL);

	s = port_spec(&mc, "v1", true);
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = port_spec(&zero, "v1", true);
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = port_spec(&m, NULL, true);
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = port_spec(&m, "", true);
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = port_spec(&m, "sixteen-chars-xx", true);
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = port_spec(&m, "fifteen-chars-x", true);
	assert_int_equal(fdb_spec_check(&s), 0);
	assert_int_equal(fdb_spec_check(NULL), -EINVAL);

	/* dst only with remote; never broadcast; 0.0.0.0 means "any". */
	s = port_spec(&m, "v1", true);
	s.dst.s_addr = htonl(0xc6120101);
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = remote_spec(&m, "vx0", "198.18.1.1");
	assert_int_equal(fdb_spec_check(&s), 0);
	s = remote_spec(&m, "vx0", "255.255.255.255");
	assert_int_equal(fdb_spec_check(&s), -EINVAL);
	s = remote_spec(&m, "vx0", "0.0.0.0");
	assert_int_equal(fdb_spec_check(&s), 0);
	/* ... but replace needs a real one, before touching the kernel. */
	assert_int_equal(fdb_replace(&s), -EINVAL);
	/* Bad specs never reach the kernel either. */
	s = port_spec(&mc, "v1", true);
	assert_int_equal(fdb_replace(&s), -EINVAL);
	assert_int_equal(fdb_delete(&s), -EINVAL);
	assert_int_equal(fdb_check(&s, NULL), -EINVAL);
}

static void nlerr_mapping(void **state)
{
	(void)state;
	assert_int_equal(fdb_nlerr(0), 0);
	assert_int_equal(fdb_nlerr(-NLE_NODEV), -ENODEV);
	assert_int_equal(fdb_nlerr(NLE_NODEV), -ENODEV);
	assert_int_equal(fdb_nlerr(-NLE_OBJ_NOTFOUND), -ENOENT);
	assert_int_equal(fdb_nlerr(-NLE_EXIST), -EEXIST);
	assert_int_equal(fdb_nlerr(-NLE_INVAL), -EINVAL);
	assert_int_equal(fdb_nlerr(-NLE_PERM), -EPERM);
	assert_int_equal(fdb_nlerr(-NLE_NOMEM), -ENOMEM);
	assert_int_equal(fdb_nlerr(-NLE_OPNOTSUPP), -EOPNOTSUPP);
	assert_int_equal(fdb_nlerr(-NLE_BUSY), -EBUSY);
	assert_int_equal(fdb_nlerr(-NLE_FAILURE), -EIO);
	assert_int_equal(fdb_nlerr(-NLE_ATTRSIZE), -ERANGE);
	assert_int_equal(fdb_nlerr(-9999), -EIO);
}

static void flag_words(void **state)
{
	struct fdb_entry e = { .is_static = true, .is_master = true };
	const char *names[FDB_FLAG_NAMES_MAX];
	char buf[64];

	(void)state;
	assert_string_equal(fdb_flags_format(&e, buf, sizeof(buf)), "static,master");
	e.local = true;
	assert_string_equal(fdb_flags_format(&e, buf, sizeof(buf)), "local,master");
	e = (struct fdb_entry){ .is_self = true, .extern_learn = true,
				.flags = NTF_OFFLOADED | NTF_STICKY, .is_master = true };
	assert_int_equal(fdb_flag_names(&e, names), 6);
	assert_string_equal(names[0], "dynamic");
	assert_string_equal(fdb_flags_format(&e, buf, sizeof(buf)),
			    "dynamic,master,self,extern_learn,offload,sticky");
	/* Truncates, stays terminated. */
	assert_string_equal(fdb_flags_format(&e, buf, 10), "dynamic,m");
}

/* --- real kernel --- */

static void static_entry(void **state)
{
	struct mac m = mk(0x10);
	struct fdb_spec s = port_spec(&m, "v1", true);
	struct fdb_entry e;
	struct census c;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_get(&m, "br0", FDB_VLAN_ANY, &e), 0);
	assert_true(mac_equal(&e.mac, &m));
	assert_int_equal(e.ifindex, idx("v1"));
	assert_string_equal(e.ifname, "v1");
	assert_int_equal(e.master_ifindex, idx("br0"));
	assert_string_equal(e.master_name, "br0");
	assert_int_equal(e.vlan, FDB_VLAN_NONE);
	assert_true(e.is_static);
	assert_true(e.is_master);
	assert_false(e.local);
	assert_false(e.has_dst);
	assert_true(e.state & NUD_NOARP);
	assert_true(e.age_ms >= 0 && e.age_ms < 5000);
	/* Also found without a device filter, and with one on the port. */
	assert_int_equal(fdb_get(&m, NULL, FDB_VLAN_NONE, &e), 0);
	assert_int_equal(fdb_get(&m, "v1", FDB_VLAN_ANY, &e), 0);
	assert_int_equal(e.ifindex, idx("v1"));
	/* Not in another bridge. */
	assert_int_equal(fdb_get(&m, "br1", FDB_VLAN_ANY, &e), -ENOENT);
	c = census(&m, "br0", FDB_VLAN_ANY);
	assert_int_equal(c.master, 1);
	assert_int_equal(c.ifindex, idx("v1"));
	assert_int_equal(fdb_check(&s, &e), 0);
	assert_int_equal(e.ifindex, idx("v1"));
}

static void move_leaves_one(void **state)
{
	struct mac m = mk(0x20);
	struct fdb_spec s = port_spec(&m, "v1", true);
	struct fdb_entry e;
	struct census c;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	s.dev = "v2";
	assert_int_equal(fdb_replace(&s), 0);
	c = census(&m, NULL, FDB_VLAN_ANY);
	assert_int_equal(c.master, 1);
	assert_int_equal(c.self, 0);
	assert_int_equal(c.ifindex, idx("v2"));
	assert_int_equal(fdb_get(&m, "br0", FDB_VLAN_ANY, &e), 0);
	assert_int_equal(e.ifindex, idx("v2"));
	assert_int_equal(fdb_check(&s, NULL), 0);
	/* The old place no longer matches. */
	s.dev = "v1";
	assert_int_equal(fdb_check(&s, &e), -ESTALE);
	assert_int_equal(e.ifindex, idx("v2"));
	/* Same place, other state: a mismatch too. */
	s.dev = "v2";
	s.is_static = false;
	assert_int_equal(fdb_check(&s, NULL), -ESTALE);
}

static void dynamic_entry(void **state)
{
	struct mac m = mk(0x30);
	struct fdb_spec s = port_spec(&m, "v1", false);
	struct fdb_entry e;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_get(&m, "br0", FDB_VLAN_ANY, &e), 0);
	assert_int_equal(e.ifindex, idx("v1"));
	assert_false(e.is_static);
	assert_false(e.local);
	assert_true(e.state & NUD_REACHABLE);
	assert_int_equal(fdb_check(&s, NULL), 0);
	/* Static -> dynamic and back on the same port. */
	s.is_static = true;
	assert_int_equal(fdb_check(&s, NULL), -ESTALE);
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_get(&m, "br0", FDB_VLAN_ANY, &e), 0);
	assert_true(e.is_static);
	assert_int_equal(census(&m, "br0", FDB_VLAN_ANY).master, 1);
}

static void vlan_entries(void **state)
{
	struct mac m = mk(0x40), all = mk(0x41);
	struct fdb_spec s = port_spec(&m, "v3", true);
	struct fdb_entry e;
	struct census c;
	int i;

	(void)state;
	NEED_NET();
	if (system("ip link set br1 type bridge vlan_filtering 1 2>/dev/null") != 0) {
		print_message("skip: kernel without bridge VLAN filtering "
			      "(CONFIG_BRIDGE_VLAN_FILTERING)\n");
		skip();
	}
	assert_int_equal(test_sh("bridge vlan add dev v3 vid 10 && "
				 "bridge vlan add dev v4 vid 10 && "
				 "bridge vlan add dev v3 vid 20"), 0);
	s.vlan = 10;
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_get(&m, "br1", 10, &e), 0);
	assert_int_equal(e.ifindex, idx("v3"));
	assert_int_equal(e.vlan, 10);
	assert_int_equal(fdb_get(&m, "br1", FDB_VLAN_NONE, &e), -ENOENT);
	assert_int_equal(fdb_get(&m, "br1", 11, &e), -ENOENT);
	s.dev = "v4";
	assert_int_equal(fdb_replace(&s), 0);
	c = census(&m, "br1", 10);
	assert_int_equal(c.master, 1);
	assert_int_equal(c.ifindex, idx("v4"));
	assert_int_equal(fdb_check(&s, NULL), 0);

	/* Without a VLAN the kernel adds one entry per port VLAN (v3: 1, 10,
	 * 20); v4 lacks 20, so the move must clean that one up itself. */
	s = port_spec(&all, "v3", true);
	assert_int_equal(fdb_replace(&s), 0);
	assert_true(census(&all, "br1", FDB_VLAN_ANY).master >= 3);
	s.dev = "v4";
	assert_int_equal(fdb_replace(&s), 0);
	c = census(&all, "br1", FDB_VLAN_ANY);
	assert_true(c.master >= 1);
	for (i = 0; i < c.master && i < 8; i++)
		assert_int_equal(c.ports[i], idx("v4"));
	assert_int_equal(census(&all, "br1", 20).master, 0);
	assert_int_equal(fdb_check(&s, NULL), 0);
}

static void vlan_refused_without_filtering(void **state)
{
	struct mac m = mk(0x42);
	struct fdb_spec s = port_spec(&m, "v1", true);
	struct fdb_entry e;

	(void)state;
	NEED_NET();
	s.vlan = 10;
	/* br0 does not filter VLANs: the kernel's EINVAL comes through. */
	assert_int_equal(fdb_replace(&s), -EINVAL);
	assert_int_equal(fdb_get(&m, NULL, FDB_VLAN_ANY, &e), -ENOENT);
}

static void vxlan_remote(void **state)
{
	struct mac m = mk(0x50);
	struct fdb_spec s = remote_spec(&m, "vx1", "198.18.1.1");
	struct fdb_entry e;
	struct census c;
	char ip[INET_ADDRSTRLEN];

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_get(&m, "vx1", FDB_VLAN_NONE, &e), 0);
	assert_int_equal(e.ifindex, idx("vx1"));
	assert_true(e.has_dst);
	assert_string_equal(inet_ntop(AF_INET, &e.dst, ip, sizeof(ip)), "198.18.1.1");
	assert_true(e.is_self);
	assert_false(e.is_master);
	assert_true(e.is_static);
	assert_false(e.local);
	assert_int_equal(e.master_ifindex, 0);
	assert_int_equal(fdb_check(&s, NULL), 0);

	/* Replace the remote: still one entry, new dst. */
	s = remote_spec(&m, "vx1", "198.18.1.2");
	assert_int_equal(fdb_check(&s, NULL), -ESTALE);
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_get(&m, "vx1", FDB_VLAN_ANY, &e), 0);
	assert_string_equal(inet_ntop(AF_INET, &e.dst, ip, sizeof(ip)), "198.18.1.2");
	c = census(&m, "vx1", FDB_VLAN_ANY);
	assert_int_equal(c.self, 1);
	assert_int_equal(fdb_check(&s, NULL), 0);
	/* 0.0.0.0 checks for any remote. */
	s.dst.s_addr = 0;
	assert_int_equal(fdb_check(&s, NULL), 0);
}

static void vxlan_port_move(void **state)
{
	struct mac m = mk(0x60);
	struct fdb_spec s = port_spec(&m, "v1", true), r = remote_spec(&m, "vx0", "198.18.1.3");
	struct fdb_entry e;
	struct census c;
	char ip[INET_ADDRSTRLEN];

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	/* Away over VXLAN: the bridge entry follows to vx0, vx0 knows the VTEP. */
	assert_int_equal(fdb_replace(&r), 0);
	assert_int_equal(fdb_get(&m, "br0", FDB_VLAN_ANY, &e), 0);
	assert_int_equal(e.ifindex, idx("vx0"));
	assert_true(e.is_master);
	assert_true(e.has_dst);
	assert_string_equal(inet_ntop(AF_INET, &e.dst, ip, sizeof(ip)), "198.18.1.3");
	c = census(&m, NULL, FDB_VLAN_ANY);
	assert_int_equal(c.master, 1);
	assert_int_equal(c.self, 1);
	assert_int_equal(fdb_check(&r, NULL), 0);
	assert_int_equal(fdb_check(&s, NULL), -ESTALE);

	/* Back to a local port: vx0's own entry for the MAC goes too. */
	s.dev = "v2";
	assert_int_equal(fdb_replace(&s), 0);
	c = census(&m, NULL, FDB_VLAN_ANY);
	assert_int_equal(c.master, 1);
	assert_int_equal(c.self, 0);
	assert_int_equal(c.ifindex, idx("v2"));
	assert_int_equal(fdb_check(&s, NULL), 0);
	assert_int_equal(fdb_check(&r, NULL), -ENOENT);
}

static void delete_entries(void **state)
{
	struct mac m = mk(0x70), v = mk(0x71), b = mk(0x72);
	struct fdb_spec s = port_spec(&m, "v1", true), r = remote_spec(&v, "vx1", "198.18.1.4");
	struct fdb_spec br = remote_spec(&b, "vx0", "198.18.1.5");
	struct fdb_entry e;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	/* Only the port that holds it can delete it. */
	s.dev = "v2";
	assert_int_equal(fdb_delete(&s), -ENOENT);
	s.dev = "v1";
	assert_int_equal(fdb_delete(&s), 0);
	assert_int_equal(fdb_get(&m, NULL, FDB_VLAN_ANY, &e), -ENOENT);
	assert_int_equal(fdb_delete(&s), -ENOENT);
	assert_int_equal(fdb_check(&s, NULL), -ENOENT);

	assert_int_equal(fdb_replace(&r), 0);
	assert_int_equal(fdb_delete(&r), 0);
	assert_int_equal(fdb_get(&v, NULL, FDB_VLAN_ANY, &e), -ENOENT);
	assert_int_equal(fdb_delete(&r), -ENOENT);

	/* A VXLAN bridge port: both its entry and the bridge's go. */
	assert_int_equal(fdb_replace(&br), 0);
	assert_int_equal(census(&b, NULL, FDB_VLAN_ANY).master, 1);
	assert_int_equal(fdb_delete(&br), 0);
	assert_int_equal(fdb_get(&b, NULL, FDB_VLAN_ANY, &e), -ENOENT);
}

static int never(const struct fdb_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return 0;
}

static void bad_devices(void **state)
{
	struct mac m = mk(0x80);
	struct fdb_spec s = port_spec(&m, "nmnosuch0", true);
	struct fdb_watch *w;
	struct fdb_entry e;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), -ENODEV);
	assert_int_equal(fdb_delete(&s), -ENODEV);
	assert_int_equal(fdb_check(&s, NULL), -ENODEV);
	assert_int_equal(fdb_list("nmnosuch0", never, NULL), -ENODEV);
	assert_int_equal(fdb_get(&m, "nmnosuch0", FDB_VLAN_ANY, &e), -ENODEV);
	assert_int_equal(fdb_watch_open(&m, "nmnosuch0", &w), -ENODEV);
	assert_null(w);
	s = remote_spec(&m, "nmnosuch0", "198.18.1.1");
	assert_int_equal(fdb_replace(&s), -ENODEV);

	/* A device in no bridge, a bridge itself, a remote on a non-VXLAN. */
	s = port_spec(&m, "v1p", true);
	assert_int_equal(fdb_replace(&s), -ENOTCONN);
	s = port_spec(&m, "br0", true);
	assert_int_equal(fdb_replace(&s), -ENOTCONN);
	s = remote_spec(&m, "v1", "198.18.1.1");
	assert_int_equal(fdb_replace(&s), -EOPNOTSUPP);
	/* VLAN on a VXLAN device that is no bridge port. */
	s = remote_spec(&m, "vx1", "198.18.1.1");
	s.vlan = 10;
	assert_int_equal(fdb_replace(&s), -EINVAL);
	assert_int_equal(fdb_get(&m, NULL, FDB_VLAN_ANY, &e), -ENOENT);
	/* Bad arguments. */
	assert_int_equal(fdb_get(&m, NULL, -3, &e), -EINVAL);
	assert_int_equal(fdb_get(&m, "", FDB_VLAN_ANY, &e), -EINVAL);
	assert_int_equal(fdb_list(NULL, NULL, NULL), -EINVAL);
}

static void watch_sees_move(void **state)
{
	struct mac m = mk(0x90), other = mk(0x91);
	struct fdb_spec s = port_spec(&m, "v1", true), o = port_spec(&other, "v1", true);
	struct fdb_watch *w;
	struct fdb_event ev;
	uint64_t t0, t1, m0;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_watch_open(&m, "br0", &w), 0);
	t0 = timeutil_real_ns();
	s.dev = "v2";
	assert_int_equal(fdb_replace(&s), 0);
	assert_int_equal(fdb_watch_next(w, 2 * NSEC_PER_SEC, &ev), 0);
	t1 = timeutil_real_ns();
	assert_false(ev.deleted);
	assert_true(mac_equal(&ev.entry.mac, &m));
	assert_int_equal(ev.entry.ifindex, idx("v2"));
	assert_int_equal(ev.entry.master_ifindex, idx("br0"));
	assert_true(ev.time_ns >= t0);
	assert_true(ev.time_ns <= t1);

	/* Other MACs and other bridges are filtered out; nothing -> timeout. */
	assert_int_equal(fdb_replace(&o), 0);
	m0 = timeutil_mono_ns();
	assert_int_equal(fdb_watch_next(w, 100 * NSEC_PER_MSEC, &ev), -ETIMEDOUT);
	assert_true(timeutil_mono_ns() - m0 >= 100 * NSEC_PER_MSEC);
	assert_int_equal(fdb_watch_next(w, 0, &ev), -ETIMEDOUT);

	/* A delete is reported as such. */
	assert_int_equal(fdb_delete(&s), 0);
	assert_int_equal(fdb_watch_next(w, 2 * NSEC_PER_SEC, &ev), 0);
	assert_true(ev.deleted);
	assert_int_equal(ev.entry.ifindex, idx("v2"));
	fdb_watch_close(w);
	fdb_watch_close(NULL);
}

struct until {
	int port;
	int events;
	uint64_t time_ns;
};

static int until_port(const struct fdb_event *ev, void *arg)
{
	struct until *u = arg;

	u->events++;
	u->time_ns = ev->time_ns;
	return !ev->deleted && ev->entry.ifindex == u->port;
}

static void watch_callback(void **state)
{
	struct mac m = mk(0xa0);
	struct fdb_spec s = port_spec(&m, "v1", false);
	struct until u = { 0 };
	uint64_t t0;
	pid_t pid;
	int st;

	(void)state;
	NEED_NET();
	assert_int_equal(fdb_replace(&s), 0);
	u.port = idx("v2");
	t0 = timeutil_real_ns();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Long enough for the parent to have subscribed. */
		usleep(300000);
		s.dev = "v2";
		_exit(fdb_replace(&s) == 0 ? 0 : 1);
	}
	assert_int_equal(fdb_watch(&m, "br0", 3 * NSEC_PER_SEC, until_port, &u), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(u.events >= 1);
	assert_true(u.time_ns >= t0 + 250 * NSEC_PER_MSEC);

	/* Nothing happens: -ETIMEDOUT after the whole timeout. */
	t0 = timeutil_mono_ns();
	assert_int_equal(fdb_watch(&m, "br0", 150 * NSEC_PER_MSEC, until_port, &u),
			 -ETIMEDOUT);
	assert_true(timeutil_mono_ns() - t0 >= 150 * NSEC_PER_MSEC);
}

/* The CLI's exit codes, if the binary is built (tests run from the top). */
static int cli(const char *args)
{
	char cmd[512];
	int st;

	snprintf(cmd, sizeof(cmd), "build/netmove %s >/dev/null 2>&1", args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void cli_exit_codes(void **state)
{
	(void)state;
	NEED_NET();
	if (access("build/netmove", X_OK) != 0) {
		print_message("skip: build/netmove not built (run from the top directory)\n");
		skip();
	}
	assert_int_equal(cli("fdb --help"), 0);
	assert_int_equal(cli("fdb move --help"), 0);
	assert_int_equal(cli("fdb"), 2);
	assert_int_equal(cli("fdb frobnicate"), 2);
	assert_int_equal(cli("fdb get --mac zz:00:00:00:00:01"), 2);
	assert_int_equal(cli("fdb get --mac 02:6e:6d:fd:b0:b0 --vlan 4095"), 2);
	assert_int_equal(cli("fdb get --mac 02:6e:6d:fd:b0:b0 --dev nmnosuch0"), 2);
	assert_int_equal(cli("fdb show --port v1"), 2);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0"), 2);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0 --dev vx0"), 2);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0 --port v1 --dst 198.18.1.1"), 2);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0 --port v1 --static"), 0);
	assert_int_equal(cli("fdb get --mac 02:6e:6d:fd:b0:b0 --dev br0"), 0);
	assert_int_equal(cli("-j fdb show --dev br0"), 0);
	assert_int_equal(cli("fdb show -j --mac 02:6e:6d:fd:b0:b0"), 0);
	assert_int_equal(cli("fdb watch --mac 02:6e:6d:fd:b0:b0 --until-port v1"), 0);
	assert_int_equal(cli("fdb watch --mac 02:6e:6d:fd:b0:b0 --timeout 50"), 1);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0 --port v1p"), 3);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0 --dev v1 --dst 198.18.1.1"), 3);
	assert_int_equal(cli("fdb move --mac 02:6e:6d:fd:b0:b0 --dev vx0 --dst 198.18.1.9 -j"), 0);
	assert_int_equal(cli("fdb del --mac 02:6e:6d:fd:b0:b0 --dev vx0"), 0);
	assert_int_equal(cli("fdb del --mac 02:6e:6d:fd:b0:b0 --dev vx0"), 1);
	assert_int_equal(cli("fdb get --mac 02:6e:6d:fd:b0:b0"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spec_check_rules),
		cmocka_unit_test(nlerr_mapping),
		cmocka_unit_test(flag_words),
		cmocka_unit_test(static_entry),
		cmocka_unit_test(move_leaves_one),
		cmocka_unit_test(dynamic_entry),
		cmocka_unit_test(vlan_entries),
		cmocka_unit_test(vlan_refused_without_filtering),
		cmocka_unit_test(vxlan_remote),
		cmocka_unit_test(vxlan_port_move),
		cmocka_unit_test(delete_entries),
		cmocka_unit_test(bad_devices),
		cmocka_unit_test(watch_sees_move),
		cmocka_unit_test(watch_callback),
		cmocka_unit_test(cli_exit_codes),
	};

	return cmocka_run_group_tests_name("fdb", tests, group_setup, NULL);
}
