/* qemu_nic: a virtio-net NIC's RX ring, as QEMU's monitor tells (see qemu_nic.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_nic.h"

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

/* The virtio device path of the virtio-net NIC with this MAC. */
static int find_nic(const struct mac *mac, qemu_nic_monitor_fn fn, void *arg, char *path,
		    size_t pathlen, char *err, size_t errlen)
{
	json_t *devs = NULL, *d, *m;
	char want[MAC_STRLEN];
	size_t i;
	int ret;

	ret = fn(arg, "x-query-virtio", NULL, &devs, err, errlen);
	if (ret < 0)
		return ret;
	mac_format(mac, want);
	ret = fail(err, errlen, -ENOENT, "no virtio-net NIC with MAC %s", want);
	json_array_foreach(devs, i, d) {
		const char *p = json_string_value(json_object_get(d, "path"));
		const char *name = json_string_value(json_object_get(d, "name"));
		struct mac got;

		if (!p || !name || strcmp(name, "virtio-net"))
			continue;
		if (fn(arg, "qom-get", json_pack("{s:s,s:s}", "path", p, "property", "mac"), &m,
		       err, errlen) < 0)
			continue;
		if (json_is_string(m) && mac_parse(json_string_value(m), &got) == 0 &&
		    mac_equal(&got, mac) && strlen(p) < pathlen) {
			snprintf(path, pathlen, "%s", p);
			ret = 0;
		}
		json_decref(m);
		if (ret == 0)
			break;
	}
	json_decref(devs);
	return ret;
}

/* True if a feature list of x-query-virtio-status names feature. */
static bool has_feature(const json_t *features, const char *feature)
{
	static const char *const lists[] = { "dev-features", "transports" };
	size_t i, j, n = strlen(feature);
	json_t *f;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		json_array_foreach(json_object_get(features, lists[i]), j, f) {
			const char *s = json_string_value(f);

			if (s && !strncmp(s, feature, n) && s[n] == ':')
				return true;
		}
	return false;
}

static int read_features(struct guestrx *g, const char *path, qemu_nic_monitor_fn fn,
			 void *arg, char *err, size_t errlen)
{
	json_t *st = NULL, *gf, *s;
	bool ready = false;
	size_t i;
	int ret;

	ret = fn(arg, "x-query-virtio-status", json_pack("{s:s}", "path", path), &st, err, errlen);
	if (ret < 0)
		return ret;
	json_array_foreach(json_object_get(json_object_get(st, "status"), "statuses"), i, s)
		if (json_is_string(s) && !strncmp(json_string_value(s), "VIRTIO_CONFIG_S_DRIVER_OK", 25))
			ready = true;
	gf = json_object_get(st, "guest-features");
	if (!ready)
		ret = fail(err, errlen, -EAGAIN, "the guest's virtio-net driver is not ready");
	else if (has_feature(gf, "VIRTIO_F_RING_PACKED"))
		ret = fail(err, errlen, -ENOTSUP, "a packed virtqueue (only split rings are read)");
	else if (has_feature(gf, "VIRTIO_NET_F_HASH_REPORT"))
		ret = fail(err, errlen, -ENOTSUP, "hash reports in the virtio-net header");
	else {
		g->mergeable = has_feature(gf, "VIRTIO_NET_F_MRG_RXBUF");
		g->hdr_len = g->mergeable || has_feature(gf, "VIRTIO_F_VERSION_1") ? 12 : 10;
	}
	json_decref(st);
	return ret;
}

static int read_queue(struct guestrx *g, const char *path, qemu_nic_monitor_fn fn, void *arg,
		      char *err, size_t errlen)
{
	json_t *q = NULL;
	json_int_t num;
	int ret;

	ret = fn(arg, "x-query-virtio-queue-status", json_pack("{s:s,s:i}", "path", path, "queue", 0),
		 &q, err, errlen);
	if (ret < 0)
		return ret;
	num = json_integer_value(json_object_get(q, "vring-num"));
	g->desc = (uint64_t)json_integer_value(json_object_get(q, "vring-desc"));
	g->avail = (uint64_t)json_integer_value(json_object_get(q, "vring-avail"));
	g->used = (uint64_t)json_integer_value(json_object_get(q, "vring-used"));
	json_decref(q);
	if (num <= 0 || num > 32768 || (num & (num - 1)) || !g->desc || !g->used)
		return fail(err, errlen, -EPROTO, "x-query-virtio-queue-status: no usable ring");
	g->num = (uint16_t)num;
	return 0;
}

int qemu_nic_mtree_ram(const char *mtree, int (*add)(void *arg, uint64_t gpa, uint64_t size),
		       void *arg)
{
	const char *p = strstr(mtree, " AS \"memory\",");
	int n = 0, ret;

	if (!p)
		return -EPROTO;
	/* The view's entries follow, one a line, up to the next blank line. */
	for (p = strchr(p, '\n'); p && p[1] && p[1] != '\n' && p[1] != '\r'; p = strchr(p + 1, '\n')) {
		uint64_t start, end;
		char type[16];

		if (sscanf(p + 1, " %" SCNx64 "-%" SCNx64 " (prio %*d, %15[^)]):", &start, &end,
			   type) != 3 || strcmp(type, "ram") || end < start)
			continue;
		ret = add(arg, start, end - start + 1);
		if (ret < 0)
			return ret;
		n++;
	}
	return n;
}

struct ram_walk {
	struct guestrx *g;
	qemu_nic_monitor_fn fn;
	void *arg;
	char *err;
	size_t errlen;
};

/* One RAM range: where QEMU maps its start (HMP gpa2hva). */
static int add_ram(void *arg, uint64_t gpa, uint64_t size)
{
	struct ram_walk *w = arg;
	char cmd[64];
	const char *s;
	uint64_t hva;
	json_t *r = NULL;
	int ret;

	snprintf(cmd, sizeof(cmd), "gpa2hva 0x%" PRIx64, gpa);
	ret = w->fn(w->arg, "human-monitor-command", json_pack("{s:s}", "command-line", cmd), &r,
		    w->err, w->errlen);
	if (ret < 0)
		return ret;
	s = json_string_value(r);
	s = s ? strstr(s, " is 0x") : NULL;
	ret = s && sscanf(s, " is 0x%" SCNx64, &hva) == 1 ? 0 : -EPROTO;
	if (ret < 0)
		fail(w->err, w->errlen, ret, "%s: %s", cmd, json_string_value(r) ? json_string_value(r) : "?");
	json_decref(r);
	if (ret == 0 && (ret = guestrx_add_region(w->g, gpa, size, hva)) < 0)
		fail(w->err, w->errlen, ret == -ENOSPC ? -ENOTSUP : ret, "guest RAM region 0x%" PRIx64 ": %s",
		     gpa, ret == -ENOSPC ? "more regions than netmove maps" : strerror(-ret));
	return ret == -ENOSPC ? -ENOTSUP : ret;
}

int qemu_nic_rx_ring(struct guestrx *g, const struct mac *mac, qemu_nic_monitor_fn fn,
		     void *arg, char *err, size_t errlen)
{
	struct ram_walk w = { g, fn, arg, err, errlen };
	char path[256];
	json_t *mt = NULL;
	int ret;

	g->nregions = 0;
	g->num = 0;
	ret = find_nic(mac, fn, arg, path, sizeof(path), err, errlen);
	if (ret == 0)
		ret = read_features(g, path, fn, arg, err, errlen);
	if (ret == 0)
		ret = read_queue(g, path, fn, arg, err, errlen);
	if (ret == 0)
		ret = fn(arg, "human-monitor-command", json_pack("{s:s}", "command-line", "info mtree -f"),
			 &mt, err, errlen);
	if (ret < 0)
		goto out;
	ret = json_is_string(mt) ? qemu_nic_mtree_ram(json_string_value(mt), add_ram, &w) : -EPROTO;
	if (ret == -EPROTO)
		fail(err, errlen, ret, "info mtree -f: no flat view of address space \"memory\"");
	else if (ret == 0)
		ret = fail(err, errlen, -EPROTO, "info mtree -f: no RAM");
out:
	json_decref(mt);
	if (ret < 0)
		g->num = 0;
	return ret < 0 ? ret : 0;
}
