/* summary: nm-migrate's report of one migration end, human or JSON (one
 * object per line; nm-migrate(8) lists the fields). */
#ifndef NM_SUMMARY_H
#define NM_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "precopy.h"

/* Who reports, and how. */
struct summary {
	const char *role;	/* "source", "destination" */
	const char *cpu;	/* back-end name */
	const char *mode;	/* "pre-copy", "stop-copy" */
	uint64_t ram_mib;	/* guest RAM */
	bool json;		/* one JSON object instead of text */
	bool progress_line;	/* a progress line is open on stderr: end it first */
};

/* Print st (ret: the migration's result) on standard output. */
void summary_print(const struct summary *sm, const struct precopy_stats *st, int ret);

#endif
