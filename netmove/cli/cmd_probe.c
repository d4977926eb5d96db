/* netmove probe: sequenced UDP stream sender and receiver. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "cli.h"
#include "netmove/probe.h"
#include "netmove/timeutil.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: netmove probe send --to IP [--port N] [--rate PPS] [--size BYTES]\n"
		"                          [--duration S] [--iface IF] [--run ID] [-j]\n"
		"       netmove probe recv [--bind IP] [--port N] [--timeout S] [--idle MS]\n"
		"                          [--echo] [--max-lost N] [--lost-ranges N] [-j]\n\n"
		"send: numbered UDP datagrams at a fixed rate (default 10000/s, 64 bytes,\n"
		"      1 s), then END markers carrying the total.  SIGINT or SIGTERM ends\n"
		"      it early: the END markers then carry the number sent.\n"
		"recv: counts one run until its END (or --idle / --timeout): received, lost,\n"
		"      duplicated, reordered, largest gap between two arrivals.  --echo sends\n"
		"      every datagram back.  --lost-ranges N lists the first N runs of lost\n"
		"      sequence numbers.  Prints \"ready\" on stderr once listening.\n"
		"port default %d.\n"
		"exit codes: send 0 ok; recv 0 when lost <= --max-lost (default 0),\n"
		"1 when more were lost or nothing arrived; 2 usage error; 3 failure\n",
		PROBE_DEFAULT_PORT);
}

static volatile sig_atomic_t send_stop;

static void on_stop(int sig)
{
	(void)sig;
	send_stop = 1;
}

static int do_send(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "port", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "iface", required_argument, NULL, 'i' },
		{ "run", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "probe send";
	struct probe_send_cfg cfg = { .port = PROBE_DEFAULT_PORT, .rate = 10000, .size = 64,
				      .duration_ns = NSEC_PER_SEC };
	struct probe_send_result res;
	bool have_to = false;
	double secs;
	struct out o;
	uint64_t v;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_ipv4(cmd, "--to", optarg, &cfg.dst) < 0)
				return CLI_USAGE;
			have_to = true;
			break;
		case 'p':
			if (cli_uint(cmd, "--port", optarg, 1, 65535, &v) < 0)
				return CLI_USAGE;
			cfg.port = (uint16_t)v;
			break;
		case 'r':
			if (cli_uint(cmd, "--rate", optarg, 1, 10000000, &v) < 0)
				return CLI_USAGE;
			cfg.rate = v;
			break;
		case 's':
			if (cli_uint(cmd, "--size", optarg, PROBE_HDR_LEN, PROBE_MAX_SIZE, &v) < 0)
				return CLI_USAGE;
			cfg.size = v;
			break;
		case 'd':
			if (cli_double(cmd, "--duration", optarg, 0.001, 86400, &secs) < 0)
				return CLI_USAGE;
			cfg.duration_ns = (uint64_t)(secs * 1e9);
			break;
		case 'i':
			if (cli_iface(cmd, "--iface", optarg, NULL) < 0)
				return CLI_USAGE;
			cfg.ifname = optarg;
			break;
		case 'R':
			if (cli_uint(cmd, "--run", optarg, 1, UINT32_MAX, &v) < 0)
				return CLI_USAGE;
			cfg.run = (uint32_t)v;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	if (!have_to)
		return cli_error(CLI_USAGE, cmd, "--to is required (see --help)");
	if (cfg.rate * cfg.duration_ns / NSEC_PER_SEC == 0)
		return cli_error(CLI_USAGE, cmd, "--rate x --duration is less than one datagram");
	if (cfg.rate * (cfg.duration_ns / NSEC_PER_SEC + 1) >= PROBE_MAX_SEQ)
		return cli_error(CLI_USAGE, cmd, "--rate x --duration exceeds %llu datagrams",
				 (unsigned long long)PROBE_MAX_SEQ);
	/* No SA_RESTART: a signal ends the sender's sleep. */
	sigaction(SIGINT, &(struct sigaction){ .sa_handler = on_stop }, NULL);
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_stop }, NULL);
	cfg.stop = &send_stop;
	ret = probe_send(&cfg, &res);
	if (ret < 0)
		return cli_error(CLI_FAILURE, cmd, "sending to %s:%u: %s", inet_ntoa(cfg.dst),
				 cfg.port, strerror(-ret));
	cli_out(&o, ctx);
	out_str(&o, "to", inet_ntoa(cfg.dst));
	out_u64(&o, "port", cfg.port);
	out_u64(&o, "run", res.run);
	out_u64(&o, "sent", res.sent);
	out_u64(&o, "send_errors", res.errors);
	out_bool(&o, "stopped", res.stopped);
	out_u64(&o, "size", cfg.size);
	out_double(&o, "elapsed_s", (double)res.elapsed_ns / 1e9, 3);
	out_double(&o, "rate_pps", res.elapsed_ns ?
		   (double)(res.sent + res.errors) * 1e9 / (double)res.elapsed_ns : 0, 0);
	out_finish(&o);
	return CLI_OK;
}

static int do_recv(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "idle", required_argument, NULL, 'I' },
		{ "echo", no_argument, NULL, 'e' },
		{ "max-lost", required_argument, NULL, 'L' },
		{ "lost-ranges", required_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "probe recv";
	struct probe_recv_cfg cfg = { .port = PROBE_DEFAULT_PORT, .timeout_ns = 60 * NSEC_PER_SEC,
				      .ready_fd = -1 };
	struct probe_range ranges[64];
	size_t nranges = 0, i;
	struct probe_stats st;
	uint64_t v, max_lost = 0;
	double secs;
	struct out o;
	int c, ret;

	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (cli_ipv4(cmd, "--bind", optarg, &cfg.bind) < 0)
				return CLI_USAGE;
			break;
		case 'p':
			if (cli_uint(cmd, "--port", optarg, 1, 65535, &v) < 0)
				return CLI_USAGE;
			cfg.port = (uint16_t)v;
			break;
		case 't':
			if (cli_double(cmd, "--timeout", optarg, 0.001, 86400, &secs) < 0)
				return CLI_USAGE;
			cfg.timeout_ns = (uint64_t)(secs * 1e9);
			break;
		case 'I':
			if (cli_uint(cmd, "--idle", optarg, 1, 86400000, &v) < 0)
				return CLI_USAGE;
			cfg.idle_ns = v * NSEC_PER_MSEC;
			break;
		case 'e':
			cfg.echo = true;
			break;
		case 'R':
			if (cli_uint(cmd, "--lost-ranges", optarg, 1, 64, &v) < 0)
				return CLI_USAGE;
			cfg.lost = ranges;
			cfg.max_lost = v;
			cfg.n_lost = &nranges;
			break;
		case 'L':
			if (cli_uint(cmd, "--max-lost", optarg, 0, UINT64_MAX, &max_lost) < 0)
				return CLI_USAGE;
			break;
		case 'j':
			ctx->json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	cfg.ready_fd = STDERR_FILENO;
	ret = probe_recv(&cfg, &st);
	if (ret < 0)
		return cli_error(CLI_FAILURE, cmd, "port %u: %s", cfg.port, strerror(-ret));
	cli_out(&o, ctx);
	out_u64(&o, "expected", st.expected);
	out_u64(&o, "received", st.received);
	out_u64(&o, "lost", st.lost);
	out_u64(&o, "duplicated", st.duplicated);
	out_u64(&o, "reordered", st.reordered);
	out_u64(&o, "foreign", st.foreign);
	out_bool(&o, "end_seen", st.end_seen);
	out_double(&o, "max_gap_ms", (double)st.max_gap_ns / 1e6, 3);
	out_u64(&o, "max_gap_before_seq", st.gap_before_seq);
	out_double(&o, "max_latency_ms", (double)st.max_latency_ns / 1e6, 3);
	out_double(&o, "span_s", (double)(st.last_ns - st.first_ns) / 1e9, 3);
	if (cfg.lost) {
		out_arr_begin(&o, "lost_ranges");
		for (i = 0; i < nranges; i++) {
			out_obj_begin(&o, NULL);
			out_u64(&o, "first", ranges[i].first);
			out_u64(&o, "last", ranges[i].last);
			out_obj_end(&o);
		}
		out_arr_end(&o);
	}
	out_finish(&o);
	if (!st.received) {
		fprintf(stderr, "netmove probe recv: nothing arrived on port %u\n", cfg.port);
		return CLI_NEGATIVE;
	}
	if (!st.end_seen)
		fprintf(stderr, "netmove probe recv: no END marker arrived: "
				"loss counted up to the highest sequence seen\n");
	return st.lost > max_lost ? CLI_NEGATIVE : CLI_OK;
}

int cmd_probe(int argc, char **argv, const struct cli_ctx *gctx)
{
	struct cli_ctx ctx = *gctx;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	optind = 0;
	if (!strcmp(argv[1], "send"))
		return do_send(argc - 1, argv + 1, &ctx);
	if (!strcmp(argv[1], "recv"))
		return do_recv(argc - 1, argv + 1, &ctx);
	return cli_error(CLI_USAGE, "probe", "unknown sub-command '%s' (send or recv)", argv[1]);
}
