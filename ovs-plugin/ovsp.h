/* ovsp: program an Open vSwitch bridge in-process through libopenvswitch.
 *
 * Two channels, one handle each:
 *   struct ovsp_conn  OpenFlow 1.4 to the bridge (flows in atomic bundles,
 *                     port lookup, flow read-back);
 *   struct ovsp_ctl   ovs-vswitchd's unixctl socket (the MAC-learning
 *                     table: "fdb/add", "fdb/del", "fdb/show").
 *
 * Every call returns 0 or a negative errno.  Calls that talk to OVS take a
 * `char **err` (may be NULL): on failure it receives a malloc'd message that
 * carries OVS's own error text where OVS gave one; the caller frees it.
 * *err is only written on failure and never read.
 * Errors that matter to callers:
 *   -EPROTO           OVS answered with an error (OpenFlow error or unixctl
 *                     error reply); nothing of the request took effect
 *   -EINVAL           bad input, e.g. a flow OVS's parser rejects
 *   -ENOENT           no such port / entry, or no socket at the path
 *   -EPROTONOSUPPORT  the bridge does not speak OpenFlow 1.4
 *   -ETIMEDOUT        OVS did not answer within the handle's timeout
 *   -ECONNRESET etc.  the connection broke
 * Handles are not thread-safe: use one per thread.  OVS's logging is off
 * (see ovsp_set_log) and its fatal-signal handlers are not left installed;
 * SIGPIPE is held off during each call, so callers need not ignore it. */
#ifndef NETMOVE_OVSP_H
#define NETMOVE_OVSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default per-call timeout, milliseconds. */
#define OVSP_TIMEOUT_MS 5000
/* Default priority of a VM's flows. */
#define OVSP_VM_PRIORITY 200
/* Top 16 bits of every cookie netmove installs ("NM"); the low 48 bits hold
 * the VM's MAC. */
#define OVSP_COOKIE_TAG 0x4e4d000000000000ULL
/* Mask selecting the tag bits of a cookie. */
#define OVSP_COOKIE_TAG_MASK 0xffff000000000000ULL
/* OpenFlow port number of a bridge's local port ("LOCAL"). */
#define OVSP_OFPORT_LOCAL 0xfffeU

/* An OpenFlow 1.4 connection to one bridge (opaque). */
struct ovsp_conn;
/* A connection to ovs-vswitchd's unixctl socket (opaque). */
struct ovsp_ctl;

/* Console logging of libopenvswitch: 0 off (default), 1 warnings, 2 debug. */
void ovsp_set_log(int level);

/* Connect to `target` ("unix:/path/br-int.mgmt", "tcp:IP:PORT"; a bare path
 * means unix:PATH) and negotiate OpenFlow 1.4.  timeout_ms <= 0 means
 * OVSP_TIMEOUT_MS; it bounds this call and every later call on the handle. */
int ovsp_open(const char *target, int timeout_ms, struct ovsp_conn **connp,
	      char **err);

/* Close and free; NULL is fine. */
void ovsp_close(struct ovsp_conn *conn);

/* The target the handle was opened with. */
const char *ovsp_target(const struct ovsp_conn *conn);

/* Send n flow_mods, each in ovs-ofctl syntax with an optional leading
 * command ("add", "modify", "modify_strict", "delete", "delete_strict";
 * none means add), in one atomic and ordered OpenFlow 1.4 bundle.  All or
 * nothing: on any parse or OVS error nothing is committed, and *err names
 * the failing entries ("flow N (TEXT): OFPxxx_NAME: description").
 * n == 0 is a no-op. */
int ovsp_bundle(struct ovsp_conn *conn, const char *const *flow_mods, size_t n,
		char **err);

/* The cookie of a VM's flows: OVSP_COOKIE_TAG | the 48-bit MAC. */
uint64_t ovsp_vm_cookie(const uint8_t mac[6]);

/* One bundle: remove every flow with the VM's cookie, then add
 * "dl_dst=MAC actions=output:ofport" at `priority` (0 = OVSP_VM_PRIORITY).
 * Idempotent; replaces an earlier install or redirect of the same MAC. */
int ovsp_vm_install(struct ovsp_conn *conn, const uint8_t mac[6],
		    uint32_t ofport, uint16_t priority, char **err);

/* Same as ovsp_vm_install with the uplink's port: frames for the VM that
 * this host forwards leave through `uplink_ofport` (source host after the
 * VM left).  Frames that still come in on the uplink (the upstream switch
 * has not seen the move yet) cannot go back out of it: with `old_ofport`
 * (not 0) a second flow, one priority higher, sends those to the VM's old
 * port, where its buffer takes them to follow the VM; with 0 they are
 * dropped. */
int ovsp_vm_redirect(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t uplink_ofport,
		     uint32_t old_ofport, uint16_t priority, char **err);

/* Remove every flow carrying the VM's cookie; absent flows are not an
 * error. */
int ovsp_vm_remove(struct ovsp_conn *conn, const uint8_t mac[6], char **err);

/* OpenFlow port number of the port whose interface is `ifname`
 * (OFPMP_PORT_DESC); -ENOENT if the bridge has no such port. */
int ovsp_ofport(struct ovsp_conn *conn, const char *ifname, uint32_t *ofport,
		char **err);

/* One flow as read back from the bridge. */
struct ovsp_flow {
	uint64_t cookie;	/* the flow's cookie */
	uint8_t table;		/* OpenFlow table id */
	uint16_t priority;	/* flow priority */
	uint64_t n_packets;	/* packets matched (UINT64_MAX if unknown) */
	uint64_t n_bytes;	/* bytes matched (UINT64_MAX if unknown) */
	const char *match;	/* match in ovs-ofctl syntax, "" for catch-all */
	const char *actions;	/* actions in ovs-ofctl syntax */
};

/* Called once per flow; the strings live until it returns.  A non-zero
 * return stops the dump and is returned by ovsp_flows_dump. */
typedef int (*ovsp_flow_fn)(const struct ovsp_flow *flow, void *arg);

/* Read back the flows of every table whose cookie matches `cookie` under
 * `mask` (mask 0 = all flows).  fn may be NULL; *count (may be NULL)
 * receives the number of flows seen. */
int ovsp_flows_dump(struct ovsp_conn *conn, uint64_t cookie, uint64_t mask,
		    ovsp_flow_fn fn, void *arg, size_t *count, char **err);

/* The name of the Interface whose external_ids:attached-mac is mac (the
 * hypervisor records it: libvirt does, OVN expects it), asked of OVSDB at db
 * ("unix:PATH") within timeout_ms (<= 0: OVSP_TIMEOUT_MS).  Returns 0,
 * -ENOENT (no such interface), -EEXIST (several), or another negative errno,
 * with *err set. */
int ovsp_iface_by_mac(const char *db, const uint8_t mac[6], int timeout_ms, char *name,
		      size_t len, char **err);

/* Connect to ovs-vswitchd's unixctl socket (e.g. $OVS_RUNDIR/
 * ovs-vswitchd.PID.ctl; a relative path is taken from OVS's run dir).
 * timeout_ms <= 0 means OVSP_TIMEOUT_MS. */
int ovsp_ctl_open(const char *path, int timeout_ms, struct ovsp_ctl **ctlp,
		  char **err);

/* Close and free; NULL is fine. */
void ovsp_ctl_close(struct ovsp_ctl *ctl);

/* Run any unixctl command (as ovs-appctl would).  On success *reply (may be
 * NULL) gets the malloc'd reply body; an error reply gives -EPROTO with
 * OVS's text in *err. */
int ovsp_ctl_command(struct ovsp_ctl *ctl, const char *command, int argc,
		     const char *const *argv, char **reply, char **err);

/* An entry of a bridge's MAC-learning table. */
struct ovsp_fdb_entry {
	uint8_t mac[6];		/* the learned MAC */
	int vlan;		/* VLAN id (0 for untagged) */
	uint32_t ofport;	/* OpenFlow port number (OVSP_OFPORT_LOCAL) */
	bool is_static;		/* added by fdb/add: never ages, never relearned */
	int age;		/* seconds since last seen; -1 when static */
};

/* Point the MAC's entry at port `port` (a bridge port name) through
 * "fdb/add BRIDGE PORT VLAN MAC".  The entry becomes static: it does not age
 * and frames from the MAC elsewhere do not move it, until ovsp_fdb_del.
 * Idempotent. */
int ovsp_fdb_move(struct ovsp_ctl *ctl, const char *bridge,
		  const uint8_t mac[6], const char *port, int vlan, char **err);

/* Remove the MAC's static entry ("fdb/del BRIDGE VLAN MAC") so the bridge
 * learns it again.  No static entry is not an error; *removed (may be NULL)
 * says whether one was removed. */
int ovsp_fdb_del(struct ovsp_ctl *ctl, const char *bridge,
		 const uint8_t mac[6], int vlan, bool *removed, char **err);

/* Called once per entry; non-zero stops the walk and is returned. */
typedef int (*ovsp_fdb_fn)(const struct ovsp_fdb_entry *entry, void *arg);

/* Walk the bridge's MAC-learning table ("fdb/show BRIDGE"). */
int ovsp_fdb_dump(struct ovsp_ctl *ctl, const char *bridge, ovsp_fdb_fn fn,
		  void *arg, char **err);

/* The entry for (mac, vlan); -ENOENT if the bridge has none. */
int ovsp_fdb_lookup(struct ovsp_ctl *ctl, const char *bridge,
		    const uint8_t mac[6], int vlan, struct ovsp_fdb_entry *entry,
		    char **err);

#endif
