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
	ctl_conn_init(&c, fd, NULL, 0, path);
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
	stop->last_rx_hash = t->anchored ? frame_hash(frame, t->len) : 0;
	stop->last_rx_len = t->anchored ? (uint32_t)t->len : 0;
	stop->rx_hdr_len = (uint8_t)hdr_len;
	stop->rx_nafter = (uint8_t)t->nafter;
	memcpy(stop->rx_after, t->after, t->nafter * sizeof(t->after[0]));
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
				  (uint64_t)stop->last_rx_hash << 32 | stop->last_rx_len);
	if (ret == 0 && stop && (stop->flags & AGENTC_LAST_RX) && stop->rx_nafter) {
		uint8_t b[1 + 4 * GUESTRX_AFTER_MAX];
		unsigned i;

		if (stop->rx_nafter > GUESTRX_AFTER_MAX)
			return -EINVAL;
		b[0] = stop->rx_hdr_len;
		for (i = 0; i < stop->rx_nafter; i++) {
			uint32_t be = htonl(stop->rx_after[i]);

			memcpy(b + 1 + 4 * i, &be, 4);
		}
		ret = ctl_put(req, A_RX_AFTER, b, 1 + 4 * (size_t)stop->rx_nafter);
	}
	return ret;
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
