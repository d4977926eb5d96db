/* dev_nic: the paravirtual NIC.  All work happens in the vCPU thread, at the
 * guest's doorbells: RX_POLL moves frames from the back-end into the buffers
 * the guest posted, TX_KICK sends what the guest queued.  A frame is read
 * from the back-end only when a posted buffer is free, so a slow guest leaves
 * frames queued in the tap (where the kernel counts overflows) instead of
 * dropping them here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev.h"
#include "stream.h"
#include "vm.h"

#define NIC_DESC_LEN 8
#define NIC_BOUNCE (64u << 10)
#define NIC_PEND_MAX (32u << 20)	/* frames held across a migration */
#define NIC_PEND_FRAMES 65536

struct nic_desc {
	uint32_t addr;
	uint16_t len;
	uint16_t flags;
};

static bool nic_desc_get(struct vm *vm, uint32_t base, uint32_t i, struct nic_desc *d)
{
	uint64_t gpa = (uint64_t)base + (uint64_t)i * NIC_DESC_LEN;

	if (gpa + NIC_DESC_LEN > vm->ram_size)
		return false;
	memcpy(d, vm->ram + gpa, NIC_DESC_LEN);
	return true;
}

/* The VMM's own writes go through vm_write so that they are marked dirty. */
static void nic_desc_done(struct vm *vm, uint32_t base, uint32_t i, uint16_t len)
{
	uint16_t lf[2] = { len, 0 };

	vm_write(vm, (uint64_t)base + (uint64_t)i * NIC_DESC_LEN + 4, lf, sizeof(lf));
}

static bool nic_buf_ok(const struct vm *vm, uint32_t addr, uint32_t len)
{
	return (uint64_t)addr + len <= vm->ram_size;
}

static void nic_rx(struct vm *vm)
{
	struct dev_nic *n = &vm->nic;
	struct nic_desc d;
	ssize_t len;

	if (!n->rx_base)
		return;
	while (nic_desc_get(vm, n->rx_base, n->rx_next, &d) && (d.flags & HW_NIC_OWN)) {
		const uint8_t *frame = n->bounce;

		if (n->pend_off < n->pend_len) {
			/* Frames carried over from the pause come before the tap's. */
			len = n->pend[n->pend_off] | n->pend[n->pend_off + 1] << 8;
			frame = n->pend + n->pend_off + 2;
			n->pend_off += 2 + (size_t)len;
			if (n->pend_off >= n->pend_len)
				n->pend_off = n->pend_len = 0;
		} else {
			if (n->fd < 0 || !n->bounce)
				break;
			len = read(n->fd, n->bounce, NIC_BOUNCE);
			if (len <= 0)
				break;	/* EAGAIN: nothing queued (0: a closed socket) */
		}
		if (len > HW_NIC_BUF || !nic_buf_ok(vm, d.addr, (uint32_t)len)) {
			n->rx_dropped++;
			continue;
		}
		vm_write(vm, d.addr, frame, (size_t)len);
		nic_desc_done(vm, n->rx_base, n->rx_next, (uint16_t)len);
		n->rx_next = (n->rx_next + 1) % HW_NIC_RING;
		n->rx_frames++;
		n->rx_bytes += (uint64_t)len;
	}
}

static void nic_tx(struct vm *vm)
{
	struct dev_nic *n = &vm->nic;
	struct nic_desc d;
	unsigned i;

	if (!n->tx_base)
		return;
	for (i = 0; i < HW_NIC_RING; i++) {
		if (!nic_desc_get(vm, n->tx_base, n->tx_next, &d) || !(d.flags & HW_NIC_OWN))
			break;
		if (d.len < 14 || d.len > HW_NIC_BUF || !nic_buf_ok(vm, d.addr, d.len) ||
		    n->fd < 0 || write(n->fd, vm->ram + d.addr, d.len) != (ssize_t)d.len) {
			n->tx_errors++;
		} else {
			n->tx_frames++;
			n->tx_bytes += d.len;
		}
		nic_desc_done(vm, n->tx_base, n->tx_next, d.len);
		n->tx_next = (n->tx_next + 1) % HW_NIC_RING;
	}
}

void dev_nic_io(struct vm *vm, uint16_t port, bool out, uint32_t *val)
{
	struct dev_nic *n = &vm->nic;

	if (!n->present) {
		if (!out)
			*val = 0xffffffff;
		return;
	}
	if (!out) {
		switch (port) {
		case HW_NIC_MAC_LO:
			*val = (uint32_t)n->mac[0] | (uint32_t)n->mac[1] << 8 |
			       (uint32_t)n->mac[2] << 16 | (uint32_t)n->mac[3] << 24;
			break;
		case HW_NIC_MAC_HI:
			*val = (uint32_t)n->mac[4] | (uint32_t)n->mac[5] << 8;
			break;
		case HW_NIC_IP:
			memcpy(val, &n->ip, 4);
			break;
		default:
			*val = 0xffffffff;
		}
		return;
	}
	switch (port) {
	case HW_NIC_RX_BASE:
		n->rx_base = *val;
		n->rx_next = 0;
		break;
	case HW_NIC_TX_BASE:
		n->tx_base = *val;
		n->tx_next = 0;
		break;
	case HW_NIC_TX_KICK:
		nic_tx(vm);
		break;
	case HW_NIC_RX_POLL:
		nic_rx(vm);
		break;
	}
}

/* Append one frame to the pending queue; false when it is full. */
static bool nic_pend_add(struct dev_nic *n, const uint8_t *frame, size_t len)
{
	size_t need = n->pend_len + 2 + len, cap;
	uint8_t *p;

	if (need > NIC_PEND_MAX)
		return false;
	if (need > n->pend_cap) {
		cap = n->pend_cap ? n->pend_cap : 64u << 10;
		while (cap < need)
			cap *= 2;
		p = realloc(n->pend, cap);
		if (!p)
			return false;
		n->pend = p;
		n->pend_cap = cap;
	}
	n->pend[n->pend_len] = (uint8_t)len;
	n->pend[n->pend_len + 1] = (uint8_t)(len >> 8);
	memcpy(n->pend + n->pend_len + 2, frame, len);
	n->pend_len = need;
	return true;
}

/* At the pause: fill the posted buffers, then take everything else still
 * queued in the back-end.  Those frames reached the VM before the blackout
 * buffer was armed; leaving them in the source tap would lose them. */
void dev_quiesce(struct vm *vm)
{
	struct dev_nic *n = &vm->nic;
	ssize_t len;

	if (!n->present)
		return;
	nic_rx(vm);
	if (n->fd < 0 || !n->bounce)
		return;
	while ((len = read(n->fd, n->bounce, NIC_BOUNCE)) > 0) {
		if (len > HW_NIC_BUF || !nic_pend_add(n, n->bounce, (size_t)len)) {
			n->rx_dropped++;
			continue;
		}
		n->carried++;
	}
}

int dev_nic_init(struct dev_nic *n, bool present, const uint8_t mac[6], uint32_t ip, int fd)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	n->present = present;
	if (!present)
		return 0;
	memcpy(n->mac, mac, 6);
	n->ip = ip;
	n->fd = fd;
	if (fd >= 0) {
		n->bounce = malloc(NIC_BOUNCE);
		if (!n->bounce)
			return -ENOMEM;
	}
	return 0;
}

void dev_nic_exit(struct dev_nic *n)
{
	free(n->bounce);
	n->bounce = NULL;
	free(n->pend);
	n->pend = NULL;
	n->pend_len = n->pend_off = n->pend_cap = 0;
	n->fd = -1;
}

void dev_nic_save(const struct dev_nic *n, struct stream_w *w)
{
	stream_w_u16(w, n->present);
	stream_w_bytes(w, n->mac, 6);
	stream_w_bytes(w, &n->ip, 4);
	stream_w_u32(w, n->rx_base);
	stream_w_u32(w, n->tx_base);
	stream_w_u32(w, n->rx_next);
	stream_w_u32(w, n->tx_next);
	stream_w_u64(w, n->rx_frames);
	stream_w_u64(w, n->tx_frames);
	stream_w_u64(w, n->rx_bytes);
	stream_w_u64(w, n->tx_bytes);
	stream_w_u64(w, n->rx_dropped);
	stream_w_u64(w, n->tx_errors);
	stream_w_u64(w, n->carried);
	stream_w_u32(w, (uint32_t)(n->pend_len - n->pend_off));
	if (n->pend_len > n->pend_off)
		stream_w_bytes(w, n->pend + n->pend_off, n->pend_len - n->pend_off);
}

int dev_nic_load(struct dev_nic *n, struct stream_r *r)
{
	struct dev_nic t = { 0 };
	uint16_t present = stream_r_u16(r);

	stream_r_bytes(r, t.mac, 6);
	stream_r_bytes(r, &t.ip, 4);
	t.rx_base = stream_r_u32(r);
	t.tx_base = stream_r_u32(r);
	t.rx_next = stream_r_u32(r);
	t.tx_next = stream_r_u32(r);
	t.rx_frames = stream_r_u64(r);
	t.tx_frames = stream_r_u64(r);
	t.rx_bytes = stream_r_u64(r);
	t.tx_bytes = stream_r_u64(r);
	t.rx_dropped = stream_r_u64(r);
	t.tx_errors = stream_r_u64(r);
	t.carried = stream_r_u64(r);
	t.pend_len = stream_r_u32(r);
	if (r->err || present > 1 || t.rx_next >= HW_NIC_RING || t.tx_next >= HW_NIC_RING ||
	    t.pend_len > NIC_PEND_MAX)
		return -EBADMSG;
	if (t.pend_len) {
		size_t off = 0, frames = 0;

		t.pend = malloc(t.pend_len);
		if (!t.pend)
			return -ENOMEM;
		t.pend_cap = t.pend_len;
		stream_r_bytes(r, t.pend, t.pend_len);
		/* Every record must be a whole frame that fits a guest buffer. */
		while (!r->err && off + 2 <= t.pend_len) {
			size_t len = t.pend[off] | t.pend[off + 1] << 8;

			if (len > HW_NIC_BUF || off + 2 + len > t.pend_len)
				break;
			off += 2 + len;
			frames++;
		}
		if (r->err || off != t.pend_len || frames > NIC_PEND_FRAMES) {
			free(t.pend);
			return -EBADMSG;
		}
	}
	if (present && n->fd >= 0 && !n->bounce) {
		n->bounce = malloc(NIC_BOUNCE);
		if (!n->bounce)
			return -ENOMEM;
	}
	t.present = present;
	t.fd = n->fd;
	t.bounce = n->bounce;
	free(n->pend);
	*n = t;
	return 0;
}
