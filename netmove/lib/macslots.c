/* macslots: the buffer's per-MAC table (see macslots.h). */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/membarrier.h>
#include <bpf/bpf.h>

#include "netmove/timeutil.h"
#include "macslots.h"

static void key_of(const struct mac *mac, struct nm_key *key)
{
	memset(key, 0, sizeof(*key));
	memcpy(key->mac, mac->b, sizeof(key->mac));
}

int macslots_map(struct macslots *m, int macs_fd, int slots_fd)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (sizeof(struct nm_slot) * NM_MAX_SLOTS + pg - 1) / pg * pg;
	void *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, slots_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	m->macs_fd = macs_fd;
	m->slot = p;
	m->map_len = len;
	return 0;
}

void macslots_unmap(struct macslots *m)
{
	if (m->slot)
		munmap(m->slot, m->map_len);
	m->slot = NULL;
	m->map_len = 0;
}

int macslots_find(struct macslots *m, const struct mac *mac, struct nm_slot **out)
{
	struct nm_key key;
	__u32 idx;

	*out = NULL;
	key_of(mac, &key);
	if (bpf_map_lookup_elem(m->macs_fd, &key, &idx) < 0)
		return -errno;
	if (idx == 0 || idx >= NM_MAX_SLOTS)
		return -EIO;
	*out = &m->slot[idx];
	return 0;
}

int macslots_get(struct macslots *m, const struct mac *mac, uint32_t mode,
		 struct nm_slot **out)
{
	struct nm_key key;
	struct nm_slot *s;
	__u32 idx;
	int ret;

	ret = macslots_find(m, mac, out);
	if (ret != -ENOENT)
		return ret;
	if (mac_is_multicast(mac) || mac_is_zero(mac))
		return -EINVAL;
	for (idx = 1; idx < NM_MAX_SLOTS; idx++)
		if (!__atomic_load_n(&m->slot[idx].used, __ATOMIC_ACQUIRE))
			break;
	if (idx == NM_MAX_SLOTS)
		return -ENOSPC;
	s = &m->slot[idx];
	/* Fully initialised before the program can find it through nm_macs. */
	memset(s, 0, sizeof(*s));
	memcpy(s->mac, mac->b, sizeof(s->mac));
	s->mode = mode;
	__atomic_store_n(&s->used, 1, __ATOMIC_RELEASE);
	key_of(mac, &key);
	if (bpf_map_update_elem(m->macs_fd, &key, &idx, BPF_NOEXIST) < 0) {
		ret = -errno;
		__atomic_store_n(&s->used, 0, __ATOMIC_RELEASE);
		return ret;
	}
	*out = s;
	return 0;
}

int macslots_forget(struct macslots *m, const struct mac *mac)
{
	struct nm_key key;
	struct nm_slot *s;
	int ret;

	ret = macslots_find(m, mac, &s);
	if (ret < 0)
		return ret;
	key_of(mac, &key);
	if (bpf_map_delete_elem(m->macs_fd, &key) < 0)
		return -errno;
	/* A run that found the slot before the delete may still count into it. */
	macslots_quiesce();
	memset(s, 0, sizeof(*s));
	return 0;
}

struct nm_slot *macslots_at(struct macslots *m, uint32_t idx)
{
	return idx > 0 && idx < NM_MAX_SLOTS ? &m->slot[idx] : NULL;
}

size_t macslots_list(const struct macslots *m, struct mac *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 1; i < NM_MAX_SLOTS; i++) {
		if (!__atomic_load_n(&m->slot[i].used, __ATOMIC_ACQUIRE))
			continue;
		if (n < cap)
			memcpy(out[n].b, m->slot[i].mac, MAC_LEN);
		n++;
	}
	return n;
}

void macslots_quiesce(void)
{
	/* MEMBARRIER_CMD_GLOBAL waits for an RCU grace period: every program run
	 * that read the old map state has finished when it returns. */
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) < 0)
		nanosleep(&(struct timespec){ .tv_nsec = 2 * NSEC_PER_MSEC }, NULL);
}
