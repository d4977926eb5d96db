/* guestrx: the last frame in a virtio-net RX ring, read out of a VMM's
 * memory.  The "guest RAM" here is a buffer of this process, read through
 * /proc/self/mem as netmove reads QEMU's, and filled the way QEMU's
 * virtio-net fills a split ring: buffers taken in avail order, each filled
 * to the brim but the last, the header (num_buffers) in the first. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "netmove/guestrx.h"

#define RAM_SIZE (1u << 20)
#define GPA_BASE 0x100000ull		/* guest-physical address of ram[0] */
#define DESC 0x1000ull			/* ring parts, offsets into ram */
#define AVAIL 0x2000ull
#define USED 0x3000ull
#define BUFS 0x10000ull			/* the rx buffers */
#define BUF_LEN 1536u
#define NUM 8u

static uint8_t *ram;
static uint16_t used_idx, next_avail, avail_idx;

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = ram + table + 16 * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &f, 2);
	memcpy(d + 14, &n, 2);
}

static void set_avail_idx(uint16_t v)
{
	uint16_t le = htole16(v);

	avail_idx = v;
	memcpy(ram + AVAIL + 2, &le, 2);
}

/* The device used everything the guest posted (nothing pending). */
static void set_used_idx(uint16_t v)
{
	uint16_t le = htole16(v);

	used_idx = v;
	memcpy(ram + USED + 2, &le, 2);
	set_avail_idx(v);
}

/* The guest posts descriptor id again (a refill): its old bytes are gone. */
static void repost(uint16_t id)
{
	uint16_t le = htole16(id);

	memcpy(ram + AVAIL + 4 + 2 * (avail_idx % NUM), &le, 2);
	set_avail_idx((uint16_t)(avail_idx + 1));
}

/* One buffer a descriptor, as Linux posts mergeable buffers. */
static int setup(void **state)
{
	unsigned i;

	(void)state;
	ram = calloc(1, RAM_SIZE);
	assert_non_null(ram);
	for (i = 0; i < NUM; i++)
		put_desc(DESC, i, GPA_BASE + BUFS + i * 2048, BUF_LEN, 2 /* write */, 0);
	used_idx = next_avail = avail_idx = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

/* The ring in ram, as one region or (split, not 0) as two that meet there. */
static void open_split_ring(struct guestrx *g, bool mergeable, uint64_t split)
{
	uint64_t first = split ? split : RAM_SIZE;

	guestrx_init(g);
	assert_int_equal(guestrx_open(g, getpid()), 0);
	assert_int_equal(guestrx_add_region(g, GPA_BASE, first, (uint64_t)(uintptr_t)ram), 0);
	if (split)
		assert_int_equal(guestrx_add_region(g, GPA_BASE + split, RAM_SIZE - split,
						    (uint64_t)(uintptr_t)(ram + split)), 0);
	g->desc = GPA_BASE + DESC;
	g->avail = GPA_BASE + AVAIL;
	g->used = GPA_BASE + USED;
	g->num = NUM;
	g->hdr_len = 12;
	g->mergeable = mergeable;
}

static void open_ring(struct guestrx *g, bool mergeable)
{
	open_split_ring(g, mergeable, 0);
}

/* What the device does with one frame: fill buffers, then publish them. */
static void device_fill(const uint8_t *frame, size_t len, uint16_t gso_type)
{
	uint8_t hdr[12] = { 0 };
	size_t total = len + sizeof(hdr), off = 0;
	unsigned n = (unsigned)((total + BUF_LEN - 1) / BUF_LEN), k;

	hdr[1] = (uint8_t)gso_type;
	hdr[10] = (uint8_t)n;
	for (k = 0; k < n; k++) {
		unsigned id = next_avail++ % NUM;
		uint8_t *b = ram + BUFS + id * 2048;
		size_t fill = total - off < BUF_LEN ? total - off : BUF_LEN, i;
		uint32_t e[2] = { htole32(id), htole32((uint32_t)fill) };

		for (i = 0; i < fill; i++, off++)
			b[i] = off < sizeof(hdr) ? hdr[off] : frame[off - sizeof(hdr)];
		memcpy(ram + USED + 4 + 8 * ((used_idx + k) % NUM), e, sizeof(e));
	}
	set_used_idx((uint16_t)(used_idx + n));
}

static void make(uint8_t *f, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* The anchor is want (bufs buffers), with nafter buffers after it. */
static void expect_anchor(struct guestrx *g, const uint8_t *want, size_t want_len, unsigned bufs,
			  unsigned nafter, struct guestrx_tail *t)
{
	static uint8_t got[GUESTRX_FRAME_MAX];

	assert_int_equal(guestrx_tail(g, got, sizeof(got), t), 0);
	assert_int_equal(t->len, want_len);
	assert_int_equal(t->buffers, bufs);
	assert_int_equal(t->nafter, nafter);
	assert_memory_equal(got, want, want_len);
}

static void expect_last(struct guestrx *g, const uint8_t *want, size_t want_len, unsigned bufs)
{
	struct guestrx_tail t;

	expect_anchor(g, want, want_len, bufs, 0, &t);
}

static int tail_of(struct guestrx *g, uint8_t *out, size_t cap)
{
	struct guestrx_tail t;

	return guestrx_tail(g, out, cap, &t);
}

/* No frame readable: the lengths of the newest buffers alone (newest last). */
static void expect_lengths(struct guestrx *g, unsigned n, uint32_t newest)
{
	static uint8_t got[GUESTRX_FRAME_MAX];
	struct guestrx_tail t;

	assert_int_equal(guestrx_tail(g, got, sizeof(got), &t), 0);
	assert_false(t.anchored);
	assert_int_equal(t.len, 0);
	assert_int_equal(t.nafter, n);
	assert_int_equal(t.after[n - 1], newest);
}

static void nothing_yet(void **state)
{
	struct guestrx g;
	uint8_t f[64];

	(void)state;
	open_ring(&g, true);
	assert_int_equal(tail_of(&g, f, sizeof(f)), -ENOENT);
	guestrx_close(&g);
}

static void last_of_several(void **state)
{
	uint8_t a[98], b[60];
	struct guestrx g;

	(void)state;
	open_ring(&g, true);
	make(a, sizeof(a), 1);
	make(b, sizeof(b), 2);
	device_fill(a, sizeof(a), 0);
	expect_last(&g, a, sizeof(a), 1);
	device_fill(b, sizeof(b), 0);
	expect_last(&g, b, sizeof(b), 1);
	guestrx_close(&g);
}

/* A GSO frame over three mergeable buffers, after a small one. */
static void spans_buffers(void **state)
{
	static uint8_t big[4000];
	uint8_t small[70];
	struct guestrx g;

	(void)state;
	open_ring(&g, true);
	make(small, sizeof(small), 3);
	make(big, sizeof(big), 4);
	device_fill(small, sizeof(small), 0);
	device_fill(big, sizeof(big), 1 /* TCPv4 */);
	expect_last(&g, big, sizeof(big), 3);
	/* Its tail alone, shorter than a header, is not taken for a frame. */
	device_fill(big, 2 * BUF_LEN - 12 + 5, 1);
	expect_last(&g, big, 2 * BUF_LEN - 12 + 5, 3);
	guestrx_close(&g);
}

/* The free-running used index wraps at 65536. */
static void index_wraps(void **state)
{
	uint8_t a[200], b[3000];
	struct guestrx g;

	(void)state;
	open_ring(&g, true);
	set_used_idx(65535);
	next_avail = 65535 % NUM;
	make(a, sizeof(a), 5);
	make(b, sizeof(b), 6);
	device_fill(a, sizeof(a), 0);
	assert_int_equal(used_idx, 0);
	expect_last(&g, a, sizeof(a), 1);
	device_fill(b, sizeof(b), 0);
	expect_last(&g, b, sizeof(b), 2);
	guestrx_close(&g);
}

/* Without mergeable buffers a frame is one chain (Linux's big packets: the
 * header in its own descriptor), or an indirect table. */
static void chains_and_indirect(void **state)
{
	uint8_t f[900], hdr[12] = { 0 };
	struct guestrx g;
	uint32_t e[2];

	(void)state;
	open_ring(&g, false);
	make(f, sizeof(f), 7);
	put_desc(DESC, 0, GPA_BASE + BUFS, 12, 2 | 1, 1);
	put_desc(DESC, 1, GPA_BASE + BUFS + 0x1000, 500, 2 | 1, 2);
	put_desc(DESC, 2, GPA_BASE + BUFS + 0x3000, 4096, 2, 0);
	memcpy(ram + BUFS, hdr, 12);
	memcpy(ram + BUFS + 0x1000, f, 500);
	memcpy(ram + BUFS + 0x3000, f + 500, 400);
	e[0] = htole32(0);
	e[1] = htole32(12 + 900);
	memcpy(ram + USED + 4, e, 8);
	set_used_idx(1);
	expect_last(&g, f, sizeof(f), 1);
	/* The same buffers behind an indirect descriptor. */
	put_desc(0x5000, 0, GPA_BASE + BUFS, 12, 2 | 1, 1);
	put_desc(0x5000, 1, GPA_BASE + BUFS + 0x1000, 500, 2 | 1, 2);
	put_desc(0x5000, 2, GPA_BASE + BUFS + 0x3000, 4096, 2, 0);
	put_desc(DESC, 3, GPA_BASE + 0x5000, 3 * 16, 4, 0);
	e[0] = htole32(3);
	memcpy(ram + USED + 4 + 8, e, 8);
	set_used_idx(2);
	expect_last(&g, f, sizeof(f), 1);
	guestrx_close(&g);
}

static void bad_rings(void **state)
{
	uint8_t f[100], out[64];
	struct guestrx g;
	uint32_t e[2];

	(void)state;
	open_ring(&g, true);
	make(f, sizeof(f), 8);
	device_fill(f, sizeof(f), 0);
	/* Longer than the caller's room. */
	assert_int_equal(tail_of(&g, out, sizeof(out)), -E2BIG);
	/* A header that counts buffers the ring does not show: no frame to
	 * read, the length alone. */
	ram[BUFS + 10] = 3;
	expect_lengths(&g, 1, 12 + sizeof(f));
	ram[BUFS + 10] = 1;
	/* A descriptor index out of the ring: not readable either. */
	e[0] = htole32(NUM + 1);
	e[1] = htole32(112);
	memcpy(ram + USED + 4, e, 8);
	expect_lengths(&g, 1, 112);
	/* More posted than the ring holds. */
	set_avail_idx((uint16_t)(used_idx + NUM + 1));
	assert_int_equal(tail_of(&g, out, sizeof(out)), -EPROTO);
	set_avail_idx(used_idx);
	/* A buffer in no RAM region. */
	e[0] = htole32(0);
	memcpy(ram + USED + 4, e, 8);
	put_desc(DESC, 0, 0x40000000, BUF_LEN, 2, 0);
	expect_lengths(&g, 1, 112);
	guestrx_close(&g);
	assert_int_equal(tail_of(&g, out, sizeof(out)), -EBADF);
}

/* The guest posted the last frames' descriptors again (a refill): the
 * newest frame still there is the anchor, and the lengths after it say what
 * came next. */
static void reposted_buffers(void **state)
{
	static uint8_t big[3000];
	uint8_t a[300], b[120], c[90];
	struct guestrx_tail t;
	struct guestrx g;

	(void)state;
	open_ring(&g, true);
	make(a, sizeof(a), 10);
	make(big, sizeof(big), 11);
	make(b, sizeof(b), 12);
	make(c, sizeof(c), 13);
	device_fill(a, sizeof(a), 0);		/* id 0 */
	device_fill(big, sizeof(big), 0);	/* ids 1, 2 */
	device_fill(b, sizeof(b), 0);		/* id 3 */
	device_fill(c, sizeof(c), 0);		/* id 4 */
	repost(4);
	repost(3);
	expect_anchor(&g, big, sizeof(big), 2, 2, &t);
	assert_int_equal(t.after[0], 12 + sizeof(b));
	assert_int_equal(t.after[1], 12 + sizeof(c));
	/* One buffer of the big frame posted again: the one before is the anchor. */
	repost(2);
	expect_anchor(&g, a, sizeof(a), 1, 4, &t);
	assert_int_equal(t.after[0], BUF_LEN);
	assert_int_equal(t.after[1], 12 + sizeof(big) - BUF_LEN);
	/* All posted again: the lengths of the five buffers alone. */
	repost(0);
	repost(1);
	expect_lengths(&g, 5, 12 + sizeof(c));
	guestrx_close(&g);
}

static void regions(void **state)
{
	struct guestrx g;
	unsigned i;

	(void)state;
	guestrx_init(&g);
	assert_int_equal(guestrx_add_region(&g, 0, 0, 0), -EINVAL);
	assert_int_equal(guestrx_add_region(&g, 0x1000, 0x1000, 0), 0);
	assert_int_equal(guestrx_add_region(&g, 0x1800, 0x1000, 0), -EINVAL);
	for (i = 1; i < GUESTRX_REGIONS; i++)
		assert_int_equal(guestrx_add_region(&g, 0x10000ull * (i + 1), 0x1000, 0), 0);
	assert_int_equal(guestrx_add_region(&g, 0x10000000, 0x1000, 0), -ENOSPC);
	assert_int_equal(guestrx_open(&g, 0x7ffffff0), -ESRCH);
}

/* Guest RAM in two regions: a buffer that straddles them is read whole. */
static void across_regions(void **state)
{
	uint8_t f[1200];
	struct guestrx g;

	(void)state;
	open_split_ring(&g, true, BUFS + 600);
	make(f, sizeof(f), 9);
	device_fill(f, sizeof(f), 0);
	expect_last(&g, f, sizeof(f), 1);
	guestrx_close(&g);
}

/* An indirect descriptor whose table is the ring's own descriptor table
 * (the guest writes both): one level only, not a walk round it forever. */
static void indirect_into_ring(void **state)
{
	uint8_t out[64];
	struct guestrx g;
	uint32_t e[2] = { htole32(0), htole32(112) };

	(void)state;
	open_ring(&g, false);
	put_desc(DESC, 0, GPA_BASE + DESC, NUM * 16, 4, 0);
	memcpy(ram + USED + 4, e, 8);
	set_used_idx(1);
	expect_lengths(&g, 1, 112);
	/* Nor the same table through another indirect entry of it. */
	put_desc(DESC, 1, GPA_BASE + DESC, NUM * 16, 4, 0);
	put_desc(DESC, 0, GPA_BASE + DESC + 16, 16, 4, 0);
	expect_lengths(&g, 1, 112);
	assert_int_equal(tail_of(&g, out, sizeof(out)), 0);
	guestrx_close(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(nothing_yet, setup, teardown),
		cmocka_unit_test_setup_teardown(last_of_several, setup, teardown),
		cmocka_unit_test_setup_teardown(spans_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(index_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(chains_and_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(indirect_into_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(reposted_buffers, setup, teardown),
		cmocka_unit_test(regions),
		cmocka_unit_test_setup_teardown(across_regions, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
