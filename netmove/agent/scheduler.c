/* scheduler: scheduled relocations begun on time (see scheduler.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "agent.h"
#include "scheduler.h"
#include "sched.h"
#include "netmove/journal.h"
#include "netmove/out.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"

#define SCHED_AHEAD_MAX_US (366ULL * 86400 * 1000000)	/* --at at most a year ahead */
#define SCHED_WINDOW_MAX_US (7ULL * 86400 * 1000000)	/* --window at most a week */
#define SCHED_PAST_SLACK_US 1000000			/* "now" said a moment ago */
#define SCHED_WAKE_MS 1000	/* the thread looks this often at least: a wall clock
				 * set forward is seen within a second */

static uint64_t now_us(void)
{
	return timeutil_real_ns() / NSEC_PER_USEC;
}

/* A record "schedule" of entry e (NULL: of the file): outcome what; by_key/by (may be NULL),
 * who did it when that is not who asked for it; text (may be NULL). */
static void journal_entry(struct agent *a, const struct sched_entry *e, const char *what,
			  const char *by_key, const struct requester *by, const char *text)
{
	struct journal_entry j;
	int ret;

	if (journal_begin(&j) < 0)
		return;
	agent_journal_head(a, &j.o);
	out_str(&j.o, "record", "schedule");
	if (e)
		sched_render(e, &j.o);
	else
		out_str(&j.o, "file", a->cfg.schedule);
	if (by)
		requester_render(by, by_key, &j.o);
	if (text)
		out_str(&j.o, "text", text);
	out_str(&j.o, "outcome", what);
	ret = journal_commit(&j, a->cfg.journal);
	if (ret < 0)
		agent_log(a, "journal %s: %s", a->cfg.journal, strerror(-ret));
}

/* Keep the schedule in its file (caller holds a->lock). */
static int save(struct agent *a)
{
	int ret = sched_save(&a->sched, a->cfg.schedule);

	if (ret < 0)
		agent_log(a, "schedule %s: %s", a->cfg.schedule, strerror(-ret));
	return ret;
}

/* A begun entry: its request made as its asker would have made it then,
 * answered here. */
struct begun {
	struct agent *a;
	struct sched_entry e;
	int fd;			/* where the relocation answers */
};

static void *begun_main(void *arg)
{
	struct begun *b = arg;
	char text[256] = "";
	struct ctl_conn c;
	struct ctl_msg rep;
	int ret;

	/* Queued, it answers once prepared: there is no hurry. */
	ctl_conn_init(&c, b->fd, NULL, "schedule");
	ctl_msg_init(&rep, 0);
	ret = ctl_recv(&c, &rep, -1);
	if (ret < 0)
		snprintf(text, sizeof(text), "no answer: %s", ctl_strerror(ret));
	else if (ctl_get_str(&rep, A_TEXT, text, sizeof(text)) < 0)
		text[0] = 0;
	ret = ret == 0 && rep.type == PROTO_REP_OK;
	agent_log(b->a, "scheduled relocation %llu %s: %s", (unsigned long long)b->e.id,
		  ret ? "begun" : "refused", text);
	journal_entry(b->a, &b->e, ret ? "begun" : "refused", NULL, NULL, text);
	ctl_msg_free(&rep);
	ctl_conn_close(&c);
	free(b);
	return NULL;
}

/* Begin e now: the relocation answers on a socket pair, read by its own
 * thread, so that one waiting in the queue holds nothing up here. */
static void begin(struct agent *a, const struct sched_entry *e)
{
	struct requester by = e->by;
	struct begun *b = calloc(1, sizeof(*b));
	pthread_attr_t attr;
	struct ctl_msg m;
	pthread_t t;
	int sv[2] = { -1, -1 };

	ctl_msg_init(&m, 0);
	if (!b || sched_request(e, &m) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		journal_entry(a, e, "refused", NULL, NULL, "out of memory or descriptors");
		goto fail;
	}
	b->a = a;
	b->e = *e;
	b->fd = sv[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, AGENT_CONN_STACK);
	if (pthread_create(&t, &attr, begun_main, b)) {
		pthread_attr_destroy(&attr);
		journal_entry(a, e, "refused", NULL, NULL, "cannot start a thread");
		goto fail;
	}
	pthread_attr_destroy(&attr);
	agent_log(a, "scheduled relocation %llu: its time came", (unsigned long long)e->id);
	by.schedule_id = e->id;
	by.scheduled_us = e->at_us;
	if (e->pull)
		pull_start(a, sv[0], &m, &by);
	else
		agent_relocate(a, sv[0], &m, &by);
	ctl_msg_free(&m);
	return;
fail:
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	free(b);
	ctl_msg_free(&m);
}

static void *scheduler_main(void *arg)
{
	struct agent *a = arg;
	struct sched_entry e;
	int64_t ms;

	pthread_mutex_lock(&a->lock);
	do {
		uint64_t now = now_us();

		while (!a->stopping && sched_take_due(&a->sched, now, &e)) {
			save(a);
			pthread_mutex_unlock(&a->lock);
			if (now > e.until_us) {
				agent_log(a, "scheduled relocation %llu missed its window",
					  (unsigned long long)e.id);
				journal_entry(a, &e, "missed", NULL, NULL,
					      "its window closed before an agent could begin it");
			} else {
				begin(a, &e);
			}
			pthread_mutex_lock(&a->lock);
		}
		ms = sched_next_ms(&a->sched, now_us());
	} while (!worker_wait(&a->scheduler, ms < 0 || ms > SCHED_WAKE_MS ? SCHED_WAKE_MS :
								     (int)ms));
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int scheduler_start(struct agent *a)
{
	char aside[4200], why[4400];
	unsigned line = 0;
	int ret;

	ret = sched_load(&a->sched, a->cfg.schedule, &line);
	if (ret == -EBADMSG) {
		/* Kept for the operator, not read again: the entries before
		 * the bad line stay scheduled. */
		snprintf(aside, sizeof(aside), "%s.bad-%llu", a->cfg.schedule,
			 (unsigned long long)(now_us() / 1000000));
		ret = rename(a->cfg.schedule, aside) < 0 ? -errno : 0;
		snprintf(why, sizeof(why), "line %u is not a scheduled relocation: the file is "
			 "now %s%s%s, %zu entries before it kept", line, aside, ret ? ": " : "",
			 ret ? strerror(-ret) : "", a->sched.n);
		agent_log(a, "schedule %s: %s", a->cfg.schedule, why);
		journal_entry(a, NULL, "unreadable", NULL, NULL, why);
		ret = save(a);
	}
	if (ret < 0) {
		fprintf(stderr, "netmoved: --schedule %s: %s\n", a->cfg.schedule, strerror(-ret));
		return ret;
	}
	if (a->sched.n)
		agent_log(a, "schedule %s: %zu relocation(s) scheduled", a->cfg.schedule,
			  a->sched.n);
	return worker_start(&a->scheduler, &a->lock, scheduler_main, a);
}

void scheduler_stop(struct agent *a)
{
	worker_stop(&a->scheduler);
	sched_free(&a->sched);
}

/* The entry req asks for, checked now as it would be checked when it
 * begins.  Returns 0 or -EINVAL with why in err. */
static int entry_of(struct agent *a, struct ctl_msg *req, struct sched_entry *e, char *err,
		    size_t errlen)
{
	uint64_t now = now_us(), window = SCHED_WINDOW_DEFAULT_US;
	struct reloc r;

	memset(e, 0, sizeof(*e));
	if (ctl_get_u64(req, A_AT, &e->at_us) < 0) {
		snprintf(err, errlen, "no time (A_AT)");
		return -EINVAL;
	}
	ctl_get_u64(req, A_WINDOW, &window);
	if (e->at_us + SCHED_PAST_SLACK_US < now || e->at_us > now + SCHED_AHEAD_MAX_US ||
	    window > SCHED_WINDOW_MAX_US) {
		snprintf(err, errlen, "%s", e->at_us + SCHED_PAST_SLACK_US < now ?
			 "that time has passed" : window > SCHED_WINDOW_MAX_US ?
			 "a window is at most 7 days" : "that time is more than a year ahead");
		return -EINVAL;
	}
	e->until_us = e->at_us + window;
	e->created_us = now;
	if (req->type == PROTO_REQ_PULL) {
		e->pull = true;
		if (pull_parse(req, &e->mac, &e->ip, e->port, e->host, &e->priority, err,
			       errlen) < 0)
			return -EINVAL;
	} else {
		memset(&r, 0, sizeof(r));
		if (agent_parse_relocate(a, req, &r, err, errlen) < 0)
			return -EINVAL;
		e->mac = r.mac;
		e->ip = r.ip;
		e->priority = r.priority;
		memcpy(e->host, r.to, sizeof(e->host));
		memcpy(e->port, r.port, sizeof(e->port));
		memcpy(e->dst_port, r.peer_port, sizeof(e->dst_port));
	}
	if (e->host[0] && !agent_is_peer(a, e->host)) {
		snprintf(err, errlen, "%s is not a peer of this agent (--peer)", e->host);
		return -EINVAL;
	}
	return 0;
}

void scheduler_add(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by)
{
	char err[256], at[TIMEUTIL_REAL_LEN], until[TIMEUTIL_REAL_LEN], text[400];
	struct sched_entry e;
	int ret;

	if (entry_of(a, req, &e, err, sizeof(err)) < 0) {
		agent_reply(fd, false, err);
		return;
	}
	e.by = *by;
	pthread_mutex_lock(&a->lock);
	ret = a->stopping ? -ESHUTDOWN : sched_add(&a->sched, &e);
	if (ret == 0 && save(a) < 0) {
		sched_cancel(&a->sched, e.id, NULL);
		ret = -EIO;
	}
	pthread_mutex_unlock(&a->lock);
	if (ret < 0) {
		snprintf(err, sizeof(err), "%s", ret == -ESHUTDOWN ? "netmoved is stopping" :
			 ret == -ENOSPC ? "the schedule is full (1024 entries)" :
			 ret == -EIO ? "cannot keep the schedule in its file (see netmoved's log)" :
				       strerror(-ret));
		agent_reply(fd, false, err);
		return;
	}
	worker_nudge(&a->scheduler);
	journal_entry(a, &e, "scheduled", NULL, NULL, NULL);
	timeutil_format_real(e.at_us * NSEC_PER_USEC, at, sizeof(at));
	timeutil_format_real(e.until_us * NSEC_PER_USEC, until, sizeof(until));
	snprintf(text, sizeof(text), "scheduled %llu: %s at %s (missed if not begun by %s)",
		 (unsigned long long)e.id, e.pull ? "pull" : "relocate", at, until);
	agent_log(a, "%s", text);
	agent_reply(fd, true, text);
}

void scheduler_list(struct agent *a, int fd, bool json)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	struct out o;

	if (!f) {
		agent_reply(fd, false, "out of memory");
		return;
	}
	out_init(&o, f, json);
	out_str(&o, "host", a->cfg.name);
	out_str(&o, "file", a->cfg.schedule);
	pthread_mutex_lock(&a->lock);
	out_arr_begin(&o, "scheduled");
	for (i = 0; i < a->sched.n; i++) {
		out_obj_begin(&o, NULL);
		sched_render(&a->sched.v[i], &o);
		out_obj_end(&o);
	}
	pthread_mutex_unlock(&a->lock);
	out_arr_end(&o);
	out_finish(&o);
	fclose(f);
	agent_reply(fd, buf != NULL, buf ? buf : "out of memory");
	free(buf);
}

void scheduler_cancel(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by)
{
	struct sched_entry e;
	char text[128];
	uint64_t id;
	int ret, saved = 0;

	if (ctl_get_u64(req, A_ID, &id) < 0) {
		agent_reply(fd, false, "cancel needs an id");
		return;
	}
	pthread_mutex_lock(&a->lock);
	ret = sched_cancel(&a->sched, id, &e);
	if (ret == 0)
		saved = save(a);
	pthread_mutex_unlock(&a->lock);
	if (ret < 0) {
		snprintf(text, sizeof(text), "nothing scheduled has id %llu", (unsigned long long)id);
		agent_reply(fd, false, text);
		return;
	}
	journal_entry(a, &e, "cancelled", "cancelled_by", by, NULL);
	snprintf(text, sizeof(text), "cancelled %llu%s", (unsigned long long)id, saved < 0 ?
		 " here, but the file still has it (see netmoved's log)" : "");
	agent_log(a, "scheduled relocation %s", text);
	agent_reply(fd, true, text);
}
