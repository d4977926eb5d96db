/* netmove plan: placement advice from the network's side, asked of this
 * host's netmoved (the VM's current host), which asks the candidates. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cli.h"
#include "netmove/agentc.h"
#include "netmove/ctl.h"
#include "netmove/proto.h"

#define PLAN_CLI_TIMEOUT_MS 15000	/* the agent answers within ~3 s */
#define PLAN_CLI_MAX 16			/* candidates (netmoved's PLAN_MAX_CANDIDATES) */
#define PLAN_CLI_NAME 32		/* a host name, with its NUL */
#define PLAN_CLI_BLACKOUT_DEFAULT 1000
#define PLAN_CLI_BLACKOUT_MAX 3600000

static void plan_usage(FILE *f)
{
	fprintf(f,
		"usage: netmove plan --mac MAC --ip IP --port IF --candidates HOST[,HOST...]\n"
		"                    [--blackout-ms N] [--socket PATH] [--json]\n\n"
		"Ask this host's netmoved (the VM's current host) where the VM could go, from\n"
		"the network's side.  It measures the VM's traffic on its port and asks every\n"
		"candidate's agent at once; each checks there, without moving the VM's MAC:\n"
		"its agent reachable and authenticated as that host, its bridge and uplink,\n"
		"the gateway and the VM's L2 domain answering an ARP probe from its uplink\n"
		"(sent as a probe identity), its buffer against the VM's frame rate x the\n"
		"blackout, its datapath flows, its relocations in flight.  Prints each\n"
		"candidate accepted (ranked) or rejected with every reason.\n"
		"  --port IF          the VM's port on this host\n"
		"  --candidates LIST  comma-separated --peer names of netmoved, at most %d\n"
		"  --blackout-ms N    the blackout expected, 1..%d (default %d)\n"
		"exit codes: 0 at least one accepted, 1 none (or refused), 2 usage,\n"
		"3 agent unreachable\n", PLAN_CLI_MAX, PLAN_CLI_BLACKOUT_MAX,
		PLAN_CLI_BLACKOUT_DEFAULT);
}

/* Split list into the request's candidates.  Returns 0 or CLI_USAGE. */
static int put_candidates(const char *cmd, const char *list, struct ctl_msg *m)
{
	char names[PLAN_CLI_MAX][PLAN_CLI_NAME];
	const char *p = list;
	int n = 0, i;

	for (;;) {
		size_t len = strcspn(p, ","), k;

		if (!len || len >= PLAN_CLI_NAME) {
			cli_error(CLI_USAGE, cmd, "--candidates: '%.*s' is not a host name (1 to %d "
				  "characters, comma-separated)", (int)(len > 64 ? 64 : len), p,
				  PLAN_CLI_NAME - 1);
			return CLI_USAGE;
		}
		if (n == PLAN_CLI_MAX) {
			cli_error(CLI_USAGE, cmd, "--candidates: more than %d hosts", PLAN_CLI_MAX);
			return CLI_USAGE;
		}
		memcpy(names[n], p, len);
		names[n][len] = 0;
		for (k = 0; k < len; k++)
			if ((unsigned char)names[n][k] <= ' ' || (unsigned char)names[n][k] >= 0x7f)
				break;
		if (k < len) {
			cli_error(CLI_USAGE, cmd, "--candidates: a host name holds a space or a "
				  "control character");
			return CLI_USAGE;
		}
		for (i = 0; i < n; i++) {
			if (!strcmp(names[i], names[n])) {
				cli_error(CLI_USAGE, cmd, "--candidates: %s is named twice", names[n]);
				return CLI_USAGE;
			}
		}
		if (ctl_put_str(m, A_PLAN_CANDIDATE, names[n]) < 0) {
			cli_error(CLI_FAILURE, cmd, "out of memory");
			return CLI_FAILURE;
		}
		n++;
		p += len;
		if (!*p)
			return 0;
		p++;
	}
}

int cmd_plan(int argc, char **argv, const struct cli_ctx *ctx)
{
	static const struct option opts[] = {
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "candidates", required_argument, NULL, 'c' },
		{ "blackout-ms", required_argument, NULL, 'b' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cmd = "plan", *port = NULL, *cands = NULL, *sock = agentc_socket();
	uint64_t blackout = PLAN_CLI_BLACKOUT_DEFAULT, accepted = 0;
	bool json = ctx->json, have_mac = false, have_ip = false;
	struct ctl_msg m, rep;
	struct in_addr ip;
	struct mac mac;
	const void *v;
	size_t off = 0, len;
	uint16_t tag;
	int c, ret;

	optind = 0;
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
		case 'p': port = optarg; break;
		case 'c': cands = optarg; break;
		case 'b':
			if (cli_uint(cmd, "--blackout-ms", optarg, 1, PLAN_CLI_BLACKOUT_MAX, &blackout) < 0)
				return CLI_USAGE;
			break;
		case 's': sock = optarg; break;
		case 'j': json = true; break;
		case 'h':
			plan_usage(stdout);
			return CLI_OK;
		default:
			plan_usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, cmd, "unexpected argument '%s'", argv[optind]);
	if (!have_mac || !have_ip || !port || !cands)
		return cli_error(CLI_USAGE, cmd, "--mac, --ip, --port and --candidates are required");
	if (mac_is_multicast(&mac) || mac_is_zero(&mac))
		return cli_error(CLI_USAGE, cmd, "--mac must be a unicast address");
	if (!ip.s_addr || IN_MULTICAST(ntohl(ip.s_addr)) || ip.s_addr == INADDR_BROADCAST)
		return cli_error(CLI_USAGE, cmd, "--ip must be a unicast address");
	/* The port lives in the agent's namespace, not necessarily in ours. */
	if (!*port || strlen(port) >= 16 || strchr(port, '/'))
		return cli_error(CLI_USAGE, cmd, "--port: '%s' is not an interface name", port);
	ctl_msg_init(&m, PROTO_REQ_PLAN);
	ctl_msg_init(&rep, 0);
	ret = put_candidates(cmd, cands, &m);
	if (ret)
		goto out;
	if (ctl_put(&m, A_MAC, mac.b, MAC_LEN) < 0 || ctl_put(&m, A_IP, &ip, 4) < 0 ||
	    ctl_put_str(&m, A_PORT, port) < 0 || ctl_put_u64(&m, A_PLAN_BLACKOUT_MS, blackout) < 0 ||
	    (json && ctl_put_u64(&m, A_JSON, 1) < 0)) {
		ret = cli_error(CLI_FAILURE, cmd, "out of memory");
		goto out;
	}
	ret = agentc_transact(sock, &m, &rep, PLAN_CLI_TIMEOUT_MS);
	if (ret < 0) {
		ret = cli_error(CLI_FAILURE, cmd, "netmoved at %s: %s", sock, strerror(-ret));
		goto out;
	}
	while (ctl_next(&rep, &off, &tag, &v, &len)) {
		if (tag != A_TEXT)
			continue;
		fwrite(v, 1, len, rep.type == PROTO_REP_OK ? stdout : stderr);
		if (rep.type != PROTO_REP_OK)
			fputc('\n', stderr);
	}
	ctl_get_u64(&rep, A_COUNT, &accepted);
	ret = rep.type == PROTO_REP_OK && accepted ? CLI_OK : CLI_NEGATIVE;
out:
	ctl_msg_free(&m);
	ctl_msg_free(&rep);
	return ret;
}
