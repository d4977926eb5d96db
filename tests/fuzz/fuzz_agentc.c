/* libFuzzer harness: the blackout event a hypervisor hook sends its agent
 * (agentc_event_msg) and the agent's decoder of it (agentc_event_stop),
 * which reads what any local client sent.
 *
 * The first byte picks a mode.  Decode: the rest is a TLV body; whatever
 * decodes is consistent (flags known and only with a stop time, at most
 * GUESTRX_AFTER_MAX lengths, -EBADMSG exactly for a malformed A_RX_AFTER),
 * and encoding it again with agentc_event_msg and decoding that gives the
 * same struct agentc_stop.  Encode: the rest fills a struct agentc_stop;
 * encoding refuses exactly what agentc.h says it refuses, and decoding
 * what it built gives the struct back. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/agentc.h"
#include "netmove/proto.h"

static const struct mac vm_mac = { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x10 } };

/* The same stop, as far as the protocol carries it: the header length
 * travels only with the lengths it applies to (A_RX_AFTER is sent only
 * with nafter > 0). */
static bool stop_equal(const struct agentc_stop *a, const struct agentc_stop *b)
{
	return a->stopped_us == b->stopped_us && a->flags == b->flags &&
	       a->rx.hash == b->rx.hash && a->rx.len == b->rx.len &&
	       a->rx.nafter == b->rx.nafter && (!a->rx.nafter || a->rx.hdr_len == b->rx.hdr_len) &&
	       !memcmp(a->rx.after, b->rx.after, a->rx.nafter * sizeof(a->rx.after[0]));
}

static void check_decoded(const struct agentc_stop *s)
{
	static const struct rxmatch_tail none;

	if (s->flags & ~(unsigned)(AGENTC_READER_KEEPS_ONE | AGENTC_LAST_RX))
		abort();
	if (s->flags && !s->stopped_us)
		abort();
	if (s->rx.nafter > GUESTRX_AFTER_MAX)
		abort();
	if (!(s->flags & AGENTC_LAST_RX) && memcmp(&s->rx, &none, sizeof(none)))
		abort();
}

/* Encode s, check the request, decode it again: must give s back. */
static void round_trip(const struct agentc_stop *s)
{
	struct agentc_stop back;
	struct ctl_msg req;
	const void *v;
	size_t len;
	char kind[16];

	ctl_msg_init(&req, 0);
	if (agentc_event_msg(&req, "blackout", &vm_mac, s) < 0)
		abort();
	if (req.type != PROTO_REQ_EVENT || ctl_body_check(req.body, req.len) < 0)
		abort();
	if (ctl_get(&req, A_MAC, &v, &len) < 0 || len != MAC_LEN || memcmp(v, vm_mac.b, MAC_LEN))
		abort();
	if (ctl_get_str(&req, A_EVENT, kind, sizeof(kind)) < 0 || strcmp(kind, "blackout"))
		abort();
	memset(&back, 0xa5, sizeof(back));
	if (agentc_event_stop(&req, &back) < 0)
		abort();
	check_decoded(&back);
	if (!stop_equal(s, &back)) {
		fprintf(stderr, "round trip: %llu/%u/%u/%u/%u/%u -> %llu/%u/%u/%u/%u/%u\n",
			(unsigned long long)s->stopped_us, s->flags, s->rx.hash, s->rx.len,
			s->rx.hdr_len, s->rx.nafter, (unsigned long long)back.stopped_us,
			back.flags, back.rx.hash, back.rx.len, back.rx.hdr_len, back.rx.nafter);
		abort();
	}
	ctl_msg_free(&req);
}

/* Whether agentc_event_stop must refuse m: a stop time, an anchor, and an
 * A_RX_AFTER that is not a header length and whole u32s, at most
 * GUESTRX_AFTER_MAX of them. */
static bool must_refuse(const struct ctl_msg *m)
{
	uint64_t t, a;
	const void *v;
	size_t len;

	return ctl_get_u64(m, A_STOPPED, &t) == 0 && t && ctl_get_u64(m, A_LAST_RX, &a) == 0 &&
	       ctl_get(m, A_RX_AFTER, &v, &len) == 0 &&
	       (len < 1 || (len - 1) % 4 || (len - 1) / 4 > GUESTRX_AFTER_MAX);
}

static void decode(const uint8_t *data, size_t size)
{
	struct ctl_msg m = { .type = PROTO_REQ_EVENT };
	struct agentc_stop s;
	int ret;

	m.body = malloc(size ? size : 1);
	if (!m.body)
		return;
	memcpy(m.body, data, size);
	m.len = m.cap = size;
	memset(&s, 0xa5, sizeof(s));
	ret = agentc_event_stop(&m, &s);
	if (ret != (must_refuse(&m) ? -EBADMSG : 0))
		abort();
	if (ret == 0) {
		check_decoded(&s);
		round_trip(&s);
	}
	free(m.body);
}

static void encode(const uint8_t *data, size_t size)
{
	struct agentc_stop s;
	struct ctl_msg req;
	size_t i;
	int ret;

	memset(&s, 0, sizeof(s));
	if (size < 19)
		return;
	memcpy(&s.stopped_us, data, 8);
	if (data[8] & 0x80)
		s.stopped_us = 0;
	s.flags = data[8] & 0x7f;
	memcpy(&s.rx.hash, data + 9, 4);
	memcpy(&s.rx.len, data + 13, 4);
	s.rx.hdr_len = data[17];
	s.rx.nafter = data[18];
	for (i = 0; i < GUESTRX_AFTER_MAX && 19 + 4 * i + 4 <= size; i++)
		memcpy(&s.rx.after[i], data + 19 + 4 * i, 4);
	ctl_msg_init(&req, 0);
	ret = agentc_event_msg(&req, "blackout", &vm_mac, &s);
	ctl_msg_free(&req);
	if (s.flags && !s.stopped_us) {
		if (ret != -EINVAL)
			abort();
		return;
	}
	if ((s.flags & AGENTC_LAST_RX) && s.rx.nafter > GUESTRX_AFTER_MAX) {
		if (ret != -EINVAL)
			abort();
		return;
	}
	if (ret < 0)
		abort();
	/* What the protocol carries: known flags, and the ring's tail only
	 * with AGENTC_LAST_RX. */
	s.flags &= AGENTC_READER_KEEPS_ONE | AGENTC_LAST_RX;
	if (!(s.flags & AGENTC_LAST_RX))
		memset(&s.rx, 0, sizeof(s.rx));
	for (i = s.rx.nafter; i < GUESTRX_AFTER_MAX; i++)
		s.rx.after[i] = 0;
	round_trip(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	if (data[0] & 1)
		encode(data + 1, size - 1);
	else
		decode(data + 1, size - 1);
	return 0;
}
