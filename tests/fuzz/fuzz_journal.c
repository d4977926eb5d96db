/* libFuzzer harness: journal_field, the journal line field parser.
 *
 * The first byte picks a mode.  Arbitrary lines: whatever comes back is
 * NUL-terminated within the buffer, its length is the return value, and
 * only the documented errors come out.  Round trip: a line built with the
 * library's own printer (journal_begin, out_str, out_u64, nested objects
 * and arrays) from fuzzed keys and values gives back, for every top-level
 * key, exactly the value first written under it. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>

#include "netmove/journal.h"

#define FIELDS_MAX 16
#define TEXT_MAX 64

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t take8(struct input *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

/* A C string (no NUL) of up to TEXT_MAX - 1 bytes. */
static void take_str(struct input *in, char *s)
{
	size_t len = take8(in) % TEXT_MAX, i;

	for (i = 0; i < len && in->n; i++) {
		s[i] = (char)take8(in);
		if (!s[i])
			s[i] = '"';
	}
	s[i] = 0;
}

static void check_result(const char *line, const char *key, size_t size)
{
	char *buf = malloc(size ? size : 1);
	int ret;

	if (!buf)
		return;
	memset(buf, 'X', size);
	ret = journal_field(line, key, buf, size);
	if (ret != -ENOENT && ret != -EINVAL && ret != -ENAMETOOLONG && ret != -EBADMSG && ret < 0)
		abort();
	if (size && !memchr(buf, 0, size))
		abort();	/* not terminated within size */
	if (ret >= 0 && ((size_t)ret >= size || strlen(buf) != (size_t)ret))
		abort();
	if (ret < 0 && size && buf[0])
		abort();	/* "" on error */
	free(buf);
}

static void arbitrary(const uint8_t *data, size_t size)
{
	size_t klen = size ? data[0] % 16 : 0, bsize;
	char *line, key[16];

	if (size < 2 + klen)
		return;
	bsize = data[1] % 48;
	memcpy(key, data + 2, klen);
	key[klen] = 0;
	line = malloc(size - 2 - klen + 1);
	if (!line)
		return;
	memcpy(line, data + 2 + klen, size - 2 - klen);
	line[size - 2 - klen] = 0;
	check_result(line, key, bsize);
	check_result(line, "host", bsize);
	free(line);
}

struct written {
	char key[TEXT_MAX];
	char val[TEXT_MAX > 21 ? TEXT_MAX : 21];
	bool nested;			/* an object or an array: -EINVAL */
};

static void round_trip(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct written w[FIELDS_MAX];
	struct journal_entry e;
	unsigned nw = 0, i, j, depth = 1;
	char buf[TEXT_MAX + 1];

	if (journal_begin(&e) < 0)
		return;
	while (in.n && nw < FIELDS_MAX) {
		uint8_t op = take8(&in);
		char key[TEXT_MAX], val[TEXT_MAX];
		uint64_t u = 0;

		take_str(&in, key);
		switch (op % 6) {
		case 0: case 1:
			take_str(&in, val);
			out_str(&e.o, key, val);
			break;
		case 2:
			for (i = 0; i < 8; i++)
				u = u << 8 | take8(&in);
			u >>= take8(&in) % 64;
			out_u64(&e.o, key, u);
			snprintf(val, sizeof(val), "%" PRIu64, u);
			break;
		case 3:
		case 4:
			if (depth == OUT_MAX_DEPTH - 1)
				continue;	/* the printer's limit: deeper is not nested */
			if (e.o.depth == 1) {
				snprintf(w[nw].key, sizeof(w[nw].key), "%s", key);
				w[nw++].nested = true;
			}
			if (op % 6 == 3)
				out_obj_begin(&e.o, key);
			else
				out_arr_begin(&e.o, key);
			depth++;
			continue;
		default:
			if (depth > 1) {
				if (e.o.array[e.o.depth])
					out_arr_end(&e.o);
				else
					out_obj_end(&e.o);
				depth--;
			}
			continue;
		}
		if (depth == 1 && e.o.depth == 1) {
			snprintf(w[nw].key, sizeof(w[nw].key), "%s", key);
			snprintf(w[nw].val, sizeof(w[nw].val), "%s", val);
			w[nw++].nested = false;
		}
	}
	out_finish(&e.o);
	fflush(e.stream);
	if (!e.buf || !e.len || e.buf[e.len - 1] != '\n')
		abort();
	e.buf[e.len - 1] = 0;	/* a line as journal_read gives it */
	for (i = 0; i < nw; i++) {
		int ret;

		for (j = 0; j < i && strcmp(w[j].key, w[i].key); j++)
			;
		if (j < i)
			continue;	/* a repeated key: the first counts */
		ret = journal_field(e.buf, w[i].key, buf, sizeof(buf));
		if (w[i].nested) {
			if (ret != -EINVAL || buf[0])
				abort();
			continue;
		}
		if (ret != (int)strlen(w[i].val) || strcmp(buf, w[i].val)) {
			fprintf(stderr, "line %s\nkey \"%s\": wrote \"%s\", read %d \"%s\"\n", e.buf,
				w[i].key, w[i].val, ret, buf);
			abort();
		}
		/* One byte short of room: too long, never a prefix. */
		if (journal_field(e.buf, w[i].key, buf, strlen(w[i].val)) != -ENAMETOOLONG)
			abort();
	}
	check_result(e.buf, "host", 8);
	journal_abort(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		round_trip(data + 1, size - 1);
	else
		arbitrary(data + 1, size - 1);
	return 0;
}
