#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "vs_json.h"

static void put(struct vs_json *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct vs_json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->len, j->cap - j->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->cap - j->len) {
		j->overflow = true;
		j->buf[j->len] = '\0';
		return;
	}
	j->len += (size_t)n;
}

static void put_string(struct vs_json *j, const char *s)
{
	put(j, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			put(j, "\\%c", c);
		else if (c < 0x20)
			put(j, "\\u%04x", c);
		else
			put(j, "%c", c);
	}
	put(j, "\"");
}

static void key(struct vs_json *j, const char *k)
{
	if (!j->first)
		put(j, ",");
	j->first = false;
	put_string(j, k);
	put(j, ":");
}

void vs_json_init(struct vs_json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->overflow = cap < 4;
	j->first = true;
	if (!j->overflow)
		put(j, "{");
}

void vs_json_str(struct vs_json *j, const char *k, const char *val)
{
	key(j, k);
	if (val)
		put_string(j, val);
	else
		put(j, "null");
}

void vs_json_u64(struct vs_json *j, const char *k, uint64_t val)
{
	key(j, k);
	put(j, "%" PRIu64, val);
}

void vs_json_i64(struct vs_json *j, const char *k, int64_t val)
{
	key(j, k);
	put(j, "%" PRId64, val);
}

void vs_json_bool(struct vs_json *j, const char *k, bool val)
{
	key(j, k);
	put(j, "%s", val ? "true" : "false");
}

int vs_json_end(struct vs_json *j)
{
	put(j, "}\n");
	return j->overflow ? -ENOSPC : (int)j->len;
}
