/* precopy: live migration of a vm over a stream connection, independent of
 * the CPU back-end.  Pre-copy (rounds of dirty pages, then a short pause) or
 * stop-and-copy (pause, then everything). */
#ifndef NM_PRECOPY_H
#define NM_PRECOPY_H

#include <stdbool.h>
#include <stdint.h>

#include "netmove/ctl.h"
#include "vm.h"

#define PRECOPY_MAX_ROUNDS 64
#define PRECOPY_ERRLEN 256

struct precopy_stats;

/* Migration parameters (both ends; each uses its own fields). */
struct precopy_config {
	bool stop_copy;		/* baseline: pause first, send everything */
	uint32_t downtime_ms;	/* target: switch over when the rest fits */
	uint32_t max_rounds;	/* give up converging after this many rounds */
	uint32_t max_time_ms;	/* ... or after this long */
	uint32_t stall_rounds;	/* ... or when this many rounds did not shrink */
	uint32_t ls_pages_per_iter;	/* lockstep: pages sent per guest iteration */
	uint32_t ls_pages_per_ms;	/* lockstep: nominal bandwidth for predictions */
	int timeout_ms;		/* per-message receive timeout */
	uint32_t hold_ms;	/* keep the guest paused this much longer before the
				 * final copy (to model a slow switchover in tests) */
	uint64_t max_ram;	/* destination: largest guest it accepts (bytes) */
	/* Progress after each round (may be NULL). */
	void (*progress)(const struct precopy_stats *st, void *arg);
	/* netmove hooks: "blackout" at the source pause, "resumed" at the
	 * destination resume, "failed" when the source takes the guest back. */
	void (*event)(const char *kind, void *arg);
	void *arg;		/* for progress and event */
};

/* What happened (both ends). */
struct precopy_stats {
	uint32_t rounds;	/* pre-copy rounds, not counting the final one */
	uint64_t pages[PRECOPY_MAX_ROUNDS];	/* pages sent per pre-copy round */
	uint64_t final_pages;	/* pages sent while paused */
	uint64_t zero_pages;	/* pages sent as zero markers */
	uint64_t bytes;		/* bytes sent (source) or received (destination) */
	uint64_t dirty;		/* dirty pages at the last decision */
	double mbps;		/* measured throughput, MB/s */
	double predicted_ms;	/* predicted stop-copy time at the last decision */
	bool converged;		/* switched over within the downtime target */
	char why[PRECOPY_ERRLEN];	/* why pre-copy stopped, or the error */
	uint64_t total_ns;	/* start to end */
	uint64_t downtime_ns;	/* source pause to destination-resumed ack */
	uint64_t load_ns;	/* destination: END to resume */
};

/* Defaults: 30 ms target, 30 rounds, 30 s, 5 stalled rounds, 10 s timeout. */
void precopy_config_default(struct precopy_config *cfg);

/* Source.  vm runs (live: vm_start done; lockstep: runs between rounds).
 * Returns 0 with the guest paused here and running at the destination, or a
 * negative errno with the guest running here (st->why says why). */
int precopy_send(struct vm *vm, struct ctl_conn *c, const struct precopy_config *cfg,
		 struct precopy_stats *st);

/* Destination.  Creates vm from tmpl (back-end, lockstep, serial) with the
 * source's RAM size once the source's resources were checked.  Returns 0
 * with the guest resumed (live) or ready for vm_run_iters (lockstep), or a
 * negative errno with no vm left (st->why says why). */
int precopy_recv(struct vm *vm, const struct vm_config *tmpl, struct ctl_conn *c,
		 const struct precopy_config *cfg, struct precopy_stats *st);

#endif
