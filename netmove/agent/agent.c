/* netmoved's shared helpers: the log, answers to the CLI, the relocation
 * list and the resumes noted before their PREPARE (agent.h). */
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
#include "ovsp.h"
#include "recover.h"
#include "netmove/agentc.h"
#include "netmove/buffer.h"
#include "netmove/journal.h"
#include "netmove/log.h"
#include "netmove/out.h"
#include "netmove/portwatch.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"

void agent_vlog(const struct agent *a, const char *fmt, va_list ap)
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

void agent_journal_head(const struct agent *a, struct out *o)
{
	out_u64(o, "time_us", timeutil_real_ns() / NSEC_PER_USEC);
	out_u64(o, "mono_us", timeutil_mono_ns() / NSEC_PER_USEC);
	out_str(o, "boot_id", a->boot_id);
	out_str(o, "host", a->cfg.name);
}

bool agent_is_peer(const struct agent *a, const char *name)
{
	int i;

	for (i = 0; i < a->cfg.npeers; i++)
		if (!strcmp(a->cfg.peers[i].name, name))
			return true;
	return false;
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

int agent_forward(struct replay *rp, const struct buffer_record *rec, uint64_t *sent)
{
	int ret = replay_send(rp, rec, NULL);

	if (ret == 0 && ++*sent % AGENT_FORWARD_BATCH == 0)
		usleep(AGENT_FORWARD_PAUSE_US);
	return ret;
}

int agent_until_quiet(int (*step)(void *arg), void *arg, int rounds)
{
	int i, quiet, ret;

	for (i = 0, quiet = 0; i < AGENT_QUIET_MAX && quiet < rounds; i++) {
		usleep(AGENT_QUIET_STEP_US);
		ret = step(arg);
		if (ret < 0)
			return ret;
		quiet = ret == 0 ? quiet + 1 : 0;
	}
	return 0;
}

int agent_ring_empty(struct buffer *b, int (*step)(void *arg), void *arg)
{
	struct buffer_stats bs;
	int i, ret;

	for (i = 0; i < AGENT_DRAIN_TRIES; i++) {
		ret = step(arg);
		if (ret < 0)
			return ret;
		if (buffer_stats(b, NULL, &bs) < 0 || !bs.ring_used)
			break;
		usleep(AGENT_DRAIN_STEP_US);
	}
	return 0;
}

void agent_reloc_path(const struct agent *a, const char *what, const char *from, uint64_t id,
		      char *buf, size_t len)
{
	if (snprintf(buf, len, "%s.%s-%s-%llu", a->cfg.socket, what, from,
		     (unsigned long long)id) >= (int)len)
		buf[0] = 0;
}

bool agent_vm_on_uplink(struct ovsp_ctl *ctl, const char *bridge, const struct mac *mac,
			uint32_t uplink)
{
	struct ovsp_fdb_entry e;
	char *err = NULL;
	bool seen;

	seen = ovsp_fdb_lookup(ctl, bridge, mac->b, 0, &e, &err) == 0 && e.ofport == uplink &&
	       !e.is_static;
	free(err);
	return seen;
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

/* ------------------------------------------------------------ the queue */

unsigned agent_in_flight_to(struct agent *a, const char *host)
{
	struct reloc *r;
	unsigned n = 0;

	for (r = a->relocs; r; r = r->next)
		n += r->is_src && !r->done && !r->queued && !strcmp(r->to, host);
	return n;
}

void agent_start_src(struct agent *a, struct reloc *r)
{
	if (reloc_start_src(a, r) == 0)
		return;
	pthread_mutex_lock(&a->lock);
	r->done = true;
	snprintf(r->outcome, sizeof(r->outcome), "failed");
	pthread_mutex_unlock(&a->lock);
	agent_reply(r->cli_fd, false, "cannot start the relocation thread");
	pthread_mutex_lock(&a->lock);
	r->cli_fd = -1;
	r->thread_exited = true;
	pthread_mutex_unlock(&a->lock);
}

/* Whether the asker of a queued relocation hung up (it waits for the
 * answer; a CLI that timed out closed its end). */
static bool asker_gone(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	return fd < 0 || (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)));
}

/* End a queued relocation that was taken off the queue (caller holds
 * a->lock): journaled and answered by the caller, without it. */
static void cancel(struct agent *a, struct reloc *r, const char *why)
{
	uint64_t now = timeutil_real_ns() / NSEC_PER_USEC;

	r->queued = false;
	r->done = true;	/* thread_exited once answered: kept until then */
	snprintf(r->outcome, sizeof(r->outcome), "cancelled");
	snprintf(r->error, sizeof(r->error), "%s (queued %llu ms)", why,
		 (unsigned long long)((now - r->queued_us) / 1000));
	metrics_count(&a->metrics, METRICS_SRC, "cancelled");
}

void agent_dequeue(struct agent *a, const char *host)
{
	struct reloc *go[AGENT_DEQUEUE_BATCH], *gone[AGENT_DEQUEUE_BATCH], *r;
	size_t ngo, ngone, i;
	char to[AGENT_NAME_LEN];

	snprintf(to, sizeof(to), "%s", host);
	do {
		ngo = ngone = 0;
		pthread_mutex_lock(&a->lock);
		while (ngo < AGENT_DEQUEUE_BATCH && ngone < AGENT_DEQUEUE_BATCH &&
		       agent_in_flight_to(a, to) < a->cfg.max_per_peer &&
		       (r = relq_pop(&a->queue, to))) {
			if (a->stopping || asker_gone(r->cli_fd)) {
				cancel(a, r, a->stopping ? "netmoved is stopping" :
							   "the asker stopped waiting before its turn");
				gone[ngone++] = r;
				continue;
			}
			r->queued = false;
			go[ngo++] = r;
		}
		pthread_mutex_unlock(&a->lock);
		for (i = 0; i < ngone; i++) {
			agent_log(a, "relocation %llu cancelled: %s", (unsigned long long)gone[i]->id,
				  gone[i]->error);
			reloc_journal(a, gone[i]);
			agent_reply(gone[i]->cli_fd, false, gone[i]->error);
			pthread_mutex_lock(&a->lock);
			gone[i]->cli_fd = -1;
			gone[i]->thread_exited = true;
			pthread_mutex_unlock(&a->lock);
		}
		for (i = 0; i < ngo; i++) {
			agent_log(a, "relocation %llu: its turn for %s", (unsigned long long)go[i]->id,
				  to);
			agent_start_src(a, go[i]);
		}
	} while (ngo == AGENT_DEQUEUE_BATCH || ngone == AGENT_DEQUEUE_BATCH);
}

void agent_cancel_queued(struct agent *a, const char *why)
{
	struct reloc *r;

	for (;;) {
		pthread_mutex_lock(&a->lock);
		for (r = a->relocs; r && !r->queued; r = r->next)
			;
		if (r) {
			(void)relq_remove(&a->queue, r);
			cancel(a, r, why);
		}
		pthread_mutex_unlock(&a->lock);
		if (!r)
			return;
		reloc_journal(a, r);
		agent_reply(r->cli_fd, false, r->error);
		pthread_mutex_lock(&a->lock);
		r->cli_fd = -1;
		r->thread_exited = true;
		pthread_mutex_unlock(&a->lock);
	}
}
