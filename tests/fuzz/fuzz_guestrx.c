/* libFuzzer harness: guestrx_tail, which reads a stopped guest's virtio-net
 * RX ring out of its VMM's memory: every byte of the ring and the buffers
 * is the guest's to write.
 *
 * Input: a configuration (ring size, header length, mergeable buffers, the
 * frame buffer's size, 1-4 RAM regions, the ring parts' addresses), then
 * the memory image, which goes into a memfd that stands for /proc/PID/mem
 * (struct guestrx reads through its memfd with pread).  Built with
 * -Wl,--wrap=pread (Makefile): every read of the image must lie inside one
 * region's [hva, hva + size).  Invariants: the result is one of those
 * guestrx.h lists; the frame (a buffer of exactly cap bytes, for ASan) gets
 * at most cap bytes; the anchor's buffers and those after it fit in the
 * ring and in what is walked; without an anchor only non-zero lengths of
 * the newest GUESTRX_AFTER_MAX buffers; the same memory gives the same
 * answer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "netmove/guestrx.h"

#define CONF_LEN 27

static struct guestrx g;
static int image_fd = -1;

ssize_t __real_pread(int fd, void *buf, size_t count, off_t offset);

ssize_t __wrap_pread(int fd, void *buf, size_t count, off_t offset)
{
	size_t i;

	if (fd == image_fd) {
		for (i = 0; i < g.nregions; i++)
			if ((uint64_t)offset >= g.region[i].hva &&
			    count <= g.region[i].size &&
			    (uint64_t)offset - g.region[i].hva <= g.region[i].size - count)
				break;
		if (i == g.nregions || offset < 0) {
			fprintf(stderr, "pread of %zu bytes at %lld: in no region\n", count,
				(long long)offset);
			abort();
		}
	}
	return __real_pread(fd, buf, count, offset);
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static void check(int ret, const struct guestrx_tail *t, size_t cap)
{
	unsigned walked = g.num < 128 ? g.num : 128;

	if (ret != 0 && ret != -ENOENT && ret != -ESTALE && ret != -E2BIG && ret != -EPROTO &&
	    ret != -EFAULT && ret != -ENOMEM && !(ret == -EINVAL && g.hdr_len != 10 && g.hdr_len != 12))
		abort();
	if (ret)
		return;
	if (t->nafter > GUESTRX_AFTER_MAX)
		abort();
	if (t->anchored) {
		if (t->len > cap || !t->buffers || t->buffers + t->nafter > walked ||
		    (!g.mergeable && t->buffers != 1))
			abort();
	} else {
		unsigned i;

		if (t->len || t->buffers || !t->nafter || t->nafter > walked)
			abort();
		for (i = 0; i < t->nafter; i++)
			if (!t->after[i])
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guestrx_tail t, t2;
	uint8_t *frame, *frame2;
	size_t cap, nreg, i;
	int ret, ret2;

	if (size < CONF_LEN)
		return 0;
	if (image_fd < 0) {
		image_fd = memfd_create("fuzz_guestrx", MFD_CLOEXEC);
		if (image_fd < 0)
			abort();
	}
	if (ftruncate(image_fd, 0) < 0 ||
	    pwrite(image_fd, data + CONF_LEN, size - CONF_LEN, 0) != (ssize_t)(size - CONF_LEN))
		abort();
	guestrx_init(&g);
	g.num = (uint16_t)(1u << (data[0] % 9));
	g.mergeable = data[1] & 1;
	g.hdr_len = data[1] & 2 ? 12 : 10;
	if (data[1] & 4)
		g.hdr_len = data[1] >> 3;	/* out of range: must be refused */
	cap = get16(data + 2);
	nreg = data[4] % 4 + 1;
	for (i = 0; i < nreg; i++) {
		const uint8_t *r = data + 5 + 4 * i;

		/* gpa, size (64 KiB, or a smaller one), hva: offsets in the image */
		guestrx_add_region(&g, (uint64_t)r[0] << 12, r[1] ? r[1] * 16u : 65536,
				   get16(r + 2));
	}
	g.desc = get16(data + 21) * 4ull;
	g.avail = get16(data + 23) * 4ull;
	g.used = get16(data + 25) * 4ull;
	g.memfd = image_fd;

	frame = malloc(cap ? cap : 1);
	frame2 = malloc(cap ? cap : 1);
	if (!frame || !frame2)
		abort();
	ret = guestrx_tail(&g, frame, cap, &t);
	check(ret, &t, cap);
	ret2 = guestrx_tail(&g, frame2, cap, &t2);
	if (ret2 != ret || memcmp(&t, &t2, sizeof(t)) ||
	    (!ret && t.anchored && memcmp(frame, frame2, t.len)))
		abort();
	free(frame);
	free(frame2);
	return 0;
}
