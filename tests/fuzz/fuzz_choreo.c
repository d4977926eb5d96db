/* libFuzzer harness: the relocation's state machine (netmove/agent/
 * choreo.c).  The input picks the role, what each op returns and the
 * inputs the waiting states get, in order (past the input, time runs out).
 * Whatever comes, the machine must end within a bounded number of steps,
 * with exactly one outcome (a commit or a rollback), never roll back once
 * the VM ran on the destination, never switch over twice, and only ask the
 * ops its role has. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "choreo.h"

#define MAX_STEPS 4096

struct fuzz {
	const uint8_t *d;
	size_t n, off;
	enum choreo_role role;
	int switchovers, commits, rollbacks, steps;
	bool ended;
};

static uint8_t take(struct fuzz *f)
{
	return f->off < f->n ? f->d[f->off++] : 0;
}

/* An op's result: 0 mostly, a failure when the next byte says so. */
static int result(struct fuzz *f)
{
	return take(f) % 4 == 3 ? -5 : 0;
}

static void after_end(struct fuzz *f)
{
	if (f->ended)
		abort();	/* an op after the outcome's grace or rollback */
}

static int f_prepare(void *ctx)
{
	return result(ctx);
}

static bool f_prepared(void *ctx, uint64_t *resumed_us)
{
	struct fuzz *f = ctx;

	if (f->role == CHOREO_SRC && resumed_us)
		abort();
	return resumed_us && take(f) % 8 == 7;
}

static void f_next(void *ctx, enum choreo_state s, struct choreo_input *in)
{
	struct fuzz *f = ctx;
	uint8_t k;

	if (s != CS_READY && s != CS_PAUSED && s != CS_HANDOFF)
		abort();	/* only these states wait */
	if (f->role == CHOREO_DST && s == CS_PAUSED)
		abort();
	if (++f->steps > MAX_STEPS)
		abort();	/* a machine that never ends */
	memset(in, 0, sizeof(*in));
	if (f->off >= f->n) {
		in->kind = CI_TIMEOUT;
		return;
	}
	k = take(f);
	in->time_us = take(f);
	switch (k % 5) {
	case 0:
		in->kind = CI_EVENT;
		in->event = CE_BLACKOUT + k / 5 % 4;
		break;
	case 1:
		in->kind = CI_PEER;
		in->msg = k / 5 % (CM_DONE + 1);
		if (k & 0x80)
			memcpy(in->text, "peer text", 10);
		break;
	case 2:
		in->kind = CI_RESUMED_SEEN;
		break;
	case 3:
		in->kind = CI_TIMEOUT;
		break;
	default:
		in->kind = CI_PEER_LOST;
	}
}

static void f_reply(void *ctx, const struct choreo_input *in, bool ok, const char *text)
{
	(void)ok;
	(void)text;
	after_end(ctx);
	if (in->kind != CI_EVENT)
		abort();	/* only an event has a client to answer */
}

static int f_blackout(void *ctx, const struct choreo_input *in)
{
	(void)in;
	after_end(ctx);
	return result(ctx);
}

static void f_switchover(void *ctx, const struct choreo_input *in, uint64_t time_us)
{
	struct fuzz *f = ctx;

	(void)in;
	(void)time_us;
	after_end(f);
	if (++f->switchovers > 1)
		abort();
}

static int f_handoff(void *ctx)
{
	struct fuzz *f = ctx;

	if (f->role != CHOREO_SRC || !f->switchovers)
		abort();	/* only a source ships, and only after the switch */
	return result(f);
}

static bool f_peer_lost(void *ctx)
{
	struct fuzz *f = ctx;

	if (f->role != CHOREO_SRC || f->switchovers)
		abort();
	return take(f) & 1;
}

static int f_forward(void *ctx)
{
	struct fuzz *f = ctx;

	if (f->role != CHOREO_SRC || f->switchovers != 1)
		abort();	/* forwarding only once the VM is known elsewhere */
	return result(f);
}

static int f_frames(void *ctx, const struct choreo_input *in)
{
	struct fuzz *f = ctx;

	if (f->role != CHOREO_DST || in->kind != CI_PEER)
		abort();
	return result(f);
}

static int f_finish(void *ctx)
{
	struct fuzz *f = ctx;

	if (!f->switchovers)
		abort();	/* finishing without the VM having moved */
	return result(f);
}

static void f_error(void *ctx, const char *what, const char *detail)
{
	(void)what;
	(void)detail;
	after_end(ctx);
}

static void f_commit(void *ctx, const char *outcome)
{
	struct fuzz *f = ctx;

	(void)outcome;
	if (++f->commits > 1 || f->rollbacks)
		abort();
}

static void f_grace(void *ctx)
{
	struct fuzz *f = ctx;

	if (f->commits != 1)
		abort();	/* grace only after the outcome */
	f->ended = true;
}

static void f_rollback(void *ctx, const char *why, bool resumed_local)
{
	struct fuzz *f = ctx;

	(void)why;
	if (f->switchovers || f->commits || ++f->rollbacks > 1)
		abort();
	if (resumed_local && f->role != CHOREO_SRC)
		abort();
	f->ended = true;
}

static void f_stopping(void *ctx)
{
	after_end(ctx);
}

static const struct choreo_ops ops = {
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz f = { .d = data, .n = size };
	struct choreo c;

	f.role = take(&f) & 1 ? CHOREO_DST : CHOREO_SRC;
	choreo_run(&c, f.role, &ops, &f);
	if (c.state != CS_END || f.commits + f.rollbacks != 1)
		abort();
	return 0;
}
