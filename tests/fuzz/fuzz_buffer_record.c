/* libFuzzer harness: buffered-frame record decoder (the wire form shipped
 * between hosts) and its encoder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/buffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buffer_record rec, again;
	size_t off = 0;

	/* Treat the input as a stream of records, as an importer reads it. */
	while (off < size) {
		uint8_t *buf = malloc(size - off), *out;
		int n, m;

		if (!buf)
			break;
		memcpy(buf, data + off, size - off);
		n = buffer_record_decode(buf, size - off, &rec);
		if (n < 0) {
			free(buf);
			break;
		}
		if ((size_t)n > size - off || (size_t)n != buffer_record_wire_len(&rec) ||
		    rec.frame != buf + BUFFER_WIRE_HDR_LEN)
			abort();
		/* Whatever decodes must encode back to the same bytes. */
		out = malloc((size_t)n);
		if (!out)
			abort();
		m = buffer_record_encode(&rec, out, (size_t)n);
		if (m != n || memcmp(out, buf, (size_t)n) != 0)
			abort();
		if (buffer_record_decode(out, (size_t)n, &again) != n || again.len != rec.len)
			abort();
		free(out);
		free(buf);
		off += (size_t)n;
	}
	return 0;
}
