/* netmoved's command line (netmoved(8)). */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "agent.h"
#include "options.h"
#include "recover.h"
#include "netmove/agentc.h"
#include "netmove/buffer.h"
#include "netmove/journal.h"
#include "netmove/log.h"
#include "netmove/out.h"
#include "netmove/portwatch.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"


static void usage(FILE *f)
{
	fprintf(f,
		"usage: netmoved --name HOST " CTL_TLS_USAGE "\n"
		"                --ofctl TARGET --ovs-ctl PATH\n"
		"                [--ovsdb unix:PATH]\n"
		"                --uplink IF --gateway IP [--listen IP:PORT] [--peer NAME=IP:PORT]...\n"
		"                [--socket PATH] [--bridge NAME] [--journal FILE] [--schedule FILE]\n"
		"                [--tor-netns NS --tor-bridge BR --tor-port PORT]\n"
		"                [--grace MS] [--phase-timeout MS] [--blackout-timeout MS]\n"
		"                [--handoff-idle MS] [--metrics IP:PORT] [--max-per-peer N]\n"
		"                [--ring-mib N] [--spill-mib N] [--no-tap-recovery] [--no-port-watch]\n"
		"The netmove agent of one host; see netmoved(8).\n");
}

static int parse_peer(struct agent_cfg *cfg, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct agent_peer *p;

	if (!eq || eq == arg || (size_t)(eq - arg) >= AGENT_NAME_LEN || strlen(eq + 1) >= 64 ||
	    ctl_addr_parse(eq + 1, NULL) < 0 || cfg->npeers >= AGENT_MAX_PEERS)
		return -EINVAL;
	p = &cfg->peers[cfg->npeers++];
	memcpy(p->name, arg, (size_t)(eq - arg));
	p->name[eq - arg] = 0;
	snprintf(p->addr, sizeof(p->addr), "%s", eq + 1);
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || *s == '-' || v > 86400000UL)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

int options_parse(struct agent_cfg *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'N' },
		{ "listen", required_argument, NULL, 'l' },
		{ "socket", required_argument, NULL, 's' },
		CTL_TLS_LONGOPTS,
		{ "peer", required_argument, NULL, 'p' },
		{ "ofctl", required_argument, NULL, 'o' },
		{ "ovs-ctl", required_argument, NULL, 'c' },
		{ "ovsdb", required_argument, NULL, 'D' },
		{ "bridge", required_argument, NULL, 'b' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "journal", required_argument, NULL, 'J' },
		{ "schedule", required_argument, NULL, 'H' },
		{ "tor-netns", required_argument, NULL, 'T' },
		{ "tor-bridge", required_argument, NULL, 'B' },
		{ "tor-port", required_argument, NULL, 'P' },
		{ "grace", required_argument, NULL, 'G' },
		{ "phase-timeout", required_argument, NULL, 't' },
		{ "blackout-timeout", required_argument, NULL, 'O' },
		{ "handoff-idle", required_argument, NULL, 'I' },
		{ "ring-mib", required_argument, NULL, 'R' },
		{ "spill-mib", required_argument, NULL, 'S' },
		{ "no-tap-recovery", no_argument, NULL, 'Q' },
		{ "no-port-watch", no_argument, NULL, 'W' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "max-per-peer", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct ctl_tls_opts tls = { 0 };
	char err[512];
	int c, ret;

	cfg->socket = PROTO_DEFAULT_SOCKET;
	cfg->bridge = "br-int";
	cfg->ovsdb = "unix:/var/run/openvswitch/db.sock";
	cfg->journal = "/var/lib/netmove/journal.jsonl";
	cfg->schedule = "/var/lib/netmove/schedule.jsonl";
	cfg->grace_ms = 2000;
	cfg->phase_timeout_ms = 5000;
	cfg->blackout_timeout_ms = 30000;
	cfg->handoff_idle_ms = 500;
	cfg->ring_mib = 16;
	cfg->spill_mib = SPILL_DEFAULT_MIB;
	cfg->max_per_peer = AGENT_MAX_PER_PEER;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'N':
			if (strlen(optarg) >= AGENT_NAME_LEN || !*optarg)
				goto bad;
			strcpy(cfg->name, optarg);
			break;
		case 'l': cfg->listen = optarg; break;
		case 'M': cfg->metrics = optarg; break;
		case 's': cfg->socket = optarg; break;
		case 'p':
			if (parse_peer(cfg, optarg) < 0) {
				fprintf(stderr, "netmoved: --peer: '%s' is not NAME=IP:PORT (port 1..65535)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'o': cfg->ofctl = optarg; break;
		case 'c': cfg->ovs_ctl = optarg; break;
		case 'D': cfg->ovsdb = optarg; break;
		case 'b': cfg->bridge = optarg; break;
		case 'u': cfg->uplink = optarg; break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &cfg->gateway) != 1)
				goto bad;
			break;
		case 'J': cfg->journal = optarg; break;
		case 'H': cfg->schedule = optarg; break;
		case 'T': cfg->tor_netns = optarg; break;
		case 'B': cfg->tor_bridge = optarg; break;
		case 'P': cfg->tor_port = optarg; break;
		case 'G':
			if (parse_uint(optarg, &cfg->grace_ms) < 0)
				goto bad;
			break;
		case 't':
			if (parse_uint(optarg, &cfg->phase_timeout_ms) < 0)
				goto bad;
			break;
		case 'O':
			if (parse_uint(optarg, &cfg->blackout_timeout_ms) < 0)
				goto bad;
			break;
		case 'R':
			if (parse_uint(optarg, &cfg->ring_mib) < 0)
				goto bad;
			break;
		case 'I':
			if (parse_uint(optarg, &cfg->handoff_idle_ms) < 0 || !cfg->handoff_idle_ms)
				goto bad;
			break;
		case 'S':
			if (parse_uint(optarg, &cfg->spill_mib) < 0 || cfg->spill_mib > 65536)
				goto bad;
			break;
		case 'C':
			if (parse_uint(optarg, &cfg->max_per_peer) < 0 || !cfg->max_per_peer ||
			    cfg->max_per_peer > AGENT_MAX_PER_PEER_LIMIT) {
				fprintf(stderr, "netmoved: --max-per-peer: '%s' is not a whole number "
						"from 1 to %u\n", optarg, AGENT_MAX_PER_PEER_LIMIT);
				return -EINVAL;
			}
			break;
		case 'Q': cfg->no_tap_recovery = true; break;
		case 'W': cfg->no_port_watch = true; break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (ctl_tls_opt(&tls, c, optarg))
				break;
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !cfg->name[0] || !cfg->ofctl || !cfg->ovs_ctl ||
	    !cfg->uplink || !cfg->gateway.s_addr) {
		fprintf(stderr, "netmoved: --name, --ofctl, --ovs-ctl, --uplink and --gateway are "
				"required\n");
		usage(stderr);
		return -EINVAL;
	}
	if (cfg->listen && ctl_addr_parse(cfg->listen, NULL) < 0) {
		fprintf(stderr, "netmoved: --listen: '%s' is not IP:PORT (port 1..65535)\n",
			cfg->listen);
		return -EINVAL;
	}
	if (cfg->metrics && ctl_addr_parse(cfg->metrics, NULL) < 0) {
		fprintf(stderr, "netmoved: --metrics: '%s' is not IP:PORT (port 1..65535)\n",
			cfg->metrics);
		return -EINVAL;
	}
	if (!if_nametoindex(cfg->uplink)) {
		fprintf(stderr, "netmoved: --uplink: no interface '%s' here\n", cfg->uplink);
		return -EINVAL;
	}
	if (!cfg->ring_mib || cfg->ring_mib > 1024 || !cfg->phase_timeout_ms) {
		fprintf(stderr, "netmoved: --ring-mib must be 1..1024, --phase-timeout > 0\n");
		return -EINVAL;
	}
	if (!!cfg->tor_netns != !!cfg->tor_port || (cfg->tor_netns && !cfg->tor_bridge)) {
		fprintf(stderr, "netmoved: --tor-netns, --tor-bridge and --tor-port go together\n");
		return -EINVAL;
	}
	/* Last: the only check that allocates. */
	ret = ctl_tls_new(&tls, cfg->name, &cfg->tls, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "netmoved: %s\n", err);
		return ret;
	}
	return 0;
bad:
	fprintf(stderr, "netmoved: invalid value '%s'\n", optarg);
	return -EINVAL;
}
