/* fdb: read, change and watch the forwarding database of Linux bridges and
 * VXLAN devices (AF_BRIDGE neighbours, through libnl-route).  Everything acts
 * on the caller's current network namespace.  Errors are negative errnos;
 * kernel refusals keep the kernel's errno and fdb_errmsg() has its text. */
#ifndef NETMOVE_FDB_H
#define NETMOVE_FDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "netmove/mac.h"

/* Interface name size including the NUL (the kernel's IFNAMSIZ). */
#define FDB_IFNAMSIZ 16
/* Entry or spec without a VLAN. */
#define FDB_VLAN_NONE (-1)
/* fdb_get: any VLAN, an entry without one preferred. */
#define FDB_VLAN_ANY (-2)
/* fdb_watch_next / fdb_watch: no time limit. */
#define FDB_FOREVER UINT64_MAX

/* One FDB entry as the kernel reports it. */
struct fdb_entry {
	struct mac mac;			/* the Ethernet address */
	int ifindex;			/* port or device the entry points at */
	char ifname[FDB_IFNAMSIZ];	/* its name, "" if it vanished */
	int master_ifindex;		/* bridge owning the entry, 0 if none */
	char master_name[FDB_IFNAMSIZ];	/* its name, "" if none */
	int vlan;			/* VLAN id or FDB_VLAN_NONE */
	bool has_dst;			/* dst is valid (VXLAN remote, IPv4) */
	struct in_addr dst;		/* VXLAN remote VTEP */
	bool is_static;			/* never ages: NUD_NOARP or NUD_PERMANENT */
	bool local;			/* the bridge's or a port's own address */
	bool extern_learn;		/* NTF_EXT_LEARNED: put there by a driver or controller */
	bool is_self;			/* NTF_SELF: in the device's own table */
	bool is_master;			/* NTF_MASTER: in the master bridge's table */
	uint16_t state;			/* raw NUD_* state */
	uint8_t flags;			/* raw NTF_* flags */
	int64_t age_ms;			/* ms since the last update, -1 if unknown */
};

/* What fdb_replace, fdb_check and fdb_delete act on. */
struct fdb_spec {
	struct mac mac;			/* unicast, non-zero address */
	const char *dev;		/* bridge port, or the VXLAN device if remote */
	int vlan;			/* 1..4094 or FDB_VLAN_NONE */
	bool is_static;			/* NUD_NOARP (never ages) instead of NUD_REACHABLE */
	bool remote;			/* VXLAN: MAC -> dst on dev (NTF_SELF, NDA_DST) */
	struct in_addr dst;		/* remote VTEP if remote (0.0.0.0: any, not for replace) */
};

/* A change reported by fdb_watch_next. */
struct fdb_event {
	bool deleted;			/* RTM_DELNEIGH (entry gone) instead of RTM_NEWNEIGH */
	uint64_t time_ns;		/* CLOCK_REALTIME when the message was received */
	struct fdb_entry entry;		/* the entry as reported */
};

/* An open subscription to FDB changes (opaque). */
struct fdb_watch;

/* Visitor for fdb_list: return 0 to go on, anything else to stop. */
typedef int (*fdb_entry_fn)(const struct fdb_entry *e, void *arg);

/* Visitor for fdb_watch: 0 goes on, > 0 stops (fdb_watch returns 0), < 0
 * stops and is returned. */
typedef int (*fdb_event_fn)(const struct fdb_event *ev, void *arg);

/* Validate a spec without touching the kernel: 0 or -EINVAL (bad MAC, dev
 * name or VLAN; broadcast dst; dst without remote). */
int fdb_spec_check(const struct fdb_spec *spec);

/* Call fn for every entry; with dev, only those whose master is dev or which
 * sit on dev itself.  Returns 0, fn's non-zero value, -ENODEV for an unknown
 * dev, or another negative errno. */
int fdb_list(const char *dev, fdb_entry_fn fn, void *arg);

/* The entry for mac (on bridge or device dev, NULL for any) in vlan (an id,
 * FDB_VLAN_NONE or FDB_VLAN_ANY).  Prefers a non-local bridge (master) entry;
 * if that entry has no dst, dst is taken from the device's own entry (a VXLAN
 * port).  Returns 0, -ENOENT if there is none, -ENODEV for an unknown dev. */
int fdb_get(const struct mac *mac, const char *dev, int vlan, struct fdb_entry *out);

/* Create or replace (NLM_F_CREATE | NLM_F_REPLACE) an entry.  Port spec: MAC
 * -> bridge port dev (NTF_MASTER); entries for the MAC on other ports of the
 * same bridge (in spec->vlan, or in any VLAN when it is FDB_VLAN_NONE) are
 * removed, and so are VXLAN entries for it on other ports of the bridge, so
 * one port is left.  Remote spec: MAC -> dst on VXLAN device dev
 * (NTF_SELF); if dev is a bridge port the bridge's entry is pointed at dev
 * too (spec->vlan applies to that one only, and needs such a port).
 * Returns 0, -EINVAL for a bad spec (or a remote one without dst), -ENODEV,
 * -ENOTCONN if a port spec's dev is in no bridge, -EOPNOTSUPP if its master
 * is no Linux bridge or a remote spec's dev is no VXLAN device, or the
 * kernel's errno. */
int fdb_replace(const struct fdb_spec *spec);

/* Read back what fdb_replace should have left.  Returns 0 (out, if not NULL,
 * is the entry: the bridge entry for a port spec, the VXLAN entry for a
 * remote one), -ENOENT if there is no entry, -ESTALE if it differs (other
 * port, dst or state, or another port still holds the MAC); out is filled
 * with what was found in that case too. */
int fdb_check(const struct fdb_spec *spec, struct fdb_entry *out);

/* Delete the entry a spec names (is_static is ignored; for a remote spec the
 * whole VXLAN entry goes, and the bridge's entry pointing at dev if any).
 * Returns 0, -ENOENT if there was none, or the errors of fdb_replace. */
int fdb_delete(const struct fdb_spec *spec);

/* Subscribe to RTNLGRP_NEIGH for changes of mac (NULL: every MAC) whose master
 * is dev or which sit on dev (NULL: anywhere).  Changes made after this
 * returns are seen.  Returns 0 or a negative errno (-ENODEV). */
int fdb_watch_open(const struct mac *mac, const char *dev, struct fdb_watch **out);

/* Wait up to timeout_ns (FDB_FOREVER: no limit, 0: only what is queued) for
 * the next matching change.  Returns 0, -ETIMEDOUT, -ENOBUFS if the socket
 * overflowed and changes were lost, or another negative errno. */
int fdb_watch_next(struct fdb_watch *w, uint64_t timeout_ns, struct fdb_event *ev);

/* Close a subscription (NULL is fine). */
void fdb_watch_close(struct fdb_watch *w);

/* fdb_watch_open + fdb_watch_next until fn stops or timeout_ns (for the whole
 * call) runs out: returns 0, fn's negative value, -ETIMEDOUT or an error. */
int fdb_watch(const struct mac *mac, const char *dev, uint64_t timeout_ns,
	      fdb_event_fn fn, void *arg);

/* Most words fdb_flag_names returns. */
#define FDB_FLAG_NAMES_MAX 6

/* Names for an entry's state and flags: names[0] is "local", "static" or
 * "dynamic", then any of "master", "self", "extern_learn", "offload",
 * "sticky".  names needs FDB_FLAG_NAMES_MAX slots; returns the count. */
int fdb_flag_names(const struct fdb_entry *e, const char **names);

/* The same words comma-separated ("static,master") into buf; returns buf. */
char *fdb_flags_format(const struct fdb_entry *e, char *buf, size_t len);

/* Map a libnl NLE_* code (either sign) to a negative errno (0 stays 0). */
int fdb_nlerr(int nlerr);

/* The kernel's extended-ack message for the last failed request of this
 * thread, "" if it gave none. */
const char *fdb_errmsg(void);

#endif
