/* libFuzzer harness: migration stream record parsers (pages, HELLO, vCPU
 * state) on untrusted message bodies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/ctl.h"
#include "stream.h"

#define FZ_PAGES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t ram[FZ_PAGES * STREAM_PAGE];
	static struct cpu_state s;
	struct stream_hello h;
	struct stream_r r;
	struct ctl_msg m;
	uint64_t n = 0;

	if (size < 1)
		return 0;
	ctl_msg_init(&m, 0);
	if (ctl_put(&m, 0, NULL, 0) == 0) {
		/* Use the input as a body as-is (the TLV check is part of the parser). */
		ctl_msg_reset(&m, STREAM_PAGES);
		if (size - 1 && ctl_put(&m, 0, data + 1, size - 1) == 0) {
			memmove(m.body, m.body + 6, size - 1);
			m.len = size - 1;
		}
		if (stream_apply_pages(ram, data[0] % (FZ_PAGES + 1), &m, &n) == 0 &&
		    n > FZ_PAGES * (m.len / 12 + 1))
			abort();
		m.type = STREAM_HELLO;
		if (ctl_body_check(m.body, m.len) == 0)
			stream_hello_parse(&m, &h);
	}
	stream_r_init(&r, data, size);
	if (stream_get_cpu(&r, &s) == 0 && s.ext_len > CPU_EXT_MAX)
		abort();
	ctl_msg_free(&m);
	return 0;
}
