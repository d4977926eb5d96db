#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "netmove/frame.h"
#include "netmove/timeutil.h"
#include "netmove/verify.h"

#define VERIFY_MAX_TRIES 100
#define VERIFY_MAX_TIMEOUT_MS 60000

void verify_defaults(struct verify_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->vlan = FRAME_NO_VLAN;
	cfg->tries = 3;
	cfg->timeout_ms = 1000;
}

int verify_validate(const struct verify_cfg *cfg)
{
	if (mac_is_multicast(&cfg->mac) || mac_is_zero(&cfg->mac))
		return -EINVAL;
	if (cfg->gateway.s_addr == 0 || cfg->ip.s_addr == 0 ||
	    cfg->gateway.s_addr == cfg->ip.s_addr)
		return -EINVAL;
	if (cfg->tries < 1 || cfg->tries > VERIFY_MAX_TRIES)
		return -EINVAL;
	if (cfg->timeout_ms < 1 || cfg->timeout_ms > VERIFY_MAX_TIMEOUT_MS)
		return -EINVAL;
	if (cfg->vlan < FRAME_NO_VLAN || cfg->vlan > FRAME_VLAN_MAX)
		return -EINVAL;
	if (cfg->eth_src_set && mac_is_multicast(&cfg->eth_src))
		return -EINVAL;
	return 0;
}

void verify_neutral_mac(const struct mac *vm, struct mac *out)
{
	*out = *vm;
	/* Locally administered unicast, and different from the VM's own. */
	out->b[0] = (uint8_t)((vm->b[0] | 0x02) & ~0x01);
	out->b[5] ^= 0x5a;
	if (mac_equal(out, vm))
		out->b[4] ^= 0x5a;
}

int verify_filter(const struct verify_cfg *cfg, char *buf, size_t len)
{
	char m[MAC_STRLEN];
	int n;

	mac_format(&cfg->mac, m);
	if (cfg->vlan >= 0)
		n = snprintf(buf, len, "ether dst %s and vlan %d and arp", m, cfg->vlan);
	else
		n = snprintf(buf, len, "ether dst %s and arp", m);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

bool verify_match(const struct verify_cfg *cfg, const uint8_t *frame, size_t len,
		  struct mac *gw_mac, int *vlan)
{
	struct frame_eth eth;
	struct frame_arp arp;

	if (frame_parse_arp(frame, len, &eth, &arp) < 0)
		return false;
	if (eth.ethertype != FRAME_ETHERTYPE_ARP || arp.op != FRAME_ARP_REPLY)
		return false;
	if (cfg->vlan != eth.vlan)
		return false;
	if (arp.spa.s_addr != cfg->gateway.s_addr || arp.tpa.s_addr != cfg->ip.s_addr ||
	    !mac_equal(&arp.tha, &cfg->mac) || !mac_equal(&eth.dst, &cfg->mac))
		return false;
	*gw_mac = arp.sha;
	*vlan = eth.vlan;
	return true;
}

static int pick_source(const char *ifname, const struct verify_cfg *cfg, struct mac *src)
{
	int ret;

	if (cfg->learn) {
		*src = cfg->mac;
		return 0;
	}
	if (cfg->eth_src_set) {
		*src = cfg->eth_src;
		return 0;
	}
	ret = wire_ifmac(ifname, src);
	if (ret < 0)
		return ret;
	if (mac_equal(src, &cfg->mac) || mac_is_zero(src))
		verify_neutral_mac(&cfg->mac, src);
	return 0;
}

int verify_run(const char *ifname, const char *listen, const struct verify_cfg *cfg,
	       struct verify_result *res, char *err)
{
	static const struct mac bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	uint8_t req[FRAME_BUILD_MAX];
	char filter[128];
	struct frame_arp arp = { .op = FRAME_ARP_REQUEST };
	struct wire w = { .pcap = NULL }, lw = { .pcap = NULL }, *cap = &w;
	int len, ret;
	unsigned i;

	memset(res, 0, sizeof(*res));
	res->vlan = FRAME_NO_VLAN;
	snprintf(w.err, sizeof(w.err), "invalid verify configuration");
	ret = verify_validate(cfg);
	if (ret < 0)
		goto out;
	ret = pick_source(ifname, cfg, &res->eth_src);
	if (ret < 0) {
		snprintf(w.err, sizeof(w.err), "cannot read the address of %s: %s",
			 ifname, strerror(-ret));
		goto out;
	}
	arp.sha = cfg->mac;
	arp.spa = cfg->ip;
	arp.tpa = cfg->gateway;
	len = frame_build_arp(req, sizeof(req), &bc, &res->eth_src, cfg->vlan, &arp);
	ret = len < 0 ? len : verify_filter(cfg, filter, sizeof(filter));
	if (ret < 0)
		goto out;
	ret = wire_open(&w, ifname, filter, true);
	if (ret < 0)
		goto out;
	if (listen && strcmp(listen, ifname) != 0) {
		ret = wire_open(&lw, listen, filter, false);
		if (ret < 0) {
			memcpy(w.err, lw.err, WIRE_ERRLEN);
			goto out;
		}
		cap = &lw;
	}
	for (i = 0; i < cfg->tries && !res->answered; i++) {
		uint64_t deadline, sent_ns;

		sent_ns = timeutil_real_ns();
		ret = wire_send(&w, req, (size_t)len);
		if (ret < 0)
			goto out;
		res->sent++;
		deadline = timeutil_mono_ns() + cfg->timeout_ms * NSEC_PER_MSEC;
		for (;;) {
			const uint8_t *f;
			size_t flen;
			uint64_t ts;

			ret = wire_recv(cap, deadline, &f, &flen, &ts);
			if (ret < 0) {
				memcpy(w.err, cap->err, WIRE_ERRLEN);
				goto out;
			}
			if (ret == 0)
				break;
			if (!verify_match(cfg, f, flen, &res->gw_mac, &res->vlan))
				continue;
			res->answered = true;
			res->reply_ns = ts;
			res->rtt_ns = ts > sent_ns ? ts - sent_ns : 0;
			snprintf(res->ifname, sizeof(res->ifname), "%s", cap->ifname);
			break;
		}
	}
	ret = 0;
out:
	if (ret < 0 && err)
		memcpy(err, w.err, WIRE_ERRLEN);
	wire_close(&lw);
	wire_close(&w);
	return ret;
}
