// SPDX-License-Identifier: GPL-2.0
/* Blackout buffer for a VM port.  nm_egress runs on tc egress (frames going
 * to the VM) and, per destination MAC, passes, buffers into a ring, drains or
 * drops; nm_ingress runs on tc ingress (frames from the VM) and reports the
 * first frame of a watched MAC; nm_pretouch is only run through
 * BPF_PROG_TEST_RUN to fault in the ring's pages before a blackout. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "nm_buffer.h"

#define TC_ACT_OK 0
#define TC_ACT_STOLEN 4

/* A frame this program drops (counted in the port's and slot's counters) is
 * taken as stolen, not shot: TC_ACT_SHOT makes the sender's transmit fail
 * (NET_XMIT_DROP, ENOBUFS), and a sender that sends a batch (OVS's
 * sendmmsg on an AF_PACKET socket) then drops the rest of the batch before
 * it reaches the port: frames lost that no counter of netmove's sees.
 * Stolen, every frame of the batch comes here and is counted. */
#define NM_DROP TC_ACT_STOLEN

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern int bpf_dynptr_copy(struct bpf_dynptr *dst_ptr, __u32 dst_off,
			   struct bpf_dynptr *src_ptr, __u32 src_off, __u32 size) __ksym;
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

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

#define COUNT(port, slot, field)                                  \
	do {                                                      \
		__sync_fetch_and_add(&(port)->c.field, 1);        \
		__sync_fetch_and_add(&(slot)->c.field, 1);        \
	} while (0)

/* Kernel SKB_GSO_* bits that do not change how a replay must segment. */
#define GSO_IGNORED (SKB_GSO_DODGY | __SKB_GSO_TCP_FIXEDID | SKB_GSO_TCP_FIXEDID | \
		     SKB_GSO_TCP_FIXEDID_INNER | SKB_GSO_TCP_ACCECN)

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

static __always_inline __u16 gso_flags_of(struct sk_buff *k)
{
	struct skb_shared_info *sh;
	unsigned int type = 0;
	__u16 f = 0;

	/* skb_shinfo() is head + end; gso_type is not in __sk_buff. */
	sh = (struct skb_shared_info *)(BPF_CORE_READ(k, head) + BPF_CORE_READ(k, end));
	if (bpf_core_read(&type, sizeof(type), &sh->gso_type) < 0)
		return NM_GSO_OTHER;
	if (type & SKB_GSO_TCPV4)
		f |= NM_GSO_TCPV4;
	if (type & SKB_GSO_TCPV6)
		f |= NM_GSO_TCPV6;
	if (type & SKB_GSO_UDP_L4)
		f |= NM_GSO_UDP_L4;
	if (type & SKB_GSO_TCP_ECN)
		f |= NM_GSO_ECN;
	if (type & ~(unsigned int)(SKB_GSO_TCPV4 | SKB_GSO_TCPV6 | SKB_GSO_UDP_L4 |
				   SKB_GSO_TCP_ECN | GSO_IGNORED))
		f |= NM_GSO_OTHER;
	return f;
}

static __always_inline void fill_meta(struct __sk_buff *skb, struct nm_rec *h)
{
	struct sk_buff *k = bpf_cast_to_kern_ctx(skb);

	h->ip_summed = (__u8)BPF_CORE_READ_BITFIELD(k, ip_summed);
	if (h->ip_summed == NM_CSUM_PARTIAL) {
		h->csum_start = k->csum_start - k->mac_header;
		h->csum_offset = k->csum_offset;
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

static __always_inline int capture(struct __sk_buff *skb, struct nm_port *port,
				   struct nm_slot *slot, __u32 idx)
{
	struct bpf_dynptr rec, pkt;
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
	h->tstamp_ns = bpf_ktime_get_ns();
	fill_meta(skb, h);
	if (bpf_dynptr_from_skb(skb, 0, &pkt) < 0 ||
	    bpf_dynptr_copy(&rec, sizeof(*h), &pkt, 0, len) < 0)
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
	 * through rather than hold them for nobody. */
	if (mode != NM_MODE_PASS) {
		__u64 lease = *(volatile __u64 *)&port->lease_ns;

		if (lease && bpf_ktime_get_ns() > lease) {
			__sync_fetch_and_add(&port->lease_passed, 1);
			COUNT(port, slot, passed);
			return TC_ACT_OK;
		}
	}
	switch (mode) {
	case NM_MODE_BUFFER:
	case NM_MODE_DRAIN:
		return capture(skb, port, slot, idx);
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
