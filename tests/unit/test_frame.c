#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "netmove/frame.h"

static const struct mac vm = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };

/* QEMU's self-announce for 52:54:00:12:34:56, as it appears on the wire. */
static const uint8_t qemu_rarp[60] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
	0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03,
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00,
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x00, 0x00,
	/* 18 bytes of zero padding */
};

static void rarp_matches_qemu(void **state)
{
	uint8_t buf[FRAME_BUILD_MAX];

	(void)state;
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(frame_build_rarp(buf, sizeof(buf), &vm, FRAME_NO_VLAN), 60);
	assert_memory_equal(buf, qemu_rarp, sizeof(qemu_rarp));
}

static void rarp_tagged(void **state)
{
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_eth eth;
	struct frame_arp arp;

	(void)state;
	assert_int_equal(frame_build_rarp(buf, sizeof(buf), &vm, 100), 64);
	assert_int_equal(buf[12], 0x81);
	assert_int_equal(buf[13], 0x00);
	assert_int_equal((buf[14] << 8 | buf[15]) & 0xfff, 100);
	assert_int_equal(frame_parse_arp(buf, 64, &eth, &arp), 0);
	assert_int_equal(eth.vlan, 100);
	assert_int_equal(eth.ethertype, FRAME_ETHERTYPE_RARP);
	assert_int_equal(eth.hdr_len, 18);
	assert_int_equal(arp.op, FRAME_RARP_REQUEST);
	assert_true(mac_equal(&arp.sha, &vm));
	assert_true(mac_equal(&arp.tha, &vm));
	/* Tagged frame is the untagged one with the tag inserted. */
	assert_memory_equal(buf + 18, qemu_rarp + 14, 28);
}

static void garp_fields(void **state)
{
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_eth eth;
	struct frame_arp arp;
	struct in_addr ip;

	(void)state;
	inet_pton(AF_INET, "198.18.0.10", &ip);
	assert_int_equal(frame_build_garp(buf, sizeof(buf), &vm, ip, FRAME_NO_VLAN), 60);
	assert_int_equal(frame_parse_arp(buf, 60, &eth, &arp), 0);
	assert_true(mac_is_broadcast(&eth.dst));
	assert_true(mac_equal(&eth.src, &vm));
	assert_int_equal(eth.ethertype, FRAME_ETHERTYPE_ARP);
	assert_int_equal(arp.op, FRAME_ARP_REQUEST);
	assert_true(mac_equal(&arp.sha, &vm));
	assert_true(mac_is_zero(&arp.tha));
	assert_int_equal(arp.spa.s_addr, ip.s_addr);
	assert_int_equal(arp.tpa.s_addr, ip.s_addr);
	/* padding is zero */
	for (int i = 42; i < 60; i++)
		assert_int_equal(buf[i], 0);
}

static void arp_reply_roundtrip(void **state)
{
	const struct mac gw = { { 0x02, 0, 0, 0, 0, 1 } };
	struct frame_arp in = { .op = FRAME_ARP_REPLY, .sha = gw, .tha = vm }, out;
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_eth eth;

	(void)state;
	inet_pton(AF_INET, "198.18.0.1", &in.spa);
	inet_pton(AF_INET, "198.18.0.10", &in.tpa);
	assert_int_equal(frame_build_arp(buf, sizeof(buf), &vm, &gw, 7, &in), 64);
	assert_int_equal(frame_parse_arp(buf, 64, &eth, &out), 0);
	assert_int_equal(out.op, FRAME_ARP_REPLY);
	assert_true(mac_equal(&out.sha, &gw));
	assert_true(mac_equal(&out.tha, &vm));
	assert_int_equal(out.spa.s_addr, in.spa.s_addr);
	assert_int_equal(out.tpa.s_addr, in.tpa.s_addr);
	assert_true(mac_equal(&eth.dst, &vm));
	assert_int_equal(eth.vlan, 7);
}

static void build_errors(void **state)
{
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_arp bad = { .op = 9 };

	(void)state;
	assert_int_equal(frame_build_rarp(buf, 59, &vm, FRAME_NO_VLAN), -ENOSPC);
	assert_int_equal(frame_build_rarp(buf, 10, &vm, FRAME_NO_VLAN), -ENOSPC);
	assert_int_equal(frame_build_rarp(buf, 63, &vm, 5), -ENOSPC);
	assert_int_equal(frame_build_rarp(buf, sizeof(buf), &vm, 4096), -EINVAL);
	assert_int_equal(frame_build_rarp(buf, sizeof(buf), &vm, -2), -EINVAL);
	assert_int_equal(frame_build_arp(buf, sizeof(buf), &vm, &vm, FRAME_NO_VLAN, &bad), -EINVAL);
}

static void parse_truncated(void **state)
{
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_eth eth;
	struct frame_arp arp;
	size_t len;

	(void)state;
	frame_build_rarp(buf, sizeof(buf), &vm, 3);
	/* Every prefix shorter than header + ARP body is rejected. */
	for (len = 0; len < 18 + FRAME_ARP_LEN; len++)
		assert_int_equal(frame_parse_arp(buf, len, &eth, &arp), -EINVAL);
	assert_int_equal(frame_parse_arp(buf, 18 + FRAME_ARP_LEN, &eth, &arp), 0);
	for (len = 0; len < 14; len++)
		assert_int_equal(frame_parse_eth(buf, len, &eth), -EINVAL);
}

static void parse_foreign(void **state)
{
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_eth eth;
	struct frame_arp arp;

	(void)state;
	frame_build_rarp(buf, sizeof(buf), &vm, FRAME_NO_VLAN);
	buf[12] = 0x08; /* IPv4 */
	buf[13] = 0x00;
	assert_int_equal(frame_parse_arp(buf, 60, &eth, &arp), -EPROTONOSUPPORT);
	frame_build_rarp(buf, sizeof(buf), &vm, FRAME_NO_VLAN);
	buf[15] = 6; /* htype 6: IEEE 802 */
	assert_int_equal(frame_parse_arp(buf, 60, &eth, &arp), -EPROTONOSUPPORT);
	frame_build_rarp(buf, sizeof(buf), &vm, FRAME_NO_VLAN);
	buf[18] = 8; /* hlen 8 */
	assert_int_equal(frame_parse_arp(buf, 60, &eth, &arp), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rarp_matches_qemu),
		cmocka_unit_test(rarp_tagged),
		cmocka_unit_test(garp_fields),
		cmocka_unit_test(arp_reply_roundtrip),
		cmocka_unit_test(build_errors),
		cmocka_unit_test(parse_truncated),
		cmocka_unit_test(parse_foreign),
	};

	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
