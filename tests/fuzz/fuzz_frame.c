/* libFuzzer harness: Ethernet / 802.1Q / ARP / RARP parsers and the verify
 * reply matcher.  Input is copied to an exact-size buffer so ASan sees any
 * read past the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/frame.h"
#include "netmove/verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct frame_eth eth;
	struct frame_arp arp;
	struct verify_cfg cfg;
	struct mac gw;
	int vlan;

	if (!buf)
		return 0;
	memset(&arp, 0, sizeof(arp));
	memcpy(buf, data, size);
	if (frame_parse_eth(buf, size, &eth) == 0 && eth.hdr_len > size)
		abort();
	if (frame_parse_arp(buf, size, &eth, &arp) == 0) {
		uint8_t out[FRAME_BUILD_MAX];
		struct frame_eth eth2;
		struct frame_arp arp2;
		int len;

		/* Rebuilding what was parsed must parse to the same fields. */
		if (arp.op >= FRAME_ARP_REQUEST && arp.op <= FRAME_RARP_REPLY) {
			memset(&arp2, 0, sizeof(arp2));
			len = frame_build_arp(out, sizeof(out), &eth.dst, &eth.src, eth.vlan, &arp);
			if (len < 0 || frame_parse_arp(out, (size_t)len, &eth2, &arp2) != 0 ||
			    memcmp(&arp, &arp2, sizeof(arp)) != 0 || eth2.vlan != eth.vlan)
				abort();
		}
		verify_defaults(&cfg);
		cfg.mac = arp.tha;
		cfg.ip = arp.tpa;
		cfg.gateway = arp.spa;
		cfg.vlan = eth.vlan;
		verify_match(&cfg, buf, size, &gw, &vlan);
	}
	free(buf);
	return 0;
}
