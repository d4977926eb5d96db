/* libFuzzer harness: control message TLV body validation and iteration. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg m = { 0 };
	const void *v;
	size_t off = 0, len, total = 0;
	uint16_t tag;
	char s[64];
	uint64_t u;

	m.body = malloc(size ? size : 1);
	if (!m.body)
		return 0;
	memcpy(m.body, data, size);
	m.len = m.cap = size;
	if (ctl_body_check(m.body, m.len) == 0) {
		while (ctl_next(&m, &off, &tag, &v, &len))
			total += len + 6;
		if (total != size) /* a valid body is consumed exactly */
			abort();
	}
	ctl_get_u64(&m, 1, &u);
	ctl_get_str(&m, 2, s, sizeof(s));
	free(m.body);
	return 0;
}
