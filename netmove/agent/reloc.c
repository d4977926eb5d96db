/* The relocation choreography: one thread per relocation and role, one
 * function per phase (see ARCHITECTURE.md, "The relocation choreography"). */
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

#define FRAMES_PER_MSG 256
#define HANDOFF_DRAIN_TRIES 100		/* ring still in use after DROP: retries */
#define HANDOFF_DRAIN_STEP_US 100	/* between them */
/* A batch also ends before it passes this many bytes: 256 of the largest
 * frames (BUFFER_MAX_FRAME) would not fit in one message (CTL_MAX_BODY). */
#define SHIP_MAX_BYTES (4u << 20)
#define HANDOFF_STEP_US 5000	/* the old port is checked for late frames this often */
#define HANDOFF_QUIET_ROUNDS 3	/* until it was quiet this many times in a row */
#define HANDOFF_MAX_ROUNDS 40	/* or this many checks (200 ms) passed */
#define PORT_WAIT_STEP_MS 10

static const char *const phase_names[PH_MAX] = {
	"prepare", "blackout", "switchover", "handoff", "verify", "commit", "rollback",
};

const char *reloc_phase_name(enum phase p)
{
	return p < PH_MAX ? phase_names[p] : "?";
}

static uint64_t now_us(void)
{
	return timeutil_real_ns() / NSEC_PER_USEC;
}

/* Per-thread working state that does not need the agent's lock. */
struct work {
	struct reloc *r;
	struct agent *a;
	struct buffer *buf;		/* eBPF buffer on the VM's port */
	struct buffer *rp;		/* replays shipped frames (dst) */
	struct taprec tap;		/* what the source tap's reader left (src) */
	struct ovsp_conn *of;		/* OpenFlow to the local bridge */
	struct ovsp_ctl *ctl;		/* unixctl of the local vswitchd */
	struct wire up;			/* announcements out of the uplink (dst) */
	bool flows;			/* VM flows installed by us */
	bool ovs_fdb;			/* OVS MAC entry moved by us */
	bool peer_up;			/* peer connection usable */
	bool vm_paused;			/* source VM stopped (buffering) */
	bool resumed_local;		/* VM resumed on this host (rollback) */
	uint64_t resume_real_us;	/* when the resume detector saw the VM */
	pthread_t fdb_thread;		/* programs the upstream FDB (dst) */
	bool fdb_running;		/* fdb_thread to join */
	int fdb_ret;			/* its result */
	char fdb_err[128];		/* and the kernel's message */
	struct ctl_msg in;		/* last message received */
	struct ctl_msg out;		/* message being built */
};

static void mark(struct work *w, enum phase p)
{
	struct reloc *r = w->r;

	pthread_mutex_lock(&w->a->lock);
	r->phase = p;
	if (!r->t_us[p])
		r->t_us[p] = now_us();
	pthread_mutex_unlock(&w->a->lock);
	agent_log(w->a, "relocation %llu %s: %s", (unsigned long long)r->id,
		  r->is_src ? "source" : "destination", reloc_phase_name(p));
}

static void set_error(struct work *w, const char *what, int err, const char *detail)
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
	if (r->is_src) {
		out_u64(o, "requested_by_uid", r->uid);
		out_i64(o, "requested_by_pid", r->pid);
	}
	out_str(o, "phase", reloc_phase_name(r->phase));
	out_obj_begin(o, "phases_us");
	for (p = 0; p < PH_MAX; p++)
		if (r->t_us[p])
			out_u64(o, phase_names[p], r->t_us[p]);
	out_obj_end(o);
	if (r->resume_us)
		out_u64(o, "resumed_us", r->resume_us);
	/* The pause runs from the stop when the hypervisor said when it was. */
	stop_us = r->stopped_us ? r->stopped_us : r->t_us[PH_BLACKOUT];
	if (stop_us && r->resume_us > stop_us)
		out_double(o, "vm_pause_ms", (double)(r->resume_us - stop_us) / 1e3, 3);
	if (r->announce_us && r->resume_us)
		out_i64(o, "resume_to_announce_us", (int64_t)(r->announce_us - r->resume_us));
	if (r->fdb_moved_us && r->resume_us)
		out_i64(o, "resume_to_fdb_us", (int64_t)(r->fdb_moved_us - r->resume_us));
	if (r->first_replay_us && r->resume_us)
		out_i64(o, "resume_to_first_replay_us", (int64_t)(r->first_replay_us - r->resume_us));
	if (r->stopped_us && r->t_us[PH_BLACKOUT])
		out_i64(o, "blackout_late_us", (int64_t)(r->t_us[PH_BLACKOUT] - r->stopped_us));
	if (r->is_src) {
		out_obj_begin(o, "tap_queue");
		if (r->tap_queues >= 0) {
			out_i64(o, "queues", r->tap_queues);
			out_u64(o, "recovered", r->tap_recovered);
			out_u64(o, "other", r->tap_other);
			out_u64(o, "reader_took", r->tap_read);
			if (r->reader_kept[0]) {
				out_str(o, "reader_kept", r->reader_kept);
				out_u64(o, "reader_lost_sent_on", r->tap_reader_lost);
			}
		} else {
			out_str(o, "none", r->tap_queues == -ECANCELED ? "recovery off (--no-tap-recovery)" :
									  strerror(-r->tap_queues));
		}
		out_obj_end(o);
	}
	out_obj_begin(o, "frames");
	out_u64(o, "buffered", r->buffered);
	out_u64(o, "shipped", r->shipped);
	out_u64(o, "received", r->received);
	out_u64(o, "replayed", r->replayed);
	out_u64(o, "dropped", r->dropped);
	out_obj_end(o);
	out_obj_begin(o, "verify");
	out_bool(o, "answered", r->verified);
	if (r->verified)
		out_double(o, "rtt_ms", r->verify_rtt_ms, 3);
	out_obj_end(o);
	if (r->fdb_port[0])
		out_str(o, "upstream_fdb_port", r->fdb_port);
	out_str(o, "outcome", r->done ? r->outcome : "in progress");
	if (r->error[0])
		out_str(o, "error", r->error);
}

static void journal_write(struct work *w)
{
	struct journal_entry e;
	int ret;

	if (journal_begin(&e) < 0)
		return;
	out_u64(&e.o, "time_us", now_us());
	out_str(&e.o, "host", w->a->cfg.name);
	pthread_mutex_lock(&w->a->lock);
	reloc_render(w->r, &e.o);
	pthread_mutex_unlock(&w->a->lock);
	ret = journal_commit(&e, w->a->cfg.journal);
	if (ret < 0)
		agent_log(w->a, "journal %s: %s", w->a->cfg.journal, strerror(-ret));
}

/* Events that came after the thread stopped listening (a blackout the
 * hypervisor reported after the VM already resumed on the destination):
 * journal a blackout's lateness, answer them with how it went. */
static void answer_late_events(struct work *w)
{
	struct pollfd p = { .fd = w->r->evfd[0], .events = POLLIN };
	struct reloc *r = w->r;
	struct reloc_event ev;

	while (poll(&p, 1, 0) == 1 && read(r->evfd[0], &ev, sizeof(ev)) == sizeof(ev)) {
		if (ev.kind == EV_BLACKOUT && !r->t_us[PH_BLACKOUT]) {
			pthread_mutex_lock(&w->a->lock);
			r->t_us[PH_BLACKOUT] = ev.time_us;
			r->stopped_us = ev.stopped_us;
			pthread_mutex_unlock(&w->a->lock);
		}
		agent_reply(ev.cli_fd, !r->error[0] || !strcmp(r->outcome, "committed"),
			    ev.kind == EV_BLACKOUT ? "the VM had resumed on the destination already"
						   : r->outcome[0] ? r->outcome : "relocation over");
	}
}

static void finish(struct work *w, const char *outcome)
{
	struct reloc *r = w->r;
	struct buffer_stats st;

	if (w->buf && buffer_stats(w->buf, &r->mac, &st) == 0) {
		r->buffered = st.c.buffered;
		r->dropped = st.c.dropped + st.c.ring_full + st.c.errors;
	}
	pthread_mutex_lock(&w->a->lock);
	snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
	r->done = true;
	pthread_mutex_unlock(&w->a->lock);
	answer_late_events(w);
	journal_write(w);
	agent_log(w->a, "relocation %llu %s", (unsigned long long)r->id, outcome);
	if (r->cli_fd >= 0) {
		agent_reply(r->cli_fd, !strcmp(outcome, "committed"), r->error[0] ? r->error : outcome);
		r->cli_fd = -1;
	}
}

static void cleanup(struct work *w)
{
	answer_late_events(w);
	pthread_mutex_lock(&w->a->lock);
	w->r->lease_buf = NULL;
	pthread_mutex_unlock(&w->a->lock);
	if (w->buf)
		buffer_detach(w->buf);
	if (w->rp)
		buffer_close(w->rp);
	taprec_close(&w->tap);
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

static int send_peer(struct work *w)
{
	int ret;

	if (!w->peer_up)
		return -ENOTCONN;
	ret = ctl_send(&w->r->peer, &w->out);
	if (ret < 0)
		w->peer_up = false;
	return ret;
}

static int send_simple(struct work *w, uint16_t type, const char *text, uint64_t time_us)
{
	ctl_msg_reset(&w->out, type);
	ctl_put_u64(&w->out, A_ID, w->r->id);
	if (text)
		ctl_put_str(&w->out, A_TEXT, text);
	if (time_us)
		ctl_put_u64(&w->out, A_TIME, time_us);
	return send_peer(w);
}

static int ovs_open(struct work *w)
{
	char *err = NULL;
	int ret;

	ret = ovsp_open(w->a->cfg.ofctl, 0, &w->of, &err);
	if (ret < 0) {
		set_error(w, "OpenFlow connection", ret, err);
		free(err);
		return ret;
	}
	ret = ovsp_ctl_open(w->a->cfg.ovs_ctl, 0, &w->ctl, &err);
	if (ret < 0) {
		set_error(w, "ovs-vswitchd control socket", ret, err);
		free(err);
	}
	return ret;
}

static int attach_buffer(struct work *w)
{
	struct buffer_opts opts = { .ring_bytes = w->a->cfg.ring_mib << 20, .replace = true,
				    .keep_qdisc = true, .spare = spares_take(&w->a->spares) };
	int ret = buffer_attach(w->r->port, &opts, &w->buf);

	if (ret < 0) {
		set_error(w, "attaching the eBPF buffer", ret, w->r->port);
		return ret;
	}
	/* From now on a dead agent leaves no port holding frames. */
	buffer_lease(w->buf, lease_deadline());
	pthread_mutex_lock(&w->a->lock);
	w->r->lease_buf = w->buf;
	pthread_mutex_unlock(&w->a->lock);
	ret = buffer_pretouch(w->buf);
	if (ret < 0)
		set_error(w, "pre-touching the ring", ret, NULL);
	return ret;
}

/* Wait for a message from the peer or an event from the main thread.
 * Returns 1 for a message (w->in), 2 for an event (*ev), 3 when the resume
 * detector fired, 0 on timeout, or a negative errno (peer lost). */
static int wait_any(struct work *w, int timeout_ms, struct reloc_event *ev)
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

/* ---- source side ---- */

/* Take the source tap's queues from its reader (QEMU, a stand-in), so that
 * what the VM left unread when it stopped can follow it.  A port that is not
 * a tap, or a tap nobody reads, has none: that is no error. */
static void open_tap_queue(struct work *w)
{
	struct reloc *r = w->r;
	int lr, ret;

	ret = taprec_open(&w->tap, r->port, &r->mac, w->buf, w->a->cfg.no_tap_recovery, &lr);
	pthread_mutex_lock(&w->a->lock);
	r->tap_queues = ret;
	pthread_mutex_unlock(&w->a->lock);
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
	const char *addr = NULL;
	int fd, i, ret;

	mark(w, PH_PREPARE);
	for (i = 0; i < w->a->cfg.npeers; i++)
		if (!strcmp(w->a->cfg.peers[i].name, r->to))
			addr = w->a->cfg.peers[i].addr;
	if (!addr) {
		set_error(w, "unknown destination host", -EHOSTUNREACH, r->to);
		return -EHOSTUNREACH;
	}
	fd = ctl_connect_tcp(addr, (int)w->a->cfg.phase_timeout_ms);
	if (fd < 0) {
		set_error(w, "connecting to the destination agent", fd, addr);
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
		set_error(w, ret == -EACCES ? "the destination agent is not authenticated as the "
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
	ret = send_peer(w);
	if (ret < 0) {
		set_error(w, "destination agent did not take PREPARE", ret, NULL);
		return ret;
	}
	/* This side gets ready while the destination does: a hypervisor's
	 * migration may not wait for both in turn (a small guest's takes
	 * ~100 ms). */
	ret = ovs_open(w);
	if (ret == 0)
		ret = attach_buffer(w);
	if (ret < 0)
		return ret;
	open_tap_queue(w);
	ret = ctl_recv(&r->peer, &w->in, (int)w->a->cfg.phase_timeout_ms);
	if (ret < 0) {
		set_error(w, "destination agent did not answer PREPARE", ret, NULL);
		return ret;
	}
	if (w->in.type != PROTO_PREPARED) {
		char text[200] = "";

		ctl_get_str(&w->in, A_TEXT, text, sizeof(text));
		set_error(w, "destination refused PREPARE", -EPROTO, text);
		return -EPROTO;
	}
	return 0;
}

static int src_blackout(struct work *w, const struct reloc_event *ev)
{
	int ret = buffer_arm(w->buf, &w->r->mac);

	if (ret < 0) {
		set_error(w, "arming the buffer", ret, NULL);
		return ret;
	}
	w->vm_paused = true;
	w->r->stopped_us = ev->stopped_us;
	/* A blackout that says when the VM stopped comes after the stop: the
	 * VM no longer reads, but its reader may still take one frame from the
	 * tap and never deliver it (QEMU queues what it reads while the VM is
	 * not running).  Read the tap out now rather than at the handoff.  A
	 * blackout before the stop (a pre-stop hook) leaves the tap to the VM,
	 * which still reads it: taking frames from it would reorder them. */
	if (ev->stopped_us) {
		struct taprec_counts c = { 0 };
		int merr;

		ret = taprec_blackout(&w->tap, ev->reader_keeps, ev->last_rx ? &ev->last : NULL,
				      &merr);
		if (ret < 0)
			agent_log(w->a, "relocation %llu: reading tap %s at the blackout: %s",
				  (unsigned long long)w->r->id, w->r->port, strerror(-ret));
		if (merr < 0)
			agent_log(w->a, "relocation %llu: sending the marker into %s: %s",
				  (unsigned long long)w->r->id, w->r->port, strerror(-merr));
		taprec_counts(&w->tap, &c);
		pthread_mutex_lock(&w->a->lock);
		w->r->tap_recovered = c.recovered;
		w->r->tap_other = c.other;
		pthread_mutex_unlock(&w->a->lock);
	}
	mark(w, PH_BLACKOUT);
	send_simple(w, PROTO_BLACKOUT, NULL, w->r->t_us[PH_BLACKOUT]);
	return 0;
}

struct ship {
	struct work *w;
	uint8_t *enc;		/* one encoded record */
	uint64_t count;
	int err;
};

static int ship_flush(struct ship *s)
{
	struct work *w = s->w;

	if (!w->out.len)
		return 0;
	w->out.type = PROTO_FRAMES;
	s->err = send_peer(w);
	ctl_msg_reset(&w->out, PROTO_FRAMES);
	return s->err;
}

static int ship_one(const struct buffer_record *rec, void *arg)
{
	struct ship *s = arg;
	int len;

	len = buffer_record_encode(rec, s->enc, BUFFER_WIRE_HDR_LEN + BUFFER_MAX_FRAME);
	if (len < 0)
		return s->err = len;
	if (s->w->out.len && s->w->out.len + (size_t)len > SHIP_MAX_BYTES && ship_flush(s) < 0)
		return s->err;
	if (ctl_put(&s->w->out, A_RECORD, s->enc, (size_t)len) < 0)
		return s->err = -ENOMEM;
	s->count++;
	if (s->count % FRAMES_PER_MSG == 0)
		return ship_flush(s);
	return 0;
}

static int src_handoff(struct work *w)
{
	struct reloc *r = w->r;
	struct ship s = { .w = w, .enc = malloc(BUFFER_WIRE_HDR_LEN + BUFFER_MAX_FRAME) };
	uint32_t uplink;
	char *err = NULL;
	int ret, i, quiet;

	mark(w, PH_HANDOFF);
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
		if (rerr < 0)
			agent_log(w->a, "relocation %llu: reading tap %s: %s",
				  (unsigned long long)r->id, r->port, strerror(-rerr));
		pthread_mutex_lock(&w->a->lock);
		r->tap_recovered = c.recovered;
		r->tap_other = c.other;
		r->tap_read = c.reader_took;
		r->tap_reader_lost = c.reader_lost;
		snprintf(r->reader_kept, sizeof(r->reader_kept), "%s", c.kept);
		pthread_mutex_unlock(&w->a->lock);
		if (s.err)
			goto ship_failed;
	}
	/* Then what is buffered: the VM waits for it. */
	ret = buffer_export(w->buf, ship_one, &s);
	if (ret >= 0 && !s.err)
		ship_flush(&s);
	if (ret < 0 || s.err)
		goto ship_failed;
	/* Frames for the VM that still reach this host follow it to B. */
	ret = ovsp_ofport(w->of, w->a->cfg.uplink, &uplink, &err);
	if (ret == 0)
		ret = ovsp_vm_redirect(w->of, r->mac.b, uplink, 0, &err);
	if (ret < 0) {
		set_error(w, "redirecting the VM's flows to the uplink", ret, err);
		goto out;
	}
	w->flows = true;
	ret = ovsp_fdb_move(w->ctl, w->a->cfg.bridge, r->mac.b, w->a->cfg.uplink, 0, &err);
	if (ret < 0) {
		set_error(w, "moving the OVS MAC entry to the uplink", ret, err);
		goto out;
	}
	w->ovs_fdb = true;
	/* The datapath's cached flows, and frames a busy vSwitch took in before
	 * the fabric moved, may still reach the old port for a while: what they
	 * delivered is in the ring and follows, until the port has been quiet
	 * for HANDOFF_QUIET_ROUNDS steps (at most HANDOFF_MAX_ROUNDS). */
	for (i = 0, quiet = 0; i < HANDOFF_MAX_ROUNDS && quiet < HANDOFF_QUIET_ROUNDS; i++) {
		usleep(HANDOFF_STEP_US);
		ret = buffer_export(w->buf, ship_one, &s);
		if (ret >= 0 && !s.err)
			ship_flush(&s);
		if (ret < 0 || s.err)
			goto ship_failed;
		quiet = ret == 0 ? quiet + 1 : 0;
	}
	/* Anything later was misdirected to the old port: count it, do not
	 * queue it; what came in before the switch to DROP still follows. */
	buffer_set_mode(w->buf, &r->mac, BUFFER_MODE_DROP);
	/* A capture that began before the switch may still be being copied
	 * on another CPU (reserved, not yet committed): export until the ring
	 * is empty, so it follows too. */
	for (i = 0; i < HANDOFF_DRAIN_TRIES; i++) {
		struct buffer_stats bs;

		ret = buffer_export(w->buf, ship_one, &s);
		if (ret >= 0 && !s.err)
			ship_flush(&s);
		if (ret < 0 || s.err)
			goto ship_failed;
		if (buffer_stats(w->buf, NULL, &bs) < 0 || !bs.ring_used)
			break;
		usleep(HANDOFF_DRAIN_STEP_US);
	}
	r->shipped = s.count;
	ctl_msg_reset(&w->out, PROTO_FRAMES_END);
	ctl_put_u64(&w->out, A_ID, r->id);
	ctl_put_u64(&w->out, A_COUNT, s.count);
	ret = send_peer(w);
	goto out;
ship_failed:
	ret = ret < 0 ? ret : s.err;
	set_error(w, "shipping buffered frames", ret, NULL);
out:
	free(err);
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

static void src_rollback(struct work *w, const char *why)
{
	struct reloc *r = w->r;
	struct buffer_replay_stats ds = { 0 };
	struct reloc_event ev;
	uint64_t deadline;
	int ret;

	mark(w, PH_ROLLBACK);
	set_error(w, "rolled back", 0, why);
	send_simple(w, PROTO_ROLLBACK, why, 0);
	src_undo(w);
	/* The VM comes back here: its frames must wait until it reads again. */
	deadline = timeutil_mono_ns() + w->a->cfg.blackout_timeout_ms * NSEC_PER_MSEC;
	while (w->vm_paused && !w->resumed_local && timeutil_mono_ns() < deadline) {
		ret = wait_any(w, 200, &ev);
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
			set_error(w, "replaying the frames read out of the tap", ret, NULL);
		ret = buffer_drain(w->buf, &r->mac, &ds);
		if (ret < 0)
			set_error(w, "replaying the buffer locally", ret, NULL);
		r->replayed = ds.frames;
	}
	finish(w, "rolled back");
}

/* True if a relocation of the same MAC started on this agent after r. */
static bool superseded(struct work *w)
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

static void *src_main(void *arg)
{
	struct work w = { .r = arg, .a = ((struct reloc *)arg)->agent };
	struct reloc *r = w.r;
	struct reloc_event ev;
	uint64_t verified = 0;
	int ret, timeout;

	ctl_msg_init(&w.in, 0);
	ctl_msg_init(&w.out, 0);
	w.up.fd = -1;
	if (src_prepare(&w) < 0) {
		src_rollback(&w, "prepare failed");
		goto out;
	}
	agent_reply(r->cli_fd, true, "prepared");
	r->cli_fd = -1;
	for (;;) {
		timeout = (int)w.a->cfg.blackout_timeout_ms;
		ret = wait_any(&w, timeout, &ev);
		if (ret == 0) {
			src_rollback(&w, r->phase == PH_PREPARE ? "no blackout before the timeout" :
								   "the VM did not resume before the timeout");
			goto out;
		}
		if (ret < 0) {
			src_rollback(&w, "lost the destination agent");
			goto out;
		}
		if (ret == 2) {
			if (ev.kind == EV_BLACKOUT && r->phase == PH_PREPARE) {
				ret = src_blackout(&w, &ev);
				agent_reply(ev.cli_fd, ret == 0, ret == 0 ? "buffering" : r->error);
				continue;
			}
			agent_reply(ev.cli_fd, true, "rolling back");
			if (ev.kind == EV_RESUMED)
				w.resumed_local = true;
			src_rollback(&w, ev.kind == EV_FAILED ? "the hypervisor reported a failure" :
								 "the VM resumed on the source");
			goto out;
		}
		if (ret == 1 && w.in.type == PROTO_SWITCHED)
			break;
		if (ret == 1) {
			char text[200] = "unexpected message";

			ctl_get_str(&w.in, A_TEXT, text, sizeof(text));
			src_rollback(&w, text);
			goto out;
		}
	}
	ctl_get_u64(&w.in, A_TIME, &r->resume_us);
	pthread_mutex_lock(&w.a->lock);
	r->t_us[PH_SWITCHOVER] = r->resume_us;
	pthread_mutex_unlock(&w.a->lock);
	w.vm_paused = false;
	if (src_handoff(&w) < 0) {
		/* The VM already runs on B: no way back, report what was lost. */
		send_simple(&w, PROTO_ERROR, r->error, 0);
		finish(&w, "failed");
		goto out;
	}
	ret = ctl_recv(&r->peer, &w.in, (int)w.a->cfg.phase_timeout_ms * 2);
	if (ret < 0 || w.in.type != PROTO_DONE) {
		set_error(&w, "destination did not confirm the handoff", ret, NULL);
		finish(&w, "failed");
		goto out;
	}
	ctl_get_u64(&w.in, A_VERIFIED, &verified);
	r->verified = verified;
	mark(&w, PH_VERIFY);
	mark(&w, PH_COMMIT);
	finish(&w, "committed");
	/* Leftovers go after the grace period: late frames still follow the VM.
	 * A newer relocation of the MAC here owns its flows: leave them alone. */
	usleep(w.a->cfg.grace_ms * 1000);
	if (!superseded(&w))
		src_undo(&w);
out:
	cleanup(&w);
	return NULL;
}

/* ---- destination side ---- */

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
			set_error(w, "the VM's port did not appear on the bridge", -ENODEV, w->r->port);
			return -ENODEV;
		}
		usleep(PORT_WAIT_STEP_MS * 1000);
	}
}

static int dst_prepare(struct work *w)
{
	struct reloc *r = w->r;
	uint32_t ofport;
	char *err = NULL;
	int ret;

	mark(w, PH_PREPARE);
	ret = ovs_open(w);
	if (ret < 0)
		return ret;
	ret = wait_port(w, &ofport);
	if (ret < 0)
		return ret;
	/* Armed before the flows exist, so nothing reaches the port unbuffered. */
	ret = attach_buffer(w);
	if (ret == 0)
		ret = buffer_arm(w->buf, &r->mac);
	if (ret == 0)
		ret = buffer_watch_resume(w->buf, &r->mac);
	if (ret < 0) {
		set_error(w, "arming the buffer", ret, NULL);
		return ret;
	}
	ret = ovsp_vm_install(w->of, r->mac.b, ofport, 0, &err);
	if (ret < 0) {
		set_error(w, "installing the VM's flows", ret, err);
		free(err);
		return ret;
	}
	w->flows = true;
	ret = buffer_replayer_open(r->port, &w->rp);
	if (ret < 0) {
		set_error(w, "opening the replay socket", ret, r->port);
		return ret;
	}
	ret = wire_open(&w->up, w->a->cfg.uplink, NULL, true);
	if (ret < 0) {
		set_error(w, "opening the uplink", ret, w->up.err);
		return ret;
	}
	ctl_msg_reset(&w->out, PROTO_PREPARED);
	ctl_put_u64(&w->out, A_ID, r->id);
	return send_peer(w);
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
		snprintf(w->r->fdb_port, sizeof(w->r->fdb_port), "%s", e.ifname);
	w->r->fdb_moved_us = now_us();
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
	if (w->fdb_ret < 0)
		set_error(w, "programming the upstream FDB", w->fdb_ret, w->fdb_err);
}

static int dst_switchover(struct work *w, uint64_t resumed_us)
{
	struct reloc *r = w->r;
	struct announce_result res = { 0 };
	struct announcer *an;
	pthread_t th;
	int ret;

	r->resume_us = resumed_us;
	mark(w, PH_SWITCHOVER);
	an = calloc(1, sizeof(*an));
	if (!an)
		return -ENOMEM;
	announce_defaults(&an->cfg, &r->mac);
	an->cfg.garp = an->cfg.has_ip = true;
	an->cfg.ip = r->ip;
	ret = announce_round(&w->up, &an->cfg, &res);
	if (ret < 0)
		set_error(w, "announcing", ret, w->up.err);
	else
		r->announce_us = res.first_ns / NSEC_PER_USEC;
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
	/* The source starts shipping at once; the announcement has already
	 * moved a learning fabric, the explicit FDB entry follows on its own
	 * thread so the replay of the source's frames does not wait for it. */
	send_simple(w, PROTO_SWITCHED, NULL, resumed_us);
	if (w->a->cfg.tor_netns && pthread_create(&w->fdb_thread, NULL, upstream_fdb_main, w) == 0)
		w->fdb_running = true;
	mark(w, PH_HANDOFF);
	return 0;
}

static int dst_replay_one(const struct buffer_record *rec, void *arg)
{
	struct work *w = arg;
	int ret;

	w->r->received++;
	ret = buffer_replay(w->rp, rec, NULL);
	if (ret < 0)
		return ret;
	if (!w->r->replayed++)
		w->r->first_replay_us = now_us();
	return 0;
}

static int dst_replay(struct work *w)
{
	return records_each(&w->in, dst_replay_one, w);
}

static void dst_verify(struct work *w)
{
	struct reloc *r = w->r;
	struct verify_cfg cfg;
	struct verify_result res;
	char err[WIRE_ERRLEN];

	mark(w, PH_VERIFY);
	verify_defaults(&cfg);
	cfg.mac = r->mac;
	cfg.ip = r->ip;
	cfg.gateway = w->a->cfg.gateway;
	cfg.timeout_ms = 500;
	if (verify_run(w->a->cfg.uplink, r->port, &cfg, &res, err) < 0) {
		set_error(w, "verify", -EIO, err);
		return;
	}
	r->verified = res.answered;
	r->verify_rtt_ms = (double)res.rtt_ns / 1e6;
	if (!res.answered)
		set_error(w, "verify", -EHOSTUNREACH, "no ARP reply from the gateway at the new port");
}

static void dst_rollback(struct work *w, const char *why)
{
	char *err = NULL;

	mark(w, PH_ROLLBACK);
	set_error(w, "rolled back", 0, why);
	send_simple(w, PROTO_ROLLBACK, why, 0);
	if (w->flows)
		ovsp_vm_remove(w->of, w->r->mac.b, &err);
	free(err);
	finish(w, "rolled back");
}

static void *dst_main(void *arg)
{
	struct work w = { .r = arg, .a = ((struct reloc *)arg)->agent, .peer_up = true };
	struct reloc *r = w.r;
	struct buffer_replay_stats ds = { 0 };
	struct reloc_event ev;
	uint64_t expected = 0, early_us = 0;
	bool early;
	int ret;

	ctl_msg_init(&w.in, 0);
	ctl_msg_init(&w.out, 0);
	w.up.fd = -1;
	if (dst_prepare(&w) < 0) {
		dst_rollback(&w, "prepare failed");
		goto out;
	}
	pthread_mutex_lock(&w.a->lock);
	early = agent_take_early_resume(w.a, &r->mac, &early_us);
	pthread_mutex_unlock(&w.a->lock);
	if (early) {
		agent_log(w.a, "relocation %llu: the VM resumed here before PREPARE",
			  (unsigned long long)r->id);
		dst_switchover(&w, early_us);
	}
	for (;;) {
		ret = wait_any(&w, (int)w.a->cfg.blackout_timeout_ms, &ev);
		if (ret == 0 || ret < 0) {
			if (r->phase >= PH_SWITCHOVER)
				break; /* the VM runs here: keep what we have */
			dst_rollback(&w, ret == 0 ? "timed out" : "lost the source agent");
			goto out;
		}
		if (ret == 2 || ret == 3) {
			if (ret == 2)
				agent_reply(ev.cli_fd, ev.kind == EV_RESUMED, ev.kind == EV_RESUMED ?
					    "switching over" : "rolling back");
			if (ret == 2 && ev.kind != EV_RESUMED) {
				dst_rollback(&w, "the hypervisor reported a failure");
				goto out;
			}
			if (r->phase < PH_SWITCHOVER)
				dst_switchover(&w, ret == 2 ? ev.time_us : w.resume_real_us);
			continue;
		}
		switch (w.in.type) {
		case PROTO_BLACKOUT:
			ctl_get_u64(&w.in, A_TIME, &r->t_us[PH_BLACKOUT]);
			pthread_mutex_lock(&w.a->lock);
			if (r->phase < PH_BLACKOUT)
				r->phase = PH_BLACKOUT;
			pthread_mutex_unlock(&w.a->lock);
			break;
		case PROTO_FRAMES:
			ret = dst_replay(&w);
			if (ret < 0)
				set_error(&w, "replaying the source's frames", ret, NULL);
			break;
		case PROTO_FRAMES_END:
			ctl_get_u64(&w.in, A_COUNT, &expected);
			goto handed_off;
		case PROTO_ROLLBACK:
		case PROTO_ERROR: {
			char text[200] = "source aborted";

			ctl_get_str(&w.in, A_TEXT, text, sizeof(text));
			if (r->phase < PH_SWITCHOVER) {
				dst_rollback(&w, text);
				goto out;
			}
			set_error(&w, "source failed during handoff", -EPROTO, text);
			goto handed_off;
		}
		default:
			break;
		}
	}
handed_off:
	if (expected != r->received)
		set_error(&w, "frames missing", -EPROTO, "fewer frames arrived than were shipped");
	/* A's frames are in; now B's own, then live traffic. */
	ret = buffer_drain(w.buf, &r->mac, &ds);
	if (ret < 0)
		set_error(&w, "draining the local buffer", ret, NULL);
	r->replayed += ds.frames;
	upstream_fdb_join(&w);
	dst_verify(&w);
	ctl_msg_reset(&w.out, PROTO_DONE);
	ctl_put_u64(&w.out, A_ID, r->id);
	ctl_put_u64(&w.out, A_VERIFIED, r->verified);
	send_peer(&w);
	mark(&w, PH_COMMIT);
	finish(&w, r->error[0] ? "committed with errors" : "committed");
	/* The VM's flow only had to carry the switchover: after the grace period
	 * the bridge's own learning (the VM has spoken by then; unknown unicast
	 * floods anyway) forwards to it.  A flow left behind would outlive the
	 * port when the VM leaves by other means (shut down, migrated without
	 * netmove) and black-hole its MAC here.  A newer relocation of the MAC
	 * owns the flows. */
	usleep(w.a->cfg.grace_ms * 1000);
	if (!superseded(&w)) {
		char *err = NULL;

		if (ovsp_vm_remove(w.of, r->mac.b, &err) < 0)
			agent_log(w.a, "relocation %llu: removing the VM's flow: %s",
				  (unsigned long long)r->id, err ? err : "failed");
		free(err);
	}
out:
	upstream_fdb_join(&w);
	w.flows = false;
	cleanup(&w);
	return NULL;
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
	return start(r, src_main);
}

int reloc_start_dst(struct agent *a, struct ctl_conn *conn, struct ctl_msg *m)
{
	struct reloc *r = calloc(1, sizeof(*r));
	const void *v;
	size_t len;
	int ret = -EBADMSG;
	char why[128] = "";

	if (!r)
		return -ENOMEM;
	r->agent = a;
	r->cli_fd = -1;
	r->peer = *conn;
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
	if (agent_find(a, &r->mac)) {
		pthread_mutex_unlock(&a->lock);
		ret = -EBUSY;
		goto bad;
	}
	r->next = a->relocs;
	a->relocs = r;
	agent_prune(a);
	pthread_mutex_unlock(&a->lock);
	ret = start(r, dst_main);
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
