/* spill: a ring drained into memory during a long blackout (see spill.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/proto.h"
#include "spill.h"
#include "taprec.h"

void spill_init(struct spill *s, size_t limit)
{
	memset(s, 0, sizeof(*s));
	s->limit = limit;
}

/* The chunk the next len bytes go into. */
static struct ctl_msg *chunk_for(struct spill *s, size_t len)
{
	struct ctl_msg *c;

	if (s->n && s->chunks[s->n - 1].len + len <= SPILL_CHUNK)
		return &s->chunks[s->n - 1];
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;

		c = realloc(s->chunks, cap * sizeof(*c));
		if (!c)
			return NULL;
		s->chunks = c;
		s->cap = cap;
	}
	c = &s->chunks[s->n++];
	ctl_msg_init(c, PROTO_FRAMES);
	return c;
}

static int take_one(const struct buffer_record *rec, void *arg)
{
	struct spill *s = arg;
	size_t len = buffer_record_wire_len(rec) + CTL_ATTR_HDR_LEN;
	struct ctl_msg *c;
	uint8_t *p;
	int ret;

	if (s->bytes + len > s->limit) {
		s->full = true;
		return -ENOSPC;
	}
	c = chunk_for(s, len);
	p = c ? ctl_put_reserve(c, A_RECORD, len - CTL_ATTR_HDR_LEN) : NULL;
	if (!p)
		return -ENOMEM;
	ret = buffer_record_encode(rec, p, len - CTL_ATTR_HDR_LEN);
	if (ret < 0)
		return ret;
	s->bytes += len;
	s->frames++;
	return 0;
}

int spill_take(struct spill *s, struct buffer *b)
{
	uint64_t before = s->frames;
	int ret = buffer_export(b, take_one, s);

	if (ret < 0 && ret != -ENOSPC)
		return ret;
	return (int)(s->frames - before);
}

int spill_each(const struct spill *s, buffer_record_fn fn, void *arg)
{
	size_t i;
	int ret;

	for (i = 0; i < s->n; i++) {
		ret = records_each(&s->chunks[i], fn, arg);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void spill_free(struct spill *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		ctl_msg_free(&s->chunks[i]);
	free(s->chunks);
	spill_init(s, s->limit);
}
