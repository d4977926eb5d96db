/* ovsp_fdb: ovs-vswitchd's MAC-learning table through its unixctl socket
 * (the JSON-RPC that ovs-appctl speaks), in-process and with a deadline. */
#include <config.h>

#include "ovsp_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"
#include "openvswitch/json.h"
#include "openvswitch/poll-loop.h"
#include "util.h"
#include "timeval.h"
#include "unixctl.h"

struct ovsp_ctl {
	struct jsonrpc *rpc;	/* NULL after a broken call: reopened lazily */
	char *path;		/* socket path as given */
	int timeout_ms;		/* per-call budget */
};

/* ovs-vswitchd's fdb/del error when no static entry matches (OVS 3.1). */
#define OVSP_FDB_NO_STATIC "could not find static mac entry"

static int ovsp_ctl_connect(struct ovsp_ctl *ctl, char **err)
{
	int error = unixctl_client_create(ctl->path, &ctl->rpc);

	if (!error)
		return 0;
	ctl->rpc = NULL;
	if (error == ENOENT)
		return ovsp__fail(err, -ENOENT, "%s: no such socket (is ovs-vswitchd running?)", ctl->path);
	if (error == ECONNREFUSED)
		return ovsp__fail(err, -ECONNREFUSED, "%s: connection refused (ovs-vswitchd not running?)",
				  ctl->path);
	return ovsp__fail(err, ovsp__errno(error), "%s: %s", ctl->path, ovsp__strerror(error));
}

int ovsp_ctl_open(const char *path, int timeout_ms, struct ovsp_ctl **ctlp, char **err)
{
	struct ovsp_sigpipe sp;
	struct ovsp_ctl *ctl;
	int ret;

	*ctlp = NULL;
	if (!path || !*path)
		return ovsp__fail(err, -EINVAL, "no unixctl socket path given");
	ovsp__init();
	ctl = xzalloc(sizeof *ctl);
	ctl->path = xstrdup(path);
	ctl->timeout_ms = timeout_ms > 0 ? timeout_ms : OVSP_TIMEOUT_MS;
	ovsp__sigpipe_hold(&sp);
	ret = ovsp_ctl_connect(ctl, err);
	ovsp__sigpipe_release(&sp);
	if (ret)
		ovsp_ctl_close(ctl);
	else
		*ctlp = ctl;
	return ret;
}

void ovsp_ctl_close(struct ovsp_ctl *ctl)
{
	if (!ctl)
		return;
	if (ctl->rpc)
		jsonrpc_close(ctl->rpc);
	free(ctl->path);
	free(ctl);
}

/* Drop a connection the server closed while idle; nothing was sent yet. */
static int ovsp_ctl_begin(struct ovsp_ctl *ctl, char **err)
{
	struct jsonrpc_msg *msg;
	int error;

	if (ctl->rpc) {
		jsonrpc_run(ctl->rpc);
		error = jsonrpc_recv(ctl->rpc, &msg);
		if (error == EAGAIN)
			return 0;
		if (!error)
			jsonrpc_msg_destroy(msg);
		jsonrpc_close(ctl->rpc);
		ctl->rpc = NULL;
	}
	return ovsp_ctl_connect(ctl, err);
}

/* "cmd arg1 arg2" for messages. */
static char *ovsp_ctl_line(const char *command, int argc, const char *const *argv)
{
	size_t len = strlen(command) + 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = xmalloc(len);
	strcpy(s, command);
	for (i = 0; i < argc; i++) {
		strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

int ovsp_ctl_command(struct ovsp_ctl *ctl, const char *command, int argc,
		     const char *const *argv, char **reply, char **err)
{
	struct jsonrpc_msg *request, *msg = NULL;
	struct json **args;
	struct ovsp_sigpipe sp;
	char *line;
	int i, ret, error;

	if (reply)
		*reply = NULL;
	if (argc < 0 || (argc && !argv))
		return -EINVAL;
	line = ovsp_ctl_line(command, argc, argv);
	ovsp__sigpipe_hold(&sp);
	ret = ovsp_ctl_begin(ctl, err);
	if (ret)
		goto out;
	args = xmalloc((argc ? argc : 1) * sizeof *args);
	for (i = 0; i < argc; i++)
		args[i] = json_string_create(argv[i]);
	request = jsonrpc_create_request(command, json_array_create(args, argc), NULL);
	error = ovsp__rpc_transact(ctl->rpc, request, time_msec() + ctl->timeout_ms, &msg);
	if (error) {
		jsonrpc_close(ctl->rpc);
		ctl->rpc = NULL;
		ret = ovsp__fail(err, ovsp__errno(error), "%s: %s: %s", ctl->path, line,
				 error == ETIMEDOUT ? "no answer in time" : ovsp__strerror(error));
		goto out;
	}
	if (msg->error) {
		/* OVS's own words; unixctl errors often end in a newline. */
		const char *text = msg->error->type == JSON_STRING ? json_string(msg->error)
				   : "unexpected error type in reply";
		size_t len = strlen(text);

		while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
			len--;
		ret = ovsp__fail(err, -EPROTO, "%s: %.*s", line, (int)len, text);
		goto out;
	}
	if (reply)
		*reply = xstrdup(msg->result && msg->result->type == JSON_STRING ? json_string(msg->result)
				 : "");
	ret = 0;
out:
	jsonrpc_msg_destroy(msg);
	ovsp__sigpipe_release(&sp);
	free(line);
	return ret;
}

static void ovsp_mac_str(char buf[18], const uint8_t mac[6])
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
}

static int ovsp_vlan_ok(int vlan, char **err)
{
	if (vlan < 0 || vlan > 4095)
		return ovsp__fail(err, -EINVAL, "VLAN %d out of range (0..4095)", vlan);
	return 0;
}

int ovsp_fdb_move(struct ovsp_ctl *ctl, const char *bridge, const uint8_t mac[6],
		  const char *port, int vlan, char **err)
{
	char macs[18], vlans[8];
	const char *argv[4] = { bridge, port, vlans, macs };
	int ret = ovsp_vlan_ok(vlan, err);

	if (ret)
		return ret;
	ovsp_mac_str(macs, mac);
	snprintf(vlans, sizeof vlans, "%d", vlan);
	return ovsp_ctl_command(ctl, "fdb/add", 4, argv, NULL, err);
}

int ovsp_fdb_del(struct ovsp_ctl *ctl, const char *bridge, const uint8_t mac[6], int vlan,
		 bool *removed, char **err)
{
	char macs[18], vlans[8];
	const char *argv[3] = { bridge, vlans, macs };
	char *text = NULL;
	int ret = ovsp_vlan_ok(vlan, err);

	if (removed)
		*removed = false;
	if (ret)
		return ret;
	ovsp_mac_str(macs, mac);
	snprintf(vlans, sizeof vlans, "%d", vlan);
	ret = ovsp_ctl_command(ctl, "fdb/del", 3, argv, NULL, &text);
	if (ret == -EPROTO && text && strstr(text, OVSP_FDB_NO_STATIC)) {
		free(text);
		return 0;
	}
	if (ret) {
		if (err)
			*err = text;
		else
			free(text);
		return ret;
	}
	if (removed)
		*removed = true;
	return 0;
}

/* One line of fdb/show: " port  VLAN  MAC                Age". */
static int ovsp_fdb_parse(const char *line, struct ovsp_fdb_entry *e)
{
	char port[16], mac[18], age[16];
	unsigned int m[6];
	char *end;
	long v;
	int i;

	if (sscanf(line, "%15s %d %17s %15s", port, &e->vlan, mac, age) != 4)
		return -EINVAL;
	if (strcmp(port, "LOCAL") == 0) {
		e->ofport = OVSP_OFPORT_LOCAL;
	} else {
		v = strtol(port, &end, 10);
		if (*end || v <= 0 || v > 0xffff)
			return -EINVAL;
		e->ofport = (uint32_t)v;
	}
	if (sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		e->mac[i] = (uint8_t)m[i];
	if (strcmp(age, "static") == 0) {
		e->is_static = true;
		e->age = -1;
	} else {
		v = strtol(age, &end, 10);
		if (*end || v < 0)
			return -EINVAL;
		e->is_static = false;
		e->age = (int)v;
	}
	return 0;
}

int ovsp_fdb_dump(struct ovsp_ctl *ctl, const char *bridge, ovsp_fdb_fn fn, void *arg,
		  char **err)
{
	const char *argv[1] = { bridge };
	char *reply = NULL, *line, *save = NULL;
	int ret;

	ret = ovsp_ctl_command(ctl, "fdb/show", 1, argv, &reply, err);
	if (ret)
		return ret;
	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct ovsp_fdb_entry e;

		if (strstr(line, "MAC") && strstr(line, "VLAN"))
			continue;	/* header */
		if (ovsp_fdb_parse(line, &e)) {
			ret = ovsp__fail(err, -EPROTO, "fdb/show %s: unexpected line '%s'", bridge, line);
			break;
		}
		if (fn && (ret = fn(&e, arg)) != 0)
			break;
	}
	free(reply);
	return ret;
}

/* Walk state of ovsp_fdb_lookup. */
struct ovsp_fdb_find {
	const uint8_t *mac;		/* wanted MAC */
	int vlan;			/* wanted VLAN */
	struct ovsp_fdb_entry *out;	/* where the match goes */
};

static int ovsp_fdb_match(const struct ovsp_fdb_entry *e, void *arg)
{
	struct ovsp_fdb_find *f = arg;

	if (e->vlan != f->vlan || memcmp(e->mac, f->mac, 6))
		return 0;
	*f->out = *e;
	return 1;
}

int ovsp_fdb_lookup(struct ovsp_ctl *ctl, const char *bridge, const uint8_t mac[6], int vlan,
		    struct ovsp_fdb_entry *entry, char **err)
{
	struct ovsp_fdb_find f = { mac, vlan, entry };
	char macs[18];
	int ret = ovsp_vlan_ok(vlan, err);

	if (ret)
		return ret;
	ret = ovsp_fdb_dump(ctl, bridge, ovsp_fdb_match, &f, err);
	if (ret == 1)
		return 0;
	if (ret)
		return ret;
	ovsp_mac_str(macs, mac);
	return ovsp__fail(err, -ENOENT, "%s: no entry for %s on VLAN %d", bridge, macs, vlan);
}
