/* lease: the buffers of this agent's relocations fail open if it dies
 * (netmoved internals).
 *
 * A buffer program left in BUFFER mode by a killed agent would hold the
 * VM's frames for nobody, and nothing would ever let them through.  So each
 * buffer a relocation attaches carries a lease (buffer_lease) that a thread
 * of the agent renews; once the agent stops renewing it, the program lets
 * every frame through within LEASE_MS. */
#ifndef NETMOVE_AGENT_LEASE_H
#define NETMOVE_AGENT_LEASE_H

#include <stdint.h>

#define LEASE_MS 1000			/* a dead agent's buffers pass frames after this */
#define LEASE_RENEW_MS 250		/* how often the leases are renewed */

struct agent;
struct buffer;

/* The deadline of a lease taken now (CLOCK_MONOTONIC ns). */
uint64_t lease_deadline(void);

/* Start the renewing thread; returns 0 or a negative errno. */
int lease_start(struct agent *a);

/* Stop it (the leases then run out: call after the relocations ended). */
void lease_stop(struct agent *a);

#endif
