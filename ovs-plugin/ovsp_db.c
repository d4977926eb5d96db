/* OVSDB and JSON-RPC: the one transact loop (unixctl and OVSDB both speak
 * JSON-RPC) and the lookup of a VM's interface by the MAC its hypervisor
 * recorded in the Interface row. */
#include <config.h>

#include "ovsp_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsonrpc.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "stream.h"
#include "timeval.h"
#include "util.h"

int ovsp__rpc_transact(struct jsonrpc *rpc, struct jsonrpc_msg *request, long long deadline,
		       struct jsonrpc_msg **replyp)
{
	struct json *id = json_clone(request->id);
	int error;

	*replyp = NULL;
	error = jsonrpc_send(rpc, request);
	while (!error) {
		struct jsonrpc_msg *msg;

		jsonrpc_run(rpc);
		error = jsonrpc_recv(rpc, &msg);
		if (!error) {
			if ((msg->type == JSONRPC_REPLY || msg->type == JSONRPC_ERROR) &&
			    json_equal(id, msg->id)) {
				*replyp = msg;
				break;
			}
			jsonrpc_msg_destroy(msg);
			continue;
		}
		if (error != EAGAIN)
			break;
		if (time_msec() >= deadline) {
			error = ETIMEDOUT;
			break;
		}
		error = 0;
		jsonrpc_wait(rpc);
		jsonrpc_recv_wait(rpc);
		poll_timer_wait_until(deadline);
		poll_block();
	}
	json_destroy(id);
	return error;
}

/* The names in a select reply: [{"rows": [{"name": "..."}, ...]}]. */
static int ovsp_db_names(const struct json *result, char *name, size_t len, int *rows)
{
	const struct json *op, *r, *n;
	size_t i;

	*rows = 0;
	if (result->type != JSON_ARRAY || json_array(result)->n != 1)
		return -EPROTO;
	op = json_array(result)->elems[0];
	if (op->type != JSON_OBJECT)
		return -EPROTO;
	r = shash_find_data(json_object(op), "rows");
	if (!r || r->type != JSON_ARRAY)
		return -EPROTO;
	for (i = 0; i < json_array(r)->n; i++) {
		const struct json *row = json_array(r)->elems[i];

		n = row->type == JSON_OBJECT ? shash_find_data(json_object(row), "name") : NULL;
		if (!n || n->type != JSON_STRING || strlen(json_string(n)) >= len)
			return -EPROTO;
		if (!*rows)
			snprintf(name, len, "%s", json_string(n));
		(*rows)++;
	}
	return 0;
}

int ovsp_iface_by_mac(const char *db, const uint8_t mac[6], int timeout_ms, char *name,
		      size_t len, char **err)
{
	long long deadline = time_msec() + (timeout_ms > 0 ? timeout_ms : OVSP_TIMEOUT_MS);
	struct jsonrpc_msg *request, *reply = NULL;
	struct ovsp_sigpipe sp;
	struct stream *stream = NULL;
	struct jsonrpc *rpc = NULL;
	char m[18], *params;
	int error, ret, rows;

	if (!db || !*db || !name || len < 2)
		return ovsp__fail(err, -EINVAL, "no OVSDB socket or no room for a name");
	ovsp__init();
	snprintf(m, sizeof(m), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	ovsp__sigpipe_hold(&sp);
	error = stream_open_block(stream_open(db, &stream, DSCP_DEFAULT), timeout_ms, &stream);
	if (error) {
		ret = ovsp__fail(err, ovsp__errno(error), "%s: %s", db, ovsp__strerror(error));
		goto out;
	}
	rpc = jsonrpc_open(stream);
	params = xasprintf("[\"Open_vSwitch\",{\"op\":\"select\",\"table\":\"Interface\","
			   "\"where\":[[\"external_ids\",\"includes\",[\"map\",[[\"attached-mac\","
			   "\"%s\"]]]]],\"columns\":[\"name\"]}]", m);
	request = jsonrpc_create_request("transact", json_from_string(params), NULL);
	free(params);
	error = ovsp__rpc_transact(rpc, request, deadline, &reply);
	if (error) {
		ret = ovsp__fail(err, ovsp__errno(error), "%s: transact: %s", db,
				 ovsp__strerror(error));
		goto out;
	}
	if (reply->type == JSONRPC_ERROR) {
		char *e = json_to_string(reply->error, 0);

		ret = ovsp__fail(err, -EPROTO, "%s: %s", db, e);
		free(e);
		goto out;
	}
	ret = ovsp_db_names(reply->result, name, len, &rows);
	if (ret)
		ovsp__fail(err, ret, "%s: unexpected select reply", db);
	else if (!rows)
		ret = ovsp__fail(err, -ENOENT, "no interface has external_ids:attached-mac=%s", m);
	else if (rows > 1)
		ret = ovsp__fail(err, -EEXIST, "%d interfaces have external_ids:attached-mac=%s",
				 rows, m);
out:
	jsonrpc_msg_destroy(reply);
	if (rpc)
		jsonrpc_close(rpc);
	ovsp__sigpipe_release(&sp);
	return ret;
}
