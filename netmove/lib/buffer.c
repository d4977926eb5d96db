#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "netmove/be.h"
#include "netmove/buffer.h"
#include "netmove/timeutil.h"
#include "bufring.h"
#include "macslots.h"
#include "tcattach.h"
#include "nm_buffer.h"
#include "nm_buffer.skel.h"
#include "nm_buffer_copy.skel.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

#define BUFFER_BPFFS "/sys/fs/bpf"

_Static_assert(BUFFER_MODE_DROP == (int)NM_MODE_DROP && BUFFER_MODE_DRAIN == (int)NM_MODE_DRAIN &&
	       BUFFER_MODE_BUFFER == (int)NM_MODE_BUFFER && BUFFER_MODE_FORWARD == (int)NM_MODE_FORWARD,
	       "modes differ from nm_buffer.h");
_Static_assert(BUFFER_GSO_OTHER == (int)NM_GSO_OTHER && BUFFER_GSO_ECN == (int)NM_GSO_ECN &&
	       BUFFER_GSO_UDP_L4 == (int)NM_GSO_UDP_L4, "GSO flags differ from nm_buffer.h");
_Static_assert(BUFFER_CSUM_PARTIAL == (int)NM_CSUM_PARTIAL, "csum values differ");
_Static_assert(BUFFER_MAX_MACS == NM_MAX_SLOTS - 1, "slot 0 is reserved");

/* The maps and programs of a port's buffer: one table for loading,
 * pinning, reopening, adopting and closing them. */
enum bfd { BFD_RING, BFD_RESUME, BFD_MACS, BFD_SLOTS, BFD_PORT, BFD_EGRESS, BFD_INGRESS,
	   BFD_PRETOUCH, BFD_COUNT };

static const struct {
	const char *name;	/* in nm_buffer.bpf.c */
	const char *pin;	/* under BUFFER_PIN_ROOT/<ifname>/ */
	bool prog;		/* a program, not a map */
} bfds[BFD_COUNT] = {
	[BFD_RING] = { "nm_ring", "ring", false },
	[BFD_RESUME] = { "nm_resume", "resume", false },
	[BFD_MACS] = { "nm_macs", "macs", false },
	[BFD_SLOTS] = { "nm_slots", "slots", false },
	[BFD_PORT] = { "nm_port", "port", false },
	[BFD_EGRESS] = { "nm_egress", "egress", true },
	[BFD_INGRESS] = { "nm_ingress", "ingress", true },
	[BFD_PRETOUCH] = { "nm_pretouch", "pretouch", true },
};

struct buffer {
	char ifname[IF_NAMESIZE];	/* port */
	int ifindex;			/* its index when opened */
	bool pinned;			/* the pins belong to this attachment */
	struct bpf_object *obj;		/* when loaded by this process (it owns fd[]) */
	int fd[BFD_COUNT];		/* maps and programs, -1 until known */
	struct macslots macs;		/* the MAC table (nm_macs, nm_slots) */
	struct nm_port *port;		/* mapped nm_port[0] */
	size_t port_len;		/* its mapping length */
	struct bufring ring;		/* frames */
	struct bufring resume;		/* resume events */
	struct replay *rp;		/* into the port, NULL until first needed */
};


static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* ------------------------------------------------------ ring records */

static int record_from_ring(const uint8_t *data, uint32_t len, struct buffer_record *rec)
{
	const struct nm_rec *h = (const struct nm_rec *)data;

	if (len < sizeof(*h) || h->len > len - sizeof(*h))
		return -EINVAL;
	memset(rec, 0, sizeof(*rec));
	rec->seq = h->seq;
	rec->tstamp_ns = h->tstamp_ns;
	rec->len = h->len;
	rec->ip_summed = h->ip_summed;
	if (h->ip_summed == NM_CSUM_PARTIAL) {
		rec->csum_start = h->csum_start;
		rec->csum_offset = h->csum_offset;
	}
	rec->gso_size = h->gso_size;
	rec->gso_type = h->gso_flags;
	if (rec->gso_size && !rec->gso_type)
		rec->gso_type = BUFFER_GSO_OTHER;
	if (!rec->gso_size)
		rec->gso_type = 0;
	rec->vlan = h->flags & NM_REC_VLAN;
	if (rec->vlan) {
		rec->vlan_proto = h->vlan_proto;
		rec->vlan_tci = h->vlan_tci;
	}
	rec->frame = data + sizeof(*h);
	if (!buffer_record_valid(rec) && rec->gso_type) {
		rec->gso_type = BUFFER_GSO_OTHER;
		if (!buffer_record_valid(rec))
			return -EINVAL;
	}
	return buffer_record_valid(rec) ? 0 : -EINVAL;
}

/* ------------------------------------------------------------- handles */

static uint64_t netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
			cookie = 0;
		close(fd);
	}
	return cookie;
}

static int check_ifname(const char *ifname, int *ifindex)
{
	size_t n = ifname ? strlen(ifname) : 0;

	if (n == 0 || n >= IF_NAMESIZE || strchr(ifname, '/') || !strcmp(ifname, ".") ||
	    !strcmp(ifname, ".."))
		return -EINVAL;
	*ifindex = (int)if_nametoindex(ifname);
	return *ifindex > 0 ? 0 : -ENODEV;
}

static struct buffer *handle_new(const char *ifname, int ifindex)
{
	struct buffer *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	snprintf(b->ifname, sizeof(b->ifname), "%s", ifname);
	b->ifindex = ifindex;
	for (size_t i = 0; i < BFD_COUNT; i++)
		b->fd[i] = -1;
	return b;
}

static int map_array(int fd, size_t len, void **out, size_t *out_len)
{
	size_t pg = page_size();
	void *p;

	len = (len + pg - 1) / pg * pg;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	*out_len = len;
	return 0;
}

static int map_all(struct buffer *b)
{
	void *p = NULL;
	int ret;

	ret = macslots_map(&b->macs, b->fd[BFD_MACS], b->fd[BFD_SLOTS]);
	if (ret < 0)
		goto out;
	ret = map_array(b->fd[BFD_PORT], sizeof(struct nm_port), &p, &b->port_len);
	if (ret < 0)
		goto out;
	b->port = p;
	ret = bufring_map(&b->ring, b->fd[BFD_RING]);
	if (ret < 0)
		goto out;
	ret = bufring_map(&b->resume, b->fd[BFD_RESUME]);
out:
	return ret;
}

static int pin_dir(const char *ifname, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s/%s", BUFFER_PIN_ROOT, ifname);

	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static void unpin(const char *ifname)
{
	char dir[128], path[160];
	size_t i;

	if (pin_dir(ifname, dir, sizeof(dir)) < 0)
		return;
	for (i = 0; i < BFD_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, bfds[i].pin);
		(void)unlink(path);
	}
	(void)rmdir(dir);
	(void)rmdir(BUFFER_PIN_ROOT);
}

static bool bpffs_at(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && (unsigned long)fs.f_type == BPF_FS_MAGIC;
}

int buffer_bpffs_mount(bool *mounted)
{
	*mounted = false;
	if (bpffs_at(BUFFER_BPFFS))
		return 0;
	if (mount("bpf", BUFFER_BPFFS, "bpf", 0, "mode=0700") < 0)
		return -errno;
	*mounted = true;
	return 0;
}

static int pin_all(struct buffer *b)
{
	char dir[128], path[160];
	bool mounted;
	size_t i;
	int ret;

	ret = buffer_bpffs_mount(&mounted);
	if (ret < 0)
		goto out;
	ret = pin_dir(b->ifname, dir, sizeof(dir));
	if (ret < 0)
		goto out;
	if (mkdir(BUFFER_PIN_ROOT, 0700) < 0 && errno != EEXIST) {
		ret = -errno;
		goto out;
	}
	if (mkdir(dir, 0700) < 0) {
		ret = -errno;
		goto out;
	}
	b->pinned = true;
	for (i = 0; i < BFD_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, bfds[i].pin);
		if (bpf_obj_pin(b->fd[i], path) < 0) {
			ret = -errno;
			goto out;
		}
	}
out:
	return ret;
}

static void handle_free(struct buffer *b)
{
	size_t i;

	if (!b)
		return;
	bufring_unmap(&b->ring);
	bufring_unmap(&b->resume);
	macslots_unmap(&b->macs);
	if (b->port)
		munmap(b->port, b->port_len);
	replay_close(b->rp);
	if (b->obj) {
		bpf_object__close(b->obj);
	} else {
		for (i = 0; i < BFD_COUNT; i++)
			if (b->fd[i] >= 0)
				close(b->fd[i]);
	}
	free(b);
}

static int unhook(struct buffer *b)
{
	int ret, e1, e2;

	e1 = tcattach_detach(b->ifindex, TCATTACH_EGRESS, b->fd[BFD_EGRESS]);
	e2 = tcattach_detach(b->ifindex, TCATTACH_INGRESS, b->fd[BFD_INGRESS]);
	/* Another owner's program stays, and is no error of ours. */
	ret = e1 < 0 && e1 != -ENOENT && e1 != -ESTALE ? e1 :
	      e2 < 0 && e2 != -ENOENT && e2 != -ESTALE ? e2 : 0;
	/* Only remove the qdisc we created, and only if nobody else uses it. */
	if (b->port && (b->port->flags & NM_PORT_CLSACT_OURS)) {
		e1 = tcattach_clsact_release(b->ifindex);
		if (e1 < 0 && !ret)
			ret = e1;
	}
	return ret;
}

int buffer_ready_port(const char *ifname)
{
	int ifindex, ret;

	ret = check_ifname(ifname, &ifindex);
	return ret < 0 ? ret : tcattach_clsact_create(ifindex);
}

/* ---- the kernel, and which build of the program it runs ---- */

/* The program's builds (nm_buffer.bpf.c), by enum buffer_capture. */
static const struct {
	const char *name;
	const void *(*elf)(size_t *sz);
} captures[] = {
	[BUFFER_CAPTURE_KFUNC] = { "kfunc", nm_buffer__elf_bytes },
	[BUFFER_CAPTURE_COPY] = { "copy", nm_buffer_copy__elf_bytes },
};

/* What each build needs beyond what both do. */
static const char *const kfunc_needs[] = { "bpf_dynptr_copy", "bpf_dynptr_from_skb",
					   "bpf_cast_to_kern_ctx" };

/* The helpers the copy build calls from tc, with the release that gave
 * them to it. */
static const struct {
	enum bpf_func_id id;
	const char *what;
} copy_needs[] = {
	{ BPF_FUNC_ringbuf_reserve_dynptr, "bpf_ringbuf_reserve_dynptr (Linux 5.19)" },
	{ BPF_FUNC_dynptr_write, "bpf_dynptr_write (Linux 5.19)" },
	{ BPF_FUNC_dynptr_data, "bpf_dynptr_data (Linux 5.19)" },
	{ BPF_FUNC_loop, "bpf_loop (Linux 5.17)" },
	{ BPF_FUNC_ringbuf_query, "bpf_ringbuf_query (Linux 5.8)" },
	{ BPF_FUNC_probe_read_kernel, "bpf_probe_read_kernel from tc (Linux 5.8, CAP_PERFMON)" },
};

static void add_missing(struct buffer_kernel *k, const char *what)
{
	size_t n = strlen(k->why);

	snprintf(k->why + n, sizeof(k->why) - n, "%s%s", n ? ", " : "", what);
}

static void kernel_probe(struct buffer_kernel *k)
{
	const char *want = getenv("NETMOVE_BPF_CAPTURE");
	struct utsname u;
	struct btf *btf;
	bool kfunc = true;
	size_t i;
	int ret;

	memset(k, 0, sizeof(*k));
	if (uname(&u) == 0)
		snprintf(k->release, sizeof(k->release), "%s", u.release);
	btf = btf__load_vmlinux_btf();
	if (!btf) {
		add_missing(k, "kernel BTF (/sys/kernel/btf/vmlinux: CONFIG_DEBUG_INFO_BTF)");
		return;
	}
	for (i = 0; i < sizeof(kfunc_needs) / sizeof(kfunc_needs[0]); i++)
		if (btf__find_by_name_kind(btf, kfunc_needs[i], BTF_KIND_FUNC) < 0)
			kfunc = false;
	btf__free(btf);
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0)
		add_missing(k, "BPF ring buffers (Linux 5.8)");
	for (i = 0; i < sizeof(copy_needs) / sizeof(copy_needs[0]); i++) {
		ret = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, copy_needs[i].id, NULL);
		if (ret == -EPERM || ret == -EACCES) {
			add_missing(k, "the privilege to load BPF programs (root)");
			return;
		}
		if (ret <= 0)
			add_missing(k, copy_needs[i].what);
	}
	if (k->why[0])
		return;
	if (want && !strcmp(want, "copy")) {
		k->capture = BUFFER_CAPTURE_COPY;
		snprintf(k->why, sizeof(k->why), "NETMOVE_BPF_CAPTURE=copy");
	} else if (kfunc) {
		k->capture = BUFFER_CAPTURE_KFUNC;
	} else {
		k->capture = BUFFER_CAPTURE_COPY;
		snprintf(k->why, sizeof(k->why),
			 "no bpf_dynptr_copy kfunc (Linux 6.15): frames copied in 4 KiB steps");
	}
}

static struct buffer_kernel kernel;
static pthread_once_t kernel_once = PTHREAD_ONCE_INIT;

static void kernel_init(void)
{
	kernel_probe(&kernel);
}

int buffer_kernel(struct buffer_kernel *k)
{
	pthread_once(&kernel_once, kernel_init);
	if (k)
		*k = kernel;
	return kernel.capture == BUFFER_CAPTURE_NONE ? -EOPNOTSUPP : 0;
}

const char *buffer_capture_name(enum buffer_capture c)
{
	return c == BUFFER_CAPTURE_KFUNC || c == BUFFER_CAPTURE_COPY ? captures[c].name : "none";
}

struct buffer_spare {
	struct bpf_object *obj;
	uint32_t ring;
};

/* The programs and maps, loaded with a ring of ring bytes, in the build
 * this kernel runs.  Returns 0, -EOPNOTSUPP (buffer_kernel says why) or
 * libbpf's negative errno. */
static int obj_load(uint32_t ring, struct bpf_object **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "nm_buffer");
	struct bpf_object *obj;
	struct bpf_map *m;
	const void *elf;
	size_t sz;
	int ret;

	*out = NULL;
	ret = buffer_kernel(NULL);
	if (ret < 0)
		return ret;
	elf = captures[kernel.capture].elf(&sz);
	obj = bpf_object__open_mem(elf, sz, &oo);
	if (!obj)
		return -errno;
	m = bpf_object__find_map_by_name(obj, bfds[BFD_RING].name);
	ret = m ? bpf_map__set_max_entries(m, ring) : -ENOENT;
	if (ret == 0)
		ret = bpf_object__load(obj);
	if (ret < 0) {
		bpf_object__close(obj);
		return ret;
	}
	*out = obj;
	return 0;
}

/* The fds of a loaded object (owned by it). */
static int obj_fds(struct bpf_object *obj, int fd[BFD_COUNT])
{
	size_t i;

	for (i = 0; i < BFD_COUNT; i++) {
		if (bfds[i].prog) {
			struct bpf_program *p = bpf_object__find_program_by_name(obj, bfds[i].name);

			fd[i] = p ? bpf_program__fd(p) : -1;
		} else {
			struct bpf_map *m = bpf_object__find_map_by_name(obj, bfds[i].name);

			fd[i] = m ? bpf_map__fd(m) : -1;
		}
		if (fd[i] < 0)
			return -ENOENT;
	}
	return 0;
}

static bool ring_ok(uint32_t ring)
{
	return ring >= BUFFER_RING_MIN && !(ring & (ring - 1)) && !(ring % page_size());
}

int buffer_spare_load(uint32_t ring_bytes, struct buffer_spare **out)
{
	struct buffer_spare *s;
	int ret;

	*out = NULL;
	if (!ring_bytes)
		ring_bytes = BUFFER_RING_DEFAULT;
	if (!ring_ok(ring_bytes))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ring = ring_bytes;
	ret = obj_load(ring_bytes, &s->obj);
	if (ret < 0) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

uint32_t buffer_spare_ring(const struct buffer_spare *s)
{
	return s->ring;
}

void buffer_spare_free(struct buffer_spare *s)
{
	if (!s)
		return;
	bpf_object__close(s->obj);
	free(s);
}

int buffer_attach(const char *ifname, const struct buffer_opts *opts, struct buffer **out)
{
	struct buffer_opts def = { 0 };
	struct buffer *b = NULL;
	bool created = false, eg = false, in = false;
	uint32_t ring;
	int ifindex = 0, ret;
	char dir[128];
	struct stat stb;

	*out = NULL;
	if (!opts)
		opts = &def;
	ring = opts->ring_bytes ? opts->ring_bytes : BUFFER_RING_DEFAULT;
	ret = check_ifname(ifname, &ifindex);
	if (ret < 0)
		goto out;
	if (!ring_ok(ring) || (opts->spare && opts->spare->ring != ring)) {
		ret = -EINVAL;
		goto out;
	}
	if (opts->pin) {
		ret = pin_dir(ifname, dir, sizeof(dir));
		if (ret < 0)
			goto out;
		if (stat(dir, &stb) == 0) {
			ret = -EEXIST;
			goto out;
		}
	}
	b = handle_new(ifname, ifindex);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	if (opts->spare) {
		b->obj = opts->spare->obj;
		opts->spare->obj = NULL;
	} else {
		ret = obj_load(ring, &b->obj);
		if (ret < 0)
			goto out;
	}
	ret = obj_fds(b->obj, b->fd);
	if (ret == 0)
		ret = map_all(b);
	if (ret < 0)
		goto out;
	b->port->ifindex = (uint32_t)ifindex;
	b->port->netns_cookie = netns_cookie();

	ret = tcattach_clsact_create(ifindex);
	if (ret < 0)
		goto out;
	created = ret == 1;
	/* Removing clsact later would deactivate a live port (qdisc_graft), so
	 * with keep_qdisc it is not claimed and stays. */
	if (created && !opts->keep_qdisc)
		b->port->flags |= NM_PORT_CLSACT_OURS;
	ret = tcattach_attach(ifindex, TCATTACH_EGRESS, b->fd[BFD_EGRESS], opts->replace);
	if (ret < 0)
		goto out;
	eg = true;
	ret = tcattach_attach(ifindex, TCATTACH_INGRESS, b->fd[BFD_INGRESS], opts->replace);
	if (ret < 0)
		goto out;
	in = true;
	if (opts->pin) {
		ret = pin_all(b);
		if (ret < 0)
			goto out;
	}
	*out = b;
	b = NULL;
out:
	if (b) {
		if (eg)
			(void)tcattach_detach(ifindex, TCATTACH_EGRESS, b->fd[BFD_EGRESS]);
		if (in)
			(void)tcattach_detach(ifindex, TCATTACH_INGRESS, b->fd[BFD_INGRESS]);
		if (created)
			(void)tcattach_clsact_release(ifindex);
		if (b->pinned)
			unpin(ifname);
		handle_free(b);
	}
	buffer_spare_free(opts->spare);	/* its program moved to the buffer, if used */
	return ret;
}

int buffer_open_pinned(const char *ifname, struct buffer **out)
{
	struct buffer *b = NULL;
	char dir[128], path[160];
	int ifindex = 0, ret;
	__u32 there = 0, id = 0;
	size_t i;

	*out = NULL;
	ret = check_ifname(ifname, &ifindex);
	if (ret == -ENODEV)
		ifindex = 0;
	else if (ret < 0)
		goto out;
	ret = pin_dir(ifname, dir, sizeof(dir));
	if (ret < 0)
		goto out;
	b = handle_new(ifname, ifindex);
	if (!b) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < BFD_COUNT; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, bfds[i].pin);
		b->fd[i] = bpf_obj_get(path);
		if (b->fd[i] < 0) {
			ret = errno == ENOENT || errno == ENOTDIR || errno == EINVAL ? -ENOENT : -errno;
			goto out;
		}
	}
	b->pinned = true;
	ret = map_all(b);
	if (ret < 0)
		goto out;
	if (!ifindex) {
		ret = -ENODEV;
		goto out;
	}
	if (b->port->ifindex != (uint32_t)ifindex || b->port->netns_cookie != netns_cookie()) {
		ret = -ESTALE;
		goto out;
	}
	ret = tcattach_query(ifindex, TCATTACH_EGRESS, &there);
	if (ret == 0)
		ret = tcattach_prog_id(b->fd[BFD_EGRESS], &id);
	if (ret == -ENOENT || (ret == 0 && there != id))
		ret = -ENOLINK;
	if (ret < 0)
		goto out;
	*out = b;
	b = NULL;
out:
	handle_free(b);
	return ret;
}

/* Take the maps one of the attached programs uses, by their names in
 * nm_buffer.bpf.c (the egress program uses all but nm_resume). */
static int adopt_maps(struct buffer *b, int prog_fd)
{
	struct bpf_prog_info pi;
	__u32 ids[16], len = sizeof(pi), i, k;
	int fd;

	memset(&pi, 0, sizeof(pi));
	pi.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pi.map_ids = (__u64)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len) < 0)
		return -errno;
	for (i = 0; i < pi.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct bpf_map_info mi;
		__u32 mlen = sizeof(mi);

		fd = bpf_map_get_fd_by_id(ids[i]);
		if (fd < 0)
			return -errno;
		memset(&mi, 0, sizeof(mi));
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) < 0)
			mi.name[0] = 0;
		for (k = 0; k < BFD_COUNT; k++)
			if (!bfds[k].prog && !strcmp(mi.name, bfds[k].name) && b->fd[k] < 0)
				break;
		if (k < BFD_COUNT)
			b->fd[k] = fd;
		else
			close(fd);
	}
	return 0;
}

/* A new handle on an existing interface: 0, -ENODEV or -ENOMEM. */
static int handle_open(const char *ifname, struct buffer **out)
{
	int ifindex, ret;

	*out = NULL;
	ret = check_ifname(ifname, &ifindex);
	if (ret < 0)
		return ret;
	*out = handle_new(ifname, ifindex);
	return *out ? 0 : -ENOMEM;
}

int buffer_adopt(const char *ifname, struct buffer **out)
{
	struct buffer *b = NULL;
	int ret;

	*out = NULL;
	ret = handle_open(ifname, &b);
	if (ret < 0)
		return ret;
	ret = tcattach_prog_fd(b->ifindex, TCATTACH_EGRESS);
	if (ret < 0)
		goto out;
	b->fd[BFD_EGRESS] = ret;
	ret = tcattach_prog_fd(b->ifindex, TCATTACH_INGRESS);
	if (ret < 0 && ret != -ENOENT)
		goto out;
	b->fd[BFD_INGRESS] = ret < 0 ? -1 : ret;
	ret = adopt_maps(b, b->fd[BFD_EGRESS]);
	if (ret == 0 && b->fd[BFD_INGRESS] >= 0)
		ret = adopt_maps(b, b->fd[BFD_INGRESS]);
	/* Missing maps: not netmove's buffer program. */
	for (size_t i = 0; ret == 0 && i < BFD_COUNT; i++)
		if (!bfds[i].prog && b->fd[i] < 0)
			ret = -EPROTO;
	if (ret == 0)
		ret = map_all(b);
	if (ret == 0 && b->port->ifindex != (uint32_t)b->ifindex)
		ret = -ESTALE;
	if (ret < 0)
		goto out;
	*out = b;
	b = NULL;
out:
	handle_free(b);
	return ret;
}

void buffer_close(struct buffer *b)
{
	handle_free(b);
}

int buffer_detach(struct buffer *b)
{
	int ret = 0;

	if (!b)
		return -EINVAL;
	ret = b->ifindex ? unhook(b) : 0;
	if (b->pinned)
		unpin(b->ifname);
	handle_free(b);
	return ret;
}

int buffer_unhook(const char *ifname)
{
	int ifindex, ret, e1, e2;

	ret = check_ifname(ifname, &ifindex);
	if (ret < 0)
		return ret;
	e1 = tcattach_detach(ifindex, TCATTACH_EGRESS, -1);
	e2 = tcattach_detach(ifindex, TCATTACH_INGRESS, -1);
	return e1 == 0 || e2 == 0 ? 0 : e1;
}

int buffer_hooked(const char *ifname)
{
	int ifindex, ret;
	__u32 id;

	ret = check_ifname(ifname, &ifindex);
	if (ret < 0)
		return ret;
	ret = tcattach_query(ifindex, TCATTACH_EGRESS, &id);
	return ret == -ENOENT ? 0 : ret < 0 ? ret : 1;
}

int buffer_unpin(const char *ifname)
{
	char dir[128];
	struct stat st;
	int ret;

	ret = pin_dir(ifname, dir, sizeof(dir));
	if (ret < 0)
		return ret;
	if (stat(dir, &st) < 0)
		return -ENOENT;
	unpin(ifname);
	return 0;
}

const char *buffer_ifname(const struct buffer *b)
{
	return b->ifname;
}

/* --------------------------------------------------------------- modes */

int buffer_set_mode(struct buffer *b, const struct mac *mac, enum buffer_mode mode)
{
	struct nm_slot *s;
	int ret;

	if ((unsigned)mode > BUFFER_MODE_FORWARD)
		return -EINVAL;
	ret = macslots_get(&b->macs, mac, (uint32_t)mode, &s);
	if (ret < 0)
		return ret;
	__atomic_store_n(&s->mode, (uint32_t)mode, __ATOMIC_SEQ_CST);
	return 0;
}

int buffer_forward(struct buffer *b, const struct mac *mac, const char *ifname)
{
	unsigned idx = ifname && *ifname ? if_nametoindex(ifname) : 0;

	if (!b || !b->port)
		return -EINVAL;
	if (!idx)
		return ifname && *ifname ? -ENODEV : -EINVAL;
	if ((int)idx == b->ifindex)
		return -ELOOP;
	__atomic_store_n(&b->port->fwd_ifindex, (uint32_t)idx, __ATOMIC_SEQ_CST);
	return buffer_set_mode(b, mac, BUFFER_MODE_FORWARD);
}

int buffer_arm(struct buffer *b, const struct mac *mac)
{
	return buffer_set_mode(b, mac, BUFFER_MODE_BUFFER);
}

int buffer_forget(struct buffer *b, const struct mac *mac)
{
	return macslots_forget(&b->macs, mac);
}

int buffer_watch_resume(struct buffer *b, const struct mac *mac)
{
	struct nm_slot *s;
	int ret;

	ret = macslots_get(&b->macs, mac, NM_MODE_PASS, &s);
	if (ret < 0)
		return ret;
	__atomic_store_n(&s->watch, 1, __ATOMIC_SEQ_CST);
	return 0;
}

int buffer_resume_fd(const struct buffer *b)
{
	return b->fd[BFD_RESUME];
}

static int resume_cb(void *arg, const uint8_t *data, uint32_t len)
{
	const struct nm_resume_ev *e = (const struct nm_resume_ev *)data;
	struct buffer_resume_event *ev = arg;
	uint64_t mono, real;

	if (len < sizeof(*e))
		return 0;
	mono = timeutil_mono_ns();
	real = timeutil_real_ns();
	memset(ev, 0, sizeof(*ev));
	memcpy(ev->mac.b, e->mac, MAC_LEN);
	ev->ethertype = e->ethertype;
	ev->len = e->len;
	ev->mono_ns = e->tstamp_ns;
	ev->real_ns = real - (mono > e->tstamp_ns ? mono - e->tstamp_ns : 0);
	ev->read_real_ns = real;
	return 0;
}

int buffer_poll_resume(struct buffer *b, int timeout_ms, struct buffer_resume_event *ev)
{
	uint64_t deadline = timeutil_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) *
						  NSEC_PER_MSEC;
	struct pollfd pfd;
	int ret, wait;

	for (;;) {
		ret = bufring_consume(&b->resume, resume_cb, ev, 1);
		if (ret != 0)
			return ret > 0 ? 0 : ret;
		if (timeout_ms < 0) {
			wait = -1;
		} else {
			uint64_t now = timeutil_mono_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			wait = (int)((deadline - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
		}
		pfd.fd = b->fd[BFD_RESUME];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
			return -errno;
	}
}

int buffer_lease(struct buffer *b, uint64_t until_ns)
{
	if (!b || !b->port)
		return -EINVAL;
	__atomic_store_n(&b->port->lease_ns, until_ns, __ATOMIC_RELEASE);
	return 0;
}

int buffer_pretouch(struct buffer *b)
{
	uint8_t frame[64] = { 0 };
	struct __sk_buff ctx;
	uint64_t pages, done = 0, half;
	int ret = 0;

	if (bufring_used(&b->ring))
		return -EBUSY;
	pages = b->ring.size / NM_PAGE + 1;
	half = b->ring.size / NM_PAGE / 2;
	while (done < pages) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = sizeof(frame),
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));

		memset(&ctx, 0, sizeof(ctx));
		ctx.mark = (uint32_t)(pages - done < half ? pages - done : half);
		ret = bpf_prog_test_run_opts(b->fd[BFD_PRETOUCH], &o);
		if (ret < 0)
			goto out;
		(void)bufring_consume(&b->ring, NULL, NULL, 1);
		if (o.retval == 0) {
			ret = -EBUSY;	/* frames arrived meanwhile: armed already */
			goto out;
		}
		done += o.retval;
	}
out:
	return ret;
}

/* --------------------------------------------------------- drain, export */

struct consume_ctx {
	struct buffer *b;			/* handle */
	buffer_record_fn fn;			/* export: callback */
	void *arg;				/* its argument */
};

static void count_slot(struct buffer *b, uint32_t slot, bool drained)
{
	struct nm_slot *s = macslots_at(&b->macs, slot);
	struct nm_counters *c = s ? &s->c : NULL;

	if (drained) {
		__atomic_fetch_add(&b->port->c.drained, 1, __ATOMIC_RELAXED);
		if (c)
			__atomic_fetch_add(&c->drained, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&b->port->c.exported, 1, __ATOMIC_RELAXED);
		if (c)
			__atomic_fetch_add(&c->exported, 1, __ATOMIC_RELAXED);
	}
}

/* The replay handle of b's port, opened on first use. */
static int port_replay(struct buffer *b, struct replay **rp)
{
	int ret = b->rp ? 0 : replay_open(b->ifname, &b->rp);

	*rp = b->rp;
	return ret;
}

int buffer_replay(struct buffer *b, const struct buffer_record *rec,
		  struct buffer_replay_stats *st)
{
	struct replay *rp;
	int ret = port_replay(b, &rp);

	return ret < 0 ? ret : replay_send(rp, rec, st);
}

/* A frame of the drain's batch went: counted, and consumed from the ring. */
static void drain_sent(void *arg, const void *cookie)
{
	struct buffer *b = arg;
	const struct bufring_ent *e = cookie;

	count_slot(b, ((const struct nm_rec *)e->data)->slot, true);
	bufring_advance(&b->ring, e);
}

/* Replay up to REPLAY_BATCH records from the ring: frames the port takes as
 * they are in one sendmmsg, GSO frames one at a time (they may need
 * segmenting), in ring order; each consumed once sent.  Returns the number
 * replayed or skipped, or a negative errno (what was not sent stays in the
 * ring). */
static int drain_some(struct buffer *b, struct replay *rp, struct buffer_replay_stats *st)
{
	struct bufring_ent e[REPLAY_BATCH];
	struct buffer_record rec;
	int n, i, ret = 0;

	n = bufring_peek(&b->ring, e, REPLAY_BATCH);
	for (i = 0; i < n && ret == 0; i++) {
		if (record_from_ring(e[i].data, e[i].len, &rec) < 0) {
			/* Counted as it is met, consumed after the frames before it. */
			st->skipped++;
			__atomic_fetch_add(&b->port->c.errors, 1, __ATOMIC_RELAXED);
			ret = replay_flush(rp, st, drain_sent, b);
			if (ret == 0)
				bufring_advance(&b->ring, &e[i]);
			continue;
		}
		if (!rec.gso_size && replay_queue(rp, &rec, &e[i]) == 0)
			continue;
		ret = replay_flush(rp, st, drain_sent, b);
		if (ret < 0)
			break;
		ret = replay_send(rp, &rec, st);
		if (ret < 0 && !replay_refused(ret))
			break;
		ret = 0;
		drain_sent(b, &e[i]);
	}
	if (ret == 0)
		ret = replay_flush(rp, st, drain_sent, b);
	return ret < 0 ? ret : n;
}

static int export_cb(void *arg, const uint8_t *data, uint32_t len)
{
	struct consume_ctx *c = arg;
	struct buffer_record rec;
	int ret;

	ret = record_from_ring(data, len, &rec);
	if (ret < 0) {
		__atomic_fetch_add(&c->b->port->c.errors, 1, __ATOMIC_RELAXED);
		return 0;
	}
	ret = c->fn(&rec, c->arg);
	if (ret < 0)
		return ret;
	count_slot(c->b, ((const struct nm_rec *)data)->slot, false);
	return 0;
}

int buffer_export(struct buffer *b, buffer_record_fn fn, void *arg)
{
	struct consume_ctx c = { .b = b, .fn = fn, .arg = arg };

	return bufring_consume(&b->ring, export_cb, &c, INT32_MAX);
}

int buffer_drain(struct buffer *b, const struct mac *mac, struct buffer_replay_stats *st)
{
	struct buffer_replay_stats dummy;
	uint64_t t0 = timeutil_mono_ns();
	struct nm_slot *s;
	struct replay *rp;
	uint32_t mode, expect;
	int n, ret;

	if (!st) {
		memset(&dummy, 0, sizeof(dummy));
		st = &dummy;
	}
	ret = macslots_find(&b->macs, mac, &s);
	if (ret < 0)
		goto out;
	ret = port_replay(b, &rp);
	if (ret < 0)
		goto out;
	__atomic_store_n(&s->mode, NM_MODE_DRAIN, __ATOMIC_SEQ_CST);
	for (;;) {
		n = drain_some(b, rp, st);
		if (n < 0) {
			ret = n;
			expect = NM_MODE_DRAIN;
			__atomic_compare_exchange_n(&s->mode, &expect, NM_MODE_BUFFER, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
			goto out;
		}
		mode = __atomic_load_n(&s->mode, __ATOMIC_SEQ_CST);
		if (mode == NM_MODE_PASS) {
			st->flipped_by_prog = true;
			break;
		}
		if (mode != NM_MODE_DRAIN) {
			ret = -ECANCELED;	/* someone else set another mode */
			goto out;
		}
		if (n == 0 && bufring_used(&b->ring) == 0) {
			/* No frame for this MAC came to flip it: do it here. */
			expect = NM_MODE_DRAIN;
			if (__atomic_compare_exchange_n(&s->mode, &expect, NM_MODE_PASS, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				break;
			continue;
		}
		if (n == 0)	/* a capture is being written on another CPU */
			nanosleep(&(struct timespec){ .tv_nsec = 10 * NSEC_PER_USEC }, NULL);
	}
	/* A run that read DRAIN just before the flip may still be adding a
	 * frame; wait it out and replay what it left. */
	macslots_quiesce();
	do {
		n = drain_some(b, rp, st);
	} while (n > 0);
	ret = n < 0 ? n : 0;
out:
	st->duration_ns += timeutil_mono_ns() - t0;
	return ret;
}

/* ---------------------------------------------------------------- stats */

static void counters_read(const struct nm_counters *in, struct buffer_counters *c)
{
	c->passed = __atomic_load_n(&in->passed, __ATOMIC_RELAXED);
	c->buffered = __atomic_load_n(&in->buffered, __ATOMIC_RELAXED);
	c->drained = __atomic_load_n(&in->drained, __ATOMIC_RELAXED);
	c->exported = __atomic_load_n(&in->exported, __ATOMIC_RELAXED);
	c->dropped = __atomic_load_n(&in->dropped, __ATOMIC_RELAXED);
	c->ring_full = __atomic_load_n(&in->ring_full, __ATOMIC_RELAXED);
	c->errors = __atomic_load_n(&in->errors, __ATOMIC_RELAXED);
	c->flips = __atomic_load_n(&in->flips, __ATOMIC_RELAXED);
	c->forwarded = __atomic_load_n(&in->forwarded, __ATOMIC_RELAXED);
}

int buffer_stats(struct buffer *b, const struct mac *mac, struct buffer_stats *st)
{
	struct nm_slot *s;
	int ret;

	memset(st, 0, sizeof(*st));
	st->ring_used = bufring_used(&b->ring);
	st->ring_size = b->ring.size;
	st->next_seq = __atomic_load_n(&b->port->seq, __ATOMIC_RELAXED);
	st->lease_ns = __atomic_load_n(&b->port->lease_ns, __ATOMIC_RELAXED);
	st->lease_passed = __atomic_load_n(&b->port->lease_passed, __ATOMIC_RELAXED);
	if (!mac) {
		counters_read(&b->port->c, &st->c);
		st->mode = BUFFER_MODE_PASS;
		st->resumes = __atomic_load_n(&b->port->resumes, __ATOMIC_RELAXED);
		return 0;
	}
	ret = macslots_find(&b->macs, mac, &s);
	if (ret < 0)
		return ret;
	counters_read(&s->c, &st->c);
	st->mode = (enum buffer_mode)__atomic_load_n(&s->mode, __ATOMIC_RELAXED);
	st->watching = __atomic_load_n(&s->watch, __ATOMIC_RELAXED) != 0;
	st->resumes = __atomic_load_n(&s->resumes, __ATOMIC_RELAXED);
	return 0;
}

int buffer_macs(struct buffer *b, struct mac *out, size_t cap)
{
	return (int)macslots_list(&b->macs, out, cap);
}

int buffer_bench_egress(struct buffer *b, const void *frame, size_t len,
			uint32_t repeat, uint64_t *ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
		    .repeat = repeat);
	int ret;

	ret = bpf_prog_test_run_opts(b->fd[BFD_EGRESS], &o);
	if (ret < 0)
		return ret;
	*ns = o.duration;
	return 0;
}

const char *buffer_mode_name(enum buffer_mode mode)
{
	static const char *const names[] = { "pass", "buffer", "drain", "drop", "forward" };

	return (unsigned)mode <= BUFFER_MODE_FORWARD ? names[mode] : "?";
}

int buffer_mode_parse(const char *s, enum buffer_mode *mode)
{
	int i;

	for (i = BUFFER_MODE_PASS; i <= BUFFER_MODE_FORWARD; i++) {
		if (!strcmp(s, buffer_mode_name((enum buffer_mode)i))) {
			*mode = (enum buffer_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}
