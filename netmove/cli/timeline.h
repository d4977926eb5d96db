/* timeline: one relocation drawn as SVG from its journal records, the
 * source's and the destination's (each host journals its own side): a lane
 * per host with its phases, a lane for the VM with its pause, and the
 * instants of the resume, the first announcement, the upstream FDB read
 * back and the first replayed frame; below them the frames each host held,
 * shipped and replayed over time (the records' over_time series) and
 * their totals.  Used by `netmove journal --svg`. */
#ifndef NETMOVE_CLI_TIMELINE_H
#define NETMOVE_CLI_TIMELINE_H

#include <stdint.h>
#include <stdio.h>

#define TIMELINE_PHASES 7	/* prepare .. rollback, the journal's phases_us keys */
#define TIMELINE_POINTS 64	/* points read of one series (netmoved keeps 48) */

/* A count over time: the journal's over_time.KEY, [[t_us, count], ...]. */
enum { TL_BUFFERED, TL_SHIPPED, TL_REPLAYED, TL_SERIES };
struct timeline_series {
	int n;				/* points */
	uint64_t t_us[TIMELINE_POINTS];	/* CLOCK_REALTIME µs, rising */
	uint64_t v[TIMELINE_POINTS];	/* the count then */
};

/* One host's end record of the relocation. */
struct timeline_side {
	int present;			/* 1 once a record was taken */
	char host[64];			/* its host */
	char outcome[48];		/* its outcome */
	uint64_t phase_us[TIMELINE_PHASES]; /* begin of each phase, 0: not begun */
	uint64_t end_us;		/* when the record was written (the outcome known) */
	uint64_t resumed_us;		/* the VM's resume, 0: not known */
	double pause_ms;		/* the VM's pause, 0: not known */
	int64_t announce_us;		/* resume -> first announcement, -1: none */
	int64_t fdb_us;			/* resume -> upstream FDB read back, -1: none */
	int64_t replay_us;		/* resume -> first replayed frame, -1: none */
	uint64_t buffered, shipped, received, replayed, lost; /* frames */
	struct timeline_series series[TL_SERIES]; /* over_time: buffered, shipped, replayed */
};

/* A relocation being drawn. */
struct timeline {
	uint64_t id;			/* the relocation's id */
	char mac[24];			/* its VM's MAC */
	struct timeline_side side[2];	/* [0] source, [1] destination */
};

/* Take line (a journal line) if it is an end record (not "in progress") of
 * relocation t->id: 1 if taken, 0 if not its record, -EBADMSG if not a JSON
 * object. */
int timeline_add(struct timeline *t, const char *line);

/* Write the SVG to f.  Returns 0, -ENOENT (no record taken) or -EIO. */
int timeline_svg(const struct timeline *t, FILE *f);

#endif
