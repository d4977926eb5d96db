/* worker: helper threads (see worker.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "netmove/worker.h"

int worker_start(struct worker *w, pthread_mutex_t *lock, void *(*fn)(void *), void *arg)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->lock = lock;
	pthread_cond_init(&w->wake, NULL);
	ret = -pthread_create(&w->thread, NULL, fn, arg);
	w->running = ret == 0;
	return ret;
}

bool worker_wait(struct worker *w, int ms)
{
	struct timespec until;

	if (w->stop)
		return true;
	if (ms < 0) {
		pthread_cond_wait(&w->wake, w->lock);
		return w->stop;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&w->wake, w->lock, &until);
	return w->stop;
}

void worker_nudge(struct worker *w)
{
	pthread_mutex_lock(w->lock);
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(w->lock);
}

void worker_stop(struct worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->wake);
	w->running = false;
}
