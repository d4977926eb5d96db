/* Unit tests for netmove/lib/record.c: a buffered frame's wire form (the
 * part a destination decodes from the network; fuzzed too) and what makes a
 * record valid.  No root, no network. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "netmove/record.h"

static void record_codec(void **state)
{
	uint8_t frame[200], buf[512];
	struct buffer_record in = { .seq = 1ULL << 40, .tstamp_ns = 123456789, .len = 200,
				    .ip_summed = BUFFER_CSUM_PARTIAL, .csum_start = 34,
				    .csum_offset = 16, .gso_size = 100,
				    .gso_type = BUFFER_GSO_TCPV4 | BUFFER_GSO_ECN, .vlan = true,
				    .vlan_proto = 0x8100, .vlan_tci = 0x2064, .frame = frame };
	struct buffer_record out, bad;
	int n;

	(void)state;
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7 + 5);
	n = buffer_record_encode(&in, buf, sizeof(buf));
	assert_int_equal(n, BUFFER_WIRE_HDR_LEN + 200);
	assert_int_equal(buffer_record_encode(&in, buf, (size_t)n - 1), -ENOSPC);
	/* Trailing bytes belong to the next record. */
	assert_int_equal(buffer_record_decode(buf, sizeof(buf), &out), n);
	assert_int_equal(out.seq, in.seq);
	assert_int_equal(out.tstamp_ns, in.tstamp_ns);
	assert_int_equal(out.len, 200);
	assert_int_equal(out.ip_summed, BUFFER_CSUM_PARTIAL);
	assert_int_equal(out.csum_start, 34);
	assert_int_equal(out.csum_offset, 16);
	assert_int_equal(out.gso_size, 100);
	assert_int_equal(out.gso_type, BUFFER_GSO_TCPV4 | BUFFER_GSO_ECN);
	assert_true(out.vlan);
	assert_int_equal(out.vlan_tci, 0x2064);
	assert_ptr_equal(out.frame, buf + BUFFER_WIRE_HDR_LEN);
	assert_memory_equal(out.frame, frame, 200);

#define REFUSED(field, value)                                                  \
	do {                                                                   \
		bad = in;                                                      \
		bad.field = value;                                             \
		assert_int_equal(buffer_record_encode(&bad, buf, sizeof(buf)), -EINVAL); \
	} while (0)
	REFUSED(len, 13);
	REFUSED(len, BUFFER_MAX_FRAME + 1);
	REFUSED(ip_summed, 4);
	REFUSED(csum_start, 190);
	REFUSED(csum_start, 10);
	REFUSED(gso_size, 0);
	REFUSED(gso_type, 0);
	REFUSED(gso_type, BUFFER_GSO_TCPV4 | BUFFER_GSO_TCPV6);
	REFUSED(gso_type, BUFFER_GSO_UDP_L4 | BUFFER_GSO_ECN);
	REFUSED(gso_type, 1 << 9);
	REFUSED(ip_summed, BUFFER_CSUM_NONE);
	REFUSED(vlan_proto, 0x0800);
	REFUSED(vlan, false);
#undef REFUSED
	n = buffer_record_encode(&in, buf, sizeof(buf));
#define CORRUPT(off, value)                                                     \
	do {                                                                    \
		uint8_t keep = buf[off];                                        \
		buf[off] = value;                                               \
		assert_int_equal(buffer_record_decode(buf, (size_t)n, &out), -EINVAL); \
		buf[off] = keep;                                                \
	} while (0)
	CORRUPT(0, 'X');	/* magic */
	CORRUPT(4, 2);		/* version */
	CORRUPT(5, 48);		/* header length */
	CORRUPT(7, 3);		/* unknown flag */
	CORRUPT(26, 1);		/* frame length past the buffer */
	CORRUPT(28, 9);		/* ip_summed */
	CORRUPT(29, 1);		/* reserved */
	CORRUPT(43, 1);		/* reserved */
#undef CORRUPT
	assert_int_equal(buffer_record_decode(buf, (size_t)n, &out), n);
	assert_int_equal(buffer_record_decode(buf, (size_t)n - 1, &out), -EINVAL);
}

/* What a replay could not send is not valid. */
static void record_validity(void **state)
{
	uint8_t frame[100] = { 0 };
	struct buffer_record r = { .len = 100, .frame = frame };

	(void)state;
	assert_true(buffer_record_valid(&r));
	r.len = 13;
	assert_false(buffer_record_valid(&r));	/* shorter than an Ethernet header */
	r.len = BUFFER_MAX_FRAME + 1;
	assert_false(buffer_record_valid(&r));
	r.len = 100;
	r.ip_summed = BUFFER_CSUM_PARTIAL;
	r.csum_start = 90;
	r.csum_offset = 16;
	assert_false(buffer_record_valid(&r));	/* the checksum field past the frame */
	r.csum_start = 34;
	assert_true(buffer_record_valid(&r));
	r.gso_size = 50;
	r.gso_type = BUFFER_GSO_UDP_L4 | BUFFER_GSO_ECN;
	assert_false(buffer_record_valid(&r));	/* ECN is TCP's */
	r.gso_type = BUFFER_GSO_TCPV4;
	assert_true(buffer_record_valid(&r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(record_codec),
		cmocka_unit_test(record_validity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
