/* srcship: the handoff's frames from the source (srcship.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "srcship.h"
#include "netmove/proto.h"
#include "netmove/replay.h"

#define FRAMES_PER_MSG 256
/* A batch also ends before it passes this many bytes: 256 of the largest
 * frames (BUFFER_MAX_FRAME) would not fit in one message (CTL_MAX_BODY). */
#define SHIP_MAX_BYTES (4u << 20)

/* The destination agent is gone: its end reset or closed the connection
 * (it died, or ended its side), as against one that is slow or a link that
 * is cut, which may still take what it was sent. */
static bool peer_died(int err)
{
	return err == -ECONNRESET || err == -EPIPE || err == -ECONNABORTED;
}

int take_acks(struct work *w, int timeout_ms)
{
	struct pollfd p = { .fd = w->r->peer.fd, .events = POLLIN };
	uint64_t n;
	int ret;

	while (w->peer_up && !w->done && poll(&p, 1, timeout_ms) > 0) {
		timeout_ms = 0;
		ret = ctl_recv(&w->r->peer, &w->in, (int)w->a->cfg.phase_timeout_ms);
		if (ret < 0) {
			w->peer_up = false;
			return ret;
		}
		if (w->in.type == PROTO_FRAMES_ACK && ctl_get_u64(&w->in, A_COUNT, &n) == 0) {
			shipq_confirm(&w->sent, n);
		} else if (w->in.type == PROTO_DONE) {
			w->done = true;
			n = 0;
			ctl_get_u64(&w->in, A_VERIFIED, &n);
			w->p.verified = n;
			if (ctl_get_u64(&w->in, A_COUNT, &n) < 0)
				n = w->sent.shipped;
			shipq_confirm(&w->sent, n);
		} else if (w->in.type != PROTO_FRAMES_ACK) {
			char text[200] = "";

			ctl_get_str(&w->in, A_TEXT, text, sizeof(text));
			work_error(w, "the destination gave up during the handoff", -EPROTO, text);
			return -EPROTO;
		}
	}
	w->p.confirmed = w->sent.confirmed;
	return w->peer_up || w->done ? 0 : -ENOTCONN;
}

int forward_one(const struct buffer_record *rec, void *arg)
{
	struct work *w = arg;

	return agent_forward(w->rp, rec, &w->p.forwarded);
}

int forward_open(struct work *w)
{
	int ret = w->rp ? 0 : replay_open(w->a->cfg.uplink, &w->rp);

	if (ret < 0)
		work_error(w, "opening the uplink to forward the held frames", ret, NULL);
	return ret;
}

int forward_unconfirmed(struct work *w, int err)
{
	int ret = 0;

	if (peer_died(err) || err == -ENOTCONN || err == -ESHUTDOWN) {
		ret = forward_open(w);
		if (ret == 0)
			ret = shipq_each_unconfirmed(&w->sent, forward_one, w);
	} else {
		w->p.unconfirmed = shipq_unconfirmed(&w->sent);
	}
	shipq_free(&w->sent);
	agent_log(w->a, "relocation %llu: the destination cannot take the frames (%s): %llu sent "
		  "out of %s, %llu left unconfirmed", (unsigned long long)w->r->id, strerror(-err),
		  (unsigned long long)w->p.forwarded, w->a->cfg.uplink,
		  (unsigned long long)w->p.unconfirmed);
	work_publish(w);
	return ret;
}


int ship_flush(struct ship *s)
{
	struct work *w = s->w;
	int ret;

	if (!w->out.len || s->forwarding)
		return 0;
	w->out.type = PROTO_FRAMES;
	series_add(&w->p.shipped_series, work_now_us(), w->p.shipped);	/* where it starts */
	ret = work_send(w);
	if (shipq_push(&w->sent, &w->out, s->in_msg) < 0 && ret == 0)
		ret = -ENOMEM;
	w->p.shipped = w->sent.shipped;
	series_add(&w->p.shipped_series, work_now_us(), w->p.shipped);
	s->in_msg = 0;
	ctl_msg_reset(&w->out, PROTO_FRAMES);
	if (ret == 0)
		ret = take_acks(w, 0);
	if (ret == 0 && w->done && shipq_unconfirmed(&w->sent))
		ret = -ESHUTDOWN;	/* it gave up waiting, and reads no more */
	if (ret < 0) {
		s->err = ret;
		s->forwarding = true;
		s->ferr = forward_unconfirmed(w, ret);
	}
	return 0;
}

int ship_one(const struct buffer_record *rec, void *arg)
{
	struct ship *s = arg;
	int len;

	if (s->forwarding) {
		int ret = s->ferr ? s->ferr : forward_one(rec, s->w);

		if (ret < 0 && !s->ferr)
			s->ferr = ret;
		return 0;
	}
	len = buffer_record_encode(rec, s->enc, BUFFER_WIRE_HDR_LEN + BUFFER_MAX_FRAME);
	if (len < 0)
		return s->err = len;
	if (s->w->out.len && s->w->out.len + (size_t)len > SHIP_MAX_BYTES)
		ship_flush(s);
	if (s->forwarding)
		return ship_one(rec, arg);
	if (ctl_put(&s->w->out, A_RECORD, s->enc, (size_t)len) < 0)
		return s->err = -ENOMEM;
	if (++s->in_msg == FRAMES_PER_MSG)
		ship_flush(s);
	return 0;
}

int ship_ring(struct ship *s)
{
	int ret = buffer_export(s->w->buf, ship_one, s);

	if (ret >= 0)
		ship_flush(s);
	return ret;
}

int ship_ring_step(void *arg)
{
	return ship_ring(arg);
}
