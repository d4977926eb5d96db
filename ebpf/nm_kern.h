/* nm_kern: the few kernel types and constants the buffer program reads, as
 * CO-RE local types.  Not a vmlinux.h: the program is built the same on any
 * host, and libbpf relocates every field access below against the running
 * kernel's BTF (/sys/kernel/btf/vmlinux) when it loads the program.  Each
 * field is matched by name, also inside the kernel's anonymous unions and
 * struct_group()s, so layouts that moved between kernels load alike. */
#ifndef NM_KERN_H
#define NM_KERN_H

#include <linux/types.h>

/* struct sk_buff as far as the program reads it.  csum_start/csum_offset
 * share a union with csum; end is sk_buff_data_t, an offset on 64-bit. */
struct sk_buff {
	unsigned char *head;
	unsigned int end;
	__u16 mac_header;
	__u16 csum_start;
	__u16 csum_offset;
	__u8 ip_summed : 2;
} __attribute__((preserve_access_index));

/* skb_shinfo(): at head + end. */
struct skb_shared_info {
	unsigned int gso_type;
} __attribute__((preserve_access_index));

/* The kernel's SKB_GSO_* bits (include/linux/skbuff.h, an anonymous enum,
 * so CO-RE cannot relocate them by name).  These have kept their values
 * since they were added (UDP_L4 in 4.18); bits 1, 3, 19, 30 and 31 are
 * ones that do not change how a replay segments: DODGY, TCP_FIXEDID (bit 3
 * up to 6.17; __SKB_GSO_TCP_FIXEDID from 6.18, which moved TCP_FIXEDID to
 * bit 30 and added TCP_FIXEDID_INNER at 31 and TCP_ACCECN at 19).  A bit
 * that is unused on an older kernel is simply never set there. */
#define NM_SKB_GSO_TCPV4 (1u << 0)
#define NM_SKB_GSO_TCP_ECN (1u << 2)
#define NM_SKB_GSO_TCPV6 (1u << 4)
#define NM_SKB_GSO_UDP_L4 (1u << 17)
#define NM_SKB_GSO_IGNORED ((1u << 1) | (1u << 3) | (1u << 19) | (1u << 30) | (1u << 31))

#endif
