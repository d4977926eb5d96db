#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netmove/journal.h"

int journal_begin(struct journal_entry *e)
{
	FILE *f;

	memset(e, 0, sizeof(*e));
	f = open_memstream(&e->buf, &e->len);
	if (!f)
		return -errno;
	e->stream = f;
	out_init(&e->o, f, true);
	return 0;
}

void journal_abort(struct journal_entry *e)
{
	if (e->stream)
		fclose(e->stream);
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

int journal_commit(struct journal_entry *e, const char *path)
{
	ssize_t n;
	int fd, ret = 0;

	out_finish(&e->o);
	fclose(e->stream);
	e->stream = NULL;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	/* One write of the whole line keeps concurrent writers' lines whole. */
	n = write(fd, e->buf, e->len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != e->len)
		ret = -EIO;
	close(fd);
out:
	journal_abort(e);
	return ret;
}

int journal_read(const char *path, int (*fn)(const char *line, void *arg), void *arg)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;
	int ret = 0;

	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		if (!line[0])
			continue;
		ret = fn(line, arg);
		if (ret)
			break;
	}
	free(line);
	fclose(f);
	return ret < 0 ? ret : 0;
}
