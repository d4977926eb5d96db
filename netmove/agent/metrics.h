/* metrics: the agent's counters and their Prometheus text (netmoved
 * internals; served by metrics_http.h, listed in netmoved(8), METRICS).
 *
 * The counters live in struct agent under its lock and grow for as long as
 * the agent runs: a relocation adds to them once, as its outcome becomes
 * known (the same instant and the same counts as its journal record).  The
 * formatter works on a copy, so the lock is held only to take it.  Nothing
 * here needs the rest of the agent: tests/unit/test_metrics.c builds it
 * alone. */
#ifndef NETMOVE_AGENT_METRICS_H
#define NETMOVE_AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Roles, as the journal's "role" names them. */
enum metrics_role { METRICS_SRC, METRICS_DST, METRICS_ROLES };

/* Outcomes, as the journal's "outcome" spells them (reloc.c, choreo.c,
 * recover.c); METRICS_OTHER counts one this table does not know. */
enum metrics_outcome {
	METRICS_COMMITTED,		/* "committed" */
	METRICS_COMMITTED_ERRORS,	/* "committed with errors" */
	METRICS_COMMITTED_LOSS,		/* "committed with loss" */
	METRICS_ROLLED_BACK,		/* "rolled back" */
	METRICS_FAILED,			/* "failed" */
	METRICS_INTERRUPTED,		/* "interrupted": journaled at start by recovery */
	METRICS_CANCELLED,		/* "cancelled": queued, never started */
	METRICS_OTHER,			/* "other" */
	METRICS_OUTCOMES,
};

/* Phases, in agent.h's enum phase order (metrics_http.c checks that). */
#define METRICS_PHASES 7

/* Upper bounds (µs, inclusive) of the phase duration histogram's buckets;
 * +Inf follows.  From a prepare's milliseconds to --blackout-timeout's
 * default 30 s. */
#define METRICS_BUCKETS 15
extern const uint64_t metrics_bucket_us[METRICS_BUCKETS];

/* One histogram. */
struct metrics_hist {
	uint64_t bucket[METRICS_BUCKETS];	/* observations in each bucket alone (not
						 * cumulative); beyond the last: only count */
	uint64_t count;				/* observations */
	uint64_t sum_us;			/* their sum */
};

/* Everything counted since the agent started. */
struct metrics {
	uint64_t relocations[METRICS_ROLES][METRICS_OUTCOMES]; /* ended, by outcome */
	uint64_t frames_buffered;	/* the journal's frames.buffered, summed */
	uint64_t frames_replayed;	/* its frames.replayed, summed */
	uint64_t frames_lost;		/* its frames.lost, summed */
	struct metrics_hist phase[METRICS_ROLES][METRICS_PHASES]; /* phase durations */
};

/* A relocation that ended, as its journal record tells it. */
struct metrics_reloc {
	bool is_src;			/* source (true) or destination */
	const char *outcome;		/* its outcome */
	const uint64_t *t_us;		/* METRICS_PHASES begin times (µs, 0: not begun) */
	uint64_t end_us;		/* when the outcome was known (same clock) */
	uint64_t buffered;		/* frames buffered on this host */
	uint64_t replayed;		/* replayed into the VM on this host */
	uint64_t lost;			/* lost on this host */
};

/* What one scrape shows: the counters and the state of the moment. */
struct metrics_snap {
	struct metrics m;		/* a copy of the counters */
	uint64_t in_flight[METRICS_ROLES]; /* relocations under way (outcome not known yet) */
	uint64_t queued;		/* source relocations waiting for their turn */
	uint64_t scheduled;		/* relocations scheduled for later (sched.h) */
	const char *host;		/* this agent's --name */
	const char *phase_name[METRICS_PHASES]; /* label of each phase */
	uint64_t start_us;		/* when the agent started (CLOCK_REALTIME µs) */
};

/* The index of an outcome string (METRICS_OTHER if unknown), its string. */
enum metrics_outcome metrics_outcome(const char *outcome);
const char *metrics_outcome_name(enum metrics_outcome o);

/* Count one relocation of role that ended with outcome (no phases, no
 * frames: recovery's "interrupted" records). */
void metrics_count(struct metrics *m, enum metrics_role role, const char *outcome);

/* Add a relocation that ended: its outcome, its frames, and the duration of
 * each phase it began: from its begin to the begin of the next one begun
 * (in phase order), the last one to end_us.  A phase whose end comes before
 * its begin (a blackout noted late) is not observed. */
void metrics_reloc_end(struct metrics *m, const struct metrics_reloc *r);

/* Add one observation of us microseconds to h. */
void metrics_observe(struct metrics_hist *h, uint64_t us);

/* s in the Prometheus text exposition format 0.0.4, into a malloc'd *buf
 * of *len bytes (NUL-terminated).  Returns 0 or -ENOMEM. */
int metrics_format(const struct metrics_snap *s, char **buf, size_t *len);

#endif
