/* journal: the audit trail, one JSON object per line, appended atomically. */
#ifndef NETMOVE_JOURNAL_H
#define NETMOVE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netmove/out.h"

/* An entry being written: fill e.o with the out printer, then commit. */
struct journal_entry {
	struct out o;		/* JSON printer writing into buf */
	char *buf;		/* the line, owned */
	size_t len;		/* its length */
	void *stream;		/* FILE * of the memory stream */
};

/* Start an entry (a JSON object). */
int journal_begin(struct journal_entry *e);

/* Append the entry as one line to path (O_APPEND, one write) and free it. */
int journal_commit(struct journal_entry *e, const char *path);

/* Free an entry without writing it. */
void journal_abort(struct journal_entry *e);

/* Call fn for each line of path (without its newline); stops early when fn
 * returns non-zero.  A missing file has no lines. */
int journal_read(const char *path, int (*fn)(const char *line, void *arg), void *arg);

/* Top-level field key of line, one of our own journal lines (a compact JSON
 * object as journal_begin writes it; nested objects and text inside strings
 * are skipped, the first of repeated keys counts): a string's decoded text
 * or a number's characters, NUL-terminated into buf (size bytes; "" on
 * error if size > 0).  Returns the value's length, -ENOENT (no such field),
 * -EINVAL (its value is not a string or a number), -ENAMETOOLONG (size
 * bytes or more) or -EBADMSG (the line is not such an object, up to that
 * field). */
int journal_field(const char *line, const char *key, char *buf, size_t size);

/* Which lines a reader wants; an empty field (NULL, 0) does not filter. */
struct journal_filter {
	const char *mac;	/* "mac" is this address (any case, aa:bb:..) */
	const char *host;	/* "host", "from" or "to" is this host */
	const char *outcome;	/* "outcome" is this, exactly */
	uint64_t id;		/* "id" is this */
	uint64_t since_us;	/* "time_us" (CLOCK_REALTIME µs) at or after this */
	uint64_t until_us;	/* and at or before this */
};

/* Whether line (one of our own journal lines) passes f: every field f sets
 * must match.  A line without the field, or not such an object, does not
 * pass a filter on it. */
bool journal_match(const char *line, const struct journal_filter *f);

#endif
