/* tapq: read out the frames a stopped VM left in its tap (see tapq.h). */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>

#include "netmove/frame.h"
#include "netmove/tapq.h"
#include "netmove/timeutil.h"

#define TAPQ_VNET_MAX 12	/* largest virtio header a tap adds */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5	/* Linux 5.18's uapi; older headers lack it */
#endif

struct tapq {
	pid_t holder;
	int n;
	int fd[TAPQ_MAX_QUEUES];
	int vnet_len[TAPQ_MAX_QUEUES];	/* virtio header bytes before each frame */
	uint8_t *buf;
};

static int is_tun(const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { 0 };
	int s, ret = 0;

	if (!if_nametoindex(ifname))
		return -ENODEV;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&di;
	if (ioctl(s, SIOCETHTOOL, &ifr) < 0)
		ret = errno == EOPNOTSUPP ? -ENOTTY : -errno;	/* no driver: not a tun */
	else if (strcmp(di.driver, "tun"))
		ret = -ENOTTY;
	close(s);
	return ret;
}

/* True if /proc/PID/fdinfo/FD describes a tun queue attached to ifname. */
static bool fdinfo_names(int pid, const char *fd, const char *ifname)
{
	char path[64], line[128], want[IF_NAMESIZE + 8];
	bool hit = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fd);
	snprintf(want, sizeof(want), "iff:\t%s\n", ifname);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f))
		hit = !strcmp(line, want);
	fclose(f);
	return hit;
}

/* Inode of a network namespace file (ours: /proc/self/ns/net). */
static int netns_ino(int fd, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

/* Take the holder's descriptor tfd if it is a queue of ifname in our
 * namespace; returns the duplicate, or -1. */
static int take(int pidfd, int tfd, const char *ifname, ino_t our_ns)
{
	struct ifreq ifr = { 0 };
	int fd, nsfd;
	ino_t ino = 0;
	bool ok;

	fd = (int)syscall(SYS_pidfd_getfd, pidfd, tfd, 0);
	if (fd < 0)
		return -1;
	ok = ioctl(fd, TUNGETIFF, &ifr) == 0 && !strcmp(ifr.ifr_name, ifname) &&
	     (ifr.ifr_flags & IFF_TAP);
	if (ok) {
		nsfd = ioctl(fd, TUNGETDEVNETNS);
		ok = nsfd >= 0 && netns_ino(nsfd, &ino) == 0 && ino == our_ns;
		if (nsfd >= 0)
			close(nsfd);
	}
	if (!ok) {
		close(fd);
		return -1;
	}
	return fd;
}

static int vnet_len(int fd)
{
	struct ifreq ifr = { 0 };
	int len = 0;

	if (ioctl(fd, TUNGETIFF, &ifr) < 0 || !(ifr.ifr_flags & IFF_VNET_HDR))
		return 0;
	if (ioctl(fd, TUNGETVNETHDRSZ, &len) < 0)
		return -errno;
	return len >= (int)sizeof(struct virtio_net_hdr) && len <= TAPQ_VNET_MAX ? len : -EPROTO;
}

/* Take every queue of ifname that process pid holds; 0 if it holds none. */
static int scan_pid(struct tapq *q, int pid, const char *ifname, ino_t our_ns)
{
	char dir[64], link[32], tgt[32];
	struct dirent *de;
	int pidfd, fd, len;
	ssize_t n;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d)
		return 0;
	pidfd = -1;
	while ((de = readdir(d)) && q->n < TAPQ_MAX_QUEUES) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%.20s", de->d_name);
		n = readlinkat(dirfd(d), link, tgt, sizeof(tgt) - 1);
		if (n < 0)
			continue;
		tgt[n] = 0;
		if (strcmp(tgt, "/dev/net/tun") || !fdinfo_names(pid, link, ifname))
			continue;
		if (pidfd < 0)
			pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0)
			break;
		fd = take(pidfd, atoi(link), ifname, our_ns);
		if (fd < 0)
			continue;
		len = vnet_len(fd);
		if (len < 0) {
			close(fd);
			continue;
		}
		q->fd[q->n] = fd;
		q->vnet_len[q->n++] = len;
	}
	if (pidfd >= 0)
		close(pidfd);
	closedir(d);
	return q->n;
}

int tapq_open(const char *ifname, struct tapq **out)
{
	struct tapq *q;
	struct dirent *de;
	ino_t our_ns;
	int ret, nsfd, self = getpid();
	DIR *proc;

	*out = NULL;
	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
		return -EINVAL;
	ret = is_tun(ifname);
	if (ret < 0)
		return ret;
	nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -errno;
	ret = netns_ino(nsfd, &our_ns);
	close(nsfd);
	if (ret < 0)
		return ret;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->buf = malloc(TAPQ_VNET_MAX + BUFFER_MAX_FRAME);
	proc = opendir("/proc");
	if (!q->buf || !proc) {
		ret = q->buf ? -errno : -ENOMEM;
		goto fail;
	}
	while ((de = readdir(proc))) {
		int pid = atoi(de->d_name);

		if (pid <= 0 || pid == self)
			continue;
		if (scan_pid(q, pid, ifname, our_ns) > 0) {
			q->holder = pid;
			break;
		}
	}
	closedir(proc);
	if (!q->n) {
		ret = -ENOENT;
		goto fail;
	}
	*out = q;
	return 0;
fail:
	tapq_close(q);
	return ret;
}

int tapq_queues(const struct tapq *q)
{
	return q ? q->n : 0;
}

pid_t tapq_holder(const struct tapq *q)
{
	return q ? q->holder : 0;
}

/* Read queue i out; returns records handed on or a negative errno. */
static int drain_queue(struct tapq *q, int i, const struct mac *mac, buffer_record_fn fn,
		       void *arg, struct tapq_stats *st, uint64_t *seq)
{
	int fd = q->fd[i], hl = q->vnet_len[i], fl, ret = 0, handed = 0;
	struct virtio_net_hdr h = { 0 };
	struct buffer_record rec;
	ssize_t n;

	/* The descriptor is the reader's own open file: restore its flags. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	for (;;) {
		n = read(fd, q->buf, TAPQ_VNET_MAX + BUFFER_MAX_FRAME);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				ret = -errno;
			if (errno != EINTR)
				break;
			continue;
		}
		memset(&rec, 0, sizeof(rec));
		if (st->hashes && st->read < st->hashes_cap && n > hl)
			st->hashes[st->read] = frame_hash(q->buf + hl, (size_t)(n - hl));
		st->read++;
		if (n < hl + FRAME_ETH_HLEN) {
			st->bad++;
			continue;
		}
		memcpy(&h, q->buf, hl ? sizeof(h) : 0);
		rec.frame = q->buf + hl;
		rec.len = (uint32_t)(n - hl);
		if (memcmp(rec.frame, mac->b, MAC_LEN)) {
			st->other++;
			continue;
		}
		if (buffer_record_from_vnet(&rec, &h) < 0) {
			st->bad++;
			continue;
		}
		rec.seq = (*seq)++;
		rec.tstamp_ns = timeutil_mono_ns();
		ret = fn(&rec, arg);
		if (ret < 0)
			break;
		st->frames++;
		st->bytes += rec.len;
		handed++;
	}
	if (!(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl);
	return ret < 0 ? ret : handed;
}

int tapq_drain(struct tapq *q, const struct mac *mac, buffer_record_fn fn, void *arg,
	       struct tapq_stats *st)
{
	struct tapq_stats none = { 0 };
	uint32_t *hashes;
	uint64_t seq = 0;
	size_t cap;
	int i, ret, total = 0;

	if (!st)
		st = &none;
	hashes = st->hashes;
	cap = st->hashes_cap;
	memset(st, 0, sizeof(*st));
	st->hashes = hashes;
	st->hashes_cap = cap;
	if (!q || !mac || !fn)
		return -EINVAL;
	for (i = 0; i < q->n; i++) {
		ret = drain_queue(q, i, mac, fn, arg, st, &seq);
		if (ret < 0)
			return ret;
		total += ret;
	}
	return total;
}

void tapq_close(struct tapq *q)
{
	int i;

	if (!q)
		return;
	for (i = 0; i < q->n; i++)
		close(q->fd[i]);
	free(q->buf);
	free(q);
}

/* A number in /sys/class/net/IF/ATTR. */
static int sysfs_u64(const char *ifname, const char *attr, uint64_t *v)
{
	unsigned long long n;
	char path[128];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ENOENT : -EIO;
	if (fscanf(f, "%llu", &n) == 1)
		*v = n;
	else
		ret = -EIO;
	fclose(f);
	return ret;
}

int tapq_stat(const char *ifname, const char *counter, uint64_t *v)
{
	char attr[64];

	snprintf(attr, sizeof(attr), "statistics/%s", counter);
	return sysfs_u64(ifname, attr, v);
}

int tapq_txqlen(const char *ifname, uint64_t *v)
{
	return sysfs_u64(ifname, "tx_queue_len", v);
}
