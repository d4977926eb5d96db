/* nm-libvirt: netmove's libvirt daemon, one per host.  libvirt has no hook
 * at the switchover, so this turns its domain lifecycle events into the
 * agent's events (see nm-libvirt(8)):
 *   source, SUSPENDED MIGRATED                 -> blackout (the event's time)
 *   source, RESUMED after that                 -> failed, then resumed (the
 *                                                 migration failed, the VM
 *                                                 runs here again)
 *   destination, STARTED MIGRATED then RESUMED -> resumed (switchover)
 *   STOPPED                                    -> forget the domain
 * for each netmove (Open vSwitch) interface of the domain.  The interfaces
 * are read from the domain XML ahead of time (at connect, STARTED, DEFINED,
 * device hotplug) so the blackout is not delayed by an XML fetch.  The PULL
 * that prepares a relocation is nm-libvirt-hook's job.  Its events come on a
 * read-only connection; it reconnects when libvirt goes away.  A thread
 * (rxrings.h) learns each NIC's RX ring through the QEMU monitor
 * passthrough, so that a blackout can name the last frame the guest
 * received (guestrx.h): the frames QEMU took from the tap after that one
 * were lost inside QEMU, and the source agent sends them on. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "rxrings.h"
#include "netmove/agentc.h"
#include "netmove/log.h"
#include "netmove/mac.h"
#include "netmove/timeutil.h"

/* Exit codes (nm-libvirt(8)). */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

#define DEFAULT_URI "qemu:///system"
#define RECONNECT_MS 200
/* A libvirtd that stops answering is given up after 5 s x (3 + 1). */
#define KEEPALIVE_INTERVAL_S 5
#define KEEPALIVE_COUNT 3
/* Domains tracked at once (running, defined or migrating). */
#define MAX_DOMS 256

struct opts {
	const char *uri;		/* --connect */
	const char *socket;		/* --socket: this host's netmoved */
	bool no_rx_ring;		/* --no-rx-ring */
};

/* What one domain is doing, as far as its events told. */
struct dom {
	bool used;			/* slot in use */
	char uuid[VIR_UUID_STRING_BUFLEN]; /* the key */
	char name[DOMXML_NAME_SIZE];	/* for the log */
	bool have_ifaces;		/* x holds its interfaces */
	bool incoming;			/* STARTED MIGRATED: arriving here, not resumed yet */
	bool outgoing;			/* SUSPENDED MIGRATED: blackout signalled here */
	struct domxml_domain x;		/* its netmove interfaces */
};

struct daemon {
	const struct opts *o;
	virConnectPtr conn;		/* NULL while disconnected */
	int cb_lifecycle;		/* event callback ids, -1 when not registered */
	int cb_added;
	int cb_removed;
	bool closed;			/* libvirt's close callback fired */
	struct rxrings *rx;		/* the NICs' RX rings, NULL: not learnt */
	struct dom doms[MAX_DOMS];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

#define logf_(...) log_line("nm-libvirt", __VA_ARGS__)

/* libvirt prints every error to stderr by default; they are logged here,
 * with context, instead. */
static void quiet_errors(void *arg, virErrorPtr err)
{
	(void)arg;
	(void)err;
}

static const char *verr(void)
{
	const char *m = virGetLastErrorMessage();

	return m && *m ? m : "unknown libvirt error";
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nm-libvirt [--connect URI] [--socket PATH] [--no-rx-ring]\n\n"
		"Turn libvirt's domain lifecycle events into netmove events (one per host).\n"
		"  --connect URI  libvirt connection (default: %s): events on a\n"
		"                 read-only one; a read-write one learns the NICs' RX rings\n"
		"  --socket PATH  this host's netmoved (default: $NETMOVE_SOCKET or\n"
		"                 /run/netmove/netmoved.sock)\n"
		"  --no-rx-ring   do not learn the RX rings (QEMU monitor passthrough):\n"
		"                 a frame QEMU drops while it stops is then lost\n"
		"exit codes: 0 stopped by a signal, 1 failure, 2 usage\n",
		DEFAULT_URI);
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "no-rx-ring", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': o->uri = optarg; break;
		case 's': o->socket = optarg; break;
		case 'R': o->no_rx_ring = true; break;
		case 'h': usage(stdout); exit(EX_OK);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nm-libvirt: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->uri)
		o->uri = DEFAULT_URI;
	if (!*o->uri || (o->socket && !*o->socket)) {
		fprintf(stderr, "nm-libvirt: --connect and --socket need a value\n");
		return -EINVAL;
	}
	if (!o->socket)
		o->socket = agentc_socket();
	return 0;
}

/* ---- names for the log ---- */

static const char *event_name(int ev)
{
	static const char *const n[] = {
		"DEFINED", "UNDEFINED", "STARTED", "SUSPENDED", "RESUMED", "STOPPED",
		"SHUTDOWN", "PMSUSPENDED", "CRASHED",
	};

	return ev >= 0 && ev < (int)(sizeof(n) / sizeof(n[0])) ? n[ev] : "?";
}

static const char *detail_name(int ev, int detail)
{
	static const char *const defined[] = { "ADDED", "UPDATED", "RENAMED", "FROM_SNAPSHOT" };
	static const char *const undefined[] = { "REMOVED", "RENAMED" };
	static const char *const started[] = { "BOOTED", "MIGRATED", "RESTORED", "FROM_SNAPSHOT",
						"WAKEUP" };
	static const char *const suspended[] = { "PAUSED", "MIGRATED", "IOERROR", "WATCHDOG",
						  "RESTORED", "FROM_SNAPSHOT", "API_ERROR",
						  "POSTCOPY", "POSTCOPY_FAILED" };
	static const char *const resumed[] = { "UNPAUSED", "MIGRATED", "FROM_SNAPSHOT",
						"POSTCOPY", "POSTCOPY_FAILED" };
	static const char *const stopped[] = { "SHUTDOWN", "DESTROYED", "CRASHED", "MIGRATED",
						"SAVED", "FAILED", "FROM_SNAPSHOT" };
#define PICK(t) (detail >= 0 && detail < (int)(sizeof(t) / sizeof(t[0])) ? t[detail] : "?")
	switch (ev) {
	case VIR_DOMAIN_EVENT_DEFINED: return PICK(defined);
	case VIR_DOMAIN_EVENT_UNDEFINED: return PICK(undefined);
	case VIR_DOMAIN_EVENT_STARTED: return PICK(started);
	case VIR_DOMAIN_EVENT_SUSPENDED: return PICK(suspended);
	case VIR_DOMAIN_EVENT_RESUMED: return PICK(resumed);
	case VIR_DOMAIN_EVENT_STOPPED: return PICK(stopped);
	default: return "";
	}
#undef PICK
}

/* ---- the domain table ---- */

static const char *dom_name(virDomainPtr dom)
{
	const char *n = virDomainGetName(dom);

	return n ? n : "?";
}

static struct dom *dom_find(struct daemon *d, const char *uuid)
{
	size_t i;

	for (i = 0; i < MAX_DOMS; i++)
		if (d->doms[i].used && !strcmp(d->doms[i].uuid, uuid))
			return &d->doms[i];
	return NULL;
}

/* The entry for dom, created when create is set (a full table gives up a
 * domain that is not migrating).  NULL if none. */
static struct dom *dom_get(struct daemon *d, virDomainPtr dom, bool create)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	const char *name;
	struct dom *m = NULL;
	size_t i;

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return NULL;
	m = dom_find(d, uuid);
	if (m || !create)
		return m;
	for (i = 0; i < MAX_DOMS && !m; i++)
		if (!d->doms[i].used)
			m = &d->doms[i];
	for (i = 0; i < MAX_DOMS && !m; i++)
		if (!d->doms[i].incoming && !d->doms[i].outgoing)
			m = &d->doms[i];
	if (!m) {
		logf_("%s: more than %d domains migrating: not tracked", dom_name(dom), MAX_DOMS);
		return NULL;
	}
	memset(m, 0, sizeof(*m));
	m->used = true;
	snprintf(m->uuid, sizeof(m->uuid), "%s", uuid);
	name = virDomainGetName(dom);
	snprintf(m->name, sizeof(m->name), "%s", name ? name : uuid);
	return m;
}

/* Read the domain's netmove interfaces from its XML (live or inactive). */
static int dom_refresh(struct dom *m, virDomainPtr dom)
{
	char err[256], list[400], mac_s[MAC_STRLEN];
	size_t i, n = 0;
	char *xml;
	int r, k;

	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		logf_("%s: virDomainGetXMLDesc: %s", m->name, verr());
		m->have_ifaces = false;
		return -EIO;
	}
	r = domxml_parse(xml, strlen(xml), &m->x, err, sizeof(err));
	free(xml);
	m->have_ifaces = r == 0;
	if (r < 0) {
		logf_("%s: domain XML: %s", m->name, err);
		return r;
	}
	list[0] = 0;
	for (i = 0; i < m->x.n_ifaces && n < sizeof(list); i++) {
		k = snprintf(list + n, sizeof(list) - n, " %s%s%s",
			     mac_format(&m->x.ifaces[i].mac, mac_s),
			     m->x.ifaces[i].target[0] ? "@" : "", m->x.ifaces[i].target);
		n += k > 0 ? (size_t)k : 0;
	}
	if (m->x.n_ifaces)
		logf_("%s: netmove interfaces:%s", m->name, list);
	return 0;
}

/* ---- the agent ---- */

/* Signal kind for every netmove interface of m; stopped_us as in
 * agentc_event (0: none). */
static void signal_all(struct daemon *d, struct dom *m, const char *kind, uint64_t stopped_us)
{
	char line[512], why[128] = "";
	size_t i;

	if (!m->have_ifaces) {
		logf_("%s: %s: the domain's interfaces are unknown: netmove not told", m->name, kind);
		return;
	}
	for (i = 0; i < m->x.n_ifaces; i++) {
		/* libvirt runs QEMU: its user-space net keeps one frame it reads
		 * after the stop, and may drop one before; the guest's RX ring
		 * tells which it got last. */
		struct agentc_stop st = { .stopped_us = stopped_us,
					  .flags = stopped_us ? AGENTC_READER_KEEPS_ONE : 0 };

		if (stopped_us && d->rx)
			rxrings_last(d->rx, &m->x.ifaces[i].mac, &st, why, sizeof(why));
		agentc_event_logged(d->o->socket, kind, &m->x.ifaces[i].mac, &st, line,
				    sizeof(line));
		if (st.flags & AGENTC_LAST_RX)
			logf_("%s: %s (the guest's last readable frame: %u bytes, hash %08x, %u "
			      "buffers after it)", m->name, line, st.rx.len, st.rx.hash,
			      st.rx.nafter);
		else
			logf_("%s: %s%s%s", m->name, line, why[0] ? "; the guest's last frame: " : "",
			      why);
	}
}

/* ---- libvirt's events ---- */

static void on_suspended(struct daemon *d, struct dom *m, virDomainPtr dom, int detail,
			 uint64_t now_us)
{
	if (detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY ||
	    detail == VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED) {
		logf_("%s: post-copy migration is not handled by netmove", m->name);
		return;
	}
	if (detail != VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED || m->outgoing)
		return;
	if (m->incoming) {
		logf_("%s: paused while arriving here: not a blackout", m->name);
		return;
	}
	m->outgoing = true;
	/* Only if the cache could not be filled earlier: this costs blackout time. */
	if (!m->have_ifaces)
		dom_refresh(m, dom);
	signal_all(d, m, "blackout", now_us);
}

static void on_resumed(struct daemon *d, struct dom *m, int detail)
{
	if (detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY ||
	    detail == VIR_DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED) {
		if (m->incoming || m->outgoing)
			logf_("%s: post-copy migration is not handled by netmove", m->name);
		return;
	}
	if (m->incoming && (detail == VIR_DOMAIN_EVENT_RESUMED_MIGRATED ||
			    detail == VIR_DOMAIN_EVENT_RESUMED_UNPAUSED)) {
		/* UNPAUSED: a migration with --suspend, resumed by hand later. */
		m->incoming = false;
		signal_all(d, m, "resumed", 0);
	} else if (m->outgoing) {
		/* Whatever the detail: the VM runs here again, the migration failed. */
		m->outgoing = false;
		signal_all(d, m, "failed", 0);
		signal_all(d, m, "resumed", 0);
	}
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			void *opaque)
{
	/* First: the blackout's timestamp is when the event arrived. */
	uint64_t now_us = timeutil_real_ns() / NSEC_PER_USEC;
	struct daemon *d = opaque;
	const char *detail_s;
	struct dom *m;

	(void)conn;
	m = dom_get(d, dom, event == VIR_DOMAIN_EVENT_DEFINED || event == VIR_DOMAIN_EVENT_STARTED ||
			       event == VIR_DOMAIN_EVENT_SUSPENDED);
	detail_s = detail_name(event, detail);
	logf_("%s: %s%s%s%s%s", m ? m->name : dom_name(dom), event_name(event),
	      *detail_s ? " " : "", detail_s, m && m->incoming ? " (arriving here)" : "",
	      m && m->outgoing ? " (leaving, blackout signalled)" : "");
	if (!m)
		return 0;
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		dom_refresh(m, dom);
		break;
	case VIR_DOMAIN_EVENT_UNDEFINED:
		/* A running domain that is undefined goes on, transient. */
		if (virDomainIsActive(dom) != 1)
			memset(m, 0, sizeof(*m));
		break;
	case VIR_DOMAIN_EVENT_STARTED:
		m->incoming = detail == VIR_DOMAIN_EVENT_STARTED_MIGRATED;
		m->outgoing = false;
		dom_refresh(m, dom);
		break;
	case VIR_DOMAIN_EVENT_SUSPENDED:
		on_suspended(d, m, dom, detail, now_us);
		break;
	case VIR_DOMAIN_EVENT_RESUMED:
		on_resumed(d, m, detail);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		if (m->outgoing && detail == VIR_DOMAIN_EVENT_STOPPED_MIGRATED)
			logf_("%s: migrated away: the agents finish on their own", m->name);
		else if (m->incoming)
			logf_("%s: the incoming migration failed", m->name);
		memset(m, 0, sizeof(*m));
		break;
	}
	return 0;
}

/* A hotplugged or unplugged NIC: read the interfaces again. */
static void on_device(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	struct daemon *d = opaque;
	struct dom *m = dom_get(d, dom, true);

	(void)conn;
	(void)alias;
	if (m)
		dom_refresh(m, dom);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	static const char *const why[] = { "I/O error", "end of file", "keepalive timeout",
					   "closed by the client" };
	struct daemon *d = opaque;

	(void)conn;
	d->closed = true;
	logf_("libvirt at %s went away (%s); reconnecting", d->o->uri,
	      reason >= 0 && reason < (int)(sizeof(why) / sizeof(why[0])) ? why[reason] : "?");
}

/* ---- the connection ---- */

/* After a reconnect: events missed while away are read off the domain's
 * state.  A domain left migrating that runs here now has resumed here. */
static void reconcile(struct daemon *d)
{
	virDomainPtr dom;
	int state, reason;
	size_t i;

	for (i = 0; i < MAX_DOMS; i++) {
		struct dom *m = &d->doms[i];

		if (!m->used || (!m->incoming && !m->outgoing))
			continue;
		dom = virDomainLookupByUUIDString(d->conn, m->uuid);
		if (!dom || virDomainIsActive(dom) != 1) {
			logf_("%s: gone while libvirt was away: forgotten", m->name);
			memset(m, 0, sizeof(*m));
		} else if (virDomainGetState(dom, &state, &reason, 0) == 0 &&
			   state == VIR_DOMAIN_RUNNING) {
			logf_("%s: running here after libvirt came back", m->name);
			on_resumed(d, m, m->incoming ? VIR_DOMAIN_EVENT_RESUMED_MIGRATED :
						       VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
		}
		if (dom)
			virDomainFree(dom);
	}
}

/* Cache the interfaces of every running domain. */
static void scan(struct daemon *d)
{
	virDomainPtr *doms = NULL;
	int n, i, state, reason;
	struct dom *m;

	n = virConnectListAllDomains(d->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		logf_("virConnectListAllDomains: %s", verr());
		return;
	}
	for (i = 0; i < n; i++) {
		m = dom_get(d, doms[i], true);
		if (m)
			dom_refresh(m, doms[i]);
		if (m && !m->incoming && !m->outgoing &&
		    virDomainGetState(doms[i], &state, &reason, 0) == 0 &&
		    state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION)
			logf_("%s: paused by a migration that started before nm-libvirt: "
			      "not signalled", m->name);
		virDomainFree(doms[i]);
	}
	free(doms);
}

static void disconnect(struct daemon *d)
{
	if (!d->conn)
		return;
	if (d->cb_lifecycle >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_lifecycle);
	if (d->cb_added >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_added);
	if (d->cb_removed >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->cb_removed);
	d->cb_lifecycle = d->cb_added = d->cb_removed = -1;
	virConnectUnregisterCloseCallback(d->conn, on_close);
	virConnectClose(d->conn);
	d->conn = NULL;
	d->closed = false;
}

/* Open the read-only connection and subscribe; the text of a failure goes
 * to why (whysize bytes). */
static int connect_libvirt(struct daemon *d, char *why, size_t whysize)
{
	d->conn = virConnectOpenReadOnly(d->o->uri);
	if (!d->conn) {
		snprintf(why, whysize, "%s", verr());
		return -ECONNREFUSED;
	}
	if (virConnectRegisterCloseCallback(d->conn, on_close, d, NULL) < 0)
		goto fail;
	d->cb_lifecycle = virConnectDomainEventRegisterAny(d->conn, NULL,
							   VIR_DOMAIN_EVENT_ID_LIFECYCLE,
							   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
							   d, NULL);
	if (d->cb_lifecycle < 0)
		goto fail;
	d->cb_added = virConnectDomainEventRegisterAny(d->conn, NULL,
						       VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
						       VIR_DOMAIN_EVENT_CALLBACK(on_device), d, NULL);
	d->cb_removed = virConnectDomainEventRegisterAny(d->conn, NULL,
							 VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
							 VIR_DOMAIN_EVENT_CALLBACK(on_device), d,
							 NULL);
	if (d->cb_added < 0 || d->cb_removed < 0)
		logf_("device events: %s: a hotplugged NIC is seen at its next event", verr());
	if (virConnectSetKeepAlive(d->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
		logf_("keepalive: %s: a hung libvirtd is not noticed", verr());
	logf_("connected to %s (read-only); netmoved at %s", d->o->uri, d->o->socket);
	scan(d);
	reconcile(d);
	return 0;
fail:
	snprintf(why, whysize, "%s", verr());
	disconnect(d);
	return -EIO;
}

/* The loop wakes at least this often: for SIGTERM and for reconnecting
 * (libvirt's poll loop restarts itself on EINTR). */
static void on_tick(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct opts o = { 0 };
	struct daemon *d;
	char why[512], said[512] = "";
	uint64_t next_try = 0;
	int timer, ret = EX_OK;

	if (parse_args(&o, argc, argv) < 0)
		return EX_USAGE;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	virSetErrorFunc(NULL, quiet_errors);
	d = calloc(1, sizeof(*d));
	if (!d) {
		logf_("out of memory");
		return EX_FAIL;
	}
	d->o = &o;
	d->cb_lifecycle = d->cb_added = d->cb_removed = -1;
	if (virEventRegisterDefaultImpl() < 0) {
		logf_("virEventRegisterDefaultImpl: %s", verr());
		free(d);
		return EX_FAIL;
	}
	if (!o.no_rx_ring && (ret = rxrings_start(o.uri, &d->rx)) < 0) {
		logf_("learning the RX rings: %s", strerror(-ret));
		free(d);
		return EX_FAIL;
	}
	ret = EX_OK;
	timer = virEventAddTimeout(RECONNECT_MS, on_tick, NULL, NULL);
	if (timer < 0) {
		logf_("virEventAddTimeout: %s", verr());
		rxrings_stop(d->rx);
		free(d);
		return EX_FAIL;
	}
	while (!stop) {
		if (!d->conn && timeutil_mono_ns() >= next_try) {
			next_try = timeutil_mono_ns() + RECONNECT_MS * NSEC_PER_MSEC;
			if (connect_libvirt(d, why, sizeof(why)) < 0) {
				if (strcmp(why, said))
					logf_("waiting for libvirt at %s: %s", o.uri, why);
				snprintf(said, sizeof(said), "%s", why);
			} else {
				said[0] = 0;
			}
		}
		if (virEventRunDefaultImpl() < 0) {
			logf_("libvirt event loop: %s", verr());
			ret = EX_FAIL;
			break;
		}
		if (d->closed)
			disconnect(d);
	}
	if (!ret)
		logf_("stopping");
	disconnect(d);
	rxrings_stop(d->rx);
	virEventRemoveTimeout(timer);
	free(d);
	return ret;
}
