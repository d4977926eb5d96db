/* relq: relocations waiting for their turn (netmoved internals).  Each
 * destination host takes at most --max-per-peer of this agent's
 * relocations at once; the others wait here and start in priority order
 * (higher first), in the order they came within a priority, so a
 * high-priority relocation waits behind no lower one, however many there
 * are.  Not locked: the agent holds its lock around every call. */
#ifndef NETMOVE_AGENT_RELQ_H
#define NETMOVE_AGENT_RELQ_H

#include <stddef.h>
#include <stdint.h>

#include "netmove/proto.h"

#define RELQ_PRIORITY_MAX PROTO_PRIORITY_MAX	/* priorities are 0..RELQ_PRIORITY_MAX */

/* One waiting relocation. */
struct relq_item {
	void *owner;			/* the caller's (its relocation record) */
	char key[64];			/* what it waits for (its destination host) */
	unsigned priority;		/* 0..RELQ_PRIORITY_MAX */
	uint64_t seq;			/* arrival order, set by relq_push */
};

/* The queue. */
struct relq {
	struct relq_item *v;		/* the items, in no order */
	size_t n, cap;			/* how many, room for */
	uint64_t next_seq;		/* the next arrival's seq */
};

/* Add owner waiting for key with priority (clamped to the maximum).
 * Returns 0 or -ENOMEM. */
int relq_push(struct relq *q, void *owner, const char *key, unsigned priority);

/* Take the next item waiting for key: its owner, or NULL if none waits. */
void *relq_pop(struct relq *q, const char *key);

/* Remove owner: 0, or -ENOENT if it does not wait. */
int relq_remove(struct relq *q, const void *owner);

/* owner's place among those waiting for the same key (1: next), or 0 if
 * it does not wait. */
size_t relq_position(const struct relq *q, const void *owner);

/* How many wait for key (NULL: in all). */
size_t relq_count(const struct relq *q, const char *key);

/* Free the queue's memory (the owners stay the caller's). */
void relq_free(struct relq *q);

#endif
