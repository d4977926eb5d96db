/* precopy, stream, vm and both CPU back-ends, deterministic (lockstep):
 * round sizes, convergence and auto-convergence, migrated state == an
 * uninterrupted run on the same back-end, KVM == the emulator at the
 * guest's own iteration boundary, and faults triggered on migration events
 * (destination lost mid-round, at the pause, after the final state; stream
 * truncated or corrupted inside a record; COMMIT or RESUMED lost; source
 * lost), each leaving exactly one runnable copy of the guest, or the source
 * paused with the outcome unknown.  Every case runs on the emulated CPU and,
 * where KVM_CREATE_VM works, on KVM. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "netmove/ctl.h"
#include "hw.h"
#include "precopy.h"
#include "stream.h"
#include "vm.h"

#define RAM (16u << 20)
#define WARMUP 500
#define AFTER 3000

static const uint8_t key[32] = "netmove-precopy-test-key-0123456";
static struct ctl_tls *tls;	/* the stream's TLS (PSK), built in main */

/* What the relay does to one message (source -> destination unless
 * dir_back), matched by type and by how many ROUND_ENDs passed before it. */
enum fault { F_NONE, F_CORRUPT, F_TRUNCATE, F_DROP };

struct relay {
	int a, b;		/* source side, destination side */
	bool plain;		/* no TLS: faults can pick a message by its type */
	enum fault fault;
	uint16_t type;		/* message type to act on */
	uint32_t after_rounds;	/* ... the first one after this many ROUND_ENDs; under
				 * TLS: F_CORRUPT's TLS record, counted from 1 */
	bool back;		/* destination -> source direction */
	bool done;		/* acted */
};

/* A cut of both relay ends at a migration event (what a killed peer or a
 * broken network looks like to both sides). */
struct cut {
	struct relay *r;
	enum precopy_event ev;
	int64_t round;		/* -1: any */
	bool armed;
	bool fired;
};

struct dst {
	int fd;
	struct ctl_tls *tls;	/* the stream's TLS, or NULL: plain */
	struct vm vm;
	struct vm_config tmpl;
	struct precopy_config cfg;
	struct precopy_stats st;
	int ret;
};

/* Size of the wire message starting at p (n bytes available), or 0 if
 * its header is not complete yet. */
static size_t msg_size(const uint8_t *p, size_t n)
{
	uint32_t len;

	if (n < CTL_HDR_LEN)
		return 0;
	len = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
	return CTL_HDR_LEN + len;
}

/* The same for a TLS record (5-byte header: type, version, length). */
static size_t record_size(const uint8_t *p, size_t n)
{
	return n < 5 ? 0 : 5 + (size_t)(p[3] << 8 | p[4]);
}

/* Forwards whole messages one way; returns false when the relay must stop. */
struct pipe_state {
	uint8_t *buf;
	size_t len, cap;
	uint32_t rounds;	/* ROUND_ENDs forwarded */
};

static bool relay_pump(struct relay *r, int from, int to, struct pipe_state *ps, bool back)
{
	size_t m;
	ssize_t n;

	if (ps->cap - ps->len < 65536) {
		ps->cap = ps->cap ? ps->cap * 2 : 1 << 20;
		ps->buf = realloc(ps->buf, ps->cap);
		assert_non_null(ps->buf);
	}
	n = read(from, ps->buf + ps->len, ps->cap - ps->len);
	if (n <= 0)
		return false;
	ps->len += (size_t)n;
	while (!r->plain && (m = record_size(ps->buf, ps->len)) && m <= ps->len) {
		/* Under TLS only a record can be picked, by its number. */
		if (!r->done && r->fault == F_CORRUPT && !back && ++ps->rounds == r->after_rounds) {
			r->done = true;
			ps->buf[m / 2] ^= 0x40;
		}
		if (write(to, ps->buf, m) != (ssize_t)m)
			return false;
		memmove(ps->buf, ps->buf + m, ps->len - m);
		ps->len -= m;
	}
	while (r->plain && (m = msg_size(ps->buf, ps->len)) && m <= ps->len) {
		uint16_t type = (uint16_t)(ps->buf[6] << 8 | ps->buf[7]);

		if (!r->done && r->fault != F_NONE && r->back == back && type == r->type &&
		    ps->rounds >= r->after_rounds) {
			r->done = true;
			if (r->fault == F_DROP)
				return false;
			if (r->fault == F_TRUNCATE) {
				/* Half of it, then the connection ends. */
				assert_true(write(to, ps->buf, m / 2) == (ssize_t)(m / 2));
				return false;
			}
			ps->buf[CTL_HDR_LEN + (m - CTL_HDR_LEN) / 2] ^= 0x40;
		}
		if (type == STREAM_ROUND_END)
			ps->rounds++;
		if (write(to, ps->buf, m) != (ssize_t)m)
			return false;
		memmove(ps->buf, ps->buf + m, ps->len - m);
		ps->len -= m;
	}
	return true;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	struct pipe_state fwd = { 0 }, back = { 0 };

	for (;;) {
		struct pollfd p[2] = { { .fd = r->a, .events = POLLIN }, { .fd = r->b, .events = POLLIN } };

		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[0].revents && !relay_pump(r, r->a, r->b, &fwd, false))
			break;
		if (p[1].revents && !relay_pump(r, r->b, r->a, &back, true))
			break;
	}
	/* Closing both ends is what a killed peer looks like. */
	shutdown(r->a, SHUT_RDWR);
	shutdown(r->b, SHUT_RDWR);
	free(fwd.buf);
	free(back.buf);
	return NULL;
}

static void on_event(enum precopy_event ev, uint32_t round, void *arg)
{
	struct cut *c = arg;

	if (!c || !c->armed || c->fired || ev != c->ev || (c->round >= 0 && c->round != round))
		return;
	c->fired = true;
	shutdown(c->r->a, SHUT_RDWR);
	shutdown(c->r->b, SHUT_RDWR);
}

static void *dst_main(void *arg)
{
	struct dst *d = arg;
	struct ctl_conn c;

	d->ret = ctl_conn_init(&c, d->fd, d->tls, "src");
	if (!d->ret)
		d->ret = ctl_handshake_server(&c, 5000);
	if (!d->ret)
		d->ret = precopy_recv(&d->vm, &d->tmpl, &c, &d->cfg, &d->st);
	else
		snprintf(d->st.why, sizeof(d->st.why), "%s", stream_strerror(d->ret));
	ctl_conn_close(&c);
	return NULL;
}

/* Skip a case on a back-end that cannot run here, saying why. */
static const struct cpu_ops *backend(void **state)
{
	const struct cpu_ops *ops = *state;
	char why[256];

	if (cpu_probe(ops, why, sizeof(why))) {
		printf("skip: %s back-end: %s\n", ops->name, why);
		skip();
	}
	return ops;
}

static void make_vm_ram(struct vm *vm, const struct cpu_ops *ops, uint64_t ram, uint32_t ws,
			uint32_t rate)
{
	struct vm_config vc = { .ram_size = ram, .ops = ops, .lockstep = true,
				.ws = ws, .rate = rate, .serial_fd = -1 };

	assert_int_equal(vm_create(vm, &vc), 0);
}

static void make_vm(struct vm *vm, const struct cpu_ops *ops, uint32_t ws, uint32_t rate)
{
	make_vm_ram(vm, ops, RAM, ws, rate);
}

/* Two guests on the same back-end in the same state: RAM, registers,
 * devices, console. */
static void assert_same(struct vm *a, struct vm *b)
{
	struct cpu_state *sa = malloc(sizeof(*sa)), *sb = malloc(sizeof(*sb));
	int i;

	assert_non_null(sa);
	assert_non_null(sb);
	assert_int_equal(a->ctl.iters, b->ctl.iters);
	assert_int_equal(a->ram_size, b->ram_size);
	assert_int_equal(memcmp(a->ram, b->ram, a->ram_size), 0);
	assert_int_equal(a->ops->get_state(a, sa), 0);
	assert_int_equal(b->ops->get_state(b, sb), 0);
	for (i = 0; i < 8; i++)
		assert_int_equal(sa->gpr[i], sb->gpr[i]);
	assert_int_equal(sa->eip, sb->eip);
	assert_int_equal(sa->eflags, sb->eflags);
	for (i = 0; i < CPU_NSEG; i++)
		assert_int_equal(sa->seg[i].sel, sb->seg[i].sel);
	assert_int_equal(sa->gdt_base, sb->gdt_base);
	assert_int_equal(sa->cr0, sb->cr0);
	assert_int_equal(a->ctl.ws, b->ctl.ws);
	assert_int_equal(a->ctl.rate, b->ctl.rate);
	assert_int_equal(a->serial.len, b->serial.len);
	assert_true(a->serial.len > 0);
	assert_int_equal(memcmp(a->serial.log, b->serial.log, a->serial.len), 0);
	free(sa);
	free(sb);
}

/* Migrate a lockstep guest through a relay; cut (may be NULL) fires at an
 * event of either side. */
static int migrate(struct vm *src, struct dst *d, struct precopy_config *cfg,
		   struct precopy_stats *st, struct relay *r, struct cut *cut_src,
		   struct cut *cut_dst)
{
	int sp[2], dp[2], ret;
	pthread_t td, tr;
	struct ctl_conn c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dp), 0);
	d->fd = dp[1];
	d->tls = r->plain ? NULL : tls;
	d->cfg = *cfg;
	d->cfg.event = on_event;
	d->cfg.arg = cut_dst;
	d->tmpl = (struct vm_config){ .ops = src ? src->ops : &cpu_emu_ops, .lockstep = true,
				      .serial_fd = -1 };
	r->a = sp[1];
	r->b = dp[0];
	if (cut_src)
		cut_src->r = r;
	if (cut_dst)
		cut_dst->r = r;
	assert_int_equal(pthread_create(&td, NULL, dst_main, d), 0);
	assert_int_equal(pthread_create(&tr, NULL, relay_main, r), 0);
	if (!src) {
		static const char junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n0123456789abcdef";

		assert_true(write(sp[0], junk, sizeof(junk)) > 0);
		shutdown(sp[0], SHUT_WR);
		pthread_join(td, NULL);
		pthread_join(tr, NULL);
		close(sp[0]);
		close(sp[1]);
		close(dp[0]);
		return d->ret;
	}
	assert_int_equal(ctl_conn_init(&c, sp[0], d->tls, "dst"), 0);
	assert_int_equal(ctl_handshake_client(&c, NULL, 5000), 0);
	cfg->event = on_event;
	cfg->arg = cut_src;
	ret = precopy_send(src, &c, cfg, st);
	ctl_conn_close(&c);
	pthread_join(td, NULL);
	shutdown(sp[1], SHUT_RDWR);
	pthread_join(tr, NULL);
	close(sp[1]);
	close(dp[0]);
	return ret;
}

static void lockstep_cfg(struct precopy_config *cfg)
{
	precopy_config_default(cfg);
	cfg->downtime_ms = 1;
	cfg->ls_pages_per_ms = 50;	/* switch over at <= 50 dirty pages */
	cfg->timeout_ms = 5000;
	cfg->auto_converge = false;
}

/* Reference: the same guest on the same back-end, uninterrupted, to the
 * same iteration count. */
static void check_against_reference(struct vm *migrated, uint32_t ws, uint32_t rate)
{
	struct vm ref;

	make_vm_ram(&ref, migrated->ops, migrated->ram_size, ws, rate);
	assert_int_equal(vm_run_iters(&ref, migrated->ctl.iters), 0);
	assert_same(migrated, &ref);
	vm_destroy(&ref);
}

static void converging(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };
	struct vm src;
	uint32_t i;

	lockstep_cfg(&cfg);
	cfg.ls_pages_per_iter = 2;	/* guest dirties half as many pages as we send */
	make_vm(&src, ops, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, &r, NULL, NULL), 0);
	assert_int_equal(d.ret, 0);
	assert_int_equal(st.outcome, PC_OUT_MOVED);
	assert_int_equal(d.st.outcome, PC_OUT_MOVED);
	assert_true(st.converged);
	assert_true(st.rounds >= 3);
	for (i = 1; i < st.rounds; i++) {
		printf("%s round %u: %llu pages\n", ops->name, i - 1,
		       (unsigned long long)st.pages[i - 1]);
		assert_true(st.pages[i] < st.pages[i - 1]);
	}
	printf("%s final: %llu pages, %s\n", ops->name, (unsigned long long)st.final_pages, st.why);
	assert_int_equal(st.pages[0], RAM / VM_PAGE_SIZE);
	assert_true(st.final_pages <= 50);
	assert_int_equal(d.st.final_pages, st.final_pages);
	/* Destination = source at the pause. */
	assert_same(&d.vm, &src);
	/* ... and both continue exactly like an uninterrupted run. */
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 1);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

static void not_converging(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };
	struct vm src;

	lockstep_cfg(&cfg);
	cfg.ls_pages_per_iter = 1;
	cfg.stall_rounds = 3;
	make_vm(&src, ops, 1024, 4);	/* dirties 4 pages per page sent */
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, &r, NULL, NULL), 0);
	printf("%s: %s\n", ops->name, st.why);
	assert_false(st.converged);
	assert_non_null(strstr(st.why, "not converged"));
	assert_true(st.rounds >= 3 && st.rounds <= 5);
	assert_true(st.final_pages >= 1024);
	assert_int_equal(st.throttle[st.rounds - 1], 0);
	/* Switched over anyway: the state still matches. */
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 4);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

/* The guest that never converged above converges once throttled: the
 * throttle rises 20, 30, ... percent from the second round that dirtied
 * more than half of what it sent. */
static void auto_converge(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };
	struct vm src;
	uint32_t i;

	lockstep_cfg(&cfg);
	cfg.ls_pages_per_iter = 1;
	cfg.stall_rounds = 3;
	cfg.auto_converge = true;
	make_vm(&src, ops, 1024, 4);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, &r, NULL, NULL), 0);
	printf("%s: %s\n%s throttle per round:", ops->name, st.why, ops->name);
	for (i = 0; i < st.rounds; i++)
		printf(" %u", st.throttle[i]);
	printf("\n");
	assert_true(st.converged);
	assert_true(st.final_pages <= 50);
	/* Rounds 1 and 2 dirtied more than half of what they sent: the
	 * throttle starts with round 3, then rises while the guest still
	 * outruns the stream. */
	assert_int_equal(st.throttle[0], 0);
	assert_int_equal(st.throttle[1], 0);
	assert_int_equal(st.throttle[2], 0);
	assert_int_equal(st.throttle[3], 20);
	for (i = 4; i < st.rounds; i++)
		assert_true(st.throttle[i] == st.throttle[i - 1] ||
			    st.throttle[i] == st.throttle[i - 1] + 10 ||
			    st.throttle[i] == VM_THROTTLE_MAX);
	assert_true(st.throttle[st.rounds - 1] > 0);
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 4);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

/* A guest so hot that even the full throttle cannot meet the target is
 * reported as not converged, with the throttle it reached.  (Small: on a
 * host whose KVM emulates this 32-bit guest instruction by instruction,
 * such as a PVM-nested one, each store costs microseconds.) */
static void auto_converge_not_enough(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };
	struct vm src;
	int ret;

	lockstep_cfg(&cfg);
	cfg.ls_pages_per_iter = 1;	/* at 99 %, still one iteration per round */
	cfg.stall_rounds = 2;
	cfg.auto_converge = true;
	make_vm_ram(&src, ops, 2u << 20, 128, 128);	/* the whole working set, every iteration */
	assert_int_equal(vm_run_iters(&src, 4), 0);
	ret = migrate(&src, &d, &cfg, &st, &r, NULL, NULL);
	printf("%s: %s\n%s destination: %s\n", ops->name, st.why, ops->name, d.st.why);
	assert_int_equal(ret, 0);
	assert_false(st.converged);
	assert_non_null(strstr(st.why, "at the full throttle"));
	assert_int_equal(st.throttle[st.rounds - 1], VM_THROTTLE_MAX);
	assert_int_equal(vm_run_iters(&d.vm, 10), 0);
	check_against_reference(&d.vm, 128, 128);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

static void stop_copy(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };
	struct vm src;

	lockstep_cfg(&cfg);
	cfg.stop_copy = true;
	make_vm(&src, ops, 1024, 3);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, &r, NULL, NULL), 0);
	assert_int_equal(st.rounds, 0);
	assert_int_equal(st.final_pages, RAM / VM_PAGE_SIZE);
	assert_true(st.zero_pages > 0);
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 3);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

/* One fault; afterwards exactly one copy of the guest is runnable: on the
 * source, identical to an uninterrupted run. */
static void fault_case(void **state, struct relay *r, struct cut *cs, struct cut *cd,
		       const char *dst_says)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;
	int ret;

	lockstep_cfg(&cfg);
	make_vm(&src, ops, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	ret = migrate(&src, &d, &cfg, &st, r, cs, cd);
	printf("%s source: %s\n%s destination: %s\n", ops->name, st.why, ops->name, d.st.why);
	assert_true(r->done || (cs && cs->fired) || (cd && cd->fired));	/* the fault happened */
	assert_true(ret < 0);
	assert_int_equal(st.outcome, PC_OUT_STAYED);
	assert_true(d.ret < 0);		/* ... and the destination started nothing */
	assert_int_equal(d.st.outcome, PC_OUT_STAYED);
	assert_null(d.vm.ram);
	if (dst_says)
		assert_non_null(strstr(d.st.why, dst_says));
	assert_int_equal(vm_run_iters(&src, AFTER), 0);
	check_against_reference(&src, 1024, 1);
	vm_destroy(&src);
}

static void destination_lost_mid_round(void **state)
{
	struct relay r = { 0 };
	struct cut cd = { .ev = PC_EV_ROUND, .round = 1, .armed = true };

	fault_case(state, &r, NULL, &cd, NULL);
}

static void destination_lost_at_pause(void **state)
{
	struct relay r = { 0 };
	struct cut cs = { .ev = PC_EV_PAUSED, .round = -1, .armed = true };

	fault_case(state, &r, &cs, NULL, NULL);
}

static void destination_lost_after_final_state(void **state)
{
	struct relay r = { 0 };
	struct cut cd = { .ev = PC_EV_END, .round = -1, .armed = true };

	fault_case(state, &r, NULL, &cd, "not started here");
}

static void truncated_in_record(void **state)
{
	struct relay r = { .plain = true, .fault = F_TRUNCATE, .type = STREAM_PAGES,
			    .after_rounds = 1 };

	fault_case(state, &r, NULL, NULL, "truncated");
}

static void truncated_in_final_state(void **state)
{
	struct relay r = { .plain = true, .fault = F_TRUNCATE, .type = STREAM_STATE };

	fault_case(state, &r, NULL, NULL, "truncated");
}

static void corrupted_in_record(void **state)
{
	struct relay r = { .fault = F_CORRUPT, .after_rounds = 40 }	/* in round 0's pages */;

	fault_case(state, &r, NULL, NULL, "corrupted");
}

/* COMMIT never arrives: the destination starts nothing, the source may not
 * know that and stays paused ("unknown"); resumed by hand, its copy is
 * intact. */
static void commit_lost(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct relay r = { .plain = true, .fault = F_DROP, .type = STREAM_COMMIT };
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;

	lockstep_cfg(&cfg);
	make_vm(&src, ops, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_true(migrate(&src, &d, &cfg, &st, &r, NULL, NULL) < 0);
	printf("%s source: %s\n%s destination: %s\n", ops->name, st.why, ops->name, d.st.why);
	assert_true(r.done);
	assert_int_equal(st.outcome, PC_OUT_UNKNOWN);
	assert_non_null(strstr(st.why, "outcome unknown"));
	assert_true(d.ret < 0);
	assert_null(d.vm.ram);
	assert_non_null(strstr(d.st.why, "did not commit"));
	assert_int_equal(vm_run_iters(&src, AFTER), 0);
	check_against_reference(&src, 1024, 1);
	vm_destroy(&src);
}

/* RESUMED never arrives: the guest runs at the destination, and the source
 * must not resume it too: it stays paused with the outcome unknown. */
static void resumed_lost(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct relay r = { .plain = true, .fault = F_DROP, .type = STREAM_RESUMED,
			    .back = true };
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;
	uint64_t at_pause;

	lockstep_cfg(&cfg);
	make_vm(&src, ops, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_true(migrate(&src, &d, &cfg, &st, &r, NULL, NULL) < 0);
	printf("%s source: %s\n%s destination: %s\n", ops->name, st.why, ops->name, d.st.why);
	assert_true(r.done);
	assert_int_equal(st.outcome, PC_OUT_UNKNOWN);
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.st.outcome, PC_OUT_MOVED);
	at_pause = src.ctl.iters;
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 1);
	assert_int_equal(src.ctl.iters, at_pause);	/* nothing ran it here */
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

/* The source dies in the middle of a round: the destination discards. */
static void source_lost_mid_round(void **state)
{
	struct relay r = { 0 };
	struct cut cs = { .ev = PC_EV_ROUND, .round = 1, .armed = true };

	fault_case(state, &r, &cs, NULL, NULL);
}

static void stream_foreign(void **state)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };

	(void)state;
	lockstep_cfg(&cfg);
	assert_true(migrate(NULL, &d, &cfg, &st, &r, NULL, NULL) < 0);
	printf("destination: %s\n", d.st.why);
	assert_true(strstr(d.st.why, "corrupted or foreign") || strstr(d.st.why, "truncated"));
}

static void refused(void **state)
{
	const struct cpu_ops *ops = backend(state);
	struct precopy_config cfg;
	struct precopy_stats st;
	struct relay r = { 0 };
	struct dst d = { 0 };
	struct vm src;

	lockstep_cfg(&cfg);
	cfg.max_ram = 8u << 20;
	make_vm(&src, ops, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, &r, NULL, NULL), -EPERM);
	printf("source: %s\n", st.why);
	assert_non_null(strstr(st.why, "destination refused: guest RAM 16 MiB"));
	assert_int_equal(vm_run_iters(&src, AFTER), 0);
	check_against_reference(&src, 1024, 1);
	vm_destroy(&src);
}

/* KVM and the emulator run the same guest to the same result, compared
 * where the guest itself defines a boundary: the iteration counter, the
 * working set it writes and the console it prints.  (Elsewhere they differ
 * legitimately: Unicorn sets GDT Accessed bits, and the two stop at
 * different instructions of an iteration.) */
static void kvm_matches_emulator(void **state)
{
	const struct cpu_ops *kvm = backend(state);
	struct vm a, b;
	uint32_t ws = 256;

	make_vm(&a, kvm, ws, 3);
	make_vm(&b, &cpu_emu_ops, ws, 3);
	assert_int_equal(vm_run_iters(&a, 4096), 0);
	assert_int_equal(vm_run_iters(&b, 4096), 0);
	assert_int_equal(a.ctl.iters, 4096);
	assert_int_equal(b.ctl.iters, 4096);
	assert_int_equal(memcmp(a.ram + HW_WS_BASE, b.ram + HW_WS_BASE,
				(size_t)ws * VM_PAGE_SIZE), 0);
	assert_true(a.serial.len > 0);
	assert_int_equal(a.serial.len, b.serial.len);
	assert_int_equal(memcmp(a.serial.log, b.serial.log, a.serial.len), 0);
	vm_destroy(&a);
	vm_destroy(&b);
}

static void stream_records(void **state)
{
	struct stream_hello h = { .version = STREAM_VERSION, .ram = RAM, .kind = CPU_KIND_EMU,
				  .feat = { 1, 2, 3, 4 } }, h2;
	struct cpu_state *s = calloc(1, sizeof(*s)), *s2 = calloc(1, sizeof(*s2));
	struct stream_w w = { 0 };
	struct stream_r r;
	struct ctl_msg m;
	uint8_t *ram = calloc(4, 4096);
	uint64_t n = 0;
	uint8_t rec[12] = { 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0 };	/* zero run 3..4 */

	(void)state;
	ctl_msg_init(&m, 0);
	assert_int_equal(stream_hello_build(&m, &h), 0);
	assert_int_equal(stream_hello_parse(&m, &h2), 0);
	assert_memory_equal(&h, &h2, sizeof(h));
	m.type = STREAM_PAGES;
	assert_int_equal(stream_hello_parse(&m, &h2), -EPROTONOSUPPORT);
	s->gpr[3] = 0xdeadbeef;
	s->seg[CPU_CS].attr = 0xc09b;
	s->ext_len = 3;
	stream_put_cpu(&w, s);
	stream_r_init(&r, w.p, w.len);
	assert_int_equal(stream_get_cpu(&r, s2), 0);
	assert_memory_equal(s, s2, offsetof(struct cpu_state, ext) + 3);
	stream_r_init(&r, w.p, w.len - 1);
	assert_int_equal(stream_get_cpu(&r, s2), -EBADMSG);
	ctl_msg_reset(&m, STREAM_PAGES);
	assert_int_equal(ctl_put(&m, SA_ZERO, rec, sizeof(rec)), 0);
	assert_int_equal(stream_apply_pages(ram, 4, &m, &n), -EBADMSG);	/* past the end */
	rec[0] = 2;
	ctl_msg_reset(&m, STREAM_PAGES);
	assert_int_equal(ctl_put(&m, SA_ZERO, rec, sizeof(rec)), 0);
	assert_int_equal(stream_apply_pages(ram, 4, &m, &n), 0);
	assert_int_equal(n, 2);
	stream_w_free(&w);
	ctl_msg_free(&m);
	free(ram);
	free(s);
	free(s2);
}

static void event_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < PC_EV_COUNT; i++)
		assert_int_equal(precopy_event_parse(precopy_event_name((enum precopy_event)i)), i);
	assert_int_equal(precopy_event_parse("nonsense"), -1);
}

#define BOTH(fn) \
	{ #fn "/emu", fn, NULL, NULL, (void *)&cpu_emu_ops }, \
	{ #fn "/kvm", fn, NULL, NULL, (void *)&cpu_kvm_ops }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_records),
		cmocka_unit_test(event_names),
		BOTH(converging),
		BOTH(not_converging),
		BOTH(auto_converge),
		BOTH(auto_converge_not_enough),
		BOTH(stop_copy),
		BOTH(destination_lost_mid_round),
		BOTH(destination_lost_at_pause),
		BOTH(destination_lost_after_final_state),
		BOTH(truncated_in_record),
		BOTH(truncated_in_final_state),
		BOTH(corrupted_in_record),
		BOTH(source_lost_mid_round),
		BOTH(commit_lost),
		BOTH(resumed_lost),
		BOTH(refused),
		cmocka_unit_test(stream_foreign),
		{ "kvm_matches_emulator", kvm_matches_emulator, NULL, NULL, (void *)&cpu_kvm_ops },
	};

	int ret;

	signal(SIGPIPE, SIG_IGN);
	if (ctl_tls_new_psk(key, sizeof(key), "precopy-test", &tls) < 0)
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	ctl_tls_free(tls);
	return ret;
}
