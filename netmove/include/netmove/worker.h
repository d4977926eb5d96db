/* worker: a helper thread that loops until it is told to stop, sleeping
 * between rounds on a condition variable under its owner's lock (the one
 * way netmove's helper threads start, wait and stop). */
#ifndef NETMOVE_WORKER_H
#define NETMOVE_WORKER_H

#include <pthread.h>
#include <stdbool.h>

struct worker {
	pthread_mutex_t *lock;		/* the owner's lock: guards stop */
	pthread_cond_t wake;		/* a nudge or the stop */
	bool stop;			/* told to stop (under *lock) */
	bool running;			/* the thread was started */
	pthread_t thread;
};

/* Start fn(arg) in a thread; it runs its rounds with worker_wait between
 * them.  Returns 0 or a negative errno. */
int worker_start(struct worker *w, pthread_mutex_t *lock, void *(*fn)(void *), void *arg);

/* In the thread, with *lock held: sleep until a nudge, the stop, or ms
 * milliseconds (-1: no limit).  True when told to stop. */
bool worker_wait(struct worker *w, int ms);

/* Wake the thread for a round now (takes *lock). */
void worker_nudge(struct worker *w);

/* Tell the thread to stop and wait for it (takes *lock; a worker never
 * started is a no-op). */
void worker_stop(struct worker *w);

#endif
