/* fault: faults a test injects into netmoved at an event of its own
 * (netmoved internals).
 *
 * The fault matrix kills or stalls an agent in a given phase of a
 * relocation.  A guessed delay would miss short phases, so the agent itself
 * acts as it enters the phase, from NETMOVED_FAULT="ROLE:PHASE:ACTION":
 *   ROLE    source | destination
 *   PHASE   prepare | blackout | switchover | handoff | verify | commit
 *   ACTION  kill         SIGKILL itself (a crash at that instant)
 *           hold=MS      log "fault: holding" and stop for MS ms (the test
 *                        cuts the link or stalls a peer meanwhile)
 * Unset, nothing happens.  For tests only: never set it in production. */
#ifndef NETMOVE_AGENT_FAULT_H
#define NETMOVE_AGENT_FAULT_H

#include <stdbool.h>

/* One injected fault, or none. */
struct fault {
	bool set;		/* NETMOVED_FAULT was given */
	bool is_src;		/* in the source role, else the destination's */
	int phase;		/* enum phase */
	bool kill;		/* SIGKILL, else hold */
	unsigned hold_ms;	/* how long to hold */
};

/* Parse spec (NULL or "": no fault).  Returns 0 or -EINVAL. */
int fault_parse(const char *spec, struct fault *f);

/* Act if f is for this role and phase (called as a phase begins). */
struct agent;
void fault_hit(const struct agent *a, const struct fault *f, bool is_src, int phase);

#endif
