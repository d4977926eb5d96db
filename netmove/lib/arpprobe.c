#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netmove/arpprobe.h"
#include "netmove/frame.h"
#include "netmove/timeutil.h"

int arpprobe_validate(const struct arpprobe_cfg *cfg)
{
	int i;

	if (mac_is_multicast(&cfg->src) || mac_is_zero(&cfg->src))
		return -EINVAL;
	if (cfg->ntargets < 1 || cfg->ntargets > ARPPROBE_MAX)
		return -EINVAL;
	for (i = 0; i < cfg->ntargets; i++)
		if (cfg->target[i].s_addr == 0)
			return -EINVAL;
	if (cfg->tries < 1 || cfg->tries > ARPPROBE_MAX_TRIES || cfg->timeout_ms < 1 ||
	    cfg->timeout_ms > ARPPROBE_MAX_TIMEOUT_MS)
		return -EINVAL;
	if (cfg->vlan < FRAME_NO_VLAN || cfg->vlan > FRAME_VLAN_MAX)
		return -EINVAL;
	return 0;
}

int arpprobe_build(const struct arpprobe_cfg *cfg, int i, uint8_t *buf, size_t cap)
{
	static const struct mac bc = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct frame_arp arp = { .op = FRAME_ARP_REQUEST, .sha = cfg->src };

	if (i < 0 || i >= cfg->ntargets)
		return -EINVAL;
	arp.tpa = cfg->target[i];
	return frame_build_arp(buf, cap, &bc, &cfg->src, cfg->vlan, &arp);
}

int arpprobe_match(const struct arpprobe_cfg *cfg, const uint8_t *frame, size_t len,
		   struct mac *who)
{
	struct frame_eth eth;
	struct frame_arp arp;
	int i;

	if (frame_parse_arp(frame, len, &eth, &arp) < 0)
		return -1;
	if (eth.ethertype != FRAME_ETHERTYPE_ARP || arp.op != FRAME_ARP_REPLY ||
	    eth.vlan != cfg->vlan || !mac_equal(&eth.dst, &cfg->src) ||
	    !mac_equal(&arp.tha, &cfg->src))
		return -1;
	for (i = 0; i < cfg->ntargets; i++) {
		if (arp.spa.s_addr == cfg->target[i].s_addr) {
			*who = arp.sha;
			return i;
		}
	}
	return -1;
}

int arpprobe_run(const char *ifname, const struct arpprobe_cfg *cfg,
		 struct arpprobe_answer *ans, char *err)
{
	uint8_t req[ARPPROBE_MAX][FRAME_BUILD_MAX];
	int len[ARPPROBE_MAX], i, ret, left, sent = 0;
	uint64_t sent_ns[ARPPROBE_MAX];
	struct wire w = { .pcap = NULL };
	char filter[64], m[MAC_STRLEN];
	unsigned round;

	snprintf(w.err, sizeof(w.err), "invalid ARP probe configuration");
	ret = arpprobe_validate(cfg);
	if (ret < 0)
		goto out;
	memset(ans, 0, (size_t)cfg->ntargets * sizeof(*ans));
	for (i = 0; i < cfg->ntargets; i++) {
		len[i] = arpprobe_build(cfg, i, req[i], sizeof(req[i]));
		if (len[i] < 0) {
			ret = len[i];
			goto out;
		}
	}
	snprintf(filter, sizeof(filter), "ether dst %s and arp", mac_format(&cfg->src, m));
	ret = wire_open(&w, ifname, filter, true);
	if (ret < 0)
		goto out;
	left = cfg->ntargets;
	for (round = 0; round < cfg->tries && left; round++) {
		uint64_t deadline;

		for (i = 0; i < cfg->ntargets; i++) {
			if (ans[i].answered)
				continue;
			sent_ns[i] = timeutil_real_ns();
			ret = wire_send(&w, req[i], (size_t)len[i]);
			if (ret < 0)
				goto out;
			sent++;
		}
		deadline = timeutil_mono_ns() + cfg->timeout_ms * NSEC_PER_MSEC;
		while (left) {
			const uint8_t *f;
			struct mac who;
			size_t flen;
			uint64_t ts;

			ret = wire_recv(&w, deadline, &f, &flen, &ts);
			if (ret < 0)
				goto out;
			if (ret == 0)
				break;
			i = arpprobe_match(cfg, f, flen, &who);
			if (i < 0 || ans[i].answered)
				continue;
			ans[i].answered = true;
			ans[i].mac = who;
			ans[i].rtt_ns = ts > sent_ns[i] ? ts - sent_ns[i] : 0;
			left--;
		}
	}
	ret = sent;
out:
	if (ret < 0 && err)
		memcpy(err, w.err, WIRE_ERRLEN);
	wire_close(&w);
	return ret;
}
