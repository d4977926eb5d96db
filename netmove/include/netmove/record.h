/* record: one buffered frame with its checksum, GSO and VLAN metadata, as
 * the buffer captures it (buffer.h) and as it crosses the network between
 * agents (its wire form, version 1: a 44-byte header, all fields in network
 * order, then the frame). */
#ifndef NETMOVE_RECORD_H
#define NETMOVE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUFFER_MAX_FRAME (256u << 10)	/* largest frame the wire form carries */
#define BUFFER_WIRE_HDR_LEN 44		/* wire header bytes (version 1) */

/* Checksum state of a captured frame (the kernel's ip_summed). */
enum buffer_csum {
	BUFFER_CSUM_NONE = 0,		/* checksums are in the frame */
	BUFFER_CSUM_UNNECESSARY = 1,	/* verified already */
	BUFFER_CSUM_COMPLETE = 2,	/* receive-side full checksum */
	BUFFER_CSUM_PARTIAL = 3,	/* checksum at csum_start/csum_offset still to compute */
};

/* GSO kinds (flags). */
enum buffer_gso {
	BUFFER_GSO_TCPV4 = 1 << 0,	/* TCP over IPv4 */
	BUFFER_GSO_TCPV6 = 1 << 1,	/* TCP over IPv6 */
	BUFFER_GSO_UDP_L4 = 1 << 2,	/* UDP segmentation */
	BUFFER_GSO_ECN = 1 << 3,	/* TCP with ECN */
	BUFFER_GSO_OTHER = 1 << 4,	/* a kind a replay cannot express (skipped) */
};

/* One buffered frame with its metadata. */
struct buffer_record {
	uint64_t seq;		/* per-port capture sequence number */
	uint64_t tstamp_ns;	/* capture time, CLOCK_MONOTONIC of the capturing host */
	uint32_t len;		/* frame bytes (the offloaded VLAN tag is not in them) */
	uint8_t ip_summed;	/* enum buffer_csum */
	uint16_t csum_start;	/* PARTIAL: checksum start from the frame start */
	uint16_t csum_offset;	/* PARTIAL: checksum field from csum_start */
	uint16_t gso_size;	/* GSO segment size, 0 if the frame is not GSO */
	uint16_t gso_type;	/* enum buffer_gso flags, 0 if not GSO */
	bool vlan;		/* the frame carried an offloaded VLAN tag */
	uint16_t vlan_proto;	/* that tag's protocol (0x8100 or 0x88a8) */
	uint16_t vlan_tci;	/* that tag's control information */
	const uint8_t *frame;	/* frame bytes (borrowed, see the producing call) */
};

/* Whether rec is one a replay can send: length, checksum offsets and GSO
 * kind consistent with the frame. */
bool buffer_record_valid(const struct buffer_record *rec);

/* Wire size of rec. */
size_t buffer_record_wire_len(const struct buffer_record *rec);

/* Encode rec (big-endian header, then the frame).  Returns bytes written,
 * -EINVAL for an inconsistent record, -ENOSPC if cap is too small. */
int buffer_record_encode(const struct buffer_record *rec, uint8_t *buf, size_t cap);

/* Set rec's checksum and GSO state from a virtio header (as a tap or a
 * packet socket with PACKET_VNET_HDR gives it).  Returns 0, or -EINVAL for
 * a GSO header without a segment size. */
struct virtio_net_hdr;
int buffer_record_from_vnet(struct buffer_record *rec, const struct virtio_net_hdr *h);

/* Decode one record from the start of buf; rec->frame points into buf.
 * Returns the bytes it used (buf may hold more records), or -EINVAL for
 * anything truncated, foreign or inconsistent. */
int buffer_record_decode(const uint8_t *buf, size_t len, struct buffer_record *rec);

#endif
