/* spares: buffer programs loaded ahead (see spares.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "spares.h"

static int count(const struct spares *sp)
{
	int i, n = 0;

	for (i = 0; i < SPARES_MAX; i++)
		n += sp->s[i] != NULL;
	return n;
}

static void *loader(void *arg)
{
	struct spares *sp = arg;
	struct buffer_spare *s;
	struct timespec until;
	int ret, said = 0, i;

	pthread_mutex_lock(&sp->lock);
	while (!sp->stop) {
		if (count(sp) == SPARES_MAX) {
			pthread_cond_wait(&sp->wake, &sp->lock);
			continue;
		}
		pthread_mutex_unlock(&sp->lock);
		ret = buffer_spare_load(sp->ring, &s);
		if (ret < 0 && ret != said)
			sp->log(sp->log_arg, "loading a spare buffer program: %s", strerror(-ret));
		said = ret < 0 ? ret : 0;
		pthread_mutex_lock(&sp->lock);
		if (ret == 0) {
			for (i = 0; i < SPARES_MAX && sp->s[i]; i++)
				;
			sp->s[i] = s;
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += SPARES_RETRY_MS / 1000;
		if (!sp->stop)
			pthread_cond_timedwait(&sp->wake, &sp->lock, &until);
	}
	pthread_mutex_unlock(&sp->lock);
	return NULL;
}

int spares_start(struct spares *sp, uint32_t ring, void (*log)(void *, const char *, ...),
		 void *log_arg)
{
	int ret;

	memset(sp, 0, sizeof(*sp));
	pthread_mutex_init(&sp->lock, NULL);
	pthread_cond_init(&sp->wake, NULL);
	sp->ring = ring;
	sp->log = log;
	sp->log_arg = log_arg;
	ret = -pthread_create(&sp->thread, NULL, loader, sp);
	sp->running = ret == 0;
	return ret;
}

struct buffer_spare *spares_take(struct spares *sp)
{
	struct buffer_spare *s = NULL;
	int i;

	if (!sp->running)
		return NULL;
	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < SPARES_MAX && !s; i++) {
		s = sp->s[i];
		sp->s[i] = NULL;
	}
	pthread_cond_signal(&sp->wake);
	pthread_mutex_unlock(&sp->lock);
	return s;
}

void spares_stop(struct spares *sp)
{
	int i;

	if (!sp->running)
		return;
	pthread_mutex_lock(&sp->lock);
	sp->stop = true;
	pthread_cond_signal(&sp->wake);
	pthread_mutex_unlock(&sp->lock);
	pthread_join(sp->thread, NULL);
	for (i = 0; i < SPARES_MAX; i++)
		buffer_spare_free(sp->s[i]);
	sp->running = false;
}
