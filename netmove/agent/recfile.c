/* recfile: held frames as records in a file (see recfile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netmove/proto.h"
#include "recfile.h"

/* Hand the whole records of m from *off on; *off ends past the last whole
 * attribute. */
static int each_whole(const struct ctl_msg *m, size_t *off, buffer_record_fn fn, void *arg)
{
	struct buffer_record rec;
	const void *v;
	size_t len;
	uint16_t tag;
	int ret;

	while (ctl_next(m, off, &tag, &v, &len)) {
		if (tag != A_RECORD)
			continue;
		ret = buffer_record_decode(v, len, &rec);
		if (ret < 0)
			return ret;
		ret = fn(&rec, arg);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int records_each(const struct ctl_msg *m, buffer_record_fn fn, void *arg)
{
	size_t off = 0;

	return each_whole(m, &off, fn, arg);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int recfile_write(const char *path, const struct ctl_msg *m)
{
	char tmp[RECFILE_PATH + 8];
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	ret = write_all(fd, m->body, m->len);
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	return ret;
}

int recfile_append(int fd, const struct ctl_msg *m)
{
	return write_all(fd, m->body, m->len);
}

int recfile_each_fd(int fd, buffer_record_fn fn, void *arg)
{
	struct ctl_msg w = { .body = malloc(RECFILE_WINDOW) };
	off_t pos = 0;
	int ret = 0;

	if (!w.body)
		return -ENOMEM;
	while (ret == 0) {
		ssize_t n = pread(fd, w.body + w.len, RECFILE_WINDOW - w.len, pos);
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		pos += n;
		w.len += (size_t)n;
		ret = each_whole(&w, &off, fn, arg);
		memmove(w.body, w.body + off, w.len - off);
		w.len -= off;
		/* The end: a part of a record left is a file cut short; a full
		 * window without one whole record is not a record file. */
		if (ret == 0 && (n == 0 || w.len == RECFILE_WINDOW)) {
			ret = w.len ? -EBADMSG : 0;
			break;
		}
	}
	free(w.body);
	return ret;
}

int recfile_each(const char *path, buffer_record_fn fn, void *arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = recfile_each_fd(fd, fn, arg);
	close(fd);
	unlink(path);
	return ret;
}
