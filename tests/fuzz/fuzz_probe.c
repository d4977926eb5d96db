/* libFuzzer harness: probe datagram decoder and receiver accounting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct probe_rx rx;
	struct probe_stats st;
	size_t off = 0;

	probe_rx_init(&rx);
	/* Treat the input as a sequence of datagrams, each prefixed by a length. */
	while (off < size) {
		size_t len = data[off++];
		uint8_t *buf;
		struct probe_pkt pkt;

		if (len > size - off)
			len = size - off;
		buf = malloc(len ? len : 1);
		if (!buf)
			break;
		memcpy(buf, data + off, len);
		if (probe_decode(buf, len, &pkt) == 0) {
			pkt.seq &= 0xfffff; /* keep the bitmap small */
			probe_rx_account(&rx, &pkt, off);
		}
		free(buf);
		off += len;
	}
	probe_rx_result(&rx, &st);
	if (st.unique > st.received || st.duplicated > st.received ||
	    (st.end_seen == 0 && st.unique && st.lost + st.unique != st.expected))
		abort();
	probe_rx_free(&rx);
	return 0;
}
