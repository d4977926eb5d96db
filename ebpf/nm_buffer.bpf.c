// SPDX-License-Identifier: GPL-2.0
/* Blackout buffer for a VM port.  nm_egress runs on tc egress (frames going
 * to the VM) and, per destination MAC, passes, buffers into a ring, drains or
 * drops; nm_ingress runs on tc ingress (frames from the VM) and reports the
 * first frame of a watched MAC; nm_pretouch is only run through
 * BPF_PROG_TEST_RUN to fault in the ring's pages before a blackout.
 *
 * Built twice, into two objects that differ only in how a frame gets into
 * the ring (libnetmove picks one for the running kernel, buffer.h):
 *   kfunc  one copy, skb to ring, with the bpf_dynptr_copy kfunc (Linux
 *          6.15), the frame's metadata read straight from the kernel's
 *          sk_buff (bpf_cast_to_kern_ctx, 6.2);
 *   copy   (-DNM_CAPTURE_COPY) for older kernels: the frame through a
 *          per-CPU scratch page by page (bpf_skb_load_bytes, then
 *          bpf_dynptr_write: Linux 5.19), the metadata with
 *          bpf_probe_read_kernel.
 * Separate objects, because a libbpf that cannot leave an unknown kfunc
 * unresolved (before 1.2) refuses an object that names one. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "nm_kern.h"
#include "nm_buffer.h"

/* A frame this program drops (counted in the port's and slot's counters) is
 * taken as stolen, not shot: TC_ACT_SHOT makes the sender's transmit fail
 * (NET_XMIT_DROP, ENOBUFS), and a sender that sends a batch (OVS's
 * sendmmsg on an AF_PACKET socket) then drops the rest of the batch before
 * it reaches the port: frames lost that no counter of netmove's sees.
 * Stolen, every frame of the batch comes here and is counted. */
#define NM_DROP TC_ACT_STOLEN

#ifndef NM_CAPTURE_COPY
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
/* Its offsets are __u32 up to 6.18 and __u64 from 6.19: a register either way. */
extern int bpf_dynptr_copy(struct bpf_dynptr *dst_ptr, __u64 dst_off,
			   struct bpf_dynptr *src_ptr, __u64 src_off, __u64 size) __ksym;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NM_RING_DEFAULT);
} nm_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NM_RESUME_RING);
} nm_resume SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NM_MAX_SLOTS);
	__type(key, struct nm_key);
	__type(value, __u32);
} nm_macs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, NM_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct nm_slot);
} nm_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nm_port);
} nm_port SEC(".maps");

#ifdef NM_CAPTURE_COPY
#define NM_CHUNK 4096u
#define NM_CHUNKS (NM_COPY_MAX / NM_CHUNK)

struct nm_chunk {
	__u8 b[NM_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nm_chunk);
} nm_scratch SEC(".maps");
#endif

#define COUNT(port, slot, field)                                  \
	do {                                                      \
		__sync_fetch_and_add(&(port)->c.field, 1);        \
		__sync_fetch_and_add(&(slot)->c.field, 1);        \
	} while (0)

static __always_inline struct nm_slot *slot_of(struct __sk_buff *skb, __u32 off, __u32 *idx)
{
	struct nm_key key = {};
	__u32 *i;

	if (bpf_skb_load_bytes(skb, off, key.mac, sizeof(key.mac)) < 0)
		return NULL;
	i = bpf_map_lookup_elem(&nm_macs, &key);
	if (!i)
		return NULL;
	*idx = *i;
	return bpf_map_lookup_elem(&nm_slots, i);
}

/* A field of the kernel's sk_buff k: read straight (kfunc: k is the
 * verifier's trusted pointer) or through bpf_probe_read_kernel (copy: k is
 * the context, which is the sk_buff). */
#ifdef NM_CAPTURE_COPY
#define KREAD(k, field) BPF_CORE_READ(k, field)
#define KREAD_BITS(k, field) BPF_CORE_READ_BITFIELD_PROBED(k, field)
#define KERN_SKB(skb) ((struct sk_buff *)(skb))
#else
#define KREAD(k, field) ((k)->field)
#define KREAD_BITS(k, field) BPF_CORE_READ_BITFIELD(k, field)
#define KERN_SKB(skb) ((struct sk_buff *)bpf_cast_to_kern_ctx(skb))
#endif

static __always_inline __u16 gso_flags_of(struct sk_buff *k)
{
	struct skb_shared_info *sh;
	unsigned int type = 0;
	__u16 f = 0;

	/* skb_shinfo() is head + end; gso_type is not in __sk_buff. */
	sh = (struct skb_shared_info *)(BPF_CORE_READ(k, head) + BPF_CORE_READ(k, end));
	if (bpf_core_read(&type, sizeof(type), &sh->gso_type) < 0)
		return NM_GSO_OTHER;
	if (type & NM_SKB_GSO_TCPV4)
		f |= NM_GSO_TCPV4;
	if (type & NM_SKB_GSO_TCPV6)
		f |= NM_GSO_TCPV6;
	if (type & NM_SKB_GSO_UDP_L4)
		f |= NM_GSO_UDP_L4;
	if (type & NM_SKB_GSO_TCP_ECN)
		f |= NM_GSO_ECN;
	if (type & ~(NM_SKB_GSO_TCPV4 | NM_SKB_GSO_TCPV6 | NM_SKB_GSO_UDP_L4 |
		     NM_SKB_GSO_TCP_ECN | NM_SKB_GSO_IGNORED))
		f |= NM_GSO_OTHER;
	return f;
}

static __always_inline void fill_meta(struct __sk_buff *skb, struct nm_rec *h)
{
	struct sk_buff *k = KERN_SKB(skb);

	h->ip_summed = (__u8)KREAD_BITS(k, ip_summed);
	if (h->ip_summed == NM_CSUM_PARTIAL) {
		h->csum_start = KREAD(k, csum_start) - KREAD(k, mac_header);
		h->csum_offset = KREAD(k, csum_offset);
	}
	h->gso_size = (__u16)skb->gso_size;
	if (h->gso_size)
		h->gso_flags = gso_flags_of(k);
	if (skb->vlan_present) {
		h->flags |= NM_REC_VLAN;
		h->vlan_proto = bpf_ntohs((__u16)skb->vlan_proto);
		h->vlan_tci = (__u16)skb->vlan_tci;
	}
}

/* The frame's len bytes into the record after its header. */
#ifdef NM_CAPTURE_COPY
static __always_inline int copy_frame(struct __sk_buff *skb, struct bpf_dynptr *rec, __u32 len)
{
	__u32 zero = 0, off = 0, n;
	struct nm_chunk *c;
	int i;

	c = bpf_map_lookup_elem(&nm_scratch, &zero);
	if (!c || len > NM_COPY_MAX)
		return -1;
	for (i = 0; i < NM_CHUNKS && off < len; i++) {
		n = len - off;
		if (n > NM_CHUNK)
			n = NM_CHUNK;
		/* 1..NM_CHUNK, in arithmetic the verifier follows: that of
		 * Linux 6.1 learns no lower bound from a test against 0. */
		n -= 1;
		barrier_var(n);
		n = (n & (NM_CHUNK - 1)) + 1;
		if (bpf_skb_load_bytes(skb, off, c->b, n) < 0 ||
		    bpf_dynptr_write(rec, sizeof(struct nm_rec) + off, c->b, n, 0) < 0)
			return -1;
		off += n;
	}
	return off == len ? 0 : -1;
}
#else
static __always_inline int copy_frame(struct __sk_buff *skb, struct bpf_dynptr *rec, __u32 len)
{
	struct bpf_dynptr pkt;

	if (bpf_dynptr_from_skb(skb, 0, &pkt) < 0)
		return -1;
	return bpf_dynptr_copy(rec, sizeof(struct nm_rec), &pkt, 0, len) < 0 ? -1 : 0;
}
#endif

static __always_inline int capture(struct __sk_buff *skb, struct nm_port *port,
				   struct nm_slot *slot, __u32 idx, __u64 now)
{
	struct bpf_dynptr rec;
	__u32 len = skb->len;
	struct nm_rec *h;

	/* The reservation must be submitted or discarded even when it failed. */
	if (bpf_ringbuf_reserve_dynptr(&nm_ring, sizeof(*h) + len, 0, &rec) < 0) {
		bpf_ringbuf_discard_dynptr(&rec, BPF_RB_NO_WAKEUP);
		COUNT(port, slot, ring_full);
		return NM_DROP;
	}
	h = bpf_dynptr_data(&rec, 0, sizeof(*h));
	if (!h)
		goto fail;
	__builtin_memset(h, 0, sizeof(*h));
	h->len = len;
	h->slot = idx;
	h->tstamp_ns = now;
	fill_meta(skb, h);
	if (copy_frame(skb, &rec, len) < 0)
		goto fail;
	h->seq = __sync_fetch_and_add(&port->seq, 1);
	/* Userspace drains on its own schedule: a wake-up per frame costs µs. */
	bpf_ringbuf_submit_dynptr(&rec, BPF_RB_NO_WAKEUP);
	COUNT(port, slot, buffered);
	return TC_ACT_STOLEN;
fail:
	bpf_ringbuf_discard_dynptr(&rec, BPF_RB_NO_WAKEUP);
	COUNT(port, slot, errors);
	return NM_DROP;
}

SEC("tc")
int nm_egress(struct __sk_buff *skb)
{
	struct nm_port *port;
	struct nm_slot *slot;
	__u32 zero = 0, idx = 0, mode;
	__u64 now = 0;

	port = bpf_map_lookup_elem(&nm_port, &zero);
	if (!port)
		return TC_ACT_OK;
	slot = slot_of(skb, 0, &idx);
	if (!slot) {
		__sync_fetch_and_add(&port->c.passed, 1);
		return TC_ACT_OK;
	}
	mode = *(volatile __u32 *)&slot->mode;
	if (mode == NM_MODE_DRAIN) {
		/* AVAIL_DATA counts reserved-but-uncommitted records too, so a
		 * capture still in flight on another CPU keeps us buffering. */
		if (bpf_ringbuf_query(&nm_ring, BPF_RB_AVAIL_DATA) != 0) {
			mode = NM_MODE_BUFFER;
		} else {
			mode = __sync_val_compare_and_swap(&slot->mode, NM_MODE_DRAIN,
							   NM_MODE_PASS);
			if (mode == NM_MODE_DRAIN) {
				COUNT(port, slot, flips);
				mode = NM_MODE_PASS;
			}
		}
	}
	/* An owner that stopped renewing its lease is gone: let the frames
	 * through rather than hold them for nobody.  One clock read a frame
	 * (a fifth of a small frame's capture here): the lease's and the
	 * record's. */
	if (mode != NM_MODE_PASS) {
		__u64 lease = *(volatile __u64 *)&port->lease_ns;

		now = bpf_ktime_get_ns();
		if (lease && now > lease) {
			__sync_fetch_and_add(&port->lease_passed, 1);
			COUNT(port, slot, passed);
			return TC_ACT_OK;
		}
	}
	switch (mode) {
	case NM_MODE_BUFFER:
	case NM_MODE_DRAIN:
		return capture(skb, port, slot, idx, now);
	case NM_MODE_FORWARD: {
		/* Frames that reach a VM's old port after it left: back out
		 * of the uplink, towards where the fabric now sends them. */
		__u32 to = *(volatile __u32 *)&port->fwd_ifindex;

		if (to) {
			COUNT(port, slot, forwarded);
			return bpf_redirect(to, 0);
		}
		COUNT(port, slot, dropped);
		return NM_DROP;
	}
	case NM_MODE_DROP:
		COUNT(port, slot, dropped);
		return NM_DROP;
	default:
		COUNT(port, slot, passed);
		return TC_ACT_OK;
	}
}

SEC("tc")
int nm_ingress(struct __sk_buff *skb)
{
	struct nm_resume_ev *ev;
	struct nm_port *port;
	struct nm_slot *slot;
	__u32 zero = 0, idx = 0;

	slot = slot_of(skb, 6, &idx);
	if (!slot || *(volatile __u32 *)&slot->watch == 0)
		return TC_ACT_OK;
	/* One event per arming even when frames race on several CPUs. */
	if (__sync_val_compare_and_swap(&slot->watch, 1, 0) != 1)
		return TC_ACT_OK;
	port = bpf_map_lookup_elem(&nm_port, &zero);
	if (!port)
		return TC_ACT_OK;
	ev = bpf_ringbuf_reserve(&nm_resume, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&port->resume_lost, 1);
		return TC_ACT_OK;
	}
	ev->tstamp_ns = bpf_ktime_get_ns();
	__builtin_memcpy(ev->mac, (void *)slot->mac, sizeof(ev->mac));
	ev->ethertype = bpf_ntohs((__u16)skb->protocol);
	ev->len = skb->len;
	ev->slot = idx;
	bpf_ringbuf_submit(ev, 0);
	__sync_fetch_and_add(&port->resumes, 1);
	__sync_fetch_and_add(&slot->resumes, 1);
	return TC_ACT_OK;
}

struct pretouch_ctx {
	__u32 done;
};

static long pretouch_one(__u64 i, void *arg)
{
	struct pretouch_ctx *c = arg;
	__u8 *p;

	(void)i;
	/* A record of exactly one page: each header write lands on the next page. */
	p = bpf_ringbuf_reserve(&nm_ring, NM_PAGE - 8, 0);
	if (!p)
		return 1;
	p[NM_PAGE - 9] = 0;
	bpf_ringbuf_discard(p, BPF_RB_NO_WAKEUP);
	c->done++;
	return 0;
}

/* skb->mark carries the number of pages to touch; returns how many were. */
SEC("tc")
int nm_pretouch(struct __sk_buff *skb)
{
	struct pretouch_ctx c = { 0 };

	bpf_loop(skb->mark, pretouch_one, &c, 0);
	return (int)c.done;
}

char LICENSE[] SEC("license") = "GPL";
