/* spares: buffer programs loaded ahead (see spares.h). */
#include <errno.h>
#include <string.h>

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
	int ret, said = 0, i;

	pthread_mutex_lock(&sp->lock);
	for (;;) {
		if (count(sp) == SPARES_MAX) {
			if (worker_wait(&sp->w, -1))
				break;
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
		} else if (worker_wait(&sp->w, SPARES_RETRY_MS)) {
			break;
		}
	}
	pthread_mutex_unlock(&sp->lock);
	return NULL;
}

int spares_start(struct spares *sp, uint32_t ring, void (*log)(void *, const char *, ...),
		 void *log_arg)
{
	memset(sp, 0, sizeof(*sp));
	pthread_mutex_init(&sp->lock, NULL);
	sp->ring = ring;
	sp->log = log;
	sp->log_arg = log_arg;
	return worker_start(&sp->w, &sp->lock, loader, sp);
}

struct buffer_spare *spares_take(struct spares *sp)
{
	struct buffer_spare *s = NULL;
	int i;

	if (!sp->w.running)
		return NULL;
	pthread_mutex_lock(&sp->lock);
	for (i = 0; i < SPARES_MAX && !s; i++) {
		s = sp->s[i];
		sp->s[i] = NULL;
	}
	pthread_mutex_unlock(&sp->lock);
	worker_nudge(&sp->w);	/* load the next one */
	return s;
}

int spares_ready(struct spares *sp)
{
	int n;

	if (!sp->w.running)
		return 0;
	pthread_mutex_lock(&sp->lock);
	n = count(sp);
	pthread_mutex_unlock(&sp->lock);
	return n;
}

void spares_stop(struct spares *sp)
{
	int i;

	worker_stop(&sp->w);
	for (i = 0; i < SPARES_MAX; i++) {
		buffer_spare_free(sp->s[i]);
		sp->s[i] = NULL;
	}
}
