/* precopy: live migration of a vm over a stream connection, independent of
 * the CPU back-end.  Pre-copy (rounds of dirty pages, then a short pause) or
 * stop-and-copy (pause, then everything), with auto-convergence (the vCPU is
 * throttled while it dirties memory faster than the stream carries it).
 *
 * The switchover is a commit in three steps, so that at no instant can both
 * hosts run the guest: the source sends the last pages, the state and END;
 * the destination answers READY (everything applied, nothing started); the
 * source sends COMMIT and from then on never resumes the guest on its own;
 * the destination resumes only on COMMIT and answers RESUMED.  A failure
 * before COMMIT leaves the guest running on the source; a failure after it,
 * before RESUMED, leaves the source paused with the outcome unknown. */
#ifndef NM_PRECOPY_H
#define NM_PRECOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "netmove/ctl.h"
#include "vm.h"

#define PRECOPY_MAX_ROUNDS 64
#define PRECOPY_ERRLEN 256

struct precopy_stats;

/* Migration events, in the order a migration meets them.  nm-migrate(8)
 * names them for netmove's hooks and for fault drills (--fault). */
enum precopy_event {
	PC_EV_ROUND,	/* a round's first page message was sent (source) or
			 * applied (destination); the round number comes along */
	PC_EV_BLACKOUT,	/* source: the guest is about to pause */
	PC_EV_PAUSED,	/* source: the guest is paused, the final copy begins */
	PC_EV_END,	/* source: END sent; destination: END received, all applied */
	PC_EV_COMMIT,	/* source: COMMIT sent; destination: COMMIT received,
			 * the guest is about to resume here */
	PC_EV_RESUMED,	/* the guest runs here: destination, after COMMIT (RESUMED
			 * not yet sent); source, again after a failure */
	PC_EV_FAILED,	/* source: the migration failed (at any point before
			 * COMMIT), the guest runs here */
	PC_EV_UNKNOWN,	/* source: lost the destination after COMMIT: the guest
			 * stays paused here, the destination may run it */
	PC_EV_COUNT
};

/* Where the guest is when a migration ends. */
enum precopy_outcome {
	PC_OUT_STAYED,	/* on the source, running (destination: nothing started) */
	PC_OUT_MOVED,	/* on the destination, running */
	PC_OUT_UNKNOWN,	/* source paused, destination unknown: an operator decides */
};

/* Migration parameters (both ends; each uses its own fields). */
struct precopy_config {
	bool stop_copy;		/* baseline: pause first, send everything */
	uint32_t downtime_ms;	/* target: switch over when the rest fits */
	uint32_t max_rounds;	/* give up converging after this many rounds */
	uint32_t max_time_ms;	/* ... or after this long */
	uint32_t stall_rounds;	/* ... or when this many rounds did not shrink
				 * (with auto_converge: at the full throttle) */
	bool auto_converge;	/* throttle the vCPU while it dirties too fast */
	uint32_t throttle_initial;	/* first throttle step, percent */
	uint32_t throttle_step;	/* each further step, percent */
	uint32_t throttle_max;	/* the full throttle, percent (<= VM_THROTTLE_MAX) */
	uint32_t ls_pages_per_iter;	/* lockstep: pages sent per guest iteration */
	uint32_t ls_pages_per_ms;	/* lockstep: nominal bandwidth for predictions */
	int timeout_ms;		/* per-message receive timeout */
	uint32_t hold_ms;	/* keep the guest paused this much longer before the
				 * final copy (to model a slow switchover in tests) */
	uint64_t max_ram;	/* destination: largest guest it accepts (bytes) */
	/* Progress after each round (may be NULL). */
	void (*progress)(const struct precopy_stats *st, void *arg);
	/* Each event as it happens (may be NULL); round: the current round. */
	void (*event)(enum precopy_event ev, uint32_t round, void *arg);
	void *arg;		/* for progress and event */
};

/* What happened (both ends). */
struct precopy_stats {
	uint32_t rounds;	/* pre-copy rounds, not counting the final one */
	uint64_t pages[PRECOPY_MAX_ROUNDS];	/* pages sent per pre-copy round */
	uint8_t throttle[PRECOPY_MAX_ROUNDS];	/* vCPU throttle (percent) during each round */
	uint64_t final_pages;	/* pages sent while paused */
	uint64_t zero_pages;	/* pages sent as zero markers */
	uint64_t bytes;		/* bytes sent (source) or received (destination) */
	uint64_t page_bytes;	/* of which page contents (4 KiB per data page) */
	uint64_t copy_ns;	/* time spent in pre-copy rounds (source) */
	uint64_t dirty;		/* dirty pages at the last decision */
	double mbps;		/* measured throughput, MB/s */
	double predicted_ms;	/* predicted stop-copy time at the last decision */
	bool converged;		/* switched over within the downtime target */
	enum precopy_outcome outcome;	/* where the guest is now */
	char why[PRECOPY_ERRLEN];	/* why pre-copy stopped, or the error */
	uint64_t total_ns;	/* start to end */
	uint64_t downtime_ns;	/* source pause to destination-resumed ack */
	uint64_t load_ns;	/* destination: COMMIT to resume */
};

/* Defaults: 30 ms target, 30 rounds, 30 s, 5 stalled rounds, 10 s timeout,
 * auto-convergence on (20 % first, 10 % steps, 99 % at most). */
void precopy_config_default(struct precopy_config *cfg);

/* Tell cfg->event (if any) that ev happened in round (both ends use it). */
void precopy_emit(const struct precopy_config *cfg, enum precopy_event ev, uint32_t round);

/* "round", "blackout", ...: the names nm-migrate(8) documents. */
const char *precopy_event_name(enum precopy_event ev);
/* The event called name, or -1. */
int precopy_event_parse(const char *name);

/* Source.  vm runs (live: vm_start done; lockstep: runs between rounds).
 * Returns 0 with the guest paused here and running at the destination
 * (st->outcome PC_OUT_MOVED), or a negative errno with the guest running
 * here (PC_OUT_STAYED), or a negative errno with the guest paused here
 * (PC_OUT_UNKNOWN: the caller must not resume it unless it knows the
 * destination does not run it).  st->why says what happened. */
int precopy_send(struct vm *vm, struct ctl_conn *c, const struct precopy_config *cfg,
		 struct precopy_stats *st);

/* Destination.  Creates vm from tmpl (back-end, lockstep, serial; no
 * back-end: the source's, if it runs here) with the source's RAM size once
 * the source's resources were checked.  Returns 0
 * with the guest resumed (live) or ready for vm_run_iters (lockstep), or a
 * negative errno with no vm left (st->why says why). */
int precopy_recv(struct vm *vm, const struct vm_config *tmpl, struct ctl_conn *c,
		 const struct precopy_config *cfg, struct precopy_stats *st);

#endif
