/* netmove buffer: attach the blackout buffer to a VM port, arm it for a MAC,
 * flush (hand back in order), show counters, detach.  State lives in pins
 * under /sys/fs/bpf/netmove/<ifname>/ so it survives between invocations. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/libbpf.h>

#include "cli.h"
#include "netmove/buffer.h"
#include "netmove/timeutil.h"

enum {
	O_IFACE = 1 << 0,
	O_MAC = 1 << 1,
	O_RING = 1 << 2,
	O_FORCE = 1 << 3,
};

/* A parsed sub-command line. */
struct args {
	const char *cmd;	/* "buffer SUB" for messages */
	const char *iface;	/* --iface */
	struct mac mac;		/* --mac */
	uint32_t ring_bytes;	/* --ring-mib, in bytes */
	unsigned seen;		/* O_* given */
	struct cli_ctx ctx;	/* output mode */
};

/* One sub-command. */
struct sub {
	const char *name;		/* its word */
	unsigned allowed, required;	/* O_* sets */
	int (*run)(struct args *a);	/* handler, returns an exit code */
	const char *usage;		/* synopsis after "netmove buffer" */
	const char *help;		/* what it does */
};

static int run_attach(struct args *a);
static int run_arm(struct args *a);
static int run_flush(struct args *a);
static int run_stats(struct args *a);
static int run_detach(struct args *a);
static int run_kernel(struct args *a);

static const struct sub subs[] = {
	{ "attach", O_IFACE | O_RING | O_FORCE, O_IFACE, run_attach,
	  "attach --iface IF [--ring-mib N] [--force]",
	  "Load the buffer programs onto IF's clsact egress and ingress (every MAC\n"
	  "passes until armed) and pin their state under " BUFFER_PIN_ROOT "/IF.\n"
	  "Mounts a bpffs at /sys/fs/bpf if none is mounted.  --ring-mib sets the ring\n"
	  "(a power of two, default 16); --force replaces a stale attachment.\n" },
	{ "arm", O_IFACE | O_MAC, O_IFACE | O_MAC, run_arm,
	  "arm --iface IF --mac MAC",
	  "Buffer every frame for MAC leaving through IF (the ring is pre-touched first).\n" },
	{ "flush", O_IFACE | O_MAC, O_IFACE | O_MAC, run_flush,
	  "flush --iface IF --mac MAC",
	  "Replay the buffered frames into IF in order, then hand MAC back to pass\n"
	  "atomically: frames arriving meanwhile queue behind the buffered ones.\n" },
	{ "stats", O_IFACE | O_MAC, O_IFACE, run_stats,
	  "stats --iface IF [--mac MAC]",
	  "Counters of the port and of each MAC (or of MAC only), ring use.\n" },
	{ "detach", O_IFACE | O_FORCE, O_IFACE, run_detach,
	  "detach --iface IF [--force]",
	  "Remove the programs (and the clsact qdisc if netmove created it) and the pins;\n"
	  "also removes pins left after the interface went.  --force also removes a\n"
	  "netmove filter that has no pins (left by a process that died).\n" },
	{ "kernel", 0, 0, run_kernel,
	  "kernel",
	  "Whether this kernel can run the buffer, and which build of its program it\n"
	  "loads: kfunc (one copy, Linux 6.15 and newer) or copy (Linux " BUFFER_MIN_KERNEL
	  " and newer);\n"
	  "if it cannot, what it lacks.  Exit 1 if it cannot.\n" },
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

static void usage(FILE *f)
{
	size_t i;

	for (i = 0; i < NSUBS; i++)
		fprintf(f, "%s netmove [-j] buffer %s\n", i ? "      " : "usage:", subs[i].usage);
	fprintf(f, "\nBlackout buffer on a VM port (eBPF on tc).  Needs root.\n"
		   "exit codes: 0 ok, 1 nothing to act on (not attached, MAC not tracked),\n"
		   "2 usage error, 3 failure (see netmove-buffer(8))\n");
}

static void sub_usage(FILE *f, const struct sub *s)
{
	fprintf(f, "usage: netmove [-j] buffer %s\n\n%s", s->usage, s->help);
}

/* Map a library error to a message and an exit code. */
static int fail(const struct args *a, int err)
{
	switch (err) {
	case -ENOENT:
		return cli_error(CLI_NEGATIVE, a->cmd, "no buffer attached to %s (no pins under %s/%s)",
				 a->iface, BUFFER_PIN_ROOT, a->iface);
	case -ENODEV:
		return cli_error(CLI_FAILURE, a->cmd, "interface %s does not exist", a->iface);
	case -ESTALE:
		return cli_error(CLI_FAILURE, a->cmd, "the pinned buffer belongs to an earlier %s or "
				 "to another namespace; run 'netmove buffer detach --iface %s'",
				 a->iface, a->iface);
	case -ENOLINK:
		return cli_error(CLI_FAILURE, a->cmd, "the buffer program is no longer on %s "
				 "(qdisc removed?); run 'netmove buffer detach --iface %s'",
				 a->iface, a->iface);
	case -EEXIST:
		return cli_error(CLI_FAILURE, a->cmd, "a buffer is already attached to %s "
				 "(detach it first, or --force to replace a stale one)", a->iface);
	case -EBUSY:
		return cli_error(CLI_FAILURE, a->cmd, "%s has an 'ingress' qdisc; the buffer needs "
				 "clsact", a->iface);
	case -EPERM:
	case -EACCES:
		return cli_error(CLI_FAILURE, a->cmd, "permission denied (needs root: BPF, tc, bpffs)");
	default:
		return cli_error(CLI_FAILURE, a->cmd, "%s", strerror(-err));
	}
}

static void out_counters(struct out *o, const struct buffer_counters *c)
{
	out_u64(o, "passed", c->passed);
	out_u64(o, "buffered", c->buffered);
	out_u64(o, "drained", c->drained);
	out_u64(o, "exported", c->exported);
	out_u64(o, "dropped", c->dropped);
	out_u64(o, "forwarded", c->forwarded);
	out_u64(o, "ring_full", c->ring_full);
	out_u64(o, "errors", c->errors);
	out_u64(o, "handbacks", c->flips);
}

static int open_pinned(struct args *a, struct buffer **b)
{
	int ret = buffer_open_pinned(a->iface, b);

	return ret < 0 ? fail(a, ret) : CLI_OK;
}

static int run_attach(struct args *a)
{
	struct buffer_opts opts = { .ring_bytes = a->ring_bytes, .pin = true };
	char pins[64];
	struct buffer *b;
	bool mounted;
	struct out o;
	int ret;

	ret = buffer_bpffs_mount(&mounted);
	if (ret < 0)
		return cli_error(CLI_FAILURE, a->cmd, "cannot mount a bpffs at /sys/fs/bpf: %s",
				 strerror(-ret));
	if (a->seen & O_FORCE) {
		opts.replace = true;
		(void)buffer_unpin(a->iface);
	}
	ret = buffer_attach(a->iface, &opts, &b);
	if (ret < 0)
		return fail(a, ret);
	cli_out(&o, &a->ctx);
	out_str(&o, "iface", a->iface);
	out_u64(&o, "ring_bytes", a->ring_bytes ? a->ring_bytes : BUFFER_RING_DEFAULT);
	snprintf(pins, sizeof(pins), "%s/%s", BUFFER_PIN_ROOT, a->iface);
	out_str(&o, "pins", pins);
	out_bool(&o, "mounted_bpffs", mounted);
	out_finish(&o);
	buffer_close(b);
	return CLI_OK;
}

static int run_arm(struct args *a)
{
	struct buffer *b;
	char m[MAC_STRLEN];
	struct out o;
	int ret, touched;

	ret = open_pinned(a, &b);
	if (ret != CLI_OK)
		return ret;
	/* An empty ring is pre-touched; one already holding frames is not. */
	touched = buffer_pretouch(b);
	ret = buffer_arm(b, &a->mac);
	if (ret < 0) {
		buffer_close(b);
		if (ret == -ENOSPC)
			return cli_error(CLI_FAILURE, a->cmd, "%s tracks %d MACs already", a->iface,
					 BUFFER_MAX_MACS);
		return fail(a, ret);
	}
	cli_out(&o, &a->ctx);
	out_str(&o, "iface", a->iface);
	out_str(&o, "mac", mac_format(&a->mac, m));
	out_str(&o, "mode", buffer_mode_name(BUFFER_MODE_BUFFER));
	out_bool(&o, "pretouched", touched == 0);
	out_finish(&o);
	buffer_close(b);
	return CLI_OK;
}

static int run_flush(struct args *a)
{
	struct buffer_replay_stats st = { 0 };
	struct buffer *b;
	char m[MAC_STRLEN];
	struct out o;
	int ret;

	ret = open_pinned(a, &b);
	if (ret != CLI_OK)
		return ret;
	ret = buffer_drain(b, &a->mac, &st);
	buffer_close(b);
	if (ret == -ENOENT)
		return cli_error(CLI_NEGATIVE, a->cmd, "%s is not tracked on %s",
				 mac_format(&a->mac, m), a->iface);
	if (ret < 0)
		return cli_error(CLI_FAILURE, a->cmd, "replay into %s failed after %llu frames: %s "
				 "(the rest stay buffered, the MAC is back to buffer)", a->iface,
				 (unsigned long long)st.frames, strerror(-ret));
	cli_out(&o, &a->ctx);
	out_str(&o, "iface", a->iface);
	out_str(&o, "mac", mac_format(&a->mac, m));
	out_u64(&o, "replayed", st.frames);
	out_u64(&o, "bytes", st.bytes);
	out_u64(&o, "checksum_partial", st.partial);
	out_u64(&o, "gso", st.gso);
	out_u64(&o, "retries", st.retries);
	out_u64(&o, "skipped", st.skipped);
	out_double(&o, "duration_ms", (double)st.duration_ns / 1e6, 3);
	out_str(&o, "handed_back_by", st.flipped_by_prog ? "program" : "netmove");
	out_str(&o, "mode", buffer_mode_name(BUFFER_MODE_PASS));
	out_finish(&o);
	return CLI_OK;
}

static int run_stats(struct args *a)
{
	struct mac macs[BUFFER_MAX_MACS];
	struct buffer_stats st;
	struct buffer *b;
	char m[MAC_STRLEN];
	struct out o;
	int ret, n, i;

	ret = open_pinned(a, &b);
	if (ret != CLI_OK)
		return ret;
	if (a->seen & O_MAC) {
		macs[0] = a->mac;
		n = 1;
	} else {
		n = buffer_macs(b, macs, BUFFER_MAX_MACS);
	}
	if ((a->seen & O_MAC) && buffer_stats(b, &a->mac, &st) == -ENOENT) {
		buffer_close(b);
		return cli_error(CLI_NEGATIVE, a->cmd, "%s is not tracked on %s",
				 mac_format(&a->mac, m), a->iface);
	}
	ret = buffer_stats(b, NULL, &st);
	if (ret < 0) {
		buffer_close(b);
		return fail(a, ret);
	}
	cli_out(&o, &a->ctx);
	out_str(&o, "iface", a->iface);
	out_u64(&o, "ring_size", st.ring_size);
	out_u64(&o, "ring_used", st.ring_used);
	out_u64(&o, "next_seq", st.next_seq);
	out_u64(&o, "resumes", st.resumes);
	/* The owner's lease: left in ms (negative: it ran out, frames pass). */
	if (st.lease_ns)
		out_i64(&o, "lease_left_ms",
			((int64_t)st.lease_ns - (int64_t)timeutil_mono_ns()) / 1000000);
	out_u64(&o, "lease_passed", st.lease_passed);
	if (!(a->seen & O_MAC)) {
		out_obj_begin(&o, "port");
		out_counters(&o, &st.c);
		out_obj_end(&o);
	}
	out_arr_begin(&o, "macs");
	for (i = 0; i < n; i++) {
		if (buffer_stats(b, &macs[i], &st) < 0)
			continue;
		out_obj_begin(&o, NULL);
		out_str(&o, "mac", mac_format(&macs[i], m));
		out_str(&o, "mode", buffer_mode_name(st.mode));
		out_bool(&o, "watching", st.watching);
		out_counters(&o, &st.c);
		out_obj_end(&o);
	}
	out_arr_end(&o);
	out_finish(&o);
	buffer_close(b);
	return CLI_OK;
}

static int run_detach(struct args *a)
{
	struct buffer *b;
	struct out o;
	bool stale = false;
	int ret;

	ret = buffer_open_pinned(a->iface, &b);
	if (ret == 0) {
		ret = buffer_detach(b);
	} else if (ret == -ENODEV || ret == -ESTALE || ret == -ENOLINK) {
		/* The pins outlived their attachment: only they are ours to remove. */
		ret = buffer_unpin(a->iface);
		stale = true;
	} else if (ret == -ENOENT && (a->seen & O_FORCE)) {
		ret = buffer_unhook(a->iface);
		stale = true;
	} else if (ret == -ENOENT && buffer_hooked(a->iface) > 0) {
		return cli_error(CLI_NEGATIVE, a->cmd, "%s has a netmove filter but no pins (the "
				 "agent's, or left by a process that died): --force removes it",
				 a->iface);
	}
	if (ret < 0)
		return fail(a, ret);
	cli_out(&o, &a->ctx);
	out_str(&o, "iface", a->iface);
	out_bool(&o, "detached", true);
	out_bool(&o, "stale", stale);
	out_finish(&o);
	return CLI_OK;
}

static int run_kernel(struct args *a)
{
	struct buffer_kernel k;
	struct out o;
	int ret = buffer_kernel(&k);

	cli_out(&o, &a->ctx);
	out_str(&o, "release", k.release);
	out_bool(&o, "supported", ret == 0);
	out_str(&o, "capture", buffer_capture_name(k.capture));
	if (k.why[0])
		out_str(&o, ret == 0 ? "note" : "missing", k.why);
	out_str(&o, "minimum", BUFFER_MIN_KERNEL);
	out_finish(&o);
	if (ret < 0)
		return cli_error(CLI_NEGATIVE, a->cmd, "Linux %s cannot run the buffer: it lacks %s",
				 k.release, k.why);
	return CLI_OK;
}

static const struct option sub_opts[] = {
	{ "iface", required_argument, NULL, 'i' },
	{ "mac", required_argument, NULL, 'm' },
	{ "ring-mib", required_argument, NULL, 'r' },
	{ "force", no_argument, NULL, 'f' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

static const char *opt_name(unsigned bit)
{
	return bit == O_IFACE ? "--iface" : bit == O_MAC ? "--mac" :
	       bit == O_RING ? "--ring-mib" : "--force";
}

/* Returns an exit code, with *run set when the command should go ahead. */
static int parse_sub(const struct sub *s, int argc, char **argv, struct args *a, bool *run)
{
	uint64_t v;
	unsigned bit;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":i:m:jh", sub_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			sub_usage(stdout, s);
			return CLI_OK;
		case 'j':
			a->ctx.json = true;
			continue;
		case 'i':
			bit = O_IFACE;
			a->iface = optarg;
			break;
		case 'm':
			bit = O_MAC;
			if (cli_mac(a->cmd, "--mac", optarg, &a->mac) < 0)
				return CLI_USAGE;
			if (mac_is_multicast(&a->mac) || mac_is_zero(&a->mac))
				return cli_error(CLI_USAGE, a->cmd, "--mac: %s is not a unicast address",
						 optarg);
			break;
		case 'r':
			bit = O_RING;
			if (cli_uint(a->cmd, "--ring-mib", optarg, 1, 2048, &v) < 0)
				return CLI_USAGE;
			if (v & (v - 1))
				return cli_error(CLI_USAGE, a->cmd, "--ring-mib: %s is not a power of two",
						 optarg);
			a->ring_bytes = (uint32_t)(v << 20);
			break;
		case 'f':
			bit = O_FORCE;
			break;
		case ':':
			return cli_error(CLI_USAGE, a->cmd, "option '%s' needs a value", argv[optind - 1]);
		default:
			return cli_error(CLI_USAGE, a->cmd, "unknown option '%s' (see netmove %s --help)",
					 argv[optind - 1], a->cmd);
		}
		if (!(s->allowed & bit))
			return cli_error(CLI_USAGE, a->cmd, "%s is not an option of '%s' (see netmove "
					 "%s --help)", opt_name(bit), a->cmd, a->cmd);
		a->seen |= bit;
	}
	if (optind < argc)
		return cli_error(CLI_USAGE, a->cmd, "unexpected argument '%s'", argv[optind]);
	if ((s->required & O_IFACE) && !(a->seen & O_IFACE))
		return cli_error(CLI_USAGE, a->cmd, "--iface is required (see netmove %s --help)",
				 a->cmd);
	if ((s->required & O_MAC) && !(a->seen & O_MAC))
		return cli_error(CLI_USAGE, a->cmd, "--mac is required (see netmove %s --help)",
				 a->cmd);
	/* detach must also clean up after an interface that is gone. */
	if (s->required & O_IFACE && s->run != run_detach &&
	    cli_iface(a->cmd, "--iface", a->iface, NULL) < 0)
		return CLI_USAGE;
	if (s->run == run_detach &&
	    (!*a->iface || strlen(a->iface) >= IF_NAMESIZE || strchr(a->iface, '/')))
		return cli_error(CLI_USAGE, a->cmd, "--iface: '%s' is not a valid interface name",
				 a->iface);
	*run = true;
	return CLI_OK;
}

int cmd_buffer(int argc, char **argv, const struct cli_ctx *ctx)
{
	struct args a = { .ctx = *ctx };
	bool run = false;
	char cmd[24];
	size_t i;
	int ret;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return CLI_OK;
	}
	if (argc >= 2 && (!strcmp(argv[1], "-j") || !strcmp(argv[1], "--json"))) {
		a.ctx.json = true;
		argc--;
		argv++;
	}
	if (argc < 2) {
		cli_error(CLI_USAGE, "buffer", "missing command");
		usage(stderr);
		return CLI_USAGE;
	}
	for (i = 0; i < NSUBS; i++)
		if (!strcmp(argv[1], subs[i].name))
			break;
	if (i == NSUBS)
		return cli_error(CLI_USAGE, "buffer", "unknown command '%s' (attach, arm, flush, "
				 "stats, detach)", argv[1]);
	snprintf(cmd, sizeof(cmd), "buffer %s", subs[i].name);
	a.cmd = cmd;
	optind = 0;
	ret = parse_sub(&subs[i], argc - 1, argv + 1, &a, &run);
	if (!run)
		return ret;
	if (geteuid() != 0)
		return cli_error(CLI_FAILURE, cmd, "needs root (BPF programs, tc filters, bpffs pins)");
	/* libbpf's own lines duplicate our messages; NETMOVE_DEBUG keeps them. */
	if (!getenv("NETMOVE_DEBUG"))
		libbpf_set_print(NULL);
	return subs[i].run(&a);
}
