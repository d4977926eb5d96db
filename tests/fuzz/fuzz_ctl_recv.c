/* libFuzzer harness: the control protocol's frame decoder (ctl_recv:
 * header, length limit, sequence, TLV check) as it runs behind TLS, fed
 * through a plain connection. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>

#include "netmove/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_conn c;
	struct ctl_msg m;
	uint64_t last = 0;
	int sv[2];

	if (size > 1 << 16 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
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
	return 0;
}
