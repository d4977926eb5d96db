/* shipq: shipped frames kept until the destination confirms them (see
 * shipq.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shipq.h"
#include "recfile.h"

void shipq_init(struct shipq *q)
{
	memset(q, 0, sizeof(*q));
}

int shipq_push(struct shipq *q, struct ctl_msg *m, uint64_t records)
{
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct ctl_msg *msgs = realloc(q->msgs, cap * sizeof(*msgs));
		uint64_t *ends;

		if (!msgs)
			return -ENOMEM;
		q->msgs = msgs;
		ends = realloc(q->ends, cap * sizeof(*ends));
		if (!ends)
			return -ENOMEM;
		q->ends = ends;
		q->cap = cap;
	}
	q->shipped += records;
	q->msgs[q->n] = *m;
	q->ends[q->n++] = q->shipped;
	ctl_msg_init(m, m->type);
	return 0;
}

void shipq_confirm(struct shipq *q, uint64_t count)
{
	size_t i = 0;

	if (count > q->confirmed)
		q->confirmed = count > q->shipped ? q->shipped : count;
	while (i < q->n && q->ends[i] <= q->confirmed) {
		q->base = q->ends[i];
		ctl_msg_free(&q->msgs[i++]);
	}
	memmove(q->msgs, q->msgs + i, (q->n - i) * sizeof(*q->msgs));
	memmove(q->ends, q->ends + i, (q->n - i) * sizeof(*q->ends));
	q->n -= i;
}

uint64_t shipq_unconfirmed(const struct shipq *q)
{
	return q->shipped - q->confirmed;
}

struct skip {
	uint64_t left;		/* records of the first message already confirmed */
	buffer_record_fn fn;
	void *arg;
};

static int skip_one(const struct buffer_record *rec, void *arg)
{
	struct skip *s = arg;

	if (s->left) {
		s->left--;
		return 0;
	}
	return s->fn(rec, s->arg);
}

int shipq_each_unconfirmed(const struct shipq *q, buffer_record_fn fn, void *arg)
{
	size_t i;
	int ret;

	for (i = 0; i < q->n; i++) {
		uint64_t begin = i ? q->ends[i - 1] : q->base;
		/* The oldest message kept may be confirmed in part. */
		struct skip s = { q->confirmed > begin ? q->confirmed - begin : 0, fn, arg };

		ret = records_each(&q->msgs[i], skip_one, &s);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void shipq_free(struct shipq *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		ctl_msg_free(&q->msgs[i]);
	free(q->msgs);
	free(q->ends);
	shipq_init(q);
}
