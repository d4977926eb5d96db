/* choreo: a relocation's choreography as an explicit state machine
 * (netmoved internals).
 *
 * One driver loop (choreo_run) and, per role, a table of handlers, one per
 * state.  A handler that waits gets the next input (a hypervisor event, a
 * peer's message, the resume detector, a timeout, the peer lost) and returns
 * the next state.  Everything that touches the world (the buffer, OVS, the
 * peer connection, the journal, the CLI's answers) is behind struct
 * choreo_ops, so tests drive every transition and every fault with fake
 * ops, without root (tests/unit/test_choreo.c).  reloc.c holds the real
 * ops.
 *
 *   source       PREPARE -> READY -blackout-> PAUSED -SWITCHED-> HANDOFF
 *                -> FINISH (the destination's DONE) -> GRACE -> END
 *   destination  PREPARE -> READY -resumed-> HANDOFF (the source's frames)
 *                -FRAMES_END-> FINISH (drain, verify, DONE) -> GRACE -> END
 *   before the VM runs on the destination, a failure leads to ROLLBACK ->
 *   END; after it, nothing is rolled back: the relocation ends committed,
 *   committed with errors, or failed.  A paused source that loses the
 *   destination agent waits to see where the VM comes up: here, it rolls
 *   back; elsewhere, it forwards what it held there and ends failed.  One
 *   that lost it before the VM stopped still holds the VM's frames when it
 *   does (the hypervisor's migration may go on without the agents), and
 *   does the same.  A destination that loses the source agent keeps the
 *   VM's flows and buffer until the VM resumes here (then it finishes on
 *   its own, without the source's frames: an error) or the state's time
 *   runs out (rollback). */
#ifndef NETMOVE_AGENT_CHOREO_H
#define NETMOVE_AGENT_CHOREO_H

#include <stdbool.h>
#include <stdint.h>

enum choreo_role { CHOREO_SRC, CHOREO_DST };

enum choreo_state {
	CS_PREPARE,	/* getting ready (no input) */
	CS_READY,	/* src: waiting for the blackout; dst: for the VM to resume */
	CS_PAUSED,	/* src: the VM is paused, its frames held here */
	CS_HANDOFF,	/* src: shipping the held frames (no input); dst: taking them */
	CS_FINISH,	/* src: waiting for DONE; dst: drain, verify, DONE (no input) */
	CS_GRACE,	/* the VM runs on the destination: leftovers after the grace
			 * period (no input) */
	CS_ROLLBACK,	/* undone (no input) */
	CS_END,
	CS_MAX,
};

/* What a waiting state is given. */
enum choreo_input_kind {
	CI_EVENT,	/* a hypervisor event from the local socket: event */
	CI_PEER,	/* a message from the peer agent: msg (and text) */
	CI_RESUMED_SEEN,/* the destination's resume detector saw the VM: time_us */
	CI_TIMEOUT,	/* nothing came in the state's time */
	CI_PEER_LOST,	/* the peer connection failed */
};

/* Hypervisor events (agent.h's EV_*). */
enum { CE_BLACKOUT = 1, CE_RESUMED, CE_FAILED, CE_STOP };

/* Peer messages the choreography tells apart (proto.h's values are mapped
 * by the ops; anything else is CM_OTHER). */
enum { CM_OTHER, CM_BLACKOUT, CM_SWITCHED, CM_FRAMES, CM_FRAMES_END, CM_ROLLBACK, CM_ERROR,
       CM_DONE };

/* One input. */
struct choreo_input {
	enum choreo_input_kind kind;
	int event;		/* CI_EVENT: CE_* */
	int msg;		/* CI_PEER: CM_* */
	uint64_t time_us;	/* CI_EVENT, CI_RESUMED_SEEN: when (CLOCK_REALTIME µs) */
	char text[200];		/* CI_PEER: the message's text, if any */
	const void *detail;	/* the ops' own data of the input (the event, the message) */
};

/* The world, as the choreography sees it.  ctx is the ops' own.  Calls
 * return 0 or a negative errno unless said otherwise. */
struct choreo_ops {
	/* Get ready (src: connect, PREPARE, attach; dst: flows, buffer).
	 * src: 1 if this side is ready but the destination agent was lost
	 * before it answered. */
	int (*prepare)(void *ctx);
	/* Prepared: src answers its CLI; dst: true (with *resumed_us) if the VM
	 * resumed here before PREPARE came. */
	bool (*prepared)(void *ctx, uint64_t *resumed_us);
	/* The next input of waiting state s (the ops keep the state's time:
	 * a destination's HANDOFF waits only as long as the source's frames
	 * keep coming). */
	void (*next)(void *ctx, enum choreo_state s, struct choreo_input *in);
	/* Answer a CI_EVENT's client. */
	void (*reply)(void *ctx, const struct choreo_input *in, bool ok, const char *text);
	/* The VM stopped (src: arm and read the tap out; dst: the source
	 * said so). */
	int (*blackout)(void *ctx, const struct choreo_input *in);
	/* The VM runs on the destination (src: per SWITCHED; dst: announce,
	 * tell the source, move the FDB), since time_us. */
	void (*switchover)(void *ctx, const struct choreo_input *in, uint64_t time_us);
	/* src: ship what was held to the destination. */
	int (*handoff)(void *ctx);
	/* src, the destination agent gone while the VM is paused: true once
	 * the VM showed up elsewhere (the fabric learned it on the uplink),
	 * false if it resumed here, the hypervisor gave up, or time ran out. */
	bool (*peer_lost)(void *ctx);
	/* src: the VM runs elsewhere, its agent is gone: send what was held
	 * out of the uplink after it, oldest first, and point this bridge
	 * there. */
	int (*forward)(void *ctx);
	/* dst: replay a FRAMES message; note the FRAMES_END count. */
	int (*frames)(void *ctx, const struct choreo_input *in);
	/* src: wait for DONE; dst: drain, verify, send DONE.  Negative: it
	 * failed; positive (src): done, with an error the VM did not pay for. */
	int (*finish)(void *ctx);
	/* Set the relocation's error, if none yet (a protocol error: what,
	 * and detail or NULL). */
	void (*error)(void *ctx, const char *what, const char *detail);
	/* The outcome is known: record and announce it. */
	void (*commit)(void *ctx, const char *outcome);
	/* Wait out the grace period and remove what is left. */
	void (*grace)(void *ctx);
	/* Undo this host's part (and tell the peer), resumed_local: the VM runs
	 * here again. */
	void (*rollback)(void *ctx, const char *why, bool resumed_local);
	/* netmoved is stopping: the ops cut waits short. */
	void (*stopping)(void *ctx);
};

/* A relocation's machine. */
struct choreo {
	enum choreo_role role;
	enum choreo_state state;	/* current */
	const struct choreo_ops *ops;
	void *ctx;
	bool blackout_seen;		/* dst: the source said the VM stopped */
	bool peer_gone;			/* src: the destination agent was lost before the
					 * VM stopped; dst: the source agent was lost */
	enum choreo_state trace[32];	/* the states passed through, for tests and logs */
	int ntrace;			/* how many (at most 32 kept) */
};

/* Name of a state ("prepare", ...). */
const char *choreo_state_name(enum choreo_state s);

/* Run a relocation from CS_PREPARE to CS_END. */
void choreo_run(struct choreo *c, enum choreo_role role, const struct choreo_ops *ops, void *ctx);

#endif
