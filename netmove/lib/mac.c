#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "netmove/mac.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mac_parse(const char *s, struct mac *out)
{
	char sep = 0;
	int i;

	if (!s || strlen(s) != MAC_STRLEN - 1)
		return -EINVAL;
	for (i = 0; i < MAC_LEN; i++) {
		const char *p = s + 3 * i;
		int hi = hexval(p[0]), lo = hexval(p[1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		if (i < MAC_LEN - 1) {
			if (p[2] != ':' && p[2] != '-')
				return -EINVAL;
			if (sep && p[2] != sep)
				return -EINVAL;
			sep = p[2];
		}
		out->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

char *mac_format(const struct mac *m, char *buf)
{
	snprintf(buf, MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
		 m->b[0], m->b[1], m->b[2], m->b[3], m->b[4], m->b[5]);
	return buf;
}

bool mac_is_broadcast(const struct mac *m)
{
	static const struct mac bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

	return mac_equal(m, &bc);
}

bool mac_is_multicast(const struct mac *m)
{
	return m->b[0] & 1;
}

bool mac_is_zero(const struct mac *m)
{
	static const struct mac zero;

	return mac_equal(m, &zero);
}

bool mac_equal(const struct mac *a, const struct mac *b)
{
	return memcmp(a->b, b->b, MAC_LEN) == 0;
}

int mac_parse_ipv4(const char *s, struct in_addr *out)
{
	if (!s || inet_pton(AF_INET, s, out) != 1)
		return -EINVAL;
	return 0;
}
