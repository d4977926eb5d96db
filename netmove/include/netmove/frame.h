/* frame: build and parse Ethernet (optionally 802.1Q tagged), ARP, gratuitous
 * ARP and RARP frames.  Parsers never read past the given length. */
#ifndef NETMOVE_FRAME_H
#define NETMOVE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "netmove/mac.h"

#define FRAME_ETH_HLEN 14
#define FRAME_VLAN_HLEN 4
#define FRAME_ARP_LEN 28
/* Minimum Ethernet frame without FCS (tagged frames get FRAME_MIN_LEN + 4). */
#define FRAME_MIN_LEN 60
/* Large enough for any frame this module builds. */
#define FRAME_BUILD_MAX 64

#define FRAME_ETHERTYPE_IPV4 0x0800
#define FRAME_ETHERTYPE_ARP 0x0806
#define FRAME_ETHERTYPE_RARP 0x8035
#define FRAME_ETHERTYPE_VLAN 0x8100
#define FRAME_ETHERTYPE_QINQ 0x88a8

#define FRAME_ARP_REQUEST 1
#define FRAME_ARP_REPLY 2
#define FRAME_RARP_REQUEST 3
#define FRAME_RARP_REPLY 4

/* No 802.1Q tag. */
#define FRAME_NO_VLAN (-1)
#define FRAME_VLAN_MAX 4094	/* highest VLAN id (4095 is reserved, 802.1Q) */

/* A parsed Ethernet header. */
struct frame_eth {
	struct mac dst;		/* destination address */
	struct mac src;		/* source address */
	int vlan;		/* VLAN id of the (outer) tag or FRAME_NO_VLAN */
	uint16_t ethertype;	/* payload type after any tag, host order */
	size_t hdr_len;		/* bytes before the payload (14 or 18) */
};

/* A parsed ARP or RARP payload (Ethernet/IPv4 only). */
struct frame_arp {
	uint16_t op;		/* FRAME_ARP_* / FRAME_RARP_*, host order */
	struct mac sha;		/* sender hardware address */
	struct in_addr spa;	/* sender protocol address */
	struct mac tha;		/* target hardware address */
	struct in_addr tpa;	/* target protocol address */
};

/* Write an Ethernet header (with a tag when vlan >= 0) at buf.  Returns the
 * header length, -EINVAL for a bad VLAN id, -ENOSPC if cap is too small. */
int frame_build_eth(uint8_t *buf, size_t cap, const struct mac *dst,
		    const struct mac *src, int vlan, uint16_t ethertype);

/* Build a complete ARP/RARP frame (ethertype chosen from op), padded to the
 * minimum frame size.  Returns the frame length or a negative errno. */
int frame_build_arp(uint8_t *buf, size_t cap, const struct mac *eth_dst,
		    const struct mac *eth_src, int vlan,
		    const struct frame_arp *arp);

/* Gratuitous ARP request announcing mac/ip: broadcast, sha = mac,
 * spa = tpa = ip, tha = 0.  Returns the frame length or a negative errno. */
int frame_build_garp(uint8_t *buf, size_t cap, const struct mac *mac,
		     struct in_addr ip, int vlan);

/* RARP announce, byte-identical to QEMU's self-announce when untagged:
 * 60 bytes, broadcast, op 3, sha = tha = mac, addresses 0.0.0.0.
 * Returns the frame length or a negative errno. */
int frame_build_rarp(uint8_t *buf, size_t cap, const struct mac *mac, int vlan);

/* Parse the Ethernet header (one 802.1Q/802.1ad tag at most is read; an
 * inner tag is left in the payload).  Returns 0, or -EINVAL if truncated. */
int frame_parse_eth(const uint8_t *buf, size_t len, struct frame_eth *eth);

/* A 32-bit FNV-1a hash of a frame's bytes: tells frames apart when one copy
 * of a frame must be found among others (not for security). */
uint32_t frame_hash(const uint8_t *buf, size_t len);

/* Parse an Ethernet frame carrying ARP or RARP for Ethernet/IPv4.  Returns 0,
 * -EPROTONOSUPPORT for another ethertype or address family, -EINVAL if
 * truncated or malformed. */
int frame_parse_arp(const uint8_t *buf, size_t len, struct frame_eth *eth,
		    struct frame_arp *arp);

#endif
