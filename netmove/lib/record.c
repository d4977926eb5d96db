/* record: a buffered frame with its offload metadata, and its wire form
 * (see record.h).  This is what a destination decodes from the network:
 * it is fuzzed (tests/fuzz/fuzz_buffer_record.c). */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <linux/virtio_net.h>

#include "netmove/be.h"
#include "netmove/record.h"

#define ETH_HLEN_MIN 14
#define BUFFER_WIRE_MAGIC 0x4e4d4246u	/* "NMBF" */
#define BUFFER_WIRE_VERSION 1
#define BUFFER_WIRE_VLAN 0x0001
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

bool buffer_record_valid(const struct buffer_record *rec)
{
	const unsigned kinds = BUFFER_GSO_TCPV4 | BUFFER_GSO_TCPV6 | BUFFER_GSO_UDP_L4;
	unsigned kind = rec->gso_type & kinds;

	if (rec->len < ETH_HLEN_MIN || rec->len > BUFFER_MAX_FRAME)
		return false;
	if (rec->ip_summed > BUFFER_CSUM_PARTIAL)
		return false;
	if (rec->ip_summed == BUFFER_CSUM_PARTIAL) {
		if (rec->csum_start < ETH_HLEN_MIN ||
		    (uint32_t)rec->csum_start + rec->csum_offset + 2 > rec->len)
			return false;
	} else if (rec->csum_start || rec->csum_offset) {
		return false;
	}
	if (!rec->gso_size != !rec->gso_type)
		return false;
	if (rec->gso_type & ~(unsigned)(kinds | BUFFER_GSO_ECN | BUFFER_GSO_OTHER))
		return false;
	if (!(rec->gso_type & BUFFER_GSO_OTHER) && rec->gso_type) {
		if (kind != BUFFER_GSO_TCPV4 && kind != BUFFER_GSO_TCPV6 && kind != BUFFER_GSO_UDP_L4)
			return false;
		if ((rec->gso_type & BUFFER_GSO_ECN) && kind == BUFFER_GSO_UDP_L4)
			return false;
		if (rec->ip_summed != BUFFER_CSUM_PARTIAL)
			return false;
	}
	if (rec->vlan)
		return rec->vlan_proto == ETH_P_8021Q || rec->vlan_proto == ETH_P_8021AD;
	return rec->vlan_proto == 0 && rec->vlan_tci == 0;
}

/* Turn a ring record into a buffer_record; odd metadata becomes GSO_OTHER so
 * every record the program produced can be exported and decoded. */

size_t buffer_record_wire_len(const struct buffer_record *rec)
{
	return BUFFER_WIRE_HDR_LEN + (size_t)rec->len;
}

/* Layout: magic 4, version 1, header length 1, flags 2, seq 8, tstamp 8,
 * frame length 4, ip_summed 1, reserved 1, csum_start 2, csum_offset 2,
 * gso_size 2, gso_type 2, vlan_proto 2, vlan_tci 2, reserved 2, frame. */
int buffer_record_encode(const struct buffer_record *rec, uint8_t *buf, size_t cap)
{
	uint8_t *p = buf;

	if (!buffer_record_valid(rec) || !rec->frame)
		return -EINVAL;
	if (cap < buffer_record_wire_len(rec))
		return -ENOSPC;
	memset(p, 0, BUFFER_WIRE_HDR_LEN);
	be_put32(p, BUFFER_WIRE_MAGIC);
	p[4] = BUFFER_WIRE_VERSION;
	p[5] = BUFFER_WIRE_HDR_LEN;
	be_put16(p + 6, rec->vlan ? BUFFER_WIRE_VLAN : 0);
	be_put64(p + 8, rec->seq);
	be_put64(p + 16, rec->tstamp_ns);
	be_put32(p + 24, rec->len);
	p[28] = rec->ip_summed;
	be_put16(p + 30, rec->csum_start);
	be_put16(p + 32, rec->csum_offset);
	be_put16(p + 34, rec->gso_size);
	be_put16(p + 36, rec->gso_type);
	be_put16(p + 38, rec->vlan_proto);
	be_put16(p + 40, rec->vlan_tci);
	memcpy(p + BUFFER_WIRE_HDR_LEN, rec->frame, rec->len);
	return (int)buffer_record_wire_len(rec);
}

int buffer_record_from_vnet(struct buffer_record *rec, const struct virtio_net_hdr *h)
{
	uint8_t kind = h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		rec->ip_summed = BUFFER_CSUM_PARTIAL;
		rec->csum_start = le16toh(h->csum_start);
		rec->csum_offset = le16toh(h->csum_offset);
	} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
		rec->ip_summed = BUFFER_CSUM_UNNECESSARY;
	}
	if (kind == VIRTIO_NET_HDR_GSO_NONE)
		return 0;
	rec->gso_size = le16toh(h->gso_size);
	if (!rec->gso_size)
		return -EINVAL;
	switch (kind) {
	case VIRTIO_NET_HDR_GSO_TCPV4: rec->gso_type = BUFFER_GSO_TCPV4; break;
	case VIRTIO_NET_HDR_GSO_TCPV6: rec->gso_type = BUFFER_GSO_TCPV6; break;
	case VIRTIO_NET_HDR_GSO_UDP_L4: rec->gso_type = BUFFER_GSO_UDP_L4; break;
	default: rec->gso_type = BUFFER_GSO_OTHER; break;
	}
	if (h->gso_type & VIRTIO_NET_HDR_GSO_ECN)
		rec->gso_type |= BUFFER_GSO_ECN;
	return 0;
}

int buffer_record_decode(const uint8_t *buf, size_t len, struct buffer_record *rec)
{
	uint16_t flags;

	if (len < BUFFER_WIRE_HDR_LEN || be_get32(buf) != BUFFER_WIRE_MAGIC ||
	    buf[4] != BUFFER_WIRE_VERSION || buf[5] != BUFFER_WIRE_HDR_LEN)
		return -EINVAL;
	flags = be_get16(buf + 6);
	if ((flags & ~BUFFER_WIRE_VLAN) || buf[29] || be_get16(buf + 42))
		return -EINVAL;
	memset(rec, 0, sizeof(*rec));
	rec->vlan = flags & BUFFER_WIRE_VLAN;
	rec->seq = be_get64(buf + 8);
	rec->tstamp_ns = be_get64(buf + 16);
	rec->len = be_get32(buf + 24);
	rec->ip_summed = buf[28];
	rec->csum_start = be_get16(buf + 30);
	rec->csum_offset = be_get16(buf + 32);
	rec->gso_size = be_get16(buf + 34);
	rec->gso_type = be_get16(buf + 36);
	rec->vlan_proto = be_get16(buf + 38);
	rec->vlan_tci = be_get16(buf + 40);
	if (!buffer_record_valid(rec) || rec->len > len - BUFFER_WIRE_HDR_LEN)
		return -EINVAL;
	rec->frame = buf + BUFFER_WIRE_HDR_LEN;
	return (int)buffer_record_wire_len(rec);
}
