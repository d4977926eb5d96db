/* netmove verify: ARP-ping the gateway as a VM from an interface. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "netmove/frame.h"
#include "netmove/verify.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: netmove verify --iface IF [--listen IF] --mac MAC --ip IP --gateway IP\n"
		"                      [--vlan ID] [--tries N] [--timeout MS]\n"
		"                      [--eth-src MAC | --learn] [-j|--json]\n\n"
		"Send an ARP request for the gateway with the VM's MAC and IP as sender\n"
		"from IF and wait for the reply there.  The Ethernet source is a neutral\n"
		"address so the fabric does not learn the VM's MAC from the probe: a reply\n"
		"proves frames addressed to the VM are delivered to IF.\n"
		"  --listen IF    wait for the reply on IF instead (e.g. send out of the\n"
		"                 uplink, watch the VM's port: proves delivery to the VM)\n"
		"  --tries N      requests to send before giving up (default 3)\n"
		"  --timeout MS   wait per request (default 1000)\n"
		"  --eth-src MAC  Ethernet source to use instead of the neutral one\n"
		"  --learn        use the VM's MAC as Ethernet source (moves the fabric)\n"
		"exit codes: 0 answered, 1 no reply, 2 usage error, 3 failure\n");
}

int cmd_verify(int argc, char **argv, const struct cli_ctx *gctx)
{
	static const struct option opts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "listen", required_argument, NULL, 'l' },
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'a' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "vlan", required_argument, NULL, 'v' },
		{ "tries", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "eth-src", required_argument, NULL, 'e' },
		{ "learn", no_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "verify", *iface = NULL, *listen = NULL;
	struct cli_ctx ctx = *gctx;
	struct verify_cfg cfg;
	struct verify_result res;
	bool have_mac = false, have_ip = false, have_gw = false;
	char err[WIRE_ERRLEN], m[MAC_STRLEN], ip[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN];
	struct out o;
	uint64_t v;
	int c, ret;

	verify_defaults(&cfg);
	while ((c = getopt_long(argc, argv, "i:m:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (cli_iface(cmd, "--iface", optarg, NULL) < 0)
				return CLI_USAGE;
			iface = optarg;
			break;
		case 'l':
			if (cli_iface(cmd, "--listen", optarg, NULL) < 0)
				return CLI_USAGE;
			listen = optarg;
			break;
		case 'm':
			if (cli_mac(cmd, "--mac", optarg, &cfg.mac) < 0)
				return CLI_USAGE;
			have_mac = true;
			break;
		case 'a':
			if (cli_ipv4(cmd, "--ip", optarg, &cfg.ip) < 0)
				return CLI_USAGE;
			have_ip = true;
			break;
		case 'g':
			if (cli_ipv4(cmd, "--gateway", optarg, &cfg.gateway) < 0)
				return CLI_USAGE;
			have_gw = true;
			break;
		case 'v':
			if (cli_vlan(cmd, "--vlan", optarg, &cfg.vlan) < 0)
				return CLI_USAGE;
			break;
		case 'c':
			if (cli_uint(cmd, "--tries", optarg, 1, 100, &v) < 0)
				return CLI_USAGE;
			cfg.tries = (unsigned)v;
			break;
		case 't':
			if (cli_uint(cmd, "--timeout", optarg, 1, 60000, &v) < 0)
				return CLI_USAGE;
			cfg.timeout_ms = (unsigned)v;
			break;
		case 'e':
			if (cli_mac(cmd, "--eth-src", optarg, &cfg.eth_src) < 0)
				return CLI_USAGE;
			cfg.eth_src_set = true;
			break;
		case 'L':
			cfg.learn = true;
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
	if (!iface || !have_mac || !have_ip || !have_gw)
		return cli_error(CLI_USAGE, cmd,
				 "--iface, --mac, --ip and --gateway are required (see --help)");
	if (cfg.learn && cfg.eth_src_set)
		return cli_error(CLI_USAGE, cmd, "--learn and --eth-src exclude each other");
	if (mac_is_multicast(&cfg.mac) || mac_is_zero(&cfg.mac))
		return cli_error(CLI_USAGE, cmd, "--mac must be a unicast address");
	if (cfg.eth_src_set && mac_is_multicast(&cfg.eth_src))
		return cli_error(CLI_USAGE, cmd, "--eth-src must be a unicast address");
	if (cfg.ip.s_addr == cfg.gateway.s_addr || !cfg.ip.s_addr || !cfg.gateway.s_addr)
		return cli_error(CLI_USAGE, cmd, "--ip and --gateway must be distinct, non-zero");

	ret = verify_run(iface, listen, &cfg, &res, err);
	if (ret < 0)
		return cli_error(CLI_FAILURE, cmd, "%s", err);
	inet_ntop(AF_INET, &cfg.ip, ip, sizeof(ip));
	inet_ntop(AF_INET, &cfg.gateway, gw, sizeof(gw));
	cli_out(&o, &ctx);
	out_bool(&o, "answered", res.answered);
	out_str(&o, "mac", mac_format(&cfg.mac, m));
	out_str(&o, "ip", ip);
	out_str(&o, "gateway", gw);
	out_str(&o, "iface", iface);
	out_str(&o, "listen", listen ? listen : iface);
	out_str(&o, "eth_src", mac_format(&res.eth_src, m));
	out_u64(&o, "sent", res.sent);
	if (res.answered) {
		out_double(&o, "rtt_ms", (double)res.rtt_ns / 1e6, 3);
		out_str(&o, "gateway_mac", mac_format(&res.gw_mac, m));
		out_str(&o, "reply_iface", res.ifname);
		if (res.vlan >= 0)
			out_i64(&o, "reply_vlan", res.vlan);
		out_u64(&o, "reply_us", res.reply_ns / 1000);
	} else {
		out_null(&o, "rtt_ms");
	}
	out_finish(&o);
	if (!res.answered) {
		fprintf(stderr,
			"netmove verify: no ARP reply from %s for %s/%s on %s after %u request(s): "
			"frames for this MAC are not delivered here (the fabric may still point "
			"at its old location)\n", gw, mac_format(&cfg.mac, m), ip, listen ? listen : iface,
			res.sent);
		return CLI_NEGATIVE;
	}
	return CLI_OK;
}
