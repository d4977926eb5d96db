/* rxmatch: which frames a tap reader took reached the guest, from what the
 * guest's RX ring told.  The frames are made up; taken[0] is the newest, as
 * the agent walks its tap log. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "netmove/frame.h"
#include "netmove/rxmatch.h"

#define NF 8
#define HDR 12

static const struct mac vm = { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x80 } };
static uint8_t bytes[NF][3000];
static struct buffer_record taken[NF];
static uint32_t hashes[NF];		/* as the tap log keeps them */

/* Frame i (newest first) of len bytes, for the VM unless other. */
static void frame(int i, uint32_t len, int other)
{
	memset(bytes[i], 0, sizeof(bytes[i]));
	memcpy(bytes[i], vm.b, MAC_LEN);
	if (other)
		bytes[i][5] = 0x99;
	bytes[i][20] = (uint8_t)i;
	bytes[i][21] = (uint8_t)(len >> 8);
	taken[i] = (struct buffer_record){ .len = len, .frame = bytes[i] };
	hashes[i] = frame_hash(bytes[i], len);
}

/* The guest got frames newest-first from..NF-1 (from: how many were lost),
 * the anchor being frame anchor: the ring's tail as guestrx reads it, one
 * buffer per frame (1536-byte buffers for bigger ones). */
static void tail_of(struct rxmatch_tail *t, int from, int anchor)
{
	int i;

	memset(t, 0, sizeof(*t));
	t->hdr_len = HDR;
	if (anchor >= 0) {
		t->len = taken[anchor].len;
		t->hash = frame_hash(taken[anchor].frame, taken[anchor].len);
	}
	for (i = anchor >= 0 ? anchor - 1 : NF - 1; i >= from; i--) {
		uint32_t left = HDR + taken[i].len;

		if (bytes[i][5] == 0x99)
			continue;	/* filtered out by the NIC */
		while (left > 1536) {
			t->after[t->nafter++] = 1536;
			left -= 1536;
		}
		t->after[t->nafter++] = left;
	}
}

static void mixed(void)
{
	static const uint32_t lens[NF] = { 98, 106, 1514, 60, 98, 2900, 106, 1514 };
	int i;

	for (i = 0; i < NF; i++)
		frame(i, lens[i], 0);
}

static void with_anchor(void **state)
{
	struct rxmatch_tail t;
	int a;

	(void)state;
	mixed();
	/* The anchor the newest frame: none lost. */
	tail_of(&t, 0, 0);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 0);
	assert_int_equal(a, 0);
	/* The anchor 5 back, 3 after it reached the guest, 2 did not. */
	tail_of(&t, 2, 5);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 2);
	assert_int_equal(a, 5);
	/* The anchor the third, nothing after it: the two newer were lost. */
	tail_of(&t, 2, 2);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 2);
	/* Not among the frames taken. */
	t.hash ^= 1;
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), -ENOENT);
	/* A buffer more than the frames make. */
	tail_of(&t, 1, 4);
	t.after[t.nafter++] = 60 + HDR;
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), -EPROTO);
}

/* A frame for another address between them was filtered out by the NIC. */
static void filtered_frame(void **state)
{
	struct rxmatch_tail t;
	int a;

	(void)state;
	mixed();
	frame(3, 60, 1);
	tail_of(&t, 1, 6);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 1);
	tail_of(&t, 1, -1);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 1);
}

/* No anchor (the guest posted every buffer again): the lengths alone. */
static void lengths_alone(void **state)
{
	struct rxmatch_tail t;
	int a, h;

	(void)state;
	mixed();
	for (h = 0; h <= 2; h++) {
		tail_of(&t, h, -1);
		assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), h);
		assert_int_equal(a, -1);
	}
	/* Only the newest buffers told: the oldest one part of a frame. */
	tail_of(&t, 1, -1);
	memmove(t.after, t.after + 1, (t.nafter - 1) * sizeof(t.after[0]));
	t.nafter--;
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 1);
}

/* Equal frames do not tell how many were lost: the agent falls back. */
static void equal_frames_ambiguous(void **state)
{
	struct rxmatch_tail t;
	int i, a;

	(void)state;
	for (i = 0; i < NF; i++)
		frame(i, 106, 0);
	tail_of(&t, 1, -1);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), -EAGAIN);
	/* With an anchor they do. */
	tail_of(&t, 1, 3);
	assert_int_equal(rxmatch_lost(&t, taken, hashes, NF, &vm, &a), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(with_anchor),
		cmocka_unit_test(filtered_frame),
		cmocka_unit_test(lengths_alone),
		cmocka_unit_test(equal_frames_ambiguous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
