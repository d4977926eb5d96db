#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "netmove/announce.h"
#include "netmove/frame.h"
#include "netmove/timeutil.h"
#include "netns_helper.h"

static const struct mac vm = { { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 } };

static void qemu_schedule(void **state)
{
	struct announce_cfg cfg;
	unsigned at = 0, r;
	const unsigned expect[] = { 0, 50, 200, 450, 800 };

	(void)state;
	announce_defaults(&cfg, &vm);
	assert_int_equal(cfg.rounds, 5);
	assert_true(cfg.rarp);
	assert_false(cfg.garp);
	for (r = 0; r < cfg.rounds; r++) {
		at += announce_delay_ms(&cfg, r);
		assert_int_equal(at, expect[r]);
	}
	/* The cap applies once the step has grown past it. */
	cfg.rounds = 10;
	assert_int_equal(announce_delay_ms(&cfg, 6), 550);
	assert_int_equal(announce_delay_ms(&cfg, 9), 550);
}

static void validation(void **state)
{
	struct announce_cfg cfg;
	struct mac mc = { { 0x01, 0, 0x5e, 0, 0, 1 } };

	(void)state;
	announce_defaults(&cfg, &vm);
	assert_int_equal(announce_validate(&cfg), 0);
	cfg.garp = true;
	assert_int_equal(announce_validate(&cfg), -EINVAL); /* GARP without IP */
	cfg.has_ip = true;
	assert_int_equal(announce_validate(&cfg), 0);
	cfg.rarp = cfg.garp = false;
	assert_int_equal(announce_validate(&cfg), -EINVAL);
	announce_defaults(&cfg, &mc);
	assert_int_equal(announce_validate(&cfg), -EINVAL);
	announce_defaults(&cfg, &vm);
	cfg.rounds = 0;
	assert_int_equal(announce_validate(&cfg), -EINVAL);
	announce_defaults(&cfg, &vm);
	cfg.vlan = 4096;
	assert_int_equal(announce_validate(&cfg), -EINVAL);
}

/* A real burst over a veth pair: frames, order and spacing as scheduled. */
static void burst_on_veth(void **state)
{
	struct announce_cfg cfg;
	struct announce_result res;
	struct wire cap;
	char err[WIRE_ERRLEN];
	uint64_t ts[8], t0;
	unsigned n = 0;

	(void)state;
	if (test_private_netns() < 0)
		skip();
	assert_int_equal(test_sh("ip link add nma0 type veth peer name nma1 && "
				 "ip link set nma0 up && ip link set nma1 up"), 0);
	assert_int_equal(wire_open(&cap, "nma1", "arp or rarp", true), 0);
	announce_defaults(&cfg, &vm);
	cfg.garp = cfg.has_ip = true;
	inet_pton(AF_INET, "198.18.0.10", &cfg.ip);
	cfg.rounds = 3;
	cfg.initial_ms = 20;
	cfg.step_ms = 10;
	t0 = timeutil_real_ns();
	assert_int_equal(announce_run("nma0", &cfg, &res, err), 0);
	assert_int_equal(res.rounds, 3);
	assert_int_equal(res.frames, 6);
	/* How soon the first frame leaves is a speed figure (make bench: resume
	 * -> first announcement), not a pass/fail threshold here. */
	assert_true(res.first_ns >= t0);
	for (;;) {
		const uint8_t *f;
		size_t len;
		struct frame_eth eth;
		struct frame_arp arp;

		if (wire_recv(&cap, timeutil_mono_ns() + 200 * NSEC_PER_MSEC, &f, &len, &ts[n]) <= 0)
			break;
		assert_int_equal(frame_parse_arp(f, len, &eth, &arp), 0);
		assert_true(mac_equal(&eth.src, &vm));
		/* RARP then GARP in each round. */
		assert_int_equal(arp.op, n % 2 ? FRAME_ARP_REQUEST : FRAME_RARP_REQUEST);
		if (++n == 8)
			break;
	}
	wire_close(&cap);
	assert_int_equal(n, 6);
	/* Rounds at 0, 20, 50 ms from the start (a fixed schedule, as QEMU's
	 * self-announce): none comes early.  Measured from the start, not from
	 * the round before: a late round does not move the next one. */
	assert_true(ts[2] - t0 >= 19 * NSEC_PER_MSEC);
	assert_true(ts[4] - t0 >= 49 * NSEC_PER_MSEC);
}

static void bad_interface(void **state)
{
	struct announce_cfg cfg;
	struct announce_result res;
	char err[WIRE_ERRLEN] = "";

	(void)state;
	announce_defaults(&cfg, &vm);
	assert_true(announce_run("nm-no-such0", &cfg, &res, err) < 0);
	assert_true(strlen(err) > 0);
	assert_int_equal(res.frames, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(qemu_schedule),
		cmocka_unit_test(validation),
		cmocka_unit_test(bad_interface),
		cmocka_unit_test(burst_on_veth),
	};

	return cmocka_run_group_tests_name("announce", tests, NULL, NULL);
}
