/* nm-ovs: a small command line over ovsp (the ovs-plugin library), used by
 * the network test and the benchmark.  See nm-ovs(8). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/mac.h"
#include "netmove/out.h"
#include "netmove/timeutil.h"
#include "ovsp.h"

/* Exit codes, documented in nm-ovs(8). */
enum {
	NMO_OK = 0,		/* done (and read back where the command says so) */
	NMO_NEGATIVE = 1,	/* OVS refused the request, or no such port / entry */
	NMO_USAGE = 2,		/* bad command line */
	NMO_FAILURE = 3,	/* OVS unreachable, timeout, system error */
};

/* Which options a command takes (bit per option). */
enum {
	OPT_MAC = 1 << 0,
	OPT_PORT = 1 << 1,
	OPT_OFPORT = 1 << 2,
	OPT_PRIORITY = 1 << 3,
	OPT_VLAN = 1 << 4,
	OPT_REPEAT = 1 << 5,
	OPT_ALL = 1 << 6,
};

/* The parsed command line. */
struct nmo {
	const char *cmd;	/* sub-command name */
	const char *bridge;	/* --bridge: OpenFlow target or bridge name */
	const char *ctl;	/* --ctl: unixctl socket path */
	int timeout_ms;		/* --timeout */
	bool json;		/* --json */
	int verbose;		/* -v count */
	unsigned int given;	/* OPT_* seen */
	struct mac mac;		/* --mac */
	const char *port;	/* --port: interface / bridge port name */
	uint32_t ofport;	/* --ofport */
	uint16_t priority;	/* --priority (0 = default) */
	int vlan;		/* --vlan */
	unsigned int repeat;	/* --repeat */
	char **args;		/* positional arguments after the command */
	int nargs;		/* their count */
};

static int nmo_err(int code, const struct nmo *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int nmo_err(int code, const struct nmo *n, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nm-ovs%s%s: ", n->cmd ? " " : "", n->cmd ? n->cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* Exit code for an ovsp error once OVS was reached. */
static int nmo_code(int ret)
{
	if (ret == -EPROTO || ret == -EINVAL || ret == -ENOENT)
		return NMO_NEGATIVE;
	return NMO_FAILURE;
}

static int nmo_fail(const struct nmo *n, int ret, char *err)
{
	int code = nmo_code(ret);

	nmo_err(code, n, "%s", err ? err : strerror(-ret));
	free(err);
	return code;
}

static double ms_since(uint64_t t0)
{
	return (double)(timeutil_mono_ns() - t0) / 1e6;
}

static void out_mac(struct out *o, const char *key, const uint8_t *b)
{
	struct mac m;
	char s[MAC_STRLEN];

	memcpy(m.b, b, MAC_LEN);
	out_str(o, key, mac_format(&m, s));
}

static void out_cookie(struct out *o, const char *key, uint64_t cookie)
{
	char s[24];

	snprintf(s, sizeof s, "0x%016" PRIx64, cookie);
	out_str(o, key, s);
}

/* Timings of --repeat runs. */
struct nmo_times {
	double *ms;		/* one per run */
	unsigned int n;		/* runs done */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void out_times(struct out *o, struct nmo_times *t, double connect_ms)
{
	double sum = 0;
	unsigned int i;

	qsort(t->ms, t->n, sizeof *t->ms, cmp_double);
	for (i = 0; i < t->n; i++)
		sum += t->ms[i];
	out_double(o, "connect_ms", connect_ms, 3);
	out_u64(o, "runs", t->n);
	if (t->n > 1) {
		out_double(o, "ms_min", t->ms[0], 3);
		out_double(o, "ms_median", t->ms[t->n / 2], 3);
		out_double(o, "ms_mean", sum / t->n, 3);
		out_double(o, "ms_max", t->ms[t->n - 1], 3);
	} else {
		out_double(o, "ms", t->ms[0], 3);
	}
}

/* Connect to the OpenFlow target; reports failures itself. */
static int nmo_open(const struct nmo *n, struct ovsp_conn **conn, double *connect_ms)
{
	uint64_t t0 = timeutil_mono_ns();
	char *err = NULL;
	int ret;

	if (!n->bridge)
		return nmo_err(NMO_USAGE, n, "needs --bridge TARGET (e.g. unix:/run/openvswitch/br-int.mgmt)");
	ret = ovsp_open(n->bridge, n->timeout_ms, conn, &err);
	if (ret) {
		nmo_err(NMO_FAILURE, n, "%s", err ? err : strerror(-ret));
		free(err);
		return NMO_FAILURE;
	}
	*connect_ms = ms_since(t0);
	return NMO_OK;
}

/* The port number named by --port or --ofport. */
static int nmo_resolve_port(const struct nmo *n, struct ovsp_conn *conn, uint32_t *ofport)
{
	char *err = NULL;
	int ret;

	if (n->given & OPT_OFPORT) {
		*ofport = n->ofport;
		return NMO_OK;
	}
	ret = ovsp_ofport(conn, n->port, ofport, &err);
	return ret ? nmo_fail(n, ret, err) : NMO_OK;
}

#define FLOW_LINE_MAX 65536	/* longest flow line taken */

/* True if line (got bytes) is text: no NUL, no control byte but tab and
 * the line end. */
static bool text_line(const char *line, ssize_t got)
{
	ssize_t i;

	for (i = 0; i < got; i++) {
		unsigned char c = (unsigned char)line[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
			return false;
	}
	return true;
}

/* Read a bundle file: one flow_mod per line; blank and '#' lines skipped. */
static int read_flow_file(const struct nmo *n, const char *path, char ***linesp, size_t *np)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL, **lines = NULL;
	size_t cap = 0, len = 0, alloc = 0, lineno = 0;
	ssize_t got;
	int ret = NMO_OK;

	if (!f)
		return nmo_err(NMO_USAGE, n, "%s: %s", path, strerror(errno));
	while ((got = getline(&line, &cap, f)) >= 0) {
		char *s = line, *e;

		lineno++;
		if (got > FLOW_LINE_MAX || !text_line(line, got)) {
			ret = nmo_err(NMO_USAGE, n, "%s: line %zu: not a flow (%s)", path, lineno,
				      got > FLOW_LINE_MAX ? "longer than 64 KiB" :
							    "binary data or control characters");
			goto out;
		}

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		if (len == alloc) {
			char **grown;

			alloc = alloc ? 2 * alloc : 64;
			grown = realloc(lines, alloc * sizeof *lines);
			if (!grown) {
				ret = nmo_err(NMO_FAILURE, n, "out of memory");
				goto out;
			}
			lines = grown;
		}
		lines[len] = strdup(s);
		if (!lines[len]) {
			ret = nmo_err(NMO_FAILURE, n, "out of memory");
			goto out;
		}
		len++;
	}
	if (ferror(f))
		ret = nmo_err(NMO_FAILURE, n, "%s: read error", path);
out:
	free(line);
	if (f != stdin)
		fclose(f);
	*linesp = lines;
	*np = len;
	return ret;
}

static int cmd_bundle(const struct nmo *n, struct out *o)
{
	struct nmo_times t = { NULL, 0 };
	struct ovsp_conn *conn = NULL;
	char **lines = NULL, *err = NULL;
	size_t nl = 0, i;
	double connect_ms;
	int code;

	if (n->nargs != 1)
		return nmo_err(NMO_USAGE, n, "needs one FILE argument (or - for stdin)");
	code = read_flow_file(n, n->args[0], &lines, &nl);
	if (code)
		goto out;
	code = nmo_open(n, &conn, &connect_ms);
	if (code)
		goto out;
	t.ms = calloc(n->repeat, sizeof *t.ms);
	if (!t.ms) {
		code = nmo_err(NMO_FAILURE, n, "out of memory");
		goto out;
	}
	for (t.n = 0; t.n < n->repeat; t.n++) {
		uint64_t t0 = timeutil_mono_ns();
		int ret = ovsp_bundle(conn, (const char *const *)lines, nl, &err);

		if (ret) {
			code = nmo_fail(n, ret, err);
			goto out;
		}
		t.ms[t.n] = ms_since(t0);
	}
	out_str(o, "target", ovsp_target(conn));
	out_u64(o, "flow_mods", nl);
	out_times(o, &t, connect_ms);
out:
	for (i = 0; i < nl; i++)
		free(lines[i]);
	free(lines);
	free(t.ms);
	ovsp_close(conn);
	return code;
}

/* vm-install and vm-redirect. */
static int cmd_vm_point(const struct nmo *n, struct out *o)
{
	bool redirect = strcmp(n->cmd, "vm-redirect") == 0;
	struct nmo_times t = { NULL, 0 };
	struct ovsp_conn *conn = NULL;
	char *err = NULL;
	double connect_ms;
	uint32_t ofport;
	int code;

	if (!(n->given & OPT_MAC) || !(n->given & (OPT_PORT | OPT_OFPORT)))
		return nmo_err(NMO_USAGE, n, "needs --mac MAC and --port IFNAME (or --ofport N)");
	code = nmo_open(n, &conn, &connect_ms);
	if (code)
		return code;
	code = nmo_resolve_port(n, conn, &ofport);
	if (code)
		goto out;
	t.ms = calloc(n->repeat, sizeof *t.ms);
	if (!t.ms) {
		code = nmo_err(NMO_FAILURE, n, "out of memory");
		goto out;
	}
	for (t.n = 0; t.n < n->repeat; t.n++) {
		uint64_t t0 = timeutil_mono_ns();
		int ret = redirect ? ovsp_vm_redirect(conn, n->mac.b, ofport, 0, n->priority, &err)
				   : ovsp_vm_install(conn, n->mac.b, ofport, n->priority, &err);

		if (ret) {
			code = nmo_fail(n, ret, err);
			goto out;
		}
		t.ms[t.n] = ms_since(t0);
	}
	out_mac(o, "mac", n->mac.b);
	if (n->given & OPT_PORT)
		out_str(o, "port", n->port);
	out_u64(o, "ofport", ofport);
	out_cookie(o, "cookie", ovsp_vm_cookie(n->mac.b));
	out_u64(o, "priority", n->priority ? n->priority : OVSP_VM_PRIORITY);
	out_times(o, &t, connect_ms);
out:
	free(t.ms);
	ovsp_close(conn);
	return code;
}

static int cmd_vm_remove(const struct nmo *n, struct out *o)
{
	struct nmo_times t = { NULL, 0 };
	struct ovsp_conn *conn = NULL;
	char *err = NULL;
	double connect_ms;
	int code;

	if (!(n->given & OPT_MAC))
		return nmo_err(NMO_USAGE, n, "needs --mac MAC");
	code = nmo_open(n, &conn, &connect_ms);
	if (code)
		return code;
	t.ms = calloc(n->repeat, sizeof *t.ms);
	if (!t.ms) {
		code = nmo_err(NMO_FAILURE, n, "out of memory");
		goto out;
	}
	for (t.n = 0; t.n < n->repeat; t.n++) {
		uint64_t t0 = timeutil_mono_ns();
		int ret = ovsp_vm_remove(conn, n->mac.b, &err);

		if (ret) {
			code = nmo_fail(n, ret, err);
			goto out;
		}
		t.ms[t.n] = ms_since(t0);
	}
	out_mac(o, "mac", n->mac.b);
	out_cookie(o, "cookie", ovsp_vm_cookie(n->mac.b));
	out_times(o, &t, connect_ms);
out:
	free(t.ms);
	ovsp_close(conn);
	return code;
}

static int print_flow(const struct ovsp_flow *f, void *arg)
{
	struct out *o = arg;

	out_obj_begin(o, NULL);
	out_cookie(o, "cookie", f->cookie);
	out_u64(o, "table", f->table);
	out_u64(o, "priority", f->priority);
	if (f->n_packets == UINT64_MAX)
		out_null(o, "n_packets");
	else
		out_u64(o, "n_packets", f->n_packets);
	if (f->n_bytes == UINT64_MAX)
		out_null(o, "n_bytes");
	else
		out_u64(o, "n_bytes", f->n_bytes);
	out_str(o, "match", f->match);
	out_str(o, "actions", f->actions);
	out_obj_end(o);
	return 0;
}

static int cmd_flows(const struct nmo *n, struct out *o)
{
	struct ovsp_conn *conn = NULL;
	uint64_t cookie = OVSP_COOKIE_TAG, mask = OVSP_COOKIE_TAG_MASK;
	char *err = NULL;
	double connect_ms;
	size_t count;
	int code, ret;

	if ((n->given & OPT_MAC) && (n->given & OPT_ALL))
		return nmo_err(NMO_USAGE, n, "--mac and --all exclude each other");
	if (n->given & OPT_MAC) {
		cookie = ovsp_vm_cookie(n->mac.b);
		mask = UINT64_MAX;
	} else if (n->given & OPT_ALL) {
		cookie = mask = 0;
	}
	code = nmo_open(n, &conn, &connect_ms);
	if (code)
		return code;
	out_cookie(o, "cookie", cookie);
	out_cookie(o, "cookie_mask", mask);
	out_arr_begin(o, "flows");
	ret = ovsp_flows_dump(conn, cookie, mask, print_flow, o, &count, &err);
	out_arr_end(o);
	if (ret) {
		code = nmo_fail(n, ret, err);
		goto out;
	}
	out_u64(o, "count", count);
out:
	ovsp_close(conn);
	return code;
}

static int cmd_ofport(const struct nmo *n, struct out *o)
{
	struct ovsp_conn *conn = NULL;
	char *err = NULL;
	double connect_ms;
	uint32_t ofport;
	int code, ret;

	if (n->nargs != 1)
		return nmo_err(NMO_USAGE, n, "needs one IFNAME argument");
	code = nmo_open(n, &conn, &connect_ms);
	if (code)
		return code;
	ret = ovsp_ofport(conn, n->args[0], &ofport, &err);
	if (ret) {
		code = nmo_fail(n, ret, err);
		goto out;
	}
	out_str(o, "ifname", n->args[0]);
	out_u64(o, "ofport", ofport);
out:
	ovsp_close(conn);
	return code;
}

/* Bridge name for unixctl: --bridge as given, or the BRIDGE of a target
 * ".../BRIDGE.mgmt"; default br-int. */
static const char *nmo_bridge_name(const struct nmo *n, char *buf, size_t len)
{
	const char *b = n->bridge, *slash;
	size_t l;

	if (!b)
		return "br-int";
	if (!strchr(b, '/') && !strchr(b, ':'))
		return b;
	slash = strrchr(b, '/');
	b = slash ? slash + 1 : strrchr(b, ':') + 1;
	l = strlen(b);
	if (l > 5 && strcmp(b + l - 5, ".mgmt") == 0)
		l -= 5;
	snprintf(buf, len, "%.*s", (int)l, b);
	return buf;
}

static int nmo_ctl_open(const struct nmo *n, struct ovsp_ctl **ctl)
{
	char *err = NULL;
	int ret;

	if (!n->ctl)
		return nmo_err(NMO_USAGE, n, "needs --ctl PATH (ovs-vswitchd's unixctl socket)");
	ret = ovsp_ctl_open(n->ctl, n->timeout_ms, ctl, &err);
	if (ret) {
		nmo_err(NMO_FAILURE, n, "%s", err ? err : strerror(-ret));
		free(err);
		return NMO_FAILURE;
	}
	return NMO_OK;
}

static void out_fdb_entry(struct out *o, const struct ovsp_fdb_entry *e)
{
	out_mac(o, "mac", e->mac);
	out_u64(o, "vlan", (uint64_t)e->vlan);
	if (e->ofport == OVSP_OFPORT_LOCAL)
		out_str(o, "ofport", "LOCAL");
	else
		out_u64(o, "ofport", e->ofport);
	out_bool(o, "static", e->is_static);
	if (e->is_static)
		out_null(o, "age");
	else
		out_u64(o, "age", (uint64_t)e->age);
}

static int cmd_fdb_move(const struct nmo *n, struct out *o)
{
	struct ovsp_ctl *ctl = NULL;
	struct ovsp_fdb_entry e;
	char *err = NULL, buf[64];
	const char *br = nmo_bridge_name(n, buf, sizeof buf);
	int code, ret;

	if (!(n->given & OPT_MAC) || !(n->given & OPT_PORT))
		return nmo_err(NMO_USAGE, n, "needs --mac MAC and --port PORT");
	code = nmo_ctl_open(n, &ctl);
	if (code)
		return code;
	ret = ovsp_fdb_move(ctl, br, n->mac.b, n->port, n->vlan, &err);
	/* Read back what the bridge now holds. */
	if (!ret)
		ret = ovsp_fdb_lookup(ctl, br, n->mac.b, n->vlan, &e, &err);
	if (ret) {
		code = nmo_fail(n, ret, err);
		goto out;
	}
	out_str(o, "bridge", br);
	out_str(o, "port", n->port);
	out_fdb_entry(o, &e);
out:
	ovsp_ctl_close(ctl);
	return code;
}

static int cmd_fdb_del(const struct nmo *n, struct out *o)
{
	struct ovsp_ctl *ctl = NULL;
	char *err = NULL, buf[64];
	const char *br = nmo_bridge_name(n, buf, sizeof buf);
	bool removed;
	int code, ret;

	if (!(n->given & OPT_MAC))
		return nmo_err(NMO_USAGE, n, "needs --mac MAC");
	code = nmo_ctl_open(n, &ctl);
	if (code)
		return code;
	ret = ovsp_fdb_del(ctl, br, n->mac.b, n->vlan, &removed, &err);
	if (ret) {
		code = nmo_fail(n, ret, err);
		goto out;
	}
	out_str(o, "bridge", br);
	out_mac(o, "mac", n->mac.b);
	out_u64(o, "vlan", (uint64_t)n->vlan);
	out_bool(o, "removed", removed);
out:
	ovsp_ctl_close(ctl);
	return code;
}

/* Walk state of fdb-show. */
struct fdb_show {
	struct out *o;		/* printer */
	const struct nmo *n;	/* filters */
	size_t count;		/* entries printed */
};

static int show_entry(const struct ovsp_fdb_entry *e, void *arg)
{
	struct fdb_show *s = arg;

	if ((s->n->given & OPT_MAC) && memcmp(e->mac, s->n->mac.b, MAC_LEN))
		return 0;
	if ((s->n->given & OPT_VLAN) && e->vlan != s->n->vlan)
		return 0;
	out_obj_begin(s->o, NULL);
	out_fdb_entry(s->o, e);
	out_obj_end(s->o);
	s->count++;
	return 0;
}

static int cmd_fdb_show(const struct nmo *n, struct out *o)
{
	struct fdb_show s = { o, n, 0 };
	struct ovsp_ctl *ctl = NULL;
	char *err = NULL, buf[64];
	const char *br = nmo_bridge_name(n, buf, sizeof buf);
	int code, ret;

	code = nmo_ctl_open(n, &ctl);
	if (code)
		return code;
	out_str(o, "bridge", br);
	out_arr_begin(o, "entries");
	ret = ovsp_fdb_dump(ctl, br, show_entry, &s, &err);
	out_arr_end(o);
	if (ret) {
		code = nmo_fail(n, ret, err);
		goto out;
	}
	out_u64(o, "count", s.count);
	/* Asked for one MAC: not there is a negative result. */
	if ((n->given & OPT_MAC) && !s.count)
		code = NMO_NEGATIVE;
out:
	ovsp_ctl_close(ctl);
	return code;
}

/* One sub-command. */
struct nmo_cmd {
	const char *name;					/* as typed */
	int (*fn)(const struct nmo *n, struct out *o);		/* runs it */
	unsigned int opts;					/* OPT_* it takes */
	const char *synopsis;					/* for usage */
};

static const struct nmo_cmd nmo_cmds[] = {
	{ "bundle", cmd_bundle, OPT_REPEAT, "bundle FILE|-" },
	{ "vm-install", cmd_vm_point, OPT_MAC | OPT_PORT | OPT_OFPORT | OPT_PRIORITY | OPT_REPEAT,
	  "vm-install --mac MAC --port IFNAME|--ofport N [--priority P]" },
	{ "vm-redirect", cmd_vm_point, OPT_MAC | OPT_PORT | OPT_OFPORT | OPT_PRIORITY | OPT_REPEAT,
	  "vm-redirect --mac MAC --port UPLINK|--ofport N [--priority P]" },
	{ "vm-remove", cmd_vm_remove, OPT_MAC | OPT_REPEAT, "vm-remove --mac MAC" },
	{ "flows", cmd_flows, OPT_MAC | OPT_ALL, "flows [--mac MAC | --all]" },
	{ "ofport", cmd_ofport, 0, "ofport IFNAME" },
	{ "fdb-move", cmd_fdb_move, OPT_MAC | OPT_PORT | OPT_VLAN,
	  "fdb-move --mac MAC --port PORT [--vlan V]" },
	{ "fdb-del", cmd_fdb_del, OPT_MAC | OPT_VLAN, "fdb-del --mac MAC [--vlan V]" },
	{ "fdb-show", cmd_fdb_show, OPT_MAC | OPT_VLAN, "fdb-show [--mac MAC] [--vlan V]" },
};

#define NMO_NCMDS (sizeof nmo_cmds / sizeof nmo_cmds[0])

static void usage(FILE *f)
{
	bool unixctl = false;
	size_t i;

	fprintf(f, "usage: nm-ovs [OPTIONS] COMMAND [ARGS]\n\ncommands (OpenFlow 1.4, need --bridge TARGET):\n");
	for (i = 0; i < NMO_NCMDS; i++) {
		if (!unixctl && strncmp(nmo_cmds[i].name, "fdb-", 4) == 0) {
			fprintf(f, "commands (ovs-vswitchd unixctl, need --ctl PATH):\n");
			unixctl = true;
		}
		fprintf(f, "  %s\n", nmo_cmds[i].synopsis);
	}
	fprintf(f,
		"\noptions:\n"
		"  -b, --bridge B     OpenFlow target: unix:PATH, a socket path, tcp:IP:PORT ($NMOVS_BRIDGE);\n"
		"                     for fdb-* the bridge name (from a .../NAME.mgmt target; default br-int)\n"
		"  -c, --ctl PATH     ovs-vswitchd's unixctl socket ($NMOVS_CTL)\n"
		"  -m, --mac MAC      the VM's MAC address\n"
		"  -p, --port NAME    interface / bridge port name\n"
		"      --ofport N     OpenFlow port number instead of --port\n"
		"      --priority P   flow priority (default %d)\n"
		"      --vlan V       VLAN of the MAC-learning entry (default 0)\n"
		"      --all          flows: every flow, not only netmove's\n"
		"  -r, --repeat N     run the command N times on one connection, report timings\n"
		"  -t, --timeout MS   per-call timeout (default %d)\n"
		"  -j, --json         JSON output\n"
		"  -v, --verbose      OVS's log on stderr (twice: debug)\n"
		"  -h, --help         this help\n"
		"\nexit codes: 0 ok, 1 OVS refused / not found, 2 usage error, 3 failure\n",
		OVSP_VM_PRIORITY, OVSP_TIMEOUT_MS);
}

static int parse_uint(const struct nmo *n, const char *opt, const char *arg, uint64_t min,
		      uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
		return nmo_err(NMO_USAGE, n, "%s: '%s' is not a number in %" PRIu64 "..%" PRIu64, opt,
			       arg, min, max);
	*out = v;
	return NMO_OK;
}

enum { O_OFPORT = 256, O_PRIORITY, O_VLAN, O_ALL };

static int parse_args(int argc, char **argv, struct nmo *n)
{
	static const struct option opts[] = {
		{ "bridge", required_argument, NULL, 'b' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "mac", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "ofport", required_argument, NULL, O_OFPORT },
		{ "priority", required_argument, NULL, O_PRIORITY },
		{ "vlan", required_argument, NULL, O_VLAN },
		{ "all", no_argument, NULL, O_ALL },
		{ "repeat", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:c:m:p:r:t:jvh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			n->bridge = optarg;
			break;
		case 'c':
			n->ctl = optarg;
			break;
		case 'm':
			if (mac_parse(optarg, &n->mac) < 0)
				return nmo_err(NMO_USAGE, n, "--mac: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)",
					       optarg);
			n->given |= OPT_MAC;
			break;
		case 'p':
			if (!*optarg || strlen(optarg) > 255)
				return nmo_err(NMO_USAGE, n, "--port: '%s' is not an interface name", optarg);
			n->port = optarg;
			n->given |= OPT_PORT;
			break;
		case O_OFPORT:
			if (parse_uint(n, "--ofport", optarg, 1, 0xfeff, &v))
				return NMO_USAGE;
			n->ofport = (uint32_t)v;
			n->given |= OPT_OFPORT;
			break;
		case O_PRIORITY:
			if (parse_uint(n, "--priority", optarg, 1, 65535, &v))
				return NMO_USAGE;
			n->priority = (uint16_t)v;
			n->given |= OPT_PRIORITY;
			break;
		case O_VLAN:
			if (parse_uint(n, "--vlan", optarg, 0, 4095, &v))
				return NMO_USAGE;
			n->vlan = (int)v;
			n->given |= OPT_VLAN;
			break;
		case O_ALL:
			n->given |= OPT_ALL;
			break;
		case 'r':
			if (parse_uint(n, "--repeat", optarg, 1, 1000000, &v))
				return NMO_USAGE;
			n->repeat = (unsigned int)v;
			n->given |= OPT_REPEAT;
			break;
		case 't':
			if (parse_uint(n, "--timeout", optarg, 1, 3600000, &v))
				return NMO_USAGE;
			n->timeout_ms = (int)v;
			break;
		case 'j':
			n->json = true;
			break;
		case 'v':
			n->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(NMO_OK);
		case ':':
			return nmo_err(NMO_USAGE, n, "option %s needs a value", argv[optind - 1]);
		default:
			return nmo_err(NMO_USAGE, n, "unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return NMO_USAGE;
	}
	n->cmd = argv[optind];
	n->args = argv + optind + 1;
	n->nargs = argc - optind - 1;
	return NMO_OK;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "--mac", "--port", "--ofport", "--priority",
					     "--vlan", "--repeat", "--all" };
	struct nmo n = { .repeat = 1, .timeout_ms = OVSP_TIMEOUT_MS };
	const struct nmo_cmd *cmd = NULL;
	struct out o;
	size_t i;
	int code;

	n.bridge = getenv("NMOVS_BRIDGE");
	n.ctl = getenv("NMOVS_CTL");
	code = parse_args(argc, argv, &n);
	if (code)
		return code;
	for (i = 0; i < NMO_NCMDS; i++)
		if (strcmp(nmo_cmds[i].name, n.cmd) == 0)
			cmd = &nmo_cmds[i];
	if (!cmd) {
		const char *name = n.cmd;

		n.cmd = NULL;
		return nmo_err(NMO_USAGE, &n, "unknown command '%s' (see --help)", name);
	}
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((n.given & (1u << i)) && !(cmd->opts & (1u << i)))
			return nmo_err(NMO_USAGE, &n, "%s does not apply (usage: nm-ovs %s)", names[i],
				       cmd->synopsis);
	if ((n.given & OPT_PORT) && (n.given & OPT_OFPORT))
		return nmo_err(NMO_USAGE, &n, "give --port or --ofport, not both");
	if (cmd->fn != cmd_bundle && cmd->fn != cmd_ofport && n.nargs)
		return nmo_err(NMO_USAGE, &n, "unexpected argument '%s' (usage: nm-ovs %s)", n.args[0],
			       cmd->synopsis);
	ovsp_set_log(n.verbose);
	out_init(&o, stdout, n.json);
	code = cmd->fn(&n, &o);
	out_finish(&o);
	return code;
}
