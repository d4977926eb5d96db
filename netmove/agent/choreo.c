/* choreo: the choreography's state machine (see choreo.h). */
#include <stddef.h>

#include "choreo.h"

typedef enum choreo_state (*choreo_fn)(struct choreo *c, const struct choreo_input *in);

static const char *const state_names[CS_MAX] = {
	"prepare", "ready", "paused", "handoff", "finish", "grace", "rollback", "end",
};

const char *choreo_state_name(enum choreo_state s)
{
	return s < CS_MAX ? state_names[s] : "?";
}

static enum choreo_state rollback(struct choreo *c, const char *why, bool resumed_local)
{
	c->ops->rollback(c->ctx, why, resumed_local);
	return CS_ROLLBACK;
}

/* What a peer said when it gave up (its text, or a default). */
static const char *peer_text(const struct choreo_input *in, const char *dflt)
{
	return in->text[0] ? in->text : dflt;
}

/* ---- both roles ---- */

static enum choreo_state grace(struct choreo *c, const struct choreo_input *in)
{
	(void)in;
	c->ops->grace(c->ctx);
	return CS_END;
}

static enum choreo_state rolled_back(struct choreo *c, const struct choreo_input *in)
{
	(void)c;
	(void)in;
	return CS_END;
}

/* ---- source ---- */

static enum choreo_state src_prepare(struct choreo *c, const struct choreo_input *in)
{
	int ret;

	(void)in;
	ret = c->ops->prepare(c->ctx);
	if (ret < 0)
		return rollback(c, "prepare failed", false);
	c->peer_gone = ret > 0;
	c->ops->prepared(c->ctx, NULL);
	return CS_READY;
}

/* The destination agent is gone, the VM paused and its frames held here:
 * where does it come up? */
static enum choreo_state src_lost_paused(struct choreo *c, const struct choreo_input *in)
{
	if (!c->ops->peer_lost(c->ctx))
		return rollback(c, "lost the destination agent", false);
	c->ops->switchover(c->ctx, in, 0);
	c->ops->forward(c->ctx);
	c->ops->commit(c->ctx, "failed");
	return CS_GRACE;
}

/* What READY and PAUSED share: the hypervisor gave up, the peer did, time
 * ran out.  Returns CS_MAX when the input is not one of these. */
static enum choreo_state src_abort(struct choreo *c, const struct choreo_input *in,
				   const char *timeout_why)
{
	switch (in->kind) {
	case CI_EVENT:
		if (in->event == CE_RESUMED || in->event == CE_FAILED) {
			c->ops->reply(c->ctx, in, true, "rolling back");
			return in->event == CE_RESUMED ?
				       rollback(c, "the VM resumed on the source", true) :
				       rollback(c, "the hypervisor reported a failure", false);
		}
		return CS_MAX;
	case CI_PEER:
		if (in->msg == CM_SWITCHED)
			return CS_MAX;
		return rollback(c, peer_text(in, "unexpected message"), false);
	case CI_PEER_LOST:
		return rollback(c, "lost the destination agent", false);
	case CI_TIMEOUT:
		return rollback(c, timeout_why, false);
	default:
		return CS_MAX;
	}
}

static enum choreo_state src_ready(struct choreo *c, const struct choreo_input *in)
{
	enum choreo_state next;
	int ret;

	/* Nothing is held yet, but the hypervisor may migrate the VM without
	 * the agents: hold its frames when it stops, and see where it goes. */
	if (in->kind == CI_PEER_LOST) {
		c->peer_gone = true;
		return CS_READY;
	}
	next = src_abort(c, in, "no blackout before the timeout");
	if (next != CS_MAX)
		return next;
	if (in->kind == CI_EVENT && in->event == CE_STOP) {
		c->ops->stopping(c->ctx);
		return rollback(c, "netmoved is stopping", false);
	}
	if (in->kind == CI_EVENT && in->event == CE_BLACKOUT) {
		ret = c->ops->blackout(c->ctx, in);
		c->ops->reply(c->ctx, in, ret == 0, ret == 0 ? "buffering" : NULL);
		if (ret == 0 && c->peer_gone)
			return src_lost_paused(c, in);
		return ret == 0 ? CS_PAUSED : CS_READY;
	}
	if (in->kind == CI_PEER && in->msg == CM_SWITCHED) {
		/* The VM resumed on the destination before the blackout came
		 * here (a late stop report): hand off what arrives from now. */
		c->ops->switchover(c->ctx, in, in->time_us);
		return CS_HANDOFF;
	}
	return CS_READY;
}

static enum choreo_state src_paused(struct choreo *c, const struct choreo_input *in)
{
	enum choreo_state next;

	/* The VM's frames are held here and may belong elsewhere by now. */
	if (in->kind == CI_PEER_LOST)
		return src_lost_paused(c, in);
	next = src_abort(c, in, "the VM did not resume before the timeout");
	if (next != CS_MAX)
		return next;
	if (in->kind == CI_EVENT && in->event == CE_STOP) {
		/* A paused VM's frames are held here: see it through. */
		c->ops->stopping(c->ctx);
		return CS_PAUSED;
	}
	if (in->kind == CI_EVENT && in->event == CE_BLACKOUT) {
		c->ops->reply(c->ctx, in, true, "buffering already");
		return CS_PAUSED;
	}
	if (in->kind == CI_PEER && in->msg == CM_SWITCHED) {
		c->ops->switchover(c->ctx, in, in->time_us);
		return CS_HANDOFF;
	}
	return CS_PAUSED;
}

static enum choreo_state src_handoff(struct choreo *c, const struct choreo_input *in)
{
	(void)in;
	if (c->ops->handoff(c->ctx) < 0) {
		/* The VM already runs on the destination: no way back. */
		c->ops->commit(c->ctx, "failed");
		return CS_GRACE;
	}
	return CS_FINISH;
}

static enum choreo_state src_finish(struct choreo *c, const struct choreo_input *in)
{
	int ret = c->ops->finish(c->ctx);

	(void)in;
	c->ops->commit(c->ctx, ret < 0 ? "failed" : ret > 0 ? "committed with errors" : "committed");
	return CS_GRACE;
}

/* ---- destination ---- */

static enum choreo_state dst_switch(struct choreo *c, const struct choreo_input *in,
				    uint64_t time_us)
{
	c->ops->switchover(c->ctx, in, time_us);
	if (!c->peer_gone)
		return CS_HANDOFF;
	/* No source to hand its frames over: its restarted agent sends them
	 * out of its uplink after the VM (recover.h); the VM's own go now. */
	c->ops->error(c->ctx, "handoff", "lost the source agent before the VM resumed");
	return CS_FINISH;
}

static enum choreo_state dst_prepare(struct choreo *c, const struct choreo_input *in)
{
	uint64_t resumed_us = 0;

	(void)in;
	if (c->ops->prepare(c->ctx) < 0)
		return rollback(c, "prepare failed", false);
	/* A fast migration outran PREPARE: the VM resumed here already. */
	if (c->ops->prepared(c->ctx, &resumed_us))
		return dst_switch(c, NULL, resumed_us);
	return CS_READY;
}

/* What the source tells in READY and HANDOFF alike: the VM stopped, frames,
 * their end.  Stays in state, or FINISH at the end. */
static enum choreo_state dst_source_says(struct choreo *c, const struct choreo_input *in,
					 enum choreo_state state)
{
	switch (in->msg) {
	case CM_BLACKOUT:
		c->blackout_seen = true;
		c->ops->blackout(c->ctx, in);
		return state;
	case CM_FRAMES:
		if (c->ops->frames(c->ctx, in) < 0)
			c->ops->error(c->ctx, "replaying the source's frames", NULL);
		return state;
	default:	/* CM_FRAMES_END */
		c->ops->frames(c->ctx, in);
		return CS_FINISH;
	}
}

static enum choreo_state dst_ready(struct choreo *c, const struct choreo_input *in)
{
	switch (in->kind) {
	case CI_EVENT:
		switch (in->event) {
		case CE_RESUMED:
			c->ops->reply(c->ctx, in, true, "switching over");
			return dst_switch(c, in, in->time_us);
		case CE_STOP:
			c->ops->stopping(c->ctx);
			/* Before the VM stopped, nothing is held: undo. */
			if (!c->blackout_seen)
				return rollback(c, "netmoved is stopping", false);
			return CS_READY;
		case CE_FAILED:
			c->ops->reply(c->ctx, in, false, "rolling back");
			return rollback(c, "the hypervisor reported a failure", false);
		default:
			c->ops->reply(c->ctx, in, false, "this host is the relocation's destination");
			return CS_READY;
		}
	case CI_RESUMED_SEEN:
		return dst_switch(c, in, in->time_us);
	case CI_PEER:
		switch (in->msg) {
		case CM_BLACKOUT:
			return dst_source_says(c, in, CS_READY);
		case CM_FRAMES:
		case CM_FRAMES_END:
			/* A source ships only after our SWITCHED: out of turn. */
			return rollback(c, "the source sent frames before the switchover", false);
		case CM_ROLLBACK:
		case CM_ERROR:
			return rollback(c, peer_text(in, "source aborted"), false);
		default:
			return CS_READY;
		}
	case CI_TIMEOUT:
		return rollback(c, c->peer_gone ? "lost the source agent, and the VM did not resume here" :
						  "timed out", false);
	case CI_PEER_LOST:
		/* The hypervisor's migration goes on without the agents: the VM
		 * may still come up here.  Its flows and buffer stay until it
		 * does, or the state's time runs out. */
		c->peer_gone = true;
		return CS_READY;
	}
	return CS_READY;
}

static enum choreo_state dst_handoff(struct choreo *c, const struct choreo_input *in)
{
	switch (in->kind) {
	case CI_EVENT:
		if (in->event == CE_STOP)
			c->ops->stopping(c->ctx);
		else
			/* The VM runs here: a late failure report changes nothing. */
			c->ops->reply(c->ctx, in, in->event == CE_RESUMED,
				      in->event == CE_RESUMED ? "switched over already" :
								"the VM runs on this host already");
		return CS_HANDOFF;
	case CI_RESUMED_SEEN:
		return CS_HANDOFF;
	case CI_PEER:
		switch (in->msg) {
		case CM_BLACKOUT:
		case CM_FRAMES:
		case CM_FRAMES_END:
			return dst_source_says(c, in, CS_HANDOFF);
		case CM_ROLLBACK:
		case CM_ERROR:
			c->ops->error(c->ctx, "source failed during handoff",
				      peer_text(in, "source aborted"));
			return CS_FINISH;
		default:
			return CS_HANDOFF;
		}
	case CI_TIMEOUT:
		/* The VM runs here and its own frames wait behind the source's: no
		 * longer once those stopped coming. */
		c->ops->error(c->ctx, "handoff", "the source's frames stopped coming");
		return CS_FINISH;
	case CI_PEER_LOST:
		/* The VM runs here: keep what came, and say that more may not have. */
		c->ops->error(c->ctx, "handoff", "lost the source agent before its last frames");
		return CS_FINISH;
	}
	return CS_HANDOFF;
}

static enum choreo_state dst_finish(struct choreo *c, const struct choreo_input *in)
{
	(void)in;
	c->ops->commit(c->ctx, c->ops->finish(c->ctx) < 0 ? "committed with errors" : "committed");
	return CS_GRACE;
}

/* ---- the tables and the driver ---- */

struct choreo_step {
	choreo_fn fn;		/* the state's handler */
	bool waits;		/* it takes an input */
};

static const struct choreo_step tables[2][CS_MAX] = {
	[CHOREO_SRC] = {
		[CS_PREPARE] = { src_prepare, false },
		[CS_READY] = { src_ready, true },
		[CS_PAUSED] = { src_paused, true },
		[CS_HANDOFF] = { src_handoff, false },
		[CS_FINISH] = { src_finish, false },
		[CS_GRACE] = { grace, false },
		[CS_ROLLBACK] = { rolled_back, false },
	},
	[CHOREO_DST] = {
		[CS_PREPARE] = { dst_prepare, false },
		[CS_READY] = { dst_ready, true },
		[CS_HANDOFF] = { dst_handoff, true },
		[CS_FINISH] = { dst_finish, false },
		[CS_GRACE] = { grace, false },
		[CS_ROLLBACK] = { rolled_back, false },
	},
};

void choreo_run(struct choreo *c, enum choreo_role role, const struct choreo_ops *ops, void *ctx)
{
	struct choreo_input in;

	c->role = role;
	c->ops = ops;
	c->ctx = ctx;
	c->state = CS_PREPARE;
	c->blackout_seen = false;
	c->peer_gone = false;
	c->ntrace = 0;
	while (c->state != CS_END) {
		const struct choreo_step *st = &tables[role][c->state];

		if (c->ntrace < (int)(sizeof(c->trace) / sizeof(c->trace[0])))
			c->trace[c->ntrace++] = c->state;
		if (!st->fn) {
			/* No such state in this role: a bug, end rather than spin. */
			c->state = CS_END;
			break;
		}
		if (st->waits)
			ops->next(ctx, c->state, &in);
		c->state = st->fn(c, st->waits ? &in : NULL);
	}
}
