/* netmove: network side of VM live migration.  See netmove(8). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef NETMOVE_VERSION
#define NETMOVE_VERSION "0.1"
#endif

struct command {
	const char *name;
	cli_cmd_fn fn;
	const char *summary;
};

static const struct command commands[] = {
	{ "verify", cmd_verify, "ARP-ping the gateway as a VM and report where the reply lands" },
	{ "announce", cmd_announce, "send RARP / gratuitous ARP bursts for a VM" },
	{ "fdb", cmd_fdb, "show, get, move, delete and watch bridge / VXLAN FDB entries" },
	{ "probe", cmd_probe, "sequenced UDP stream: send, receive, count loss and gaps" },
	{ "buffer", cmd_buffer, "eBPF blackout buffer on a VM port: attach, arm, flush, stats" },
	{ "relocate", cmd_agent, "relocate a VM's network identity to another host (netmoved)" },
	{ "plan", cmd_plan, "rank candidate hosts for a VM from the network's side (netmoved)" },
	{ "event", cmd_agent, "tell netmoved the VM stopped, resumed or the migration failed" },
	{ "status", cmd_agent, "relocations in progress and done, with phase times" },
	{ "journal", cmd_agent, "netmoved's audit trail (JSON lines)" },
	{ "schedule", cmd_agent, "relocations netmoved keeps for later: list, cancel" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: netmove [-j|--json] [-n|--netns NAME] COMMAND [ARGS]\n"
		   "       netmove COMMAND --help\n\n"
		   "commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\noptions:\n"
		   "  -j, --json        machine-readable JSON output\n"
		   "  -n, --netns NAME  run inside network namespace NAME (/run/netns/NAME)\n"
		   "  -h, --help        this help\n"
		   "  -V, --version     print the version\n"
		   "\nexit codes: 0 ok, 1 negative result, 2 usage error, 3 failure\n");
}

/* Enter the named network namespace (ip netns's /run/netns/NAME).
 * Returns CLI_OK, CLI_USAGE (not a name, no such namespace) or CLI_FAILURE. */
static int enter_netns(const char *name)
{
	char path[256];
	int fd, ret = CLI_OK;

	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strlen(name) > 200) {
		fprintf(stderr, "netmove: --netns: '%s' is not a namespace name\n", name);
		return CLI_USAGE;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "netmove: --netns: %s: %s\n", name,
			errno == ENOENT ? "no such network namespace" : strerror(errno));
		return errno == ENOENT ? CLI_USAGE : CLI_FAILURE;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "netmove: --netns: cannot enter %s: %s\n", name, strerror(errno));
		ret = CLI_FAILURE;
	}
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "netns", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct cli_ctx ctx = { .json = false };
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "+jn:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			ctx.json = true;
			break;
		case 'n': {
			int ret = enter_netns(optarg);

			if (ret != CLI_OK)
				return ret;
			break;
		}
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'V':
			printf("netmove %s\n", NETMOVE_VERSION);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			argc -= optind;
			argv += optind;
			optind = 0;
			return commands[i].fn(argc, argv, &ctx);
		}
	}
	fprintf(stderr, "netmove: unknown command '%s' (see netmove --help)\n", argv[optind]);
	return CLI_USAGE;
}
