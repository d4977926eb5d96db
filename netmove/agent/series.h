/* series: a count over time in bounded memory, for the journal's picture
 * of a relocation (frames held, shipped, replayed).  At most SERIES_POINTS
 * points: when full, every other one goes and the spacing kept doubles, so
 * a relocation of any length keeps its whole shape (netmoved internals). */
#ifndef NETMOVE_AGENT_SERIES_H
#define NETMOVE_AGENT_SERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "netmove/out.h"

#define SERIES_POINTS 48
#define SERIES_STEP_US 1000	/* the closest two points are at first */

struct series_point {
	uint64_t t_us;		/* CLOCK_REALTIME µs */
	uint64_t v;		/* the count then */
};

/* Zeroed: empty. */
struct series {
	uint32_t n;				/* points kept */
	uint32_t step_us;			/* least spacing kept now, 0: SERIES_STEP_US */
	struct series_point p[SERIES_POINTS];	/* oldest first */
};

/* The count is v at t_us: kept if it is the first point, or it changed and
 * the last point is step_us old; else it replaces the last point where that
 * one only followed its own change (the newest value is never lost). */
void series_add(struct series *s, uint64_t t_us, uint64_t v);

/* The series as an array under key: [[t_us, v], ...]; nothing if empty. */
void series_render(const struct series *s, const char *key, struct out *o);

#endif
