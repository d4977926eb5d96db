/* spill: a ring drained into a record file during a long blackout (see
 * spill.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netmove/proto.h"
#include "spill.h"

void spill_init(struct spill *s, size_t limit, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->limit = limit;
	if (path && snprintf(s->path, sizeof(s->path), "%s", path) >= (int)sizeof(s->path))
		s->path[0] = 0;
	ctl_msg_init(&s->mem, PROTO_FRAMES);
}

/* Move the records in memory to the file (made now if need be).  Once it
 * failed, they stay in memory. */
static void flush(struct spill *s)
{
	if (!s->mem.len || s->file_err)
		return;
	if (!s->path[0]) {
		s->file_err = -ENOENT;
		return;
	}
	if (s->fd < 0) {
		s->fd = open(s->path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
		if (s->fd < 0) {
			s->file_err = -errno;
			return;
		}
	}
	s->file_err = recfile_append(s->fd, &s->mem);
	if (s->file_err == 0) {
		s->file_len += s->mem.len;
		ctl_msg_reset(&s->mem, PROTO_FRAMES);
	} else {
		/* Back to the whole records; if that fails too, a piece of a
		 * record stays where readers stop (spill_each goes on from
		 * memory). */
		(void)!ftruncate(s->fd, (off_t)s->file_len);
	}
}

static int take_one(const struct buffer_record *rec, void *arg)
{
	struct spill *s = arg;
	size_t len = buffer_record_wire_len(rec) + CTL_ATTR_HDR_LEN;
	uint8_t *p;
	int ret;

	if (s->bytes + len > s->limit) {
		s->full = true;
		return -ENOSPC;
	}
	p = ctl_put_reserve(&s->mem, A_RECORD, len - CTL_ATTR_HDR_LEN);
	if (!p)
		return -ENOMEM;
	ret = buffer_record_encode(rec, p, len - CTL_ATTR_HDR_LEN);
	if (ret < 0)
		return ret;
	s->bytes += len;
	s->frames++;
	if (s->mem.len >= SPILL_FLUSH)
		flush(s);
	return 0;
}

int spill_take(struct spill *s, struct buffer *b)
{
	uint64_t before = s->frames;
	int ret;

	if (s->in_mem_each)
		return 0;
	ret = buffer_export(b, take_one, s);
	flush(s);
	if (ret < 0 && ret != -ENOSPC)
		return ret;
	return (int)(s->frames - before);
}

int spill_each(struct spill *s, buffer_record_fn fn, void *arg)
{
	int ret = 0;

	flush(s);
	if (s->fd >= 0)
		ret = recfile_each_fd(s->fd, fn, arg);
	/* A file that could not be written to the end was cut short where the
	 * records in memory begin. */
	if (ret == -EBADMSG && s->file_err)
		ret = 0;
	if (ret == 0 && s->mem.len) {
		s->in_mem_each = true;
		ret = records_each(&s->mem, fn, arg);
		s->in_mem_each = false;
	}
	return ret;
}

void spill_free(struct spill *s)
{
	char path[RECFILE_PATH];

	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	ctl_msg_free(&s->mem);
	snprintf(path, sizeof(path), "%s", s->path);
	spill_init(s, s->limit, path);
}
