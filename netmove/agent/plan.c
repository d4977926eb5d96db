/* plan: placement advice from the network's side, the asker's part (see
 * plan.h; the candidate's is plan_serve.c).
 *
 * The asker measures the VM's traffic on its port while one thread per
 * candidate asks that host's agent, over the same authenticated channel a
 * relocation would use: ten candidates take about as long as one. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>

#include "agent.h"
#include "plan.h"
#include "planrank.h"
#include "netmove/arpprobe.h"
#include "netmove/frame.h"
#include "netmove/proto.h"
#include "netmove/tapq.h"
#include "netmove/timeutil.h"
#include "netmove/verify.h"

_Static_assert(PLAN_MAX_CANDIDATES >= AGENT_MAX_PEERS, "a plan must be able to ask every peer");
_Static_assert(PLAN_NAME_LEN == AGENT_NAME_LEN, "host names differ in size");

/* One candidate's question, on its own thread. */
struct plan_ask {
	struct agent *a;
	const struct agent_peer *peer;	/* its --peer entry */
	const struct plan_vm *vm;
	struct plan_facts *f;		/* what is found goes here */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC: the whole exchange ends by then */
	pthread_t th;
	bool started;
};

/* A plan in progress on the asker (too big for a connection's stack). */
struct plan_job {
	struct plan_vm vm;
	struct plan_facts f[PLAN_MAX_CANDIDATES];
	struct plan_verdict v[PLAN_MAX_CANDIDATES];
	struct plan_ask ask[PLAN_MAX_CANDIDATES];
	int order[PLAN_MAX_CANDIDATES];
	int n;
};

static int left_ms(uint64_t deadline_ns)
{
	uint64_t now = timeutil_mono_ns();

	return now >= deadline_ns ? 1 : (int)((deadline_ns - now) / NSEC_PER_MSEC) + 1;
}

static void *ask_main(void *arg)
{
	struct plan_ask *q = arg;
	struct agent *a = q->a;
	struct plan_facts *f = q->f;
	uint64_t t0 = timeutil_mono_ns();
	struct ctl_conn c = { .fd = -1 };
	struct ctl_msg m;
	int fd, ret;

	ctl_msg_init(&m, PROTO_PLAN);
	fd = ctl_connect_tcp(q->peer->addr, PLAN_CONNECT_MS);
	if (fd < 0) {
		f->stage = PLAN_ST_CONNECT;
		snprintf(f->why, sizeof(f->why), "%s: %s", q->peer->addr,
			 fd == -ETIMEDOUT ? "no answer to the connection" : strerror(-fd));
		goto out;
	}
	ret = ctl_conn_init(&c, fd, a->cfg.tls, q->peer->addr);
	/* The host asked, as its certificate or the key says, or no answer. */
	if (ret == 0)
		ret = ctl_handshake_client(&c, q->peer->name, left_ms(q->deadline_ns));
	if (ret < 0) {
		f->stage = PLAN_ST_TLS;
		snprintf(f->why, sizeof(f->why), "%s%s%s", ctl_strerror(ret), c.why[0] ? ": " : "",
			 c.why);
		goto out;
	}
	f->stage = PLAN_ST_ANSWER;
	ret = ctl_put_str(&m, A_FROM, a->cfg.name);
	if (ret == 0)
		ret = ctl_put_str(&m, A_TO, q->peer->name);
	if (ret == 0)
		ret = ctl_put(&m, A_MAC, q->vm->mac.b, MAC_LEN);
	if (ret == 0)
		ret = ctl_put(&m, A_IP, &q->vm->ip, 4);
	if (ret == 0)
		ret = ctl_send(&c, &m);
	if (ret == 0)
		ret = ctl_recv(&c, &m, left_ms(q->deadline_ns));
	f->answer_us = (timeutil_mono_ns() - t0) / NSEC_PER_USEC;
	if (ret < 0) {
		snprintf(f->why, sizeof(f->why), "%s", ret == -ECONNRESET ?
			 "it hung up (a netmoved that does not know plan?)" : ctl_strerror(ret));
	} else if (m.type == PROTO_ERROR) {
		char text[PLAN_TEXT - 16] = "";

		ctl_get_str(&m, A_TEXT, text, sizeof(text));
		snprintf(f->why, sizeof(f->why), "refused: %s", text);
	} else if (m.type != PROTO_PLAN_REPLY) {
		snprintf(f->why, sizeof(f->why), "unexpected answer (type %u)", m.type);
	} else if (plan_reply_decode(&m, &f->p) < 0) {
		snprintf(f->why, sizeof(f->why), "malformed answer");
	} else {
		f->stage = PLAN_ST_DONE;
	}
out:
	ctl_msg_free(&m);
	ctl_conn_close(&c);
	return NULL;
}

/* What the VM's port transmitted, i.e. towards the VM. */
struct port_tx {
	uint64_t packets;		/* frames sent (on a tap: its reader took them) */
	uint64_t bytes;			/* their bytes */
	uint64_t dropped;		/* frames dropped (a tap: its reader fell behind) */
};

static int port_tx(const char *port, struct port_tx *t)
{
	int ret;

	ret = tapq_stat(port, "tx_packets", &t->packets);
	if (ret == 0)
		ret = tapq_stat(port, "tx_bytes", &t->bytes);
	if (ret == 0 && tapq_stat(port, "tx_dropped", &t->dropped) < 0)
		t->dropped = 0;
	return ret;
}

void plan_probe_identity(const struct agent *a, const struct mac *vm, struct mac *out)
{
	if (wire_ifmac(a->cfg.uplink, out) < 0 || mac_is_zero(out) || mac_is_multicast(out) ||
	    mac_equal(out, vm))
		verify_neutral_mac(vm, out);
}

/* Whether the VM answers an ARP probe on its own port here: if it does
 * not, its silence on a candidate's uplink says nothing.  Returns the
 * requests sent towards it (not its traffic), or 0. */
static unsigned baseline_probe(struct agent *a, struct plan_vm *vm)
{
	struct arpprobe_cfg cfg = { .ntargets = 1, .vlan = FRAME_NO_VLAN,
				    .tries = PLAN_PROBE_TRIES, .timeout_ms = 100 };
	struct arpprobe_answer ans;
	char err[WIRE_ERRLEN];
	int ret;

	plan_probe_identity(a, &vm->mac, &cfg.src);
	cfg.target[0] = vm->ip;
	ret = arpprobe_run(vm->port, &cfg, &ans, err);
	if (ret < 0) {
		agent_log(a, "plan: ARP probe on %s: %s", vm->port, err);
		return 0;
	}
	vm->answers_probe = ans.answered;
	return (unsigned)ret;
}

static int parse_request(struct agent *a, struct ctl_msg *req, struct plan_job *j, char *err,
			 size_t errlen)
{
	uint64_t blackout = PLAN_BLACKOUT_DEFAULT_MS;
	size_t off = 0, len;
	const void *v;
	uint16_t tag;
	int i;

	if (agent_get_vm(req, &j->vm.mac, &j->vm.ip, err, errlen) < 0)
		return -EINVAL;
	if (ctl_get_name(req, A_PORT, "VM port on this host", j->vm.port, sizeof(j->vm.port), err,
			 errlen) < 0)
		return -EINVAL;
	if (!if_nametoindex(j->vm.port)) {
		snprintf(err, errlen, "no port %s on %s", j->vm.port, a->cfg.name);
		return -ENODEV;
	}
	if (ctl_get_u64(req, A_PLAN_BLACKOUT_MS, &blackout) == -EBADMSG || !blackout ||
	    blackout > PLAN_BLACKOUT_MAX_MS) {
		snprintf(err, errlen, "blackout must be 1..%d ms", PLAN_BLACKOUT_MAX_MS);
		return -EINVAL;
	}
	j->vm.blackout_ms = blackout;
	while (ctl_next(req, &off, &tag, &v, &len)) {
		struct plan_facts *f = &j->f[j->n];

		if (tag != A_PLAN_CANDIDATE)
			continue;
		if (j->n == PLAN_MAX_CANDIDATES) {
			snprintf(err, errlen, "more than %d candidates", PLAN_MAX_CANDIDATES);
			return -E2BIG;
		}
		if (!len || len >= sizeof(f->host) || memchr(v, 0, len)) {
			snprintf(err, errlen, "candidate %d is not a host name", j->n + 1);
			return -EINVAL;
		}
		memcpy(f->host, v, len);
		f->host[len] = 0;
		for (i = 0; i < j->n; i++) {
			if (!strcmp(j->f[i].host, f->host)) {
				snprintf(err, errlen, "candidate %s is named twice", f->host);
				return -EINVAL;
			}
		}
		j->n++;
	}
	if (!j->n) {
		snprintf(err, errlen, "no candidate hosts");
		return -EINVAL;
	}
	return 0;
}

static const struct agent_peer *find_peer(const struct agent *a, const char *name)
{
	int i;

	for (i = 0; i < a->cfg.npeers; i++)
		if (!strcmp(a->cfg.peers[i].name, name))
			return &a->cfg.peers[i];
	return NULL;
}

/* Ask every candidate that is a peer, each on its own thread. */
static void ask_all(struct agent *a, struct plan_job *j, uint64_t deadline_ns)
{
	pthread_attr_t at;
	int i;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, AGENT_CONN_STACK);
	for (i = 0; i < j->n; i++) {
		const struct agent_peer *peer = find_peer(a, j->f[i].host);
		struct plan_facts *f = &j->f[i];
		struct plan_ask *q = &j->ask[i];

		f->self = !strcmp(f->host, a->cfg.name);
		f->peer = peer != NULL;
		if (f->self || !f->peer)
			continue;
		*q = (struct plan_ask){ .a = a, .peer = peer, .vm = &j->vm, .f = f,
					.deadline_ns = deadline_ns };
		q->started = pthread_create(&q->th, &at, ask_main, q) == 0;
		if (!q->started) {
			f->stage = PLAN_ST_ANSWER;
			snprintf(f->why, sizeof(f->why), "no thread to ask it");
		}
	}
	pthread_attr_destroy(&at);
}

/* Measure the VM's traffic while the candidates are asked: every frame
 * that came for it (taken or dropped by its reader) counts in its rate,
 * the sizes of those sent in its mean frame. */
static void measure_vm(struct agent *a, struct plan_job *j)
{
	struct port_tx x0 = { 0 }, x1 = { 0 };
	uint64_t t0, t1, sent, bytes, dropped;
	unsigned ours;

	t0 = timeutil_mono_ns();
	if (port_tx(j->vm.port, &x0) < 0)
		agent_log(a, "plan: %s has no statistics: its rate counts as 0", j->vm.port);
	ours = baseline_probe(a, &j->vm);
	timeutil_sleep_until_mono(t0 + PLAN_RATE_WINDOW_MS * NSEC_PER_MSEC);
	t1 = timeutil_mono_ns();
	if (port_tx(j->vm.port, &x1) < 0 || x1.packets < x0.packets || x1.bytes < x0.bytes ||
	    x1.dropped < x0.dropped)
		x1 = x0;
	sent = x1.packets - x0.packets;
	bytes = x1.bytes - x0.bytes;
	dropped = x1.dropped - x0.dropped;
	/* Our own probes went that way too: they are not the VM's traffic. */
	sent -= sent > ours ? ours : sent;
	bytes -= bytes > ours * FRAME_MIN_LEN ? ours * FRAME_MIN_LEN : bytes;
	j->vm.window_us = (t1 - t0) / NSEC_PER_USEC;
	j->vm.rate_fps = j->vm.window_us ?
			 (double)(sent + dropped) * 1e6 / (double)j->vm.window_us : 0;
	j->vm.mean_bytes = sent ? (double)bytes / (double)sent : 0;
}

static void reply(int fd, const char *text, int accepted)
{
	struct ctl_conn c;
	struct ctl_msg m;

	ctl_conn_init(&c, fd, NULL, "cli");
	ctl_msg_init(&m, PROTO_REP_OK);
	if (ctl_put_str(&m, A_TEXT, text) == 0 && ctl_put_u64(&m, A_COUNT, (uint64_t)accepted) == 0)
		ctl_send(&c, &m);
	ctl_msg_free(&m);
	ctl_conn_close(&c);
}

void plan_start(struct agent *a, int fd, struct ctl_msg *req)
{
	struct plan_job *j = calloc(1, sizeof(*j));
	uint64_t t0 = timeutil_mono_ns(), json = 0, took;
	char err[160], mac[MAC_STRLEN], *text = NULL;
	size_t textlen = 0;
	int i, accepted;
	struct out o;
	FILE *f;

	if (!j) {
		agent_reply(fd, false, "out of memory");
		return;
	}
	if (parse_request(a, req, j, err, sizeof(err)) < 0) {
		agent_reply(fd, false, err);
		free(j);
		return;
	}
	ctl_get_u64(req, A_JSON, &json);
	j->vm.max_per_peer = a->cfg.max_per_peer;
	j->vm.ring_bytes = (uint64_t)a->cfg.ring_mib << 20;
	j->vm.spill_bytes = (uint64_t)a->cfg.spill_mib << 20;
	ask_all(a, j, t0 + PLAN_PEER_MS * NSEC_PER_MSEC);
	measure_vm(a, j);
	for (i = 0; i < j->n; i++)
		if (j->ask[i].started)
			pthread_join(j->ask[i].th, NULL);
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < j->n; i++) {
		j->f[i].in_flight_to = agent_in_flight_to(a, j->f[i].host);
		j->f[i].queued_to = (uint32_t)relq_count(&a->queue, j->f[i].host);
	}
	pthread_mutex_unlock(&a->lock);
	accepted = plan_rank(&j->vm, j->f, j->n, j->v, j->order);
	took = (timeutil_mono_ns() - t0) / NSEC_PER_USEC;
	f = open_memstream(&text, &textlen);
	if (!f) {
		agent_reply(fd, false, "out of memory");
		free(j);
		return;
	}
	out_init(&o, f, json != 0);
	plan_render(a->cfg.name, &j->vm, j->f, j->v, j->order, j->n, took, &o);
	out_finish(&o);
	fclose(f);
	agent_log(a, "plan for %s (%.0f frames/s): %d of %d candidates accepted in %llu ms",
		  mac_format(&j->vm.mac, mac), j->vm.rate_fps, accepted, j->n,
		  (unsigned long long)(took / 1000));
	reply(fd, text, accepted);
	free(text);
	free(j);
}
