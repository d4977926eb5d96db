/* requester: who asked for a relocation, for its journal record and status
 * (netmoved internals).  A local client of the agent's socket is known by
 * its credentials (SO_PEERCRED), an agent by the identity it authenticated
 * with; what an asking agent says of who asked it is kept beside that, as
 * its word, not as a fact this host checked. */
#ifndef NETMOVE_AGENT_REQUESTER_H
#define NETMOVE_AGENT_REQUESTER_H

#include <stdbool.h>

#include "netmove/ctl.h"
#include "netmove/out.h"

#define REQUESTER_TEXT 192		/* requester_text's longest line, with its NUL */

/* Who asked. */
struct requester {
	bool peer;			/* an agent (its PREPARE or PULL), not a local client */
	char identity[160];		/* peer: the identity it authenticated as */
	unsigned uid;			/* local: the client's uid */
	int pid;			/* local: its pid */
	char user[32];			/* local: uid's user name, "" if it has none */
	char program[16];		/* local: its command name (/proc/PID/comm), "" if gone */
	char origin[REQUESTER_TEXT];	/* peer: who it says asked it (requester_text on
					 * that host), "" if it said nothing */
	uint64_t schedule_id;		/* it asked for it ahead: the schedule's entry
					 * (sched.h), 0 if it asked for now */
	uint64_t scheduled_us;		/* the CLOCK_REALTIME µs it asked for */
};

/* A local client, by its credentials: user and program looked up now. */
void requester_local(struct requester *q, unsigned uid, int pid);

/* An agent on the authenticated connection c; origin (may be NULL or "")
 * is what it says of who asked it. */
void requester_peer(struct requester *q, const struct ctl_conn *c, const char *origin);

/* One line for another host (the origin it keeps): "user root (uid 0), pid
 * 1234 nm-libvirt-hook, on hosta", or for a peer "peer cert:hostb on hosta"
 * followed by its own origin; then ", scheduled (N)" for one asked ahead.
 * host: this host's name. */
void requester_text(const struct requester *q, const char *host, char *buf, size_t size);

/* The journal's object of who asked, under key ("requested_by"). */
void requester_render(const struct requester *q, const char *key, struct out *o);

#endif
