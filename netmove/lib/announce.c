#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "netmove/announce.h"
#include "netmove/frame.h"
#include "netmove/timeutil.h"

void announce_defaults(struct announce_cfg *cfg, const struct mac *mac)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mac = *mac;
	cfg->vlan = FRAME_NO_VLAN;
	cfg->rarp = true;
	cfg->rounds = 5;
	cfg->initial_ms = 50;
	cfg->step_ms = 100;
	cfg->max_ms = 550;
}

int announce_validate(const struct announce_cfg *cfg)
{
	if (!cfg->rarp && !cfg->garp)
		return -EINVAL;
	if (cfg->garp && !cfg->has_ip)
		return -EINVAL;
	if (mac_is_multicast(&cfg->mac) || mac_is_zero(&cfg->mac))
		return -EINVAL;
	if (cfg->rounds < 1 || cfg->rounds > ANNOUNCE_MAX_ROUNDS)
		return -EINVAL;
	if (cfg->initial_ms > ANNOUNCE_MAX_DELAY_MS || cfg->step_ms > ANNOUNCE_MAX_DELAY_MS ||
	    cfg->max_ms > ANNOUNCE_MAX_DELAY_MS)
		return -EINVAL;
	if (cfg->max_ms < cfg->initial_ms || cfg->max_ms < cfg->step_ms)
		return -EINVAL;
	if (cfg->vlan < FRAME_NO_VLAN || cfg->vlan > FRAME_VLAN_MAX)
		return -EINVAL;
	return 0;
}

unsigned announce_delay_ms(const struct announce_cfg *cfg, unsigned r)
{
	uint64_t d;

	if (r == 0)
		return 0;
	d = cfg->initial_ms + (uint64_t)(r - 1) * cfg->step_ms;
	return d > cfg->max_ms ? cfg->max_ms : (unsigned)d;
}

static int send_one(struct wire *w, const uint8_t *frame, int len,
		    struct announce_result *res)
{
	uint64_t t;
	int ret;

	if (len < 0)
		return len;
	/* Taken before the send: on a veth the fabric may learn the frame
	 * before the inject call returns. */
	t = timeutil_real_ns();
	ret = wire_send(w, frame, (size_t)len);
	if (ret < 0)
		return ret;
	res->last_ns = t;
	if (!res->frames)
		res->first_ns = t;
	res->frames++;
	return 0;
}

int announce_round(struct wire *w, const struct announce_cfg *cfg,
		   struct announce_result *res)
{
	uint8_t buf[FRAME_BUILD_MAX];
	int ret;

	if (cfg->rarp) {
		ret = send_one(w, buf, frame_build_rarp(buf, sizeof(buf), &cfg->mac, cfg->vlan), res);
		if (ret < 0)
			return ret;
	}
	if (cfg->garp) {
		ret = send_one(w, buf, frame_build_garp(buf, sizeof(buf), &cfg->mac,
							cfg->ip, cfg->vlan), res);
		if (ret < 0)
			return ret;
	}
	res->rounds++;
	return 0;
}

int announce_rounds(struct wire *w, const struct announce_cfg *cfg, unsigned first,
		    struct announce_result *res)
{
	uint64_t next = timeutil_mono_ns();
	unsigned r;
	int ret;

	ret = announce_validate(cfg);
	if (ret < 0) {
		snprintf(w->err, sizeof(w->err), "invalid announce configuration");
		return ret;
	}
	for (r = first; r < cfg->rounds; r++) {
		next += announce_delay_ms(cfg, r) * NSEC_PER_MSEC;
		timeutil_sleep_until_mono(next);
		ret = announce_round(w, cfg, res);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int announce_run_wire(struct wire *w, const struct announce_cfg *cfg,
		      struct announce_result *res)
{
	memset(res, 0, sizeof(*res));
	return announce_rounds(w, cfg, 0, res);
}

int announce_run(const char *ifname, const struct announce_cfg *cfg,
		 struct announce_result *res, char *err)
{
	struct wire w;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = wire_open(&w, ifname, NULL, true);
	if (ret == 0)
		ret = announce_run_wire(&w, cfg, res);
	if (ret < 0 && err)
		memcpy(err, w.err, WIRE_ERRLEN);
	wire_close(&w);
	return ret;
}
