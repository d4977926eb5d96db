/* Unit tests for netmove/agent/choreo.c: every transition of both roles and
 * every fault, through fake ops (no root, no network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "choreo.h"

#define MAX_INPUTS 16

/* The fake world: a script of inputs, the results the ops give, and a log
 * of what the machine asked for. */
struct fake {
	struct choreo_input script[MAX_INPUTS];
	int nscript, next;
	int prepare_ret, blackout_ret, handoff_ret, finish_ret, frames_ret;
	bool early;			/* dst: resumed before PREPARE */
	bool elsewhere;			/* src: the VM came up elsewhere after the peer was lost */
	char log[2048];
	int switchovers, rollbacks, commits, stops;
	bool resumed_local;
	char outcome[64];		/* commit's, or "rolled back: WHY" */
	bool ran_out;			/* next() called past the script */
};

static void logf_(struct fake *f, const char *fmt, ...)
{
	size_t n = strlen(f->log);
	va_list ap;

	if (n && n + 1 < sizeof(f->log))
		f->log[n++] = ' ';
	va_start(ap, fmt);
	vsnprintf(f->log + n, sizeof(f->log) - n, fmt, ap);
	va_end(ap);
}

static int f_prepare(void *ctx)
{
	struct fake *f = ctx;

	logf_(f, "prepare");
	return f->prepare_ret;
}

static bool f_prepared(void *ctx, uint64_t *resumed_us)
{
	struct fake *f = ctx;

	logf_(f, "prepared");
	if (resumed_us && f->early)
		*resumed_us = 42;
	return resumed_us && f->early;
}

/* Past the script the world goes quiet: the state's time runs out. */
static void f_next(void *ctx, enum choreo_state s, struct choreo_input *in)
{
	(void)s;
	struct fake *f = ctx;

	if (f->next < f->nscript) {
		*in = f->script[f->next++];
	} else {
		memset(in, 0, sizeof(*in));
		in->kind = CI_TIMEOUT;
		f->ran_out = true;
	}
}

static void f_reply(void *ctx, const struct choreo_input *in, bool ok, const char *text)
{
	assert_int_equal(in->kind, CI_EVENT);
	logf_(ctx, "reply(%s,%s)", ok ? "ok" : "no", text ? text : "-");
}

static int f_blackout(void *ctx, const struct choreo_input *in)
{
	struct fake *f = ctx;

	(void)in;
	logf_(f, "blackout");
	return f->blackout_ret;
}

static void f_switchover(void *ctx, const struct choreo_input *in, uint64_t time_us)
{
	struct fake *f = ctx;

	(void)in;
	logf_(f, "switchover(%llu)", (unsigned long long)time_us);
	f->switchovers++;
}

static int f_handoff(void *ctx)
{
	struct fake *f = ctx;

	logf_(f, "handoff");
	return f->handoff_ret;
}

static bool f_peer_lost(void *ctx)
{
	struct fake *f = ctx;

	logf_(f, "peer_lost");
	return f->elsewhere;
}

static int f_forward(void *ctx)
{
	logf_(ctx, "forward");
	return 0;
}

static int f_frames(void *ctx, const struct choreo_input *in)
{
	struct fake *f = ctx;

	logf_(f, in->msg == CM_FRAMES_END ? "frames_end" : "frames");
	return in->msg == CM_FRAMES_END ? 0 : f->frames_ret;
}

static int f_finish(void *ctx)
{
	struct fake *f = ctx;

	logf_(f, "finish");
	return f->finish_ret;
}

static void f_error(void *ctx, const char *what, const char *detail)
{
	logf_(ctx, "error(%s%s%s)", what, detail ? ": " : "", detail ? detail : "");
}

static void f_commit(void *ctx, const char *outcome)
{
	struct fake *f = ctx;

	logf_(f, "commit(%s)", outcome);
	snprintf(f->outcome, sizeof(f->outcome), "%s", outcome);
	f->commits++;
}

static void f_grace(void *ctx)
{
	logf_(ctx, "grace");
}

static void f_rollback(void *ctx, const char *why, bool resumed_local)
{
	struct fake *f = ctx;

	logf_(f, "rollback(%s%s)", why, resumed_local ? ",here" : "");
	snprintf(f->outcome, sizeof(f->outcome), "rolled back: %s", why);
	f->rollbacks++;
	f->resumed_local = resumed_local;
}

static void f_stopping(void *ctx)
{
	struct fake *f = ctx;

	logf_(f, "stopping");
	f->stops++;
}

static const struct choreo_ops fake_ops = {
	.prepare = f_prepare,
	.prepared = f_prepared,
	.next = f_next,
	.reply = f_reply,
	.blackout = f_blackout,
	.switchover = f_switchover,
	.handoff = f_handoff,
	.peer_lost = f_peer_lost,
	.forward = f_forward,
	.frames = f_frames,
	.finish = f_finish,
	.error = f_error,
	.commit = f_commit,
	.grace = f_grace,
	.rollback = f_rollback,
	.stopping = f_stopping,
};

static void ev(struct fake *f, int event, uint64_t t)
{
	struct choreo_input *in = &f->script[f->nscript++];

	memset(in, 0, sizeof(*in));
	in->kind = CI_EVENT;
	in->event = event;
	in->time_us = t;
}

static void msg(struct fake *f, int m, uint64_t t, const char *text)
{
	struct choreo_input *in = &f->script[f->nscript++];

	memset(in, 0, sizeof(*in));
	in->kind = CI_PEER;
	in->msg = m;
	in->time_us = t;
	if (text)
		snprintf(in->text, sizeof(in->text), "%s", text);
}

static void other(struct fake *f, enum choreo_input_kind kind, uint64_t t)
{
	struct choreo_input *in = &f->script[f->nscript++];

	memset(in, 0, sizeof(*in));
	in->kind = kind;
	in->time_us = t;
}

static struct choreo run(struct fake *f, enum choreo_role role)
{
	struct choreo c;

	choreo_run(&c, role, &fake_ops, f);
	assert_int_equal(c.state, CS_END);
	/* Exactly one outcome, and never a rollback once the VM runs on the
	 * destination. */
	assert_int_equal(f->commits + f->rollbacks, 1);
	if (f->switchovers)
		assert_int_equal(f->rollbacks, 0);
	return c;
}

/* ---- source ---- */

static void src_commits(void **state)
{
	struct fake f = { 0 };
	struct choreo c;

	(void)state;
	ev(&f, CE_BLACKOUT, 10);
	msg(&f, CM_SWITCHED, 20, NULL);
	c = run(&f, CHOREO_SRC);
	assert_string_equal(f.log, "prepare prepared blackout reply(ok,buffering) switchover(20) "
				   "handoff finish commit(committed) grace");
	assert_int_equal(c.ntrace, 6);
	assert_int_equal(c.trace[5], CS_GRACE);
	assert_int_equal(c.trace[2], CS_PAUSED);
	assert_false(f.ran_out);
}

static void src_prepare_fails(void **state)
{
	struct fake f = { .prepare_ret = -110 };

	(void)state;
	run(&f, CHOREO_SRC);
	assert_string_equal(f.log, "prepare rollback(prepare failed)");
}

static void src_ready_aborts(void **state)
{
	static const struct {
		int kind, event, msg;
		const char *text, *log;
	} cases[] = {
		{ CI_EVENT, CE_RESUMED, 0, NULL,
		  "prepare prepared reply(ok,rolling back) rollback(the VM resumed on the source,here)" },
		{ CI_EVENT, CE_FAILED, 0, NULL,
		  "prepare prepared reply(ok,rolling back) rollback(the hypervisor reported a failure)" },
		{ CI_EVENT, CE_STOP, 0, NULL, "prepare prepared stopping rollback(netmoved is stopping)" },
		{ CI_TIMEOUT, 0, 0, NULL, "prepare prepared rollback(no blackout before the timeout)" },
		/* Nothing held: it waits for a blackout that never comes. */
		{ CI_PEER_LOST, 0, 0, NULL, "prepare prepared rollback(no blackout before the timeout)" },
		{ CI_PEER, 0, CM_ERROR, "port gone", "prepare prepared rollback(port gone)" },
		{ CI_PEER, 0, CM_OTHER, NULL, "prepare prepared rollback(unexpected message)" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = { 0 };

		if (cases[i].kind == CI_EVENT)
			ev(&f, cases[i].event, 1);
		else if (cases[i].kind == CI_PEER)
			msg(&f, cases[i].msg, 1, cases[i].text);
		else
			other(&f, cases[i].kind, 0);
		run(&f, CHOREO_SRC);
		assert_string_equal(f.log, cases[i].log);
		assert_int_equal(f.resumed_local, cases[i].event == CE_RESUMED);
	}
}

/* A blackout that fails to arm is answered so and changes nothing. */
static void src_blackout_fails(void **state)
{
	struct fake f = { .blackout_ret = -12 };

	(void)state;
	ev(&f, CE_BLACKOUT, 1);
	run(&f, CHOREO_SRC);
	assert_string_equal(f.log, "prepare prepared blackout reply(no,-) "
				   "rollback(no blackout before the timeout)");
}

/* SWITCHED before any blackout (the stop report is late): hand off. */
static void src_switched_before_blackout(void **state)
{
	struct fake f = { 0 };

	(void)state;
	msg(&f, CM_SWITCHED, 7, NULL);
	run(&f, CHOREO_SRC);
	assert_string_equal(f.log, "prepare prepared switchover(7) handoff finish commit(committed) grace");
}

static void src_paused_inputs(void **state)
{
	static const struct {
		int kind, event;
		const char *log;
	} cases[] = {
		{ CI_EVENT, CE_RESUMED, "reply(ok,rolling back) rollback(the VM resumed on the source,here)" },
		{ CI_EVENT, CE_FAILED, "reply(ok,rolling back) rollback(the hypervisor reported a failure)" },
		{ CI_TIMEOUT, 0, "rollback(the VM did not resume before the timeout)" },
		{ CI_PEER_LOST, 0, "peer_lost rollback(lost the destination agent)" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake f = { 0 };
		char want[256];

		ev(&f, CE_BLACKOUT, 1);
		if (cases[i].kind == CI_EVENT)
			ev(&f, cases[i].event, 2);
		else
			other(&f, cases[i].kind, 0);
		run(&f, CHOREO_SRC);
		snprintf(want, sizeof(want), "prepare prepared blackout reply(ok,buffering) %s",
			 cases[i].log);
		assert_string_equal(f.log, want);
	}
}

/* The destination agent lost while the VM is paused, and the VM comes up
 * there anyway: what is held follows it, nothing is rolled back. */
static void src_paused_peer_lost_elsewhere(void **state)
{
	struct fake f = { .elsewhere = true };

	(void)state;
	ev(&f, CE_BLACKOUT, 1);
	other(&f, CI_PEER_LOST, 0);
	run(&f, CHOREO_SRC);
	assert_string_equal(f.log, "prepare prepared blackout reply(ok,buffering) peer_lost "
				   "switchover(0) forward commit(failed) grace");
}

/* The destination agent lost before the VM stopped (after PREPARE, or
 * during it: prepare says 1): the source still holds the VM's frames when
 * it stops and sends them after it; or rolls back if it comes up here. */
static void src_peer_lost_before_blackout(void **state)
{
	struct fake a = { .elsewhere = true }, b = { .elsewhere = true, .prepare_ret = 1 },
		    c = { 0 };

	(void)state;
	other(&a, CI_PEER_LOST, 0);
	ev(&a, CE_BLACKOUT, 1);
	run(&a, CHOREO_SRC);
	assert_string_equal(a.log, "prepare prepared blackout reply(ok,buffering) peer_lost "
				   "switchover(0) forward commit(failed) grace");
	ev(&b, CE_BLACKOUT, 1);
	run(&b, CHOREO_SRC);
	assert_string_equal(b.log, "prepare prepared blackout reply(ok,buffering) peer_lost "
				   "switchover(0) forward commit(failed) grace");
	other(&c, CI_PEER_LOST, 0);
	ev(&c, CE_BLACKOUT, 1);
	run(&c, CHOREO_SRC);
	assert_string_equal(c.log, "prepare prepared blackout reply(ok,buffering) peer_lost "
				   "rollback(lost the destination agent)");
}

/* SIGTERM while the VM's frames are held: seen through, not rolled back;
 * a second blackout report is answered, not taken for a resume. */
static void src_paused_stop_and_repeat(void **state)
{
	struct fake f = { 0 };

	(void)state;
	ev(&f, CE_BLACKOUT, 1);
	ev(&f, CE_STOP, 2);
	ev(&f, CE_BLACKOUT, 3);
	msg(&f, CM_SWITCHED, 4, NULL);
	run(&f, CHOREO_SRC);
	assert_string_equal(f.log, "prepare prepared blackout reply(ok,buffering) stopping "
				   "reply(ok,buffering already) switchover(4) handoff finish "
				   "commit(committed) grace");
}

static void src_after_switchover_fails(void **state)
{
	struct fake f = { .handoff_ret = -32 };
	struct fake g = { .finish_ret = -110 };

	(void)state;
	ev(&f, CE_BLACKOUT, 1);
	msg(&f, CM_SWITCHED, 2, NULL);
	run(&f, CHOREO_SRC);
	assert_string_equal(f.outcome, "failed");
	assert_null(strstr(f.log, "finish"));
	assert_non_null(strstr(f.log, "grace"));
	ev(&g, CE_BLACKOUT, 1);
	msg(&g, CM_SWITCHED, 2, NULL);
	run(&g, CHOREO_SRC);
	assert_string_equal(g.log, "prepare prepared blackout reply(ok,buffering) switchover(2) "
				   "handoff finish commit(failed) grace");
}

/* The destination finished before taking all it was shipped; the source
 * sent the rest out of its uplink (finish > 0): the VM lost nothing, but
 * that is not a plain success. */
static void src_finish_with_errors(void **state)
{
	struct fake f = { .finish_ret = 1 };

	(void)state;
	ev(&f, CE_BLACKOUT, 1);
	msg(&f, CM_SWITCHED, 2, NULL);
	run(&f, CHOREO_SRC);
	assert_string_equal(f.outcome, "committed with errors");
	assert_string_equal(f.log, "prepare prepared blackout reply(ok,buffering) switchover(2) "
				   "handoff finish commit(committed with errors) grace");
}

/* ---- destination ---- */

static void dst_commits(void **state)
{
	struct fake f = { 0 };

	(void)state;
	msg(&f, CM_BLACKOUT, 5, NULL);
	ev(&f, CE_RESUMED, 9);
	msg(&f, CM_FRAMES, 0, NULL);
	msg(&f, CM_FRAMES, 0, NULL);
	msg(&f, CM_FRAMES_END, 0, NULL);
	run(&f, CHOREO_DST);
	assert_string_equal(f.log, "prepare prepared blackout reply(ok,switching over) switchover(9) "
				   "frames frames frames_end finish commit(committed) grace");
}

static void dst_early_and_detector(void **state)
{
	struct fake f = { .early = true };
	struct fake g = { 0 };

	(void)state;
	msg(&f, CM_FRAMES_END, 0, NULL);
	run(&f, CHOREO_DST);
	assert_string_equal(f.log, "prepare prepared switchover(42) frames_end finish "
				   "commit(committed) grace");
	other(&g, CI_RESUMED_SEEN, 77);
	msg(&g, CM_FRAMES_END, 0, NULL);
	run(&g, CHOREO_DST);
	assert_string_equal(g.log, "prepare prepared switchover(77) frames_end finish "
				   "commit(committed) grace");
}

static void dst_ready_aborts(void **state)
{
	struct fake a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, e = { 0 }, g = { .prepare_ret = -19 };

	(void)state;
	ev(&a, CE_STOP, 1);
	run(&a, CHOREO_DST);
	assert_string_equal(a.log, "prepare prepared stopping rollback(netmoved is stopping)");
	/* Once the VM stopped, a stopping destination waits for it. */
	msg(&b, CM_BLACKOUT, 1, NULL);
	ev(&b, CE_STOP, 2);
	ev(&b, CE_RESUMED, 3);
	msg(&b, CM_FRAMES_END, 0, NULL);
	run(&b, CHOREO_DST);
	assert_string_equal(b.outcome, "committed");
	ev(&c, CE_FAILED, 1);
	run(&c, CHOREO_DST);
	assert_string_equal(c.outcome, "rolled back: the hypervisor reported a failure");
	msg(&d, CM_ROLLBACK, 1, "VM resumed on the source");
	run(&d, CHOREO_DST);
	assert_string_equal(d.outcome, "rolled back: VM resumed on the source");
	/* A lost source leaves the VM's flows and buffer in place until the
	 * state's time runs out. */
	other(&e, CI_PEER_LOST, 0);
	run(&e, CHOREO_DST);
	assert_string_equal(e.log, "prepare prepared "
				   "rollback(lost the source agent, and the VM did not resume here)");
	run(&g, CHOREO_DST);
	assert_string_equal(g.log, "prepare rollback(prepare failed)");
	/* Frames before our SWITCHED are out of turn: the VM is not here. */
	{
		struct fake x = { 0 };

		msg(&x, CM_FRAMES_END, 0, NULL);
		run(&x, CHOREO_DST);
		assert_string_equal(x.log, "prepare prepared "
					   "rollback(the source sent frames before the switchover)");
	}
	/* And quiet: the state's time runs out. */
	{
		struct fake t = { 0 };

		ev(&t, CE_BLACKOUT, 1);	/* not the destination's to get */
		run(&t, CHOREO_DST);
		assert_string_equal(t.log, "prepare prepared reply(no,this host is the relocation's "
					   "destination) rollback(timed out)");
	}
}

/* The source agent dies (before or after the VM stopped) and the
 * hypervisor's migration goes on: the VM comes up here, is switched over
 * and finished without the source's frames, and that is an error. */
static void dst_source_lost_vm_comes(void **state)
{
	struct fake a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };

	(void)state;
	other(&a, CI_PEER_LOST, 0);
	ev(&a, CE_RESUMED, 5);
	run(&a, CHOREO_DST);
	assert_string_equal(a.log, "prepare prepared reply(ok,switching over) switchover(5) "
				   "error(handoff: lost the source agent before the VM resumed) "
				   "finish commit(committed) grace");
	assert_false(a.ran_out);
	/* After the source said the VM stopped; seen by the resume detector. */
	msg(&b, CM_BLACKOUT, 1, NULL);
	other(&b, CI_PEER_LOST, 0);
	other(&b, CI_RESUMED_SEEN, 6);
	run(&b, CHOREO_DST);
	assert_string_equal(b.log, "prepare prepared blackout switchover(6) "
				   "error(handoff: lost the source agent before the VM resumed) "
				   "finish commit(committed) grace");
	/* The hypervisor gave up meanwhile: undone. */
	other(&c, CI_PEER_LOST, 0);
	ev(&c, CE_FAILED, 2);
	run(&c, CHOREO_DST);
	assert_string_equal(c.outcome, "rolled back: the hypervisor reported a failure");
	/* Stopping before the VM stopped: nothing is held, undone. */
	other(&d, CI_PEER_LOST, 0);
	ev(&d, CE_STOP, 2);
	run(&d, CHOREO_DST);
	assert_string_equal(d.outcome, "rolled back: netmoved is stopping");
}

/* After the switchover the VM runs here: nothing rolls it back. */
static void dst_handoff_faults(void **state)
{
	struct fake a = { 0 }, b = { 0 }, c = { 0 }, d = { .finish_ret = -71 },
		    e = { .frames_ret = -5 };

	(void)state;
	ev(&a, CE_RESUMED, 1);
	other(&a, CI_PEER_LOST, 0);
	run(&a, CHOREO_DST);
	assert_non_null(strstr(a.log, "error(handoff: lost the source agent before its last frames) finish"));
	ev(&b, CE_RESUMED, 1);
	ev(&b, CE_FAILED, 2);
	ev(&b, CE_STOP, 3);
	other(&b, CI_TIMEOUT, 0);
	run(&b, CHOREO_DST);
	assert_string_equal(b.log, "prepare prepared reply(ok,switching over) switchover(1) "
				   "reply(no,the VM runs on this host already) stopping "
				   "error(handoff: the source's frames stopped coming) finish "
				   "commit(committed) grace");
	ev(&c, CE_RESUMED, 1);
	msg(&c, CM_ERROR, 0, "tap gone");
	run(&c, CHOREO_DST);
	assert_non_null(strstr(c.log, "error(source failed during handoff: tap gone) finish"));
	ev(&d, CE_RESUMED, 1);
	msg(&d, CM_FRAMES_END, 0, NULL);
	run(&d, CHOREO_DST);
	assert_string_equal(d.outcome, "committed with errors");
	ev(&e, CE_RESUMED, 1);
	msg(&e, CM_FRAMES, 0, NULL);
	msg(&e, CM_FRAMES_END, 0, NULL);
	run(&e, CHOREO_DST);
	assert_non_null(strstr(e.log, "frames error(replaying the source's frames) frames_end"));
}

/* Every input in every waiting state of both roles, after every prefix
 * that reaches it: the machine ends, with exactly one outcome, and rolls
 * nothing back once the VM ran on the destination (run's checks). */
static void every_input_everywhere(void **state)
{
	struct choreo_input alphabet[32];
	int n = 0, role, p, i, j;

	(void)state;
	for (i = CE_BLACKOUT; i <= CE_STOP; i++)
		alphabet[n++] = (struct choreo_input){ .kind = CI_EVENT, .event = i, .time_us = 3 };
	for (i = CM_OTHER; i <= CM_DONE; i++)
		alphabet[n++] = (struct choreo_input){ .kind = CI_PEER, .msg = i, .time_us = 3 };
	alphabet[n++] = (struct choreo_input){ .kind = CI_RESUMED_SEEN, .time_us = 3 };
	alphabet[n++] = (struct choreo_input){ .kind = CI_TIMEOUT };
	alphabet[n++] = (struct choreo_input){ .kind = CI_PEER_LOST };
	for (role = CHOREO_SRC; role <= CHOREO_DST; role++)
		/* Prefixes of two inputs reach every waiting state. */
		for (p = 0; p < n * n; p++)
			for (j = 0; j < n; j++) {
				struct fake f = { 0 };

				f.script[f.nscript++] = alphabet[p / n];
				f.script[f.nscript++] = alphabet[p % n];
				f.script[f.nscript++] = alphabet[j];
				run(&f, (enum choreo_role)role);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(src_commits),
		cmocka_unit_test(src_prepare_fails),
		cmocka_unit_test(src_ready_aborts),
		cmocka_unit_test(src_blackout_fails),
		cmocka_unit_test(src_switched_before_blackout),
		cmocka_unit_test(src_paused_inputs),
		cmocka_unit_test(src_paused_peer_lost_elsewhere),
		cmocka_unit_test(src_peer_lost_before_blackout),
		cmocka_unit_test(src_paused_stop_and_repeat),
		cmocka_unit_test(src_after_switchover_fails),
		cmocka_unit_test(src_finish_with_errors),
		cmocka_unit_test(dst_commits),
		cmocka_unit_test(dst_early_and_detector),
		cmocka_unit_test(dst_ready_aborts),
		cmocka_unit_test(dst_source_lost_vm_comes),
		cmocka_unit_test(dst_handoff_faults),
		cmocka_unit_test(every_input_everywhere),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
