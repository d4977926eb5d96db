/* qemu_nic: the questions put to QEMU's monitor about a NIC's RX ring, and
 * how their answers are read.  The monitor here answers as QEMU 7.2 did on
 * the testbed (x-query-virtio*, qom-get, info mtree -f, gpa2hva). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "qemu_nic.h"

#define NIC "/machine/peripheral-anon/device[0]/virtio-backend"

/* What the fake QEMU says. */
struct fake {
	const char *mac;		/* its NIC's MAC */
	const char *transports;		/* JSON array of transport features */
	const char *statuses;		/* JSON array of device statuses */
	const char *mtree;		/* info mtree -f */
	int calls;
};

static const char mtree_72[] =
	"FlatView #0\r\n"
	" AS \"i440FX\", root: bus master container\r\n"
	" Root memory region: (none)\r\n"
	"  No rendered FlatView\r\n"
	"\r\n"
	"FlatView #1\r\n"
	" AS \"memory\", root: system\r\n"
	" AS \"cpu-memory-0\", root: system\r\n"
	" Root memory region: system\r\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\r\n"
	"  00000000000c0000-00000000000c0fff (prio 0, rom): pc.ram @00000000000c0000\r\n"
	"  0000000000100000-000000000fffffff (prio 0, ram): pc.ram @0000000000100000\r\n"
	"  00000000febc0000-00000000febc003f (prio 0, i/o): msix-table\r\n"
	"  0000000100000000-000000017fffffff (prio 0, ram): pc.ram @0000000010000000\r\n"
	"\r\n"
	"FlatView #2\r\n"
	" AS \"cpu-smm-0\", root: memory\r\n"
	" Root memory region: memory\r\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\r\n";

static const char ready[] =
	"[\"VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found\","
	"\"VIRTIO_CONFIG_S_DRIVER_OK: Driver setup and ready\"]";
static const char split[] =
	"[\"VIRTIO_RING_F_EVENT_IDX: Used & avail. event fields enabled\","
	"\"VIRTIO_F_VERSION_1: Device compliant for v1 spec (legacy)\"]";

static int fake_monitor(void *arg, const char *cmd, json_t *args, json_t **ret, char *err,
			size_t errlen)
{
	struct fake *f = arg;
	json_error_t je;
	char buf[2048];

	f->calls++;
	*ret = NULL;
	if (!strcmp(cmd, "x-query-virtio")) {
		*ret = json_pack("[{s:s,s:s},{s:s,s:s}]", "name", "virtio-blk", "path", "/blk",
				 "name", "virtio-net", "path", NIC);
	} else if (!strcmp(cmd, "qom-get")) {
		*ret = json_string(f->mac);
	} else if (!strcmp(cmd, "x-query-virtio-status")) {
		snprintf(buf, sizeof(buf),
			 "{\"status\":{\"statuses\":%s},\"guest-features\":{\"dev-features\":"
			 "[\"VIRTIO_NET_F_MRG_RXBUF: Driver can merge receive buffers\"],"
			 "\"transports\":%s}}", f->statuses, f->transports);
		*ret = json_loads(buf, 0, &je);
	} else if (!strcmp(cmd, "x-query-virtio-queue-status")) {
		assert_string_equal(json_string_value(json_object_get(args, "path")), NIC);
		*ret = json_pack("{s:I,s:I,s:I,s:i}", "vring-desc", (json_int_t)42909696,
				 "vring-avail", (json_int_t)42913792, "vring-used",
				 (json_int_t)42914368, "vring-num", 256);
	} else if (!strcmp(cmd, "human-monitor-command")) {
		const char *line = json_string_value(json_object_get(args, "command-line"));
		unsigned long long gpa;

		if (!strcmp(line, "info mtree -f")) {
			*ret = json_string(f->mtree);
		} else if (sscanf(line, "gpa2hva %llx", &gpa) == 1) {
			snprintf(buf, sizeof(buf), "Host virtual address for 0x%llx (pc.ram) is 0x%llx\r\n",
				 gpa, 0x7f0000000000ull + gpa);
			*ret = json_string(buf);
		}
	}
	json_decref(args);
	if (*ret)
		return 0;
	snprintf(err, errlen, "%s: not known to the fake", cmd);
	return -EPROTO;
}

/* Ask the fake QEMU for the ring of the NIC 52:54:00:00:00:70. */
static int ask(struct fake *f, struct guestrx *g, char *err, size_t errlen)
{
	struct mac m;

	guestrx_init(g);
	assert_int_equal(mac_parse("52:54:00:00:00:70", &m), 0);
	return qemu_nic_rx_ring(g, &m, fake_monitor, f, err, errlen);
}

static void learns_the_ring(void **state)
{
	struct fake f = { "52:54:00:00:00:70", split, ready, mtree_72, 0 };
	struct guestrx g;
	char err[256] = "";

	(void)state;
	assert_int_equal(ask(&f, &g, err, sizeof(err)), 0);
	assert_int_equal(g.num, 256);
	assert_true(g.mergeable);
	assert_int_equal(g.hdr_len, 12);
	assert_int_equal(g.used, 42914368);
	/* The RAM entries of the flat view of "memory" only, not its rom. */
	assert_int_equal(g.nregions, 3);
	assert_int_equal(g.region[1].gpa, 0x100000);
	assert_int_equal(g.region[1].size, 0x10000000 - 0x100000);
	assert_int_equal(g.region[1].hva, 0x7f0000000000ull + 0x100000);
	assert_int_equal(g.region[2].gpa, 0x100000000ull);
	assert_int_equal(g.region[2].size, 0x80000000ull);
}

static void refuses(void **state)
{
	struct fake f = { "52:54:00:00:00:71", split, ready, mtree_72, 0 };
	struct guestrx g;
	char err[256] = "";

	(void)state;
	assert_int_equal(ask(&f, &g, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "52:54:00:00:00:70"));
	f.mac = "52:54:00:00:00:70";
	f.statuses = "[\"VIRTIO_CONFIG_S_ACKNOWLEDGE: Valid virtio device found\"]";
	assert_int_equal(ask(&f, &g, err, sizeof(err)), -EAGAIN);
	f.statuses = ready;
	f.transports = "[\"VIRTIO_F_RING_PACKED: Device support for packed virtqueues\"]";
	assert_int_equal(ask(&f, &g, err, sizeof(err)), -ENOTSUP);
	f.transports = split;
	f.mtree = "FlatView #0\r\n AS \"I/O\", root: io\r\n";
	assert_int_equal(ask(&f, &g, err, sizeof(err)), -EPROTO);
	assert_int_equal(g.num, 0);
}

static int count(void *arg, uint64_t gpa, uint64_t size)
{
	(void)gpa;
	(void)size;
	return ++*(int *)arg > 1 ? -ENOSPC : 0;
}

static void mtree_stops(void **state)
{
	int n = 0;

	(void)state;
	assert_int_equal(qemu_nic_mtree_ram(mtree_72, count, &n), -ENOSPC);
	assert_int_equal(qemu_nic_mtree_ram("no views", count, &n), -EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(learns_the_ring),
		cmocka_unit_test(refuses),
		cmocka_unit_test(mtree_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
