/* libFuzzer harness: control message TLV bodies, and the getters the agents
 * run on what a peer sent: ctl_get, ctl_get_u64, ctl_get_str, ctl_get_name.
 *
 * Input: a tag (2 bytes), a buffer size (1 byte), then the body.  Each
 * getter is checked against a reference walk of the attributes: its error
 * code is the one its header documents for what the first attribute with
 * the tag holds, a string or name comes back NUL-terminated and equal to
 * the attribute's bytes, a name is not empty and shorter than the buffer.
 * Buffers are allocated to their exact size, for ASan to catch a write past
 * them.  A well-formed body is consumed exactly, and putting its attributes
 * again with ctl_put rebuilds it byte for byte. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/ctl.h"

/* The first attribute with tag, by an independent walk of the TLVs. */
static bool ref_find(const uint8_t *b, size_t n, uint16_t tag, const uint8_t **v, size_t *len)
{
	size_t off = 0;

	while (n - off >= 6) {
		uint16_t t = (uint16_t)(b[off] << 8 | b[off + 1]);
		uint32_t l = (uint32_t)b[off + 2] << 24 | (uint32_t)b[off + 3] << 16 |
			     (uint32_t)b[off + 4] << 8 | b[off + 5];

		if (l > n - off - 6)
			return false;	/* the rest is not an attribute */
		if (t == tag) {
			*v = b + off + 6;
			*len = l;
			return true;
		}
		off += 6 + l;
	}
	return false;
}

static void check_getters(const struct ctl_msg *m, uint16_t tag, size_t size)
{
	const uint8_t *rv = NULL;
	size_t rlen = 0, len;
	bool found = ref_find(m->body, m->len, tag, &rv, &rlen);
	char *buf = malloc(size ? size : 1), err[48];
	const void *v;
	uint64_t u = 0, ru = 0;
	size_t i;
	int ret, want;

	if (!buf)
		return;
	/* ctl_get: the reference's attribute, inside the body. */
	ret = ctl_get(m, tag, &v, &len);
	if (ret != (found ? 0 : -ENOENT))
		abort();
	if (found && (v != rv || len != rlen || (const uint8_t *)v + len > m->body + m->len))
		abort();

	/* ctl_get_u64: 8 bytes, big-endian. */
	ret = ctl_get_u64(m, tag, &u);
	want = !found ? -ENOENT : rlen != 8 ? -EBADMSG : 0;
	if (ret != want)
		abort();
	for (i = 0; !ret && i < 8; i++)
		ru = ru << 8 | rv[i];
	if (!ret && u != ru)
		abort();

	/* ctl_get_str: fits with its NUL, holds none. */
	memset(buf, 'X', size);
	ret = ctl_get_str(m, tag, size ? buf : NULL, size);
	want = !found ? -ENOENT : rlen >= size || memchr(rv, 0, rlen) ? -EBADMSG : 0;
	if (ret != want)
		abort();
	if (!ret && (buf[rlen] || memcmp(buf, rv, rlen)))
		abort();

	/* ctl_get_name: as ctl_get_str, and not empty; each error says why. */
	memset(buf, 'X', size);
	memset(err, 'X', sizeof(err));
	ret = ctl_get_name(m, tag, "name", size ? buf : NULL, size, err, sizeof(err));
	want = !found ? -ENOENT : rlen >= size ? -ENAMETOOLONG : !rlen ? -EINVAL :
	       memchr(rv, 0, rlen) ? -EBADMSG : 0;
	if (ret != want)
		abort();
	if (!ret && (strlen(buf) != rlen || !rlen || rlen >= size || memcmp(buf, rv, rlen)))
		abort();
	if (ret && (!memchr(err, 0, sizeof(err)) || !err[0]))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg m = { 0 }, again;
	const void *v;
	size_t off = 0, len, total = 0, bufsize;
	uint16_t tag;

	if (size < 3)
		return 0;
	tag = (uint16_t)(data[0] << 8 | data[1]);
	bufsize = data[2] % 80;
	data += 3;
	size -= 3;
	m.body = malloc(size ? size : 1);
	if (!m.body)
		return 0;
	memcpy(m.body, data, size);
	m.len = m.cap = size;
	ctl_msg_init(&again, 0);
	if (ctl_body_check(m.body, m.len) == 0) {
		while (ctl_next(&m, &off, &tag, &v, &len)) {
			total += len + 6;
			if (ctl_put(&again, tag, v, len) < 0)
				abort();
		}
		if (total != size) /* a valid body is consumed exactly */
			abort();
		if (again.len != size || (size && memcmp(again.body, m.body, size)))
			abort();
		tag = (uint16_t)(data[-3] << 8 | data[-2]);
	}
	check_getters(&m, tag, bufsize);
	/* The tag of the first attribute, which the fuzzer rarely guesses. */
	if (size >= 2)
		check_getters(&m, (uint16_t)(m.body[0] << 8 | m.body[1]), bufsize);
	ctl_msg_free(&again);
	free(m.body);
	return 0;
}
