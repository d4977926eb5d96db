/* libFuzzer harness: control message TLV body validation and iteration, and
 * the frame decoder (ctl_recv: header, length limit, sequence, TLV check)
 * as it runs behind TLS, fed through a plain connection. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "netmove/ctl.h"

static void decode(const uint8_t *data, size_t size)
{
	struct ctl_conn c;
	struct ctl_msg m;
	uint64_t last = 0;
	int sv[2];

	if (size > 1 << 16 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	if (size && write(sv[1], data, size) != (ssize_t)size)
		abort();
	close(sv[1]);
	ctl_conn_init(&c, sv[0], NULL, "fuzz");
	ctl_msg_init(&m, 0);
	while (ctl_recv(&c, &m, 1000) == 0) {
		/* Accepted: well formed and exactly the next in sequence. */
		if (m.seq != last + 1 || ctl_body_check(m.body, m.len) || m.len > CTL_MAX_BODY)
			abort();
		last = m.seq;
	}
	ctl_msg_free(&m);
	ctl_conn_close(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_msg m = { 0 };
	const void *v;
	size_t off = 0, len, total = 0;
	uint16_t tag;
	char s[64];
	uint64_t u;

	decode(data, size);
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
