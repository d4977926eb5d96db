/* netmove announce: RARP / gratuitous ARP bursts for a VM. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "netmove/announce.h"
#include "netmove/frame.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: netmove announce --iface IF --mac MAC [--ip IP] [--rarp] [--garp]\n"
		"                        [--vlan ID] [--rounds N] [--initial MS] [--step MS]\n"
		"                        [--max MS] [-j|--json]\n\n"
		"Send announcements for MAC out of IF so the fabric learns where it lives.\n"
		"Default: RARP only (GARP too when --ip is given), QEMU's schedule:\n"
		"5 rounds, the first at once, then after 50 ms, +100 ms each, at most 550 ms.\n"
		"  --rarp / --garp   choose the frame kinds (both may be given)\n"
		"  --rounds 0 is not allowed; --rounds 1 sends a single round at once.\n"
		"exit codes: 0 sent, 2 usage error, 3 failure (see netmove(8))\n");
}

int cmd_announce(int argc, char **argv, const struct cli_ctx *gctx)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'a' },
		{ "vlan", required_argument, NULL, 'v' },
		{ "rarp", no_argument, NULL, 'R' },
		{ "garp", no_argument, NULL, 'G' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "initial", required_argument, NULL, 'I' },
		{ "step", required_argument, NULL, 's' },
		{ "max", required_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "announce", *iface = NULL;
	struct cli_ctx ctx = *gctx;
	struct announce_cfg cfg;
	struct announce_result res;
	struct mac mac = { { 0 } };
	bool have_mac = false, want_rarp = false, want_garp = false;
	char err[WIRE_ERRLEN], m[MAC_STRLEN];
	struct out o;
	uint64_t v;
	int c, ret;

	announce_defaults(&cfg, &mac);
	while ((c = getopt_long(argc, argv, "i:m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (cli_iface(cmd, "--iface", optarg, NULL) < 0)
				return CLI_USAGE;
			iface = optarg;
			break;
		case 'm':
			if (cli_mac(cmd, "--mac", optarg, &mac) < 0)
				return CLI_USAGE;
			have_mac = true;
			break;
		case 'a':
			if (cli_ipv4(cmd, "--ip", optarg, &cfg.ip) < 0)
				return CLI_USAGE;
			cfg.has_ip = true;
			break;
		case 'v':
			if (cli_vlan(cmd, "--vlan", optarg, &cfg.vlan) < 0)
				return CLI_USAGE;
			break;
		case 'R':
			want_rarp = true;
			break;
		case 'G':
			want_garp = true;
			break;
		case 'r':
			if (cli_uint(cmd, "--rounds", optarg, 1, ANNOUNCE_MAX_ROUNDS, &v) < 0)
				return CLI_USAGE;
			cfg.rounds = (unsigned)v;
			break;
		case 'I':
		case 's':
		case 'M':
			if (cli_uint(cmd, c == 'I' ? "--initial" : c == 's' ? "--step" : "--max",
				     optarg, 0, ANNOUNCE_MAX_DELAY_MS, &v) < 0)
				return CLI_USAGE;
			*(c == 'I' ? &cfg.initial_ms : c == 's' ? &cfg.step_ms : &cfg.max_ms) =
				(unsigned)v;
			break;
		case 'j':
			ctx.json = true;
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
	if (!iface || !have_mac)
		return cli_error(CLI_USAGE, cmd, "--iface and --mac are required (see --help)");
	if (mac_is_multicast(&mac) || mac_is_zero(&mac))
		return cli_error(CLI_USAGE, cmd, "--mac: %s is not a unicast address",
				 mac_format(&mac, m));
	if (cfg.max_ms < cfg.initial_ms || cfg.max_ms < cfg.step_ms)
		return cli_error(CLI_USAGE, cmd, "--max (%u ms) must be at least --initial (%u) and "
				 "--step (%u)", cfg.max_ms, cfg.initial_ms, cfg.step_ms);
	cfg.mac = mac;
	if (want_rarp || want_garp) {
		cfg.rarp = want_rarp;
		cfg.garp = want_garp;
	} else {
		cfg.garp = cfg.has_ip;
	}
	if (cfg.garp && !cfg.has_ip)
		return cli_error(CLI_USAGE, cmd, "--garp needs --ip");

	ret = announce_run(iface, &cfg, &res, err);
	if (ret < 0)
		return cli_error(CLI_FAILURE, cmd, "%s", err);
	cli_out(&o, &ctx);
	out_str(&o, "iface", iface);
	out_str(&o, "mac", mac_format(&mac, m));
	if (cfg.has_ip)
		out_str(&o, "ip", inet_ntoa(cfg.ip));
	if (cfg.vlan >= 0)
		out_i64(&o, "vlan", cfg.vlan);
	out_bool(&o, "rarp", cfg.rarp);
	out_bool(&o, "garp", cfg.garp);
	out_u64(&o, "rounds", res.rounds);
	out_u64(&o, "frames", res.frames);
	out_u64(&o, "first_us", res.first_ns / 1000);
	out_u64(&o, "last_us", res.last_ns / 1000);
	out_double(&o, "span_ms", (double)(res.last_ns - res.first_ns) / 1e6, 1);
	out_finish(&o);
	return CLI_OK;
}
