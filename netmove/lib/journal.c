#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	return p;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The next character of the JSON string at *pp (past its opening quote),
 * decoded into c (UTF-8): its byte count, 0 at the closing quote (*pp then
 * past it), or -EBADMSG.  A \u0000 or a surrogate cannot be in the C string
 * out_str was given: our printer never writes one. */
static int str_char(const char **pp, char c[3])
{
	const char *p = *pp;
	unsigned u = 0;
	int i, n = 1;

	if (*p == '"') {
		*pp = p + 1;
		return 0;
	}
	if ((unsigned char)*p < 0x20)	/* the end of the line, or raw control */
		return -EBADMSG;
	if (*p != '\\') {
		c[0] = *p;
		*pp = p + 1;
		return 1;
	}
	switch (p[1]) {
	case '"': case '\\': case '/': c[0] = p[1]; break;
	case 'b': c[0] = '\b'; break;
	case 'f': c[0] = '\f'; break;
	case 'n': c[0] = '\n'; break;
	case 'r': c[0] = '\r'; break;
	case 't': c[0] = '\t'; break;
	case 'u':
		for (i = 2; i < 6; i++) {
			if (hexval(p[i]) < 0)
				return -EBADMSG;
			u = u << 4 | (unsigned)hexval(p[i]);
		}
		if (!u || (u >= 0xd800 && u < 0xe000))
			return -EBADMSG;
		if (u < 0x80) {
			c[0] = (char)u;
		} else if (u < 0x800) {
			c[0] = (char)(0xc0 | u >> 6);
			c[1] = (char)(0x80 | (u & 0x3f));
			n = 2;
		} else {
			c[0] = (char)(0xe0 | u >> 12);
			c[1] = (char)(0x80 | (u >> 6 & 0x3f));
			c[2] = (char)(0x80 | (u & 0x3f));
			n = 3;
		}
		*pp = p + 6;
		return n;
	default:
		return -EBADMSG;
	}
	*pp = p + 2;
	return 1;
}

/* Skip the JSON string at *pp (past its opening quote): 0 or -EBADMSG. */
static int str_skip(const char **pp)
{
	char c[3];
	int n;

	while ((n = str_char(pp, c)) > 0)
		;
	return n;
}

/* Whether the string at *pp (past its quote) is key; *pp goes past it. */
static int str_is(const char **pp, const char *key, bool *eq)
{
	char c[3];
	int n;

	*eq = true;
	while ((n = str_char(pp, c)) > 0) {
		if (*eq && !strncmp(key, c, (size_t)n))
			key += n;
		else
			*eq = false;
	}
	if (*key)
		*eq = false;
	return n;
}

static bool is_num(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' ||
	       c == 'E';
}

/* Skip one JSON value at *pp: 0 or -EBADMSG.  Nested values by depth, no
 * recursion (a hostile line cannot exhaust the stack). */
static int value_skip(const char **pp)
{
	const char *p = *pp;
	size_t depth = 0;

	do {
		p = skip_ws(p);
		if (*p == '"') {
			p++;
			if (str_skip(&p) < 0)
				return -EBADMSG;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if ((*p == '}' || *p == ']') && depth) {
			depth--;
			p++;
		} else if ((*p == ',' || *p == ':') && depth) {
			p++;
		} else if (is_num(*p) || (*p >= 'a' && *p <= 'z')) {
			while (is_num(*p) || (*p >= 'a' && *p <= 'z'))
				p++;
		} else {
			return -EBADMSG;
		}
	} while (depth);
	*pp = p;
	return 0;
}

/* Copy the value at p (a string or a number) into buf. */
static int value_copy(const char *p, char *buf, size_t size)
{
	size_t n = 0;
	char c[3];
	int k;

	if (*p == '"') {
		for (p++; (k = str_char(&p, c)) > 0; n += (size_t)k)
			if (n + (size_t)k < size)
				memcpy(buf + n, c, (size_t)k);
			else
				size = 0;	/* too long: go on only to check it */
		if (k < 0)
			return -EBADMSG;
	} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
		for (; is_num(*p); p++, n++)
			if (n + 1 < size)
				buf[n] = *p;
			else
				size = 0;
	} else {
		/* An object, an array, true, false, null, or nothing there. */
		return *p == '{' || *p == '[' || (*p >= 'a' && *p <= 'z') ? -EINVAL : -EBADMSG;
	}
	if (!size)
		return -ENAMETOOLONG;
	buf[n] = 0;
	return (int)(n > INT_MAX ? INT_MAX : n);
}

int journal_field(const char *line, const char *key, char *buf, size_t size)
{
	const char *p = skip_ws(line);
	bool eq;
	int ret;

	if (size)
		buf[0] = 0;
	if (*p++ != '{')
		return -EBADMSG;
	p = skip_ws(p);
	if (*p == '}')
		return -ENOENT;
	for (;;) {
		if (*p++ != '"' || str_is(&p, key, &eq) < 0)
			return -EBADMSG;
		p = skip_ws(p);
		if (*p++ != ':')
			return -EBADMSG;
		p = skip_ws(p);
		if (eq) {
			ret = value_copy(p, buf, size);
			if (ret < 0 && size)
				buf[0] = 0;
			return ret;
		}
		if (value_skip(&p) < 0)
			return -EBADMSG;
		p = skip_ws(p);
		if (*p == '}')
			return -ENOENT;
		if (*p++ != ',')
			return -EBADMSG;
		p = skip_ws(p);
	}
}

static bool field_is(const char *line, const char *key, const char *want)
{
	char v[256];

	return journal_field(line, key, v, sizeof(v)) >= 0 && !strcasecmp(v, want);
}

static bool field_u64(const char *line, const char *key, uint64_t *out)
{
	char v[32], *end;

	if (journal_field(line, key, v, sizeof(v)) <= 0)
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && !*end && v[0] != '-';
}

bool journal_match(const char *line, const struct journal_filter *f)
{
	uint64_t v;

	if (f->mac && !field_is(line, "mac", f->mac))
		return false;
	if (f->host && !field_is(line, "host", f->host) && !field_is(line, "from", f->host) &&
	    !field_is(line, "to", f->host))
		return false;
	if (f->outcome && !field_is(line, "outcome", f->outcome))
		return false;
	if (f->id && (!field_u64(line, "id", &v) || v != f->id))
		return false;
	if ((f->since_us || f->until_us) && !field_u64(line, "time_us", &v))
		return false;
	if (f->since_us && v < f->since_us)
		return false;
	return !f->until_us || v <= f->until_us;
}
