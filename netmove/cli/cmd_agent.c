/* netmove relocate / event / status / journal: requests to the local agent. */
#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "timeline.h"
#include "netmove/journal.h"
#include "netmove/agentc.h"
#include "netmove/ctl.h"
#include "netmove/mac.h"
#include "netmove/proto.h"

#define AGENT_TIMEOUT_MS 30000

/* Send req to the agent at path and print its answer; returns an exit code. */
static int transact(const char *cmd, const char *path, struct ctl_msg *req, bool json,
		    bool lines)
{
	struct ctl_msg rep;
	const void *v;
	size_t off = 0, len;
	uint16_t tag;
	int ret, n = 0;

	ctl_msg_init(&rep, 0);
	ret = agentc_transact(path, req, &rep, AGENT_TIMEOUT_MS);
	if (ret < 0) {
		ctl_msg_free(&rep);
		return cli_error(CLI_FAILURE, cmd, "netmoved at %s: %s", path, strerror(-ret));
	}
	if (lines && json)
		fputc('[', stdout);
	while (ctl_next(&rep, &off, &tag, &v, &len)) {
		if (tag != A_TEXT)
			continue;
		if (lines && json && n++)
			fputc(',', stdout);
		fwrite(v, 1, len, rep.type == PROTO_REP_OK ? stdout : stderr);
		if (!lines || !json)
			fputc('\n', rep.type == PROTO_REP_OK ? stdout : stderr);
	}
	if (lines && json)
		fputs("]\n", stdout);
	ret = rep.type == PROTO_REP_OK ? CLI_OK : CLI_NEGATIVE;
	ctl_msg_free(&rep);
	return ret;
}

static void relocate_usage(FILE *f)
{
	fprintf(f,
		"usage: netmove relocate --mac MAC --ip IP --to HOST --port IF [--dst-port IF]\n"
		"                        [--priority N] [--at TIME [--window SPAN]] [--socket PATH]\n"
		"       netmove relocate --pull --mac MAC --ip IP --port IF [--from HOST]\n"
		"                        [--priority N] [--at TIME [--window SPAN]] [--socket PATH]\n\n"
		"Ask this host's netmoved (the source) to relocate the VM's network identity to\n"
		"HOST: PREPARE runs now (destination flows + buffer armed); the hypervisor then\n"
		"signals `netmove event blackout` here and `netmove event resumed` on HOST.\n"
		"With --pull this host is the destination: its netmoved asks its peers (or\n"
		"HOST) and the one whose OVS has the MAC on a port (external_ids:attached-mac)\n"
		"relocates the VM here; it returns once this host is prepared.\n"
		"  --port IF      the VM's port on this host\n"
		"  --dst-port IF  the VM's port on the destination (default: same name)\n"
		"  --from HOST    with --pull: the source (default: ask every peer)\n"
		"  --priority N   0..100 (default 50): where the destination takes no more at\n"
		"                 once (netmoved --max-per-peer), queued relocations start\n"
		"                 higher first, then in the order asked\n"
		"  --at TIME      not now: netmoved keeps the request (across restarts) and\n"
		"                 makes it then; TIME is 2026-12-03T02:00:00Z (UTC), @SECONDS\n"
		"                 or +SPAN (+30m); see `netmove schedule` to list or cancel\n"
		"  --window SPAN  with --at: not begun within SPAN of TIME (netmoved was\n"
		"                 down), it is missed, not begun late (default 15m, at most 7d)\n"
		"                 A relocation prepared ahead is joined by the migration's own\n"
		"                 `relocate` (its hook): that answers \"prepared\" at once.\n"
		"exit codes: 0 prepared (or scheduled), 1 refused or failed, 2 usage,\n"
		"3 agent unreachable\n");
}

static int do_relocate(int argc, char **argv, struct cli_ctx *ctx, const char *sock)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "dst-port", required_argument, NULL, 'd' },
		{ "pull", no_argument, NULL, 'P' },
		{ "priority", required_argument, NULL, 'r' },
		{ "at", required_argument, NULL, 'A' },
		{ "window", required_argument, NULL, 'w' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "relocate", *to = NULL, *from = NULL, *port = NULL, *dport = NULL;
	struct mac mac;
	struct in_addr ip;
	bool have_mac = false, have_ip = false, pull = false, have_window = false;
	uint64_t priority = PROTO_PRIORITY_DEFAULT, at = 0, window = 0;
	struct ctl_msg m;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (cli_mac(cmd, "--mac", optarg, &mac) < 0)
				return CLI_USAGE;
			have_mac = true;
			break;
		case 'a':
			if (cli_ipv4(cmd, "--ip", optarg, &ip) < 0)
				return CLI_USAGE;
			have_ip = true;
			break;
		case 't': to = optarg; break;
		case 'f': from = optarg; break;
		case 'P': pull = true; break;
		case 'r':
			if (cli_uint(cmd, "--priority", optarg, 0, PROTO_PRIORITY_MAX, &priority) < 0)
				return CLI_USAGE;
			break;
		case 'A':
			if (cli_time(cmd, "--at", optarg, &at) < 0)
				return CLI_USAGE;
			break;
		case 'w':
			if (cli_span(cmd, "--window", optarg, &window) < 0)
				return CLI_USAGE;
			have_window = true;
			break;
		case 'p': port = optarg; break;
		case 'd': dport = optarg; break;
		case 's': sock = optarg; break;
		case 'j': ctx->json = true; break;
		case 'h':
			relocate_usage(stdout);
			return CLI_OK;
		default:
			relocate_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	if (pull && (to || dport))
		return cli_error(CLI_USAGE, cmd, "--pull relocates to this host: no --to, --dst-port");
	if (!pull && from)
		return cli_error(CLI_USAGE, cmd, "--from goes with --pull (the source is this host)");
	if (!have_mac || !have_ip || (!pull && !to) || !port)
		return cli_error(CLI_USAGE, cmd, "--mac, --ip, --port and --to (or --pull) are required");
	if (have_window && !at)
		return cli_error(CLI_USAGE, cmd, "--window goes with --at");
	if (mac_is_multicast(&mac) || mac_is_zero(&mac))
		return cli_error(CLI_USAGE, cmd, "--mac must be a unicast address");
	if (to && (!*to || strlen(to) >= 32))
		return cli_error(CLI_USAGE, cmd, "--to: '%s' is not a host name", to);
	if (from && (!*from || strlen(from) >= 32))
		return cli_error(CLI_USAGE, cmd, "--from: '%s' is not a host name", from);
	/* The port lives in the agent's namespace, not necessarily in ours. */
	if (!*port || strlen(port) >= 16 || strchr(port, '/'))
		return cli_error(CLI_USAGE, cmd, "--port: '%s' is not an interface name", port);
	if (dport && (strlen(dport) >= 16 || !*dport))
		return cli_error(CLI_USAGE, cmd, "--dst-port: '%s' is not an interface name", dport);
	ctl_msg_init(&m, PROTO_REQ_RELOCATE);
	ret = pull ? agentc_pull_msg(&m, &mac, ip, port, from) :
		     agentc_relocate_msg(&m, &mac, ip, to, port, dport);
	if (ret == 0)
		ret = ctl_put_u64(&m, A_PRIORITY, priority);
	if (ret == 0 && at)
		ret = ctl_put_u64(&m, A_AT, at);
	if (ret == 0 && have_window)
		ret = ctl_put_u64(&m, A_WINDOW, window);
	if (ret < 0) {
		ctl_msg_free(&m);
		return cli_error(CLI_FAILURE, cmd, "%s", strerror(-ret));
	}
	ret = transact(cmd, sock, &m, ctx->json, false);
	ctl_msg_free(&m);
	return ret;
}

static void event_usage(FILE *f)
{
	fprintf(f,
		"usage: netmove event blackout|resumed|failed --mac MAC [--stopped-us US]\n"
		"                     [--reader-keeps-one]\n"
		"                     [--last-rx HASH:LEN|none [--rx-after HDR:LEN,...]]\n"
		"                     [--socket PATH]\n\n"
		"Tell this host's netmoved what the hypervisor did: `blackout` on the source\n"
		"when the VM stops (returns once frames for it are being buffered), `resumed`\n"
		"on the destination when it runs there, `failed` to roll back.\n"
		"--stopped-us: when the VM stopped, CLOCK_REALTIME microseconds (QEMU's STOP\n"
		"event timestamp), for a blackout signalled after the stop: the journal\n"
		"records how late it came.\n"
		"--reader-keeps-one: with --stopped-us, the tap's reader keeps the first frame\n"
		"it reads after the stop and never delivers it (QEMU's user-space net): the\n"
		"source sends that frame on from the copies it logged.\n"
		"--last-rx HASH:LEN|none: with --reader-keeps-one, the newest frame the VM's\n"
		"NIC received before the stop whose bytes could be read from the guest's RX\n"
		"ring (its frame_hash, FNV-1a 32, and its length), or none if none could;\n"
		"--rx-after HDR:LEN,...: the NIC's header length and the bytes it wrote into\n"
		"each buffer after that frame (or the newest ones), oldest first, at most 64.\n"
		"Every frame the reader took that did not reach the guest was lost in the\n"
		"reader, and the source sends those on.\n"
		"exit codes: 0 accepted, 1 refused (no such relocation), 2 usage, 3 agent\n"
		"unreachable\n");
}

/* --last-rx HASH:LEN or none into stop. */
static int parse_last_rx(const char *arg, struct agentc_stop *stop)
{
	unsigned long long h, l = 0;
	char *end, *end2 = NULL;

	stop->flags |= AGENTC_LAST_RX;
	if (!strcmp(arg, "none"))
		return 0;	/* no anchor: --rx-after alone */
	errno = 0;
	h = strtoull(arg, &end, 0);
	if (!errno && end != arg && *end == ':' && end[1] != '-')
		l = strtoull(end + 1, &end2, 10);
	if (errno || !end2 || end2 == end + 1 || *end2 || h > UINT32_MAX || !l ||
	    l > UINT32_MAX || arg[0] == '-')
		return -EINVAL;
	stop->rx.hash = (uint32_t)h;
	stop->rx.len = (uint32_t)l;
	return 0;
}

/* --rx-after HDR:LEN,LEN,... into stop. */
static int parse_rx_after(const char *arg, struct agentc_stop *stop)
{
	unsigned long long v;
	const char *p = arg;
	char *end;

	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno || end == p || *end != ':' || v > 255 || *p == '-')
		return -EINVAL;
	stop->rx.hdr_len = (uint8_t)v;
	stop->rx.nafter = 0;
	do {
		p = end + 1;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || end == p || *p == '-' || !v || v > UINT32_MAX ||
		    (*end && *end != ',') || stop->rx.nafter == GUESTRX_AFTER_MAX)
			return -EINVAL;
		stop->rx.after[stop->rx.nafter++] = (uint32_t)v;
	} while (*end);
	return 0;
}

static int do_event(int argc, char **argv, struct cli_ctx *ctx, const char *sock)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "socket", required_argument, NULL, 's' },
		{ "stopped-us", required_argument, NULL, 'S' },
		{ "reader-keeps-one", no_argument, NULL, 'K' },
		{ "last-rx", required_argument, NULL, 'L' },
		{ "rx-after", required_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "event", *kind;
	struct agentc_stop stop = { 0 };
	bool have_mac = false, have_after = false;
	struct ctl_msg m;
	struct mac mac;
	int c, ret;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			event_usage(stdout);
			return CLI_OK;
		}
		event_usage(stderr);
		return CLI_USAGE;
	}
	kind = argv[1];
	if (strcmp(kind, "blackout") && strcmp(kind, "resumed") && strcmp(kind, "failed"))
		return cli_error(CLI_USAGE, cmd, "'%s' is not an event (blackout, resumed, failed)",
				 kind);
	argc--;
	argv++;
	optind = 0;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (cli_mac(cmd, "--mac", optarg, &mac) < 0)
				return CLI_USAGE;
			have_mac = true;
			break;
		case 's': sock = optarg; break;
		case 'S':
			if (cli_uint(cmd, "--stopped-us", optarg, 1, UINT64_MAX, &stop.stopped_us) < 0)
				return CLI_USAGE;
			break;
		case 'K': stop.flags |= AGENTC_READER_KEEPS_ONE; break;
		case 'L':
			if (parse_last_rx(optarg, &stop) < 0)
				return cli_error(CLI_USAGE, cmd, "--last-rx: '%s' is not HASH:LEN",
						 optarg);
			break;
		case 'A':
			if (parse_rx_after(optarg, &stop) < 0)
				return cli_error(CLI_USAGE, cmd, "--rx-after: '%s' is not HDR:LEN,... "
						 "(header 0..255, 1 to %d lengths from 1)", optarg,
						 GUESTRX_AFTER_MAX);
			have_after = true;
			break;
		case 'j': ctx->json = true; break;
		case 'h':
			event_usage(stdout);
			return CLI_OK;
		default:
			event_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	if (!have_mac)
		return cli_error(CLI_USAGE, cmd, "--mac is required");
	if (stop.flags && !stop.stopped_us)
		return cli_error(CLI_USAGE, cmd, "--reader-keeps-one and --last-rx go with --stopped-us");
	if ((stop.flags & AGENTC_LAST_RX) && !(stop.flags & AGENTC_READER_KEEPS_ONE))
		return cli_error(CLI_USAGE, cmd, "--last-rx goes with --reader-keeps-one");
	if (have_after && !(stop.flags & AGENTC_LAST_RX))
		return cli_error(CLI_USAGE, cmd, "--rx-after goes with --last-rx");
	if ((stop.flags & AGENTC_LAST_RX) && !stop.rx.len && !have_after)
		return cli_error(CLI_USAGE, cmd, "--last-rx none needs --rx-after");
	ctl_msg_init(&m, PROTO_REQ_EVENT);
	if (agentc_event_msg(&m, kind, &mac, &stop) < 0) {
		ctl_msg_free(&m);
		return cli_error(CLI_FAILURE, cmd, "out of memory");
	}
	ret = transact(cmd, sock, &m, ctx->json, false);
	ctl_msg_free(&m);
	return ret;
}

static int do_status(int argc, char **argv, struct cli_ctx *ctx, const char *sock)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = argv[0];
	struct ctl_msg m;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'j': ctx->json = true; break;
		case 'h':
			printf("usage: netmove status [--socket PATH] [-j]\n"
			       "Relocations this agent runs or ran, with phase times and counters.\n");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	ctl_msg_init(&m, PROTO_REQ_STATUS);
	ctl_put_u64(&m, A_JSON, ctx->json);
	ret = transact(cmd, sock, &m, ctx->json, false);
	ctl_msg_free(&m);
	return ret;
}

static void schedule_usage(FILE *f)
{
	fprintf(f,
		"usage: netmove schedule [list] [--socket PATH] [-j]\n"
		"       netmove schedule cancel ID [--socket PATH]\n\n"
		"The relocations this host's netmoved keeps for later (`netmove relocate\n"
		"--at`), in the order they begin, with who asked; or take one off (it is\n"
		"journaled, with who cancelled it).\n"
		"exit codes: 0 ok, 1 refused (no such entry), 2 usage, 3 agent unreachable\n");
}

static int do_schedule(int argc, char **argv, struct cli_ctx *ctx, const char *sock)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "schedule", *verb = "list";
	struct ctl_msg m;
	uint64_t id = 0;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'j': ctx->json = true; break;
		case 'h':
			schedule_usage(stdout);
			return CLI_OK;
		default:
			schedule_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		verb = argv[optind++];
	if (!strcmp(verb, "cancel")) {
		if (optind >= argc)
			return cli_error(CLI_USAGE, cmd, "cancel needs the entry's id");
		if (cli_uint(cmd, "cancel", argv[optind++], 1, UINT64_MAX, &id) < 0)
			return CLI_USAGE;
	} else if (strcmp(verb, "list")) {
		return cli_error(CLI_USAGE, cmd, "'%s' is not list or cancel", verb);
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	ctl_msg_init(&m, id ? PROTO_REQ_CANCEL : PROTO_REQ_SCHEDULE);
	ret = id ? ctl_put_u64(&m, A_ID, id) : ctl_put_u64(&m, A_JSON, ctx->json);
	ret = ret < 0 ? cli_error(CLI_FAILURE, cmd, "%s", strerror(-ret)) :
			transact(cmd, sock, &m, ctx->json, false);
	ctl_msg_free(&m);
	return ret;
}

static void journal_usage(FILE *f)
{
	fprintf(f,
		"usage: netmove journal [--mac MAC] [--host HOST] [--outcome TEXT] [--id N]\n"
		"                       [--since TIME] [--until TIME] [--limit N]\n"
		"                       [--socket PATH] [-j]\n\n"
		"The agent's audit trail: one JSON object per line (JSON lines), each a\n"
		"relocation's start or end on this host, saying who asked for it.  The\n"
		"filters together: the MAC, a host it names (host, from or to), the\n"
		"outcome (e.g. committed, \"rolled back\", interrupted, \"in progress\"),\n"
		"the relocation id, written in [--since, --until].  --limit: the newest N\n"
		"lines that pass (default 100).  -j: one JSON array instead.\n"
		"TIME: 2026-12-03T08:00:00Z, 2026-12-03 (UTC), @SECONDS, now, -15m, +2h.\n"
		"\n"
		"       netmove journal --svg FILE --id N [--also JOURNAL]... [--socket PATH]\n"
		"Draws relocation N as SVG into FILE (- for stdout): each host's phases, the\n"
		"VM's pause, the resume, first announcement, upstream FDB and first replay.\n"
		"This agent's journal has its own side; --also reads another journal file\n"
		"(the other host's) for the other side.\n");
}

static int take_line(const char *line, void *arg)
{
	(void)timeline_add(arg, line);
	return 0;
}

/* netmove journal --svg: relocation t->id from the agent's journal (req) and
 * the files in also, drawn into path. */
static int journal_svg(const char *cmd, const char *sock, struct ctl_msg *req, struct timeline *t,
		       char **also, int nalso, const char *path)
{
	struct ctl_msg rep;
	const void *v;
	size_t off = 0, len;
	uint16_t tag;
	char *line;
	FILE *f;
	int i, ret;

	ctl_msg_init(&rep, 0);
	ret = agentc_transact(sock, req, &rep, AGENT_TIMEOUT_MS);
	if (ret < 0) {
		ctl_msg_free(&rep);
		return cli_error(CLI_FAILURE, cmd, "netmoved at %s: %s", sock, strerror(-ret));
	}
	while (rep.type == PROTO_REP_OK && ctl_next(&rep, &off, &tag, &v, &len)) {
		if (tag != A_TEXT || !(line = strndup(v, len)))
			continue;
		(void)timeline_add(t, line);
		free(line);
	}
	ctl_msg_free(&rep);
	for (i = 0; i < nalso; i++) {
		ret = journal_read(also[i], take_line, t);
		if (ret < 0)
			return cli_error(CLI_FAILURE, cmd, "--also %s: %s", also[i], strerror(-ret));
	}
	if (!t->side[0].present && !t->side[1].present)
		return cli_error(CLI_NEGATIVE, cmd, "no ended record of relocation %llu",
				 (unsigned long long)t->id);
	f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f)
		return cli_error(CLI_FAILURE, cmd, "--svg %s: %s", path, strerror(errno));
	ret = timeline_svg(t, f);
	if (f != stdout && fclose(f) != 0)
		ret = -errno;
	if (ret < 0)
		return cli_error(CLI_FAILURE, cmd, "--svg %s: %s", path, strerror(-ret));
	if (f != stdout)
		fprintf(stderr, "netmove journal: relocation %llu drawn in %s (%s%s%s)\n",
			(unsigned long long)t->id, path, t->side[0].present ? "source" : "",
			t->side[0].present && t->side[1].present ? " and " : "",
			t->side[1].present ? "destination" : "");
	return CLI_OK;
}

static int do_journal(int argc, char **argv, struct cli_ctx *ctx, const char *sock)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "host", required_argument, NULL, 'H' },
		{ "outcome", required_argument, NULL, 'o' },
		{ "id", required_argument, NULL, 'i' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "limit", required_argument, NULL, 'n' },
		{ "svg", required_argument, NULL, 'V' },
		{ "also", required_argument, NULL, 'A' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = argv[0], *host = NULL, *outcome = NULL, *svg = NULL;
	char *also[8];
	int nalso = 0;
	uint64_t limit = 100, id = 0, since = 0, until = 0;
	char mac_s[MAC_STRLEN] = "";
	struct ctl_msg m;
	struct mac mac;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jhn:", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (cli_mac(cmd, "--mac", optarg, &mac) < 0)
				return CLI_USAGE;
			mac_format(&mac, mac_s);
			break;
		case 'H':
			if (!*optarg || strlen(optarg) >= 64)
				return cli_error(CLI_USAGE, cmd, "--host: '%s' is not a host name",
						 optarg);
			host = optarg;
			break;
		case 'o':
			if (!*optarg || strlen(optarg) >= 64)
				return cli_error(CLI_USAGE, cmd, "--outcome: '%s' is not an outcome",
						 optarg);
			outcome = optarg;
			break;
		case 'i':
			if (cli_uint(cmd, "--id", optarg, 1, UINT64_MAX, &id) < 0)
				return CLI_USAGE;
			break;
		case 'S':
			if (cli_time(cmd, "--since", optarg, &since) < 0)
				return CLI_USAGE;
			break;
		case 'U':
			if (cli_time(cmd, "--until", optarg, &until) < 0)
				return CLI_USAGE;
			break;
		case 'n':
			if (cli_uint(cmd, "--limit", optarg, 1, 1000000, &limit) < 0)
				return CLI_USAGE;
			break;
		case 'V': svg = optarg; break;
		case 'A':
			if (nalso == (int)(sizeof(also) / sizeof(also[0])))
				return cli_error(CLI_USAGE, cmd, "--also: at most %zu files",
						 sizeof(also) / sizeof(also[0]));
			also[nalso++] = optarg;
			break;
		case 's': sock = optarg; break;
		case 'j': ctx->json = true; break;
		case 'h':
			journal_usage(stdout);
			return CLI_OK;
		default:
			journal_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	if (since && until && since > until)
		return cli_error(CLI_USAGE, cmd, "--since is after --until");
	if (svg && !id)
		return cli_error(CLI_USAGE, cmd, "--svg draws one relocation: give its --id");
	if (nalso && !svg)
		return cli_error(CLI_USAGE, cmd, "--also goes with --svg");
	if (svg && !*svg)
		return cli_error(CLI_USAGE, cmd, "--svg: a file name, or - for stdout");
	ctl_msg_init(&m, PROTO_REQ_JOURNAL);
	ctl_put_u64(&m, A_LIMIT, limit);
	if (mac_s[0])
		ctl_put_str(&m, A_MATCH_MAC, mac_s);
	if (host)
		ctl_put_str(&m, A_MATCH_HOST, host);
	if (outcome)
		ctl_put_str(&m, A_MATCH_OUTCOME, outcome);
	if (id)
		ctl_put_u64(&m, A_ID, id);
	if (since)
		ctl_put_u64(&m, A_SINCE, since);
	if (until)
		ctl_put_u64(&m, A_UNTIL, until);
	if (svg) {
		struct timeline t = { .id = id };

		ret = journal_svg(cmd, sock, &m, &t, also, nalso, svg);
		ctl_msg_free(&m);
		return ret;
	}
	ret = transact(cmd, sock, &m, ctx->json, true);
	ctl_msg_free(&m);
	return ret;
}

int cmd_agent(int argc, char **argv, const struct cli_ctx *gctx)
{
	struct cli_ctx ctx = *gctx;
	const char *sock = agentc_socket();

	optind = 0;
	if (!strcmp(argv[0], "relocate"))
		return do_relocate(argc, argv, &ctx, sock);
	if (!strcmp(argv[0], "event"))
		return do_event(argc, argv, &ctx, sock);
	if (!strcmp(argv[0], "status"))
		return do_status(argc, argv, &ctx, sock);
	if (!strcmp(argv[0], "schedule"))
		return do_schedule(argc, argv, &ctx, sock);
	return do_journal(argc, argv, &ctx, sock);
}
