/* precopy, stream, vm and the emulated back-end, deterministic (lockstep):
 * round sizes, convergence, migrated state == an uninterrupted run, and
 * faults (killed destination, truncated, corrupted, foreign stream, refusal). */
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
#include "precopy.h"
#include "stream.h"
#include "vm.h"

#define RAM (16u << 20)
#define WARMUP 500
#define AFTER 3000

static const uint8_t key[32] = "netmove-precopy-test-key-0123456";

enum fault { F_NONE, F_CORRUPT, F_TRUNCATE, F_FOREIGN };

struct dst {
	int fd;
	struct vm vm;
	struct vm_config tmpl;
	struct precopy_config cfg;
	struct precopy_stats st;
	int ret;
};

struct relay {
	int a, b;		/* source side, destination side */
	enum fault fault;
	size_t at;		/* byte offset of the fault (source -> destination) */
};

static void *dst_main(void *arg)
{
	struct dst *d = arg;
	struct ctl_conn c;

	d->ret = ctl_conn_init(&c, d->fd, key, sizeof(key), "src");
	if (!d->ret)
		d->ret = ctl_handshake(&c, 5000);
	if (!d->ret)
		d->ret = precopy_recv(&d->vm, &d->tmpl, &c, &d->cfg, &d->st);
	else
		snprintf(d->st.why, sizeof(d->st.why), "%s", stream_strerror(d->ret));
	ctl_conn_close(&c);
	return NULL;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	uint8_t buf[65536];
	size_t fwd = 0;

	for (;;) {
		struct pollfd p[2] = { { .fd = r->a, .events = POLLIN }, { .fd = r->b, .events = POLLIN } };
		ssize_t n;

		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[0].revents) {
			n = read(r->a, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (r->fault == F_TRUNCATE && fwd + (size_t)n > r->at) {
				if (write(r->b, buf, r->at - fwd) < 0)
					break;
				break;
			}
			if (r->fault == F_CORRUPT && fwd <= r->at && fwd + (size_t)n > r->at)
				buf[r->at - fwd] ^= 0x40;
			fwd += (size_t)n;
			if (write(r->b, buf, (size_t)n) != n)
				break;
		}
		if (p[1].revents) {
			n = read(r->b, buf, sizeof(buf));
			if (n <= 0 || write(r->a, buf, (size_t)n) != n)
				break;
		}
	}
	/* Closing both ends is what a killed peer looks like. */
	close(r->a);
	close(r->b);
	return NULL;
}

static void make_vm(struct vm *vm, uint32_t ws, uint32_t rate)
{
	struct vm_config vc = { .ram_size = RAM, .ops = &cpu_emu_ops, .lockstep = true,
				.ws = ws, .rate = rate, .serial_fd = -1 };

	assert_int_equal(vm_create(vm, &vc), 0);
}

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

/* Migrate a lockstep guest through an optional faulty relay. */
static int migrate(struct vm *src, struct dst *d, struct precopy_config *cfg,
		   struct precopy_stats *st, enum fault fault, size_t at)
{
	int sp[2], dp[2], ret;
	pthread_t td, tr;
	struct relay r;
	struct ctl_conn c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, dp), 0);
	d->fd = dp[1];
	d->cfg = *cfg;
	d->tmpl = (struct vm_config){ .ops = &cpu_emu_ops, .lockstep = true, .serial_fd = -1 };
	r = (struct relay){ .a = sp[1], .b = dp[0], .fault = fault, .at = at };
	assert_int_equal(pthread_create(&td, NULL, dst_main, d), 0);
	assert_int_equal(pthread_create(&tr, NULL, relay_main, &r), 0);
	if (fault == F_FOREIGN) {
		static const char junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n0123456789abcdef";

		assert_true(write(sp[0], junk, sizeof(junk)) > 0);
		shutdown(sp[0], SHUT_WR);
		pthread_join(td, NULL);
		close(sp[0]);
		pthread_join(tr, NULL);
		return d->ret;
	}
	assert_int_equal(ctl_conn_init(&c, sp[0], key, sizeof(key), "dst"), 0);
	ret = ctl_handshake(&c, 5000);
	assert_int_equal(ret, 0);
	ret = precopy_send(src, &c, cfg, st);
	ctl_conn_close(&c);
	pthread_join(td, NULL);
	pthread_join(tr, NULL);
	return ret;
}

static void lockstep_cfg(struct precopy_config *cfg)
{
	precopy_config_default(cfg);
	cfg->downtime_ms = 1;
	cfg->ls_pages_per_ms = 50;	/* switch over at <= 50 dirty pages */
	cfg->timeout_ms = 5000;
}

/* Reference: the same guest, uninterrupted, to the same iteration count. */
static void check_against_reference(struct vm *migrated, uint32_t ws, uint32_t rate)
{
	struct vm ref;

	make_vm(&ref, ws, rate);
	assert_int_equal(vm_run_iters(&ref, migrated->ctl.iters), 0);
	assert_same(migrated, &ref);
	vm_destroy(&ref);
}

static void converging(void **state)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;
	uint32_t r;

	(void)state;
	lockstep_cfg(&cfg);
	cfg.ls_pages_per_iter = 2;	/* guest dirties half as many pages as we send */
	make_vm(&src, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, F_NONE, 0), 0);
	assert_int_equal(d.ret, 0);
	assert_true(st.converged);
	assert_true(st.rounds >= 3);
	for (r = 1; r < st.rounds; r++) {
		printf("round %u: %llu pages\n", r - 1, (unsigned long long)st.pages[r - 1]);
		assert_true(st.pages[r] < st.pages[r - 1]);
	}
	printf("final: %llu pages, %s\n", (unsigned long long)st.final_pages, st.why);
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
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;

	(void)state;
	lockstep_cfg(&cfg);
	cfg.ls_pages_per_iter = 1;
	cfg.stall_rounds = 3;
	make_vm(&src, 1024, 4);	/* dirties 4 pages per page sent */
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, F_NONE, 0), 0);
	printf("%s\n", st.why);
	assert_false(st.converged);
	assert_non_null(strstr(st.why, "not converged"));
	assert_true(st.rounds >= 3 && st.rounds <= 5);
	assert_true(st.final_pages >= 1024);
	/* Switched over anyway: the state still matches. */
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 4);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

static void stop_copy(void **state)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;

	(void)state;
	lockstep_cfg(&cfg);
	cfg.stop_copy = true;
	make_vm(&src, 1024, 3);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, F_NONE, 0), 0);
	assert_int_equal(st.rounds, 0);
	assert_int_equal(st.final_pages, RAM / VM_PAGE_SIZE);
	assert_true(st.zero_pages > 0);
	assert_int_equal(vm_run_iters(&d.vm, AFTER), 0);
	check_against_reference(&d.vm, 1024, 3);
	vm_destroy(&d.vm);
	vm_destroy(&src);
}

/* A failed migration leaves the source guest running as if nothing happened. */
static void fault_case(enum fault fault, size_t at, const char *dst_says)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;
	int ret;

	lockstep_cfg(&cfg);
	make_vm(&src, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	ret = migrate(&src, &d, &cfg, &st, fault, at);
	assert_true(ret < 0);
	assert_true(d.ret < 0);
	printf("source: %s\ndestination: %s\n", st.why, d.st.why);
	if (dst_says)
		assert_non_null(strstr(d.st.why, dst_says));
	assert_int_equal(vm_run_iters(&src, AFTER), 0);
	check_against_reference(&src, 1024, 1);
	vm_destroy(&src);
}

static void destination_killed(void **state)
{
	(void)state;
	fault_case(F_TRUNCATE, 3u << 20, "truncated");
}

static void stream_truncated_in_record(void **state)
{
	(void)state;
	/* Cut inside the first page message. */
	fault_case(F_TRUNCATE, 100000, "truncated");
}

static void stream_corrupted(void **state)
{
	(void)state;
	fault_case(F_CORRUPT, 1u << 20, "corrupted");
}

static void stream_foreign(void **state)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };

	(void)state;
	lockstep_cfg(&cfg);
	assert_true(migrate(NULL, &d, &cfg, &st, F_FOREIGN, 0) < 0);
	printf("destination: %s\n", d.st.why);
	assert_true(strstr(d.st.why, "corrupted or foreign") || strstr(d.st.why, "truncated"));
}

static void refused(void **state)
{
	struct precopy_config cfg;
	struct precopy_stats st;
	struct dst d = { 0 };
	struct vm src;

	(void)state;
	lockstep_cfg(&cfg);
	cfg.max_ram = 8u << 20;
	make_vm(&src, 1024, 1);
	assert_int_equal(vm_run_iters(&src, WARMUP), 0);
	assert_int_equal(migrate(&src, &d, &cfg, &st, F_NONE, 0), -EPERM);
	printf("source: %s\n", st.why);
	assert_non_null(strstr(st.why, "destination refused: guest RAM 16 MiB"));
	assert_int_equal(vm_run_iters(&src, AFTER), 0);
	check_against_reference(&src, 1024, 1);
	vm_destroy(&src);
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

static void kvm_backend(void **state)
{
	struct vm_config vc = { .ram_size = RAM, .ops = &cpu_kvm_ops, .lockstep = true,
				.ws = 16, .rate = 1, .serial_fd = -1 };
	struct vm vm;
	int ret;

	(void)state;
	ret = vm_create(&vm, &vc);
	if (ret && strstr(vm.err, "no /dev/kvm")) {
		printf("skip: kvm back-end: %s\n", vm.err);
		skip();
	}
	assert_int_equal(ret, 0);
	assert_int_equal(vm_run_iters(&vm, 2048), 0);
	assert_true(vm.serial.len > 0);
	check_against_reference(&vm, 16, 1);	/* KVM and emulated guests agree */
	vm_destroy(&vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stream_records),
		cmocka_unit_test(converging),
		cmocka_unit_test(not_converging),
		cmocka_unit_test(stop_copy),
		cmocka_unit_test(destination_killed),
		cmocka_unit_test(stream_truncated_in_record),
		cmocka_unit_test(stream_corrupted),
		cmocka_unit_test(stream_foreign),
		cmocka_unit_test(refused),
		cmocka_unit_test(kvm_backend),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
