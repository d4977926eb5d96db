/* nm-qemu: netmove's QEMU integration.  Attaches to one QEMU's QMP socket,
 * enables migration events and turns QEMU's migration into netmove's phases
 * through the local netmoved (see nm-qemu(8)):
 *   source, outgoing migration starts (MIGRATION setup)  -> PREPARE (relocate)
 *   source, STOP during it                               -> BLACKOUT (stop time)
 *   source, MIGRATION failed / cancelled                 -> failed (rollback),
 *           then RESUME there                            -> resumed (VM back here)
 *   destination, RESUME after the incoming migration     -> resumed (SWITCHOVER)
 *   completed: the agents commit on their own.
 * It only reads QEMU's events and never holds QEMU up; it sends
 * migrate-continue only with --own-pause.  When QEMU goes away it reconnects. */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "netmove/agentc.h"
#include "netmove/guestrx.h"
#include "netmove/log.h"
#include "netmove/mac.h"
#include "netmove/timeutil.h"
#include "qemu_nic.h"
#include "qmp.h"

/* Exit codes (nm-qemu(8)). */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

#define QMP_TIMEOUT_MS 2000
#define RECONNECT_MS 200

struct opts {
	const char *qmp, *to, *socket, *dst_tap;
	struct in_addr ip;
	struct mac mac;
	char tap[IF_NAMESIZE];
	bool have_ip, have_mac, own_pause;
};

/* What this QEMU is doing, as far as its events told. */
struct state {
	struct qmp q;
	struct mac mac;			/* the VM's NIC (from --mac or QMP) */
	char tap[IF_NAMESIZE];		/* its tap here (from --tap or QMP) */
	bool known;			/* mac and tap known */
	bool incoming;			/* waiting in -incoming / receiving */
	bool outgoing;			/* an outgoing migration is running */
	bool prepared;			/* the agent accepted PREPARE */
	bool blackout;			/* BLACKOUT signalled */
	bool failed;			/* outgoing migration failed: VM resumes here */
	struct guestrx rx;		/* the NIC's RX ring in QEMU's memory */
	bool rx_known;			/* rx is learnt: the last frame can be read at STOP */
	char rx_why[256];		/* why not, as last logged */
	uint64_t rx_retry_ns;		/* not before then, while idle (CLOCK_MONOTONIC) */
	uint8_t *frame;			/* GUESTRX_FRAME_MAX bytes: that frame */
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

#define logf_(...) log_line("nm-qemu", __VA_ARGS__)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nm-qemu --qmp PATH --ip IP [--to HOST] [--mac MAC] [--tap IF]\n"
		"               [--dst-tap IF] [--socket PATH] [--own-pause]\n\n"
		"Drive netmove from one QEMU's migration events (an extra -qmp monitor).\n"
		"  --qmp PATH     QEMU's QMP unix socket (waited for, reconnected)\n"
		"  --ip IP        the VM's IPv4 address (announcements, verify)\n"
		"  --to HOST      destination host (netmoved peer name) of an outgoing\n"
		"                 migration; without it this side only signals events\n"
		"  --mac MAC      the VM's NIC (default: QEMU's only NIC)\n"
		"  --tap IF       its tap on this host (default: from QEMU)\n"
		"  --dst-tap IF   its tap on the destination (default: the same name)\n"
		"  --socket PATH  this host's netmoved (default: $NETMOVE_SOCKET or\n"
		"                 /run/netmove/netmoved.sock)\n"
		"  --own-pause    enable pause-before-switchover and release it\n"
		"                 (migrate-continue) once the blackout is armed\n"
		"exit codes: 0 stopped by a signal, 1 failure, 2 usage\n");
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "qmp", required_argument, NULL, 'q' },
		{ "ip", required_argument, NULL, 'i' },
		{ "to", required_argument, NULL, 't' },
		{ "mac", required_argument, NULL, 'm' },
		{ "tap", required_argument, NULL, 'T' },
		{ "dst-tap", required_argument, NULL, 'D' },
		{ "socket", required_argument, NULL, 's' },
		{ "own-pause", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'q': o->qmp = optarg; break;
		case 'i':
			if (mac_parse_ipv4(optarg, &o->ip) < 0) {
				fprintf(stderr, "nm-qemu: --ip: '%s' is not an IPv4 address\n", optarg);
				return -EINVAL;
			}
			o->have_ip = true;
			break;
		case 't': o->to = optarg; break;
		case 'm':
			if (mac_parse(optarg, &o->mac) < 0 || mac_is_multicast(&o->mac)) {
				fprintf(stderr, "nm-qemu: --mac: '%s' is not a unicast MAC\n", optarg);
				return -EINVAL;
			}
			o->have_mac = true;
			break;
		case 'T':
		case 'D':
			if (!*optarg || strlen(optarg) >= IF_NAMESIZE || strchr(optarg, '/')) {
				fprintf(stderr, "nm-qemu: --%s: '%s' is not an interface name\n",
					c == 'T' ? "tap" : "dst-tap", optarg);
				return -EINVAL;
			}
			if (c == 'T')
				snprintf(o->tap, sizeof(o->tap), "%s", optarg);
			else
				o->dst_tap = optarg;
			break;
		case 's': o->socket = optarg; break;
		case 'P': o->own_pause = true; break;
		case 'h': usage(stdout); exit(EX_OK);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nm-qemu: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->qmp || !o->have_ip) {
		fprintf(stderr, "nm-qemu: --qmp and --ip are required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (!o->socket)
		o->socket = agentc_socket();
	return 0;
}

/* ---- learning the NIC from QEMU ---- */

/* The tap behind the NIC with MAC m in `info network` text:
 *   "<nic>: index=0,type=nic,model=...,macaddr=MAC\r\n \ <netdev>: ...,type=tap,ifname=IF,..." */
static int tap_from_info(const char *info, const struct mac *m, char *tap)
{
	char want[MAC_STRLEN + 8], mac_s[MAC_STRLEN];
	const char *p, *nl, *f;
	size_t n;

	snprintf(want, sizeof(want), "macaddr=%s", mac_format(m, mac_s));
	p = strstr(info, want);
	if (!p)
		return -ENOENT;
	nl = strchr(p, '\n');
	if (!nl || strncmp(nl + 1, " \\ ", 3))
		return -ENOENT;	/* NIC without a back-end */
	p = nl + 4;
	nl = strchr(p, '\n');
	if (!strstr(p, "type=tap") || !(f = strstr(p, "ifname=")) || (nl && f > nl))
		return -ENOTTY;	/* not a tap back-end */
	f += strlen("ifname=");
	n = strcspn(f, ",\r\n");
	if (!n || n >= IF_NAMESIZE)
		return -EPROTO;
	memcpy(tap, f, n);
	tap[n] = 0;
	return 0;
}

static int learn_nic(struct state *s, const struct opts *o)
{
	json_t *ret = NULL, *nic;
	char err[256];
	size_t i, n = 0;
	int r;

	s->mac = o->mac;
	snprintf(s->tap, sizeof(s->tap), "%s", o->tap);
	if (!o->have_mac) {
		r = qmp_exec(&s->q, "query-rx-filter", NULL, &ret, err, sizeof(err), QMP_TIMEOUT_MS);
		if (r < 0) {
			logf_("query-rx-filter: %s", r == -EPROTO ? err : strerror(-r));
			return r;
		}
		json_array_foreach(ret, i, nic) {
			const char *m = json_string_value(json_object_get(nic, "main-mac"));

			if (m && mac_parse(m, &s->mac) == 0)
				n++;
		}
		json_decref(ret);
		if (n != 1) {
			logf_("QEMU has %zu NICs: give --mac", n);
			return -EINVAL;
		}
	}
	if (!s->tap[0]) {
		r = qmp_exec(&s->q, "human-monitor-command",
			     json_pack("{s:s}", "command-line", "info network"), &ret, err,
			     sizeof(err), QMP_TIMEOUT_MS);
		if (r < 0) {
			logf_("info network: %s", r == -EPROTO ? err : strerror(-r));
			return r;
		}
		r = json_is_string(ret) ? tap_from_info(json_string_value(ret), &s->mac, s->tap) :
					  -EPROTO;
		json_decref(ret);
		if (r < 0) {
			logf_("no tap behind the NIC in QEMU's 'info network' (%s): give --tap",
			      strerror(-r));
			return r;
		}
	}
	s->known = true;
	return 0;
}

/* ---- the guest's RX ring ---- */

static int monitor(void *arg, const char *cmd, json_t *args, json_t **ret, char *err,
		   size_t errlen)
{
	struct state *s = arg;
	int r = qmp_exec(&s->q, cmd, args, ret, err, errlen, QMP_TIMEOUT_MS);

	if (r < 0 && r != -EPROTO)
		snprintf(err, errlen, "%s: %s", cmd, strerror(-r));
	return r;
}

/* Learn where the NIC's RX ring is, while QEMU answers (not once a
 * migration stopped the VM) and off PREPARE's path: at attach, after an
 * incoming migration, and while idle after a guest reset or until the
 * guest's driver is up.  A reason is logged once. */
static void learn_ring(struct state *s)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char err[256] = "";
	int r = 0;

	s->rx_known = false;
	if (!s->known)
		return;
	if (getsockopt(s->q.fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0) {
		snprintf(err, sizeof(err), "QEMU's pid: %s", strerror(errno));
	} else if ((r = guestrx_open(&s->rx, cred.pid)) < 0) {
		snprintf(err, sizeof(err), "reading QEMU's memory (pid %d): %s", (int)cred.pid,
			 strerror(-r));
	} else if ((r = qemu_nic_rx_ring(&s->rx, &s->mac, monitor, s, err, sizeof(err))) == 0) {
		s->rx_known = true;
		s->rx_why[0] = 0;
		logf_("RX ring: %u buffers at 0x%llx, %s, %zu RAM regions (QEMU pid %d)", s->rx.num,
		      (unsigned long long)s->rx.used,
		      s->rx.mergeable ? "mergeable" : "one buffer a frame", s->rx.nregions,
		      (int)cred.pid);
		return;
	}
	/* A driver not up yet soon is; anything else is asked again rarely. */
	s->rx_retry_ns = timeutil_mono_ns() + (r == -EAGAIN ? 1 : 10) * NSEC_PER_SEC;
	if (strcmp(err, s->rx_why))
		logf_("RX ring: not known (%s): at a stop the marker alone tells", err);
	snprintf(s->rx_why, sizeof(s->rx_why), "%s", err);
}

/* At the stop: what the guest received last, for the blackout. */
static void read_last_rx(struct state *s, struct agentc_stop *st)
{
	struct guestrx_tail t;
	int r;

	if (!s->rx_known)
		return;
	r = guestrx_tail(&s->rx, s->frame, GUESTRX_FRAME_MAX, &t);
	if (r < 0) {
		logf_("RX ring: the guest's last frame: %s", strerror(-r));
		return;
	}
	agentc_stop_last_rx(st, s->frame, &t, s->rx.hdr_len);
}

/* ---- the agent ---- */

static int agent_event(struct state *s, const struct opts *o, const char *kind,
		       uint64_t stopped_us)
{
	/* QEMU's user-space net keeps one frame it reads after the stop. */
	struct agentc_stop st = { .stopped_us = stopped_us,
				  .flags = stopped_us ? AGENTC_READER_KEEPS_ONE : 0 };
	char line[512];
	int r;

	if (stopped_us)
		read_last_rx(s, &st);
	r = agentc_event_logged(o->socket, kind, &s->mac, &st, line, sizeof(line));
	if (st.flags & AGENTC_LAST_RX)
		logf_("%s (the guest's last readable frame: %u bytes, hash %08x, %u buffers after it)",
		      line, st.rx.len, st.rx.hash, st.rx.nafter);
	else
		logf_("%s", line);
	return r;
}

static void prepare(struct state *s, const struct opts *o)
{
	char msg[256] = "", mac_s[MAC_STRLEN];
	int r;

	if (!o->to) {
		logf_("outgoing migration: no --to, netmove not asked to relocate");
		return;
	}
	if (!s->known) {
		logf_("outgoing migration: the VM's NIC is unknown, netmove not asked");
		return;
	}
	r = agentc_relocate(o->socket, &s->mac, o->ip, o->to, s->tap,
			    o->dst_tap ? o->dst_tap : s->tap, msg, sizeof(msg));
	s->prepared = r == 0;
	logf_("relocate %s (%s) to %s: %s%s%s", mac_format(&s->mac, mac_s), s->tap, o->to,
	      r ? strerror(-r) : "prepared", msg[0] ? ": " : "", msg);
}

static void blackout(struct state *s, const struct opts *o, uint64_t stopped_us)
{
	if (!s->prepared || s->blackout)
		return;
	s->blackout = true;
	agent_event(s, o, "blackout", stopped_us);
}

/* ---- QEMU's events ---- */

static void on_migration(struct state *s, const struct opts *o, const char *status)
{
	char err[256];
	int r;

	logf_("MIGRATION %s%s", status, s->incoming ? " (incoming)" : "");
	if (s->incoming) {
		if (!strcmp(status, "failed") || !strcmp(status, "cancelled"))
			s->incoming = false;
		return;
	}
	if (!strcmp(status, "setup")) {
		s->outgoing = true;
		s->prepared = s->blackout = s->failed = false;
		prepare(s, o);
	} else if (!strcmp(status, "pre-switchover") && s->outgoing) {
		/* Only with --own-pause does QEMU wait here; STOP came already. */
		blackout(s, o, 0);
		if (o->own_pause) {
			r = qmp_exec(&s->q, "migrate-continue",
				     json_pack("{s:s}", "state", "pre-switchover"), NULL, err,
				     sizeof(err), QMP_TIMEOUT_MS);
			logf_("migrate-continue: %s", r ? (r == -EPROTO ? err : strerror(-r)) : "ok");
		}
	} else if ((!strcmp(status, "failed") || !strcmp(status, "cancelled")) && s->outgoing) {
		s->outgoing = false;
		if (s->prepared) {
			agent_event(s, o, "failed", 0);
			s->failed = true;
		}
	} else if (!strcmp(status, "completed")) {
		s->outgoing = s->prepared = s->blackout = false;
	}
}

static void on_event(struct state *s, const struct opts *o, json_t *ev)
{
	const char *name = json_string_value(json_object_get(ev, "event"));
	json_t *data = json_object_get(ev, "data");

	if (!name)
		return;
	if (!strcmp(name, "MIGRATION")) {
		const char *st = json_string_value(json_object_get(data, "status"));

		if (st)
			on_migration(s, o, st);
	} else if (!strcmp(name, "RESET")) {
		s->rx_known = false;	/* the guest's driver sets its rings up anew */
	} else if (!strcmp(name, "STOP")) {
		logf_("STOP%s", s->outgoing ? " during the outgoing migration" : "");
		if (s->outgoing)
			blackout(s, o, qmp_event_time_us(ev));
	} else if (!strcmp(name, "RESUME")) {
		logf_("RESUME%s", s->incoming ? " after the incoming migration" :
				  s->failed ? " after the failed migration" : "");
		if (s->incoming && s->known) {
			agent_event(s, o, "resumed", 0);
			learn_ring(s);
		} else if (s->failed)
			agent_event(s, o, "resumed", 0);
		s->incoming = s->failed = false;
	}
}

/* With --own-pause, leaving must not leave QEMU waiting for it: a migration
 * held at pre-switchover goes on, and the capability goes off (QEMU refuses
 * that during a migration: it is then off for the next one only). */
static void give_back_pause(struct state *s, const struct opts *o)
{
	json_t *ret = NULL, *caps;
	const char *st;
	char err[256];
	int r;

	if (!o->own_pause || s->q.fd < 0)
		return;
	if (qmp_exec(&s->q, "query-migrate", NULL, &ret, err, sizeof(err), QMP_TIMEOUT_MS) == 0) {
		st = json_string_value(json_object_get(ret, "status"));
		if (st && !strcmp(st, "pre-switchover")) {
			r = qmp_exec(&s->q, "migrate-continue",
				     json_pack("{s:s}", "state", "pre-switchover"), NULL, err,
				     sizeof(err), QMP_TIMEOUT_MS);
			logf_("leaving: migrate-continue: %s",
			      r ? (r == -EPROTO ? err : strerror(-r)) : "ok");
		}
		json_decref(ret);
	}
	caps = json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability",
			 "pause-before-switchover", "state", 0);
	r = qmp_exec(&s->q, "migrate-set-capabilities", caps, NULL, err, sizeof(err),
		     QMP_TIMEOUT_MS);
	logf_("leaving: pause-before-switchover off: %s",
	      r ? (r == -EPROTO ? err : strerror(-r)) : "ok");
}

/* Negotiate, enable the events, learn the NIC and whether QEMU waits for
 * an incoming migration. */
static int attach(struct state *s, const struct opts *o)
{
	json_t *caps, *ret = NULL;
	const char *status;
	char err[256];
	int r;

	caps = json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "events", "state", 1);
	if (o->own_pause)
		json_array_append_new(json_object_get(caps, "capabilities"),
				      json_pack("{s:s, s:b}", "capability", "pause-before-switchover",
						"state", 1));
	r = qmp_exec(&s->q, "migrate-set-capabilities", caps, NULL, err, sizeof(err),
		     QMP_TIMEOUT_MS);
	if (r < 0) {
		logf_("migrate-set-capabilities: %s", r == -EPROTO ? err : strerror(-r));
		return r;
	}
	r = qmp_exec(&s->q, "query-status", NULL, &ret, err, sizeof(err), QMP_TIMEOUT_MS);
	if (r < 0) {
		logf_("query-status: %s", r == -EPROTO ? err : strerror(-r));
		return r;
	}
	status = json_string_value(json_object_get(ret, "status"));
	s->incoming = status && !strcmp(status, "inmigrate");
	logf_("attached to QEMU %s at %s (%s)", s->q.version, o->qmp, status ? status : "?");
	json_decref(ret);
	if (learn_nic(s, o) == 0) {
		char mac_s[MAC_STRLEN];

		logf_("VM NIC %s on tap %s", mac_format(&s->mac, mac_s), s->tap);
		if (!s->incoming)
			learn_ring(s);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct opts o = { 0 };
	struct state s;
	uint8_t *frame;
	int r, said = 0;
	json_t *ev;

	if (parse_args(&o, argc, argv) < 0)
		return EX_USAGE;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	frame = malloc(GUESTRX_FRAME_MAX);
	if (!frame) {
		logf_("out of memory");
		return EX_FAIL;
	}
	while (!stop) {
		memset(&s, 0, sizeof(s));
		guestrx_init(&s.rx);
		s.frame = frame;
		r = qmp_connect(&s.q, o.qmp, QMP_TIMEOUT_MS);
		if (r < 0) {
			if (r != said)
				logf_("waiting for QEMU at %s: %s", o.qmp, strerror(-r));
			said = r;
			usleep(RECONNECT_MS * 1000);
			continue;
		}
		said = 0;
		if (attach(&s, &o) < 0) {
			guestrx_close(&s.rx);
			qmp_close(&s.q);
			usleep(RECONNECT_MS * 1000);
			continue;
		}
		while (!stop) {
			r = qmp_event(&s.q, 500, &ev);
			if (r == -ETIMEDOUT && !s.rx_known && s.known && !s.incoming && !s.outgoing &&
			    timeutil_mono_ns() >= s.rx_retry_ns)
				learn_ring(&s);	/* the guest's driver may be up now */
			if (r == -ETIMEDOUT || r == -EINTR)
				continue;
			if (r < 0) {
				logf_("QEMU at %s went away (%s); reconnecting", o.qmp, strerror(-r));
				break;
			}
			on_event(&s, &o, ev);
			json_decref(ev);
		}
		if (stop)
			give_back_pause(&s, &o);
		guestrx_close(&s.rx);
		qmp_close(&s.q);
	}
	free(frame);
	return EX_OK;
}
