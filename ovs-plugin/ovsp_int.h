/* ovsp internals shared by the ovs-plugin/ sources (OVS types allowed here,
 * never in ovsp.h).  Include <config.h> before this header. */
#ifndef NETMOVE_OVSP_INT_H
#define NETMOVE_OVSP_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/list.h"
#include "openvswitch/ofp-protocol.h"

#include "ovsp.h"

struct jsonrpc;
struct jsonrpc_msg;
struct ofpbuf;
struct vconn;

struct ovsp_conn {
	struct vconn *vconn;		/* NULL after a broken call: reopened lazily */
	char *target;			/* vconn name, "unix:..." */
	int timeout_ms;			/* per-call budget */
	long long deadline;		/* time_msec() bound of the current call */
	enum ofputil_protocol protocol;	/* OFPUTIL_P_OF14_OXM */
	uint32_t next_bundle_id;	/* bundle ids are per connection */
};

/* SIGPIPE held off for the duration of one public call. */
struct ovsp_sigpipe {
	sigset_t old;		/* mask to restore */
	bool was_pending;	/* a SIGPIPE was pending before the call */
};

/* One-time set-up of libopenvswitch (logging off, no signal handlers). */
void ovsp__init(void);
/* Build OVS's lazily initialised parser and message tables (about 1 ms on
 * first use) so that the first bundle does not pay for them. */
void ovsp__warm(void);
void ovsp__sigpipe_hold(struct ovsp_sigpipe *s);
void ovsp__sigpipe_release(struct ovsp_sigpipe *s);

/* Set *err (if err) to a formatted malloc'd message; returns ret. */
int ovsp__fail(char **err, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* OVS error value (positive errno or EOF) to a negative errno. */
int ovsp__errno(int ovs_error);
/* Text of an OVS error value. */
const char *ovsp__strerror(int ovs_error);

/* Start a call: set the deadline, answer pending echo requests, reconnect a
 * broken connection. */
int ovsp__begin(struct ovsp_conn *c, char **err);
/* Close the vconn after a failure mid-transaction (OVS then discards an
 * uncommitted bundle); the next call reconnects. */
void ovsp__drop(struct ovsp_conn *c);
/* Send within the deadline; always consumes msg.  Returns 0 or an OVS error
 * value (positive errno, EOF, ETIMEDOUT). */
int ovsp__send(struct ovsp_conn *c, struct ofpbuf *msg);
/* Receive the reply with `xid` within the deadline.  Echo requests are
 * answered; OpenFlow errors with other xids go to `errors` (if non-NULL),
 * anything else is dropped. */
int ovsp__recv_xid(struct ovsp_conn *c, uint32_t xid, struct ofpbuf **replyp,
		   struct ovs_list *errors);
/* Collect what already arrived without waiting (errors into `errors`). */
int ovsp__poll(struct ovsp_conn *c, struct ovs_list *errors);
/* xid of an encoded OpenFlow message, host order. */
uint32_t ovsp__xid(const struct ofpbuf *msg);

/* Send a JSON-RPC `request` (consumed) on rpc and wait for the reply with
 * its id until `deadline` (time_msec()).  Returns 0 with *replyp (a reply or
 * an error reply, the caller's) or an OVS error value (ETIMEDOUT, EOF, ...). */
int ovsp__rpc_transact(struct jsonrpc *rpc, struct jsonrpc_msg *request, long long deadline,
		       struct jsonrpc_msg **replyp);

#endif
