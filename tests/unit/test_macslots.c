/* Unit tests for netmove/lib/macslots.c: the buffer's MAC table on maps of
 * the program's layout (nm_buffer.h), made here without the program.
 * Needs root (CAP_BPF) for the maps; no network (netns_helper.h for its
 * skip). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include <cmocka.h>

#include "macslots.h"
#include "netns_helper.h"

static const char *map_skip = "not set up";

struct table {
	int macs, slots;
	struct macslots m;
};

static struct mac mac_n(unsigned n)
{
	struct mac m = { { 0x02, 0x4e, 0x4d, 0x00, (uint8_t)(n >> 8), (uint8_t)n } };

	return m;
}

/* A table whose nm_macs holds macs_max entries (NM_MAX_SLOTS as the
 * program's does, fewer to make its update fail). */
static int table_make(struct table *t, uint32_t macs_max)
{
	LIBBPF_OPTS(bpf_map_create_opts, mmap_opts, .map_flags = BPF_F_MMAPABLE);

	memset(t, 0, sizeof(*t));
	t->macs = bpf_map_create(BPF_MAP_TYPE_HASH, "nm_macs", sizeof(struct nm_key),
				 sizeof(__u32), macs_max, NULL);
	t->slots = bpf_map_create(BPF_MAP_TYPE_ARRAY, "nm_slots", sizeof(__u32),
				  sizeof(struct nm_slot), NM_MAX_SLOTS, &mmap_opts);
	if (t->macs < 0 || t->slots < 0)
		return -errno;
	return macslots_map(&t->m, t->macs, t->slots);
}

static int setup(void **state)
{
	struct table *t = calloc(1, sizeof(*t));
	int ret;

	if (!t)
		return -1;
	ret = table_make(t, NM_MAX_SLOTS);
	if (ret < 0) {
		map_skip = geteuid() ? "needs root (CAP_BPF) to create BPF maps" :
				       "could not create the BPF maps";
		fprintf(stderr, "skip: %s: %s\n", map_skip, strerror(-ret));
	} else {
		map_skip = NULL;
	}
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct table *t = *state;

	macslots_unmap(&t->m);
	if (t->macs > 0)
		close(t->macs);
	if (t->slots > 0)
		close(t->slots);
	free(t);
	return 0;
}

#define NEED_MAPS() NEED_READY(map_skip)

/* What the program reads: nm_macs gives the index of the slot userspace
 * filled in, mode set before the MAC can be found. */
static void get_makes_one_slot(void **state)
{
	struct table *t = *state;
	struct mac a = mac_n(1);
	struct nm_slot *s, *again;
	struct nm_key key = { { 0x02, 0x4e, 0x4d, 0x00, 0x00, 0x01 }, 0 };
	__u32 idx = 0;

	NEED_MAPS();
	assert_int_equal(macslots_find(&t->m, &a, &s), -ENOENT);
	assert_null(s);
	assert_int_equal(macslots_get(&t->m, &a, NM_MODE_BUFFER, &s), 0);
	assert_non_null(s);
	assert_int_equal(s->used, 1);
	assert_int_equal(s->mode, NM_MODE_BUFFER);
	assert_memory_equal(s->mac, a.b, MAC_LEN);
	assert_int_equal(bpf_map_lookup_elem(t->macs, &key, &idx), 0);
	assert_true(idx >= 1 && idx < NM_MAX_SLOTS);
	assert_ptr_equal(macslots_at(&t->m, idx), s);
	/* A second get finds it and leaves its mode alone. */
	assert_int_equal(macslots_get(&t->m, &a, NM_MODE_DROP, &again), 0);
	assert_ptr_equal(again, s);
	assert_int_equal(s->mode, NM_MODE_BUFFER);
	assert_int_equal(macslots_find(&t->m, &a, &again), 0);
	assert_ptr_equal(again, s);
	assert_null(macslots_at(&t->m, 0));
	assert_null(macslots_at(&t->m, NM_MAX_SLOTS));
}

static void refuses_group_and_zero(void **state)
{
	struct table *t = *state;
	struct mac bcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	struct mac mcast = { { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 } };
	struct mac zero = { { 0 } };
	struct nm_slot *s;

	NEED_MAPS();
	assert_int_equal(macslots_get(&t->m, &bcast, NM_MODE_BUFFER, &s), -EINVAL);
	assert_int_equal(macslots_get(&t->m, &mcast, NM_MODE_BUFFER, &s), -EINVAL);
	assert_int_equal(macslots_get(&t->m, &zero, NM_MODE_BUFFER, &s), -EINVAL);
	assert_int_equal(macslots_list(&t->m, NULL, 0), 0);
}

/* Every slot but 0 can be given; then -ENOSPC until one is forgotten, and
 * the freed slot is given again, cleared. */
static void full_then_reuse(void **state)
{
	struct table *t = *state;
	struct mac got[4], extra = mac_n(999);
	struct nm_slot *s, *freed;
	unsigned i;

	NEED_MAPS();
	for (i = 1; i < NM_MAX_SLOTS; i++) {
		struct mac m = mac_n(i);

		assert_int_equal(macslots_get(&t->m, &m, NM_MODE_PASS, &s), 0);
		s->c.buffered = i;
	}
	assert_int_equal(macslots_list(&t->m, got, 4), NM_MAX_SLOTS - 1);
	assert_memory_equal(got[0].b, mac_n(1).b, MAC_LEN);
	assert_int_equal(macslots_get(&t->m, &extra, NM_MODE_PASS, &s), -ENOSPC);

	struct mac m7 = mac_n(7);

	assert_int_equal(macslots_find(&t->m, &m7, &freed), 0);
	assert_int_equal(freed->c.buffered, 7);
	assert_int_equal(macslots_forget(&t->m, &m7), 0);
	assert_int_equal(macslots_find(&t->m, &m7, &s), -ENOENT);
	assert_int_equal(macslots_forget(&t->m, &m7), -ENOENT);
	assert_int_equal(freed->used, 0);
	assert_int_equal(macslots_list(&t->m, NULL, 0), NM_MAX_SLOTS - 2);

	assert_int_equal(macslots_get(&t->m, &extra, NM_MODE_DRAIN, &s), 0);
	assert_ptr_equal(s, freed);
	assert_int_equal(s->c.buffered, 0);
	assert_int_equal(s->mode, NM_MODE_DRAIN);
	assert_memory_equal(s->mac, extra.b, MAC_LEN);
}

/* An index in nm_macs that no slot can have is an error, not a pointer. */
static void bad_index_is_eio(void **state)
{
	struct table *t = *state;
	struct mac a = mac_n(42);
	struct nm_key key = { { 0x02, 0x4e, 0x4d, 0x00, 0x00, 42 }, 0 };
	__u32 bad[] = { 0, NM_MAX_SLOTS, 0xffffffffu };
	struct nm_slot *s;

	NEED_MAPS();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bpf_map_update_elem(t->macs, &key, &bad[i], BPF_ANY), 0);
		assert_int_equal(macslots_find(&t->m, &a, &s), -EIO);
		assert_int_equal(macslots_get(&t->m, &a, NM_MODE_PASS, &s), -EIO);
		assert_int_equal(macslots_forget(&t->m, &a), -EIO);
	}
}

/* When nm_macs refuses the entry the slot is given back. */
static void failed_insert_frees_slot(void **state)
{
	struct table *t = *state, small;
	struct mac a = mac_n(1), b = mac_n(2);
	struct nm_slot *s;

	NEED_MAPS();
	(void)t;
	assert_int_equal(table_make(&small, 1), 0);
	assert_int_equal(macslots_get(&small.m, &a, NM_MODE_BUFFER, &s), 0);
	assert_int_equal(macslots_get(&small.m, &b, NM_MODE_BUFFER, &s), -E2BIG);
	assert_int_equal(macslots_list(&small.m, NULL, 0), 1);
	macslots_unmap(&small.m);
	close(small.macs);
	close(small.slots);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(get_makes_one_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_group_and_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(full_then_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_index_is_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(failed_insert_frees_slot, setup, teardown),
	};

	return cmocka_run_group_tests_name("macslots", tests, NULL, NULL);
}
