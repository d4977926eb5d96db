/* netmoved's requests: the local CLI's (status, journal, relocate, event,
 * pull) and the peers' (PREPARE, PULL), each on its own connection thread. */
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
#include "plan.h"
#include "requests.h"
#include "recover.h"
#include "scheduler.h"
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
	pthread_mutex_lock(&a->lock);
	out_u64(&o, "max_per_peer", a->cfg.max_per_peer);
	out_u64(&o, "queued", relq_count(&a->queue, NULL));
	out_arr_begin(&o, "relocations");
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
	const struct journal_filter *f;	/* the lines wanted */
};

static int keep_line(const char *line, void *arg)
{
	struct lines *l = arg;

	if (!journal_match(line, l->f))
		return 0;

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
	char mac[MAC_STRLEN + 8], host[AGENT_NAME_LEN], outcome[64];
	struct journal_filter f = { 0 };
	struct lines l = { .f = &f };
	struct ctl_conn c;
	struct ctl_msg m;
	uint64_t limit = JOURNAL_DEFAULT_LIMIT;
	size_t i;
	int ret;

	ctl_get_u64(req, A_LIMIT, &limit);
	if (ctl_get_str(req, A_MATCH_MAC, mac, sizeof(mac)) == 0)
		f.mac = mac;
	if (ctl_get_str(req, A_MATCH_HOST, host, sizeof(host)) == 0)
		f.host = host;
	if (ctl_get_str(req, A_MATCH_OUTCOME, outcome, sizeof(outcome)) == 0)
		f.outcome = outcome;
	ctl_get_u64(req, A_ID, &f.id);
	ctl_get_u64(req, A_SINCE, &f.since_us);
	ctl_get_u64(req, A_UNTIL, &f.until_us);
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

int agent_get_vm(const struct ctl_msg *m, struct mac *mac, struct in_addr *ip, char *err,
		 size_t errlen)
{
	const void *v;
	size_t len;

	if (ctl_get(m, A_MAC, &v, &len) < 0 || len != MAC_LEN) {
		snprintf(err, errlen, "missing MAC");
		return -EINVAL;
	}
	memcpy(mac->b, v, MAC_LEN);
	if (mac_is_multicast(mac) || mac_is_zero(mac)) {
		snprintf(err, errlen, "not a unicast MAC");
		return -EINVAL;
	}
	if (ctl_get(m, A_IP, &v, &len) < 0 || len != 4) {
		snprintf(err, errlen, "missing IP");
		return -EINVAL;
	}
	memcpy(ip, v, 4);
	if (!ip->s_addr) {
		snprintf(err, errlen, "no IP (0.0.0.0)");
		return -EINVAL;
	}
	return 0;
}

int agent_parse_relocate(struct agent *a, struct ctl_msg *req, struct reloc *r, char *err,
			 size_t errlen)
{
	uint64_t prio;
	int ret;

	if (agent_get_vm(req, &r->mac, &r->ip, err, errlen) < 0)
		return -EINVAL;
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
	r->priority = PROTO_PRIORITY_DEFAULT;
	if (ctl_get_u64(req, A_PRIORITY, &prio) == 0) {
		if (prio > PROTO_PRIORITY_MAX) {
			snprintf(err, errlen, "priority %llu is not 0..%d", (unsigned long long)prio,
				 PROTO_PRIORITY_MAX);
			return -EINVAL;
		}
		r->priority = (unsigned)prio;
	}
	snprintf(r->from, sizeof(r->from), "%s", a->cfg.name);
	if (!strcmp(r->to, a->cfg.name)) {
		snprintf(err, errlen, "destination %s is this host", r->to);
		return -EINVAL;
	}
	return 0;
}

/* Whether a request r is the relocation old, prepared and waiting for its
 * VM to stop (caller holds a->lock). */
static bool joins(const struct reloc *old, const struct reloc *r)
{
	return old->is_src && old->prepared && !old->done && !old->t_us[PH_BLACKOUT] &&
	       !strcmp(old->to, r->to) && !strcmp(old->port, r->port) &&
	       !strcmp(old->peer_port, r->peer_port) && old->ip.s_addr == r->ip.s_addr;
}

void agent_relocate(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by)
{
	struct reloc *r = calloc(1, sizeof(*r));
	char err[256] = "";
	bool full;

	if (!r) {
		agent_reply(fd, false, "out of memory");
		return;
	}
	r->by = *by;
	r->is_src = true;
	r->cli_fd = fd;
	r->evfd[0] = r->evfd[1] = -1;
	r->peer.fd = -1;
	r->agent = a;
	if (agent_parse_relocate(a, req, r, err, sizeof(err)) < 0) {
		agent_reply(fd, false, err);
		free(r);
		return;
	}
	pthread_mutex_lock(&a->lock);
	if (a->stopping || agent_find(a, &r->mac)) {
		struct reloc *old = a->stopping ? NULL : agent_find(a, &r->mac);
		char text[160];

		/* Prepared ahead (a schedule): the hook of the migration itself
		 * asks again, and the VM may go. */
		if (old && joins(old, r)) {
			snprintf(text, sizeof(text), "prepared (relocation %llu, prepared ahead)",
				 (unsigned long long)old->id);
			pthread_mutex_unlock(&a->lock);
			agent_log(a, "relocation %llu joined: it was prepared ahead",
				  (unsigned long long)old->id);
			agent_reply(fd, true, text);
			free(r);
			return;
		}
		pthread_mutex_unlock(&a->lock);
		agent_reply(fd, false, a->stopping ? "netmoved is stopping" :
					     "a relocation of this MAC is already in progress");
		free(r);
		return;
	}
	/* Its destination takes no more at once: it waits for its turn (its
	 * asker waits too, for "prepared"). */
	full = agent_in_flight_to(a, r->to) >= a->cfg.max_per_peer;
	r->id = ++a->next_id;
	r->next = a->relocs;
	a->relocs = r;
	agent_prune(a);
	if (full) {
		if (relq_push(&a->queue, r, r->to, r->priority) == 0) {
			size_t waiting = relq_count(&a->queue, r->to);

			r->queued = true;
			r->queued_us = timeutil_real_ns() / NSEC_PER_USEC;
			pthread_mutex_unlock(&a->lock);
			agent_log(a, "relocation %llu queued for %s (priority %u, %zu waiting)",
				  (unsigned long long)r->id, r->to, r->priority, waiting);
			return;
		}
		r->done = true;
		snprintf(r->outcome, sizeof(r->outcome), "failed");
		pthread_mutex_unlock(&a->lock);
		agent_reply(fd, false, "out of memory for the queue");
		/* Kept (not pruned) until answered. */
		pthread_mutex_lock(&a->lock);
		r->cli_fd = -1;
		r->thread_exited = true;
		pthread_mutex_unlock(&a->lock);
		return;
	}
	pthread_mutex_unlock(&a->lock);
	agent_start_src(a, r);
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
	if (r && r->queued) {
		char why[160];

		snprintf(why, sizeof(why), "relocation %llu of this MAC is queued (position %zu), "
			 "not prepared: its migration must wait for \"prepared\"",
			 (unsigned long long)r->id, relq_position(&a->queue, r));
		pthread_mutex_unlock(&a->lock);
		agent_reply(fd, false, why);
		return;
	}
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
void requests_local(struct agent *a, int fd)
{
	struct requester by;
	struct ctl_conn c;
	struct ctl_msg m;
	unsigned uid = (unsigned)-1;
	uint64_t json = 0, at;
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
	if (m.type == PROTO_REQ_RELOCATE || m.type == PROTO_REQ_PULL || m.type == PROTO_REQ_CANCEL)
		requester_local(&by, uid, pid);
	switch (m.type) {
	case PROTO_REQ_RELOCATE:
	case PROTO_REQ_PULL:
		if (ctl_get_u64(&m, A_AT, &at) == 0)
			scheduler_add(a, fd, &m, &by);
		else if (m.type == PROTO_REQ_PULL)
			pull_start(a, fd, &m, &by);
		else
			agent_relocate(a, fd, &m, &by);
		break;
	case PROTO_REQ_SCHEDULE:
		scheduler_list(a, fd, json);
		break;
	case PROTO_REQ_CANCEL:
		scheduler_cancel(a, fd, &m, &by);
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
	case PROTO_REQ_PLAN:
		plan_start(a, fd, &m);
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

/* A peer connected: authenticate, then it must open with PREPARE, PULL or PLAN. */
void requests_peer(struct agent *a, int fd, const char *from)
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
	if (m.type == PROTO_PLAN) {
		plan_serve(a, &c, &m);	/* checks the asker's claim itself */
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
