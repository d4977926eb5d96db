/* ovsp_conn: libopenvswitch set-up and the OpenFlow 1.4 connection, with a
 * deadline on every exchange (vconn's own *_block helpers wait forever). */
#include <config.h>

#include "ovsp_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fatal-signal.h"
#include "socket-util.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "util.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "timeval.h"

static pthread_once_t ovsp_once = PTHREAD_ONCE_INIT;

/* libopenvswitch installs handlers for these on first use (when they are at
 * SIG_DFL) and would exit the host process from inside poll_block(); keep
 * the host's own dispositions instead. */
static const int ovsp_fatal_signals[] = { SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGSEGV };

static void ovsp_init_once(void)
{
	struct sigaction saved[sizeof ovsp_fatal_signals / sizeof ovsp_fatal_signals[0]];
	size_t i, n = sizeof ovsp_fatal_signals / sizeof ovsp_fatal_signals[0];

	for (i = 0; i < n; i++)
		sigaction(ovsp_fatal_signals[i], NULL, &saved[i]);
	fatal_signal_init();
	for (i = 0; i < n; i++)
		sigaction(ovsp_fatal_signals[i], &saved[i], NULL);
	/* The library reports through err strings; OVS's own lines would
	 * interleave with the caller's output. */
	vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
	ovsp__warm();
}

void ovsp__init(void)
{
	pthread_once(&ovsp_once, ovsp_init_once);
}

void ovsp_set_log(int level)
{
	ovsp__init();
	vlog_set_levels(NULL, VLF_CONSOLE,
			level <= 0 ? VLL_OFF : level == 1 ? VLL_WARN : VLL_DBG);
}

void ovsp__sigpipe_hold(struct ovsp_sigpipe *s)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &s->old);
	sigpending(&pending);
	s->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

void ovsp__sigpipe_release(struct ovsp_sigpipe *s)
{
	sigset_t set, pending;
	struct timespec zero = { 0, 0 };

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigpending(&pending);
	/* Swallow only a SIGPIPE our own writes raised. */
	if (!s->was_pending && sigismember(&pending, SIGPIPE) == 1)
		sigtimedwait(&set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

int ovsp__fail(char **err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		if (vasprintf(err, fmt, ap) < 0)
			*err = NULL;
		va_end(ap);
	}
	return ret;
}

int ovsp__errno(int ovs_error)
{
	if (ovs_error == EOF)
		return -ECONNRESET;
	return ovs_error > 0 ? -ovs_error : -EIO;
}

const char *ovsp__strerror(int ovs_error)
{
	return ovs_error == EOF ? "connection closed by the switch" : ovs_retval_to_string(ovs_error);
}

uint32_t ovsp__xid(const struct ofpbuf *msg)
{
	const struct ofp_header *oh = msg->data;

	return ntohl(oh->xid);
}

/* "unix:" for bare paths; everything else goes to vconn as given. */
static char *ovsp_vconn_name(const char *target)
{
	if (target[0] == '/' || target[0] == '.')
		return xasprintf("unix:%s", target);
	return xstrdup(target);
}

/* Offer OpenFlow 1.0 to 1.4: negotiation picks the highest common version,
 * so a bridge that allows 1.4 gives 1.4, and one that does not gives a
 * lower version we can name in the error (offering 1.4 alone makes the
 * switch hang up with no reason). */
#define OVSP_OFFERED_VERSIONS ((1u << OFP10_VERSION) | (1u << OFP11_VERSION) | \
			       (1u << OFP12_VERSION) | (1u << OFP13_VERSION) | \
			       (1u << OFP14_VERSION))

static int ovsp_connect(struct ovsp_conn *c, char **err)
{
	int error, version;

	error = vconn_open_block(c->target, OVSP_OFFERED_VERSIONS, DSCP_DEFAULT, c->timeout_ms,
				 &c->vconn);
	if (!error) {
		version = vconn_get_version(c->vconn);
		if (version == OFP14_VERSION)
			return 0;
		ovsp__drop(c);
		return ovsp__fail(err, -EPROTONOSUPPORT,
				  "%s: the bridge does not allow OpenFlow14 (it negotiated %s; ovs-vsctl set bridge BR protocols=...,OpenFlow14)",
				  c->target, ofputil_version_to_string(version));
	}
	c->vconn = NULL;
	switch (error) {
	case ENOENT:
		return ovsp__fail(err, -ENOENT, "%s: no such socket (is ovs-vswitchd running and the bridge created?)",
				  c->target);
	case ECONNREFUSED:
		return ovsp__fail(err, -ECONNREFUSED, "%s: connection refused (ovs-vswitchd not running?)",
				  c->target);
	case EPROTO:
		return ovsp__fail(err, -EPROTONOSUPPORT,
				  "%s: OpenFlow handshake failed (%s): the bridge allows none of OpenFlow10..OpenFlow14",
				  c->target, ovsp__strerror(error));
	case EPIPE:
	case ECONNRESET:
	case EOF:
		/* A bridge that allows none of our versions may hang up, but so
		 * may a busy vSwitch (seen with a hundred connections at once). */
		return ovsp__fail(err, -ECONNRESET,
				  "%s: the switch closed the connection during the OpenFlow handshake (%s): "
				  "it allows none of OpenFlow10..OpenFlow14, or it took no more connections",
				  c->target, ovsp__strerror(error));
	case ETIMEDOUT:
		return ovsp__fail(err, -ETIMEDOUT, "%s: no OpenFlow hello within %d ms", c->target,
				  c->timeout_ms);
	default:
		return ovsp__fail(err, ovsp__errno(error), "%s: %s", c->target, ovsp__strerror(error));
	}
}

int ovsp_open(const char *target, int timeout_ms, struct ovsp_conn **connp, char **err)
{
	struct ovsp_sigpipe sp;
	struct ovsp_conn *c;
	int ret;

	*connp = NULL;
	if (!target || !*target)
		return ovsp__fail(err, -EINVAL, "no OpenFlow target given");
	ovsp__init();
	c = xzalloc(sizeof *c);
	c->target = ovsp_vconn_name(target);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : OVSP_TIMEOUT_MS;
	c->protocol = ofputil_protocol_from_ofp_version(OFP14_VERSION);
	c->next_bundle_id = 1;
	if (vconn_verify_name(c->target)) {
		ret = ovsp__fail(err, -EINVAL,
				 "%s: not an OpenFlow target (unix:PATH, tcp:IP:PORT, ssl:IP:PORT or a socket path)",
				 target);
		goto out;
	}
	ovsp__sigpipe_hold(&sp);
	ret = ovsp_connect(c, err);
	ovsp__sigpipe_release(&sp);
out:
	if (ret)
		ovsp_close(c);
	else
		*connp = c;
	return ret;
}

void ovsp_close(struct ovsp_conn *conn)
{
	if (!conn)
		return;
	vconn_close(conn->vconn);
	free(conn->target);
	free(conn);
}

const char *ovsp_target(const struct ovsp_conn *conn)
{
	return conn->target;
}

void ovsp__drop(struct ovsp_conn *c)
{
	vconn_close(c->vconn);
	c->vconn = NULL;
}

/* Handle one unsolicited message: answer echo requests, keep errors. */
static int ovsp_unsolicited(struct ovsp_conn *c, struct ofpbuf *msg, struct ovs_list *errors)
{
	const struct ofp_header *oh = msg->data;
	enum ofptype type;

	if (ofptype_decode(&type, oh)) {
		ofpbuf_delete(msg);
		return 0;
	}
	if (type == OFPTYPE_ECHO_REQUEST) {
		struct ofpbuf *reply = ofputil_encode_echo_reply(oh);

		ofpbuf_delete(msg);
		return ovsp__send(c, reply);
	}
	if (type == OFPTYPE_ERROR && errors) {
		ovs_list_push_back(errors, &msg->list_node);
		return 0;
	}
	ofpbuf_delete(msg);
	return 0;
}

int ovsp__poll(struct ovsp_conn *c, struct ovs_list *errors)
{
	for (;;) {
		struct ofpbuf *msg;
		int error;

		vconn_run(c->vconn);
		error = vconn_recv(c->vconn, &msg);
		if (error == EAGAIN)
			return 0;
		if (error)
			return error;
		error = ovsp_unsolicited(c, msg, errors);
		if (error)
			return error;
	}
}

int ovsp__begin(struct ovsp_conn *c, char **err)
{
	int error;

	c->deadline = time_msec() + c->timeout_ms;
	if (c->vconn) {
		error = ovsp__poll(c, NULL);
		if (!error)
			return 0;
		/* The switch closed an idle connection (restart, probe
		 * timeout): nothing of this call has been sent yet. */
		ovsp__drop(c);
	}
	return ovsp_connect(c, err);
}

static bool ovsp_expired(const struct ovsp_conn *c)
{
	return time_msec() >= c->deadline;
}

int ovsp__send(struct ovsp_conn *c, struct ofpbuf *msg)
{
	int error;

	while ((error = vconn_send(c->vconn, msg)) == EAGAIN) {
		if (ovsp_expired(c)) {
			error = ETIMEDOUT;
			break;
		}
		vconn_run(c->vconn);
		vconn_run_wait(c->vconn);
		vconn_send_wait(c->vconn);
		poll_timer_wait_until(c->deadline);
		poll_block();
	}
	if (error)
		ofpbuf_delete(msg);
	return error;
}

static int ovsp_recv(struct ovsp_conn *c, struct ofpbuf **msgp)
{
	int error;

	while ((error = vconn_recv(c->vconn, msgp)) == EAGAIN) {
		if (ovsp_expired(c))
			return ETIMEDOUT;
		vconn_run(c->vconn);
		vconn_run_wait(c->vconn);
		vconn_recv_wait(c->vconn);
		poll_timer_wait_until(c->deadline);
		poll_block();
	}
	return error;
}

int ovsp__recv_xid(struct ovsp_conn *c, uint32_t xid, struct ofpbuf **replyp,
		   struct ovs_list *errors)
{
	*replyp = NULL;
	for (;;) {
		struct ofpbuf *msg;
		int error;

		error = ovsp_recv(c, &msg);
		if (error)
			return error;
		if (ovsp__xid(msg) == xid) {
			*replyp = msg;
			return 0;
		}
		error = ovsp_unsolicited(c, msg, errors);
		if (error)
			return error;
	}
}
