/* lease: buffers that fail open when the agent dies (see lease.h). */
#include "agent.h"
#include "lease.h"
#include "netmove/buffer.h"
#include "netmove/timeutil.h"

uint64_t lease_deadline(void)
{
	return timeutil_mono_ns() + (uint64_t)LEASE_MS * NSEC_PER_MSEC;
}

static void *renew_main(void *arg)
{
	struct agent *a = arg;
	struct reloc *r;

	pthread_mutex_lock(&a->lock);
	do {
		uint64_t deadline = lease_deadline();

		for (r = a->relocs; r; r = r->next)
			if (r->lease_buf)
				buffer_lease(r->lease_buf, deadline);
	} while (!worker_wait(&a->lease, LEASE_RENEW_MS));
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int lease_start(struct agent *a)
{
	return worker_start(&a->lease, &a->lock, renew_main, a);
}

void lease_stop(struct agent *a)
{
	worker_stop(&a->lease);
}
