#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "netmove/agentc.h"
#include "netmove/frame.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"

#define AGENTC_EVENT_TIMEOUT_MS 30000
#define AGENTC_RELOCATE_TIMEOUT_MS 30000

const char *agentc_socket(void)
{
	const char *s = getenv("NETMOVE_SOCKET");

	return s && *s ? s : PROTO_DEFAULT_SOCKET;
}

int agentc_transact(const char *path, struct ctl_msg *req, struct ctl_msg *rep,
		    int timeout_ms)
{
	struct ctl_conn c;
	int fd, ret;

	fd = ctl_connect_unix(path);
	if (fd < 0)
		return fd;
	ctl_conn_init(&c, fd, NULL, path);
	ret = ctl_send(&c, req);
	if (ret == 0)
		ret = ctl_recv(&c, rep, timeout_ms);
	ctl_conn_close(&c);
	return ret;
}

/* Send req, keep the reply's text, map a refusal to -EPROTO. */
static int agentc_call(const char *path, struct ctl_msg *req, int timeout_ms,
		       char *msg, size_t msglen)
{
	struct ctl_msg rep;
	int ret;

	ctl_msg_init(&rep, 0);
	ret = agentc_transact(path, req, &rep, timeout_ms);
	if (ret == 0 && msg && msglen && ctl_get_str(&rep, A_TEXT, msg, msglen) < 0)
		msg[0] = 0;
	if (ret == 0 && rep.type != PROTO_REP_OK)
		ret = -EPROTO;
	ctl_msg_free(&rep);
	return ret;
}

int agentc_relocate_msg(struct ctl_msg *req, const struct mac *mac, struct in_addr ip,
			const char *to, const char *port, const char *dst_port)
{
	int ret;

	ctl_msg_reset(req, PROTO_REQ_RELOCATE);
	ret = ctl_put(req, A_MAC, mac->b, MAC_LEN);
	if (!ret)
		ret = ctl_put(req, A_IP, &ip, 4);
	if (!ret)
		ret = ctl_put_str(req, A_TO, to);
	if (!ret)
		ret = ctl_put_str(req, A_PORT, port);
	if (!ret)
		ret = ctl_put_str(req, A_DST_PORT, dst_port ? dst_port : port);
	return ret;
}

int agentc_relocate(const char *path, const struct mac *mac, struct in_addr ip,
		    const char *to, const char *port, const char *dst_port,
		    char *msg, size_t msglen)
{
	struct ctl_msg req;
	int ret;

	ctl_msg_init(&req, PROTO_REQ_RELOCATE);
	ret = agentc_relocate_msg(&req, mac, ip, to, port, dst_port);
	if (!ret)
		ret = agentc_call(path, &req, AGENTC_RELOCATE_TIMEOUT_MS, msg, msglen);
	ctl_msg_free(&req);
	return ret;
}

void agentc_stop_last_rx(struct agentc_stop *stop, const uint8_t *frame,
			 const struct guestrx_tail *t, unsigned hdr_len)
{
	stop->flags |= AGENTC_LAST_RX;
	stop->rx.hash = t->anchored ? frame_hash(frame, t->len) : 0;
	stop->rx.len = t->anchored ? (uint32_t)t->len : 0;
	stop->rx.hdr_len = (uint8_t)hdr_len;
	stop->rx.nafter = (uint8_t)t->nafter;
	memcpy(stop->rx.after, t->after, t->nafter * sizeof(t->after[0]));
}

int agentc_event_msg(struct ctl_msg *req, const char *kind, const struct mac *mac,
		     const struct agentc_stop *stop)
{
	int ret;

	if (stop && stop->flags && !stop->stopped_us)
		return -EINVAL;
	ctl_msg_reset(req, PROTO_REQ_EVENT);
	ret = ctl_put(req, A_MAC, mac->b, MAC_LEN);
	if (ret == 0)
		ret = ctl_put_str(req, A_EVENT, kind);
	if (ret == 0 && stop && stop->stopped_us)
		ret = ctl_put_u64(req, A_STOPPED, stop->stopped_us);
	if (ret == 0 && stop && (stop->flags & AGENTC_READER_KEEPS_ONE))
		ret = ctl_put_u64(req, A_READER_KEEPS, 1);
	if (ret == 0 && stop && (stop->flags & AGENTC_LAST_RX))
		ret = ctl_put_u64(req, A_LAST_RX,
				  (uint64_t)stop->rx.hash << 32 | stop->rx.len);
	if (ret == 0 && stop && (stop->flags & AGENTC_LAST_RX) && stop->rx.nafter) {
		uint8_t b[1 + 4 * GUESTRX_AFTER_MAX];
		unsigned i;

		if (stop->rx.nafter > GUESTRX_AFTER_MAX)
			return -EINVAL;
		b[0] = stop->rx.hdr_len;
		for (i = 0; i < stop->rx.nafter; i++) {
			uint32_t be = htonl(stop->rx.after[i]);

			memcpy(b + 1 + 4 * i, &be, 4);
		}
		ret = ctl_put(req, A_RX_AFTER, b, 1 + 4 * (size_t)stop->rx.nafter);
	}
	return ret;
}

int agentc_event_stop(const struct ctl_msg *req, struct agentc_stop *stop)
{
	uint64_t v;
	const void *p;
	size_t len, i;

	memset(stop, 0, sizeof(*stop));
	if (ctl_get_u64(req, A_STOPPED, &stop->stopped_us) < 0 || !stop->stopped_us) {
		stop->stopped_us = 0;
		return 0;	/* the flags need the stop time */
	}
	if (ctl_get_u64(req, A_READER_KEEPS, &v) == 0 && v == 1)
		stop->flags |= AGENTC_READER_KEEPS_ONE;
	if (ctl_get_u64(req, A_LAST_RX, &v) < 0)
		return 0;
	stop->flags |= AGENTC_LAST_RX;
	stop->rx.hash = (uint32_t)(v >> 32);
	stop->rx.len = (uint32_t)v;
	if (ctl_get(req, A_RX_AFTER, &p, &len) < 0)
		return 0;
	if (len < 1 || (len - 1) % 4 || (len - 1) / 4 > GUESTRX_AFTER_MAX)
		return -EBADMSG;
	stop->rx.hdr_len = ((const uint8_t *)p)[0];
	stop->rx.nafter = (uint8_t)((len - 1) / 4);
	for (i = 0; i < stop->rx.nafter; i++) {
		uint32_t be;

		memcpy(&be, (const uint8_t *)p + 1 + 4 * i, 4);
		stop->rx.after[i] = ntohl(be);
	}
	return 0;
}

int agentc_event(const char *path, const char *kind, const struct mac *mac,
		 const struct agentc_stop *stop, char *msg, size_t msglen)
{
	struct ctl_msg req;
	int ret;

	ctl_msg_init(&req, PROTO_REQ_EVENT);
	ret = agentc_event_msg(&req, kind, mac, stop);
	if (ret == 0)
		ret = agentc_call(path, &req, AGENTC_EVENT_TIMEOUT_MS, msg, msglen);
	ctl_msg_free(&req);
	return ret;
}

int agentc_event_logged(const char *path, const char *kind, const struct mac *mac,
			const struct agentc_stop *stop, char *line, size_t len)
{
	uint64_t t0 = timeutil_real_ns() / NSEC_PER_USEC, t1, stopped_us = stop ? stop->stopped_us : 0;
	char msg[256] = "", mac_s[MAC_STRLEN], late[64] = "";
	int ret;

	ret = agentc_event(path, kind, mac, stop, msg, sizeof(msg));
	t1 = timeutil_real_ns() / NSEC_PER_USEC;
	if (stopped_us)
		snprintf(late, sizeof(late), "%llu us after the stop, ",
			 (unsigned long long)(t0 > stopped_us ? t0 - stopped_us : 0));
	snprintf(line, len, "%s %s: %s%s%s (%sagent answered in %llu us)", kind,
		 mac_format(mac, mac_s), ret ? strerror(-ret) : "accepted", msg[0] ? ": " : "",
		 msg, late, (unsigned long long)(t1 - t0));
	return ret;
}

int agentc_pull_msg(struct ctl_msg *req, const struct mac *mac, struct in_addr ip,
		    const char *port, const char *from)
{
	int ret;

	ctl_msg_reset(req, PROTO_REQ_PULL);
	ret = ctl_put(req, A_MAC, mac->b, MAC_LEN);
	if (!ret)
		ret = ctl_put(req, A_IP, &ip, 4);
	if (!ret)
		ret = ctl_put_str(req, A_PORT, port);
	if (!ret && from)
		ret = ctl_put_str(req, A_FROM, from);
	return ret;
}

int agentc_pull(const char *path, const struct mac *mac, struct in_addr ip, const char *port,
		const char *from, int timeout_ms, char *msg, size_t msglen)
{
	struct ctl_msg req;
	int ret;

	ctl_msg_init(&req, PROTO_REQ_PULL);
	ret = agentc_pull_msg(&req, mac, ip, port, from);
	if (!ret)
		ret = agentc_call(path, &req, timeout_ms, msg, msglen);
	ctl_msg_free(&req);
	return ret;
}
