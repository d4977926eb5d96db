/* A FRAMES message of numbered records, for the unit tests of netmoved's
 * modules that keep or ship frames (test_shipq, test_recfile). */
#ifndef NETMOVE_TEST_RECORDS_MSG_H
#define NETMOVE_TEST_RECORDS_MSG_H

#include "netmove/buffer.h"
#include "netmove/ctl.h"
#include "netmove/proto.h"

/* A FRAMES message of records first..first+n-1, each a 60-byte frame whose
 * first byte is its number. */
static inline void make_msg(struct ctl_msg *m, int first, int n)
{
	uint8_t enc[BUFFER_WIRE_HDR_LEN + 64], frame[60];
	struct buffer_record rec = { 0 };
	int i, len;

	ctl_msg_init(m, PROTO_FRAMES);
	for (i = 0; i < n; i++) {
		memset(frame, 0, sizeof(frame));
		frame[0] = (uint8_t)(first + i);
		rec.frame = frame;
		rec.len = sizeof(frame);
		rec.seq = (uint64_t)(first + i);
		len = buffer_record_encode(&rec, enc, sizeof(enc));
		assert_true(len > 0);
		assert_int_equal(ctl_put(m, A_RECORD, enc, (size_t)len), 0);
	}
}

#endif
