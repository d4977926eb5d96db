#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "netmove/mac.h"

static void parse_format_roundtrip(void **state)
{
	struct mac m;
	char buf[MAC_STRLEN];

	(void)state;
	assert_int_equal(mac_parse("52:54:00:AB:cd:0f", &m), 0);
	assert_int_equal(m.b[0], 0x52);
	assert_int_equal(m.b[3], 0xab);
	assert_int_equal(m.b[5], 0x0f);
	assert_string_equal(mac_format(&m, buf), "52:54:00:ab:cd:0f");
	assert_int_equal(mac_parse("52-54-00-ab-cd-0f", &m), 0);
	assert_string_equal(mac_format(&m, buf), "52:54:00:ab:cd:0f");
}

static void parse_rejects_bad_input(void **state)
{
	static const char *bad[] = {
		"", "52:54:00:ab:cd", "52:54:00:ab:cd:0f:", "52:54:00:ab:cd:0", "52:54:00:ab:cd:0g",
		"52:54-00:ab:cd:0f", "5254.00ab.cd0f", " 52:54:00:ab:cd:0f", "52:54:00:ab:cd:0f ",
		"52::54:00:ab:cd:0", "zz:zz:zz:zz:zz:zz",
	};
	struct mac m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mac_parse(bad[i], &m), -EINVAL);
	assert_int_equal(mac_parse(NULL, &m), -EINVAL);
}

static void classify(void **state)
{
	struct mac m;

	(void)state;
	assert_int_equal(mac_parse("ff:ff:ff:ff:ff:ff", &m), 0);
	assert_true(mac_is_broadcast(&m));
	assert_true(mac_is_multicast(&m));
	assert_int_equal(mac_parse("01:00:5e:00:00:01", &m), 0);
	assert_false(mac_is_broadcast(&m));
	assert_true(mac_is_multicast(&m));
	assert_int_equal(mac_parse("00:00:00:00:00:00", &m), 0);
	assert_true(mac_is_zero(&m));
	assert_false(mac_is_multicast(&m));
}

static void ipv4(void **state)
{
	struct in_addr a;

	(void)state;
	assert_int_equal(mac_parse_ipv4("198.18.0.1", &a), 0);
	assert_int_equal(ntohl(a.s_addr), 0xc6120001);
	assert_int_equal(mac_parse_ipv4("198.18.0", &a), -EINVAL);
	assert_int_equal(mac_parse_ipv4("198.18.0.256", &a), -EINVAL);
	assert_int_equal(mac_parse_ipv4("router", &a), -EINVAL);
	assert_int_equal(mac_parse_ipv4(NULL, &a), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_format_roundtrip),
		cmocka_unit_test(parse_rejects_bad_input),
		cmocka_unit_test(classify),
		cmocka_unit_test(ipv4),
	};

	return cmocka_run_group_tests_name("mac", tests, NULL, NULL);
}
