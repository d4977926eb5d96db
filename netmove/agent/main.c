/* netmoved: the per-host netmove agent.  See netmoved(8). */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "agent.h"
#include "recover.h"
#include "netmove/agentc.h"
#include "netmove/buffer.h"
#include "netmove/journal.h"
#include "netmove/log.h"
#include "netmove/out.h"
#include "netmove/portwatch.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"

#define CLI_TIMEOUT_MS 5000
#define JOURNAL_DEFAULT_LIMIT 100

static struct agent *g_agent;

static void agent_vlog(const struct agent *a, const char *fmt, va_list ap)
{
	char who[AGENT_NAME_LEN + 16];

	snprintf(who, sizeof(who), "netmoved[%s]", a->cfg.name);
	log_vline(who, fmt, ap);
}

void agent_log(const struct agent *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	agent_vlog(a, fmt, ap);
	va_end(ap);
}

bool agent_is_peer(const struct agent *a, const char *name)
{
	int i;

	for (i = 0; i < a->cfg.npeers; i++)
		if (!strcmp(a->cfg.peers[i].name, name))
			return true;
	return false;
}

static void spares_log(void *arg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	agent_vlog(arg, fmt, ap);
	va_end(ap);
}

void agent_reply(int fd, bool ok, const char *text)
{
	struct ctl_conn c;
	struct ctl_msg m;

	if (fd < 0)
		return;
	ctl_conn_init(&c, fd, NULL, "cli");
	ctl_msg_init(&m, ok ? PROTO_REP_OK : PROTO_REP_ERROR);
	if (text)
		ctl_put_str(&m, A_TEXT, text);
	ctl_send(&c, &m);
	ctl_msg_free(&m);
	ctl_conn_close(&c);
}

void agent_prune(struct agent *a)
{
	struct reloc **pp = &a->relocs, *r;
	int done = 0;

	while ((r = *pp)) {
		/* A finished source may still sleep out its grace period: only
		 * records whose thread has exited (thread_exited) are freed. */
		if (r->done && r->thread_exited && ++done > AGENT_KEEP_DONE) {
			*pp = r->next;
			free(r);
			continue;
		}
		pp = &r->next;
	}
}

struct reloc *agent_find(struct agent *a, const struct mac *mac)
{
	struct reloc *r;

	for (r = a->relocs; r; r = r->next)
		if (!r->done && mac_equal(&r->mac, mac))
			return r;
	return NULL;
}

void agent_note_early_resume(struct agent *a, const struct mac *mac, uint64_t time_us)
{
	struct early_resume *e, *slot = &a->early[0];

	for (e = a->early; e < a->early + AGENT_EARLY_MAX; e++) {
		if (mac_equal(&e->mac, mac) || !e->mono_ns) {
			slot = e;
			break;
		}
		if (e->mono_ns < slot->mono_ns)
			slot = e;	/* else the oldest goes */
	}
	slot->mac = *mac;
	slot->time_us = time_us;
	slot->mono_ns = timeutil_mono_ns();
}

bool agent_take_early_resume(struct agent *a, const struct mac *mac, uint64_t *time_us)
{
	uint64_t now = timeutil_mono_ns();
	struct early_resume *e;

	for (e = a->early; e < a->early + AGENT_EARLY_MAX; e++) {
		bool fresh;

		if (!e->mono_ns || !mac_equal(&e->mac, mac))
			continue;
		fresh = now - e->mono_ns <= AGENT_EARLY_MS * NSEC_PER_MSEC;
		e->mono_ns = 0;	/* taken, or too old to apply */
		*time_us = e->time_us;
		return fresh;
	}
	return false;
}

/* A tap appeared (QEMU or libvirt made it): its clsact qdisc now, before
 * traffic flows, not at the migration (that graft would drop frames). */
static void port_appeared(const char *ifname, int ifindex, void *arg)
{
	int ret = buffer_ready_port(ifname);

	(void)ifindex;
	if (ret == 1)
		agent_log(arg, "tap %s appeared: clsact qdisc added", ifname);
	else if (ret < 0 && ret != -ENODEV)
		agent_log(arg, "tap %s appeared: clsact qdisc: %s", ifname, strerror(-ret));
}

static void on_signal(int sig)
{
	(void)sig;
	if (g_agent)
		g_agent->stop = 1;
}

/* Begin an ordered shutdown: no new relocation from now on, and every
 * running one is told (EV_STOP).  Returns how many run. */
static int stop_relocations(struct agent *a)
{
	struct reloc_event ev = { .kind = EV_STOP, .cli_fd = -1 };
	struct reloc *r;
	int n = 0;

	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	for (r = a->relocs; r; r = r->next)
		if (!r->thread_exited && r->evfd[1] >= 0 &&
		    write(r->evfd[1], &ev, sizeof(ev)) == sizeof(ev))
			n++;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* Relocations whose thread still runs. */
static int running(struct agent *a)
{
	struct reloc *r;
	int n = 0;

	pthread_mutex_lock(&a->lock);
	for (r = a->relocs; r; r = r->next)
		n += !r->thread_exited;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* Render status of every relocation into a malloc'd string. */
static char *render_status(struct agent *a, bool json)
{
	struct reloc *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct out o;

	if (!f)
		return NULL;
	out_init(&o, f, json);
	out_str(&o, "host", a->cfg.name);
	out_arr_begin(&o, "relocations");
	pthread_mutex_lock(&a->lock);
	for (r = a->relocs; r; r = r->next) {
		out_obj_begin(&o, NULL);
		reloc_render(r, &o);
		out_obj_end(&o);
	}
	pthread_mutex_unlock(&a->lock);
	out_arr_end(&o);
	out_finish(&o);
	fclose(f);
	return buf;
}

struct lines {
	char **v;
	size_t n, cap;
};

static int keep_line(const char *line, void *arg)
{
	struct lines *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(line);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static void handle_journal(struct agent *a, int fd, struct ctl_msg *req)
{
	struct lines l = { 0 };
	struct ctl_conn c;
	struct ctl_msg m;
	uint64_t limit = JOURNAL_DEFAULT_LIMIT;
	size_t i;
	int ret;

	ctl_get_u64(req, A_LIMIT, &limit);
	ret = journal_read(a->cfg.journal, keep_line, &l);
	if (ret < 0) {
		agent_reply(fd, false, strerror(-ret));
		goto out;
	}
	ctl_conn_init(&c, fd, NULL, "cli");
	ctl_msg_init(&m, PROTO_REP_OK);
	for (i = l.n > limit ? l.n - limit : 0; i < l.n; i++)
		ctl_put_str(&m, A_TEXT, l.v[i]);
	ctl_send(&c, &m);
	ctl_msg_free(&m);
	ctl_conn_close(&c);
out:
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
}

static int parse_relocate(struct agent *a, struct ctl_msg *req, struct reloc *r, char *err,
			  size_t errlen)
{
	const void *v;
	size_t len;
	int ret;

	if (ctl_get(req, A_MAC, &v, &len) < 0 || len != MAC_LEN) {
		snprintf(err, errlen, "missing MAC");
		return -EINVAL;
	}
	memcpy(r->mac.b, v, MAC_LEN);
	if (ctl_get(req, A_IP, &v, &len) < 0 || len != 4) {
		snprintf(err, errlen, "missing IP");
		return -EINVAL;
	}
	memcpy(&r->ip, v, 4);
	if (ctl_get_name(req, A_TO, "destination host", r->to, sizeof(r->to), err, errlen) < 0 ||
	    ctl_get_name(req, A_PORT, "VM port on this host", r->port, sizeof(r->port), err,
			 errlen) < 0)
		return -EINVAL;
	ret = ctl_get_name(req, A_DST_PORT, "VM port on the destination", r->peer_port,
			   sizeof(r->peer_port), err, errlen);
	if (ret == -ENOENT)
		snprintf(r->peer_port, sizeof(r->peer_port), "%s", r->port);
	else if (ret < 0)
		return -EINVAL;
	snprintf(r->from, sizeof(r->from), "%s", a->cfg.name);
	if (!strcmp(r->to, a->cfg.name)) {
		snprintf(err, errlen, "destination %s is this host", r->to);
		return -EINVAL;
	}
	return 0;
}

void agent_relocate(struct agent *a, int fd, struct ctl_msg *req, unsigned uid, int pid)
{
	struct reloc *r = calloc(1, sizeof(*r));
	char err[256] = "";

	if (!r) {
		agent_reply(fd, false, "out of memory");
		return;
	}
	r->uid = uid;
	r->pid = pid;
	r->is_src = true;
	r->cli_fd = fd;
	r->evfd[0] = r->evfd[1] = -1;
	r->peer.fd = -1;
	r->agent = a;
	if (parse_relocate(a, req, r, err, sizeof(err)) < 0) {
		agent_reply(fd, false, err);
		free(r);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (a->stopping || agent_find(a, &r->mac)) {
		pthread_mutex_unlock(&a->lock);
		agent_reply(fd, false, a->stopping ? "netmoved is stopping" :
					     "a relocation of this MAC is already in progress");
		free(r);
		return;
	}
	r->id = ++a->next_id;
	r->next = a->relocs;
	a->relocs = r;
	agent_prune(a);
	pthread_mutex_unlock(&a->lock);
	if (reloc_start_src(a, r) < 0) {
		pthread_mutex_lock(&a->lock);
		r->done = r->thread_exited = true;
		pthread_mutex_unlock(&a->lock);
		agent_reply(fd, false, "cannot start the relocation thread");
		r->cli_fd = -1;
	}
}

static void handle_event(struct agent *a, int fd, struct ctl_msg *req)
{
	struct reloc_event ev = { .cli_fd = fd, .time_us = timeutil_real_ns() / 1000 };
	struct agentc_stop stop;
	char name[16];
	const void *v;
	struct mac mac;
	struct reloc *r;
	size_t len;

	if (ctl_get(req, A_MAC, &v, &len) < 0 || len != MAC_LEN ||
	    ctl_get_str(req, A_EVENT, name, sizeof(name)) < 0) {
		agent_reply(fd, false, "event needs a MAC and a kind");
		return;
	}
	memcpy(mac.b, v, MAC_LEN);
	if (agentc_event_stop(req, &stop) < 0) {
		agent_reply(fd, false, "bad RX ring tail (A_RX_AFTER)");
		return;
	}
	ev.stopped_us = stop.stopped_us;
	ev.reader_keeps = stop.flags & AGENTC_READER_KEEPS_ONE;
	ev.last_rx = stop.flags & AGENTC_LAST_RX;
	ev.last = stop.rx;
	if (!strcmp(name, "blackout"))
		ev.kind = EV_BLACKOUT;
	else if (!strcmp(name, "resumed"))
		ev.kind = EV_RESUMED;
	else if (!strcmp(name, "failed"))
		ev.kind = EV_FAILED;
	else {
		agent_reply(fd, false, "unknown event (blackout, resumed, failed)");
		return;
	}
	pthread_mutex_lock(&a->lock);
	r = agent_find(a, &mac);
	if (r && write(r->evfd[1], &ev, sizeof(ev)) == sizeof(ev)) {
		pthread_mutex_unlock(&a->lock);
		return; /* the relocation thread answers */
	}
	if (!r && ev.kind == EV_RESUMED) {
		/* The migration may have outrun the PREPARE that is on its way. */
		agent_note_early_resume(a, &mac, ev.time_us);
		pthread_mutex_unlock(&a->lock);
		agent_reply(fd, true, "noted: no relocation of this MAC here yet; one prepared "
				      "within 5 s switches over at once");
		return;
	}
	pthread_mutex_unlock(&a->lock);
	agent_reply(fd, false, "no relocation of this MAC is in progress on this host");
}

/* One CLI request on the local socket.  fd is closed by whoever answers. */
static void handle_local(struct agent *a, int fd)
{
	struct ctl_conn c;
	struct ctl_msg m;
	unsigned uid = (unsigned)-1;
	uint64_t json = 0;
	int pid = 0;
	char *text;

	if (ctl_peer_cred(fd, &uid, &pid) < 0 || uid != 0) {
		agent_log(a, "local request from uid %u refused (root only)", uid);
		agent_reply(fd, false, "netmoved accepts requests from root only");
		return;
	}
	ctl_conn_init(&c, fd, NULL, "cli");
	ctl_msg_init(&m, 0);
	if (ctl_recv(&c, &m, CLI_TIMEOUT_MS) < 0) {
		close(fd);
		goto out;
	}
	ctl_get_u64(&m, A_JSON, &json);
	switch (m.type) {
	case PROTO_REQ_RELOCATE:
		agent_relocate(a, fd, &m, uid, pid);
		break;
	case PROTO_REQ_PULL:
		pull_start(a, fd, &m);
		break;
	case PROTO_REQ_EVENT:
		handle_event(a, fd, &m);
		break;
	case PROTO_REQ_STATUS:
		text = render_status(a, json);
		agent_reply(fd, text != NULL, text ? text : "out of memory");
		free(text);
		break;
	case PROTO_REQ_JOURNAL:
		handle_journal(a, fd, &m);
		break;
	default:
		agent_reply(fd, false, "unknown request");
	}
out:
	ctl_msg_free(&m);
}

/* A PREPARE's source host (A_FROM) or a PULL's asker (A_TO) must be what
 * the peer authenticated as: with certificates, a host cannot speak for
 * another.  Refused (logged, answered with PROTO_ERROR) if not. */
static bool peer_claim_ok(struct agent *a, struct ctl_conn *c, const struct ctl_msg *m)
{
	const char *what = m->type == PROTO_PULL ? "asking host" : "source host";
	char host[AGENT_NAME_LEN], why[sizeof(c->peer_id) + 128];
	struct ctl_msg no;

	if (ctl_get_name(m, m->type == PROTO_PULL ? A_TO : A_FROM, what, host, sizeof(host), why,
			 sizeof(why)) == 0) {
		if (ctl_peer_is(c, host))
			return true;
		snprintf(why, sizeof(why), "%s %s is not the peer's authenticated identity %s", what,
			 host, c->peer_id);
	}
	agent_log(a, "refused %s from %s: %s", m->type == PROTO_PULL ? "PULL" : "PREPARE",
		  c->peer, why);
	ctl_msg_init(&no, PROTO_ERROR);
	if (ctl_put_str(&no, A_TEXT, why) == 0)
		(void)ctl_send(c, &no);
	ctl_msg_free(&no);
	return false;
}

/* A peer connected: authenticate, then it must open with PREPARE or PULL. */
static void handle_peer(struct agent *a, int fd, const char *from)
{
	struct ctl_conn c;
	struct ctl_msg m;
	int ret;

	ret = ctl_conn_init(&c, fd, a->cfg.tls, from);
	if (ret == 0)
		ret = ctl_handshake_server(&c, a->cfg.phase_timeout_ms < AGENT_HANDSHAKE_MS ?
					   (int)a->cfg.phase_timeout_ms : AGENT_HANDSHAKE_MS);
	pthread_mutex_lock(&a->lock);
	a->unauth--;
	pthread_mutex_unlock(&a->lock);
	ctl_msg_init(&m, 0);
	if (ret == 0)
		ret = ctl_recv(&c, &m, a->cfg.phase_timeout_ms);
	if (ret < 0) {
		agent_log(a, "rejected peer %s: %s%s%s", from, ctl_strerror(ret),
			  c.why[0] ? ": " : "", c.why);
		ctl_conn_close(&c);
		goto out;
	}
	if ((m.type == PROTO_PULL || m.type == PROTO_PREPARE) && !peer_claim_ok(a, &c, &m)) {
		ctl_conn_close(&c);
		goto out;
	}
	if (m.type == PROTO_PULL) {
		pull_serve(a, &c, &m);
		ctl_conn_close(&c);
		goto out;
	}
	if (m.type != PROTO_PREPARE) {
		agent_log(a, "peer %s: unexpected first message %u", from, m.type);
		ctl_conn_close(&c);
		goto out;
	}
	if (reloc_start_dst(a, &c, &m) < 0)
		ctl_conn_close(&c);
	else
		explicit_bzero(&c, sizeof(c));	/* moved to the relocation */
out:
	ctl_msg_free(&m);
}

struct peer_conn {
	struct agent *a;
	int fd;
	char addr[64];
};

/* Start a connection's thread (a peer's or a local client's), detached,
 * with a small stack: a few hundred of them at once (AGENT_MAX_UNAUTH) must
 * cost little memory.  Returns 0 or a negative errno. */
static int start_conn_thread(void *(*fn)(void *), void *arg)
{
	pthread_attr_t at;
	pthread_t th;
	int ret;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, AGENT_CONN_STACK);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&th, &at, fn, arg);
	pthread_attr_destroy(&at);
	return ret;
}

/* A local request runs off the main thread too: a client that connects and
 * says nothing holds its own thread for CLI_TIMEOUT_MS, not the agent. */
static void *local_main(void *arg)
{
	struct peer_conn *p = arg;

	handle_local(p->a, p->fd);
	free(p);
	return NULL;
}

static void start_local(struct agent *a, int fd)
{
	struct peer_conn *p = calloc(1, sizeof(*p));

	if (p) {
		p->a = a;
		p->fd = fd;
		if (start_conn_thread(local_main, p) == 0)
			return;
		free(p);
	}
	agent_log(a, "local request dropped: no thread for it");
	close(fd);
}

/* A peer is let in while fewer than AGENT_MAX_UNAUTH are in their handshake
 * (each bounded by AGENT_HANDSHAKE_MS; TLS holds at most a 16 KiB record and
 * a 16 KiB certificate chain of it): a flood of connections that never authenticate cannot pile up threads and
 * buffers, and a real peer still gets in beside a few hundred of them.  Refusals are logged at
 * the first and then every 1000th. */
static bool admit_peer(struct agent *a, const char *from)
{
	bool ok;
	uint64_t n = 0;

	pthread_mutex_lock(&a->lock);
	ok = a->unauth < AGENT_MAX_UNAUTH;
	if (ok)
		a->unauth++;
	else
		n = ++a->unauth_refused;
	pthread_mutex_unlock(&a->lock);
	if (!ok && n % 1000 == 1)
		agent_log(a, "refused peer %s: %d connections not authenticated yet (%llu refused)",
			  from, AGENT_MAX_UNAUTH, (unsigned long long)n);
	return ok;
}

/* Authentication and the first message run off the main thread, so a slow
 * or hostile peer cannot hold up local requests. */
static void *peer_main(void *arg)
{
	struct peer_conn *p = arg;

	handle_peer(p->a, p->fd, p->addr);
	free(p);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: netmoved --name HOST " CTL_TLS_USAGE "\n"
		"                --ofctl TARGET --ovs-ctl PATH\n"
		"                [--ovsdb unix:PATH]\n"
		"                --uplink IF --gateway IP [--listen IP:PORT] [--peer NAME=IP:PORT]...\n"
		"                [--socket PATH] [--bridge NAME] [--journal FILE]\n"
		"                [--tor-netns NS --tor-bridge BR --tor-port PORT]\n"
		"                [--grace MS] [--phase-timeout MS] [--blackout-timeout MS]\n"
		"                [--handoff-idle MS]\n"
		"                [--ring-mib N] [--spill-mib N] [--no-tap-recovery] [--no-port-watch]\n"
		"The netmove agent of one host; see netmoved(8).\n");
}

static int parse_peer(struct agent_cfg *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct agent_peer *p;

	if (!eq || eq == arg || (size_t)(eq - arg) >= AGENT_NAME_LEN || strlen(eq + 1) >= 64 ||
	    ctl_addr_parse(eq + 1, NULL) < 0 || cfg->npeers >= AGENT_MAX_PEERS)
		return -EINVAL;
	p = &cfg->peers[cfg->npeers++];
	memcpy(p->name, arg, (size_t)(eq - arg));
	p->name[eq - arg] = 0;
	snprintf(p->addr, sizeof(p->addr), "%s", eq + 1);
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || *s == '-' || v > 86400000UL)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_args(struct agent_cfg *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		CTL_TLS_LONGOPTS,
		{ "peer", required_argument, NULL, 'p' },
		{ "ofctl", required_argument, NULL, 'o' },
		{ "ovs-ctl", required_argument, NULL, 'c' },
		{ "ovsdb", required_argument, NULL, 'D' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "journal", required_argument, NULL, 'J' },
		{ "tor-netns", required_argument, NULL, 'T' },
		{ "tor-bridge", required_argument, NULL, 'B' },
		{ "tor-port", required_argument, NULL, 'P' },
		{ "grace", required_argument, NULL, 'G' },
		{ "phase-timeout", required_argument, NULL, 't' },
		{ "blackout-timeout", required_argument, NULL, 'O' },
		{ "handoff-idle", required_argument, NULL, 'I' },
		{ "ring-mib", required_argument, NULL, 'R' },
		{ "spill-mib", required_argument, NULL, 'S' },
		{ "no-tap-recovery", no_argument, NULL, 'Q' },
		{ "no-port-watch", no_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ctl_tls_opts tls = { 0 };
	char err[512];
	int c, ret;

	cfg->socket = PROTO_DEFAULT_SOCKET;
	cfg->bridge = "br-int";
	cfg->ovsdb = "unix:/var/run/openvswitch/db.sock";
	cfg->journal = "/var/lib/netmove/journal.jsonl";
	cfg->grace_ms = 2000;
	cfg->phase_timeout_ms = 5000;
	cfg->blackout_timeout_ms = 30000;
	cfg->handoff_idle_ms = 500;
	cfg->ring_mib = 16;
	cfg->spill_mib = SPILL_DEFAULT_MIB;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'N':
			if (strlen(optarg) >= AGENT_NAME_LEN || !*optarg)
				goto bad;
			strcpy(cfg->name, optarg);
			break;
		case 'l': cfg->listen = optarg; break;
		case 's': cfg->socket = optarg; break;
		case 'p':
			if (parse_peer(cfg, optarg) < 0) {
				fprintf(stderr, "netmoved: --peer: '%s' is not NAME=IP:PORT (port 1..65535)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'o': cfg->ofctl = optarg; break;
		case 'c': cfg->ovs_ctl = optarg; break;
		case 'D': cfg->ovsdb = optarg; break;
		case 'b': cfg->bridge = optarg; break;
		case 'u': cfg->uplink = optarg; break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &cfg->gateway) != 1)
				goto bad;
			break;
		case 'J': cfg->journal = optarg; break;
		case 'T': cfg->tor_netns = optarg; break;
		case 'B': cfg->tor_bridge = optarg; break;
		case 'P': cfg->tor_port = optarg; break;
		case 'G':
			if (parse_uint(optarg, &cfg->grace_ms) < 0)
				goto bad;
			break;
		case 't':
			if (parse_uint(optarg, &cfg->phase_timeout_ms) < 0)
				goto bad;
			break;
		case 'O':
			if (parse_uint(optarg, &cfg->blackout_timeout_ms) < 0)
				goto bad;
			break;
		case 'R':
			if (parse_uint(optarg, &cfg->ring_mib) < 0)
				goto bad;
			break;
		case 'I':
			if (parse_uint(optarg, &cfg->handoff_idle_ms) < 0 || !cfg->handoff_idle_ms)
				goto bad;
			break;
		case 'S':
			if (parse_uint(optarg, &cfg->spill_mib) < 0 || cfg->spill_mib > 65536)
				goto bad;
			break;
		case 'Q': cfg->no_tap_recovery = true; break;
		case 'W': cfg->no_port_watch = true; break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (ctl_tls_opt(&tls, c, optarg))
				break;
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !cfg->name[0] || !cfg->ofctl || !cfg->ovs_ctl ||
	    !cfg->uplink || !cfg->gateway.s_addr) {
		fprintf(stderr, "netmoved: --name, --ofctl, --ovs-ctl, --uplink and --gateway are "
				"required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (cfg->listen && ctl_addr_parse(cfg->listen, NULL) < 0) {
		fprintf(stderr, "netmoved: --listen: '%s' is not IP:PORT (port 1..65535)\n",
			cfg->listen);
		return -EINVAL;
	}
	if (!if_nametoindex(cfg->uplink)) {
		fprintf(stderr, "netmoved: --uplink: no interface '%s' here\n", cfg->uplink);
		return -EINVAL;
	}
	if (!cfg->ring_mib || cfg->ring_mib > 1024 || !cfg->phase_timeout_ms) {
		fprintf(stderr, "netmoved: --ring-mib must be 1..1024, --phase-timeout > 0\n");
		return -EINVAL;
	}
	if (!!cfg->tor_netns != !!cfg->tor_port || (cfg->tor_netns && !cfg->tor_bridge)) {
		fprintf(stderr, "netmoved: --tor-netns, --tor-bridge and --tor-port go together\n");
		return -EINVAL;
	}
	/* Last: the only check that allocates. */
	ret = ctl_tls_new(&tls, cfg->name, &cfg->tls, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "netmoved: %s\n", err);
		return ret;
	}
	return 0;
bad:
	fprintf(stderr, "netmoved: invalid value '%s'\n", optarg);
	return -EINVAL;
}

/* Create the directory holding path (one level, mode 0700) if missing. */
static void mkdir_parent(const char *path)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fprintf(stderr, "netmoved: cannot create %s: %s\n", dir, strerror(errno));
}

int main(int argc, char **argv)
{
	static struct agent a;
	struct sigaction sa = { .sa_handler = on_signal };
	int lfd = -1, wfd = -1, ufd, ret;
	uint64_t stop_by = 0;

	setvbuf(stderr, NULL, _IOLBF, 0);
	/* Threads share a few malloc arenas rather than one each: hundreds of
	 * connection threads must not each fault in an arena. */
	mallopt(M_ARENA_MAX, 4);
	if (parse_args(&a.cfg, argc, argv) < 0)
		return 2;
	if (fault_parse(getenv("NETMOVED_FAULT"), &a.cfg.fault) < 0) {
		fprintf(stderr, "netmoved: NETMOVED_FAULT: '%s' is not ROLE:PHASE:kill|hold=MS\n",
			getenv("NETMOVED_FAULT"));
		return 2;
	}
	pthread_mutex_init(&a.lock, NULL);
	g_agent = &a;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mkdir_parent(a.cfg.socket);
	mkdir_parent(a.cfg.journal);
	ufd = ctl_listen_unix(a.cfg.socket);
	if (ufd < 0) {
		fprintf(stderr, "netmoved: %s: %s\n", a.cfg.socket, strerror(-ufd));
		return 1;
	}
	if (a.cfg.listen) {
		lfd = ctl_listen_tcp(a.cfg.listen);
		if (lfd < 0) {
			fprintf(stderr, "netmoved: --listen %s: %s\n", a.cfg.listen, strerror(-lfd));
			return 1;
		}
	}
	if (!a.cfg.no_port_watch) {
		wfd = portwatch_open();
		if (wfd < 0)
			agent_log(&a, "watching for new taps: %s", strerror(-wfd));
	}
	ret = spares_start(&a.spares, (uint32_t)(a.cfg.ring_mib << 20), spares_log, &a);
	if (ret < 0)
		agent_log(&a, "loading buffer programs ahead: %s", strerror(-ret));
	ret = recover_run(&a);
	if (ret > 0)
		agent_log(&a, "recovery: %d record(s) journaled for what an earlier netmoved left", ret);
	ret = lease_start(&a);
	if (ret < 0) {
		fprintf(stderr, "netmoved: the lease thread: %s\n", strerror(-ret));
		return 1;
	}
	agent_log(&a, "ready: socket %s, peers on %s", a.cfg.socket,
		  a.cfg.listen ? a.cfg.listen : "(none)");
	for (;;) {
		struct pollfd pfd[3] = { { .fd = ufd, .events = POLLIN },
					 { .fd = wfd, .events = POLLIN },
					 { .fd = lfd, .events = POLLIN } };
		char addr[64];
		int fd;

		/* On SIGTERM the local socket stays open until the running
		 * relocations ended: a paused VM's resume event comes on it. */
		if (a.stop && !stop_by) {
			stop_by = timeutil_deadline_ms((int)(a.cfg.blackout_timeout_ms +
							      2 * a.cfg.phase_timeout_ms + 1000));
			agent_log(&a, "stopping: %d relocation(s) running", stop_relocations(&a));
			if (lfd >= 0)
				close(lfd);
			lfd = -1;
		}
		if (stop_by && (!running(&a) || timeutil_mono_ns() > stop_by))
			break;
		ret = poll(pfd, lfd >= 0 ? 3 : 2, stop_by ? 50 : 500);
		if (ret <= 0)
			continue;
		if (wfd >= 0 && (pfd[1].revents & POLLIN) &&
		    portwatch_read(wfd, port_appeared, &a) == -ENOBUFS)
			portwatch_each(port_appeared, &a);
		if (pfd[0].revents & POLLIN) {
			fd = accept4(ufd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				start_local(&a, fd);
		}
		if (lfd >= 0 && (pfd[2].revents & POLLIN)) {
			fd = ctl_accept_tcp(lfd, addr, sizeof(addr));
			if (fd >= 0) {
				struct peer_conn *p = calloc(1, sizeof(*p));

				if (!p) {
					close(fd);
					continue;
				}
				p->a = &a;
				p->fd = fd;
				memcpy(p->addr, addr, sizeof(p->addr));
				if (!admit_peer(&a, addr)) {
					close(fd);
					free(p);
				} else if (start_conn_thread(peer_main, p) < 0) {
					pthread_mutex_lock(&a.lock);
					a.unauth--;
					pthread_mutex_unlock(&a.lock);
					close(fd);
					free(p);
				}
			}
		}
	}
	ret = running(&a);
	if (ret)
		agent_log(&a, "stopped with %d relocation(s) still running: their buffers fail "
			      "open, the next netmoved resolves the rest", ret);
	else
		agent_log(&a, "stopped");
	lease_stop(&a);
	spares_stop(&a.spares);
	unlink(a.cfg.socket);
	ctl_tls_free(a.cfg.tls);
	return 0;
}
