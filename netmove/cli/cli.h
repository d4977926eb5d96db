/* cli: shared pieces of the netmove command line (not part of libnetmove). */
#ifndef NETMOVE_CLI_H
#define NETMOVE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "netmove/mac.h"
#include "netmove/out.h"

/* Exit codes, documented in netmove(8). */
enum {
	CLI_OK = 0,		/* success, positive result */
	CLI_NEGATIVE = 1,	/* ran fine, result is negative (no reply, not found, loss) */
	CLI_USAGE = 2,		/* bad command line */
	CLI_FAILURE = 3,	/* system or runtime error */
};

/* Options common to every sub-command. */
struct cli_ctx {
	bool json;		/* --json given */
};

/* Sub-command entry: argv[0] is the sub-command name. */
typedef int (*cli_cmd_fn)(int argc, char **argv, const struct cli_ctx *ctx);

int cmd_announce(int argc, char **argv, const struct cli_ctx *ctx);
int cmd_verify(int argc, char **argv, const struct cli_ctx *ctx);
int cmd_fdb(int argc, char **argv, const struct cli_ctx *ctx);
int cmd_probe(int argc, char **argv, const struct cli_ctx *ctx);
int cmd_buffer(int argc, char **argv, const struct cli_ctx *ctx);
/* relocate, event, status, journal: requests to the local netmoved. */
int cmd_agent(int argc, char **argv, const struct cli_ctx *ctx);
/* plan: placement advice, asked of the local netmoved (cmd_plan.c). */
int cmd_plan(int argc, char **argv, const struct cli_ctx *ctx);

/* Print "netmove CMD: message" to stderr; returns code. */
int cli_error(int code, const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Argument parsers: on bad input they print a clear message naming the
 * option and return -EINVAL. */
int cli_mac(const char *cmd, const char *opt, const char *arg, struct mac *out);
int cli_ipv4(const char *cmd, const char *opt, const char *arg, struct in_addr *out);
int cli_uint(const char *cmd, const char *opt, const char *arg,
	     uint64_t min, uint64_t max, uint64_t *out);
int cli_double(const char *cmd, const char *opt, const char *arg,
	       double min, double max, double *out);
/* The interface must exist in the current network namespace; sets its index. */
int cli_iface(const char *cmd, const char *opt, const char *arg, int *ifindex);
/* A wall-clock instant (timeutil_parse_real's forms), in CLOCK_REALTIME µs. */
int cli_time(const char *cmd, const char *opt, const char *arg, uint64_t *us);
/* A span (timeutil_parse_span's forms: 90s, 15m, 2h, 1d), in µs. */
int cli_span(const char *cmd, const char *opt, const char *arg, uint64_t *us);
/* A VLAN id 0..FRAME_VLAN_MAX. */
int cli_vlan(const char *cmd, const char *opt, const char *arg, int *vlan);

/* Start the printer for a sub-command according to ctx->json. */
void cli_out(struct out *o, const struct cli_ctx *ctx);

#endif
