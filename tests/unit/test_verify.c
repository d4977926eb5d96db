#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "netmove/frame.h"
#include "netmove/verify.h"
#include "netns_helper.h"

static const struct mac vm = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };
static const struct mac gw = { { 0x02, 0, 0, 0, 0, 1 } };

static void cfg_for(struct verify_cfg *cfg, const char *gateway)
{
	verify_defaults(cfg);
	cfg->mac = vm;
	inet_pton(AF_INET, "198.18.0.10", &cfg->ip);
	inet_pton(AF_INET, gateway, &cfg->gateway);
}

static int reply(uint8_t *buf, const struct verify_cfg *cfg, int vlan)
{
	struct frame_arp arp = { .op = FRAME_ARP_REPLY, .sha = gw, .spa = cfg->gateway,
				 .tha = cfg->mac, .tpa = cfg->ip };

	return frame_build_arp(buf, FRAME_BUILD_MAX, &cfg->mac, &gw, vlan, &arp);
}

static void match_reply(void **state)
{
	struct verify_cfg cfg;
	uint8_t buf[FRAME_BUILD_MAX];
	struct mac got;
	int vlan, len;

	(void)state;
	cfg_for(&cfg, "198.18.0.1");
	len = reply(buf, &cfg, FRAME_NO_VLAN);
	assert_true(verify_match(&cfg, buf, (size_t)len, &got, &vlan));
	assert_true(mac_equal(&got, &gw));
	assert_int_equal(vlan, FRAME_NO_VLAN);
	/* Wrong VLAN, truncated, wrong sender, a request: no match. */
	len = reply(buf, &cfg, 5);
	assert_false(verify_match(&cfg, buf, (size_t)len, &got, &vlan));
	cfg.vlan = 5;
	assert_true(verify_match(&cfg, buf, (size_t)len, &got, &vlan));
	assert_int_equal(vlan, 5);
	assert_false(verify_match(&cfg, buf, 40, &got, &vlan));
	cfg.vlan = FRAME_NO_VLAN;
	len = reply(buf, &cfg, FRAME_NO_VLAN);
	buf[14 + 14 + 3] ^= 1; /* sender IP */
	assert_false(verify_match(&cfg, buf, (size_t)len, &got, &vlan));
	len = reply(buf, &cfg, FRAME_NO_VLAN);
	buf[14 + 7] = FRAME_ARP_REQUEST;
	assert_false(verify_match(&cfg, buf, (size_t)len, &got, &vlan));
}

static void neutral_source(void **state)
{
	struct mac n;

	(void)state;
	verify_neutral_mac(&vm, &n);
	assert_false(mac_equal(&n, &vm));
	assert_false(mac_is_multicast(&n));
	assert_true(n.b[0] & 0x02);
}

static void filter_text(void **state)
{
	struct verify_cfg cfg;
	char buf[128];

	(void)state;
	cfg_for(&cfg, "198.18.0.1");
	assert_int_equal(verify_filter(&cfg, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ether dst 52:54:00:12:34:56 and arp");
	cfg.vlan = 12;
	assert_int_equal(verify_filter(&cfg, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ether dst 52:54:00:12:34:56 and vlan 12 and arp");
	assert_int_equal(verify_filter(&cfg, buf, 10), -ENOSPC);
}

static void validation(void **state)
{
	struct verify_cfg cfg;

	(void)state;
	cfg_for(&cfg, "198.18.0.1");
	assert_int_equal(verify_validate(&cfg), 0);
	cfg.tries = 0;
	assert_int_equal(verify_validate(&cfg), -EINVAL);
	cfg_for(&cfg, "198.18.0.10");
	assert_int_equal(verify_validate(&cfg), -EINVAL);
	cfg_for(&cfg, "198.18.0.1");
	cfg.mac.b[0] = 1;
	assert_int_equal(verify_validate(&cfg), -EINVAL);
}

/* The kernel answers ARP for an address on the peer of a veth pair: a real
 * request, a real reply, captured where it lands. */
static void real_arp_ping(void **state)
{
	struct verify_cfg cfg;
	struct verify_result res;
	char err[WIRE_ERRLEN];

	(void)state;
	if (test_private_netns() < 0)
		skip();
	assert_int_equal(test_sh("ip link add nmv0 type veth peer name nmv1 && "
				 "ip link set nmv1 address 02:00:00:00:00:01 && "
				 "ip addr add 198.18.0.1/24 dev nmv1 && "
				 "ip link set nmv0 up && ip link set nmv1 up"), 0);
	cfg_for(&cfg, "198.18.0.1");
	cfg.timeout_ms = 500;
	assert_int_equal(verify_run("nmv0", NULL, &cfg, &res, err), 0);
	assert_true(res.answered);
	assert_true(mac_equal(&res.gw_mac, &gw));
	assert_string_equal(res.ifname, "nmv0");
	assert_false(mac_equal(&res.eth_src, &vm)); /* neutral source by default */
	assert_true(res.rtt_ns < 500000000ULL);

	/* Nobody owns .99: no answer after every try. */
	cfg_for(&cfg, "198.18.0.99");
	cfg.tries = 2;
	cfg.timeout_ms = 100;
	assert_int_equal(verify_run("nmv0", NULL, &cfg, &res, err), 0);
	assert_false(res.answered);
	assert_int_equal(res.sent, 2);

	assert_true(verify_run("nm-missing0", NULL, &cfg, &res, err) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(match_reply),
		cmocka_unit_test(neutral_source),
		cmocka_unit_test(filter_text),
		cmocka_unit_test(validation),
		cmocka_unit_test(real_arp_ping),
	};

	return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
