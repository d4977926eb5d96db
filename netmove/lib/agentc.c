#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/agentc.h"
#include "netmove/proto.h"

#define AGENTC_EVENT_TIMEOUT_MS 30000

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

int agentc_event(const char *path, const char *kind, const struct mac *mac,
		 char *msg, size_t msglen)
{
	struct ctl_msg req, rep;
	int ret;

	ctl_msg_init(&req, PROTO_REQ_EVENT);
	ctl_msg_init(&rep, 0);
	ret = ctl_put(&req, A_MAC, mac->b, MAC_LEN);
	if (ret == 0)
		ret = ctl_put_str(&req, A_EVENT, kind);
	if (ret == 0)
		ret = agentc_transact(path, &req, &rep, AGENTC_EVENT_TIMEOUT_MS);
	if (ret == 0 && msg && msglen && ctl_get_str(&rep, A_TEXT, msg, msglen) < 0)
		msg[0] = 0;
	if (ret == 0 && rep.type != PROTO_REP_OK)
		ret = -EPROTO;
	ctl_msg_free(&req);
	ctl_msg_free(&rep);
	return ret;
}
