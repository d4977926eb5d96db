/* The relocation's source side: get ready, buffer while the VM is paused,
 * hand the held frames to the destination, roll back (choreo.h's source
 * ops). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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
#include "srcship.h"
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

/* Take the source tap's queues from its reader (QEMU, a stand-in), so that
 * what the VM left unread when it stopped can follow it.  A port that is not
 * a tap, or a tap nobody reads, has none: that is no error. */
static void open_tap_queue(struct work *w)
{
	struct reloc *r = w->r;
	char keep[RECFILE_PATH];
	int lr, ret;

	agent_reloc_path(w->a, "tap", r->from, r->id, keep, sizeof(keep));
	ret = taprec_open(&w->tap, r->port, &r->mac, w->buf, keep, w->a->cfg.no_tap_recovery,
			  &lr);
	w->p.tap_queues = ret;
	work_publish(w);
	if (lr < 0)
		agent_log(w->a, "relocation %llu: not logging what goes into %s: %s",
			  (unsigned long long)r->id, r->port, strerror(-lr));
	if (ret > 0)
		agent_log(w->a, "relocation %llu: %d queue(s) of tap %s held by pid %d",
			  (unsigned long long)r->id, ret, r->port, (int)tapq_holder(w->tap.tq));
	else
		agent_log(w->a, "relocation %llu: no tap queue recovery on %s: %s",
			  (unsigned long long)r->id, r->port, strerror(-ret));
}

static int src_prepare(struct work *w)
{
	struct reloc *r = w->r;
	char who[REQUESTER_TEXT];
	const char *addr = NULL;
	int fd, i, ret;

	work_mark(w, PH_PREPARE);
	for (i = 0; i < w->a->cfg.npeers; i++)
		if (!strcmp(w->a->cfg.peers[i].name, r->to))
			addr = w->a->cfg.peers[i].addr;
	if (!addr) {
		work_error(w, "unknown destination host", -EHOSTUNREACH, r->to);
		return -EHOSTUNREACH;
	}
	fd = ctl_connect_tcp(addr, (int)w->a->cfg.phase_timeout_ms);
	if (fd < 0) {
		work_error(w, "connecting to the destination agent", fd, addr);
		return fd;
	}
	/* A failed init leaves the connection unauthenticated: never go on.
	 * The agent at addr must prove it is r->to (its certificate names it,
	 * or in PSK mode it accepts an identity addressed to r->to). */
	ret = ctl_conn_init(&r->peer, fd, w->a->cfg.tls, addr);
	if (ret == 0)
		ret = ctl_handshake_client(&r->peer, r->to, (int)w->a->cfg.phase_timeout_ms);
	if (ret == 0 && !ctl_peer_is(&r->peer, r->to))
		ret = -EACCES;
	if (ret < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s, expected %s%s%s", addr, r->to,
			 r->peer.why[0] ? ": " : "", r->peer.why);
		work_error(w, ret == -EACCES ? "the destination agent is not authenticated as the "
					       "destination host" :
					       "authenticating to the destination agent",
			   ret, why);
		return ret;
	}
	w->peer_up = true;
	ctl_msg_reset(&w->out, PROTO_PREPARE);
	ctl_put_u64(&w->out, A_ID, r->id);
	ctl_put(&w->out, A_MAC, r->mac.b, MAC_LEN);
	ctl_put(&w->out, A_IP, &r->ip, 4);
	ctl_put_str(&w->out, A_PORT, r->peer_port);
	ctl_put_str(&w->out, A_FROM, r->from);
	ctl_put_str(&w->out, A_TO, r->to);
	requester_text(&r->by, w->a->cfg.name, who, sizeof(who));
	ctl_put_str(&w->out, A_REQUESTER, who);
	ret = work_send(w);
	if (ret < 0) {
		work_error(w, "destination agent did not take PREPARE", ret, NULL);
		return ret;
	}
	/* This side gets ready while the destination does: a hypervisor's
	 * migration may not wait for both in turn (a small guest's takes
	 * ~100 ms). */
	ret = work_ovs_open(w);
	if (ret == 0)
		ret = work_attach_buffer(w);
	if (ret < 0)
		return ret;
	open_tap_queue(w);
	ret = ctl_recv(&r->peer, &w->in, (int)w->a->cfg.phase_timeout_ms);
	if (ret < 0) {
		/* This side is ready: if the VM stops anyway, its frames are held
		 * and follow it (choreo.h). */
		work_error(w, "destination agent did not answer PREPARE", ret, NULL);
		w->peer_up = false;
		return 1;
	}
	if (w->in.type != PROTO_PREPARED) {
		char text[200] = "";

		ctl_get_str(&w->in, A_TEXT, text, sizeof(text));
		work_error(w, "destination refused PREPARE", -EPROTO, text);
		return -EPROTO;
	}
	return 0;
}

static int src_blackout(struct work *w, const struct reloc_event *ev)
{
	int ret = buffer_arm(w->buf, &w->r->mac);

	if (ret < 0) {
		work_error(w, "arming the buffer", ret, NULL);
		return ret;
	}
	w->vm_paused = w->spilling = true;
	w->p.stopped_us = ev->stopped_us;
	/* A blackout that says when the VM stopped comes after the stop: the
	 * VM no longer reads, but its reader may still take one frame from the
	 * tap and never deliver it (QEMU queues what it reads while the VM is
	 * not running).  Read the tap out now rather than at the handoff.  A
	 * blackout before the stop (a pre-stop hook) leaves the tap to the VM,
	 * which still reads it: taking frames from it would reorder them. */
	if (ev->stopped_us) {
		struct taprec_counts c = { 0 };
		int merr, kerr;

		ret = taprec_blackout(&w->tap, ev->reader_keeps, ev->last_rx ? &ev->last : NULL,
				      &merr, &kerr);
		if (kerr < 0)
			agent_log(w->a, "relocation %llu: keeping the frames read out of %s beside "
				  "%s: %s (they die with this process)", (unsigned long long)w->r->id,
				  w->r->port, w->a->cfg.socket, strerror(-kerr));
		if (ret < 0)
			agent_log(w->a, "relocation %llu: reading tap %s at the blackout: %s",
				  (unsigned long long)w->r->id, w->r->port, strerror(-ret));
		if (merr < 0)
			agent_log(w->a, "relocation %llu: sending the marker into %s: %s",
				  (unsigned long long)w->r->id, w->r->port, strerror(-merr));
		taprec_counts(&w->tap, &c);
		w->p.tap_recovered = c.recovered;
		w->p.tap_other = c.other;
	}
	work_mark(w, PH_BLACKOUT);
	work_send_simple(w, PROTO_BLACKOUT, NULL, w->r->t_us[PH_BLACKOUT]);
	return 0;
}

/* Point the VM's MAC at the uplink on this bridge: a flow and the OVS MAC
 * entry, so that frames for it that still reach this host follow it. */
static int src_redirect(struct work *w)
{
	uint32_t uplink, old = 0;
	char *err = NULL;
	int ret;

	/* What the upstream switch still sends here, until it has seen the
	 * move, goes to the old port: its buffer takes it to follow the VM. */
	if (ovsp_ofport(w->of, w->r->port, &old, &err) < 0) {
		free(err);
		err = NULL;
		old = 0;
	}
	ret = ovsp_ofport(w->of, w->a->cfg.uplink, &uplink, &err);
	if (ret == 0)
		ret = ovsp_vm_redirect(w->of, w->r->mac.b, uplink, old, 0, &err);
	if (ret < 0) {
		work_error(w, "redirecting the VM's flows to the uplink", ret, err);
		goto out;
	}
	w->flows = true;
	ret = ovsp_fdb_move(w->ctl, w->a->cfg.bridge, w->r->mac.b, w->a->cfg.uplink, 0, &err);
	if (ret < 0) {
		work_error(w, "moving the OVS MAC entry to the uplink", ret, err);
		goto out;
	}
	w->ovs_fdb = true;
out:
	free(err);
	return ret;
}

/* src_redirect in a thread of its own: a vSwitch under load may take
 * longer over it than a destination waits for the next frames. */
struct redirect_job {
	struct work *w;
	int ret;
	int done;		/* __atomic: src_redirect returned */
};

static void *redirect_main(void *arg)
{
	struct redirect_job *j = arg;

	j->ret = src_redirect(j->w);
	__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* How long the old port must be quiet before the follow ends, in
 * AGENT_QUIET_STEP_US rounds: three of the VM's mean gaps between frames
 * as its blackout saw them (a VM sent 20 frames/s goes 50 ms without one,
 * while the fabric may not have moved yet), at least AGENT_QUIET_ROUNDS,
 * at most AGENT_QUIET_ROUNDS_MAX (also for a VM sent nothing meanwhile). */
static int follow_quiet_rounds(struct work *w)
{
	struct buffer_stats st;
	uint64_t span, gap;
	int rounds;

	span = w->r->t_us[PH_BLACKOUT] ? work_now_us() - w->r->t_us[PH_BLACKOUT] : 0;
	if (!span || buffer_stats(w->buf, &w->r->mac, &st) < 0 || !st.c.buffered)
		return AGENT_QUIET_ROUNDS_MAX;
	gap = span / st.c.buffered;
	rounds = (int)((3 * gap + AGENT_QUIET_STEP_US - 1) / AGENT_QUIET_STEP_US);
	return rounds < AGENT_QUIET_ROUNDS ? AGENT_QUIET_ROUNDS :
	       rounds > AGENT_QUIET_ROUNDS_MAX ? AGENT_QUIET_ROUNDS_MAX : rounds;
}

/* Frames for the VM that still reach this host follow it: point the bridge
 * at the uplink, then ship (or forward) what still reaches the old port
 * until it is quiet (agent_until_quiet, for longer the fewer frames the VM
 * gets: follow_quiet_rounds).  Anything later (a vSwitch that fell behind
 * under load still hands the old port what it took in before the fabric
 * moved) the program sends back out of the uplink, counted (FORWARD): by
 * now the fabric sends the VM's frames to its new home.  Only if that
 * cannot be set up is it dropped, counted (DROP).  What came in before the
 * switch still follows.  Returns 0 or a negative errno. */
static int src_follow(struct ship *s)
{
	struct redirect_job j = { .w = s->w };
	struct work *w = s->w;
	pthread_t th;
	int ret = 0;

	/* What reaches the old port meanwhile keeps going to the destination,
	 * which waits only while frames keep coming (--handoff-idle). */
	if (pthread_create(&th, NULL, redirect_main, &j) != 0) {
		redirect_main(&j);
	} else {
		while (!__atomic_load_n(&j.done, __ATOMIC_ACQUIRE)) {
			usleep(AGENT_QUIET_STEP_US);
			if (ret == 0) {
				int n = ship_ring_step(s);

				ret = n < 0 ? n : 0;
			}
		}
		pthread_join(th, NULL);
	}
	if (ret == 0)
		ret = j.ret;
	if (ret == 0)
		ret = agent_until_quiet(ship_ring_step, s, follow_quiet_rounds(w));
	if (ret < 0)
		return ret;
	ret = buffer_forward(w->buf, &w->r->mac, w->a->cfg.uplink);
	if (ret < 0) {
		agent_log(w->a, "relocation %llu: late frames cannot go out of %s (%s): dropped",
			  (unsigned long long)w->r->id, w->a->cfg.uplink, strerror(-ret));
		buffer_set_mode(w->buf, &w->r->mac, BUFFER_MODE_DROP);
	}
	/* What was being captured as the mode changed follows too. */
	return agent_ring_empty(w->buf, ship_ring_step, s);
}

/* The tap's frames were handed on (taprec_handoff): publish its counts. */
static void tap_handed(struct work *w, const struct taprec_counts *c, int read_err)
{
	if (read_err < 0)
		agent_log(w->a, "relocation %llu: reading tap %s: %s",
			  (unsigned long long)w->r->id, w->r->port, strerror(-read_err));
	w->p.tap_recovered = c->recovered;
	w->p.tap_other = c->other;
	w->p.tap_read = c->reader_took;
	w->p.tap_reader_lost = c->reader_lost;
	snprintf(w->p.reader_kept, sizeof(w->p.reader_kept), "%s", c->kept);
	work_publish(w);
}

static int src_handoff(struct work *w)
{
	struct reloc *r = w->r;
	struct ship s = { .w = w, .enc = malloc(BUFFER_WIRE_HDR_LEN + BUFFER_MAX_FRAME) };
	int ret = 0;

	work_mark(w, PH_HANDOFF);
	if (!s.enc)
		return -ENOMEM;
	/* The VM resumed on B before any blackout came here (the hypervisor's
	 * stop report is late): keep what arrives from now on. */
	if (!r->t_us[PH_BLACKOUT]) {
		ret = buffer_arm(w->buf, &r->mac);
		agent_log(w->a, "relocation %llu: switched over before the blackout: %s",
			  (unsigned long long)r->id, ret < 0 ? strerror(-ret) : "buffer armed now");
	}
	ctl_msg_reset(&w->out, PROTO_FRAMES);
	/* First what the VM left unread in its tap when it stopped (read out
	 * at the blackout, then what reached it since): it came before anything
	 * the buffer caught.  The VM runs on B now, so its old reader here never
	 * reads again. */
	if (w->tap.tq) {
		struct taprec_counts c;
		int rerr;

		ret = taprec_handoff(&w->tap, ship_one, &s, &c, &rerr);
		tap_handed(w, &c, rerr);
		if (ret < 0)
			goto out;
	}
	/* Then what is buffered, oldest first: what was moved into memory, then
	 * the ring.  The VM waits for it.  A destination that cannot take it
	 * (ship_flush) gets none of the rest: it goes out of the uplink. */
	work_spill(w);
	ret = spill_each(&w->spill, ship_one, &s);
	if (ret >= 0)
		ret = ship_ring(&s);
	if (ret < 0)
		goto out;
	/* Frames for the VM that still reach this host follow it to B. */
	ret = src_follow(&s);
	if (ret < 0)
		goto out;
	if (!s.forwarding) {
		ctl_msg_reset(&w->out, PROTO_FRAMES_END);
		ctl_put_u64(&w->out, A_ID, r->id);
		ctl_put_u64(&w->out, A_COUNT, w->sent.shipped);
		ret = work_send(w);
		if (ret < 0)
			forward_unconfirmed(w, ret);
	}
out:
	/* The destination finished without waiting for all of them (its DONE
	 * came first): what it never took went out of the uplink after the VM.
	 * Its DONE is in; FINISH says so (op_src_finish). */
	if (s.forwarding && s.err == -ESHUTDOWN && !s.ferr && ret == 0) {
		w->dst_short = true;
		s.forwarding = false;
	}
	if (s.forwarding || ret < 0) {
		char why[160];

		snprintf(why, sizeof(why), "%llu frames sent out of the uplink after the VM%s%s",
			 (unsigned long long)w->p.forwarded,
			 s.ferr ? ", forwarding failed: " : "", s.ferr ? strerror(-s.ferr) : "");
		work_error(w, "the destination did not take the held frames", s.err ? s.err : ret,
			   why);
		if (!ret)
			ret = s.err ? s.err : -EIO;
	}
	work_publish(w);
	free(s.enc);
	return ret;
}

static void src_undo(struct work *w)
{
	char *err = NULL;

	if (w->flows && ovsp_vm_remove(w->of, w->r->mac.b, &err) == 0)
		w->flows = false;
	free(err);
	err = NULL;
	if (w->ovs_fdb && ovsp_fdb_del(w->ctl, w->a->cfg.bridge, w->r->mac.b, 0, NULL, &err) == 0)
		w->ovs_fdb = false;
	free(err);
}

struct local_replay {
	struct work *w;
	struct buffer_replay_stats *st;
};

static int replay_local(const struct buffer_record *rec, void *arg)
{
	struct local_replay *l = arg;

	return buffer_replay(l->w->buf, rec, l->st);
}

static void src_rollback(struct work *w, const char *why)
{
	struct reloc *r = w->r;
	struct buffer_replay_stats ds = { 0 };
	struct reloc_event ev;
	uint64_t deadline;
	int ret;

	work_mark(w, PH_ROLLBACK);
	work_error(w, "rolled back", 0, why);
	work_send_simple(w, PROTO_ROLLBACK, why, 0);
	src_undo(w);
	/* The VM comes back here: its frames must wait until it reads again. */
	deadline = timeutil_mono_ns() + w->a->cfg.blackout_timeout_ms * NSEC_PER_MSEC;
	while (w->vm_paused && !w->resumed_local && timeutil_mono_ns() < deadline) {
		ret = work_wait(w, 200, &ev);
		if (ret == 2) {
			if (ev.kind == EV_RESUMED)
				w->resumed_local = true;
			agent_reply(ev.cli_fd, true, "rolling back");
		}
	}
	if (w->buf) {
		/* What was read out of the tap at the blackout came first. */
		ret = taprec_give_back(&w->tap, &ds);
		if (ret < 0)
			work_error(w, "replaying the frames read out of the tap", ret, NULL);
		ret = spill_each(&w->spill, replay_local, &(struct local_replay){ w, &ds });
		if (ret < 0)
			work_error(w, "replaying the frames moved into memory", ret, NULL);
		ret = buffer_drain(w->buf, &r->mac, &ds);
		if (ret < 0)
			work_error(w, "replaying the buffer locally", ret, NULL);
		w->p.replayed = ds.frames;
	}
	work_finish(w, "rolled back");
}

static int op_src_prepare(void *ctx)
{
	return src_prepare(ctx);
}

static bool op_src_prepared(void *ctx, uint64_t *resumed_us)
{
	struct work *w = ctx;

	(void)resumed_us;
	/* Lost the destination: the relocation failed, but this host still
	 * holds the VM's frames if it stops, for wherever it comes up. */
	pthread_mutex_lock(&w->a->lock);
	w->r->prepared = w->peer_up;
	pthread_mutex_unlock(&w->a->lock);
	agent_reply(w->r->cli_fd, w->peer_up, w->peer_up ? "prepared" : w->r->error);
	w->r->cli_fd = -1;
	return false;
}

static int op_src_blackout(void *ctx, const struct choreo_input *in)
{
	return src_blackout(ctx, in->detail);
}

static void op_src_switchover(void *ctx, const struct choreo_input *in, uint64_t time_us)
{
	struct work *w = ctx;

	(void)in;
	w->p.resume_us = time_us;
	pthread_mutex_lock(&w->a->lock);
	reloc_mark_at(w->r, PH_SWITCHOVER, time_us);
	pthread_mutex_unlock(&w->a->lock);
	work_mark(w, PH_SWITCHOVER);
	w->vm_paused = false;
}

static int op_src_handoff(void *ctx)
{
	struct work *w = ctx;
	int ret = src_handoff(w);

	/* The VM already runs on B: no way back, tell it what was lost. */
	if (ret < 0)
		work_send_simple(w, PROTO_ERROR, w->r->error, 0);
	return ret;
}

/* The destination's DONE (its confirmations may come first).  If it dies
 * before, what it never confirmed goes out of the uplink after the VM. */
static int op_src_finish(void *ctx)
{
	struct work *w = ctx;
	uint64_t deadline = timeutil_deadline_ms((int)w->a->cfg.phase_timeout_ms * 2);
	int ret = 0;

	while (!w->done && ret == 0 && timeutil_mono_ns() < deadline)
		ret = take_acks(w, (int)((deadline - timeutil_mono_ns()) / NSEC_PER_MSEC) + 1);
	if (!w->done) {
		ret = ret < 0 ? ret : -ETIMEDOUT;
		work_error(w, "destination did not confirm the handoff", ret, NULL);
		forward_unconfirmed(w, ret);
		return ret;
	}
	if (shipq_unconfirmed(&w->sent)) {
		w->dst_short = true;
		ret = forward_unconfirmed(w, -ESHUTDOWN);
	}
	work_mark(w, PH_VERIFY);
	work_mark(w, PH_COMMIT);
	if (ret < 0) {
		work_error(w, "the destination finished without all the frames; sending them out "
			   "of the uplink failed", ret, NULL);
		return ret;
	}
	if (w->dst_short) {
		char why[120];

		snprintf(why, sizeof(why), "%llu frames it had not taken sent out of the uplink "
			 "after the VM", (unsigned long long)w->p.forwarded);
		work_error(w, "the destination finished without all the frames", -ESHUTDOWN, why);
		return 1;
	}
	return 0;
}

/* Frames the old port's program sent out of the uplink so far (FORWARD). */
static uint64_t late_forwarded(struct work *w)
{
	struct buffer_stats st;

	return w->buf && buffer_stats(w->buf, &w->r->mac, &st) == 0 ? st.c.forwarded : 0;
}

/* The VM runs on B whatever happened since the switchover.  Leftovers go
 * after the grace period, and not while late frames still reach the old
 * port (AGENT_LATE_QUIET_MS): they still follow the VM.  A newer
 * relocation of the MAC here owns its flows: leave them alone. */
static void op_src_grace(void *ctx)
{
	struct work *w = ctx;
	uint64_t seen, now;
	unsigned waited = 0;

	seen = late_forwarded(w);
	work_grace_wait(w, w->a->cfg.grace_ms);
	while (!w->stopping && waited < AGENT_LATE_MAX_MS && (now = late_forwarded(w)) != seen) {
		seen = now;
		work_grace_wait(w, AGENT_LATE_QUIET_MS);
		waited += AGENT_LATE_QUIET_MS;
	}
	if (waited)
		agent_log(w->a, "relocation %llu: late frames kept coming to %s: the grace period "
			  "went on %u ms more (%llu sent out of %s)", (unsigned long long)w->r->id,
			  w->r->port, waited, (unsigned long long)seen, w->a->cfg.uplink);
	if (!work_superseded(w))
		src_undo(w);
}

static void op_src_rollback(void *ctx, const char *why, bool resumed_local)
{
	struct work *w = ctx;

	if (resumed_local)
		w->resumed_local = true;
	src_rollback(w, why);
}

#define PEER_LOST_STEP_MS 10	/* the bridge's MAC table is looked at this often */

static bool op_src_peer_lost(void *ctx)
{
	struct work *w = ctx;
	uint64_t deadline = timeutil_deadline_ms((int)w->a->cfg.blackout_timeout_ms);
	struct reloc_event ev;
	uint32_t uplink;
	char *err = NULL;
	int ret;

	agent_log(w->a, "relocation %llu: lost the destination agent with the VM paused: "
		  "where does it come up?", (unsigned long long)w->r->id);
	ret = ovsp_ofport(w->of, w->a->cfg.uplink, &uplink, &err);
	free(err);
	if (ret < 0)
		return false;
	while (timeutil_mono_ns() < deadline) {
		if (agent_vm_on_uplink(w->ctl, w->a->cfg.bridge, &w->r->mac, uplink))
			return true;
		ret = work_wait(w, PEER_LOST_STEP_MS, &ev);
		work_spill(w);
		if (ret != 2)
			continue;
		agent_reply(ev.cli_fd, ev.kind != EV_BLACKOUT, ev.kind == EV_BLACKOUT ?
			    "buffering already" : "rolling back");
		if (ev.kind == EV_RESUMED) {
			w->resumed_local = true;
			return false;
		}
		if (ev.kind == EV_FAILED)
			return false;
	}
	return false;
}

static int op_src_forward(void *ctx)
{
	struct work *w = ctx;
	struct ship s = { .w = w, .forwarding = true };
	struct taprec_counts c;
	int ret, rerr;

	ret = forward_open(w);
	if (ret < 0)
		return ret;
	/* Oldest first: what the tap held, what went to memory, the ring;
	 * then what still comes (src_follow). */
	if (w->tap.tq) {
		ret = taprec_handoff(&w->tap, forward_one, w, &c, &rerr);
		tap_handed(w, &c, rerr);
	}
	if (ret >= 0)
		ret = spill_each(&w->spill, forward_one, w);
	if (ret >= 0)
		ret = ship_ring(&s);
	if (ret >= 0)
		ret = src_follow(&s);
	if (ret >= 0 && s.ferr)
		ret = s.ferr;
	work_error(w, "lost the destination agent", -ENOTCONN,
		   ret < 0 ? "the VM came up elsewhere; forwarding what was held failed" :
			     "the VM came up elsewhere; what was held was sent out of the uplink");
	agent_log(w->a, "relocation %llu: the VM came up elsewhere: %llu held frames sent out of %s",
		  (unsigned long long)w->r->id, (unsigned long long)w->p.forwarded, w->a->cfg.uplink);
	work_publish(w);
	return ret < 0 ? ret : 0;
}

static const struct choreo_ops src_ops = {
	.prepare = op_src_prepare,
	.prepared = op_src_prepared,
	.next = work_next,
	.reply = work_reply,
	.blackout = op_src_blackout,
	.switchover = op_src_switchover,
	.handoff = op_src_handoff,
	.peer_lost = op_src_peer_lost,
	.forward = op_src_forward,
	.finish = op_src_finish,
	.error = work_op_error,
	.commit = work_commit,
	.grace = op_src_grace,
	.rollback = op_src_rollback,
	.stopping = work_stopping,
};

void *reloc_src_main(void *arg)
{
	work_run(arg, CHOREO_SRC, &src_ops);
	return NULL;
}
