/* relq: relocations waiting for their turn (see relq.h).  A few hundred
 * items at most: a linear scan is all it needs. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "relq.h"

/* Whether a starts before b. */
static bool before(const struct relq_item *a, const struct relq_item *b)
{
	return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static ssize_t find(const struct relq *q, const void *owner)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		if (q->v[i].owner == owner)
			return (ssize_t)i;
	return -1;
}

int relq_push(struct relq *q, void *owner, const char *key, unsigned priority)
{
	struct relq_item *it;

	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;
		struct relq_item *v = realloc(q->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		q->v = v;
		q->cap = cap;
	}
	it = &q->v[q->n++];
	memset(it, 0, sizeof(*it));
	it->owner = owner;
	strncpy(it->key, key, sizeof(it->key) - 1);
	it->priority = priority > RELQ_PRIORITY_MAX ? RELQ_PRIORITY_MAX : priority;
	it->seq = q->next_seq++;
	return 0;
}

void *relq_pop(struct relq *q, const char *key)
{
	ssize_t best = -1;
	void *owner;
	size_t i;

	for (i = 0; i < q->n; i++)
		if (!strcmp(q->v[i].key, key) && (best < 0 || before(&q->v[i], &q->v[best])))
			best = (ssize_t)i;
	if (best < 0)
		return NULL;
	owner = q->v[best].owner;
	q->v[best] = q->v[--q->n];
	return owner;
}

int relq_remove(struct relq *q, const void *owner)
{
	ssize_t i = find(q, owner);

	if (i < 0)
		return -ENOENT;
	q->v[i] = q->v[--q->n];
	return 0;
}

size_t relq_position(const struct relq *q, const void *owner)
{
	ssize_t me = find(q, owner);
	size_t i, pos = 1;

	if (me < 0)
		return 0;
	for (i = 0; i < q->n; i++)
		if ((ssize_t)i != me && !strcmp(q->v[i].key, q->v[me].key) &&
		    before(&q->v[i], &q->v[me]))
			pos++;
	return pos;
}

size_t relq_count(const struct relq *q, const char *key)
{
	size_t i, n = 0;

	for (i = 0; i < q->n; i++)
		n += !key || !strcmp(q->v[i].key, key);
	return n;
}

void relq_free(struct relq *q)
{
	free(q->v);
	memset(q, 0, sizeof(*q));
}
