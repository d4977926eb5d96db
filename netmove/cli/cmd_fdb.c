/* netmove fdb: show, get, move, delete and watch bridge / VXLAN FDB entries. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "netmove/fdb.h"
#include "netmove/timeutil.h"
#include "cli.h"

/* Options, as bits of what a sub-command accepts and requires; also the
 * getopt_long values, so none may equal ':', '?', 'h' or 'j'. */
enum {
	O_DEV = 1 << 0,
	O_MAC = 1 << 1,
	O_PORT = 1 << 2,
	O_VLAN = 1 << 3,
	O_STATIC = 1 << 4,
	O_DST = 1 << 5,
	O_TIMEOUT = 1 << 6,
	O_UNTIL = 1 << 7,
};

#define WATCH_TIMEOUT_MS 10000
#define WATCH_TIMEOUT_MAX_MS 86400000ULL

/* A parsed sub-command line. */
struct args {
	const char *cmd;	/* "fdb show", ... for messages */
	bool json;
	unsigned int seen;	/* O_* given */
	const char *dev;
	struct mac mac;
	const char *port;
	int vlan;
	bool is_static;
	struct in_addr dst;
	uint64_t timeout_ms;
	const char *until;
	int until_idx;
};

struct sub {
	const char *name;
	int (*run)(struct args *a);
	unsigned int allowed;
	unsigned int required;
	const char *usage;
	const char *options;
	const char *notes;
};

static int run_show(struct args *a);
static int run_get(struct args *a);
static int run_move(struct args *a);
static int run_del(struct args *a);
static int run_watch(struct args *a);

static const char opt_help[] =
	"  -j, --json           JSON output (also accepted before 'fdb')\n"
	"  -h, --help           this help\n";

static const struct sub subs[] = {
	{ "show", run_show, O_DEV | O_MAC, 0,
	  "fdb show [--dev BRIDGE|VXLAN] [--mac MAC]",
	  "  --dev BRIDGE|VXLAN   entries of this bridge (all ports) or on this device\n"
	  "  --mac MAC            only this address\n", "" },
	{ "get", run_get, O_MAC | O_DEV | O_VLAN, O_MAC,
	  "fdb get --mac MAC [--dev BRIDGE] [--vlan V]",
	  "  --mac MAC            address to look up\n"
	  "  --dev BRIDGE         look in this bridge (or on this device) only\n"
	  "  --vlan V             in VLAN V (1-4094); default any, untagged preferred\n",
	  "Prints the entry; exit 1 if there is none.\n" },
	{ "move", run_move, O_MAC | O_PORT | O_STATIC | O_VLAN | O_DEV | O_DST, O_MAC,
	  "fdb move --mac MAC --port PORT [--static] [--vlan V]\n"
	  "       netmove [-j] fdb move --mac MAC --dev VXLAN --dst IP [--static] [--vlan V]",
	  "  --mac MAC            unicast address to move\n"
	  "  --port PORT          bridge port that gets the MAC; its entries elsewhere\n"
	  "                       in the bridge are removed\n"
	  "  --dev VXLAN --dst IP VXLAN device and remote VTEP for the MAC; if the\n"
	  "                       device is a bridge port the bridge entry moves to it\n"
	  "  --static             never ages out (default: dynamic, ages like a learned entry)\n"
	  "  --vlan V             bridge entry in VLAN V (1-4094)\n",
	  "The entry is read back afterwards: exit 3 if it does not match.\n" },
	{ "del", run_del, O_MAC | O_PORT | O_DEV | O_VLAN, O_MAC,
	  "fdb del --mac MAC (--port PORT | --dev VXLAN) [--vlan V]",
	  "  --mac MAC            address to delete\n"
	  "  --port PORT          the bridge entry on this port\n"
	  "  --dev VXLAN          the VXLAN entry (and the bridge entry pointing at it)\n"
	  "  --vlan V             bridge entry in VLAN V (1-4094)\n",
	  "Exit 1 if there was no such entry.\n" },
	{ "watch", run_watch, O_MAC | O_DEV | O_TIMEOUT | O_UNTIL, O_MAC,
	  "fdb watch --mac MAC [--dev BRIDGE] [--timeout MS] [--until-port PORT]",
	  "  --mac MAC            address to watch\n"
	  "  --dev BRIDGE         changes in this bridge (or on this device) only\n"
	  "  --timeout MS         give up after MS ms (1..86400000, default 10000)\n"
	  "  --until-port PORT    run until the entry points at PORT (default: until the\n"
	  "                       first change); exits at once if it already does\n",
	  "Prints the entry first, then each change with its CLOCK_REALTIME time_us\n"
	  "(in JSON one object per line: type initial, event, end); exit 1 on timeout.\n" },
};

#define NSUBS (sizeof(subs) / sizeof(subs[0]))

static void usage(FILE *f)
{
	size_t i;

	for (i = 0; i < NSUBS; i++)
		fprintf(f, "%s netmove [-j] %s\n", i ? "      " : "usage:", subs[i].usage);
	fprintf(f, "\n%s\nRun 'netmove fdb COMMAND --help' for the options of each command.\n"
		   "exit codes: 0 ok, 1 negative result, 2 usage error, 3 failure\n", opt_help);
}

static void sub_usage(FILE *f, const struct sub *s)
{
	fprintf(f, "usage: netmove [-j] %s\n\n%s%s\n%sexit codes: 0 ok, 1 negative result, "
		   "2 usage error, 3 failure\n", s->usage, s->options, opt_help, s->notes);
}

static const char *opt_name(unsigned int bit)
{
	switch (bit) {
	case O_DEV: return "--dev";
	case O_MAC: return "--mac";
	case O_PORT: return "--port";
	case O_VLAN: return "--vlan";
	case O_STATIC: return "--static";
	case O_DST: return "--dst";
	case O_TIMEOUT: return "--timeout";
	default: return "--until-port";
	}
}

static int parse_opt(struct args *a, unsigned int bit, const char *arg)
{
	uint64_t v;

	switch (bit) {
	case O_DEV:
		a->dev = arg;
		return cli_iface(a->cmd, "--dev", arg, NULL);
	case O_MAC:
		if (cli_mac(a->cmd, "--mac", arg, &a->mac) < 0)
			return -EINVAL;
		if (mac_is_zero(&a->mac) || mac_is_multicast(&a->mac)) {
			cli_error(CLI_USAGE, a->cmd, "--mac: '%s' is not a unicast address", arg);
			return -EINVAL;
		}
		return 0;
	case O_PORT:
		a->port = arg;
		return cli_iface(a->cmd, "--port", arg, NULL);
	case O_VLAN:
		if (cli_vlan(a->cmd, "--vlan", arg, &a->vlan) < 0)
			return -EINVAL;
		if (a->vlan < 1 || a->vlan > 4094) {
			cli_error(CLI_USAGE, a->cmd, "--vlan: %d is reserved (use 1 to 4094)", a->vlan);
			return -EINVAL;
		}
		return 0;
	case O_STATIC:
		a->is_static = true;
		return 0;
	case O_DST:
		if (cli_ipv4(a->cmd, "--dst", arg, &a->dst) < 0)
			return -EINVAL;
		if (a->dst.s_addr == htonl(INADDR_ANY) || a->dst.s_addr == htonl(INADDR_BROADCAST)) {
			cli_error(CLI_USAGE, a->cmd, "--dst: '%s' cannot be a VTEP address", arg);
			return -EINVAL;
		}
		return 0;
	case O_TIMEOUT:
		if (cli_uint(a->cmd, "--timeout", arg, 1, WATCH_TIMEOUT_MAX_MS, &v) < 0)
			return -EINVAL;
		a->timeout_ms = v;
		return 0;
	default:
		a->until = arg;
		return cli_iface(a->cmd, "--until-port", arg, &a->until_idx);
	}
}

static int fail(const struct args *a, const char *what, int err)
{
	const char *kmsg = fdb_errmsg();

	return cli_error(CLI_FAILURE, a->cmd, "%s: %s%s%s", what, strerror(-err),
			 *kmsg ? "; kernel: " : "", kmsg);
}

static const char *port_name(const struct fdb_entry *e, char *buf, size_t len)
{
	if (e->ifname[0])
		return e->ifname;
	snprintf(buf, len, "if%d", e->ifindex);
	return buf;
}

/* One entry as keys and values (JSON object members or "key: value"). */
static void emit_entry(struct out *o, const struct fdb_entry *e)
{
	const char *names[FDB_FLAG_NAMES_MAX];
	char mac[MAC_STRLEN], ip[INET_ADDRSTRLEN], port[FDB_IFNAMSIZ + 8];
	int i, n;

	out_str(o, "mac", mac_format(&e->mac, mac));
	out_str(o, "port", port_name(e, port, sizeof(port)));
	out_i64(o, "ifindex", e->ifindex);
	if (e->master_ifindex)
		out_str(o, "master", e->master_name);
	else
		out_null(o, "master");
	if (e->vlan >= 0)
		out_i64(o, "vlan", e->vlan);
	else
		out_null(o, "vlan");
	if (e->has_dst)
		out_str(o, "dst", inet_ntop(AF_INET, &e->dst, ip, sizeof(ip)));
	else
		out_null(o, "dst");
	n = fdb_flag_names(e, names);
	out_str(o, "state", names[0]);
	out_arr_begin(o, "flags");
	for (i = 1; i < n; i++)
		out_str(o, NULL, names[i]);
	out_arr_end(o);
	if (e->age_ms >= 0)
		out_i64(o, "age_ms", e->age_ms);
	else
		out_null(o, "age_ms");
}

static void table_head(FILE *f, bool watch)
{
	if (watch)
		fprintf(f, "%-16s %-7s ", "TIME_US", "EVENT");
	fprintf(f, "%-17s %-15s %-15s %-4s %-24s %-15s %s\n",
		"MAC", "PORT", "MASTER", "VLAN", "FLAGS", "DST", "AGE");
}

static void table_row(FILE *f, const struct fdb_entry *e)
{
	char mac[MAC_STRLEN], ip[INET_ADDRSTRLEN], vlan[8], age[24], flags[80];
	char port[FDB_IFNAMSIZ + 8];

	snprintf(vlan, sizeof(vlan), "%d", e->vlan);
	snprintf(age, sizeof(age), "%.2fs", (double)e->age_ms / 1000);
	fprintf(f, "%-17s %-15s %-15s %-4s %-24s %-15s %s\n", mac_format(&e->mac, mac),
		port_name(e, port, sizeof(port)), e->master_ifindex ? e->master_name : "-",
		e->vlan >= 0 ? vlan : "-", fdb_flags_format(e, flags, sizeof(flags)),
		e->has_dst ? inet_ntop(AF_INET, &e->dst, ip, sizeof(ip)) : "-",
		e->age_ms >= 0 ? age : "-");
}

struct show {
	struct args *a;
	struct out *o;
};

static int show_one(const struct fdb_entry *e, void *arg)
{
	struct show *s = arg;

	if ((s->a->seen & O_MAC) && !mac_equal(&e->mac, &s->a->mac))
		return 0;
	if (s->o->json) {
		out_obj_begin(s->o, NULL);
		emit_entry(s->o, e);
		out_obj_end(s->o);
	} else {
		table_row(stdout, e);
	}
	return 0;
}

static int run_show(struct args *a)
{
	struct cli_ctx ctx = { .json = a->json };
	struct show s = { .a = a };
	struct out o;
	int ret;

	cli_out(&o, &ctx);
	s.o = &o;
	if (o.json)
		out_arr_begin(&o, "entries");
	else
		table_head(stdout, false);
	ret = fdb_list(a->dev, show_one, &s);
	if (o.json)
		out_arr_end(&o);
	out_finish(&o);
	if (ret == -ENODEV)
		return cli_error(CLI_FAILURE, a->cmd, "device '%s' disappeared", a->dev);
	if (ret < 0)
		return fail(a, "cannot read the FDB", ret);
	return CLI_OK;
}

static void where(const struct args *a, const char *dev, char *buf, size_t len)
{
	char mac[MAC_STRLEN];

	snprintf(buf, len, "%s%s%s", mac_format(&a->mac, mac), dev ? " on " : "", dev ? dev : "");
	if (a->seen & O_VLAN)
		snprintf(buf + strlen(buf), len - strlen(buf), " in VLAN %d", a->vlan);
}

static int run_get(struct args *a)
{
	struct cli_ctx ctx = { .json = a->json };
	struct fdb_entry e;
	char desc[96], mac[MAC_STRLEN];
	struct out o;
	int ret;

	ret = fdb_get(&a->mac, a->dev, (a->seen & O_VLAN) ? a->vlan : FDB_VLAN_ANY, &e);
	where(a, a->dev, desc, sizeof(desc));
	if (ret == -ENOENT) {
		if (a->json) {
			cli_out(&o, &ctx);
			out_str(&o, "mac", mac_format(&a->mac, mac));
			out_bool(&o, "found", false);
			out_finish(&o);
		}
		return cli_error(CLI_NEGATIVE, a->cmd, "no FDB entry for %s", desc);
	}
	if (ret == -ENODEV)
		return cli_error(CLI_FAILURE, a->cmd, "device '%s' disappeared", a->dev);
	if (ret < 0)
		return fail(a, "cannot read the FDB", ret);
	cli_out(&o, &ctx);
	out_bool(&o, "found", true);
	emit_entry(&o, &e);
	out_finish(&o);
	return CLI_OK;
}

/* Build the spec of move/del from --port or --dev; CLI_OK or CLI_USAGE. */
static int make_spec(struct args *a, bool need_dst, struct fdb_spec *spec)
{
	bool port = a->seen & O_PORT, dev = a->seen & O_DEV, dst = a->seen & O_DST;

	if (port == dev)
		return cli_error(CLI_USAGE, a->cmd, "give either --port PORT or --dev VXLAN%s",
				 need_dst ? " --dst IP" : "");
	if (port && dst)
		return cli_error(CLI_USAGE, a->cmd, "--dst goes with --dev VXLAN, not with --port");
	if (dev && need_dst && !dst)
		return cli_error(CLI_USAGE, a->cmd, "--dev %s needs --dst IP (the remote VTEP); "
				 "use --port to move to a bridge port", a->dev);
	memset(spec, 0, sizeof(*spec));
	spec->mac = a->mac;
	spec->dev = port ? a->port : a->dev;
	spec->vlan = (a->seen & O_VLAN) ? a->vlan : FDB_VLAN_NONE;
	spec->is_static = a->is_static;
	spec->remote = dev;
	spec->dst = a->dst;
	if (fdb_spec_check(spec) < 0)
		return cli_error(CLI_USAGE, a->cmd, "invalid entry (check --mac, --vlan, --dst)");
	return CLI_OK;
}

/* Explain an error of fdb_replace / fdb_delete. */
static int spec_error(const struct args *a, const struct fdb_spec *spec, const char *what,
		      int err)
{
	switch (err) {
	case -ENODEV:
		return cli_error(CLI_FAILURE, a->cmd, "device '%s' disappeared", spec->dev);
	case -ENOTCONN:
		return cli_error(CLI_FAILURE, a->cmd, "%s is not a bridge port (it has no master)",
				 spec->dev);
	case -EOPNOTSUPP:
		if (spec->remote)
			return cli_error(CLI_FAILURE, a->cmd, "%s is not a VXLAN device", spec->dev);
		return cli_error(CLI_FAILURE, a->cmd, "the master of %s is not a Linux bridge",
				 spec->dev);
	case -EINVAL:
		if (spec->remote && spec->vlan != FDB_VLAN_NONE)
			return cli_error(CLI_FAILURE, a->cmd, "--vlan with --dev needs %s to be "
					 "a bridge port", spec->dev);
		if (!spec->remote && spec->vlan != FDB_VLAN_NONE && !*fdb_errmsg())
			return cli_error(CLI_FAILURE, a->cmd, "%s: the kernel refused VLAN %d on %s "
					 "(is the bridge VLAN-filtering, with the VLAN on the port?)",
					 what, spec->vlan, spec->dev);
		break;
	}
	return fail(a, what, err);
}

static void emit_action(struct out *o, const char *action, const struct fdb_spec *spec)
{
	char mac[MAC_STRLEN], ip[INET_ADDRSTRLEN];

	out_str(o, "action", action);
	out_str(o, "mac", mac_format(&spec->mac, mac));
	out_str(o, spec->remote ? "dev" : "port", spec->dev);
	if (spec->remote && spec->dst.s_addr)
		out_str(o, "dst", inet_ntop(AF_INET, &spec->dst, ip, sizeof(ip)));
	if (spec->vlan >= 0)
		out_i64(o, "vlan", spec->vlan);
	else
		out_null(o, "vlan");
}

static int run_move(struct args *a)
{
	struct cli_ctx ctx = { .json = a->json };
	struct fdb_spec spec;
	struct fdb_entry e;
	struct out o;
	int ret;

	ret = make_spec(a, true, &spec);
	if (ret != CLI_OK)
		return ret;
	ret = fdb_replace(&spec);
	if (ret < 0)
		return spec_error(a, &spec, "cannot replace the entry", ret);
	ret = fdb_check(&spec, &e);
	cli_out(&o, &ctx);
	emit_action(&o, "move", &spec);
	out_str(&o, "state", spec.is_static ? "static" : "dynamic");
	out_bool(&o, "verified", ret == 0);
	if (ret == 0 || ret == -ESTALE) {
		out_obj_begin(&o, "entry");
		emit_entry(&o, &e);
		out_obj_end(&o);
	}
	out_finish(&o);
	if (ret == -ENOENT)
		return cli_error(CLI_FAILURE, a->cmd, "read-back: the kernel has no entry for "
				 "the MAC after the replace");
	if (ret == -ESTALE)
		return cli_error(CLI_FAILURE, a->cmd, "read-back: the entry does not match what "
				 "was asked (see 'entry')");
	if (ret < 0)
		return fail(a, "cannot read the entry back", ret);
	return CLI_OK;
}

static int run_del(struct args *a)
{
	struct cli_ctx ctx = { .json = a->json };
	struct fdb_spec spec;
	char desc[96];
	struct out o;
	int ret;

	if (a->seen & O_DST)
		return cli_error(CLI_USAGE, a->cmd, "--dst is not an option of 'fdb del'");
	ret = make_spec(a, false, &spec);
	if (ret != CLI_OK)
		return ret;
	ret = fdb_delete(&spec);
	if (ret == -ENOENT) {
		where(a, spec.dev, desc, sizeof(desc));
		return cli_error(CLI_NEGATIVE, a->cmd, "no FDB entry for %s", desc);
	}
	if (ret < 0)
		return spec_error(a, &spec, "cannot delete the entry", ret);
	cli_out(&o, &ctx);
	emit_action(&o, "delete", &spec);
	out_bool(&o, "deleted", true);
	out_finish(&o);
	return CLI_OK;
}

/* One watch line: a table row, or a JSON document of its own. */
static void watch_line(const struct args *a, const char *type, const char *event,
		       uint64_t time_ns, const struct fdb_entry *e)
{
	struct cli_ctx ctx = { .json = true };
	struct out o;

	if (!a->json) {
		printf("%-16llu %-7s ", (unsigned long long)(time_ns / NSEC_PER_USEC), event);
		if (e) {
			table_row(stdout, e);
		} else {
			char mac[MAC_STRLEN];

			printf("%-17s (no entry)\n", mac_format(&a->mac, mac));
		}
		fflush(stdout);
		return;
	}
	cli_out(&o, &ctx);
	out_str(&o, "type", type);
	out_u64(&o, "time_us", time_ns / NSEC_PER_USEC);
	out_str(&o, "event", event);
	out_bool(&o, "found", e != NULL);
	if (e) {
		emit_entry(&o, e);
	} else {
		char mac[MAC_STRLEN];

		out_str(&o, "mac", mac_format(&a->mac, mac));
	}
	out_finish(&o);
}

/* The last line: result is "reached", "already", "changed" or "timeout". */
static int watch_end(const struct args *a, const char *result, int events, int code)
{
	struct cli_ctx ctx = { .json = true };
	struct out o;

	if (a->json) {
		cli_out(&o, &ctx);
		out_str(&o, "type", "end");
		out_str(&o, "result", result);
		out_i64(&o, "events", events);
		out_finish(&o);
		return code;
	}
	if (strcmp(result, "already") == 0)
		printf("already on %s\n", a->until);
	else if (strcmp(result, "reached") == 0)
		printf("reached %s after %d change%s\n", a->until, events, events == 1 ? "" : "s");
	else if (strcmp(result, "changed") == 0)
		printf("changed\n");
	fflush(stdout);
	return code;
}

static bool at_until(const struct args *a, const struct fdb_entry *e)
{
	return a->until && e->ifindex == a->until_idx && !e->local;
}

static int run_watch(struct args *a)
{
	uint64_t deadline = 0, now, left = FDB_FOREVER;
	struct fdb_watch *w = NULL;
	struct fdb_event ev;
	struct fdb_entry e;
	int ret, code, events = 0;

	if (a->timeout_ms)
		deadline = timeutil_mono_ns() + a->timeout_ms * NSEC_PER_MSEC;
	/* Subscribe first so that no change between the read and the watch is lost. */
	ret = fdb_watch_open(&a->mac, a->dev, &w);
	if (ret < 0)
		return fail(a, "cannot watch the FDB", ret);
	ret = fdb_get(&a->mac, a->dev, FDB_VLAN_ANY, &e);
	if (ret < 0 && ret != -ENOENT) {
		code = fail(a, "cannot read the FDB", ret);
		goto out;
	}
	if (!a->json)
		table_head(stdout, true);
	watch_line(a, "initial", "initial", timeutil_real_ns(), ret == 0 ? &e : NULL);
	if (ret == 0 && at_until(a, &e)) {
		code = watch_end(a, "already", 0, CLI_OK);
		goto out;
	}
	for (;;) {
		if (a->timeout_ms) {
			now = timeutil_mono_ns();
			left = deadline > now ? deadline - now : 0;
		}
		ret = fdb_watch_next(w, left, &ev);
		if (ret == -ETIMEDOUT) {
			watch_end(a, "timeout", events, CLI_NEGATIVE);
			if (a->until)
				code = cli_error(CLI_NEGATIVE, a->cmd, "the entry did not reach %s "
						 "within %llu ms", a->until,
						 (unsigned long long)a->timeout_ms);
			else
				code = cli_error(CLI_NEGATIVE, a->cmd, "no change within %llu ms",
						 (unsigned long long)a->timeout_ms);
			goto out;
		}
		if (ret == -ENOBUFS) {
			cli_error(0, a->cmd, "warning: changes were lost (socket overflow)");
			if (fdb_get(&a->mac, a->dev, FDB_VLAN_ANY, &e) == 0 && at_until(a, &e)) {
				watch_line(a, "event", "reread", timeutil_real_ns(), &e);
				code = watch_end(a, "reached", ++events, CLI_OK);
				goto out;
			}
			continue;
		}
		if (ret < 0) {
			code = fail(a, "cannot watch the FDB", ret);
			goto out;
		}
		events++;
		watch_line(a, "event", ev.deleted ? "del" : "new", ev.time_ns, &ev.entry);
		if (!a->until) {
			code = watch_end(a, "changed", events, CLI_OK);
			goto out;
		}
		if (!ev.deleted && at_until(a, &ev.entry)) {
			code = watch_end(a, "reached", events, CLI_OK);
			goto out;
		}
	}
out:
	fdb_watch_close(w);
	return code;
}

static const struct option sub_opts[] = {
	{ "dev", required_argument, NULL, O_DEV },
	{ "mac", required_argument, NULL, O_MAC },
	{ "port", required_argument, NULL, O_PORT },
	{ "vlan", required_argument, NULL, O_VLAN },
	{ "static", no_argument, NULL, O_STATIC },
	{ "dst", required_argument, NULL, O_DST },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "until-port", required_argument, NULL, O_UNTIL },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static int bad_option(const char *cmd, int c, int optc, char **argv)
{
	const char *opt = argv[optind - 1];

	if (c == ':')
		return cli_error(CLI_USAGE, cmd, "option '%s' needs a value (see netmove %s --help)",
				 opt, cmd);
	if (optc && strncmp(opt, "--", 2) != 0)
		return cli_error(CLI_USAGE, cmd, "unknown option '-%c' (see netmove %s --help)",
				 optc, cmd);
	return cli_error(CLI_USAGE, cmd, "unknown option '%s' (see netmove %s --help)", opt, cmd);
}

static int run_sub(const struct sub *s, int argc, char **argv, bool json)
{
	struct args a = { .json = json, .vlan = FDB_VLAN_NONE, .timeout_ms = WATCH_TIMEOUT_MS };
	unsigned int missing;
	char cmd[16];
	int c;

	snprintf(cmd, sizeof(cmd), "fdb %s", s->name);
	a.cmd = cmd;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hj", sub_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			sub_usage(stdout, s);
			return CLI_OK;
		case 'j':
			a.json = true;
			break;
		case ':':
		case '?':
			return bad_option(cmd, c, optopt, argv);
		default:
			if (!(s->allowed & (unsigned int)c))
				return cli_error(CLI_USAGE, cmd, "%s is not an option of 'fdb %s' "
						 "(see netmove %s --help)", opt_name((unsigned int)c),
						 s->name, cmd);
			if (parse_opt(&a, (unsigned int)c, optarg) < 0)
				return CLI_USAGE;
			a.seen |= (unsigned int)c;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s' (see netmove %s --help)",
				 argv[optind], cmd);
	missing = s->required & ~a.seen;
	if (missing)
		return cli_error(CLI_USAGE, cmd, "%s is required (see netmove %s --help)",
				 opt_name(missing & -missing), cmd);
	return s->run(&a);
}

int cmd_fdb(int argc, char **argv, const struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool json = ctx->json;
	size_t i;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			bad_option("fdb", c, optopt, argv);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error(CLI_USAGE, "fdb", "missing command");
		usage(stderr);
		return CLI_USAGE;
	}
	for (i = 0; i < NSUBS; i++) {
		if (strcmp(argv[optind], subs[i].name) == 0 ||
		    (strcmp(argv[optind], "delete") == 0 && subs[i].run == run_del)) {
			argc -= optind;
			argv += optind;
			optind = 0;
			return run_sub(&subs[i], argc, argv, json);
		}
	}
	return cli_error(CLI_USAGE, "fdb", "unknown command '%s' (show, get, move, del, watch)",
			 argv[optind]);
}
