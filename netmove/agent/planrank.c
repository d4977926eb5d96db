/* planrank: `netmove plan`'s decision (see planrank.h). */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>

#include "nm_buffer.h"
#include "planrank.h"
#include "netmove/proto.h"
#include "netmove/record.h"

_Static_assert(sizeof(struct nm_rec) == 40, "the ring's record header changed: see plan_record_bytes");

static const char *const reason_names[PLAN_R_MAX] = {
	[PLAN_R_NOT_PEER] = "not_peer",
	[PLAN_R_SELF] = "self",
	[PLAN_R_UNREACHABLE] = "unreachable",
	[PLAN_R_UNAUTHENTICATED] = "not_authenticated",
	[PLAN_R_NO_ANSWER] = "no_answer",
	[PLAN_R_STOPPING] = "stopping",
	[PLAN_R_ASKER_UNKNOWN] = "asker_unknown",
	[PLAN_R_BRIDGE] = "bridge",
	[PLAN_R_UPLINK] = "uplink",
	[PLAN_R_PROBE] = "probe",
	[PLAN_R_GATEWAY] = "gateway",
	[PLAN_R_L2] = "l2_domain",
	[PLAN_R_BUFFER_PROG] = "buffer_program",
	[PLAN_R_BUFFER] = "buffer",
	[PLAN_R_FLOWS] = "flows",
	[PLAN_R_LIMIT] = "concurrency_limit",
};

const char *plan_reason_name(enum plan_reason r)
{
	return r >= 0 && r < PLAN_R_MAX ? reason_names[r] : "?";
}

static uint64_t frame_bytes(double mean_bytes)
{
	return mean_bytes > PLAN_MIN_FRAME ? (uint64_t)ceil(mean_bytes) : PLAN_MIN_FRAME;
}

uint64_t plan_record_bytes(double mean_bytes)
{
	/* What bpf_ringbuf_reserve takes: its own header, ours, the frame,
	 * rounded up to 8 bytes. */
	return (BPF_RINGBUF_HDR_SZ + sizeof(struct nm_rec) + frame_bytes(mean_bytes) + 7) & ~7ull;
}

uint64_t plan_ring_frames(uint64_t ring_bytes, double mean_bytes)
{
	return ring_bytes / plan_record_bytes(mean_bytes);
}

uint64_t plan_spill_frames(uint64_t spill_bytes, double mean_bytes)
{
	return spill_bytes / (BUFFER_WIRE_HDR_LEN + frame_bytes(mean_bytes));
}

uint64_t plan_need_frames(const struct plan_vm *vm)
{
	double n = vm->rate_fps * (double)vm->blackout_ms / 1000.0 * PLAN_MARGIN;

	return n > 0 ? (uint64_t)ceil(n) : 0;
}

static void add(struct plan_verdict *v, enum plan_reason r, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct plan_verdict *v, enum plan_reason r, const char *fmt, ...)
{
	va_list ap;

	v->reasons |= 1u << r;
	va_start(ap, fmt);
	vsnprintf(v->text[r], sizeof(v->text[r]), fmt, ap);
	va_end(ap);
}

static void decide_answered(const struct plan_vm *vm, const struct plan_facts *f,
			    struct plan_verdict *v)
{
	const struct plan_peer_facts *p = &f->p;
	char gw[INET_ADDRSTRLEN], ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &p->gateway, gw, sizeof(gw));
	inet_ntop(AF_INET, &vm->ip, ip, sizeof(ip));
	if (p->stopping)
		add(v, PLAN_R_STOPPING, "its netmoved is stopping");
	if (!p->knows_asker)
		add(v, PLAN_R_ASKER_UNKNOWN, "this host is not one of its --peer hosts: it would "
					     "refuse the relocation's PREPARE");
	if (p->bridge_err[0])
		add(v, PLAN_R_BRIDGE, "%s", p->bridge_err);
	if (p->uplink_err[0])
		add(v, PLAN_R_UPLINK, "%s", p->uplink_err);
	if (p->probe_err[0]) {
		add(v, PLAN_R_PROBE, "its ARP probes could not run: %s", p->probe_err);
	} else {
		if (!p->gw_answered)
			add(v, PLAN_R_GATEWAY, "its gateway %s did not answer an ARP probe from its "
					       "uplink", gw);
		/* A VM that answers no probe at all says nothing by its silence. */
		if (!p->vm_answered && vm->answers_probe)
			add(v, PLAN_R_L2, "the VM (%s) did not answer an ARP probe from its uplink: "
					  "its L2 domain does not reach there", ip);
	}
	if (p->prog_err)
		add(v, PLAN_R_BUFFER_PROG, "it cannot load the buffer program: %s",
		    strerror(-p->prog_err));
	if (v->capacity_frames < v->need_frames)
		add(v, PLAN_R_BUFFER, "buffer too small: its %" PRIu64 " KiB ring holds %" PRIu64
		    " frames of %" PRIu64 " bytes; %.0f frames/s for %" PRIu64 " ms x %.1f needs %"
		    PRIu64, p->ring_bytes >> 10, v->capacity_frames, frame_bytes(vm->mean_bytes),
		    vm->rate_fps, vm->blackout_ms, PLAN_MARGIN, v->need_frames);
	if (p->dp_limit && (p->dp_flows + PLAN_FLOWS_FREE_MIN > p->dp_limit ||
			    p->dp_flows * 100 >= p->dp_limit * PLAN_FLOWS_BUSY_PCT))
		add(v, PLAN_R_FLOWS, "datapath flows near their limit: %" PRIu64 " of %" PRIu64
		    " in use (needs %d free and under %d%%)", p->dp_flows, p->dp_limit,
		    PLAN_FLOWS_FREE_MIN, PLAN_FLOWS_BUSY_PCT);
}

void plan_decide(const struct plan_vm *vm, const struct plan_facts *f, struct plan_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->need_frames = plan_need_frames(vm);
	if (f->stage == PLAN_ST_DONE) {
		v->capacity_frames = plan_ring_frames(f->p.ring_bytes, vm->mean_bytes);
		v->load = f->p.in_flight + f->p.queued + f->queued_to;
	}
	v->headroom = v->need_frames ? (double)v->capacity_frames / (double)v->need_frames :
				       (double)v->capacity_frames;
	if (f->self) {
		add(v, PLAN_R_SELF, "the VM's current host");
	} else if (!f->peer) {
		add(v, PLAN_R_NOT_PEER, "not a --peer of this host's netmoved");
	} else {
		switch (f->stage) {
		case PLAN_ST_CONNECT:
			add(v, PLAN_R_UNREACHABLE, "its netmoved is unreachable: %s", f->why);
			break;
		case PLAN_ST_TLS:
			add(v, PLAN_R_UNAUTHENTICATED, "not authenticated as %s: %s", f->host, f->why);
			break;
		case PLAN_ST_ANSWER:
		case PLAN_ST_NONE:
			add(v, PLAN_R_NO_ANSWER, "no answer to the plan request: %s",
			    f->why[0] ? f->why : "not asked");
			break;
		case PLAN_ST_DONE:
			decide_answered(vm, f, v);
			break;
		}
		if (f->in_flight_to >= vm->max_per_peer)
			add(v, PLAN_R_LIMIT, "this host runs %u relocations to it already "
			    "(--max-per-peer %u): this one would wait in the queue",
			    f->in_flight_to, vm->max_per_peer);
	}
	v->accepted = v->reasons == 0;
}

/* The tables qsort_r compares in. */
struct rank_ctx {
	const struct plan_facts *f;
	const struct plan_verdict *v;
};

static int cmp_rank(const void *pa, const void *pb, void *arg)
{
	const struct rank_ctx *x = arg;
	int a = *(const int *)pa, b = *(const int *)pb;
	const struct plan_verdict *va = &x->v[a], *vb = &x->v[b];
	const struct plan_facts *fa = &x->f[a], *fb = &x->f[b];
	double ha = fmin(va->headroom, PLAN_HEADROOM_ENOUGH);
	double hb = fmin(vb->headroom, PLAN_HEADROOM_ENOUGH);
	int c;

	if (va->accepted != vb->accepted)
		return va->accepted ? -1 : 1;
	if (!va->accepted)
		return a - b;	/* as given */
	if (va->load != vb->load)
		return va->load < vb->load ? -1 : 1;
	if (ha != hb)
		return ha > hb ? -1 : 1;
	if (fa->p.gw_rtt_ns != fb->p.gw_rtt_ns)
		return fa->p.gw_rtt_ns < fb->p.gw_rtt_ns ? -1 : 1;
	c = strcmp(fa->host, fb->host);
	return c ? c : a - b;
}

int plan_rank(const struct plan_vm *vm, const struct plan_facts *f, int n,
	      struct plan_verdict *v, int *order)
{
	struct rank_ctx x = { .f = f, .v = v };
	int i, accepted = 0;

	for (i = 0; i < n; i++) {
		plan_decide(vm, &f[i], &v[i]);
		order[i] = i;
	}
	qsort_r(order, (size_t)n, sizeof(*order), cmp_rank, &x);
	for (i = 0; i < n; i++)
		if (v[order[i]].accepted)
			v[order[i]].rank = (unsigned)++accepted;
	return accepted;
}

static void render_ms(struct out *o, const char *key, bool known, uint64_t ns)
{
	if (known)
		out_double(o, key, (double)ns / 1e6, 3);
	else
		out_null(o, key);
}

static void render_peer(const struct plan_facts *f, const struct plan_verdict *v, struct out *o)
{
	const struct plan_peer_facts *p = &f->p;
	char s[INET_ADDRSTRLEN], m[MAC_STRLEN];

	out_obj_begin(o, "facts");
	out_u64(o, "ring_bytes", p->ring_bytes);
	out_u64(o, "capacity_frames", v->capacity_frames);
	out_double(o, "headroom", v->headroom, 2);
	out_u64(o, "spill_bytes", p->spill_bytes);
	out_u64(o, "buffer_programs_ready", p->progs_ready);
	out_str(o, "buffer_program", p->prog_err ? strerror(-p->prog_err) : "loads");
	out_str(o, "bridge", p->bridge_err[0] ? p->bridge_err : "ok");
	out_str(o, "uplink", p->uplink_err[0] ? p->uplink_err : "up");
	if (p->flows_err[0]) {
		out_null(o, "datapath_flows");
		out_null(o, "datapath_flow_limit");
		out_str(o, "flows_error", p->flows_err);
	} else {
		out_u64(o, "datapath_flows", p->dp_flows);
		out_u64(o, "datapath_flow_limit", p->dp_limit);
	}
	inet_ntop(AF_INET, &p->gateway, s, sizeof(s));
	out_str(o, "gateway", s);
	render_ms(o, "gateway_rtt_ms", !p->probe_err[0] && p->gw_answered, p->gw_rtt_ns);
	render_ms(o, "vm_rtt_ms", !p->probe_err[0] && p->vm_answered, p->vm_rtt_ns);
	out_str(o, "probe_mac", mac_format(&p->probe_mac, m));
	out_u64(o, "in_flight", p->in_flight);
	out_u64(o, "queued", p->queued);
	out_double(o, "took_ms", (double)p->took_us / 1e3, 1);
	out_obj_end(o);
}

void plan_render(const char *host, const struct plan_vm *vm, const struct plan_facts *f,
		 const struct plan_verdict *v, const int *order, int n, uint64_t took_us,
		 struct out *o)
{
	uint64_t src = plan_ring_frames(vm->ring_bytes, vm->mean_bytes) +
		       plan_spill_frames(vm->spill_bytes, vm->mean_bytes);
	char s[INET_ADDRSTRLEN], m[MAC_STRLEN];
	int i, accepted = 0, r;

	for (i = 0; i < n; i++)
		accepted += v[i].accepted;
	out_str(o, "host", host);
	out_obj_begin(o, "vm");
	out_str(o, "mac", mac_format(&vm->mac, m));
	inet_ntop(AF_INET, &vm->ip, s, sizeof(s));
	out_str(o, "ip", s);
	out_str(o, "port", vm->port);
	out_double(o, "rate_fps", vm->rate_fps, 1);
	out_double(o, "mean_frame_bytes", vm->mean_bytes, 1);
	out_double(o, "window_ms", (double)vm->window_us / 1e3, 1);
	out_bool(o, "answers_arp_probe", vm->answers_probe);
	out_obj_end(o);
	out_u64(o, "blackout_ms", vm->blackout_ms);
	out_double(o, "margin", PLAN_MARGIN, 1);
	out_u64(o, "need_frames", plan_need_frames(vm));
	/* This host is the source: its ring and spill hold the blackout's frames
	 * whichever candidate is chosen. */
	out_obj_begin(o, "source");
	out_u64(o, "ring_bytes", vm->ring_bytes);
	out_u64(o, "spill_bytes", vm->spill_bytes);
	out_u64(o, "capacity_frames", src);
	out_bool(o, "fits", src >= plan_need_frames(vm));
	out_obj_end(o);
	out_u64(o, "candidates_asked", (uint64_t)n);
	out_u64(o, "accepted", (uint64_t)accepted);
	out_arr_begin(o, "candidates");
	for (i = 0; i < n; i++) {
		const struct plan_facts *fi = &f[order[i]];
		const struct plan_verdict *vi = &v[order[i]];

		out_obj_begin(o, NULL);
		out_str(o, "host", fi->host);
		out_str(o, "verdict", vi->accepted ? "accepted" : "rejected");
		if (vi->accepted)
			out_u64(o, "rank", vi->rank);
		else
			out_null(o, "rank");
		out_obj_begin(o, "reasons");
		for (r = 0; r < PLAN_R_MAX; r++)
			if (vi->reasons & (1u << r))
				out_str(o, plan_reason_name(r), vi->text[r]);
		out_obj_end(o);
		out_u64(o, "load", vi->load);
		out_u64(o, "in_flight_from_here", fi->in_flight_to);
		out_u64(o, "queued_from_here", fi->queued_to);
		if (fi->stage == PLAN_ST_DONE || fi->stage == PLAN_ST_ANSWER)
			out_double(o, "answer_ms", (double)fi->answer_us / 1e3, 1);
		else
			out_null(o, "answer_ms");
		if (fi->stage == PLAN_ST_DONE)
			render_peer(fi, vi, o);
		else
			out_null(o, "facts");
		out_obj_end(o);
	}
	out_arr_end(o);
	out_double(o, "took_ms", (double)took_us / 1e3, 1);
}

/* ---------------------------------------------------------- wire form */

/* Appenders that keep the first error in *ret and do nothing after it. */
static void put_u64(struct ctl_msg *m, int *ret, uint16_t tag, uint64_t v)
{
	if (*ret == 0)
		*ret = ctl_put_u64(m, tag, v);
}

static void put_bytes(struct ctl_msg *m, int *ret, uint16_t tag, const void *v, size_t len)
{
	if (*ret == 0)
		*ret = ctl_put(m, tag, v, len);
}

/* A text only if there is one. */
static void put_text(struct ctl_msg *m, int *ret, uint16_t tag, const char *s)
{
	if (*ret == 0 && s[0])
		*ret = ctl_put_str(m, tag, s);
}

int plan_reply_encode(struct ctl_msg *m, const struct plan_peer_facts *p)
{
	int ret = 0;

	put_u64(m, &ret, A_PLAN_RING, p->ring_bytes);
	put_u64(m, &ret, A_PLAN_SPILL, p->spill_bytes);
	put_u64(m, &ret, A_PLAN_PROGS, p->progs_ready);
	if (p->prog_err)
		put_u64(m, &ret, A_PLAN_PROG_ERR, (uint64_t)-p->prog_err);
	put_text(m, &ret, A_PLAN_BRIDGE_ERR, p->bridge_err);
	put_text(m, &ret, A_PLAN_UPLINK_ERR, p->uplink_err);
	put_text(m, &ret, A_PLAN_FLOWS_ERR, p->flows_err);
	if (!p->flows_err[0]) {
		put_u64(m, &ret, A_PLAN_DP_FLOWS, p->dp_flows);
		put_u64(m, &ret, A_PLAN_DP_LIMIT, p->dp_limit);
	}
	put_bytes(m, &ret, A_GATEWAY, &p->gateway, 4);
	put_text(m, &ret, A_PLAN_PROBE_ERR, p->probe_err);
	if (p->gw_answered)
		put_u64(m, &ret, A_PLAN_GW_RTT, p->gw_rtt_ns);
	if (p->vm_answered)
		put_u64(m, &ret, A_PLAN_VM_RTT, p->vm_rtt_ns);
	put_bytes(m, &ret, A_PLAN_PROBE_MAC, p->probe_mac.b, MAC_LEN);
	put_u64(m, &ret, A_PLAN_IN_FLIGHT, p->in_flight);
	put_u64(m, &ret, A_PLAN_QUEUED, p->queued);
	if (p->stopping)
		put_u64(m, &ret, A_PLAN_STOPPING, 1);
	put_u64(m, &ret, A_PLAN_KNOWS_ASKER, p->knows_asker);
	put_u64(m, &ret, A_PLAN_TOOK_US, p->took_us);
	return ret;
}

/* Readers of optional attributes: absent leaves 0 (or ""), one of the
 * wrong form sets *bad. */
static uint64_t get_u64(const struct ctl_msg *m, bool *bad, uint16_t tag, bool *present)
{
	uint64_t v = 0;
	int ret = ctl_get_u64(m, tag, &v);

	if (present)
		*present = ret == 0;
	if (ret < 0 && ret != -ENOENT)
		*bad = true;
	return ret == 0 ? v : 0;
}

static void get_text(const struct ctl_msg *m, bool *bad, uint16_t tag, char *buf, size_t size)
{
	int ret = ctl_get_str(m, tag, buf, size);

	if (ret < 0)
		buf[0] = 0;
	if (ret < 0 && ret != -ENOENT)
		*bad = true;
}

static void get_bytes(const struct ctl_msg *m, bool *bad, uint16_t tag, void *out, size_t want)
{
	const void *v;
	size_t len;

	if (ctl_get(m, tag, &v, &len) < 0)
		return;
	if (len != want)
		*bad = true;
	else
		memcpy(out, v, want);
}

int plan_reply_decode(const struct ctl_msg *m, struct plan_peer_facts *p)
{
	uint64_t progs, err, in_flight, queued;
	bool bad = false, ring;

	memset(p, 0, sizeof(*p));
	p->ring_bytes = get_u64(m, &bad, A_PLAN_RING, &ring);
	p->spill_bytes = get_u64(m, &bad, A_PLAN_SPILL, NULL);
	progs = get_u64(m, &bad, A_PLAN_PROGS, NULL);
	err = get_u64(m, &bad, A_PLAN_PROG_ERR, NULL);
	get_text(m, &bad, A_PLAN_BRIDGE_ERR, p->bridge_err, sizeof(p->bridge_err));
	get_text(m, &bad, A_PLAN_UPLINK_ERR, p->uplink_err, sizeof(p->uplink_err));
	get_text(m, &bad, A_PLAN_FLOWS_ERR, p->flows_err, sizeof(p->flows_err));
	p->dp_flows = get_u64(m, &bad, A_PLAN_DP_FLOWS, NULL);
	p->dp_limit = get_u64(m, &bad, A_PLAN_DP_LIMIT, NULL);
	get_bytes(m, &bad, A_GATEWAY, &p->gateway, 4);
	get_text(m, &bad, A_PLAN_PROBE_ERR, p->probe_err, sizeof(p->probe_err));
	p->gw_rtt_ns = get_u64(m, &bad, A_PLAN_GW_RTT, &p->gw_answered);
	p->vm_rtt_ns = get_u64(m, &bad, A_PLAN_VM_RTT, &p->vm_answered);
	get_bytes(m, &bad, A_PLAN_PROBE_MAC, p->probe_mac.b, MAC_LEN);
	in_flight = get_u64(m, &bad, A_PLAN_IN_FLIGHT, NULL);
	queued = get_u64(m, &bad, A_PLAN_QUEUED, NULL);
	p->stopping = get_u64(m, &bad, A_PLAN_STOPPING, NULL) != 0;
	p->knows_asker = get_u64(m, &bad, A_PLAN_KNOWS_ASKER, NULL) != 0;
	p->took_us = get_u64(m, &bad, A_PLAN_TOOK_US, NULL);
	if (bad || !ring || err > 4095 || progs > UINT32_MAX || in_flight > UINT32_MAX ||
	    queued > UINT32_MAX)
		return -EBADMSG;
	p->progs_ready = (uint32_t)progs;
	p->prog_err = -(int)err;
	p->in_flight = (uint32_t)in_flight;
	p->queued = (uint32_t)queued;
	return 0;
}

/* ------------------------------------------------------ upcall/show */

static int field(const char *line, const char *name, uint64_t *v)
{
	const char *s = strstr(line, name);
	unsigned long long n;
	char *end;

	if (!s)
		return -EINVAL;
	s += strlen(name);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *end != ')')
		return -EINVAL;
	*v = n;
	return 0;
}

int plan_parse_upcall(const char *text, uint64_t *current, uint64_t *limit)
{
	const char *line = text;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		char buf[256];
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *s;

		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = 0;
		s = buf + strspn(buf, " \t");
		if (!strncmp(s, "flows", 5) && strchr(s, ':') &&
		    s[5 + strspn(s + 5, " \t")] == ':') {
			if (field(s, "(current ", current) < 0 || field(s, "(limit ", limit) < 0)
				return -EINVAL;
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return -EINVAL;
}
