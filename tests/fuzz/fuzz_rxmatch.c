/* libFuzzer harness: rxmatch_lost, which judges from a guest's RX ring (the
 * guest's memory: untrusted) which frames a tap reader lost.
 *
 * Input: the tail (anchor hash and length, or an index to anchor on one of
 * the frames, header length, lengths after the anchor) and up to
 * RXMATCH_TAKEN_MAX + 4 taken frames (length, hash, the VM's or another
 * address).  Invariants from rxmatch.h: the result is 0..n or one of its
 * errors, -ENOENT only with an anchor and -EAGAIN only without; *anchor is
 * -1 or the newest frame with the anchor's length and hash; the lost
 * frames are newer than the anchor (count <= anchor) and, without one, at
 * most RXMATCH_LOST_MAX; the same input gives the same answer; with an
 * anchor, older frames appended after it change nothing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/rxmatch.h"

#define TAKEN_MAX (RXMATCH_TAKEN_MAX + 4)
#define FRAME_HDR 14			/* every taken frame has an Ethernet header */

static const struct mac vm_mac = { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x10 } };
static const struct mac other = { { 0x52, 0x54, 0x00, 0x00, 0x00, 0x20 } };

struct input {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct input *in, unsigned bytes)
{
	uint32_t v = 0;

	while (bytes--) {
		v = v << 8;
		if (in->n) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct buffer_record taken[TAKEN_MAX];
	uint8_t *frames[TAKEN_MAX];
	uint32_t hashes[TAKEN_MAX];
	struct rxmatch_tail t;
	int n, i, ret, ret2, anchor, anchor2, pick;
	unsigned k;

	memset(&t, 0, sizeof(t));
	memset(taken, 0, sizeof(taken));
	pick = (int)take(&in, 1);	/* < TAKEN_MAX: anchor on taken[pick] */
	t.hash = take(&in, 1);		/* few distinct hashes: repeats happen */
	t.len = take(&in, 2);
	t.hdr_len = (uint8_t)take(&in, 1);
	t.nafter = (uint8_t)(take(&in, 1) % (GUESTRX_AFTER_MAX + 1));
	for (k = 0; k < t.nafter; k++)
		t.after[k] = take(&in, 2);
	n = (int)(take(&in, 1) % (TAKEN_MAX + 1));
	for (i = 0; i < n; i++) {
		uint32_t v = take(&in, 2);

		frames[i] = malloc(FRAME_HDR);
		if (!frames[i])
			abort();
		memcpy(frames[i], (v & 0x8000 ? &other : &vm_mac)->b, MAC_LEN);
		memset(frames[i] + MAC_LEN, 0, FRAME_HDR - MAC_LEN);
		taken[i].len = FRAME_HDR + (v & 0x7fff);
		taken[i].frame = frames[i];
		hashes[i] = take(&in, 1);
	}
	if (pick < n) {
		t.len = taken[pick].len;
		t.hash = hashes[pick];
	}

	ret = rxmatch_lost(&t, taken, hashes, n, &vm_mac, &anchor);
	if (ret > n || (ret < 0 && ret != -ENOENT && ret != -EPROTO && ret != -EAGAIN))
		abort();
	if (t.len) {
		if (ret == -EAGAIN)
			abort();	/* an anchor decides */
		for (i = 0; i < n && (taken[i].len != t.len || hashes[i] != t.hash); i++)
			;
		if (i == n ? ret != -ENOENT || anchor != -1 : anchor != i || ret == -ENOENT)
			abort();
		if (ret >= 0 && ret > anchor)
			abort();	/* the lost frames came after the anchor */
	} else {
		if (ret == -ENOENT || anchor != -1)
			abort();
		if (ret > RXMATCH_LOST_MAX)
			abort();
	}
	ret2 = rxmatch_lost(&t, taken, hashes, n, &vm_mac, &anchor2);
	if (ret2 != ret || anchor2 != anchor)
		abort();
	/* Older frames than the anchor (more of the tap log) change nothing. */
	if (anchor >= 0 && n < TAKEN_MAX) {
		taken[n] = taken[anchor];
		hashes[n] = hashes[anchor] ^ 1;
		ret2 = rxmatch_lost(&t, taken, hashes, n + 1, &vm_mac, &anchor2);
		if (ret2 != ret || anchor2 != anchor)
			abort();
	}
	for (i = 0; i < n; i++)
		free(frames[i]);
	return 0;
}
