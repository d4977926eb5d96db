#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include "cli.h"
#include "netmove/frame.h"
#include "netmove/timeutil.h"

int cli_error(int code, const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "netmove %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_mac(const char *cmd, const char *opt, const char *arg, struct mac *out)
{
	if (mac_parse(arg, out) < 0) {
		cli_error(CLI_USAGE, cmd, "%s: '%s' is not a MAC address (expected aa:bb:cc:dd:ee:ff)",
			  opt, arg);
		return -EINVAL;
	}
	return 0;
}

int cli_ipv4(const char *cmd, const char *opt, const char *arg, struct in_addr *out)
{
	if (mac_parse_ipv4(arg, out) < 0) {
		cli_error(CLI_USAGE, cmd, "%s: '%s' is not an IPv4 address (expected a.b.c.d)",
			  opt, arg);
		return -EINVAL;
	}
	return 0;
}

int cli_uint(const char *cmd, const char *opt, const char *arg,
	     uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (!arg || !*arg || *arg == '-')
		goto bad;
	v = strtoull(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	cli_error(CLI_USAGE, cmd, "%s: '%s' is not a whole number from %llu to %llu",
		  opt, arg ? arg : "", (unsigned long long)min, (unsigned long long)max);
	return -EINVAL;
}

int cli_time(const char *cmd, const char *opt, const char *arg, uint64_t *us)
{
	uint64_t ns;

	if (timeutil_parse_real(arg, timeutil_real_ns(), &ns) < 0) {
		cli_error(CLI_USAGE, cmd, "%s: '%s' is not a time (2026-12-03T08:00:00Z, 2026-12-03, "
			  "@SECONDS, now, -15m, +2h)", opt, arg ? arg : "");
		return -EINVAL;
	}
	*us = ns / NSEC_PER_USEC;
	return 0;
}

int cli_span(const char *cmd, const char *opt, const char *arg, uint64_t *us)
{
	uint64_t ns;

	if (timeutil_parse_span(arg, &ns) < 0) {
		cli_error(CLI_USAGE, cmd, "%s: '%s' is not a span (90s, 15m, 2h, 1d)", opt,
			  arg ? arg : "");
		return -EINVAL;
	}
	*us = ns / NSEC_PER_USEC;
	return 0;
}

int cli_double(const char *cmd, const char *opt, const char *arg,
	       double min, double max, double *out)
{
	double v;
	char *end;

	errno = 0;
	if (!arg || !*arg)
		goto bad;
	v = strtod(arg, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	cli_error(CLI_USAGE, cmd, "%s: '%s' is not a number from %g to %g",
		  opt, arg ? arg : "", min, max);
	return -EINVAL;
}

int cli_iface(const char *cmd, const char *opt, const char *arg, int *ifindex)
{
	unsigned int idx;

	if (!arg || !*arg || strlen(arg) >= IF_NAMESIZE) {
		cli_error(CLI_USAGE, cmd, "%s: '%s' is not a valid interface name",
			  opt, arg ? arg : "");
		return -EINVAL;
	}
	idx = if_nametoindex(arg);
	if (!idx) {
		cli_error(CLI_USAGE, cmd, "%s: no interface '%s' in this network namespace",
			  opt, arg);
		return -ENODEV;
	}
	if (ifindex)
		*ifindex = (int)idx;
	return 0;
}

int cli_vlan(const char *cmd, const char *opt, const char *arg, int *vlan)
{
	uint64_t v;

	if (cli_uint(cmd, opt, arg, 0, FRAME_VLAN_MAX, &v) < 0)
		return -EINVAL;
	*vlan = (int)v;
	return 0;
}

void cli_out(struct out *o, const struct cli_ctx *ctx)
{
	out_init(o, stdout, ctx->json);
}
