/* rxmatch: frames a reader took that did not reach the guest (see rxmatch.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "netmove/rxmatch.h"

static bool for_vm(const struct buffer_record *r, const struct mac *mac)
{
	return !memcmp(r->frame, mac->b, MAC_LEN);
}

/* With an anchor at taken[a]: oldest first, each frame after it takes the
 * buffers after it until their bytes make its header and bytes.  Returns
 * the count of trailing frames that took none, or -EPROTO. */
static int lost_after_anchor(const struct rxmatch_tail *t, const struct buffer_record *taken,
			     int a, const struct mac *mac)
{
	unsigned i = 0;
	int f;

	for (f = a - 1; f >= 0 && i < t->nafter; f--) {
		uint64_t need = (uint64_t)t->hdr_len + taken[f].len, sum = 0;
		unsigned k = i;

		while (sum < need && k < t->nafter)
			sum += t->after[k++];
		if (sum == need)
			i = k;
		else if (for_vm(&taken[f], mac))
			return -EPROTO;	/* the VM's own: it must have been there */
	}
	/* Every buffer after the anchor is a frame the reader took. */
	return i < t->nafter ? -EPROTO : f + 1;
}

/* Without an anchor: does the count h fit?  The frames before the h newest,
 * newest first, must make the buffers, newest first, into runs of their
 * bytes; the oldest buffers may be part of an older frame. */
static bool fits(const struct rxmatch_tail *t, const struct buffer_record *taken, int n, int h,
		 const struct mac *mac)
{
	int k = (int)t->nafter - 1, f;

	for (f = h; k >= 0 && f < n; f++) {
		uint64_t need = (uint64_t)t->hdr_len + taken[f].len, sum = 0;
		int k2 = k;

		while (sum < need && k2 >= 0)
			sum += t->after[k2--];
		if (sum == need)
			k = k2;
		else if (sum < need)
			return true;	/* the oldest buffers: part of an older frame */
		else if (for_vm(&taken[f], mac))
			return false;
	}
	return k < 0;
}

int rxmatch_lost(const struct rxmatch_tail *t, const struct buffer_record *taken,
		 const uint32_t *hashes, int n, const struct mac *mac, int *anchor)
{
	int a, h, found = -1, count = 0;

	*anchor = -1;
	if (t->len) {
		for (a = 0; a < n; a++)
			if (taken[a].len == t->len && hashes[a] == t->hash)
				break;
		if (a == n)
			return -ENOENT;
		*anchor = a;
		return lost_after_anchor(t, taken, a, mac);
	}
	for (h = 0; h <= RXMATCH_LOST_MAX && h <= n; h++)
		if (fits(t, taken, n, h, mac)) {
			count++;
			found = h;
		}
	return count == 1 ? found : count ? -EAGAIN : -EPROTO;
}
