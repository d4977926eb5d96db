#include <errno.h>
#include <string.h>

#include "netmove/be.h"
#include "netmove/frame.h"

#define ARP_HTYPE_ETHER 1

int frame_build_eth(uint8_t *buf, size_t cap, const struct mac *dst,
		    const struct mac *src, int vlan, uint16_t ethertype)
{
	size_t len = vlan >= 0 ? FRAME_ETH_HLEN + FRAME_VLAN_HLEN : FRAME_ETH_HLEN;
	uint8_t *p = buf + 2 * MAC_LEN;

	/* Any id a tag can carry (4095 is reserved, not impossible). */
	if (vlan > 4095 || vlan < FRAME_NO_VLAN)
		return -EINVAL;
	if (cap < len)
		return -ENOSPC;
	memcpy(buf, dst->b, MAC_LEN);
	memcpy(buf + MAC_LEN, src->b, MAC_LEN);
	if (vlan >= 0) {
		be_put16(p, FRAME_ETHERTYPE_VLAN);
		be_put16(p + 2, (uint16_t)vlan);
		p += FRAME_VLAN_HLEN;
	}
	be_put16(p, ethertype);
	return (int)len;
}

int frame_build_arp(uint8_t *buf, size_t cap, const struct mac *eth_dst,
		    const struct mac *eth_src, int vlan,
		    const struct frame_arp *arp)
{
	uint16_t type = arp->op >= FRAME_RARP_REQUEST ? FRAME_ETHERTYPE_RARP
						       : FRAME_ETHERTYPE_ARP;
	size_t min = vlan >= 0 ? FRAME_MIN_LEN + FRAME_VLAN_HLEN : FRAME_MIN_LEN;
	uint8_t *p;
	int hl;

	if (arp->op < FRAME_ARP_REQUEST || arp->op > FRAME_RARP_REPLY)
		return -EINVAL;
	hl = frame_build_eth(buf, cap, eth_dst, eth_src, vlan, type);
	if (hl < 0)
		return hl;
	if (cap < min)
		return -ENOSPC;
	memset(buf + hl, 0, min - (size_t)hl);
	p = buf + hl;
	be_put16(p, ARP_HTYPE_ETHER);
	be_put16(p + 2, FRAME_ETHERTYPE_IPV4);
	p[4] = MAC_LEN;
	p[5] = 4;
	be_put16(p + 6, arp->op);
	memcpy(p + 8, arp->sha.b, MAC_LEN);
	memcpy(p + 14, &arp->spa, 4);
	memcpy(p + 18, arp->tha.b, MAC_LEN);
	memcpy(p + 24, &arp->tpa, 4);
	return (int)min;
}

int frame_build_garp(uint8_t *buf, size_t cap, const struct mac *mac,
		     struct in_addr ip, int vlan)
{
	static const struct mac bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct frame_arp arp = {
		.op = FRAME_ARP_REQUEST,
		.sha = *mac,
		.spa = ip,
		.tpa = ip,
	};

	return frame_build_arp(buf, cap, &bc, mac, vlan, &arp);
}

int frame_build_rarp(uint8_t *buf, size_t cap, const struct mac *mac, int vlan)
{
	static const struct mac bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct frame_arp arp = {
		.op = FRAME_RARP_REQUEST,
		.sha = *mac,
		.tha = *mac,
	};

	return frame_build_arp(buf, cap, &bc, mac, vlan, &arp);
}

int frame_parse_eth(const uint8_t *buf, size_t len, struct frame_eth *eth)
{
	uint16_t type;

	if (len < FRAME_ETH_HLEN)
		return -EINVAL;
	memcpy(eth->dst.b, buf, MAC_LEN);
	memcpy(eth->src.b, buf + MAC_LEN, MAC_LEN);
	type = be_get16(buf + 12);
	eth->vlan = FRAME_NO_VLAN;
	eth->hdr_len = FRAME_ETH_HLEN;
	if (type == FRAME_ETHERTYPE_VLAN || type == FRAME_ETHERTYPE_QINQ) {
		if (len < FRAME_ETH_HLEN + FRAME_VLAN_HLEN)
			return -EINVAL;
		eth->vlan = be_get16(buf + 14) & 0x0fff;
		type = be_get16(buf + 16);
		eth->hdr_len += FRAME_VLAN_HLEN;
	}
	eth->ethertype = type;
	return 0;
}

int frame_parse_arp(const uint8_t *buf, size_t len, struct frame_eth *eth,
		    struct frame_arp *arp)
{
	const uint8_t *p;
	int ret;

	ret = frame_parse_eth(buf, len, eth);
	if (ret < 0)
		return ret;
	if (eth->ethertype != FRAME_ETHERTYPE_ARP &&
	    eth->ethertype != FRAME_ETHERTYPE_RARP)
		return -EPROTONOSUPPORT;
	if (len - eth->hdr_len < FRAME_ARP_LEN)
		return -EINVAL;
	p = buf + eth->hdr_len;
	if (be_get16(p) != ARP_HTYPE_ETHER || be_get16(p + 2) != FRAME_ETHERTYPE_IPV4)
		return -EPROTONOSUPPORT;
	if (p[4] != MAC_LEN || p[5] != 4)
		return -EINVAL;
	arp->op = be_get16(p + 6);
	memcpy(arp->sha.b, p + 8, MAC_LEN);
	memcpy(&arp->spa, p + 14, 4);
	memcpy(arp->tha.b, p + 18, MAC_LEN);
	memcpy(&arp->tpa, p + 24, 4);
	return 0;
}

uint32_t frame_hash(const uint8_t *buf, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ buf[i]) * 16777619u;
	return h;
}
