/* The relocation's destination side: get ready with the buffer armed,
 * switch over when the VM resumes, replay the source's frames and its own,
 * verify (choreo.h's destination ops). */
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
#include "recfile.h"
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

#define PORT_WAIT_STEP_MS 10
#define REPLAY_PACE_EVERY 32		/* replays between looks at the port's backlog */
#define REPLAY_PACE_STEP_US 100		/* a wait for the reader */
#define REPLAY_PACE_MAX_US 200000	/* the longest wait at once (a reader that stopped) */

static int wait_port(struct work *w, uint32_t *ofport)
{
	uint64_t deadline = timeutil_mono_ns() + w->a->cfg.phase_timeout_ms * NSEC_PER_MSEC;
	char *err = NULL;
	int ret;

	for (;;) {
		if (if_nametoindex(w->r->port)) {
			ret = ovsp_ofport(w->of, w->r->port, ofport, &err);
			if (ret == 0)
				return 0;
			free(err);
			err = NULL;
		}
		if (timeutil_mono_ns() > deadline) {
			work_error(w, "the VM's port did not appear on the bridge", -ENODEV, w->r->port);
			return -ENODEV;
		}
		usleep(PORT_WAIT_STEP_MS * 1000);
	}
}

/* While it waits for the VM, the destination's thread is woken by the
 * resume detector; under a loaded host a plain thread's wake-up took up to
 * half a millisecond, and the first announcement waited that long.  A
 * real-time thread is woken at once (it only ever waits in poll here).
 * Without the privilege, the thread stays as it is. */
static void dst_realtime(struct work *w, bool on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };

	if (pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &sp) != 0 && on)
		agent_log(w->a, "relocation %llu: no real-time wake-up for the resume",
			  (unsigned long long)w->r->id);
}

static int dst_prepare(struct work *w)
{
	struct reloc *r = w->r;
	uint32_t ofport;
	char *err = NULL;
	int ret;

	work_mark(w, PH_PREPARE);
	ret = work_ovs_open(w);
	if (ret < 0)
		return ret;
	ret = wait_port(w, &ofport);
	if (ret < 0)
		return ret;
	/* Armed before the flows exist, so nothing reaches the port unbuffered. */
	ret = work_attach_buffer(w);
	if (ret == 0)
		ret = buffer_arm(w->buf, &r->mac);
	if (ret == 0)
		ret = buffer_watch_resume(w->buf, &r->mac);
	if (ret < 0) {
		work_error(w, "arming the buffer", ret, NULL);
		return ret;
	}
	ret = ovsp_vm_install(w->of, r->mac.b, ofport, 0, &err);
	if (ret < 0) {
		work_error(w, "installing the VM's flows", ret, err);
		free(err);
		return ret;
	}
	w->flows = true;
	ret = replay_open(r->port, &w->rp);
	if (ret < 0) {
		work_error(w, "opening the replay socket", ret, r->port);
		return ret;
	}
	ret = wire_open(&w->up, w->a->cfg.uplink, NULL, true);
	if (ret < 0) {
		work_error(w, "opening the uplink", ret, w->up.err);
		return ret;
	}
	dst_realtime(w, true);
	ctl_msg_reset(&w->out, PROTO_PREPARED);
	ctl_put_u64(&w->out, A_ID, r->id);
	return work_send(w);
}

struct announcer {
	struct wire up;
	struct announce_cfg cfg;
};

static void *announce_rest(void *arg)
{
	struct announcer *an = arg;
	struct announce_result res = { 0 };

	announce_rounds(&an->up, &an->cfg, 1, &res);
	wire_close(&an->up);
	free(an);
	return NULL;
}

/* Move the upstream switch's entry, in its namespace, from this thread only. */
static int upstream_fdb(struct work *w)
{
	struct fdb_spec spec = { .mac = w->r->mac, .dev = w->a->cfg.tor_port,
				 .vlan = FDB_VLAN_NONE };
	struct fdb_entry e;
	char path[256];
	int self, tor, ret;

	snprintf(path, sizeof(path), "/run/netns/%s", w->a->cfg.tor_netns);
	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	tor = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || tor < 0 || setns(tor, CLONE_NEWNET) < 0) {
		ret = -errno;
		goto out;
	}
	ret = fdb_replace(&spec);
	if (ret == 0)
		ret = fdb_check(&spec, &e);
	if (ret == 0 || ret == -ESTALE)
		snprintf(w->fdb_port, sizeof(w->fdb_port), "%s", e.ifname);
	w->fdb_moved_us = work_now_us();
	if (setns(self, CLONE_NEWNET) < 0)
		ret = -errno;
out:
	if (self >= 0)
		close(self);
	if (tor >= 0)
		close(tor);
	return ret;
}

static void *upstream_fdb_main(void *arg)
{
	struct work *w = arg;

	w->fdb_ret = upstream_fdb(w);
	if (w->fdb_ret < 0)
		snprintf(w->fdb_err, sizeof(w->fdb_err), "%s", fdb_errmsg());
	return NULL;
}

static void upstream_fdb_join(struct work *w)
{
	if (!w->fdb_running)
		return;
	pthread_join(w->fdb_thread, NULL);
	w->fdb_running = false;
	snprintf(w->p.fdb_port, sizeof(w->p.fdb_port), "%s", w->fdb_port);
	w->p.fdb_moved_us = w->fdb_moved_us;
	work_publish(w);
	if (w->fdb_ret < 0)
		work_error(w, "programming the upstream FDB", w->fdb_ret, w->fdb_err);
}

static int dst_switchover(struct work *w, uint64_t resumed_us)
{
	struct reloc *r = w->r;
	struct announce_result res = { 0 };
	struct announcer *an;
	pthread_t th;
	int ret;

	w->p.resume_us = resumed_us;
	/* The VM reads nothing of ours until A's frames came: what arrives
	 * meanwhile waits in the ring, and in memory once it would fill it. */
	w->spilling = true;
	/* The fabric learns the move from the first announcement: it leaves
	 * before anything else is done here. */
	an = calloc(1, sizeof(*an));
	if (!an) {
		work_mark(w, PH_SWITCHOVER);
		return -ENOMEM;
	}
	announce_defaults(&an->cfg, &r->mac);
	an->cfg.garp = an->cfg.has_ip = true;
	an->cfg.ip = r->ip;
	ret = announce_round(&w->up, &an->cfg, &res);
	if (ret < 0)
		work_error(w, "announcing", ret, w->up.err);
	else
		w->p.announce_us = res.first_ns / NSEC_PER_USEC;
	/* The announcement has moved a learning fabric; the explicit FDB
	 * entry follows on its own thread, so that neither the replay of the
	 * source's frames nor anything else here waits for it. */
	if (w->a->cfg.tor_netns && pthread_create(&w->fdb_thread, NULL, upstream_fdb_main, w) == 0)
		w->fdb_running = true;
	(void)tapq_stat(r->port, "tx_packets", &w->rp_tx0);
	if (tapq_txqlen(r->port, &w->rp_limit) == 0)
		w->rp_limit /= 2;
	work_mark(w, PH_SWITCHOVER);
	/* The later rounds go on in the background on the same handle. */
	an->up = w->up;
	w->up.pcap = NULL;
	w->up.fd = -1;
	if (pthread_create(&th, NULL, announce_rest, an) == 0)
		pthread_detach(th);
	else {
		wire_close(&an->up);
		free(an);
	}
	/* The source starts shipping at once. */
	work_send_simple(w, PROTO_SWITCHED, NULL, resumed_us);
	dst_realtime(w, false);
	work_mark(w, PH_HANDOFF);
	return 0;
}

/* A tap drops what waits unread once txqueuelen frames do: replays into
 * it wait (up to REPLAY_PACE_MAX_US at a time) while half of that waits.
 * The VM's own frames keep coming into the ring meanwhile, as fast as the
 * replay may go: it is looked at every REPLAY_PACE_EVERY replays, and at
 * every wait, and moved to the spill file before it fills. */
static void replay_pace(struct work *w)
{
	uint64_t tx, waited = 0;

	if (w->rp_sent % REPLAY_PACE_EVERY)
		return;
	work_spill(w);
	if (!w->rp_limit)
		return;
	while (waited < REPLAY_PACE_MAX_US && tapq_stat(w->r->port, "tx_packets", &tx) == 0 &&
	       w->rp_sent > tx - w->rp_tx0 + w->rp_limit) {
		usleep(REPLAY_PACE_STEP_US);
		waited += REPLAY_PACE_STEP_US;
		work_spill(w);
	}
}

/* Replay one record into the VM's port (dst), paced. */
static int dst_put(struct work *w, const struct buffer_record *rec)
{
	int ret;

	replay_pace(w);
	ret = replay_send(w->rp, rec, NULL);
	if (ret < 0)
		return ret;
	w->rp_sent++;
	if (rec->gso_size)
		w->p.replayed_gso++;
	if (rec->ip_summed == BUFFER_CSUM_PARTIAL)
		w->p.replayed_partial++;
	return 0;
}

static int dst_replay_spilled(const struct buffer_record *rec, void *arg)
{
	struct work *w = arg;
	int ret = dst_put(w, rec);

	if (ret == 0)
		w->p.replayed++;
	return ret;
}

static int dst_replay_one(const struct buffer_record *rec, void *arg)
{
	struct work *w = arg;
	int ret;

	w->p.received++;
	ret = dst_put(w, rec);
	if (ret < 0)
		return ret;
	if (!w->p.replayed++)
		w->p.first_replay_us = work_now_us();
	return 0;
}

static int dst_replay(struct work *w)
{
	int ret;

	/* The line starts where the first batch came. */
	series_add(&w->p.replayed_series, work_now_us(), w->p.replayed);
	ret = records_each(&w->in, dst_replay_one, w);
	series_add(&w->p.replayed_series, work_now_us(), w->p.replayed);
	return ret;
}

static void dst_verify(struct work *w)
{
	struct reloc *r = w->r;
	struct verify_cfg cfg;
	struct verify_result res;
	char err[WIRE_ERRLEN];

	work_mark(w, PH_VERIFY);
	verify_defaults(&cfg);
	cfg.mac = r->mac;
	cfg.ip = r->ip;
	cfg.gateway = w->a->cfg.gateway;
	cfg.timeout_ms = 500;
	if (verify_run(w->a->cfg.uplink, r->port, &cfg, &res, err) < 0) {
		work_error(w, "verify", -EIO, err);
		return;
	}
	w->p.verified = res.answered;
	w->p.verify_rtt_ms = (double)res.rtt_ns / 1e6;
	if (!res.answered)
		work_error(w, "verify", -EHOSTUNREACH, "no ARP reply from the gateway at the new port");
}

static void dst_rollback(struct work *w, const char *why)
{
	char *err = NULL;

	work_mark(w, PH_ROLLBACK);
	work_error(w, "rolled back", 0, why);
	work_send_simple(w, PROTO_ROLLBACK, why, 0);
	if (w->flows)
		ovsp_vm_remove(w->of, w->r->mac.b, &err);
	free(err);
	work_finish(w, "rolled back");
}

static int op_dst_prepare(void *ctx)
{
	return dst_prepare(ctx);
}

static bool op_dst_prepared(void *ctx, uint64_t *resumed_us)
{
	struct work *w = ctx;
	bool early;

	pthread_mutex_lock(&w->a->lock);
	early = agent_take_early_resume(w->a, &w->r->mac, resumed_us);
	pthread_mutex_unlock(&w->a->lock);
	if (early)
		agent_log(w->a, "relocation %llu: the VM resumed here before PREPARE",
			  (unsigned long long)w->r->id);
	return early;
}

/* The source says the VM stopped. */
static int op_dst_blackout(void *ctx, const struct choreo_input *in)
{
	struct work *w = ctx;

	pthread_mutex_lock(&w->a->lock);
	reloc_mark_at(w->r, PH_BLACKOUT, in->time_us);
	pthread_mutex_unlock(&w->a->lock);
	if (w->r->phase < PH_BLACKOUT)
		work_mark(w, PH_BLACKOUT);
	return 0;
}

static void op_dst_switchover(void *ctx, const struct choreo_input *in, uint64_t time_us)
{
	(void)in;
	dst_switchover(ctx, time_us);
}

static int op_dst_frames(void *ctx, const struct choreo_input *in)
{
	struct work *w = ctx;
	int ret;

	if (in->msg == CM_FRAMES_END) {
		ctl_get_u64(&w->in, A_COUNT, &w->expected);
		return 0;
	}
	ret = dst_replay(w);
	work_publish(w);
	/* The source keeps what it shipped until told it is here (shipq.h). */
	ctl_msg_reset(&w->out, PROTO_FRAMES_ACK);
	ctl_put_u64(&w->out, A_ID, w->r->id);
	ctl_put_u64(&w->out, A_COUNT, w->p.received);
	work_send(w);
	return ret;
}

/* A's frames are in; now B's own (what went to memory first, then the
 * ring), then live traffic; verify, and tell the source. */
static int op_dst_finish(void *ctx)
{
	struct work *w = ctx;
	struct buffer_replay_stats ds = { 0 };
	int ret;

	if (w->expected != w->p.received)
		work_error(w, "frames missing", -EPROTO, "fewer frames arrived than were shipped");
	work_spill(w);
	ret = spill_each(&w->spill, dst_replay_spilled, w);
	if (ret < 0)
		work_error(w, "replaying the frames moved into memory", ret, NULL);
	series_add(&w->p.replayed_series, work_now_us(), w->p.replayed);
	ret = buffer_drain(w->buf, &w->r->mac, &ds);
	if (ret < 0)
		work_error(w, "draining the local buffer", ret, NULL);
	w->p.replayed += ds.frames;
	series_add(&w->p.replayed_series, work_now_us(), w->p.replayed);
	w->p.replayed_gso += ds.gso;
	w->p.replayed_partial += ds.partial;
	upstream_fdb_join(w);
	dst_verify(w);
	/* With how many of the source's frames it took: the source sends any
	 * later ones out of its uplink after the VM (a destination that gave up
	 * waiting reads no more). */
	ctl_msg_reset(&w->out, PROTO_DONE);
	ctl_put_u64(&w->out, A_ID, w->r->id);
	ctl_put_u64(&w->out, A_VERIFIED, w->p.verified);
	ctl_put_u64(&w->out, A_COUNT, w->p.received);
	work_send(w);
	work_mark(w, PH_COMMIT);
	return w->r->error[0] ? -EPROTO : 0;
}

/* The VM's flow only had to carry the switchover: after the grace period
 * the bridge's own learning (the VM has spoken by then; unknown unicast
 * floods anyway) forwards to it.  A flow left behind would outlive the port
 * when the VM leaves by other means (shut down, migrated without netmove)
 * and black-hole its MAC here.  A newer relocation of the MAC owns the
 * flows. */
static void op_dst_grace(void *ctx)
{
	struct work *w = ctx;
	char *err = NULL;

	work_grace_wait(w, w->a->cfg.grace_ms);
	if (work_superseded(w))
		return;
	if (ovsp_vm_remove(w->of, w->r->mac.b, &err) < 0)
		agent_log(w->a, "relocation %llu: removing the VM's flow: %s",
			  (unsigned long long)w->r->id, err ? err : "failed");
	free(err);
}

static void op_dst_rollback(void *ctx, const char *why, bool resumed_local)
{
	(void)resumed_local;
	dst_rollback(ctx, why);
}

static const struct choreo_ops dst_ops = {
	.prepare = op_dst_prepare,
	.prepared = op_dst_prepared,
	.next = work_next,
	.reply = work_reply,
	.blackout = op_dst_blackout,
	.switchover = op_dst_switchover,
	.frames = op_dst_frames,
	.finish = op_dst_finish,
	.error = work_op_error,
	.commit = work_commit,
	.grace = op_dst_grace,
	.rollback = op_dst_rollback,
	.stopping = work_stopping,
};

void *reloc_dst_main(void *arg)
{
	work_run(arg, CHOREO_DST, &dst_ops);
	return NULL;
}
