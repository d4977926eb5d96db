#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "netmove/probe.h"
#include "netmove/timeutil.h"

#define PROBE_BATCH 64
#define PROBE_END_COPIES 3
#define PROBE_END_GRACE_NS (50 * NSEC_PER_MSEC)
#define PROBE_RECV_BUF 65536

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* Layout: magic 4, version 1, flags 1, reserved 2, run 4, reserved 4,
 * seq 8, send_ns 8. */
int probe_encode(uint8_t *buf, size_t cap, const struct probe_pkt *pkt, size_t size)
{
	size_t i;

	if (size < PROBE_HDR_LEN || size > PROBE_MAX_SIZE)
		return -EINVAL;
	if (cap < size)
		return -ENOSPC;
	memset(buf, 0, PROBE_HDR_LEN);
	put32(buf, PROBE_MAGIC);
	buf[4] = PROBE_VERSION;
	buf[5] = pkt->flags;
	put32(buf + 8, pkt->run);
	put64(buf + 16, pkt->seq);
	put64(buf + 24, pkt->send_ns);
	for (i = PROBE_HDR_LEN; i < size; i++)
		buf[i] = (uint8_t)i;
	return (int)size;
}

int probe_decode(const uint8_t *buf, size_t len, struct probe_pkt *pkt)
{
	if (len < PROBE_HDR_LEN || get32(buf) != PROBE_MAGIC || buf[4] != PROBE_VERSION)
		return -EINVAL;
	if (buf[5] & ~PROBE_FLAG_END)
		return -EINVAL;
	pkt->flags = buf[5];
	pkt->run = get32(buf + 8);
	pkt->seq = get64(buf + 16);
	pkt->send_ns = get64(buf + 24);
	return 0;
}

void probe_rx_init(struct probe_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

void probe_rx_free(struct probe_rx *rx)
{
	free(rx->seen);
	rx->seen = NULL;
	rx->seen_bits = 0;
}

static int grow(struct probe_rx *rx, uint64_t seq)
{
	uint64_t bits = rx->seen_bits ? rx->seen_bits : 65536;
	uint8_t *p;

	while (bits <= seq)
		bits *= 2;
	if (bits > PROBE_MAX_SEQ)
		bits = PROBE_MAX_SEQ;
	p = realloc(rx->seen, bits / 8);
	if (!p)
		return -ENOMEM;
	memset(p + rx->seen_bits / 8, 0, (bits - rx->seen_bits) / 8);
	rx->seen = p;
	rx->seen_bits = bits;
	return 0;
}

int probe_rx_account(struct probe_rx *rx, const struct probe_pkt *pkt, uint64_t rx_ns)
{
	struct probe_stats *st = &rx->st;
	uint64_t seq = pkt->seq;
	int ret;

	if (!rx->have_run) {
		rx->have_run = true;
		rx->run = pkt->run;
	}
	if (pkt->run != rx->run) {
		st->foreign++;
		return 0;
	}
	if (pkt->flags & PROBE_FLAG_END) {
		st->end_seen = true;
		st->expected = seq;
		return 0;
	}
	if (seq >= PROBE_MAX_SEQ) {
		st->foreign++;
		return -ERANGE;
	}
	if (seq >= rx->seen_bits) {
		ret = grow(rx, seq);
		if (ret < 0)
			return ret;
	}
	st->received++;
	if (st->received == 1) {
		st->first_ns = rx_ns;
	} else if (rx_ns > rx->prev_ns && rx_ns - rx->prev_ns > st->max_gap_ns) {
		st->max_gap_ns = rx_ns - rx->prev_ns;
		st->gap_before_seq = seq;
	}
	rx->prev_ns = rx_ns;
	st->last_ns = rx_ns;
	if (rx_ns > pkt->send_ns && rx_ns - pkt->send_ns > st->max_latency_ns)
		st->max_latency_ns = rx_ns - pkt->send_ns;
	if (rx->seen[seq / 8] & (1u << (seq % 8))) {
		st->duplicated++;
		return 0;
	}
	rx->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	st->unique++;
	if (st->unique > 1 && seq < rx->max_seq)
		st->reordered++;
	if (seq > rx->max_seq || st->unique == 1)
		rx->max_seq = seq;
	return 0;
}

void probe_rx_result(const struct probe_rx *rx, struct probe_stats *st)
{
	*st = rx->st;
	if (!st->end_seen)
		st->expected = st->unique ? rx->max_seq + 1 : 0;
	st->lost = st->expected > st->unique ? st->expected - st->unique : 0;
}

size_t probe_rx_lost_ranges(const struct probe_rx *rx, uint64_t expected,
			    struct probe_range *out, size_t max)
{
	uint64_t seq;
	size_t n = 0;

	for (seq = 0; seq < expected && n < max; seq++) {
		bool seen = seq < rx->seen_bits && (rx->seen[seq / 8] & (1u << (seq % 8)));

		if (seen)
			continue;
		if (n && out[n - 1].last + 1 == seq)
			out[n - 1].last = seq;
		else
			out[n++] = (struct probe_range){ seq, seq };
	}
	return n;
}

static int udp_socket(const char *ifname)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 32 << 20;

	if (fd < 0)
		return -errno;
	/* Bursts (a replayed blackout) must not overflow the socket itself:
	 * past rmem_max/wmem_max only the FORCE variants (root) help. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
				 (socklen_t)strlen(ifname)) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static int send_end(int fd, const struct sockaddr_in *to, uint32_t run, uint64_t total)
{
	struct probe_pkt pkt = { .flags = PROBE_FLAG_END, .run = run, .seq = total };
	uint8_t buf[PROBE_HDR_LEN];
	int i;

	for (i = 0; i < PROBE_END_COPIES; i++) {
		pkt.send_ns = timeutil_real_ns();
		probe_encode(buf, sizeof(buf), &pkt, sizeof(buf));
		if (sendto(fd, buf, sizeof(buf), 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
			return -errno;
		usleep(1000);
	}
	return 0;
}

int probe_send(const struct probe_send_cfg *cfg, struct probe_send_result *res)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(cfg->port),
				  .sin_addr = cfg->dst };
	uint8_t (*bufs)[PROBE_MAX_SIZE] = NULL;
	struct mmsghdr msgs[PROBE_BATCH];
	struct iovec iov[PROBE_BATCH];
	uint64_t total, interval, start, i = 0;
	int fd, ret = 0;

	memset(res, 0, sizeof(*res));
	if (!cfg->rate || cfg->size < PROBE_HDR_LEN || cfg->size > PROBE_MAX_SIZE ||
	    !cfg->port || !cfg->duration_ns)
		return -EINVAL;
	total = cfg->rate * cfg->duration_ns / NSEC_PER_SEC;
	if (!total || total >= PROBE_MAX_SEQ)
		return -EINVAL;
	res->run = cfg->run ? cfg->run : (uint32_t)(timeutil_real_ns() ^ (uint64_t)getpid() << 16);
	bufs = malloc(PROBE_BATCH * sizeof(*bufs));
	if (!bufs)
		return -ENOMEM;
	fd = udp_socket(cfg->ifname);
	if (fd < 0) {
		free(bufs);
		return fd;
	}
	prctl(PR_SET_TIMERSLACK, 1UL);
	interval = NSEC_PER_SEC / cfg->rate;
	start = timeutil_mono_ns();
	while (i < total) {
		uint64_t now, due;
		unsigned n = 0, k;
		int sent;

		if (cfg->stop && *cfg->stop) {
			res->stopped = true;
			break;
		}
		/* Everything due by now goes out in one batch. */
		now = timeutil_mono_ns();
		due = (now - start) / interval + 1;
		if (due <= i) {
			/* Woken by a signal: the loop looks at stop again. */
			timeutil_nap_until_mono(start + i * interval);
			continue;
		}
		while (n < PROBE_BATCH && i + n < total && i + n < due) {
			struct probe_pkt pkt = { .run = res->run, .seq = i + n,
						 .send_ns = timeutil_real_ns() };

			probe_encode(bufs[n], sizeof(bufs[n]), &pkt, cfg->size);
			iov[n] = (struct iovec){ bufs[n], cfg->size };
			msgs[n] = (struct mmsghdr){ .msg_hdr = {
				.msg_name = &to, .msg_namelen = sizeof(to),
				.msg_iov = &iov[n], .msg_iovlen = 1 } };
			n++;
		}
		for (k = 0; k < n; k += (unsigned)sent) {
			sent = sendmmsg(fd, msgs + k, n - k, 0);
			if (sent < 0) {
				if (errno == EINTR)
					sent = 0;
				else if (errno == ENOBUFS || errno == EAGAIN ||
					 errno == ECONNREFUSED || errno == EHOSTUNREACH ||
					 errno == ENETUNREACH) {
					/* The datagram is gone: the receiver counts it lost. */
					res->errors++;
					sent = 1;
				} else {
					ret = -errno;
					goto out;
				}
			}
		}
		i += n;
		res->sent = i - res->errors;
	}
	res->elapsed_ns = timeutil_mono_ns() - start;
	ret = send_end(fd, &to, res->run, i);
out:
	close(fd);
	free(bufs);
	return ret;
}

static uint64_t cmsg_ts(struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
		}
	}
	return timeutil_real_ns();
}

int probe_recv(const struct probe_recv_cfg *cfg, struct probe_stats *st)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(cfg->port),
				    .sin_addr = cfg->bind };
	uint64_t deadline, end_deadline = 0, last_mono = 0;
	uint8_t *buf = malloc(PROBE_RECV_BUF);
	struct probe_rx rx;
	int fd, one = 1, ret = 0;

	probe_rx_init(&rx);
	if (!buf)
		return -ENOMEM;
	fd = udp_socket(NULL);
	if (fd < 0) {
		free(buf);
		return fd;
	}
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto out;
	}
	if (cfg->ready_fd >= 0 && write(cfg->ready_fd, "ready\n", 6) < 0) {
		ret = -errno;
		goto out;
	}
	deadline = timeutil_mono_ns() + cfg->timeout_ns;
	for (;;) {
		char ctl[CMSG_SPACE(sizeof(struct timespec))];
		struct sockaddr_in from;
		struct iovec iov = { buf, PROBE_RECV_BUF };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from),
				     .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = timeutil_mono_ns(), until = deadline;
		struct probe_pkt pkt;
		ssize_t n;

		if (end_deadline && end_deadline < until)
			until = end_deadline;
		if (cfg->idle_ns && last_mono && last_mono + cfg->idle_ns < until)
			until = last_mono + cfg->idle_ns;
		if (now >= until)
			break;
		ret = poll(&pfd, 1, (int)((until - now) / NSEC_PER_MSEC + 1));
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		ret = 0;
		n = recvmsg(fd, &mh, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		last_mono = timeutil_mono_ns();
		if (probe_decode(buf, (size_t)n, &pkt) < 0) {
			rx.st.foreign++;
			continue;
		}
		ret = probe_rx_account(&rx, &pkt, cmsg_ts(&mh));
		if (ret == -ENOMEM)
			goto out;
		ret = 0;
		if (cfg->echo)
			sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&from,
			       mh.msg_namelen);
		if (rx.st.end_seen && !end_deadline)
			end_deadline = last_mono + PROBE_END_GRACE_NS;
	}
	probe_rx_result(&rx, st);
	if (cfg->lost && cfg->n_lost)
		*cfg->n_lost = probe_rx_lost_ranges(&rx, st->expected, cfg->lost, cfg->max_lost);
out:
	probe_rx_free(&rx);
	close(fd);
	free(buf);
	return ret;
}
