/* lease: buffers that fail open when the agent dies (see lease.h). */
#include <errno.h>
#include <time.h>

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
	struct timespec until;
	struct reloc *r;

	pthread_mutex_lock(&a->lock);
	while (!a->lease_stop) {
		uint64_t deadline = lease_deadline();

		for (r = a->relocs; r; r = r->next)
			if (r->lease_buf)
				buffer_lease(r->lease_buf, deadline);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LEASE_RENEW_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&a->lease_wake, &a->lock, &until);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int lease_start(struct agent *a)
{
	int ret;

	pthread_cond_init(&a->lease_wake, NULL);
	a->lease_stop = false;
	ret = -pthread_create(&a->lease_thread, NULL, renew_main, a);
	a->lease_running = ret == 0;
	return ret;
}

void lease_stop(struct agent *a)
{
	if (!a->lease_running)
		return;
	pthread_mutex_lock(&a->lock);
	a->lease_stop = true;
	pthread_cond_signal(&a->lease_wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->lease_thread, NULL);
	a->lease_running = false;
}
