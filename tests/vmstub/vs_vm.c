#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "netmove/frame.h"
#include "vs_hook.h"
#include "vmstub.h"

#define VS_RARP_LEN 60

const char *const vm_state_names[] = { "running", "pausing", "paused" };
const char *const vm_slot_names[] = { "src", "dst" };

uint64_t vm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

long long vm_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int vm_msg(struct vmstub *vs, int err, bool with_errno, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static int vm_msg(struct vmstub *vs, int err, bool with_errno, const char *fmt, va_list ap)
{
	size_t n;

	vsnprintf(vs->err, sizeof(vs->err), fmt, ap);
	n = strlen(vs->err);
	if (with_errno && err < 0 && n < sizeof(vs->err))
		snprintf(vs->err + n, sizeof(vs->err) - n, ": %s", strerror(-err));
	return err;
}

int vm_err(struct vmstub *vs, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vm_msg(vs, err, true, fmt, ap);
	va_end(ap);
	return err;
}

int vm_fail(struct vmstub *vs, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vm_msg(vs, err, false, fmt, ap);
	va_end(ap);
	return err;
}

/* ---- namespaces and taps ---- */

/* Run fn inside the namespace nsfd and come back; the way back cannot be allowed to fail. */
static int in_ns(struct vmstub *vs, int nsfd, int (*fn)(struct vmstub *, void *), void *arg)
{
	int ret;

	ret = vs_ns_enter(nsfd);
	if (ret < 0)
		return vm_err(vs, ret, "entering namespace");
	ret = fn(vs, arg);
	if (vs_ns_enter(vs->orig_ns) < 0) {
		perror("nm-vmstub: returning to the original namespace");
		abort();
	}
	return ret;
}

static int guest_setup(struct vmstub *vs, void *arg)
{
	static const char *const v6[] = { "ipv6/conf/all/disable_ipv6",
					   "ipv6/conf/default/disable_ipv6" };
	int *fd = arg, ret;
	size_t i;

	/* Before any link exists, so eth0 never sends DAD/RS/MLD: those would be
	 * announcements the migration did not make. */
	for (i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		ret = vs_sysctl_net(v6[i], "1");
		if (ret < 0 && ret != -ENOENT)
			return vm_err(vs, ret, "guest: sysctl %s", v6[i]);
	}
	ret = vs_link_up("lo");
	if (ret < 0)
		return vm_err(vs, ret, "guest: lo up");
	*fd = vs_tap_create(VS_GUEST_IF);
	if (*fd < 0)
		return vm_err(vs, *fd, "guest: creating tap %s", VS_GUEST_IF);
	ret = vs_link_set_mac(VS_GUEST_IF, vs->o.mac);
	if (ret < 0)
		return vm_err(vs, ret, "guest: setting the MAC of %s", VS_GUEST_IF);
	ret = vs_link_set_txqlen(VS_GUEST_IF, vs->o.txqlen);
	if (ret < 0)
		return vm_err(vs, ret, "guest: txqueuelen of %s", VS_GUEST_IF);
	ret = vs_link_up(VS_GUEST_IF);
	if (ret < 0)
		return vm_err(vs, ret, "guest: %s up", VS_GUEST_IF);
	ret = vs_addr_add(VS_GUEST_IF, vs->o.ip, vs->o.prefix);
	if (ret < 0)
		return vm_err(vs, ret, "guest: address %s", vs->o.ip_str);
	if (vs->o.has_gw) {
		ret = vs_route_default(VS_GUEST_IF, vs->o.gw);
		if (ret < 0)
			return vm_err(vs, ret, "guest: default route");
	}
	return 0;
}

static int host_tap_ns(struct vmstub *vs, void *arg)
{
	struct vs_tap *t = arg;
	char key[64];
	int ret;

	t->fd = vs_tap_create(t->name);
	if (t->fd < 0)
		return vm_err(vs, t->fd, "creating tap %s in %s", t->name, t->ns);
	/* A host-side IPv6 link-local would talk into the VM's port. */
	snprintf(key, sizeof(key), "ipv6/conf/%s/disable_ipv6", t->name);
	ret = vs_sysctl_net(key, "1");
	if (ret < 0 && ret != -ENOENT)
		return vm_err(vs, ret, "sysctl %s in %s", key, t->ns);
	ret = vs_link_set_txqlen(t->name, vs->o.txqlen);
	if (ret < 0)
		return vm_err(vs, ret, "txqueuelen of %s in %s", t->name, t->ns);
	ret = vs_link_up(t->name);
	if (ret < 0)
		return vm_err(vs, ret, "%s up in %s", t->name, t->ns);
	return 0;
}

bool vm_ifname_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < IFNAMSIZ && !strpbrk(name, "/: \t\n") && strcmp(name, ".") &&
	       strcmp(name, "..");
}

int vm_host_tap_open(struct vmstub *vs, const char *ns, const char *name, struct vs_tap *t)
{
	int nsfd, ret;

	if (!vm_ifname_ok(name))
		return vm_fail(vs, -EINVAL, "invalid tap name '%s'", name);
	if (strlen(ns) >= sizeof(t->ns))
		return vm_fail(vs, -ENAMETOOLONG, "namespace name");
	nsfd = vs_ns_open(ns);
	if (nsfd < 0)
		return vm_err(vs, nsfd, "namespace %s", ns);
	snprintf(t->ns, sizeof(t->ns), "%s", ns);
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->fd = -1;
	ret = in_ns(vs, nsfd, host_tap_ns, t);
	close(nsfd);
	if (ret < 0 && t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	return ret;
}

int vm_guest_open(struct vmstub *vs)
{
	return in_ns(vs, vs->guest_ns, guest_setup, &vs->guest_fd);
}

/* ---- forwarding ---- */

/* Move up to max frames from one tap to another, virtio-net header included, so
 * checksum-partial and GSO frames pass unchanged.  Returns frames moved or -errno
 * (a read error: the tap is gone). */
int vm_fwd(struct vmstub *vs, int from, int to, uint64_t *frames, uint64_t *bytes, int max)
{
	static unsigned char buf[VS_FRAME_MAX];
	int i, moved = 0;
	ssize_t n;

	for (i = 0; i < max; i++) {
		n = read(from, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n <= VS_VNET_HDR_LEN || write(to, buf, (size_t)n) != n) {
			vs->st.dropped++;
			continue;
		}
		if (to == vs->guest_fd) {
			memmove(vs->rx_hash + 1, vs->rx_hash, 2 * sizeof(vs->rx_hash[0]));
			memmove(vs->rx_len + 1, vs->rx_len, 2 * sizeof(vs->rx_len[0]));
			vs->rx_hash[0] = frame_hash(buf + VS_VNET_HDR_LEN, (size_t)(n - VS_VNET_HDR_LEN));
			vs->rx_len[0] = (uint32_t)(n - VS_VNET_HDR_LEN);
			vs->rx_seen += vs->rx_seen < 3;
		}
		(*frames)++;
		*bytes += (uint64_t)(n - VS_VNET_HDR_LEN);
		moved++;
	}
	return moved;
}

void vm_keep_one(struct vmstub *vs)
{
	unsigned char *buf = malloc(VS_FRAME_MAX);
	ssize_t n;

	if (!buf)
		return;
	n = read(vs->tap[vs->active].fd, buf, VS_FRAME_MAX);
	if (n <= VS_VNET_HDR_LEN) {
		free(buf);
		return;
	}
	if (vs->drop_first && !vs->dropped) {
		vs->dropped = true;
		free(buf);
		return;
	}
	vs->kept = buf;
	vs->kept_len = n;
}

/* Read and count what is still queued on a tap that is about to be closed. */
uint64_t vm_discard(int fd, int max)
{
	static unsigned char buf[VS_FRAME_MAX];
	uint64_t n = 0;

	while (max-- > 0 && read(fd, buf, sizeof(buf)) >= 0)
		n++;
	return n;
}

/* QEMU's self-announce: a 60-byte RARP request, sender = target = the NIC's MAC. */
int vm_announce(struct vmstub *vs, int fd)
{
	unsigned char f[VS_VNET_HDR_LEN + VS_RARP_LEN] = { 0 };
	unsigned char *e = f + VS_VNET_HDR_LEN;
	static const unsigned char arp_hdr[] = { 0x80, 0x35, 0, 1, 0x08, 0, 6, 4, 0, 3 };

	memset(e, 0xff, 6);
	memcpy(e + 6, vs->o.mac, 6);
	memcpy(e + 12, arp_hdr, sizeof(arp_hdr));
	memcpy(e + 22, vs->o.mac, 6);
	memcpy(e + 32, vs->o.mac, 6);
	if (write(fd, f, sizeof(f)) != (ssize_t)sizeof(f))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- hooks ---- */

pid_t vm_hook_start(struct vmstub *vs, const char *cmd, const char *event)
{
	const struct vs_tap *t = &vs->tap[vs->active];
	char ev[64], mac[64], ip[64], gns[NAME_MAX + 32], hns[NAME_MAX + 32], tap[64];
	char ctl[PATH_MAX + 32], stopped[64], keeps[] = "VMSTUB_KEEPS_ONE=1", last[64], after[64];
	char *vars[] = { ev, mac, ip, gns, hns, tap, ctl, stopped, keeps, last, after, NULL };
	const uint8_t *m = vs->o.mac;

	snprintf(ev, sizeof(ev), "VMSTUB_EVENT=%s", event);
	snprintf(mac, sizeof(mac), "VMSTUB_MAC=%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
	snprintf(ip, sizeof(ip), "VMSTUB_IP=%s", inet_ntoa(vs->o.ip));
	snprintf(gns, sizeof(gns), "VMSTUB_GUEST_NS=%s", vs->o.guest_ns);
	snprintf(hns, sizeof(hns), "VMSTUB_HOST_NS=%s", t->ns);
	snprintf(tap, sizeof(tap), "VMSTUB_TAP=%s", t->name);
	snprintf(ctl, sizeof(ctl), "VMSTUB_CTL=%s", vs->o.ctl);
	if (vs->late)
		snprintf(stopped, sizeof(stopped), "VMSTUB_STOPPED_US=%llu",
			 (unsigned long long)vs->st.pause_stop_us);
	else
		vars[7] = NULL;
	/* A stand-in that drops as QEMU does tells what its guest got as
	 * nm-qemu reads it from a guest's RX ring whose last two buffers the
	 * guest posted again: the third frame from the end whole, then the
	 * lengths of the two after it (no header). */
	snprintf(last, sizeof(last), "VMSTUB_LAST_RX=0x%08x:%u", vs->rx_hash[2], vs->rx_len[2]);
	snprintf(after, sizeof(after), "VMSTUB_RX_AFTER=0:%u,%u", vs->rx_len[1], vs->rx_len[0]);
	/* drop-lengths: as when the guest posted every buffer again, no frame
	 * can be read: the lengths of the last three alone. */
	if (vs->no_anchor) {
		snprintf(last, sizeof(last), "VMSTUB_LAST_RX=none");
		snprintf(after, sizeof(after), "VMSTUB_RX_AFTER=0:%u,%u,%u", vs->rx_len[2],
			 vs->rx_len[1], vs->rx_len[0]);
	}
	if (!vs->late || !vs->drop_first || vs->rx_seen < 3)
		vars[9] = NULL;
	if (!vs->late || !vs->keep_one)
		vars[8] = NULL;
	return vs_hook_spawn(cmd, vars);
}

/* ---- pause ---- */

/* Stop the VM: what is already queued on the host tap was in its RX ring and travels
 * with it; then nothing moves in either direction. */
int vm_pause_finish(struct vmstub *vs)
{
	uint64_t frames = 0, bytes = 0;
	int ret;

	ret = vm_fwd(vs, vs->tap[vs->active].fd, vs->guest_fd, &frames, &bytes,
		     vs->o.txqlen + VS_BATCH);
	vs->st.h2g_frames += frames;
	vs->st.h2g_bytes += bytes;
	vs->st.drained_frames = frames;
	vs->st.drained_bytes = bytes;
	vs->state = VS_PAUSED;
	vs->st.pause_stop_us = vm_now_us();
	vs->st.pauses++;
	return ret < 0 ? vm_err(vs, ret, "draining %s", vs->tap[vs->active].name) : 0;
}
