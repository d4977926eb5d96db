/* nm-libvirt-hook: netmove's libvirt QEMU hook, installed as
 * /etc/libvirt/hooks/qemu.d/netmove and run by libvirt as
 *   netmove DOMAIN OPERATION SUB-OPERATION EXTRA   (domain XML on stdin)
 * On the destination of a migration (see nm-libvirt-hook(8)):
 *   migrate begin   the incoming domain's netmove interfaces -> state file
 *   started begin   with that state file: PULL each interface to its new tap
 *                   (QEMU waits in -incoming, the tap is on OVS) and wait
 *                   until this host's netmoved has the relocation prepared
 *   release end,
 *   stopped end     the incoming migration failed: drop the state file
 * Everything else exits 0 at once.  It never writes to stdout (libvirt reads
 * a migrate hook's stdout as a replacement XML), always exits 0 when run by
 * libvirt (a netmove failure must not fail the migration) and is bounded in
 * time (NETMOVE_HOOK_TIMEOUT_MS, 5 s). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "domxml.h"
#include "netmove/agentc.h"
#include "netmove/mac.h"
#include "netmove/timeutil.h"

#ifndef NETMOVE_VERSION
#define NETMOVE_VERSION "0.1"
#endif

/* Exit codes (nm-libvirt-hook(8)); run by libvirt it always exits EX_OK. */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

#define DEFAULT_LOG "/var/log/netmove/libvirt-hook.log"
#define DEFAULT_STATE_DIR "/run/netmove/libvirt"
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_TIMEOUT_MS 600000
/* Left for exiting cleanly when the pulls have used the budget. */
#define MARGIN_MS 100
/* migrate begin -> started begin is the prepare phase (no memory copied yet);
 * an older state file is a leftover, not this start. */
#define STATE_MAX_AGE_S 600
#define STATE_SUFFIX ".incoming"
#define LINE_MAX_ 1024

struct hook {
	const char *domain, *op, *sub;	/* libvirt's argv[1..3] */
	const char *state_dir;		/* NETMOVE_HOOK_STATE_DIR or the default */
	const char *log_path;		/* NETMOVE_HOOK_LOG or the default */
	int log_fd;			/* -1: not opened yet, -2: cannot be */
	int timeout_ms;			/* the whole run's budget */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC end of that budget */
	char state[PATH_MAX];		/* this domain's state file */
};

/* The watchdog's line, formatted before it is armed (a signal handler cannot). */
static char alarm_line[LINE_MAX_];
static size_t alarm_len;
static int alarm_log_fd = -1;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nm-libvirt-hook DOMAIN OPERATION SUB-OPERATION EXTRA  (XML on stdin)\n"
		"       nm-libvirt-hook --help | --version\n\n"
		"netmove's libvirt QEMU hook: install as /etc/libvirt/hooks/qemu.d/netmove.\n"
		"On the destination of a migration it asks this host's netmoved to pull the\n"
		"VM's netmove interfaces (<virtualport type='openvswitch'/> with an IP in\n"
		"<nm:netmove xmlns:nm=\"%s\">) to their new taps:\n"
		"  migrate begin   record the incoming interfaces (state file)\n"
		"  started begin   PULL each one and wait until it is prepared\n"
		"  release end, stopped end   drop the state file\n"
		"Anything else exits 0 at once.  Run by libvirt it always exits 0.\n"
		"environment:\n"
		"  NETMOVE_SOCKET          netmoved's socket (/run/netmove/netmoved.sock)\n"
		"  NETMOVE_HOOK_STATE_DIR  state files (%s)\n"
		"  NETMOVE_HOOK_LOG        log file, also on stderr (%s)\n"
		"  NETMOVE_HOOK_TIMEOUT_MS time limit of one run (%d)\n"
		"exit codes: 0 run by libvirt or --help, 1 failure, 2 usage\n",
		DOMXML_NS, DEFAULT_STATE_DIR, DEFAULT_LOG, DEFAULT_TIMEOUT_MS);
}

/* ---- logging: one line per action, on stderr and appended to the log ---- */

/* "2026-12-01T10:00:00.123456Z" for the CLOCK_REALTIME instant ns. */
static void stamp(uint64_t ns, char *buf, size_t size)
{
	time_t s = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;

	gmtime_r(&s, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06luZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned long)(ns % NSEC_PER_SEC / NSEC_PER_USEC));
}

/* Create the directories leading to path's last component (mode 0755). */
static int mkdir_parents(const char *path)
{
	char p[PATH_MAX];
	char *s;

	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (s = p + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

/* Format one log line ("STAMP nm-libvirt-hook: DOMAIN OP SUB: text\n") for
 * the instant ns; control characters (from a domain name) become '?'. */
static size_t format_line(const struct hook *h, uint64_t ns, char *line, size_t size,
			  const char *fmt, va_list ap)
{
	char ts[80];
	size_t n, i;
	int k;

	stamp(ns, ts, sizeof(ts));
	k = snprintf(line, size, "%s nm-libvirt-hook: %s %s %s: ", ts, h->domain, h->op, h->sub);
	n = k < 0 ? 0 : (size_t)k >= size ? size - 1 : (size_t)k;
	k = vsnprintf(line + n, size - n, fmt, ap);
	n += k < 0 ? 0 : (size_t)k >= size - n ? size - n - 1 : (size_t)k;
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (n == size - 1)
		n--;
	line[n++] = '\n';
	line[n] = 0;
	return n;
}

static int open_log(struct hook *h)
{
	if (h->log_fd != -1)
		return h->log_fd;
	h->log_fd = open(h->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (h->log_fd < 0 && errno == ENOENT && mkdir_parents(h->log_path) == 0)
		h->log_fd = open(h->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (h->log_fd < 0) {
		int e = errno;

		h->log_fd = -2;
		dprintf(STDERR_FILENO, "nm-libvirt-hook: log file %s: %s (stderr only)\n",
			h->log_path, strerror(e));
	}
	alarm_log_fd = h->log_fd;
	return h->log_fd;
}

static void hlog(struct hook *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hlog(struct hook *h, const char *fmt, ...)
{
	char line[LINE_MAX_];
	va_list ap;
	size_t n;
	int fd;

	va_start(ap, fmt);
	n = format_line(h, timeutil_real_ns(), line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write each: lines of concurrent hooks do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nobody reads stderr: the log file still has it */
	}
	fd = open_log(h);
	if (fd >= 0 && write(fd, line, n) < 0) {
		/* nothing left to tell it to */
	}
}

/* ---- the time bound ---- */

static void on_alarm(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, alarm_line, alarm_len) < 0) {
		/* exiting anyway */
	}
	if (alarm_log_fd >= 0 && write(alarm_log_fd, alarm_line, alarm_len) < 0) {
		/* exiting anyway */
	}
	_exit(EX_OK);
}

static void alarm_fmt(struct hook *h, uint64_t ns, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void alarm_fmt(struct hook *h, uint64_t ns, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	alarm_len = format_line(h, ns, alarm_line, sizeof(alarm_line), fmt, ap);
	va_end(ap);
}

/* Whatever blocks (a connect to a stuck agent, a slow stdin), libvirt gets
 * its answer at the deadline: a SIGALRM exits 0. */
static void arm_watchdog(struct hook *h)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { 0 };

	open_log(h);
	alarm_fmt(h, timeutil_real_ns() + (uint64_t)h->timeout_ms * NSEC_PER_MSEC,
		  "time limit of %d ms reached: exiting 0, netmove did not finish", h->timeout_ms);
	sigaction(SIGALRM, &sa, NULL);
	it.it_value.tv_sec = h->timeout_ms / 1000;
	it.it_value.tv_usec = h->timeout_ms % 1000 * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Milliseconds left of the budget, keeping MARGIN_MS to exit cleanly. */
static int left_ms(const struct hook *h)
{
	int ms = timeutil_poll_ms(h->deadline_ns);

	return ms > MARGIN_MS ? ms - MARGIN_MS : 0;
}

/* ---- input ---- */

/* The domain XML libvirt writes to stdin, up to EOF, within the budget. */
static int read_stdin(const struct hook *h, char **out, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *buf = malloc(cap), *nb;
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	ssize_t k;
	int r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		r = poll(&p, 1, left_ms(h));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			r = r < 0 ? -errno : -ETIMEDOUT;
			goto fail;
		}
		if (n == cap) {
			if (cap > DOMXML_MAX_LEN) {
				r = -E2BIG;
				goto fail;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				r = -ENOMEM;
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		k = read(STDIN_FILENO, buf + n, cap - n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0) {
			r = -errno;
			goto fail;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	*out = buf;
	*len = n;
	return 0;
fail:
	free(buf);
	return r;
}

/* Read and parse the domain XML; logs why not. */
static int read_domain(struct hook *h, struct domxml_domain *d)
{
	char err[256], *xml = NULL;
	size_t len = 0;
	int r;

	r = read_stdin(h, &xml, &len);
	if (r < 0) {
		hlog(h, "reading the domain XML from stdin: %s",
		     r == -E2BIG ? "larger than 16 MiB" :
		     r == -ETIMEDOUT ? "no end of input within the time limit" : strerror(-r));
		return r;
	}
	r = domxml_parse(xml, len, d, err, sizeof(err));
	free(xml);
	if (r < 0) {
		hlog(h, "domain XML: %s", err);
		return r;
	}
	if (strcmp(d->name, h->domain))
		hlog(h, "note: the domain XML names the domain '%s'", d->name);
	return 0;
}

/* ---- state file: <dir>/<domain>.incoming, one "MAC IP|-" line each ---- */

/* A name usable as a file name in the state directory. */
static bool domain_ok(const char *name)
{
	const char *p;

	if (!*name || name[0] == '.' ||
	    strlen(name) + strlen(STATE_SUFFIX ".tmp") > NAME_MAX)
		return false;
	for (p = name; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

static int write_state(struct hook *h, const struct domxml_domain *d)
{
	char tmp[PATH_MAX + 8], mac_s[MAC_STRLEN], ip_s[INET_ADDRSTRLEN];
	size_t i;
	FILE *f;
	int r;

	r = mkdir_parents(h->state);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->state);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "# netmove: incoming migration of %s (libvirt's migrate begin hook)\n",
		h->domain);
	for (i = 0; i < d->n_ifaces; i++) {
		const struct domxml_iface *x = &d->ifaces[i];

		fprintf(f, "%s %s\n", mac_format(&x->mac, mac_s),
			x->have_ip ? inet_ntop(AF_INET, &x->ip, ip_s, sizeof(ip_s)) : "-");
	}
	r = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0 && !r)
		r = -errno;
	/* rename: started begin sees a whole file or none. */
	if (!r && rename(tmp, h->state) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* ---- operations ---- */

static void list_ifaces(const struct domxml_domain *d, char *buf, size_t size)
{
	char mac_s[MAC_STRLEN], ip_s[INET_ADDRSTRLEN];
	size_t i, n = 0;
	int k;

	buf[0] = 0;
	for (i = 0; i < d->n_ifaces && n < size; i++) {
		const struct domxml_iface *x = &d->ifaces[i];

		k = snprintf(buf + n, size - n, "%s%s %s", i ? ", " : "",
			     mac_format(&x->mac, mac_s),
			     x->have_ip ? inet_ntop(AF_INET, &x->ip, ip_s, sizeof(ip_s)) : "(no ip)");
		n += k > 0 ? (size_t)k : 0;
	}
}

static void migrate_begin(struct hook *h)
{
	struct domxml_domain d;
	char list[600];
	int r;

	if (read_domain(h, &d) < 0) {
		hlog(h, "incoming migration not recorded: netmove will not pull it");
		return;
	}
	if (!d.n_ifaces) {
		hlog(h, "no netmove (Open vSwitch) interfaces: nothing to record");
		return;
	}
	r = write_state(h, &d);
	list_ifaces(&d, list, sizeof(list));
	if (r < 0)
		hlog(h, "state file %s: %s: incoming migration not recorded", h->state,
		     strerror(-r));
	else
		hlog(h, "incoming migration of %zu netmove interface%s (%s) recorded in %s",
		     d.n_ifaces, d.n_ifaces == 1 ? "" : "s", list, h->state);
}

/* PULL one interface here; logs the outcome.  Returns 0 if prepared. */
static int pull(struct hook *h, const struct domxml_iface *x)
{
	char msg[256] = "", mac_s[MAC_STRLEN], ip_s[INET_ADDRSTRLEN];
	const char *sock = agentc_socket();
	uint64_t t0;
	int r, ms;

	mac_format(&x->mac, mac_s);
	if (!x->have_ip) {
		hlog(h, "no netmove metadata ip for MAC %s: not relocated", mac_s);
		return -ENOENT;
	}
	inet_ntop(AF_INET, &x->ip, ip_s, sizeof(ip_s));
	if (!x->target[0]) {
		hlog(h, "MAC %s (%s) has no <target dev> in the live XML: not relocated", mac_s,
		     ip_s);
		return -ENODEV;
	}
	ms = left_ms(h);
	if (!ms) {
		hlog(h, "time limit of %d ms used up: MAC %s (%s) not relocated", h->timeout_ms,
		     mac_s, ip_s);
		return -ETIMEDOUT;
	}
	t0 = timeutil_mono_ns();
	r = agentc_pull(sock, &x->mac, x->ip, x->target, NULL, ms, msg, sizeof(msg));
	t0 = (timeutil_mono_ns() - t0) / NSEC_PER_MSEC;
	if (r == 0 || r == -EPROTO)
		hlog(h, "pull %s (%s) to %s%s%s: %s%s%s (netmoved answered in %llu ms)", mac_s,
		     ip_s, x->target, x->bridge[0] ? " on " : "", x->bridge,
		     r ? "refused" : "prepared", msg[0] ? ": " : "", msg, (unsigned long long)t0);
	else
		hlog(h, "pull %s (%s) to %s%s%s: failed: netmoved at %s: %s (after %llu ms)", mac_s,
		     ip_s, x->target, x->bridge[0] ? " on " : "", x->bridge, sock, strerror(-r),
		     (unsigned long long)t0);
	return r;
}

/* A state file older than STATE_MAX_AGE_S is removed and not used. */
static bool state_present(struct hook *h)
{
	struct stat st;
	time_t now = time(NULL);

	if (stat(h->state, &st) < 0)
		return false;
	if (now - st.st_mtime > STATE_MAX_AGE_S) {
		unlink(h->state);
		hlog(h, "stale state file %s (%lld s old) removed: not an incoming migration",
		     h->state, (long long)(now - st.st_mtime));
		return false;
	}
	return true;
}

static void started_begin(struct hook *h)
{
	struct domxml_domain d = { .n_ifaces = 0 };
	size_t i, ok = 0;

	if (!state_present(h))
		return;		/* a plain start, not an incoming migration */
	if (read_domain(h, &d) == 0) {
		if (!d.n_ifaces)
			hlog(h, "the live XML has no netmove (Open vSwitch) interfaces");
		for (i = 0; i < d.n_ifaces; i++)
			ok += pull(h, &d.ifaces[i]) == 0;
	}
	if (unlink(h->state) < 0 && errno != ENOENT)
		hlog(h, "removing %s: %s", h->state, strerror(errno));
	hlog(h, "incoming migration: %zu of %zu netmove interface%s prepared", ok, d.n_ifaces,
	     d.n_ifaces == 1 ? "" : "s");
}

static void drop_state(struct hook *h)
{
	if (unlink(h->state) == 0)
		hlog(h, "state file %s removed (the incoming migration did not start)", h->state);
	else if (errno != ENOENT)
		hlog(h, "removing %s: %s", h->state, strerror(errno));
}

/* ---- main ---- */

static int env_timeout(void)
{
	const char *s = getenv("NETMOVE_HOOK_TIMEOUT_MS");
	char *end;
	long v;

	if (!s || !*s)
		return DEFAULT_TIMEOUT_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v <= 0 || v > MAX_TIMEOUT_MS) {
		fprintf(stderr, "nm-libvirt-hook: NETMOVE_HOOK_TIMEOUT_MS='%s' is not 1..%d: "
			"using %d\n", s, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
		return DEFAULT_TIMEOUT_MS;
	}
	return (int)v;
}

static const char *env_or(const char *name, const char *def)
{
	const char *s = getenv(name);

	return s && *s ? s : def;
}

/* By hand: --help, --version. */
static int options(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", lo, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return EX_OK;
		case 'V': printf("nm-libvirt-hook (netmove) %s\n", NETMOVE_VERSION); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	fprintf(stderr, "nm-libvirt-hook: libvirt runs it with DOMAIN OPERATION SUB-OPERATION "
		"EXTRA\n");
	usage(stderr);
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	struct hook h = { .log_fd = -1 };
	enum { NONE, MIGRATE, STARTED, DROP } what = NONE;
	int fd;

	/* libvirt always passes four arguments; a domain may be called "--help". */
	if (argc < 4)
		return options(argc, argv);
	h.domain = argv[1];
	h.op = argv[2];
	h.sub = argv[3];
	if (!strcmp(h.op, "migrate") && !strcmp(h.sub, "begin"))
		what = MIGRATE;
	else if (!strcmp(h.op, "started") && !strcmp(h.sub, "begin"))
		what = STARTED;
	else if ((!strcmp(h.op, "release") || !strcmp(h.op, "stopped")) && !strcmp(h.sub, "end"))
		what = DROP;
	if (what == NONE)
		return EX_OK;	/* stdin unread: libvirt ignores the closed pipe */

	/* Whatever is printed by mistake must not become the domain XML. */
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && fd != STDOUT_FILENO) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	signal(SIGPIPE, SIG_IGN);
	h.state_dir = env_or("NETMOVE_HOOK_STATE_DIR", DEFAULT_STATE_DIR);
	h.log_path = env_or("NETMOVE_HOOK_LOG", DEFAULT_LOG);
	h.timeout_ms = env_timeout();
	h.deadline_ns = timeutil_deadline_ms(h.timeout_ms);
	arm_watchdog(&h);

	if (!domain_ok(h.domain)) {
		hlog(&h, "domain name not usable as a state file name: ignored");
		return EX_OK;
	}
	if (snprintf(h.state, sizeof(h.state), "%s/%s" STATE_SUFFIX, h.state_dir, h.domain) >=
	    (int)sizeof(h.state)) {
		hlog(&h, "state file path too long: ignored");
		return EX_OK;
	}
	switch (what) {
	case MIGRATE: migrate_begin(&h); break;
	case STARTED: started_begin(&h); break;
	case DROP: drop_state(&h); break;
	case NONE: break;
	}
	return EX_OK;
}
