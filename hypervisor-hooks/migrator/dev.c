/* dev: serial console and control device. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev.h"
#include "stream.h"
#include "vm.h"

#define DEV_STATE_VERSION 3

static uint64_t dev_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void serial_putc(struct dev_serial *s, char c)
{
	if (s->len == s->cap && s->cap < DEV_SERIAL_LOG_MAX) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		char *p = realloc(s->log, cap);

		if (p) {
			s->log = p;
			s->cap = cap;
		}
	}
	if (s->len < s->cap)
		s->log[s->len++] = c;
	if (s->out_fd >= 0 && write(s->out_fd, &c, 1) < 0)
		s->out_fd = -1;
}

static void serial_io(struct dev_serial *s, uint16_t port, bool out, uint32_t *val)
{
	switch (port - HW_SERIAL) {
	case 0:
		if (out)
			serial_putc(s, (char)*val);
		else
			*val = 0;
		break;
	case 3:
		if (out)
			s->lcr = (uint8_t)*val;
		else
			*val = s->lcr;
		break;
	case 5:
		if (!out)
			*val = 0x60;	/* transmitter empty */
		break;
	case 7:
		if (out)
			s->scr = (uint8_t)*val;
		else
			*val = s->scr;
		break;
	default:
		if (!out)
			*val = 0;
	}
}

static void ctl_iter_done(struct vm *vm)
{
	struct dev_ctl *c = &vm->ctl;

	c->iters++;
	if (c->lockstep) {
		if (c->iters >= c->budget)
			atomic_store(&vm->stop, 1);
		return;
	}
	if (c->tick_us) {
		uint64_t now = dev_now_ns(), tick = (uint64_t)c->tick_us * 1000;

		/* At most one iteration per tick.  Time the vCPU did not run (a
		 * pause, the throttle) is not made up for in a burst: it is
		 * lost to the guest, as on real hardware. */
		if (now > c->next_ns)
			c->next_ns = now;
		if (now < c->next_ns) {
			struct timespec ts = { .tv_sec = (time_t)((c->next_ns - now) / 1000000000ull),
					       .tv_nsec = (long)((c->next_ns - now) % 1000000000ull) };

			nanosleep(&ts, NULL);
		}
		c->next_ns += tick;
	}
}

void dev_io(struct vm *vm, uint16_t port, unsigned size, bool out, uint32_t *val)
{
	(void)size;
	if (port >= HW_SERIAL && port < HW_SERIAL + 8) {
		serial_io(&vm->serial, port, out, val);
		return;
	}
	switch (port) {
	case HW_CTL_WS:
		if (!out)
			*val = __atomic_load_n(&vm->ctl.ws, __ATOMIC_RELAXED);
		return;
	case HW_CTL_RATE:
		if (!out)
			*val = __atomic_load_n(&vm->ctl.rate, __ATOMIC_RELAXED);
		return;
	case HW_CTL_DONE:
		if (out)
			ctl_iter_done(vm);
		return;
	case HW_CTL_NET:
		if (!out)
			*val = vm->nic.present;
		return;
	case HW_NIC_MAC_LO: case HW_NIC_MAC_HI: case HW_NIC_IP: case HW_NIC_RX_BASE:
	case HW_NIC_TX_BASE: case HW_NIC_TX_KICK: case HW_NIC_RX_POLL:
		dev_nic_io(vm, port, out, val);
		return;
	default:
		/* Unassigned ports float high, as on a PC. */
		if (!out)
			*val = 0xffffffff;
	}
}

int dev_init(struct vm *vm)
{
	memset(&vm->serial, 0, sizeof(vm->serial));
	memset(&vm->ctl, 0, sizeof(vm->ctl));
	vm->serial.out_fd = -1;
	return dev_nic_init(&vm->nic, false, NULL, 0, -1);
}

void dev_exit(struct vm *vm)
{
	dev_nic_exit(&vm->nic);
	free(vm->serial.log);
	vm->serial.log = NULL;
	vm->serial.len = vm->serial.cap = 0;
}

void dev_save(const struct vm *vm, struct stream_w *w)
{
	stream_w_u32(w, DEV_STATE_VERSION);
	stream_w_u32(w, vm->ctl.ws);
	stream_w_u32(w, vm->ctl.rate);
	stream_w_u64(w, vm->ctl.iters);
	stream_w_u16(w, (uint16_t)(vm->serial.scr | vm->serial.lcr << 8));
	stream_w_u32(w, (uint32_t)vm->serial.len);
	stream_w_bytes(w, vm->serial.log, vm->serial.len);
	dev_nic_save(&vm->nic, w);
}

int dev_load(struct vm *vm, struct stream_r *r)
{
	uint32_t ws, rate, len;
	uint16_t sl;
	uint64_t iters;
	char *log = NULL;
	int ret;

	if (stream_r_u32(r) != DEV_STATE_VERSION)
		return -EBADMSG;
	ws = stream_r_u32(r);
	rate = stream_r_u32(r);
	iters = stream_r_u64(r);
	sl = stream_r_u16(r);
	len = stream_r_u32(r);
	if (r->err || len > DEV_SERIAL_LOG_MAX || len > r->len - r->off)
		return -EBADMSG;
	if (len) {
		log = malloc(len);
		if (!log)
			return -ENOMEM;
		stream_r_bytes(r, log, len);
	}
	ret = r->err ? -EBADMSG : dev_nic_load(&vm->nic, r);
	if (!ret && (r->err || r->off != r->len))
		ret = -EBADMSG;
	if (ret) {
		free(log);
		return ret;
	}
	vm_set_workload(vm, ws, rate);
	vm->ctl.iters = iters;
	vm->ctl.budget = iters;
	vm->serial.scr = (uint8_t)sl;
	vm->serial.lcr = (uint8_t)(sl >> 8);
	free(vm->serial.log);
	vm->serial.log = log;
	vm->serial.len = vm->serial.cap = len;
	return 0;
}
