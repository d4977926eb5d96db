/* The relocation choreography: what both roles share.  One thread per
 * relocation and role runs choreo.h's state machine through the ops of
 * reloc_src.c or reloc_dst.c (see ARCHITECTURE.md, "The relocation
 * choreography"); work.h is the state those threads keep. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "agent.h"
#include "work.h"
#include "choreo.h"
#include "taprec.h"
#include "netmove/announce.h"
#include "netmove/buffer.h"
#include "netmove/fdb.h"
#include "netmove/frame.h"
#include "netmove/journal.h"
#include "netmove/out.h"
#include "netmove/proto.h"
#include "netmove/tapq.h"
#include "netmove/timeutil.h"
#include "netmove/verify.h"
#include "netmove/wire.h"
#include "ovsp.h"

static const char *const phase_names[PH_MAX] = {
	"prepare", "blackout", "switchover", "handoff", "verify", "commit", "rollback",
};

const char *reloc_phase_name(enum phase p)
{
	return p < PH_MAX ? phase_names[p] : "?";
}

uint64_t work_now_us(void)
{
	return timeutil_real_ns() / NSEC_PER_USEC;
}

/* Publish what this thread measured into its record (status, journal). */
void work_publish(struct work *w)
{
	pthread_mutex_lock(&w->a->lock);
	w->r->p = w->p;
	pthread_mutex_unlock(&w->a->lock);
}

void work_mark(struct work *w, enum phase p)
{
	struct reloc *r = w->r;

	pthread_mutex_lock(&w->a->lock);
	r->p = w->p;
	r->phase = p;
	if (!r->t_us[p])
		reloc_mark_at(r, p, work_now_us());
	pthread_mutex_unlock(&w->a->lock);
	agent_log(w->a, "relocation %llu %s: %s", (unsigned long long)r->id,
		  r->is_src ? "source" : "destination", reloc_phase_name(p));
	fault_hit(w->a, &w->a->cfg.fault, r->is_src, p);
}

void work_error(struct work *w, const char *what, int err, const char *detail)
{
	struct reloc *r = w->r;

	pthread_mutex_lock(&w->a->lock);
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s: %s%s%s", what,
			 err ? strerror(-err) : "failed", detail ? ": " : "", detail ? detail : "");
	pthread_mutex_unlock(&w->a->lock);
	agent_log(w->a, "relocation %llu: %s: %s%s%s", (unsigned long long)r->id, what,
		  err ? strerror(-err) : "failed", detail ? ": " : "", detail ? detail : "");
}

void reloc_mark_at(struct reloc *r, enum phase p, uint64_t real_us)
{
	uint64_t mono = timeutil_mono_ns() / NSEC_PER_USEC, now = work_now_us();

	/* An instant told in wall-clock time (a peer's, an event's): its
	 * monotonic time by how long ago it was, as the wall clock says now. */
	r->t_us[p] = real_us;
	r->t_mono_us[p] = real_us <= now && now - real_us < mono ? mono - (now - real_us) : mono;
}

void reloc_render(struct reloc *r, struct out *o)
{
	char m[MAC_STRLEN], ip[INET_ADDRSTRLEN];
	uint64_t stop_us;
	int p;

	out_u64(o, "id", r->id);
	out_str(o, "role", r->is_src ? "source" : "destination");
	out_str(o, "mac", mac_format(&r->mac, m));
	out_str(o, "ip", inet_ntop(AF_INET, &r->ip, ip, sizeof(ip)));
	out_str(o, "from", r->from);
	out_str(o, "to", r->to);
	out_str(o, "port", r->port);
	requester_render(&r->by, "requested_by", o);
	if (r->is_src)
		out_u64(o, "priority", r->priority);
	if (r->queued_us)
		out_u64(o, "queued_us", r->queued_us);
	if (r->queued) {
		out_str(o, "phase", "queued");
		out_u64(o, "queue_position", relq_position(&r->agent->queue, r));
	} else {
		out_str(o, "phase", reloc_phase_name(r->phase));
	}
	out_obj_begin(o, "phases_us");
	for (p = 0; p < PH_MAX; p++)
		if (r->t_us[p])
			out_u64(o, phase_names[p], r->t_us[p]);
	out_obj_end(o);
	out_obj_begin(o, "phases_mono_us");
	for (p = 0; p < PH_MAX; p++)
		if (r->t_mono_us[p])
			out_u64(o, phase_names[p], r->t_mono_us[p]);
	out_obj_end(o);
	if (r->p.resume_us)
		out_u64(o, "resumed_us", r->p.resume_us);
	/* The pause runs from the stop when the hypervisor said when it was. */
	stop_us = r->p.stopped_us ? r->p.stopped_us : r->t_us[PH_BLACKOUT];
	if (stop_us && r->p.resume_us > stop_us)
		out_double(o, "vm_pause_ms", (double)(r->p.resume_us - stop_us) / 1e3, 3);
	/* The VM's first frame here -> this agent read the detector's event. */
	if (r->p.resume_seen_us && r->p.resume_us)
		out_i64(o, "resume_to_seen_us", (int64_t)(r->p.resume_seen_us - r->p.resume_us));
	if (r->p.announce_us && r->p.resume_us)
		out_i64(o, "resume_to_announce_us", (int64_t)(r->p.announce_us - r->p.resume_us));
	if (r->p.fdb_moved_us && r->p.resume_us)
		out_i64(o, "resume_to_fdb_us", (int64_t)(r->p.fdb_moved_us - r->p.resume_us));
	if (r->p.first_replay_us && r->p.resume_us)
		out_i64(o, "resume_to_first_replay_us", (int64_t)(r->p.first_replay_us - r->p.resume_us));
	if (r->p.stopped_us && r->t_us[PH_BLACKOUT])
		out_i64(o, "blackout_late_us", (int64_t)(r->t_us[PH_BLACKOUT] - r->p.stopped_us));
	if (r->is_src) {
		out_obj_begin(o, "tap_queue");
		if (r->p.tap_queues >= 0) {
			out_i64(o, "queues", r->p.tap_queues);
			out_u64(o, "recovered", r->p.tap_recovered);
			out_u64(o, "other", r->p.tap_other);
			out_u64(o, "reader_took", r->p.tap_read);
			if (r->p.reader_kept[0]) {
				out_str(o, "reader_kept", r->p.reader_kept);
				out_u64(o, "reader_lost_sent_on", r->p.tap_reader_lost);
			}
		} else {
			out_str(o, "none", r->p.tap_queues == -ECANCELED ? "recovery off (--no-tap-recovery)" :
									  strerror(-r->p.tap_queues));
		}
		out_obj_end(o);
	}
	out_obj_begin(o, "frames");
	out_u64(o, "buffered", r->p.buffered);
	out_u64(o, "shipped", r->p.shipped);
	out_u64(o, "confirmed", r->p.confirmed);
	out_u64(o, "forwarded", r->p.forwarded);
	out_u64(o, "late_forwarded", r->p.late_forwarded);
	out_u64(o, "unconfirmed", r->p.unconfirmed);
	out_u64(o, "received", r->p.received);
	out_u64(o, "replayed", r->p.replayed);
	out_u64(o, "replayed_gso", r->p.replayed_gso);
	out_u64(o, "replayed_checksum_partial", r->p.replayed_partial);
	out_u64(o, "dropped", r->p.dropped);
	out_u64(o, "port_dropped", r->p.port_dropped);
	out_u64(o, "lost", r->p.dropped + r->p.port_dropped);
	out_u64(o, "spilled", r->p.spilled);
	out_u64(o, "spill_bytes", r->p.spill_bytes);
	out_obj_end(o);
	/* The counts over time, each point [CLOCK_REALTIME µs, count]. */
	out_obj_begin(o, "over_time");
	series_render(&r->p.held_series, "buffered", o);
	series_render(&r->p.shipped_series, "shipped", o);
	series_render(&r->p.replayed_series, "replayed", o);
	out_obj_end(o);
	out_obj_begin(o, "verify");
	out_bool(o, "answered", r->p.verified);
	if (r->p.verified)
		out_double(o, "rtt_ms", r->p.verify_rtt_ms, 3);
	out_obj_end(o);
	if (r->p.fdb_port[0])
		out_str(o, "upstream_fdb_port", r->p.fdb_port);
	out_str(o, "outcome", r->done ? r->outcome : "in progress");
	if (r->error[0])
		out_str(o, "error", r->error);
}

void reloc_journal(struct agent *a, struct reloc *r)
{
	struct journal_entry e;
	int ret;

	if (journal_begin(&e) < 0)
		return;
	agent_journal_head(a, &e.o);
	pthread_mutex_lock(&a->lock);
	reloc_render(r, &e.o);
	pthread_mutex_unlock(&a->lock);
	ret = journal_commit(&e, a->cfg.journal);
	if (ret < 0)
		agent_log(a, "journal %s: %s", a->cfg.journal, strerror(-ret));
}

void work_journal(struct work *w)
{
	reloc_journal(w->a, w->r);
}

/* Events that came after the thread stopped listening (a blackout the
 * hypervisor reported after the VM already resumed on the destination):
 * journal a blackout's lateness, answer them with how it went. */
void work_answer_late(struct work *w)
{
	struct pollfd p = { .fd = w->r->evfd[0], .events = POLLIN };
	struct reloc *r = w->r;
	struct reloc_event ev;

	while (poll(&p, 1, 0) == 1 && read(r->evfd[0], &ev, sizeof(ev)) == sizeof(ev)) {
		if (ev.kind == EV_STOP) {
			w->stopping = true;
			continue;
		}
		if (ev.kind == EV_BLACKOUT && !r->t_us[PH_BLACKOUT]) {
			w->p.stopped_us = ev.stopped_us;
			pthread_mutex_lock(&w->a->lock);
			reloc_mark_at(r, PH_BLACKOUT, ev.time_us);
			r->p = w->p;
			pthread_mutex_unlock(&w->a->lock);
		}
		agent_reply(ev.cli_fd, !r->error[0] || !strcmp(r->outcome, "committed"),
			    ev.kind == EV_BLACKOUT ? "the VM had resumed on the destination already"
						   : r->outcome[0] ? r->outcome : "relocation over");
	}
}

/* Wait ms after COMMIT, cut short when netmoved stops; events that come
 * meanwhile are answered as late ones. */
void work_grace_wait(struct work *w, unsigned ms)
{
	uint64_t end = timeutil_mono_ns() + (uint64_t)ms * NSEC_PER_MSEC;
	struct pollfd p = { .fd = w->r->evfd[0], .events = POLLIN };
	uint64_t now;

	while (!w->stopping && (now = timeutil_mono_ns()) < end)
		if (poll(&p, 1, (int)((end - now) / NSEC_PER_MSEC) + 1) > 0)
			work_answer_late(w);
}

void work_finish(struct work *w, const char *outcome)
{
	struct reloc *r = w->r;
	struct buffer_stats st = { 0 };
	uint64_t drops;

	if (w->buf && buffer_stats(w->buf, &r->mac, &st) == 0) {
		w->p.buffered = st.c.buffered;
		series_add(&w->p.held_series, work_now_us(), st.c.buffered);
		w->p.dropped = st.c.dropped + st.c.ring_full + st.c.errors;
		w->p.late_forwarded = st.c.forwarded;
	}
	/* What the port itself dropped (a tap whose reader fell behind). */
	if (w->buf && tapq_stat(r->port, "tx_dropped", &drops) == 0 && drops > w->port_drop0)
		w->p.port_dropped = drops - w->port_drop0;
	/* Never a plain success when this host lost frames. */
	if ((w->p.dropped || w->p.port_dropped) && !strncmp(outcome, "committed", 9)) {
		char why[160];

		snprintf(why, sizeof(why), "%llu frames lost here (ring full %llu, dropped %llu, "
			 "copy errors %llu, dropped by the port %llu)",
			 (unsigned long long)(w->p.dropped + w->p.port_dropped),
			 (unsigned long long)st.c.ring_full, (unsigned long long)st.c.dropped,
			 (unsigned long long)st.c.errors, (unsigned long long)w->p.port_dropped);
		work_error(w, "lossy", -ENOBUFS, why);
		outcome = "committed with loss";
	}
	pthread_mutex_lock(&w->a->lock);
	r->p = w->p;
	snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
	r->done = true;
	/* Counted with the same numbers the journal records just below. */
	metrics_reloc_end(&w->a->metrics, &(struct metrics_reloc){
		.is_src = r->is_src, .outcome = r->outcome, .t_us = r->t_us,
		.end_us = work_now_us(), .buffered = r->p.buffered, .replayed = r->p.replayed,
		.lost = r->p.dropped + r->p.port_dropped });
	pthread_mutex_unlock(&w->a->lock);
	work_answer_late(w);
	work_journal(w);
	agent_log(w->a, "relocation %llu %s", (unsigned long long)r->id, outcome);
	if (r->cli_fd >= 0) {
		agent_reply(r->cli_fd, !strcmp(outcome, "committed"), r->error[0] ? r->error : outcome);
		r->cli_fd = -1;
	}
	/* Its destination has room again for one that waits. */
	if (r->is_src)
		agent_dequeue(w->a, r->to);
}

void work_cleanup(struct work *w)
{
	work_answer_late(w);
	pthread_mutex_lock(&w->a->lock);
	w->r->lease_buf = NULL;
	pthread_mutex_unlock(&w->a->lock);
	if (w->buf)
		buffer_detach(w->buf);
	replay_close(w->rp);
	taprec_close(&w->tap);
	spill_free(&w->spill);
	shipq_free(&w->sent);
	ovsp_close(w->of);
	ovsp_ctl_close(w->ctl);
	wire_close(&w->up);
	ctl_conn_close(&w->r->peer);
	ctl_msg_free(&w->in);
	ctl_msg_free(&w->out);
	close(w->r->evfd[0]);
	close(w->r->evfd[1]);
	pthread_mutex_lock(&w->a->lock);
	w->r->evfd[0] = w->r->evfd[1] = -1;
	w->r->thread_exited = true;
	pthread_mutex_unlock(&w->a->lock);
}

int work_send(struct work *w)
{
	int ret;

	if (!w->peer_up)
		return -ENOTCONN;
	ret = ctl_send(&w->r->peer, &w->out);
	if (ret < 0)
		w->peer_up = false;
	return ret;
}

int work_send_simple(struct work *w, uint16_t type, const char *text, uint64_t time_us)
{
	ctl_msg_reset(&w->out, type);
	ctl_put_u64(&w->out, A_ID, w->r->id);
	if (text)
		ctl_put_str(&w->out, A_TEXT, text);
	if (time_us)
		ctl_put_u64(&w->out, A_TIME, time_us);
	return work_send(w);
}

int work_ovs_open(struct work *w)
{
	char *err = NULL;
	int ret;

	ret = ovsp_open(w->a->cfg.ofctl, 0, &w->of, &err);
	if (ret < 0) {
		work_error(w, "OpenFlow connection", ret, err);
		free(err);
		return ret;
	}
	ret = ovsp_ctl_open(w->a->cfg.ovs_ctl, 0, &w->ctl, &err);
	if (ret < 0) {
		work_error(w, "ovs-vswitchd control socket", ret, err);
		free(err);
	}
	return ret;
}

int work_attach_buffer(struct work *w)
{
	struct buffer_opts opts = { .ring_bytes = w->a->cfg.ring_mib << 20, .replace = true,
				    .keep_qdisc = true, .spare = spares_take(&w->a->spares) };
	int ret = buffer_attach(w->r->port, &opts, &w->buf);

	if (ret < 0) {
		work_error(w, "attaching the eBPF buffer", ret, w->r->port);
		return ret;
	}
	/* From now on a dead agent leaves no port holding frames. */
	buffer_lease(w->buf, lease_deadline());
	(void)tapq_stat(w->r->port, "tx_dropped", &w->port_drop0);
	pthread_mutex_lock(&w->a->lock);
	w->r->lease_buf = w->buf;
	pthread_mutex_unlock(&w->a->lock);
	ret = buffer_pretouch(w->buf);
	if (ret < 0)
		work_error(w, "pre-touching the ring", ret, NULL);
	return ret;
}

/* Wait for a message from the peer or an event from the main thread.
 * Returns 1 for a message (w->in), 2 for an event (*ev), 3 when the resume
 * detector fired, 0 on timeout, or a negative errno (peer lost). */
int work_wait(struct work *w, int timeout_ms, struct reloc_event *ev)
{
	struct pollfd pfd[3] = {
		{ .fd = w->r->evfd[0], .events = POLLIN },
		{ .fd = w->peer_up ? w->r->peer.fd : -1, .events = POLLIN },
		{ .fd = w->buf && !w->r->is_src ? buffer_resume_fd(w->buf) : -1, .events = POLLIN },
	};
	int ret;

	ret = poll(pfd, 3, timeout_ms);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (ret == 0)
		return 0;
	if (pfd[0].revents & POLLIN) {
		if (read(w->r->evfd[0], ev, sizeof(*ev)) != sizeof(*ev))
			return -EIO;
		return 2;
	}
	if (pfd[2].revents & POLLIN) {
		struct buffer_resume_event re;

		if (buffer_poll_resume(w->buf, 0, &re) == 0) {
			w->resume_real_us = re.real_ns / NSEC_PER_USEC;
			w->p.resume_seen_us = re.read_real_ns / NSEC_PER_USEC;
			return 3;
		}
		return 0;
	}
	if (pfd[1].revents) {
		ret = ctl_recv(&w->r->peer, &w->in, w->a->cfg.phase_timeout_ms);
		if (ret < 0) {
			w->peer_up = false;
			return ret;
		}
		return 1;
	}
	return 0;
}

/* While the ring fills with nobody to take it (the source's VM is paused;
 * the destination's waits for the source's frames first): move what it
 * holds into memory, so that a long blackout does not fill it (spill.h). */
void work_spill(struct work *w)
{
	struct buffer_stats bs;
	bool stats;
	int ret;

	if (!w->spilling || !w->buf)
		return;
	stats = buffer_stats(w->buf, &w->r->mac, &bs) == 0;
	if (stats)
		series_add(&w->p.held_series, work_now_us(), bs.c.buffered);
	if (!w->spill.limit)
		return;
	/* Frames stay in the kernel's ring while it has room: the ring outlives
	 * an agent that dies, and the restarted one finds them (recover.h);
	 * this process's memory does not. */
	if (stats && bs.ring_used < bs.ring_size / SPILL_FROM)
		return;
	ret = spill_take(&w->spill, w->buf);
	if (ret < 0 && !w->spill_err) {
		w->spill_err = ret;
		agent_log(w->a, "relocation %llu: moving the ring into its spill file: %s",
			  (unsigned long long)w->r->id, strerror(-ret));
	}
	if (ret > 0) {
		w->p.spilled = w->spill.frames;
		w->p.spill_bytes = w->spill.bytes;
		work_publish(w);
	}
}

/* True if a relocation of the same MAC started on this agent after r. */
bool work_superseded(struct work *w)
{
	struct reloc *o;
	bool ret = false;

	pthread_mutex_lock(&w->a->lock);
	for (o = w->a->relocs; o && o != w->r; o = o->next)
		if (mac_equal(&o->mac, &w->r->mac))
			ret = true;
	pthread_mutex_unlock(&w->a->lock);
	return ret;
}

/* ---- the choreography's ops (choreo.h) ---- */

_Static_assert((int)EV_BLACKOUT == (int)CE_BLACKOUT && (int)EV_RESUMED == (int)CE_RESUMED &&
	       (int)EV_FAILED == (int)CE_FAILED && (int)EV_STOP == (int)CE_STOP,
	       "choreo.h's events are agent.h's");

static int peer_msg(uint16_t type)
{
	switch (type) {
	case PROTO_BLACKOUT: return CM_BLACKOUT;
	case PROTO_SWITCHED: return CM_SWITCHED;
	case PROTO_FRAMES: return CM_FRAMES;
	case PROTO_FRAMES_END: return CM_FRAMES_END;
	case PROTO_ROLLBACK: return CM_ROLLBACK;
	case PROTO_ERROR: return CM_ERROR;
	case PROTO_DONE: return CM_DONE;
	default: return CM_OTHER;
	}
}

/* The next input of a waiting state: an event, a peer's message, the
 * resume detector, or the state's time (--blackout-timeout, from the last
 * input) run out.  While the ring fills with nobody to take it, it is
 * looked at (held_series) and moved into memory every SPILL_STEP_MS
 * meanwhile. */
void work_next(void *ctx, enum choreo_state s, struct choreo_input *in)
{
	struct work *w = ctx;
	int ret, timeout;

	memset(in, 0, sizeof(*in));
	/* A destination holding the VM's live frames behind the source's waits
	 * only while those keep coming: a cut link or a stalled source must
	 * not keep the VM unreachable. */
	if (!w->deadline)
		w->deadline = timeutil_deadline_ms((int)(!w->r->is_src && s == CS_HANDOFF ?
							  w->a->cfg.handoff_idle_ms :
							  w->a->cfg.blackout_timeout_ms));
	for (;;) {
		timeout = timeutil_poll_ms(w->deadline);
		if (w->spilling && timeout > SPILL_STEP_MS)
			timeout = SPILL_STEP_MS;
		ret = work_wait(w, timeout, &w->ev);
		work_spill(w);
		if (ret != 0 || timeutil_mono_ns() >= w->deadline)
			break;
	}
	w->deadline = 0;
	if (ret == 0) {
		in->kind = CI_TIMEOUT;
	} else if (ret < 0) {
		in->kind = CI_PEER_LOST;
	} else if (ret == 2) {
		in->kind = CI_EVENT;
		in->event = w->ev.kind;
		in->time_us = w->ev.time_us;
		in->detail = &w->ev;
	} else if (ret == 3) {
		in->kind = CI_RESUMED_SEEN;
		in->time_us = w->resume_real_us;
	} else {
		in->kind = CI_PEER;
		in->msg = peer_msg(w->in.type);
		ctl_get_u64(&w->in, A_TIME, &in->time_us);
		ctl_get_str(&w->in, A_TEXT, in->text, sizeof(in->text));
		in->detail = &w->in;
	}
}

void work_reply(void *ctx, const struct choreo_input *in, bool ok, const char *text)
{
	struct work *w = ctx;
	const struct reloc_event *ev = in->detail;

	agent_reply(ev->cli_fd, ok, text ? text : w->r->error);
}

void work_op_error(void *ctx, const char *what, const char *detail)
{
	work_error(ctx, what, -EPROTO, detail);
}

void work_commit(void *ctx, const char *outcome)
{
	work_finish(ctx, outcome);
}

void work_stopping(void *ctx)
{
	((struct work *)ctx)->stopping = true;
}

void work_run(struct reloc *r, enum choreo_role role, const struct choreo_ops *ops)
{
	/* The destination's peer connection came with its PREPARE. */
	struct work w = { .r = r, .a = r->agent, .peer_up = role == CHOREO_DST };
	char spill[RECFILE_PATH];
	struct choreo c;

	ctl_msg_init(&w.in, 0);
	ctl_msg_init(&w.out, 0);
	w.up.fd = -1;
	agent_reloc_path(w.a, "spill", r->from, r->id, spill, sizeof(spill));
	spill_init(&w.spill, (size_t)w.a->cfg.spill_mib << 20, spill);
	/* A record as it begins: one that never ends was interrupted (recover.h). */
	work_journal(&w);
	choreo_run(&c, role, ops, &w);
	work_cleanup(&w);
}

static int start(struct reloc *r, void *(*fn)(void *))
{
	if (pipe2(r->evfd, O_CLOEXEC) < 0)
		return -errno;
	if (pthread_create(&r->thread, NULL, fn, r) != 0) {
		close(r->evfd[0]);
		close(r->evfd[1]);
		return -EAGAIN;
	}
	pthread_detach(r->thread);
	return 0;
}

int reloc_start_src(struct agent *a, struct reloc *r)
{
	(void)a;
	return start(r, reloc_src_main);
}

int reloc_start_dst(struct agent *a, struct ctl_conn *conn, struct ctl_msg *m)
{
	struct reloc *r = calloc(1, sizeof(*r));
	char why[128] = "", origin[REQUESTER_TEXT];
	const void *v;
	size_t len;
	int ret = -EBADMSG;

	if (!r)
		return -ENOMEM;
	r->agent = a;
	r->cli_fd = -1;
	r->peer = *conn;
	if (ctl_get_str(m, A_REQUESTER, origin, sizeof(origin)) < 0)
		origin[0] = 0;
	requester_peer(&r->by, conn, origin);
	if (ctl_get_u64(m, A_ID, &r->id) < 0 || ctl_get(m, A_MAC, &v, &len) < 0 ||
	    len != MAC_LEN)
		goto bad;
	memcpy(r->mac.b, v, MAC_LEN);
	if (ctl_get(m, A_IP, &v, &len) < 0 || len != 4)
		goto bad;
	memcpy(&r->ip, v, 4);
	if (ctl_get_name(m, A_PORT, "VM port", r->port, sizeof(r->port), why, sizeof(why)) < 0 ||
	    ctl_get_name(m, A_FROM, "source host", r->from, sizeof(r->from), why, sizeof(why)) < 0 ||
	    ctl_get_name(m, A_TO, "destination host", r->to, sizeof(r->to), why, sizeof(why)) < 0)
		goto bad;
	/* Never act on a relocation meant for another host, or from a host
	 * that is not a peer of this one. */
	ret = -EACCES;
	if (strcmp(r->to, a->cfg.name)) {
		snprintf(why, sizeof(why), "addressed to %s, this is %s", r->to, a->cfg.name);
		goto refuse;
	}
	if (!agent_is_peer(a, r->from)) {
		snprintf(why, sizeof(why), "%s is not a peer of %s", r->from, a->cfg.name);
		goto refuse;
	}
	pthread_mutex_lock(&a->lock);
	if (a->stopping) {
		pthread_mutex_unlock(&a->lock);
		snprintf(why, sizeof(why), "%s is stopping", a->cfg.name);
		goto refuse;
	}
	if (agent_find(a, &r->mac)) {
		pthread_mutex_unlock(&a->lock);
		ret = -EBUSY;
		goto bad;
	}
	r->next = a->relocs;
	a->relocs = r;
	agent_prune(a);
	pthread_mutex_unlock(&a->lock);
	ret = start(r, reloc_dst_main);
	if (ret < 0) {
		pthread_mutex_lock(&a->lock);
		r->done = r->thread_exited = true;
		pthread_mutex_unlock(&a->lock);
	}
	return ret;
refuse: {
	struct ctl_msg no;

	ctl_msg_init(&no, PROTO_ERROR);
	if (ctl_put_str(&no, A_TEXT, why) == 0)
		(void)ctl_send(conn, &no);
	ctl_msg_free(&no);
}
bad:
	agent_log(a, "%s PREPARE from %s: %s", ret == -EACCES ? "refused" : "bad", conn->peer,
		  why[0] ? why : strerror(-ret));
	free(r);
	return ret;
}
