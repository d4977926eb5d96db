#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>

#include "netmove/frame.h"
#include "netmove/timeutil.h"
#include "netmove/txlog.h"

#define TXLOG_RCVBUF (8 << 20)
#define TXLOG_FRAME_MAX (sizeof(struct virtio_net_hdr) + 65535 + 18)

struct txlog_entry {
	struct buffer_record rec;	/* rec.frame: malloc'd copy */
	uint32_t hash;
};

struct txlog {
	int fd;
	int stop_fd;			/* eventfd: wakes the thread to stop at once */
	pthread_t thread;
	bool running;
	int stop;
	int err;			/* a fatal receive error, negative */
	uint64_t n;			/* frames logged */
	struct txlog_entry *ring;	/* TXLOG_KEEP entries, position % TXLOG_KEEP */
	uint8_t *buf;			/* one received frame */
};

/* Take in every frame waiting on the socket. */
static int txlog_take(struct txlog *l)
{
	struct sockaddr_ll sll;
	socklen_t sl;
	ssize_t n;

	for (;;) {
		struct virtio_net_hdr h;
		struct txlog_entry *e;
		uint8_t *copy;
		size_t flen;

		sl = sizeof(sll);
		n = recvfrom(l->fd, l->buf, TXLOG_FRAME_MAX, MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&sll, &sl);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (sll.sll_pkttype != PACKET_OUTGOING)
			continue;
		if ((size_t)n > TXLOG_FRAME_MAX || (size_t)n < sizeof(h) + FRAME_ETH_HLEN)
			return -EMSGSIZE;	/* a gap in the order: unusable */
		flen = (size_t)n - sizeof(h);
		copy = malloc(flen);
		if (!copy)
			return -ENOMEM;
		memcpy(&h, l->buf, sizeof(h));
		memcpy(copy, l->buf + sizeof(h), flen);
		e = &l->ring[l->n % TXLOG_KEEP];
		free((void *)e->rec.frame);
		memset(e, 0, sizeof(*e));
		e->rec.frame = copy;
		e->rec.len = (uint32_t)flen;
		e->rec.seq = l->n;
		e->rec.tstamp_ns = timeutil_mono_ns();
		if (buffer_record_from_vnet(&e->rec, &h) < 0)
			e->rec.ip_summed = BUFFER_CSUM_NONE;
		e->hash = frame_hash(copy, flen);
		l->n++;
	}
}

static void *txlog_main(void *arg)
{
	struct txlog *l = arg;
	struct pollfd p[2] = { { .fd = l->fd, .events = POLLIN },
			       { .fd = l->stop_fd, .events = POLLIN } };
	int r;

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE) && !l->err) {
		r = poll(p, 2, -1);
		if (r > 0 && (p[0].revents & POLLIN)) {
			r = txlog_take(l);
			if (r < 0)
				l->err = r;
		}
	}
	return NULL;
}

int txlog_start(const char *ifname, struct txlog **out)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int one = 1, rcv = TXLOG_RCVBUF, ret;
	struct txlog *l;

	*out = NULL;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		return -ENODEV;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->fd = l->stop_fd = -1;
	l->ring = calloc(TXLOG_KEEP, sizeof(*l->ring));
	l->buf = malloc(TXLOG_FRAME_MAX);
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	l->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (!l->ring || !l->buf || l->fd < 0 || l->stop_fd < 0) {
		ret = l->fd < 0 || l->stop_fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	if (setsockopt(l->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0 &&
	     setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) < 0) ||
	    bind(l->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = -pthread_create(&l->thread, NULL, txlog_main, l);
	if (ret)
		goto fail;
	l->running = true;
	*out = l;
	return 0;
fail:
	txlog_free(l);
	return ret;
}

int64_t txlog_stop(struct txlog *l)
{
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);
	int r;

	if (l->running) {
		uint64_t one = 1;

		int werr = 0;

		__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
		if (write(l->stop_fd, &one, sizeof(one)) != sizeof(one))
			werr = -errno;
		pthread_join(l->thread, NULL);
		if (werr && !l->err)
			l->err = werr;
		l->running = false;
		r = txlog_take(l);
		if (r < 0 && !l->err)
			l->err = r;
		if (!l->err && getsockopt(l->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0 &&
		    st.tp_drops)
			l->err = -ENOBUFS;
	}
	return l->err ? l->err : (int64_t)l->n;
}

int txlog_get(const struct txlog *l, uint64_t pos, struct buffer_record *rec, uint32_t *hash)
{
	const struct txlog_entry *e;

	if (pos >= l->n || l->n - pos > TXLOG_KEEP)
		return -ENOENT;
	e = &l->ring[pos % TXLOG_KEEP];
	*rec = e->rec;
	if (hash)
		*hash = e->hash;
	return 0;
}

void txlog_free(struct txlog *l)
{
	size_t i;

	if (!l)
		return;
	if (l->running)
		txlog_stop(l);
	if (l->fd >= 0)
		close(l->fd);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	for (i = 0; l->ring && i < TXLOG_KEEP; i++)
		free((void *)l->ring[i].rec.frame);
	free(l->ring);
	free(l->buf);
	free(l);
}
