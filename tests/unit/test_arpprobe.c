/* Unit tests for netmove/lib/arpprobe.c: the probes' form, what counts as
 * their answer, and (root: a private namespace) a real Linux answering
 * them while learning nothing of the asker. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "netmove/arpprobe.h"
#include "netmove/frame.h"
#include "netns_helper.h"

static const struct mac probe = { { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 } };
static const struct mac owner = { { 0x02, 0, 0, 0, 0, 1 } };

static void cfg_for(struct arpprobe_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->src = probe;
	cfg->ntargets = 2;
	inet_pton(AF_INET, "198.18.0.1", &cfg->target[0]);
	inet_pton(AF_INET, "198.18.0.20", &cfg->target[1]);
	cfg->vlan = FRAME_NO_VLAN;
	cfg->tries = 2;
	cfg->timeout_ms = 100;
}

/* The answer to target i as Linux sends it: to the probe, for 0.0.0.0. */
static int answer(uint8_t *buf, const struct arpprobe_cfg *cfg, int i, int vlan)
{
	struct frame_arp arp = { .op = FRAME_ARP_REPLY, .sha = owner, .spa = cfg->target[i],
				 .tha = cfg->src };

	return frame_build_arp(buf, FRAME_BUILD_MAX, &cfg->src, &owner, vlan, &arp);
}

static void request_form(void **state)
{
	struct arpprobe_cfg cfg;
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_eth eth;
	struct frame_arp arp;
	int len;

	(void)state;
	cfg_for(&cfg);
	len = arpprobe_build(&cfg, 1, buf, sizeof(buf));
	assert_int_equal(len, FRAME_MIN_LEN);
	assert_int_equal(frame_parse_arp(buf, (size_t)len, &eth, &arp), 0);
	assert_true(mac_is_broadcast(&eth.dst));
	assert_true(mac_equal(&eth.src, &probe));
	assert_int_equal(arp.op, FRAME_ARP_REQUEST);
	assert_true(mac_equal(&arp.sha, &probe));
	/* The probe claims no address: nothing on the path learns one. */
	assert_int_equal(arp.spa.s_addr, 0);
	assert_true(mac_is_zero(&arp.tha));
	assert_int_equal(arp.tpa.s_addr, cfg.target[1].s_addr);
	assert_int_equal(arpprobe_build(&cfg, 2, buf, sizeof(buf)), -EINVAL);
}

static void answers(void **state)
{
	struct arpprobe_cfg cfg;
	uint8_t buf[FRAME_BUILD_MAX];
	struct frame_arp arp;
	struct mac who, other = owner;
	int len;

	(void)state;
	cfg_for(&cfg);
	len = answer(buf, &cfg, 1, FRAME_NO_VLAN);
	assert_int_equal(arpprobe_match(&cfg, buf, (size_t)len, &who), 1);
	assert_true(mac_equal(&who, &owner));
	len = answer(buf, &cfg, 0, FRAME_NO_VLAN);
	assert_int_equal(arpprobe_match(&cfg, buf, (size_t)len, &who), 0);
	/* Tagged when untagged was asked. */
	len = answer(buf, &cfg, 0, 7);
	assert_int_equal(arpprobe_match(&cfg, buf, (size_t)len, &who), -1);
	/* Someone else's answer, seen on a shared segment. */
	other.b[5] = 9;
	memset(&arp, 0, sizeof(arp));
	arp.op = FRAME_ARP_REPLY;
	arp.sha = owner;
	arp.spa = cfg.target[0];
	arp.tha = other;
	len = frame_build_arp(buf, sizeof(buf), &other, &owner, FRAME_NO_VLAN, &arp);
	assert_int_equal(arpprobe_match(&cfg, buf, (size_t)len, &who), -1);
	/* From an address not asked. */
	arp.tha = probe;
	inet_pton(AF_INET, "198.18.0.99", &arp.spa);
	len = frame_build_arp(buf, sizeof(buf), &probe, &owner, FRAME_NO_VLAN, &arp);
	assert_int_equal(arpprobe_match(&cfg, buf, (size_t)len, &who), -1);
	/* A request is no answer, nor is a truncated frame. */
	len = arpprobe_build(&cfg, 0, buf, sizeof(buf));
	assert_int_equal(arpprobe_match(&cfg, buf, (size_t)len, &who), -1);
	len = answer(buf, &cfg, 0, FRAME_NO_VLAN);
	assert_int_equal(arpprobe_match(&cfg, buf, 30, &who), -1);
}

static void validation(void **state)
{
	struct arpprobe_cfg cfg;

	(void)state;
	cfg_for(&cfg);
	assert_int_equal(arpprobe_validate(&cfg), 0);
	cfg.src.b[0] = 1;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg_for(&cfg);
	memset(&cfg.src, 0, sizeof(cfg.src));
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg_for(&cfg);
	cfg.ntargets = 0;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg.ntargets = ARPPROBE_MAX + 1;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg_for(&cfg);
	cfg.target[1].s_addr = 0;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg_for(&cfg);
	cfg.tries = 0;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg_for(&cfg);
	cfg.timeout_ms = ARPPROBE_MAX_TIMEOUT_MS + 1;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
	cfg_for(&cfg);
	cfg.vlan = FRAME_VLAN_MAX + 1;
	assert_int_equal(arpprobe_validate(&cfg), -EINVAL);
}

/* Linux answers a probe for its address on the far end of a veth pair, and
 * takes no neighbour entry for the asker; an address nobody has stays
 * unanswered after every round. */
static void real_probe(void **state)
{
	struct arpprobe_cfg cfg;
	struct arpprobe_answer ans[2];
	char err[WIRE_ERRLEN];
	FILE *p;
	char line[256] = "";

	(void)state;
	if (test_private_netns() < 0)
		skip();
	assert_int_equal(test_sh("ip link add nmp0 type veth peer name nmp1 && "
				 "ip link set nmp1 address 02:00:00:00:00:01 && "
				 "ip addr add 198.18.0.1/24 dev nmp1 && "
				 "ip link set nmp0 up && ip link set nmp1 up"), 0);
	cfg_for(&cfg);
	inet_pton(AF_INET, "198.18.0.99", &cfg.target[1]);
	assert_int_equal(arpprobe_run("nmp0", &cfg, ans, err), 3); /* 2, then .99 again */
	assert_true(ans[0].answered);
	assert_true(mac_equal(&ans[0].mac, &owner));
	assert_true(ans[0].rtt_ns < 100000000ULL);
	assert_false(ans[1].answered);
	p = popen("ip -4 neigh show dev nmp1", "r");
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = 0;
	pclose(p);
	assert_string_equal(line, "");
	assert_true(arpprobe_run("nm-missing0", &cfg, ans, err) < 0);
	assert_non_null(strstr(err, "nm-missing0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_form),
		cmocka_unit_test(answers),
		cmocka_unit_test(validation),
		cmocka_unit_test(real_probe),
	};

	return cmocka_run_group_tests_name("arpprobe", tests, NULL, NULL);
}
