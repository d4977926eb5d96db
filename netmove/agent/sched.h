/* sched: relocations scheduled for a time (`netmove relocate --at`), kept
 * in time order and in a file that outlives the agent (netmoved
 * internals).  This module is the store alone: scheduler.h starts them. */
#ifndef NETMOVE_AGENT_SCHED_H
#define NETMOVE_AGENT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include "netmove/ctl.h"
#include "netmove/mac.h"
#include "netmove/out.h"
#include "requester.h"

#define SCHED_MAX 1024			/* entries at once */
#define SCHED_WINDOW_DEFAULT_US (15ULL * 60 * 1000000)	/* --window default: 15 min */
#define SCHED_HOST_LEN 32		/* a host name, as agent.h's AGENT_NAME_LEN */

/* One scheduled relocation: the request it makes when its time comes. */
struct sched_entry {
	uint64_t id;			/* unique in its store, never reused */
	bool pull;			/* a pull (this host the destination), not a relocate */
	struct mac mac;			/* the VM */
	struct in_addr ip;		/* its IPv4 address */
	char host[SCHED_HOST_LEN];	/* relocate: the destination; pull: the source, ""
					 * for any peer */
	char port[IF_NAMESIZE];		/* the VM's port on this host */
	char dst_port[IF_NAMESIZE];	/* relocate: its port on the destination, "" same */
	unsigned priority;		/* its place in the queue once begun (relq.h) */
	uint64_t at_us;			/* CLOCK_REALTIME µs it begins */
	uint64_t until_us;		/* not begun by then (the agent was down): missed */
	uint64_t created_us;		/* when it was asked */
	struct requester by;		/* who asked */
};

/* The schedule: entries by at_us, then id. */
struct sched {
	struct sched_entry *v;		/* sorted */
	size_t n;			/* how many */
	uint64_t next_id;		/* the last id given */
};

/* Free what s holds (s is then empty). */
void sched_free(struct sched *s);

/* Add e, giving it the next id (into e->id too).  Returns 0, -ENOSPC
 * (SCHED_MAX entries already) or -ENOMEM. */
int sched_add(struct sched *s, struct sched_entry *e);

/* Take entry id off into *out (may be NULL).  Returns 0 or -ENOENT. */
int sched_cancel(struct sched *s, uint64_t id, struct sched_entry *out);

/* Take the first entry due at now_us (at_us <= now_us) into *out: true if
 * there was one. */
bool sched_take_due(struct sched *s, uint64_t now_us, struct sched_entry *out);

/* Milliseconds from now_us until the first entry is due (0: one is), or -1
 * with none. */
int64_t sched_next_ms(const struct sched *s, uint64_t now_us);

/* The request e makes (PROTO_REQ_RELOCATE or PROTO_REQ_PULL, without A_AT)
 * into m (initialized, reset here).  Returns 0 or -ENOMEM. */
int sched_request(const struct sched_entry *e, struct ctl_msg *m);

/* e's fields for `netmove schedule` and the journal (schedule_id, kind, mac,
 * ip, to or from, port, at_us, until_us, requested_by, ...). */
void sched_render(const struct sched_entry *e, struct out *o);

/* Write s to path atomically (a temporary file beside it, synced, renamed
 * over it): one JSON line per entry, then a line with the last id given.
 * Returns 0 or a negative errno. */
int sched_save(const struct sched *s, const char *path);

/* Read path (sched_save's form) into s, which must be empty.  A missing file
 * is an empty schedule.  Returns 0, or -EBADMSG with *line the first line
 * that is not an entry (s then holds the entries before it), or another
 * negative errno. */
int sched_load(struct sched *s, const char *path, unsigned *line);

#endif
