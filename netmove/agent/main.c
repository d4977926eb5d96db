/* netmoved: the per-host netmove agent.  See netmoved(8). */
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
#include "metrics_http.h"
#include "options.h"
#include "recover.h"
#include "scheduler.h"
#include "requests.h"
#include "netmove/agentc.h"
#include "netmove/buffer.h"
#include "netmove/journal.h"
#include "netmove/log.h"
#include "netmove/out.h"
#include "netmove/portwatch.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"

static struct agent *g_agent;

static void spares_log(void *arg, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	agent_vlog(arg, fmt, ap);
	va_end(ap);
}

/* A tap appeared (QEMU or libvirt made it): its clsact qdisc now, before
 * traffic flows, not at the migration (that graft would drop frames). */
static void port_appeared(const char *ifname, int ifindex, void *arg)
{
	int ret = buffer_ready_port(ifname);

	(void)ifindex;
	if (ret == 1)
		agent_log(arg, "tap %s appeared: clsact qdisc added", ifname);
	else if (ret < 0 && ret != -ENODEV)
		agent_log(arg, "tap %s appeared: clsact qdisc: %s", ifname, strerror(-ret));
}

static void on_signal(int sig)
{
	(void)sig;
	if (g_agent)
		g_agent->stop = 1;
}

/* Begin an ordered shutdown: no new relocation from now on, and every
 * running one is told (EV_STOP).  Returns how many run. */
static int stop_relocations(struct agent *a)
{
	struct reloc_event ev = { .kind = EV_STOP, .cli_fd = -1 };
	struct reloc *r;
	int n = 0;

	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_mutex_unlock(&a->lock);
	/* What waits for its turn never begins. */
	agent_cancel_queued(a, "netmoved is stopping");
	pthread_mutex_lock(&a->lock);
	for (r = a->relocs; r; r = r->next)
		if (!r->thread_exited && r->evfd[1] >= 0 &&
		    write(r->evfd[1], &ev, sizeof(ev)) == sizeof(ev))
			n++;
	pthread_mutex_unlock(&a->lock);
	return n;
}

/* Relocations whose thread still runs. */
static int running(struct agent *a)
{
	struct reloc *r;
	int n = 0;

	pthread_mutex_lock(&a->lock);
	for (r = a->relocs; r; r = r->next)
		n += !r->thread_exited;
	pthread_mutex_unlock(&a->lock);
	return n;
}

struct peer_conn {
	struct agent *a;
	int fd;
	char addr[64];
};

/* Start a connection's thread (a peer's or a local client's), detached,
 * with a small stack: a few hundred of them at once (AGENT_MAX_UNAUTH) must
 * cost little memory.  Returns 0 or a negative errno. */
static int start_conn_thread(void *(*fn)(void *), void *arg)
{
	pthread_attr_t at;
	pthread_t th;
	int ret;

	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, AGENT_CONN_STACK);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&th, &at, fn, arg);
	pthread_attr_destroy(&at);
	return ret;
}

/* A local request runs off the main thread too: a client that connects and
 * says nothing holds its own thread for CLI_TIMEOUT_MS, not the agent. */
static void *local_main(void *arg)
{
	struct peer_conn *p = arg;

	requests_local(p->a, p->fd);
	free(p);
	return NULL;
}

static void start_local(struct agent *a, int fd)
{
	struct peer_conn *p = calloc(1, sizeof(*p));

	if (p) {
		p->a = a;
		p->fd = fd;
		if (start_conn_thread(local_main, p) == 0)
			return;
		free(p);
	}
	agent_log(a, "local request dropped: no thread for it");
	close(fd);
}

/* A peer is let in while fewer than AGENT_MAX_UNAUTH are in their handshake
 * (each bounded by AGENT_HANDSHAKE_MS; TLS holds at most a 16 KiB record and
 * a 16 KiB certificate chain of it): a flood of connections that never authenticate cannot pile up threads and
 * buffers, and a real peer still gets in beside a few hundred of them.  Refusals are logged at
 * the first and then every 1000th. */
static bool admit_peer(struct agent *a, const char *from)
{
	bool ok;
	uint64_t n = 0;

	pthread_mutex_lock(&a->lock);
	ok = a->unauth < AGENT_MAX_UNAUTH;
	if (ok)
		a->unauth++;
	else
		n = ++a->unauth_refused;
	pthread_mutex_unlock(&a->lock);
	if (!ok && n % 1000 == 1)
		agent_log(a, "refused peer %s: %d connections not authenticated yet (%llu refused)",
			  from, AGENT_MAX_UNAUTH, (unsigned long long)n);
	return ok;
}

/* Authentication and the first message run off the main thread, so a slow
 * or hostile peer cannot hold up local requests. */
static void *peer_main(void *arg)
{
	struct peer_conn *p = arg;

	requests_peer(p->a, p->fd, p->addr);
	free(p);
	return NULL;
}

/* Create the directory holding path (one level, mode 0700) if missing. */
static void mkdir_parent(const char *path)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fprintf(stderr, "netmoved: cannot create %s: %s\n", dir, strerror(errno));
}

/* The kernel's id of this boot, "" if it cannot be read. */
static void read_boot_id(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = 0;
	if (f && fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = 0;
	if (f)
		fclose(f);
}

/* A kernel that cannot run the buffer is said so at start, not at the first
 * relocation. */
static int check_kernel(struct agent *a)
{
	struct buffer_kernel k;

	if (buffer_kernel(&k) < 0) {
		fprintf(stderr, "netmoved: this kernel (Linux %s) cannot run netmove's buffer: it "
				"lacks %s; netmove needs Linux " BUFFER_MIN_KERNEL " or newer\n",
			k.release, k.why);
		return -1;
	}
	agent_log(a, "kernel %s: buffer capture '%s'%s%s", k.release,
		  buffer_capture_name(k.capture), k.why[0] ? ": " : "", k.why);
	return 0;
}

int main(int argc, char **argv)
{
	static struct agent a;
	struct sigaction sa = { .sa_handler = on_signal };
	int lfd = -1, wfd = -1, ufd, ret;
	uint64_t stop_by = 0;

	setvbuf(stderr, NULL, _IOLBF, 0);
	/* Threads share a few malloc arenas rather than one each: hundreds of
	 * connection threads must not each fault in an arena. */
	mallopt(M_ARENA_MAX, 4);
	if (options_parse(&a.cfg, argc, argv) < 0)
		return 2;
	if (fault_parse(getenv("NETMOVED_FAULT"), &a.cfg.fault) < 0) {
		fprintf(stderr, "netmoved: NETMOVED_FAULT: '%s' is not ROLE:PHASE:kill|hold=MS\n",
			getenv("NETMOVED_FAULT"));
		return 2;
	}
	if (check_kernel(&a) < 0)
		return 1;
	pthread_mutex_init(&a.lock, NULL);
	a.start_us = timeutil_real_ns() / NSEC_PER_USEC;
	g_agent = &a;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	mkdir_parent(a.cfg.socket);
	mkdir_parent(a.cfg.journal);
	mkdir_parent(a.cfg.schedule);
	read_boot_id(a.boot_id, sizeof(a.boot_id));
	ufd = ctl_listen_unix(a.cfg.socket);
	if (ufd < 0) {
		fprintf(stderr, "netmoved: %s: %s\n", a.cfg.socket, strerror(-ufd));
		return 1;
	}
	if (a.cfg.listen) {
		lfd = ctl_listen_tcp(a.cfg.listen);
		if (lfd < 0) {
			fprintf(stderr, "netmoved: --listen %s: %s\n", a.cfg.listen, strerror(-lfd));
			return 1;
		}
	}
	if (!a.cfg.no_port_watch) {
		wfd = portwatch_open();
		if (wfd < 0)
			agent_log(&a, "watching for new taps: %s", strerror(-wfd));
	}
	ret = spares_start(&a.spares, (uint32_t)(a.cfg.ring_mib << 20), spares_log, &a);
	if (ret < 0)
		agent_log(&a, "loading buffer programs ahead: %s", strerror(-ret));
	ret = recover_run(&a);
	if (ret > 0)
		agent_log(&a, "recovery: %d record(s) journaled for what an earlier netmoved left", ret);
	ret = lease_start(&a);
	if (ret < 0) {
		fprintf(stderr, "netmoved: the lease thread: %s\n", strerror(-ret));
		return 1;
	}
	ret = scheduler_start(&a);
	if (ret < 0)
		return 1;
	ret = metrics_http_start(&a);
	if (ret < 0) {
		fprintf(stderr, "netmoved: --metrics %s: %s\n", a.cfg.metrics, strerror(-ret));
		return 1;
	}
	agent_log(&a, "ready: socket %s, peers on %s", a.cfg.socket,
		  a.cfg.listen ? a.cfg.listen : "(none)");
	for (;;) {
		struct pollfd pfd[3] = { { .fd = ufd, .events = POLLIN },
					 { .fd = wfd, .events = POLLIN },
					 { .fd = lfd, .events = POLLIN } };
		char addr[64];
		int fd;

		/* On SIGTERM the local socket stays open until the running
		 * relocations ended: a paused VM's resume event comes on it. */
		if (a.stop && !stop_by) {
			stop_by = timeutil_deadline_ms((int)(a.cfg.blackout_timeout_ms +
							      2 * a.cfg.phase_timeout_ms + 1000));
			agent_log(&a, "stopping: %d relocation(s) running", stop_relocations(&a));
			if (lfd >= 0)
				close(lfd);
			lfd = -1;
		}
		if (stop_by && (!running(&a) || timeutil_mono_ns() > stop_by))
			break;
		ret = poll(pfd, lfd >= 0 ? 3 : 2, stop_by ? 50 : 500);
		if (ret <= 0)
			continue;
		if (wfd >= 0 && (pfd[1].revents & POLLIN) &&
		    portwatch_read(wfd, port_appeared, &a) == -ENOBUFS)
			portwatch_each(port_appeared, &a);
		if (pfd[0].revents & POLLIN) {
			fd = accept4(ufd, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0)
				start_local(&a, fd);
		}
		if (lfd >= 0 && (pfd[2].revents & POLLIN)) {
			fd = ctl_accept_tcp(lfd, addr, sizeof(addr));
			if (fd >= 0) {
				struct peer_conn *p = calloc(1, sizeof(*p));

				if (!p) {
					close(fd);
					continue;
				}
				p->a = &a;
				p->fd = fd;
				memcpy(p->addr, addr, sizeof(p->addr));
				if (!admit_peer(&a, addr)) {
					close(fd);
					free(p);
				} else if (start_conn_thread(peer_main, p) < 0) {
					pthread_mutex_lock(&a.lock);
					a.unauth--;
					pthread_mutex_unlock(&a.lock);
					close(fd);
					free(p);
				}
			}
		}
	}
	ret = running(&a);
	if (ret)
		agent_log(&a, "stopped with %d relocation(s) still running: their buffers fail "
			      "open, the next netmoved resolves the rest", ret);
	else
		agent_log(&a, "stopped");
	metrics_http_stop(&a);
	scheduler_stop(&a);
	lease_stop(&a);
	spares_stop(&a.spares);
	unlink(a.cfg.socket);
	ctl_tls_free(a.cfg.tls);
	return 0;
}
