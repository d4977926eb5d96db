/* replay: frames back into a port (see replay.h).  An AF_PACKET socket
 * that bypasses the qdisc (so that the port's clsact programs do not take
 * them again) with a virtio-net header for the checksum and segmentation
 * offloads; GSO frames the port cannot segment are segmented here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#include "netmove/be.h"
#include "netmove/replay.h"
#include "netmove/timeutil.h"

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif
#define REPLAY_SNDBUF (4 << 20)
#define REPLAY_RETRY_NS (50 * NSEC_PER_USEC)
#define REPLAY_RETRY_LIMIT_NS (2 * NSEC_PER_SEC)
#define REPLAY_SEG_MAX (BUFFER_MAX_FRAME + 4)

/* Segmentation the port does itself (bypassing the qdisc also bypasses
 * software GSO: a frame the device cannot take is dropped). */
enum {
	CAP_TSO4 = 1 << 0,
	CAP_TSO6 = 1 << 1,
	CAP_USO = 1 << 2,
	CAP_TSO_ECN = 1 << 3,
	CAP_KNOWN = 1 << 4,	/* the query worked */
};

struct replay {
	char ifname[IF_NAMESIZE];	/* port */
	int ifindex;			/* its index when opened */
	int tx;				/* the socket, -1 until first needed */
	unsigned caps;			/* CAP_*: the port's segmentation offloads */
	uint8_t *seg;			/* software segmentation scratch */
	struct txq *txq;		/* the batch, NULL until first needed */
};

static int port_caps(const char *ifname, unsigned *caps)
{
	static const struct {
		const char *name;
		unsigned cap;
	} names[] = {
		{ "tx-tcp-segmentation", CAP_TSO4 },
		{ "tx-tcp6-segmentation", CAP_TSO6 },
		{ "tx-udp-segmentation", CAP_USO },
		{ "tx-tcp-ecn-segmentation", CAP_TSO_ECN },
	};
	struct ethtool_sset_info *si = NULL;
	struct ethtool_gstrings *gs = NULL;
	struct ethtool_gfeatures *gf = NULL;
	struct ifreq ifr;
	uint32_t n, i, j, blocks;
	int fd, ret = 0;

	*caps = 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	si = calloc(1, sizeof(*si) + sizeof(uint32_t));
	if (!si) {
		ret = -ENOMEM;
		goto out;
	}
	si->cmd = ETHTOOL_GSSET_INFO;
	si->sset_mask = 1ULL << ETH_SS_FEATURES;
	ifr.ifr_data = (void *)si;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	n = si->sset_mask ? si->data[0] : 0;
	blocks = (n + 31) / 32;
	gs = calloc(1, sizeof(*gs) + (size_t)n * ETH_GSTRING_LEN);
	gf = calloc(1, sizeof(*gf) + blocks * sizeof(gf->features[0]));
	if (!gs || !gf) {
		ret = -ENOMEM;
		goto out;
	}
	gs->cmd = ETHTOOL_GSTRINGS;
	gs->string_set = ETH_SS_FEATURES;
	gs->len = n;
	ifr.ifr_data = (void *)gs;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	gf->cmd = ETHTOOL_GFEATURES;
	gf->size = blocks;
	ifr.ifr_data = (void *)gf;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		ret = -errno;
		goto out;
	}
	for (i = 0; i < n && i < gs->len; i++) {
		const char *name = (const char *)gs->data + (size_t)i * ETH_GSTRING_LEN;

		if (!(gf->features[i / 32].active & (1u << (i % 32))))
			continue;
		for (j = 0; j < sizeof(names) / sizeof(names[0]); j++)
			if (!strncmp(name, names[j].name, ETH_GSTRING_LEN))
				*caps |= names[j].cap;
	}
	*caps |= CAP_KNOWN;
out:
	free(si);
	free(gs);
	free(gf);
	close(fd);
	return ret;
}

static int tx_open(struct replay *rp)
{
	struct sockaddr_ll sll;
	int one = 1, sz = REPLAY_SNDBUF, fd, ret = 0;

	if (rp->tx >= 0)
		return 0;
	/* Protocol 0: a send-only socket that never queues received frames. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Bypassing the qdisc also bypasses clsact: replays are not captured again. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0) {
		ret = -errno;
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = rp->ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		goto out;
	}
	(void)port_caps(rp->ifname, &rp->caps);
	rp->tx = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static bool port_running(const struct replay *rp)
{
	struct ifreq ifr;
	bool up = true;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return true;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", rp->ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_RUNNING) != 0;
	close(fd);
	return up;
}

/* Send one frame, the offloaded VLAN tag (if any) put back inline after the
 * two addresses; retried while the port's queue is full, except that with
 * probe the first refusal returns -EAGAIN. */
/* The iovec of one send: the virtio-net header, the frame, and the
 * offloaded VLAN tag (if any) put back inline after the two addresses (tag
 * holds it).  Returns the number of iov entries (at most 4). */
static int tx_iov(struct iovec *iov, const struct virtio_net_hdr *vh, const uint8_t *frame,
		  size_t len, const struct buffer_record *rec, uint8_t tag[4])
{
	int n = 0;

	iov[n].iov_base = (void *)vh;
	iov[n++].iov_len = sizeof(*vh);
	if (rec->vlan) {
		be_put16(tag, rec->vlan_proto);
		be_put16(tag + 2, rec->vlan_tci);
		iov[n].iov_base = (void *)frame;
		iov[n++].iov_len = 12;
		iov[n].iov_base = tag;
		iov[n++].iov_len = 4;
		iov[n].iov_base = (void *)(frame + 12);
		iov[n++].iov_len = len - 12;
	} else {
		iov[n].iov_base = (void *)frame;
		iov[n++].iov_len = len;
	}
	return n;
}

/* Whether a refused send is waited out: the port's queue is full.
 * Returns 0 to try again, or the error to give up with (probe: the first
 * refusal is -EAGAIN; *t0 is when the waiting began). */
static int tx_wait(struct replay *rp, int err, bool probe, uint64_t *t0,
		   struct buffer_replay_stats *st)
{
	if (err == -EINTR)
		return 0;
	if (err != -ENOBUFS && err != -EAGAIN)
		return err;
	if (probe)
		return -EAGAIN;
	/* The port's queue is full: wait for it rather than lose the frame. */
	if (!*t0)
		*t0 = timeutil_mono_ns();
	else if (timeutil_mono_ns() - *t0 > REPLAY_RETRY_LIMIT_NS)
		return port_running(rp) ? -ETIMEDOUT : -ENETDOWN;
	st->retries++;
	nanosleep(&(struct timespec){ .tv_nsec = REPLAY_RETRY_NS }, NULL);
	return 0;
}

/* Send one frame; retried while the port's queue is full, except that with
 * probe the first refusal returns -EAGAIN. */
static int tx_send(struct replay *rp, const struct virtio_net_hdr *vh, const uint8_t *frame,
		   size_t len, const struct buffer_record *rec, bool probe,
		   struct buffer_replay_stats *st)
{
	struct iovec iov[4];
	struct msghdr msg;
	uint8_t tag[4];
	uint64_t t0 = 0;
	int ret;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = (size_t)tx_iov(iov, vh, frame, len, rec, tag);
	while (sendmsg(rp->tx, &msg, 0) < 0) {
		ret = tx_wait(rp, -errno, probe, &t0, st);
		if (ret < 0)
			return ret;
	}
	st->frames++;
	st->bytes += len + (rec->vlan ? 4 : 0);
	return 0;
}

static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Software GSO for a port that cannot segment: cut the payload into
 * gso_size pieces, fix the IP and L4 headers, compute every checksum. */
static int tx_segment(struct replay *rp, const struct buffer_record *rec,
		      struct buffer_replay_stats *st)
{
	const uint8_t *f = rec->frame;
	bool udp = rec->gso_type & BUFFER_GSO_UDP_L4, v4;
	size_t nh = 12, l4 = rec->csum_start, hl, pay, off, seg, i;
	struct virtio_net_hdr vh;
	uint32_t tcp_seq = 0;
	uint16_t id = 0, type;
	uint64_t sum;
	uint8_t *s;
	int ret = 0;

	do {	/* VLAN tags inside the frame bytes */
		type = be_get16(f + nh);
		nh += 2;
	} while ((type == ETH_P_8021Q || type == ETH_P_8021AD) && (nh += 2) + 2 <= l4);
	v4 = type == ETH_P_IP;
	if ((!v4 && type != ETH_P_IPV6) || l4 < nh + (v4 ? 20 : 40) || (f[nh] >> 4) != (v4 ? 4 : 6))
		return -EINVAL;
	if (v4 && (size_t)(f[nh] & 0xf) * 4 > l4 - nh)
		return -EINVAL;
	if (udp) {
		hl = l4 + 8;
	} else {
		if (l4 + 20 > rec->len)
			return -EINVAL;
		hl = l4 + (size_t)(f[l4 + 12] >> 4) * 4;
		tcp_seq = be_get32(f + l4 + 4);
	}
	if (hl > rec->len || hl < l4 + (udp ? 8 : 20) || hl + rec->gso_size > REPLAY_SEG_MAX)
		return -EINVAL;
	if (!rp->seg) {
		rp->seg = malloc(REPLAY_SEG_MAX);
		if (!rp->seg)
			return -ENOMEM;
	}
	s = rp->seg;
	if (v4)
		id = be_get16(f + nh + 4);
	memset(&vh, 0, sizeof(vh));
	pay = rec->len - hl;
	for (off = 0, i = 0; off < pay || (pay == 0 && i == 0); off += seg, i++) {
		size_t len, l4len;

		seg = pay - off < rec->gso_size ? pay - off : rec->gso_size;
		len = hl + seg;
		l4len = len - l4;
		memcpy(s, f, hl);
		memcpy(s + hl, f + hl + off, seg);
		if (v4) {
			be_put16(s + nh + 2, (uint16_t)(len - nh));
			be_put16(s + nh + 4, (uint16_t)(id + i));
			be_put16(s + nh + 10, 0);
			be_put16(s + nh + 10, csum_fold(csum_add(0, s + nh, (size_t)(s[nh] & 0xf) * 4)));
			sum = csum_add(0, s + nh + 12, 8);
		} else {
			be_put16(s + nh + 4, (uint16_t)(len - nh - 40));
			sum = csum_add(0, s + nh + 8, 32);
		}
		sum += l4len + (udp ? IPPROTO_UDP : IPPROTO_TCP);
		if (udp) {
			be_put16(s + l4 + 4, (uint16_t)l4len);
			be_put16(s + l4 + 6, 0);
		} else {
			be_put32(s + l4 + 4, tcp_seq + (uint32_t)off);
			if (off + seg < pay)	/* FIN and PSH only on the last piece */
				s[l4 + 13] &= (uint8_t)~0x09;
			if (i > 0)		/* CWR only on the first */
				s[l4 + 13] &= (uint8_t)~0x80;
			be_put16(s + l4 + 16, 0);
		}
		sum = csum_fold(csum_add(sum, s + l4, l4len));
		if (udp && sum == 0)
			sum = 0xffff;
		be_put16(s + l4 + (udp ? 6 : 16), (uint16_t)sum);
		ret = tx_send(rp, &vh, s, len, rec, false, st);
		if (ret < 0)
			break;
	}
	return ret;
}

static void vnet_fill(const struct buffer_record *rec, unsigned shift, struct virtio_net_hdr *vh)
{
	memset(vh, 0, sizeof(*vh));
	if (rec->ip_summed == BUFFER_CSUM_PARTIAL) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = (uint16_t)(rec->csum_start + shift);
		vh->csum_offset = rec->csum_offset;
		vh->hdr_len = (uint16_t)(vh->csum_start + vh->csum_offset + 2);
	}
	if (!rec->gso_size)
		return;
	vh->gso_size = rec->gso_size;
	if (rec->gso_type & BUFFER_GSO_UDP_L4) {
		vh->gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
		vh->hdr_len = (uint16_t)(vh->csum_start + 8);
		return;
	}
	vh->gso_type = rec->gso_type & BUFFER_GSO_TCPV6 ? VIRTIO_NET_HDR_GSO_TCPV6
							: VIRTIO_NET_HDR_GSO_TCPV4;
	if (rec->gso_type & BUFFER_GSO_ECN)
		vh->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	/* Whole TCP header in the linear part (data offset at byte 12). */
	if ((uint32_t)rec->csum_start + 13 <= rec->len)
		vh->hdr_len = (uint16_t)(vh->csum_start + (rec->frame[rec->csum_start + 12] >> 4) * 4);
}

/* Can the port segment this frame itself? */
static bool port_segments(const struct replay *rp, const struct buffer_record *rec)
{
	unsigned need = rec->gso_type & BUFFER_GSO_UDP_L4 ? CAP_USO :
			rec->gso_type & BUFFER_GSO_TCPV6 ? CAP_TSO6 : CAP_TSO4;

	if (rec->gso_type & BUFFER_GSO_ECN)
		need |= CAP_TSO_ECN;
	return !(rp->caps & CAP_KNOWN) || (rp->caps & need) == need;
}

bool replay_refused(int err)
{
	return err == -EMSGSIZE || err == -EOPNOTSUPP || err == -EINVAL;
}

int replay_send(struct replay *rp, const struct buffer_record *rec,
		struct buffer_replay_stats *st)
{
	struct buffer_replay_stats dummy = { 0 };
	struct virtio_net_hdr vh;
	uint64_t frames;
	int ret;

	if (!st)
		st = &dummy;
	frames = st->frames;
	ret = tx_open(rp);
	if (ret < 0)
		goto out;
	if (!buffer_record_valid(rec) || !rec->frame) {
		ret = -EINVAL;
		goto out;
	}
	if (rec->gso_type & BUFFER_GSO_OTHER) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	vnet_fill(rec, rec->vlan ? 4 : 0, &vh);
	if (!rec->gso_size) {
		ret = tx_send(rp, &vh, rec->frame, rec->len, rec, false, st);
	} else if (!port_segments(rp, rec)) {
		ret = tx_segment(rp, rec, st);
	} else {
		ret = tx_send(rp, &vh, rec->frame, rec->len, rec, true, st);
		/* The port drops a GSO frame it cannot segment (the guest may have
		 * renegotiated its tap's offloads): look again before waiting. */
		if (ret == -EAGAIN) {
			(void)port_caps(rp->ifname, &rp->caps);
			if (port_segments(rp, rec))
				ret = tx_send(rp, &vh, rec->frame, rec->len, rec, false, st);
			else
				ret = tx_segment(rp, rec, st);
		}
	}
	/* Counted once per record, however many segments went out. */
	if (ret == 0) {
		st->frames = frames + 1;
		st->partial += rec->ip_summed == BUFFER_CSUM_PARTIAL;
		st->gso += rec->gso_size != 0;
	}
out:
	if (replay_refused(ret))
		st->skipped++;
	return ret;
}

/* The batch: up to REPLAY_BATCH frames that need no segmentation, sent with
 * one sendmmsg. */
struct txq {
	struct mmsghdr m[REPLAY_BATCH];
	struct iovec iov[REPLAY_BATCH][4];
	struct virtio_net_hdr vh[REPLAY_BATCH];
	uint8_t tag[REPLAY_BATCH][4];
	const void *cookie[REPLAY_BATCH];	/* the caller's, per frame */
	bool partial[REPLAY_BATCH];		/* CHECKSUM_PARTIAL */
	uint32_t bytes[REPLAY_BATCH];		/* frame bytes sent */
	int n;
};

int replay_queue(struct replay *rp, const struct buffer_record *rec, const void *cookie)
{
	struct txq *q = rp->txq;
	int i;

	if (!q && !(q = rp->txq = calloc(1, sizeof(*q))))
		return -ENOMEM;
	if (q->n == REPLAY_BATCH)
		return -ENOSPC;
	if (rec->gso_size || !buffer_record_valid(rec) || !rec->frame)
		return -EINVAL;
	i = q->n++;
	vnet_fill(rec, rec->vlan ? 4 : 0, &q->vh[i]);
	memset(&q->m[i], 0, sizeof(q->m[i]));
	q->m[i].msg_hdr.msg_iov = q->iov[i];
	q->m[i].msg_hdr.msg_iovlen = (size_t)tx_iov(q->iov[i], &q->vh[i], rec->frame, rec->len,
						     rec, q->tag[i]);
	q->cookie[i] = cookie;
	q->partial[i] = rec->ip_summed == BUFFER_CSUM_PARTIAL;
	q->bytes[i] = rec->len + (rec->vlan ? 4 : 0);
	return 0;
}

int replay_flush(struct replay *rp, struct buffer_replay_stats *st, replay_sent_fn fn, void *arg)
{
	struct txq *q = rp->txq;
	uint64_t t0 = 0;
	int i = 0, k, j, ret;

	if (!q || !q->n)
		return 0;
	ret = tx_open(rp);
	while (ret == 0 && i < q->n) {
		k = sendmmsg(rp->tx, q->m + i, (unsigned)(q->n - i), 0);
		if (k < 0) {
			ret = tx_wait(rp, -errno, false, &t0, st);
			continue;
		}
		for (j = i; j < i + k; j++) {
			st->frames++;
			st->bytes += q->bytes[j];
			st->partial += q->partial[j];
			if (fn)
				fn(arg, q->cookie[j]);
		}
		i += k;
		t0 = 0;
	}
	q->n = 0;
	return ret;
}

int replay_open(const char *ifname, struct replay **out)
{
	struct replay *rp;
	int ret;

	*out = NULL;
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/') ||
	    !strcmp(ifname, ".") || !strcmp(ifname, ".."))
		return -EINVAL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	snprintf(rp->ifname, sizeof(rp->ifname), "%s", ifname);
	rp->ifindex = (int)if_nametoindex(ifname);
	rp->tx = -1;
	ret = rp->ifindex ? tx_open(rp) : -ENODEV;
	if (ret < 0) {
		replay_close(rp);
		return ret;
	}
	*out = rp;
	return 0;
}

void replay_close(struct replay *rp)
{
	if (!rp)
		return;
	if (rp->tx >= 0)
		close(rp->tx);
	free(rp->seg);
	free(rp->txq);
	free(rp);
}
