/* nm-vmstub: a VM stand-in for migration tests.  It plays the hypervisor's virtual
 * NIC: frames move between a host-side tap (on a host's vSwitch) and a guest-side tap
 * eth0 in a guest network namespace whose kernel stack is the "guest".  Pausing stops
 * the forwarding; resuming can do it from a tap on another host, which is a migration. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

#include "vs_hook.h"
#include "vmstub.h"

#define VS_CLIENT_TIMEOUT_MS 30000

static void reap(struct vmstub *vs)
{
	char how[32];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == vs->hook_pid)
			cmd_hook_exited(vs, status);
		else if (!WIFEXITED(status) || WEXITSTATUS(status))
			fprintf(stderr, "nm-vmstub: resumed hook %d: %s\n", (int)pid,
				vs_hook_status(status, how, sizeof(how)));
	}
}

static void signals(struct vmstub *vs)
{
	struct signalfd_siginfo si;

	while (read(vs->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(vs);
		else
			vs->quit = true;
	}
}

static bool tap_failed(struct vmstub *vs, short revents, const char *name)
{
	if (!(revents & (POLLERR | POLLHUP | POLLNVAL)))
		return false;
	fprintf(stderr, "nm-vmstub: tap %s failed (device gone?)\n", name);
	vs->quit = true;
	vs->exit_code = 1;
	return true;
}

static void forward(struct vmstub *vs, bool from_guest)
{
	struct vs_tap *t = &vs->tap[vs->active];
	int ret;

	if (from_guest)
		ret = vm_fwd(vs, vs->guest_fd, t->fd, &vs->st.g2h_frames, &vs->st.g2h_bytes, VS_BATCH);
	else
		ret = vm_fwd(vs, t->fd, vs->guest_fd, &vs->st.h2g_frames, &vs->st.h2g_bytes, VS_BATCH);
	if (ret < 0) {
		fprintf(stderr, "nm-vmstub: reading %s: %s\n",
			from_guest ? VS_GUEST_IF : t->name, strerror(-ret));
		vs->quit = true;
		vs->exit_code = 1;
	}
}

static int loop(struct vmstub *vs)
{
	enum { P_SIG, P_CTL, P_GUEST, P_HOST, P_CL };
	struct pollfd p[P_CL + VS_MAX_CLIENTS];
	bool running;
	int i, timeout, n;

	while (!vs->quit) {
		running = vs->state != VS_PAUSED;
		p[P_SIG] = (struct pollfd){ .fd = vs->sig_fd, .events = POLLIN };
		p[P_CTL] = (struct pollfd){ .fd = vs->ctl_fd, .events = POLLIN };
		p[P_GUEST] = (struct pollfd){ .fd = vs->guest_fd, .events = running ? POLLIN : 0 };
		p[P_HOST] = (struct pollfd){ .fd = vs->tap[vs->active].fd,
					     .events = running || (vs->keep_one && !vs->kept) ?
							       POLLIN : 0 };
		for (i = 0; i < VS_MAX_CLIENTS; i++)
			p[P_CL + i] = (struct pollfd){ .fd = vs->cl[i].fd,
						       .events = vs->cl[i].waiting ? 0 : POLLIN };
		timeout = -1;
		if (vs->hook_pid > 0 && !vs->hook_killed) {
			long long left = vs->hook_deadline - vm_mono_ms();

			timeout = left > 0 ? (int)left : 0;
		} else if (vs->hook_at) {
			long long left = vs->hook_at - vm_mono_ms();

			timeout = left > 0 ? (int)left : 0;
		}
		n = poll(p, P_CL + VS_MAX_CLIENTS, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[P_SIG].revents)
			signals(vs);
		if (tap_failed(vs, p[P_GUEST].revents, VS_GUEST_IF) ||
		    tap_failed(vs, p[P_HOST].revents, vs->tap[vs->active].name))
			break;
		/* The state may have changed above (a blackout hook ended): re-check. */
		if (vs->state != VS_PAUSED && (p[P_GUEST].revents & POLLIN))
			forward(vs, true);
		if (vs->state != VS_PAUSED && (p[P_HOST].revents & POLLIN))
			forward(vs, false);
		else if (vs->keep_one && !vs->kept && (p[P_HOST].revents & POLLIN))
			vm_keep_one(vs);
		cmd_late_hook(vs);
		if (vs->hook_pid > 0 && !vs->hook_killed && vm_mono_ms() >= vs->hook_deadline) {
			kill(-vs->hook_pid, SIGKILL);
			vs->hook_killed = true;
		}
		if (p[P_CTL].revents & POLLIN)
			cmd_accept(vs);
		for (i = 0; i < VS_MAX_CLIENTS; i++) {
			struct vs_client *c = &vs->cl[i];

			if (c->fd < 0 || c->fd != p[P_CL + i].fd || !p[P_CL + i].revents)
				continue;
			if (p[P_CL + i].revents & POLLIN)
				cmd_input(vs, c);
			else
				cmd_close(c);
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nm-vmstub --guest-ns NS --mac MAC --ip IP/PREFIX [--gw IP]\n"
		"                 --host-ns NS --tap NAME --ctl SOCKPATH\n"
		"                 [--hook-blackout CMD] [--hook-resumed CMD] [--announce]\n"
		"                 [--txqlen N] [--pidfile FILE]\n"
		"       nm-vmstub ctl SOCKPATH COMMAND [ARG...]\n\n"
		"A VM stand-in: forwards frames between tap NAME in namespace --host-ns and\n"
		"tap eth0 in the guest namespace --guest-ns (both must exist).  Prints\n"
		"\"ready\" on stdout once forwarding.  Control commands (one line, one JSON\n"
		"reply): pause, prepare NS TAP, resume [src|dst], release src|dst, stats, quit.\n"
		"The ctl form sends one command and prints the reply.\n"
		"exit codes: 0 ok, 1 failure (ctl: the command failed), 2 usage error,\n"
		"3 ctl: no answer from the socket\n");
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	int n = 0;

	if (sscanf(s, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx%n", &mac[0], &mac[1], &mac[2],
		   &mac[3], &mac[4], &mac[5], &n) != 6 || s[n] != '\0' || strlen(s) != 17)
		return -EINVAL;
	if (mac[0] & 1 || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return -EINVAL;
	return 0;
}

static int parse_prefix(const char *s, struct in_addr *ip, int *prefix)
{
	char addr[INET_ADDRSTRLEN], *end;
	const char *slash = strchr(s, '/');
	long p;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET, addr, ip) != 1)
		return -EINVAL;
	errno = 0;
	p = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || p < 1 || p > 32)
		return -EINVAL;
	*prefix = (int)p;
	return 0;
}

static int parse_opts(int argc, char **argv, struct vs_opts *o)
{
	static const struct option opts[] = {
		{ "guest-ns", required_argument, NULL, 'g' },
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'i' },
		{ "gw", required_argument, NULL, 'G' },
		{ "host-ns", required_argument, NULL, 'H' },
		{ "tap", required_argument, NULL, 't' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "hook-blackout", required_argument, NULL, 'b' },
		{ "hook-resumed", required_argument, NULL, 'r' },
		{ "announce", no_argument, NULL, 'a' },
		{ "txqlen", required_argument, NULL, 'q' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *end;
	long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->txqlen = 10000;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'g': o->guest_ns = optarg; break;
		case 'H': o->host_ns = optarg; break;
		case 't': o->tap = optarg; break;
		case 'c': o->ctl = optarg; break;
		case 'b': o->hook_blackout = optarg; break;
		case 'r': o->hook_resumed = optarg; break;
		case 'a': o->announce = true; break;
		case 'p': o->pidfile = optarg; break;
		case 'm':
			if (parse_mac(optarg, o->mac) < 0) {
				fprintf(stderr, "nm-vmstub: --mac: invalid unicast MAC '%s'\n", optarg);
				return -EINVAL;
			}
			o->has_mac = true;
			break;
		case 'i':
			if (parse_prefix(optarg, &o->ip, &o->prefix) < 0) {
				fprintf(stderr, "nm-vmstub: --ip: expected IPv4/PREFIX, not '%s'\n",
					optarg);
				return -EINVAL;
			}
			o->ip_str = optarg;
			o->has_ip = true;
			break;
		case 'G':
			if (inet_pton(AF_INET, optarg, &o->gw) != 1) {
				fprintf(stderr, "nm-vmstub: --gw: invalid IPv4 address '%s'\n", optarg);
				return -EINVAL;
			}
			o->has_gw = true;
			break;
		case 'q':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 || v > 1000000) {
				fprintf(stderr, "nm-vmstub: --txqlen: 1..1000000, not '%s'\n", optarg);
				return -EINVAL;
			}
			o->txqlen = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "nm-vmstub: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->guest_ns || !o->host_ns || !o->tap || !o->ctl || !o->has_mac || !o->has_ip) {
		fprintf(stderr, "nm-vmstub: --guest-ns, --mac, --ip, --host-ns, --tap and --ctl "
				"are required\n");
		return -EINVAL;
	}
	if (!vm_ifname_ok(o->tap)) {
		fprintf(stderr, "nm-vmstub: --tap: invalid interface name '%s' (1-15 chars)\n",
			o->tap);
		return -EINVAL;
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f;
	int ret = 0;

	f = fopen(path, "we");
	if (!f)
		return -errno;
	if (fprintf(f, "%d\n", (int)getpid()) < 0)
		ret = -EIO;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	return ret;
}

static int setup(struct vmstub *vs)
{
	sigset_t set;
	int ret;

	vs->orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (vs->orig_ns < 0)
		return vm_err(vs, -errno, "opening /proc/self/ns/net");
	vs->guest_ns = vs_ns_open(vs->o.guest_ns);
	if (vs->guest_ns < 0)
		return vm_err(vs, vs->guest_ns, "guest namespace %s", vs->o.guest_ns);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return vm_err(vs, -errno, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	vs->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (vs->sig_fd < 0)
		return vm_err(vs, -errno, "signalfd");
	vs->ctl_fd = vs_ctl_listen(vs->o.ctl);
	if (vs->ctl_fd < 0)
		return vm_err(vs, vs->ctl_fd, "control socket %s", vs->o.ctl);
	ret = vm_guest_open(vs);
	if (ret < 0)
		return ret;
	ret = vm_host_tap_open(vs, vs->o.host_ns, vs->o.tap, &vs->tap[VS_SRC]);
	if (ret < 0)
		return ret;
	vs->active = VS_SRC;
	if (vs->o.pidfile && (ret = write_pidfile(vs->o.pidfile)) < 0)
		return vm_err(vs, ret, "pidfile %s", vs->o.pidfile);
	return 0;
}

static void teardown(struct vmstub *vs)
{
	int i, status;

	if (vs->hook_pid > 0) {
		kill(-vs->hook_pid, SIGKILL);
		waitpid(vs->hook_pid, &status, 0);
	}
	for (i = 0; i < VS_MAX_CLIENTS; i++)
		if (vs->cl[i].fd >= 0)
			close(vs->cl[i].fd);
	for (i = 0; i < 2; i++)
		if (vs->tap[i].fd >= 0)
			close(vs->tap[i].fd);
	if (vs->guest_fd >= 0)
		close(vs->guest_fd);
	if (vs->ctl_fd >= 0) {
		close(vs->ctl_fd);
		unlink(vs->o.ctl);
	}
	if (vs->o.pidfile)
		unlink(vs->o.pidfile);
	if (vs->sig_fd >= 0)
		close(vs->sig_fd);
	if (vs->guest_ns >= 0)
		close(vs->guest_ns);
	if (vs->orig_ns >= 0)
		close(vs->orig_ns);
}

static int ctl_main(int argc, char **argv)
{
	char line[VS_CTL_LINE_MAX], reply[VS_CTL_LINE_MAX];
	size_t n = 0;
	int i, ret;

	if (argc < 4) {
		usage(stderr);
		return 2;
	}
	line[0] = '\0';
	for (i = 3; i < argc; i++) {
		ret = snprintf(line + n, sizeof(line) - n, "%s%s", i > 3 ? " " : "", argv[i]);
		if (ret < 0 || (size_t)ret >= sizeof(line) - n || strchr(argv[i], '\n')) {
			fprintf(stderr, "nm-vmstub ctl: command too long\n");
			return 2;
		}
		n += (size_t)ret;
	}
	ret = vs_ctl_request(argv[2], line, reply, sizeof(reply), VS_CLIENT_TIMEOUT_MS);
	if (ret < 0) {
		fprintf(stderr, "nm-vmstub ctl: %s: %s\n", argv[2], strerror(-ret));
		return 3;
	}
	printf("%s\n", reply);
	return strncmp(reply, "{\"ok\":true", 10) ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct vmstub vs = {
		.orig_ns = -1, .guest_ns = -1, .guest_fd = -1, .sig_fd = -1, .ctl_fd = -1,
		.tap = { { .fd = -1 }, { .fd = -1 } },
	};
	int i, ret;

	if (argc > 1 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc, argv);
	for (i = 0; i < VS_MAX_CLIENTS; i++)
		vs.cl[i].fd = -1;
	if (parse_opts(argc, argv, &vs.o) < 0) {
		usage(stderr);
		return 2;
	}
	ret = setup(&vs);
	if (ret < 0) {
		fprintf(stderr, "nm-vmstub: %s\n", vs.err);
		vs.exit_code = 1;
		goto out;
	}
	printf("ready\n");
	fflush(stdout);
	ret = loop(&vs);
	if (ret < 0) {
		fprintf(stderr, "nm-vmstub: poll: %s\n", strerror(-ret));
		vs.exit_code = 1;
	}
out:
	teardown(&vs);
	return vs.exit_code;
}
