/* qmp: QEMU Machine Protocol client (see qmp.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "netmove/timeutil.h"
#include "qmp.h"

/* Next whole line as a JSON object: 0 with *obj, or a negative errno. */
static int read_obj(struct qmp *q, uint64_t deadline, json_t **obj)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		struct pollfd p = { .fd = q->fd, .events = POLLIN };
		json_error_t je;
		ssize_t n;
		int ret;

		if (nl) {
			size_t l = (size_t)(nl - q->buf);

			*obj = json_loadb(q->buf, l, 0, &je);
			memmove(q->buf, nl + 1, q->len - l - 1);
			q->len -= l + 1;
			if (!*obj || !json_is_object(*obj)) {
				json_decref(*obj);
				*obj = NULL;
				if (l && strspn(q->buf, " \r") != l)
					return -EPROTO;
				continue;	/* blank line */
			}
			return 0;
		}
		if (q->len == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 4096;
			char *b;

			if (cap > QMP_LINE_MAX)
				return -EMSGSIZE;
			b = realloc(q->buf, cap);
			if (!b)
				return -ENOMEM;
			q->buf = b;
			q->cap = cap;
		}
		ret = poll(&p, 1, timeutil_poll_ms(deadline));
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return -ETIMEDOUT;
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		q->len += (size_t)n;
	}
}

static int send_obj(struct qmp *q, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t len, off = 0;
	int ret = 0;

	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n';	/* json_dumps leaves room for the NUL we replace */
	while (off < len) {
		ssize_t n = send(q->fd, s + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EPIPE ? -ECONNRESET : -errno;
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return ret;
}

int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, char *err, size_t errlen,
	     int timeout_ms)
{
	uint64_t deadline = timeutil_deadline_ms(timeout_ms), id = ++q->next_id;
	json_t *req, *obj;
	int r;

	if (ret)
		*ret = NULL;
	if (err && errlen)
		err[0] = 0;
	req = json_pack("{s:s, s:I}", "execute", cmd, "id", (json_int_t)id);
	if (!req) {
		json_decref(args);
		return -ENOMEM;
	}
	if (args)
		json_object_set_new(req, "arguments", args);
	r = send_obj(q, req);
	json_decref(req);
	while (r == 0) {
		json_t *jid;

		r = read_obj(q, deadline, &obj);
		if (r < 0)
			break;
		if (json_object_get(obj, "event")) {
			json_array_append_new(q->events, obj);
			continue;
		}
		jid = json_object_get(obj, "id");
		if (!json_is_integer(jid) || (uint64_t)json_integer_value(jid) != id) {
			json_decref(obj);
			continue;	/* an answer to a command we gave up on */
		}
		if (json_object_get(obj, "error")) {
			const char *desc = json_string_value(
				json_object_get(json_object_get(obj, "error"), "desc"));

			if (err && errlen)
				snprintf(err, errlen, "%s", desc ? desc : "error");
			r = -EPROTO;
		} else if (ret) {
			*ret = json_incref(json_object_get(obj, "return"));
		}
		json_decref(obj);
		break;
	}
	return r;
}

int qmp_connect(struct qmp *q, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = timeutil_deadline_ms(timeout_ms);
	json_t *greet = NULL, *v;
	int ret;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	q->events = json_array();
	if (!q->events)
		return -ENOMEM;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = read_obj(q, deadline, &greet);
	if (ret < 0)
		goto fail;
	v = json_object_get(json_object_get(json_object_get(greet, "QMP"), "version"), "qemu");
	if (!v) {
		ret = -EPROTO;
		goto fail;
	}
	snprintf(q->version, sizeof(q->version), "%lld.%lld.%lld",
		 (long long)json_integer_value(json_object_get(v, "major")),
		 (long long)json_integer_value(json_object_get(v, "minor")),
		 (long long)json_integer_value(json_object_get(v, "micro")));
	json_decref(greet);
	greet = NULL;
	ret = qmp_exec(q, "qmp_capabilities", NULL, NULL, NULL, 0, timeutil_poll_ms(deadline));
	if (ret < 0)
		goto fail;
	return 0;
fail:
	json_decref(greet);
	qmp_close(q);
	return ret;
}

int qmp_event(struct qmp *q, int timeout_ms, json_t **ev)
{
	json_t *obj;
	int ret;

	*ev = NULL;
	if (json_array_size(q->events)) {
		*ev = json_incref(json_array_get(q->events, 0));
		json_array_remove(q->events, 0);
		return 0;
	}
	for (;;) {
		ret = read_obj(q, timeutil_deadline_ms(timeout_ms), &obj);
		if (ret < 0)
			return ret;
		if (json_object_get(obj, "event")) {
			*ev = obj;
			return 0;
		}
		json_decref(obj);	/* a late answer */
	}
}

uint64_t qmp_event_time_us(const json_t *ev)
{
	const json_t *t = json_object_get(ev, "timestamp");
	json_int_t s = json_integer_value(json_object_get(t, "seconds"));
	json_int_t us = json_integer_value(json_object_get(t, "microseconds"));

	return s > 0 && us >= 0 ? (uint64_t)s * 1000000u + (uint64_t)us : 0;
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	free(q->buf);
	q->buf = NULL;
	q->len = q->cap = 0;
	json_decref(q->events);
	q->events = NULL;
}
