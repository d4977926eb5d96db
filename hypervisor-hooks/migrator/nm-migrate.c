/* nm-migrate: run a guest, migrate it over TCP (send / receive), or migrate
 * between two VMs in this process (selftest).  See nm-migrate(8). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "netmove/agentc.h"
#include "netmove/ctl.h"
#include "netmove/mac.h"
#include "netmove/out.h"
#include "precopy.h"
#include "stream.h"
#include "summary.h"
#include "tap.h"
#include "vm.h"

/* Exit codes (nm-migrate(8)). */
enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_REFUSED = 3, EX_NOTCONV = 4, EX_UNKNOWN = 5 };

/* A fault drill (--fault EVENT[:ROUND]=ACTION): what to do at that event. */
enum fault_action { FA_NONE, FA_STOP, FA_KILL, FA_CUT };

struct opts {
	const char *cmd, *to, *listen, *cpu, *serial, *nm_socket, *tap, *netns;
	const char *nm_to;	/* destination host for netmove's PREPARE, or NULL */
	const char *nm_port;	/* the VM's port for netmove (default: --tap) */
	uint64_t ram_mib, max_ram_mib;
	uint32_t ws, rate, tick_us, warmup_ms, run_ms, linger_ms;
	struct precopy_config pc;
	bool json, lockstep, quiet, netmove, have_mac, have_ip, strict, prealloc;
	struct mac mac;
	struct in_addr ip;	/* guest NIC address */
	int tap_fd;		/* -1: no NIC */
	int serial_fd;		/* --serial, opened; -1: none */
	int mig_fd;		/* the migration connection, -1: none yet */
	enum fault_action fault;	/* --fault: action, at fault_ev (fault_round) */
	enum precopy_event fault_ev;
	int64_t fault_round;	/* -1: any round */
	const struct cpu_ops *ops;	/* --cpu (NULL on receive: the source's) */
	struct ctl_tls_opts tls_opts;	/* --key-file, --pki-dir, --tls-* */
	struct ctl_tls *tls;	/* built from them (selftest: a built-in key) */
	const char *name;	/* --name: this side's host name (default: gethostname) */
	const char *peer_name;	/* --peer-name: the peer must authenticate as it */
};

static volatile sig_atomic_t cli_stop, cli_resume;

static void cli_sig(int sig)
{
	if (sig == SIGUSR2)
		cli_resume = 1;
	else
		cli_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: nm-migrate run      [VM options] [--run-ms N]\n"
"       nm-migrate send     --to IP:PORT TLS [VM options] [migration options]\n"
"       nm-migrate receive  --listen IP:PORT TLS [--max-ram MIB] [--cpu B] [--run-ms N]\n"
"                           [--prealloc]  (allocate the guest's RAM before accepting it)\n"
"       nm-migrate selftest [VM options] [migration options] [--lockstep]\n"
"       nm-migrate backends [--json]\n"
"VM options: --ram MIB (64) --cpu emu|kvm|auto (emu; auto: kvm where it runs;\n"
"            receive: the source's) --ws PAGES (1024) --rate PAGES (4)\n"
"            --tick-us US (1000: at most one guest iteration per tick) --serial FILE\n"
"migration:  --downtime-ms N (30) --max-rounds N (30) --max-time-ms N (30000)\n"
"            --stop-copy --warmup-ms N (500) --strict (exit 4 if not converged)\n"
"            --no-auto-converge (never throttle the vCPU)\n"
"            --linger-ms N (send: keep the tap open N ms after the switchover)\n"
"            --hold-ms N (send: keep the guest paused N ms longer: a slow switchover)\n"
"            --timeout-ms N (10000: how long to wait for the peer's next message)\n"
"fault drill: --fault EVENT[:ROUND]=stop|kill|cut  (events: round, blackout, pause,\n"
"            end, commit, resumed, failed, unknown)\n"
"NIC:        --tap NAME [--netns NS] --mac MAC --ip IPV4 (receive: --tap [--netns];\n"
"            MAC and IP come with the guest)\n"
"netmove:    --netmove --mac MAC [--netmove-socket PATH]\n"
"            send: [--netmove-to HOST [--netmove-port IF]] starts the relocation\n"
"            (PREPARE) through the local agent before copying\n"
"output:     --json --quiet\n"
"TLS:        " CTL_TLS_USAGE "\n"
"            [--name HOST] (this side, default: the host name) [--peer-name HOST]\n"
"            (the peer must authenticate as HOST)\n");
}

static void cli_progress(const struct precopy_stats *st, void *arg)
{
	const struct opts *o = arg;

	if (o->quiet)
		return;
	fprintf(stderr, "\rround %u: %llu pages sent, %llu dirty, %.1f MB/s, predicted downtime %.2f ms   ",
		st->rounds - 1, (unsigned long long)st->pages[st->rounds - 1],
		(unsigned long long)st->dirty, st->mbps, st->predicted_ms);
}

/* The events netmove's agent hears of, by their agent names. */
static const char *cli_netmove_kind(enum precopy_event ev)
{
	switch (ev) {
	case PC_EV_BLACKOUT: return "blackout";
	case PC_EV_RESUMED: return "resumed";
	case PC_EV_FAILED: return "failed";
	default: return NULL;
	}
}

static void cli_fault(struct opts *o, enum precopy_event ev, uint32_t round)
{
	if (o->fault == FA_NONE || ev != o->fault_ev ||
	    (o->fault_round >= 0 && (uint32_t)o->fault_round != round))
		return;
	fprintf(stderr, "nm-migrate: fault drill at %s (round %u): %s\n", precopy_event_name(ev),
		round, o->fault == FA_STOP ? "stopping (SIGSTOP) until continued or killed" :
		       o->fault == FA_KILL ? "killed" : "cutting the migration connection");
	switch (o->fault) {
	case FA_STOP:
		raise(SIGSTOP);
		break;
	case FA_KILL:
		raise(SIGKILL);
		break;
	case FA_CUT:
		if (o->mig_fd >= 0)
			shutdown(o->mig_fd, SHUT_RDWR);
		break;
	case FA_NONE:
		break;
	}
	o->fault = FA_NONE;	/* once */
}

static void cli_event(enum precopy_event ev, uint32_t round, void *arg)
{
	struct opts *o = arg;
	const char *kind = cli_netmove_kind(ev);
	char msg[128] = "";
	int ret;

	if (o->netmove && kind) {
		ret = agentc_event(o->nm_socket ? o->nm_socket : agentc_socket(), kind, &o->mac, NULL,
				   msg, sizeof(msg));
		if (ret)
			fprintf(stderr, "nm-migrate: netmove agent: %s event: %s%s%s\n", kind,
				strerror(-ret), msg[0] ? ": " : "", msg);
	}
	cli_fault(o, ev, round);
}

static void print_summary(const struct opts *o, const char *role, const struct precopy_stats *st,
			  const struct vm *vm, int ret)
{
	struct summary sm = {
		.role = role,
		.cpu = vm && vm->ops ? vm->ops->name : o->ops ? o->ops->name : "none",
		.mode = o->pc.stop_copy ? "stop-copy" : "pre-copy",
		.ram_mib = vm && vm->ram_size ? vm->ram_size >> 20 : o->ram_mib,
		.json = o->json,
		.progress_line = !o->quiet && !o->json && st->rounds,
	};

	summary_print(&sm, st, ret);
}

static void vm_cfg(const struct opts *o, struct vm_config *vc, int serial_fd)
{
	memset(vc, 0, sizeof(*vc));
	vc->ram_size = o->ram_mib << 20;
	vc->ops = o->ops;
	vc->lockstep = o->lockstep;
	vc->prefault = o->prealloc;
	vc->ws = o->ws;
	vc->rate = o->rate;
	vc->tick_us = o->tick_us;
	vc->serial_fd = serial_fd;
	vc->nic = o->tap_fd >= 0;
	vc->nic_fd = o->tap_fd;
	memcpy(vc->mac, o->mac.b, 6);
	memcpy(&vc->ip, &o->ip, 4);
}

static void print_nic(const struct opts *o, const struct vm *vm, const char *who)
{
	const struct dev_nic *n = &vm->nic;

	/* Counters, not progress: printed with --quiet too. */
	if (o->tap_fd < 0)
		return;
	fprintf(stderr, "nm-migrate: %s nic: rx %llu frames, tx %llu frames, rx dropped %llu, "
		"tx errors %llu, carried across the pause %llu\n", who,
		(unsigned long long)n->rx_frames, (unsigned long long)n->tx_frames,
		(unsigned long long)n->rx_dropped, (unsigned long long)n->tx_errors,
		(unsigned long long)n->carried);
}

/* The guest's serial console: opened while the options are checked, so a
 * path that cannot be written is a usage error. */
static int open_serial(const struct opts *o)
{
	if (!o->serial)
		return -1;
	if (!strcmp(o->serial, "-"))
		return STDOUT_FILENO;
	return open(o->serial, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (!cli_stop && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int start_vm(const struct opts *o, struct vm *vm)
{
	struct vm_config vc;
	int ret;

	vm_cfg(o, &vc, o->serial_fd);
	ret = vm_create(vm, &vc);
	if (ret) {
		fprintf(stderr, "nm-migrate: cannot create the VM: %s\n", vm->err);
		return ret;
	}
	ret = o->lockstep ? vm_run_iters(vm, o->warmup_ms) : vm_start(vm);
	if (ret)
		fprintf(stderr, "nm-migrate: cannot start the guest: %s\n", vm->err);
	return ret;
}

static int exit_code(const struct opts *o, int ret, const struct precopy_stats *st)
{
	if (st->outcome == PC_OUT_UNKNOWN)
		return EX_UNKNOWN;
	if (ret == -EPERM || ret == -ENOMEM)
		return EX_REFUSED;
	if (ret)
		return EX_FAIL;
	return o->strict && !st->converged ? EX_NOTCONV : EX_OK;
}

/* Run the guest here until SIGINT/SIGTERM (or --run-ms). */
static void run_here(const struct opts *o, struct vm *vm)
{
	if (o->run_ms) {
		sleep_ms(o->run_ms);
		return;
	}
	while (!cli_stop && !vm_error(vm))
		sleep_ms(100);
}

static int cmd_run(struct opts *o)
{
	struct vm vm;
	int ret = start_vm(o, &vm);

	if (ret)
		return EX_FAIL;
	run_here(o, &vm);
	vm_pause(&vm);
	ret = vm_error(&vm);
	if (ret)
		fprintf(stderr, "nm-migrate: guest failed: %s\n", vm.err);
	fprintf(stderr, "nm-migrate: %llu guest iterations\n", (unsigned long long)vm.ctl.iters);
	print_nic(o, &vm, "guest");
	vm_destroy(&vm);
	return ret ? EX_FAIL : EX_OK;
}

/* The migration did not happen: the guest goes on here. */
static void keep_running(const struct opts *o, struct vm *vm)
{
	if (vm_error(vm))
		return;
	fprintf(stderr, "nm-migrate: the guest keeps running here%s\n",
		o->run_ms ? " for --run-ms" : " (SIGTERM ends it)");
	run_here(o, vm);
	vm_pause(vm);
}

/* Outcome unknown: the destination may run the guest.  Nothing here may
 * resume it on its own; an operator who looked at the destination does. */
static int resolve_unknown(struct opts *o, struct vm *vm)
{
	fprintf(stderr,
		"nm-migrate: OUTCOME UNKNOWN: the destination confirmed nothing after COMMIT and may be running the guest; it stays paused here.\n"
		"nm-migrate: check the destination. If the guest does not run there: kill -USR2 %d resumes it here. If it does: kill -TERM %d discards this copy.\n",
		(int)getpid(), (int)getpid());
	fflush(stderr);
	while (!cli_stop && !cli_resume)
		sleep_ms(100);
	if (!cli_resume) {
		fprintf(stderr, "nm-migrate: discarding the paused copy here\n");
		return EX_UNKNOWN;
	}
	fprintf(stderr, "nm-migrate: resuming the guest here, as the operator said\n");
	vm_dirty_all(vm);
	vm_resume(vm);
	cli_event(PC_EV_FAILED, 0, o);
	cli_event(PC_EV_RESUMED, 0, o);
	keep_running(o, vm);
	return EX_FAIL;
}

static int cmd_send(struct opts *o)
{
	struct precopy_stats st = { 0 };
	struct ctl_conn c;
	struct vm vm;
	int fd, ret, ex;

	ret = start_vm(o, &vm);
	if (ret)
		return EX_FAIL;
	sleep_ms(o->warmup_ms);
	if (o->netmove && o->nm_to) {
		/* PREPARE through the agent, as a QEMU hook would at migration start. */
		char msg[256] = "";
		const char *port = o->nm_port ? o->nm_port : o->tap;

		ret = port && o->have_ip ? agentc_relocate(o->nm_socket ? o->nm_socket :
							   agentc_socket(), &o->mac, o->ip,
							   o->nm_to, port, NULL, msg, sizeof(msg))
					 : -EINVAL;
		if (ret) {
			fprintf(stderr, "nm-migrate: netmove relocate to %s: %s%s%s: not migrating\n",
				o->nm_to,
				ret == -EINVAL ? "needs --ip and --tap or --netmove-port" : strerror(-ret),
				msg[0] ? ": " : "", msg);
			keep_running(o, &vm);
			vm_destroy(&vm);
			return EX_FAIL;
		}
	}
	fd = ctl_connect_tcp(o->to, 5000);
	if (fd < 0) {
		fprintf(stderr, "nm-migrate: connect %s: %s: not migrating\n", o->to, strerror(-fd));
		cli_event(PC_EV_FAILED, 0, o);
		keep_running(o, &vm);
		vm_destroy(&vm);
		return EX_FAIL;
	}
	o->mig_fd = fd;
	ret = ctl_conn_init(&c, fd, o->tls, o->to);
	if (!ret)
		ret = ctl_handshake_client(&c, o->peer_name, 5000);
	if (ret) {
		snprintf(st.why, sizeof(st.why), "authentication: %s%s%s", stream_strerror(ret),
			 c.why[0] ? ": " : "", c.why);
		cli_event(PC_EV_FAILED, 0, o);
	} else {
		ret = precopy_send(&vm, &c, &o->pc, &st);
	}
	ctl_conn_close(&c);
	o->mig_fd = -1;
	print_summary(o, "source", &st, &vm, ret);
	fflush(stdout);
	ex = exit_code(o, ret, &st);
	if (st.outcome == PC_OUT_UNKNOWN) {
		ex = resolve_unknown(o, &vm);
	} else if (ret) {
		fprintf(stderr, "nm-migrate: migration failed\n");
		keep_running(o, &vm);
	} else if (o->linger_ms && o->tap_fd >= 0) {
		sleep_ms(o->linger_ms);	/* until the agents committed; SIGTERM ends it */
	}
	print_nic(o, &vm, "source");
	/* The tap goes only now: the destination confirmed the resume (or the
	 * guest stayed here and ran until now). */
	vm_destroy(&vm);
	return ex;
}

static int cmd_receive(struct opts *o)
{
	struct precopy_stats st = { 0 };
	struct vm_config vc;
	struct ctl_conn c;
	struct vm vm;
	int lfd, fd, ret;

	lfd = ctl_listen_tcp(o->listen);
	if (lfd < 0) {
		fprintf(stderr, "nm-migrate: listen %s: %s\n", o->listen, strerror(-lfd));
		return EX_FAIL;
	}
	fd = ctl_accept_tcp(lfd, NULL, 0);
	close(lfd);
	if (fd < 0) {
		fprintf(stderr, "nm-migrate: accept: %s\n", strerror(-fd));
		return EX_FAIL;
	}
	o->mig_fd = fd;
	vm_cfg(o, &vc, o->serial_fd);
	ret = ctl_conn_init(&c, fd, o->tls, "source");
	if (!ret)
		ret = ctl_handshake_server(&c, 5000);
	if (!ret && o->peer_name && !ctl_peer_is(&c, o->peer_name)) {
		snprintf(c.why, sizeof(c.why), "the source is %.80s, not --peer-name %.40s", c.peer_id,
			 o->peer_name);
		ret = -EACCES;
	}
	if (ret)
		snprintf(st.why, sizeof(st.why), "authentication: %s%s%s", stream_strerror(ret),
			 c.why[0] ? ": " : "", c.why);
	else
		ret = precopy_recv(&vm, &vc, &c, &o->pc, &st);
	ctl_conn_close(&c);
	o->mig_fd = -1;
	print_summary(o, "destination", &st, ret ? NULL : &vm, ret);
	fflush(stdout);
	if (ret)
		return exit_code(o, ret, &st);
	run_here(o, &vm);
	vm_pause(&vm);
	fprintf(stderr, "nm-migrate: guest at %llu iterations%s%s\n",
		(unsigned long long)vm.ctl.iters, vm_error(&vm) ? ", failed: " : "",
		vm_error(&vm) ? vm.err : "");
	ret = vm_error(&vm);
	print_nic(o, &vm, "destination");
	vm_destroy(&vm);
	return ret ? EX_FAIL : EX_OK;
}

struct self_dst {
	int fd;
	struct opts *o;
	struct vm vm;
	struct precopy_stats st;
	int ret;
};

static void *self_dst_main(void *arg)
{
	struct self_dst *d = arg;
	struct vm_config vc;
	struct ctl_conn c;

	vm_cfg(d->o, &vc, -1);
	d->ret = ctl_conn_init(&c, d->fd, d->o->tls, "source");
	if (!d->ret)
		d->ret = ctl_handshake_server(&c, 5000);
	if (!d->ret)
		d->ret = precopy_recv(&d->vm, &vc, &c, &d->o->pc, &d->st);
	ctl_conn_close(&c);
	return NULL;
}

static int cmd_selftest(struct opts *o)
{
	struct precopy_stats st = { 0 };
	struct self_dst d = { .o = o };
	struct ctl_conn c;
	pthread_t t;
	struct vm vm;
	int sp[2], ret;

	ret = start_vm(o, &vm);
	if (ret)
		return EX_FAIL;
	if (!o->lockstep)
		sleep_ms(o->warmup_ms);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		vm_destroy(&vm);
		return EX_FAIL;
	}
	d.fd = sp[1];
	pthread_create(&t, NULL, self_dst_main, &d);
	ret = ctl_conn_init(&c, sp[0], o->tls, "destination");
	if (!ret)
		ret = ctl_handshake_client(&c, NULL, 5000);
	if (!ret)
		ret = precopy_send(&vm, &c, &o->pc, &st);
	ctl_conn_close(&c);
	pthread_join(t, NULL);
	print_summary(o, "source", &st, &vm, ret);
	if (!ret && !d.ret) {
		if (!o->lockstep)
			sleep_ms(200);
		else
			ret = vm_run_iters(&d.vm, 1000);
		vm_pause(&d.vm);
		if (!ret)
			ret = vm_error(&d.vm);
		if (!o->quiet)
			fprintf(stderr, "nm-migrate: destination guest %s at %llu iterations\n",
				ret ? "FAILED" : "alive", (unsigned long long)d.vm.ctl.iters);
		print_nic(o, &d.vm, "destination");
		vm_destroy(&d.vm);
	}
	vm_destroy(&vm);
	return exit_code(o, ret ? ret : d.ret, &st);
}

static int parse_u32(const char *s, uint32_t *v);

/* Which back-ends run here, and why the others do not. */
static int cmd_backends(const struct opts *o)
{
	const struct cpu_ops *ops;
	struct out out;
	char why[256];
	unsigned i;
	int ret;

	if (o->json) {
		out_init(&out, stdout, true);
		out_arr_begin(&out, "backends");
	}
	for (i = 0; (ops = cpu_ops_at(i)); i++) {
		ret = cpu_probe(ops, why, sizeof(why));
		if (!o->json) {
			printf("%-4s %s%s%s\n", ops->name, ret ? "unavailable" : "available",
			       ret ? ": " : "", ret ? why : "");
			continue;
		}
		out_obj_begin(&out, NULL);
		out_str(&out, "name", ops->name);
		out_bool(&out, "available", !ret);
		out_str(&out, "why", why);
		out_obj_end(&out);
	}
	if (o->json)
		out_finish(&out);
	return EX_OK;
}

/* --fault EVENT[:ROUND]=stop|kill|cut */
static int parse_fault(const char *a, struct opts *o)
{
	static const char *const acts[] = { [FA_STOP] = "stop", [FA_KILL] = "kill", [FA_CUT] = "cut" };
	char ev[32], *colon, *eq = strchr(a, '=');
	uint32_t round;
	int e;
	size_t i;

	if (!eq || (size_t)(eq - a) >= sizeof(ev))
		return -EINVAL;
	memcpy(ev, a, (size_t)(eq - a));
	ev[eq - a] = 0;
	o->fault_round = -1;
	colon = strchr(ev, ':');
	if (colon) {
		*colon = 0;
		if (parse_u32(colon + 1, &round))
			return -EINVAL;
		o->fault_round = round;
	}
	e = precopy_event_parse(ev);
	if (e < 0)
		return -EINVAL;
	o->fault_ev = (enum precopy_event)e;
	for (i = FA_STOP; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (!strcmp(eq + 1, acts[i]))
			o->fault = (enum fault_action)i;
	return o->fault == FA_NONE ? -EINVAL : 0;
}

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(s, &end, 0);
	if (errno || end == s || *end || x > UINT32_MAX)
		return -EINVAL;
	*v = (uint32_t)x;
	return 0;
}

static int cmd_check(const struct opts *o)
{
	if (!strcmp(o->cmd, "run") || !strcmp(o->cmd, "selftest") || !strcmp(o->cmd, "backends"))
		return EX_OK;
	if (strcmp(o->cmd, "send") && strcmp(o->cmd, "receive")) {
		fprintf(stderr, "nm-migrate: unknown command %s\n", o->cmd);
		usage(stderr);
		return EX_USAGE;
	}
	if (!strcmp(o->cmd, "send") && (!o->to || ctl_addr_parse(o->to, NULL) < 0)) {
		fprintf(stderr, "nm-migrate: send needs --to IP:PORT (port 1..65535)%s%s\n",
			o->to ? ", not " : "", o->to ? o->to : "");
		return EX_USAGE;
	}
	if (!strcmp(o->cmd, "receive") && (!o->listen || ctl_addr_parse(o->listen, NULL) < 0)) {
		fprintf(stderr, "nm-migrate: receive needs --listen IP:PORT (port 1..65535)%s%s\n",
			o->listen ? ", not " : "", o->listen ? o->listen : "");
		return EX_USAGE;
	}
	return EX_OK;
}

/* The process's TLS context: from the options for send and receive, and
 * for selftest if given (else a built-in key: both ends are this process). */
static int cli_tls(struct opts *o)
{
	static const uint8_t self_key[] = "nm-migrate-selftest-key";
	const struct ctl_tls_opts *t = &o->tls_opts;
	char host[CTL_NAME_MAX] = "", err[512] = "";
	int ret;

	if (strcmp(o->cmd, "send") && strcmp(o->cmd, "receive") && strcmp(o->cmd, "selftest"))
		return EX_OK;
	if (!o->name) {
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
			snprintf(host, sizeof(host), "localhost");
		o->name = host;
	}
	if (!strcmp(o->cmd, "selftest") && !t->key_file && !t->pki_dir && !t->ca && !t->cert &&
	    !t->key)
		ret = ctl_tls_new_psk(self_key, sizeof(self_key) - 1, o->name, &o->tls);
	else
		ret = ctl_tls_new(t, o->name, &o->tls, err, sizeof(err));
	o->name = NULL;	/* host[] ends here; only the context keeps it */
	if (ret < 0) {
		fprintf(stderr, "nm-migrate: %s: %s\n", o->cmd, err[0] ? err : strerror(-ret));
		return EX_USAGE;
	}
	return EX_OK;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", 1, 0, 't' }, { "listen", 1, 0, 'l' }, CTL_TLS_LONGOPTS,
		{ "name", 1, 0, 'E' }, { "peer-name", 1, 0, 'K' },
		{ "ram", 1, 0, 'm' }, { "max-ram", 1, 0, 'M' }, { "cpu", 1, 0, 'c' },
		{ "ws", 1, 0, 'w' }, { "rate", 1, 0, 'r' }, { "tick-us", 1, 0, 'T' },
		{ "serial", 1, 0, 'S' }, { "downtime-ms", 1, 0, 'd' }, { "max-rounds", 1, 0, 'R' },
		{ "max-time-ms", 1, 0, 'X' }, { "stop-copy", 0, 0, 's' }, { "warmup-ms", 1, 0, 'W' },
		{ "run-ms", 1, 0, 'u' }, { "netmove", 0, 0, 'n' }, { "netmove-socket", 1, 0, 'N' },
		{ "mac", 1, 0, 'a' }, { "json", 0, 0, 'j' }, { "quiet", 0, 0, 'q' },
		{ "lockstep", 0, 0, 'L' }, { "strict", 0, 0, 'x' }, { "help", 0, 0, 'h' },
		{ "tap", 1, 0, 'P' }, { "netns", 1, 0, 'e' }, { "ip", 1, 0, 'i' }, { "linger-ms", 1, 0, 'g' },
		{ "netmove-to", 1, 0, 'D' }, { "netmove-port", 1, 0, 'O' }, { "hold-ms", 1, 0, 'H' },
		{ "no-auto-converge", 0, 0, 'A' }, { "prealloc", 0, 0, 'p' }, { "timeout-ms", 1, 0, 'o' }, { "fault", 1, 0, 'F' },
		{ 0, 0, 0, 0 }
	};
	struct opts o = { .ram_mib = 64, .max_ram_mib = 3072, .ws = 1024,
			  .rate = 4, .tick_us = 1000, .warmup_ms = 500, .tap_fd = -1, .serial_fd = -1,
			  .mig_fd = -1 };
	char why[256];
	uint32_t v = 0;
	int ch, li = 0, bad = 0, ret;

	precopy_config_default(&o.pc);
	o.pc.progress = cli_progress;
	o.pc.event = cli_event;
	o.pc.arg = &o;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : EX_OK;
	}
	o.cmd = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", lo, &li)) != -1) {
		const char *a = optarg;

		switch (ch) {
		case 't': o.to = a; break;
		case 'l': o.listen = a; break;
		case 'E': o.name = a; break;
		case 'K': o.peer_name = a; break;
		case 'c': o.cpu = a; break;
		case 'S': o.serial = a; break;
		case 'N': o.nm_socket = a; break;
		case 'P': o.tap = a; break;
		case 'e': o.netns = a; break;
		case 'i':
			if (inet_pton(AF_INET, a, &o.ip) != 1) {
				fprintf(stderr, "nm-migrate: --ip: not an IPv4 address: %s\n", a);
				return EX_USAGE;
			}
			o.have_ip = true;
			break;
		case 's': o.pc.stop_copy = true; break;
		case 'n': o.netmove = true; break;
		case 'D': o.nm_to = optarg; break;
		case 'O': o.nm_port = optarg; break;
		case 'j': o.json = true; break;
		case 'q': o.quiet = true; break;
		case 'L': o.lockstep = true; break;
		case 'x': o.strict = true; break;
		case 'A': o.pc.auto_converge = false; break;
		case 'p': o.prealloc = true; break;
		case 'F':
			if (parse_fault(a, &o)) {
				fprintf(stderr, "nm-migrate: --fault: want EVENT[:ROUND]=stop|kill|cut, got %s\n", a);
				return EX_USAGE;
			}
			break;
		case 'a':
			bad |= mac_parse(a, &o.mac) != 0;
			o.have_mac = true;
			break;
		case 'h': usage(stdout); return EX_OK;
		case '?': return EX_USAGE;
		default:
			if (ctl_tls_opt(&o.tls_opts, ch, a))
				break;
			if (parse_u32(a, &v)) {
				fprintf(stderr, "nm-migrate: --%s: not a number: %s\n",
					lo[li].name, a);
				return EX_USAGE;
			}
			switch (ch) {
			case 'm':
			case 'M':
				if (!v) {
					fprintf(stderr, "nm-migrate: --%s: at least 1 MiB\n", lo[li].name);
					return EX_USAGE;
				}
				*(ch == 'm' ? &o.ram_mib : &o.max_ram_mib) = v;
				break;
			case 'w': o.ws = v; break;
			case 'r': o.rate = v; break;
			case 'T': o.tick_us = v; break;
			case 'd': o.pc.downtime_ms = v; break;
			case 'R': o.pc.max_rounds = v; break;
			case 'X': o.pc.max_time_ms = v; break;
			case 'W': o.warmup_ms = v; break;
			case 'u': o.run_ms = v; break;
			case 'g': o.linger_ms = v; break;
			case 'o':
				if (!v || v > INT32_MAX) {
					fprintf(stderr, "nm-migrate: --timeout-ms: 1 to %d\n", INT32_MAX);
					return EX_USAGE;
				}
				o.pc.timeout_ms = (int)v;
				break;
			case 'H':
				if (v > 60000) {
					fprintf(stderr, "nm-migrate: --hold-ms: at most 60000\n");
					return EX_USAGE;
				}
				o.pc.hold_ms = v;
				break;
			}
		}
	}
	if (bad || optind != argc) {
		fprintf(stderr, "nm-migrate: bad %s\n", bad ? "--mac" : "arguments");
		return EX_USAGE;
	}
	if (o.cpu && strcmp(o.cpu, "auto") && !cpu_ops_by_name(o.cpu)) {
		fprintf(stderr, "nm-migrate: --cpu must be auto, kvm or emu\n");
		return EX_USAGE;
	}
	/* A destination without --cpu takes whatever the source runs; the
	 * others default to the emulator, which runs the same everywhere. */
	if (!o.cpu && strcmp(o.cmd, "receive"))
		o.cpu = "emu";
	if (o.cpu && !strcmp(o.cpu, "auto"))
		o.ops = cpu_ops_best(why, sizeof(why));
	else if (o.cpu)
		o.ops = cpu_ops_by_name(o.cpu);
	if (o.netmove && !o.have_mac) {
		fprintf(stderr, "nm-migrate: --netmove needs the guest's --mac\n");
		return EX_USAGE;
	}
	o.pc.max_ram = o.max_ram_mib << 20;
	if (o.netns && !o.tap) {
		fprintf(stderr, "nm-migrate: --netns needs --tap\n");
		return EX_USAGE;
	}
	if (o.tap && strcmp(o.cmd, "receive") && (!o.have_mac || !o.have_ip)) {
		fprintf(stderr, "nm-migrate: --tap needs the guest's --mac and --ip\n");
		return EX_USAGE;
	}
	ret = cmd_check(&o);
	if (ret != EX_OK)
		return ret;
	ret = cli_tls(&o);
	if (ret != EX_OK)
		return ret;
	o.serial_fd = open_serial(&o);
	if (o.serial && o.serial_fd < 0) {
		fprintf(stderr, "nm-migrate: --serial %s: %s\n", o.serial, strerror(errno));
		return EX_USAGE;
	}
	if (o.tap) {
		char err[256];

		/* A destination creates its tap at once, as QEMU -incoming does,
		 * so that its port can be wired before the migration starts. */
		o.tap_fd = tap_open(o.tap, o.netns, TAP_TXQLEN, err, sizeof(err));
		if (o.tap_fd < 0) {
			fprintf(stderr, "nm-migrate: %s\n", err);
			return EX_FAIL;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, cli_sig);
	signal(SIGTERM, cli_sig);
	signal(SIGUSR2, cli_sig);
	if (!strcmp(o.cmd, "backends"))
		ret = cmd_backends(&o);
	else if (!strcmp(o.cmd, "run"))
		ret = cmd_run(&o);
	else if (!strcmp(o.cmd, "selftest"))
		ret = cmd_selftest(&o);
	else if (!strcmp(o.cmd, "send"))
		ret = cmd_send(&o);
	else
		ret = cmd_receive(&o);
	if (o.tap_fd >= 0)
		close(o.tap_fd);
	if (o.serial_fd > STDERR_FILENO)
		close(o.serial_fd);
	ctl_tls_free(o.tls);
	return ret;
}
