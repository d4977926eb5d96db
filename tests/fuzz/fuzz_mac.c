/* libFuzzer harness: MAC and IPv4 text parsers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/mac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct in_addr a;
	struct mac m;
	char buf[MAC_STRLEN];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (mac_parse(s, &m) == 0) {
		struct mac again;

		/* Whatever parses must format and parse back to the same address. */
		if (mac_parse(mac_format(&m, buf), &again) != 0 || !mac_equal(&m, &again))
			abort();
	}
	mac_parse_ipv4(s, &a);
	free(s);
	return 0;
}
