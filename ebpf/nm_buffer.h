/* nm_buffer: what the tc buffer program (nm_buffer.bpf.c) and libnetmove's
 * buffer module share: modes, map layouts and the ring record header.  Both
 * sides are built on the same machine, so native byte order is used. */
#ifndef NM_BUFFER_H
#define NM_BUFFER_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define NM_MAX_SLOTS 256		/* MAC table size; slot 0 is never used */
#define NM_RING_DEFAULT (16u << 20)	/* frame ring bytes unless userspace resizes it */
#define NM_RESUME_RING (16u << 10)	/* resume event ring bytes */
#define NM_PAGE 4096u			/* pretouch stride */
#define NM_ETH_HLEN 14
#define NM_COPY_MAX (68u << 10)		/* largest frame the copy capture takes (a 64 KiB GSO
					 * frame and its headers); larger ones count as errors */

/* Filters on the VM port's clsact hooks; fixed so stale ones can be found. */
#define NM_TC_HANDLE 0x4e4d
#define NM_TC_PRIORITY 1

/* Per-MAC modes of the egress program. */
enum nm_mode {
	NM_MODE_PASS = 0,	/* let frames through */
	NM_MODE_BUFFER = 1,	/* capture frames into the ring and steal them */
	NM_MODE_DRAIN = 2,	/* like BUFFER until the ring is empty, then PASS */
	NM_MODE_DROP = 3,	/* drop frames (counted) */
	NM_MODE_FORWARD = 4,	/* send frames out of nm_port.fwd_ifindex (counted); drop
				 * them (counted) while it is 0 */
};

/* skb->ip_summed values (kernel CHECKSUM_* macros are not in BTF). */
enum nm_csum {
	NM_CSUM_NONE = 0,
	NM_CSUM_UNNECESSARY = 1,
	NM_CSUM_COMPLETE = 2,
	NM_CSUM_PARTIAL = 3,
};

/* Kernel-independent GSO kinds (nm_rec.gso_flags). */
enum nm_gso {
	NM_GSO_TCPV4 = 1 << 0,
	NM_GSO_TCPV6 = 1 << 1,
	NM_GSO_UDP_L4 = 1 << 2,
	NM_GSO_ECN = 1 << 3,	/* TCP with ECN: CWR must survive segmentation */
	NM_GSO_OTHER = 1 << 4,	/* tunnel or other kind a replay cannot express */
};

/* nm_rec.flags */
#define NM_REC_VLAN 0x01	/* vlan_proto/vlan_tci hold an offloaded tag */

/* Key of the MAC table (nm_macs): the destination MAC at egress, the source
 * MAC at ingress. */
struct nm_key {
	__u8 mac[6];		/* Ethernet address */
	__u16 pad;		/* zero */
};

/* Frame counters; the program adds with atomics, userspace reads them from the
 * memory-mapped arrays. */
struct nm_counters {
	__u64 passed;		/* frames let through */
	__u64 buffered;		/* frames captured into the ring */
	__u64 dropped;		/* frames dropped in DROP mode */
	__u64 ring_full;	/* frames dropped: no room in the ring */
	__u64 errors;		/* frames dropped: copy into the ring failed */
	__u64 flips;		/* DRAIN -> PASS hand-backs done by the program */
	__u64 drained;		/* frames replayed from the ring (userspace) */
	__u64 exported;		/* frames handed to an exporter (userspace) */
	__u64 forwarded;	/* frames sent out of nm_port.fwd_ifindex in FORWARD mode */
};

/* One MAC's state (nm_slots[i], i from nm_macs). */
struct nm_slot {
	__u8 mac[6];		/* the MAC this slot belongs to */
	__u16 used;		/* 1 while allocated (userspace) */
	__u32 mode;		/* enum nm_mode; compare-and-swap on both sides */
	__u32 watch;		/* 1: report the next ingress frame from this MAC */
	__u32 resumes;		/* resume events emitted for this MAC */
	struct nm_counters c;	/* this MAC's counters */
};

/* nm_port.flags (userspace bookkeeping) */
#define NM_PORT_CLSACT_OURS 0x01	/* the clsact qdisc was created by netmove */

/* Per-port state (nm_port[0]). */
struct nm_port {
	__u64 seq;		/* next capture sequence number */
	__u32 ifindex;		/* interface the programs are attached to */
	__u32 flags;		/* NM_PORT_* */
	__u64 netns_cookie;	/* network namespace of that interface */
	__u64 resumes;		/* resume events emitted */
	__u64 resume_lost;	/* resume events the event ring had no room for */
	__u64 lease_ns;		/* the owner's lease: bpf_ktime_get_ns deadline, 0: none.
				 * Past it every frame passes (the owner died: fail
				 * open), whatever the modes say */
	__u64 lease_passed;	/* frames let through past the lease */
	__u32 fwd_ifindex;	/* where FORWARD mode sends frames (same namespace), 0: none */
	__u32 pad;		/* zero */
	struct nm_counters c;	/* port totals (frames of untracked MACs pass) */
};

/* Header of one frame record in the ring; the frame bytes follow. */
struct nm_rec {
	__u64 seq;		/* per-port capture sequence number */
	__u64 tstamp_ns;	/* capture time, bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u32 len;		/* frame bytes following this header */
	__u32 slot;		/* nm_slots index of the destination MAC */
	__u16 csum_start;	/* PARTIAL: checksum start, from the frame start */
	__u16 csum_offset;	/* PARTIAL: checksum field, from csum_start */
	__u16 gso_size;		/* GSO segment payload size, 0 if not GSO */
	__u16 gso_flags;	/* enum nm_gso */
	__u16 vlan_proto;	/* offloaded tag protocol (host order) */
	__u16 vlan_tci;		/* offloaded tag control information */
	__u8 ip_summed;		/* enum nm_csum */
	__u8 flags;		/* NM_REC_* */
	__u8 pad[2];		/* zero */
};

/* A "VM resumed here" event from the ingress program. */
struct nm_resume_ev {
	__u64 tstamp_ns;	/* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u8 mac[6];		/* source MAC of the frame */
	__u16 ethertype;	/* its EtherType (host order) */
	__u32 len;		/* its length */
	__u32 slot;		/* nm_slots index */
};

#endif
