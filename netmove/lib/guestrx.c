/* guestrx: the last frame in a guest's virtio-net RX ring (see guestrx.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netmove/guestrx.h"

/* Split virtqueue layout (virtio 1.0, 2.7). */
#define DESC_SIZE 16
#define DESC_F_NEXT 1
#define DESC_F_INDIRECT 4
#define USED_RING_OFF 4			/* flags, idx */
#define USED_ELEM_SIZE 8		/* id, len */
#define NUM_BUFFERS_OFF 10		/* in the 12-byte header */

/* Buffers of one frame walked back at most: a 64 KiB GSO frame in the
 * smallest mergeable buffers Linux posts (1536 bytes) fills 43. */
#define WALK_MAX 128
/* Descriptors in one chain at most (Linux's big-packet mode uses 19). */
#define SEGS_MAX 64

struct seg {
	uint64_t addr;
	uint32_t len;
};

/* One buffer the device filled: its descriptor chain and how much it wrote. */
struct filled {
	struct seg seg[SEGS_MAX];
	unsigned nseg;
	uint64_t cap;			/* room in the chain */
	uint32_t len;			/* bytes the device wrote (used ring) */
};

void guestrx_init(struct guestrx *g)
{
	memset(g, 0, sizeof(*g));
	g->memfd = -1;
}

int guestrx_open(struct guestrx *g, pid_t pid)
{
	char path[64];

	guestrx_close(g);
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	g->memfd = open(path, O_RDONLY | O_CLOEXEC);
	if (g->memfd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	return 0;
}

int guestrx_add_region(struct guestrx *g, uint64_t gpa, uint64_t size, uint64_t hva)
{
	size_t i;

	if (!size || gpa + size < gpa)
		return -EINVAL;
	for (i = 0; i < g->nregions; i++)
		if (gpa < g->region[i].gpa + g->region[i].size && g->region[i].gpa < gpa + size)
			return -EINVAL;
	if (g->nregions == GUESTRX_REGIONS)
		return -ENOSPC;
	g->region[g->nregions++] = (struct guestrx_region){ gpa, size, hva };
	return 0;
}

/* Read len bytes of guest memory at gpa, across regions if need be. */
static int read_gpa(const struct guestrx *g, uint64_t gpa, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		const struct guestrx_region *r = NULL;
		size_t i, n;
		ssize_t got;

		for (i = 0; i < g->nregions && !r; i++)
			if (gpa >= g->region[i].gpa && gpa - g->region[i].gpa < g->region[i].size)
				r = &g->region[i];
		if (!r)
			return -EFAULT;
		n = r->size - (gpa - r->gpa) < len ? (size_t)(r->size - (gpa - r->gpa)) : len;
		got = pread(g->memfd, p, n, (off_t)(r->hva + (gpa - r->gpa)));
		if (got < 0)
			return errno == EIO ? -EFAULT : -errno;
		if (got == 0)
			return -EFAULT;
		p += got;
		gpa += (uint64_t)got;
		len -= (size_t)got;
	}
	return 0;
}

static int read_desc(const struct guestrx *g, uint64_t table, uint32_t i, struct seg *s,
		     uint16_t *flags, uint16_t *next)
{
	uint8_t d[DESC_SIZE];
	uint64_t addr;
	uint32_t len;
	int ret = read_gpa(g, table + (uint64_t)i * DESC_SIZE, d, sizeof(d));

	if (ret < 0)
		return ret;
	memcpy(&addr, d, 8);
	memcpy(&len, d + 8, 4);
	memcpy(flags, d + 12, 2);
	memcpy(next, d + 14, 2);
	s->addr = le64toh(addr);
	s->len = le32toh(len);
	*flags = le16toh(*flags);
	*next = le16toh(*next);
	return 0;
}

/* The descriptor chain whose head is id: direct, chained, or one indirect table. */
static int read_chain(const struct guestrx *g, uint32_t id, struct filled *f)
{
	uint64_t table = g->desc;
	uint32_t i = id, size = g->num;
	uint16_t flags, next;
	bool indirect = false;
	struct seg s;
	int ret;

	f->nseg = 0;
	f->cap = 0;
	if (id >= g->num)
		return -EPROTO;
	for (;;) {
		ret = read_desc(g, table, i, &s, &flags, &next);
		if (ret < 0)
			return ret;
		if (flags & DESC_F_INDIRECT) {
			/* One level only, told by a flag: an indirect table at the
			 * ring's own address must not send us round it forever. */
			if (indirect || f->nseg || s.len % DESC_SIZE || !s.len)
				return -EPROTO;
			indirect = true;
			table = s.addr;
			size = s.len / DESC_SIZE;
			i = 0;
			continue;
		}
		if (f->nseg == SEGS_MAX)
			return -EPROTO;
		f->seg[f->nseg++] = s;
		f->cap += s.len;
		if (!(flags & DESC_F_NEXT))
			return 0;
		if (next >= size)
			return -EPROTO;
		i = next;
	}
}

/* Copy bytes [off, off + len) of a filled buffer out of the guest. */
static int read_filled(const struct guestrx *g, const struct filled *f, uint64_t off,
		       uint8_t *out, size_t len)
{
	unsigned i;
	int ret;

	for (i = 0; i < f->nseg && len; i++) {
		size_t n;

		if (off >= f->seg[i].len) {
			off -= f->seg[i].len;
			continue;
		}
		n = f->seg[i].len - off < len ? (size_t)(f->seg[i].len - off) : len;
		ret = read_gpa(g, f->seg[i].addr + off, out, n);
		if (ret < 0)
			return ret;
		out += n;
		len -= n;
		off = 0;
	}
	return len ? -EPROTO : 0;
}

/* A virtio-net header as the device writes it: known flags and GSO type. */
static bool header_sane(const uint8_t *h)
{
	uint8_t gso = h[1] & 0x7f;

	return !(h[0] & ~7u) && (gso == 0 || gso == 1 || gso == 3 || gso == 4 || gso == 5);
}

/* The heads the guest has handed to the device and the device has not
 * used yet (avail slots [used idx, avail idx)): their descriptors were
 * written anew, so the frames they carried before are gone.  Sets
 * posted[id]; returns 0 or a negative errno. */
static int read_posted(const struct guestrx *g, uint16_t used_idx, bool *posted)
{
	uint16_t avail_idx, n, k, id;
	int ret = read_gpa(g, g->avail + 2, &avail_idx, 2);

	if (ret < 0)
		return ret;
	n = (uint16_t)(le16toh(avail_idx) - used_idx);
	if (n > g->num)
		return -EPROTO;
	for (k = 0; k < n; k++) {
		ret = read_gpa(g, g->avail + 4 + (uint64_t)((used_idx + k) % g->num) * 2, &id, 2);
		if (ret < 0)
			return ret;
		id = le16toh(id);
		if (id < g->num)
			posted[id] = true;
	}
	return 0;
}

/* Whether used entry k (walk[k], newest first) is a readable buffer: the
 * guest has not posted its descriptor again, and it reads as a chain that
 * holds what the device wrote. */
static bool readable(const struct guestrx *g, const bool *posted, uint32_t id,
		     struct filled *f)
{
	return id < g->num && !posted[id] && read_chain(g, id, f) == 0 && f->len <= f->cap;
}

int guestrx_tail(const struct guestrx *g, uint8_t *frame, size_t cap, struct guestrx_tail *t)
{
	struct filled *walk = NULL;
	uint32_t ids[WALK_MAX], e[2];
	bool *posted = NULL;
	uint8_t hdr[12];
	uint16_t used_idx;
	uint64_t total = 0, off;
	unsigned j, n = 0, i, limit;
	int ret;

	memset(t, 0, sizeof(*t));
	if (g->memfd < 0 || !g->num)
		return -EBADF;
	if (g->hdr_len > sizeof(hdr) || g->hdr_len < 10)
		return -EINVAL;
	ret = read_gpa(g, g->used + 2, &used_idx, 2);
	if (ret < 0)
		return ret;
	used_idx = le16toh(used_idx);
	walk = calloc(WALK_MAX, sizeof(*walk));
	posted = calloc(g->num, sizeof(*posted));
	ret = -ENOMEM;
	if (!walk || !posted)
		goto out;
	ret = read_posted(g, used_idx, posted);
	if (ret < 0)
		goto out;
	limit = g->num < WALK_MAX ? g->num : WALK_MAX;
	/* Newest first: the first buffer (walk[j]) of the newest frame whose
	 * buffers are all still there, and whose header counts the buffers up
	 * to it.  The device fills every buffer of a frame but the last to the
	 * brim.  walk[k] is used entry used_idx - 1 - k. */
	for (j = 0; j < limit; j++) {
		struct filled *f = &walk[j];

		ret = read_gpa(g, g->used + USED_RING_OFF +
				  (uint64_t)((uint16_t)(used_idx - 1 - j) % g->num) * USED_ELEM_SIZE,
			       e, sizeof(e));
		if (ret < 0)
			goto out;
		ids[j] = le32toh(e[0]);
		f->len = le32toh(e[1]);
		f->nseg = 0;
		ret = -ENOENT;
		if (j == 0 && f->len == 0)
			goto out;
		if (!readable(g, posted, ids[j], f) || f->len < g->hdr_len ||
		    read_filled(g, f, 0, hdr, g->hdr_len) < 0 || !header_sane(hdr))
			continue;
		n = g->mergeable ? (unsigned)(hdr[NUM_BUFFERS_OFF] | hdr[NUM_BUFFERS_OFF + 1] << 8) : 1;
		if (!n || n > j + 1 || (n > 1 && f->len != f->cap))
			continue;
		/* Its other buffers: walk[j - 1] .. walk[j - n + 1]. */
		for (i = 1; i < n; i++) {
			struct filled *b = &walk[j - i];

			if (!readable(g, posted, ids[j - i], b) || (i < n - 1 && b->len != b->cap))
				break;
		}
		if (i == n)
			break;
	}
	if (j == limit || j + 1 - n > GUESTRX_AFTER_MAX) {
		/* No frame to read (the guest just posted its buffers again), or
		 * too far back: the lengths of the newest buffers alone. */
		for (i = limit < GUESTRX_AFTER_MAX ? limit : GUESTRX_AFTER_MAX; i-- > 0;)
			if (walk[i].len)
				t->after[t->nafter++] = walk[i].len;
		ret = t->nafter ? 0 : -ESTALE;
		goto out;
	}
	for (i = 0; i < n; i++)
		total += walk[j - i].len;
	ret = -E2BIG;
	if (total - g->hdr_len > cap)
		goto out;
	t->anchored = true;
	t->len = (size_t)(total - g->hdr_len);
	t->buffers = n;
	/* What the device wrote after it, oldest first. */
	for (i = j + 1 - n; i-- > 0;)
		t->after[t->nafter++] = walk[i].len;
	off = g->hdr_len;
	for (i = 0; i < n; i++) {
		const struct filled *b = &walk[j - i];

		ret = read_filled(g, b, off, frame, b->len - off);
		if (ret < 0)
			goto out;
		frame += b->len - off;
		off = 0;
	}
	ret = 0;
out:
	free(walk);
	free(posted);
	return ret;
}

void guestrx_close(struct guestrx *g)
{
	if (g->memfd >= 0)
		close(g->memfd);
	g->memfd = -1;
}
