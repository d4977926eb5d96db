/* bufring: a BPF ring buffer consumed through its memory mapping (see
 * bufring.h). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "bufring.h"

int bufring_map(struct bufring *r, int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	int ret = 0;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0) {
		ret = -errno;
		goto out;
	}
	r->size = info.max_entries;
	r->cons_map = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->cons_map == MAP_FAILED) {
		r->cons_map = NULL;
		ret = -errno;
		goto out;
	}
	/* The kernel maps the data pages twice so a record never wraps. */
	r->prod_len = pg + 2 * r->size;
	r->prod_map = mmap(NULL, r->prod_len, PROT_READ, MAP_SHARED, fd, (off_t)pg);
	if (r->prod_map == MAP_FAILED) {
		r->prod_map = NULL;
		ret = -errno;
		goto out;
	}
	r->cons = r->cons_map;
	r->prod = r->prod_map;
	r->data = (const uint8_t *)r->prod_map + pg;
out:
	return ret;
}

void bufring_unmap(struct bufring *r)
{
	if (r->cons_map)
		munmap(r->cons_map, (size_t)sysconf(_SC_PAGESIZE));
	if (r->prod_map)
		munmap(r->prod_map, r->prod_len);
	r->cons_map = r->prod_map = NULL;
}

uint64_t bufring_used(const struct bufring *r)
{
	return __atomic_load_n(r->prod, __ATOMIC_ACQUIRE) - __atomic_load_n(r->cons, __ATOMIC_ACQUIRE);
}




int bufring_peek(struct bufring *r, struct bufring_ent *e, int max)
{
	unsigned long cons = *r->cons, prod;
	int n = 0;

	while (n < max) {
		const uint8_t *hdr;
		uint32_t hlen, len;

		prod = __atomic_load_n(r->prod, __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		hdr = r->data + (cons & (r->size - 1));
		hlen = __atomic_load_n((const uint32_t *)hdr, __ATOMIC_ACQUIRE);
		if (hlen & BPF_RINGBUF_BUSY_BIT)
			break;
		len = hlen & ~(uint32_t)(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
		cons += (BPF_RINGBUF_HDR_SZ + len + 7) & ~7u;
		if (hlen & BPF_RINGBUF_DISCARD_BIT) {
			if (n)
				e[n - 1].next = cons;
			else
				__atomic_store_n(r->cons, cons, __ATOMIC_RELEASE);
			continue;
		}
		e[n].data = hdr + BPF_RINGBUF_HDR_SZ;
		e[n].len = len;
		e[n].next = cons;
		n++;
	}
	return n;
}

void bufring_advance(struct bufring *r, const struct bufring_ent *e)
{
	__atomic_store_n(r->cons, e->next, __ATOMIC_RELEASE);
}

int bufring_consume(struct bufring *r, bufring_fn fn, void *arg, int max)
{
	struct bufring_ent e;
	int n = 0, ret;

	while (n < max && bufring_peek(r, &e, 1) == 1 && fn) {
		ret = fn(arg, e.data, e.len);
		if (ret < 0)
			return ret;
		bufring_advance(r, &e);
		n++;
	}
	return n;
}
