/* precopy: the migration engine (source and destination). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "precopy.h"
#include "stream.h"

static uint64_t pc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void precopy_config_default(struct precopy_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->downtime_ms = 30;
	cfg->max_rounds = 30;
	cfg->max_time_ms = 30000;
	cfg->stall_rounds = 5;
	cfg->ls_pages_per_iter = 2;
	cfg->ls_pages_per_ms = 100;
	cfg->timeout_ms = 10000;
	cfg->max_ram = 3ull << 30;
}

static void pc_event(const struct precopy_config *cfg, const char *kind)
{
	if (cfg->event)
		cfg->event(kind, cfg->arg);
}

/* Best effort: tell the peer why we stop. */
static void pc_abort(struct ctl_conn *c, const char *why)
{
	struct ctl_msg m;

	ctl_msg_init(&m, STREAM_ABORT);
	if (ctl_put_str(&m, SA_TEXT, why) == 0)
		ctl_send(c, &m);
	ctl_msg_free(&m);
}

/* After a failed send: the peer may have said why before closing. */
static void pc_peer_reason(struct ctl_conn *c, char *why, size_t len)
{
	char text[160];
	struct ctl_msg m;
	size_t n = strlen(why);

	ctl_msg_init(&m, 0);
	if (ctl_recv(c, &m, 200) == 0 && m.type == STREAM_ABORT &&
	    ctl_get_str(&m, SA_TEXT, text, sizeof(text)) == 0 && n < len)
		snprintf(why + n, len - n, " (destination: %s)", text);
	ctl_msg_free(&m);
}

#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)

/* Which of the 64 pages from pfn were never touched (no page behind them,
 * not even swapped out: they read as zero).  Asked after the dirty bits were
 * taken, so a first write racing with the question marks its page again.
 * Returns a mask, 0 if the kernel does not say. */
static uint64_t pc_untouched(struct vm *vm, int pagemap, uint64_t pfn)
{
	uint64_t ent[64], mask = 0, n = vm->npages - pfn < 64 ? vm->npages - pfn : 64, i;
	off_t off = (off_t)((uintptr_t)vm->ram / VM_PAGE_SIZE + pfn) * 8;

	if (pagemap < 0 || pread(pagemap, ent, n * 8, off) != (ssize_t)(n * 8))
		return 0;
	for (i = 0; i < n; i++)
		if (!(ent[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)))
			mask |= 1ULL << i;
	return mask;
}

static int pc_send_dirty(struct vm *vm, struct stream_tx *tx, uint64_t *sent)
{
	uint64_t w, before = tx->pages;
	int pagemap, ret;

	ret = vm->ops->sync_dirty(vm);
	if (ret)
		return ret;
	/* Reading a never-touched page would fault it in only to find zeros:
	 * round 0 of a large guest is mostly such pages. */
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	for (w = 0; w < (vm->npages + 63) / 64; w++) {
		uint64_t bits = vm_dirty_take(vm, w), untouched;

		untouched = bits ? pc_untouched(vm, pagemap, w * 64) : 0;
		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);
			uint64_t pfn = w * 64 + b;

			ret = stream_tx_page(tx, pfn, untouched & (1ULL << b) ? NULL :
						      vm->ram + pfn * VM_PAGE_SIZE);
			if (ret)
				goto out;
			bits &= bits - 1;
		}
	}
	ret = stream_tx_flush(tx);
	*sent = tx->pages - before;
out:
	if (pagemap >= 0)
		close(pagemap);
	return ret;
}

static int pc_round_end(struct stream_tx *tx, uint64_t round, uint64_t count)
{
	struct ctl_msg m;
	int ret;

	ctl_msg_init(&m, STREAM_ROUND_END);
	ret = ctl_put_u64(&m, SA_ROUND, round);
	if (!ret)
		ret = ctl_put_u64(&m, SA_COUNT, count);
	if (!ret)
		ret = stream_tx_send(tx, &m);
	ctl_msg_free(&m);
	return ret;
}

static int pc_send_state(struct vm *vm, struct stream_tx *tx)
{
	struct cpu_state *s = malloc(sizeof(*s));
	struct stream_w cw = { 0 }, dw = { 0 };
	struct ctl_msg m;
	int ret;

	ctl_msg_init(&m, STREAM_STATE);
	if (!s) {
		ret = -ENOMEM;
		goto out;
	}
	ret = vm->ops->get_state(vm, s);
	if (ret)
		goto out;
	stream_put_cpu(&cw, s);
	dev_save(vm, &dw);
	ret = cw.err ? cw.err : dw.err;
	if (!ret)
		ret = ctl_put(&m, SA_CPU, cw.p, cw.len);
	if (!ret)
		ret = ctl_put(&m, SA_DEV, dw.p, dw.len);
	if (!ret)
		ret = stream_tx_send(tx, &m);
out:
	stream_w_free(&cw);
	stream_w_free(&dw);
	ctl_msg_free(&m);
	free(s);
	return ret;
}

/* Wait for the destination to confirm it applied round r.  A bandwidth
 * measured up to the socket write would count data still queued in socket
 * buffers, and the final pause would then wait for all of it. */
static int pc_wait_ack(struct ctl_conn *c, uint64_t r, int timeout_ms)
{
	struct ctl_msg m;
	uint64_t got;
	int ret;

	ctl_msg_init(&m, 0);
	ret = ctl_recv(c, &m, timeout_ms);
	if (!ret && (m.type != STREAM_ROUND_ACK || ctl_get_u64(&m, SA_ROUND, &got) || got != r))
		ret = m.type == STREAM_ABORT ? -ECANCELED : -EBADMSG;
	ctl_msg_free(&m);
	return ret;
}

/* Pre-copy rounds; returns with the pages still dirty in vm's bitmap. */
static int pc_rounds(struct vm *vm, struct stream_tx *tx, const struct precopy_config *cfg,
		     struct precopy_stats *st, uint64_t t0)
{
	uint64_t send_ns = 0, sent, t, limit;
	uint32_t r, stall = 0;
	int ret;

	limit = cfg->max_rounds < PRECOPY_MAX_ROUNDS ? cfg->max_rounds : PRECOPY_MAX_ROUNDS;
	if (!limit)
		limit = 1;
	vm_dirty_all(vm);
	for (r = 0;; r++) {
		t = pc_now();
		ret = pc_send_dirty(vm, tx, &sent);
		if (!ret)
			ret = pc_round_end(tx, r, sent);
		if (!ret)
			ret = pc_wait_ack(tx->c, r, cfg->timeout_ms);
		if (ret) {
			snprintf(st->why, sizeof(st->why), "round %u: %s", r, stream_strerror(ret));
			return ret;
		}
		send_ns += pc_now() - t;
		st->pages[r] = sent;
		st->rounds = r + 1;
		if (vm->lockstep) {
			/* The guest "runs while we send": a fixed number of its
			 * iterations per page sent, so rounds are exact. */
			uint32_t ppi = cfg->ls_pages_per_iter ? cfg->ls_pages_per_iter : 1;

			ret = vm_run_iters(vm, (sent + ppi - 1) / ppi);
		} else {
			ret = vm_error(vm);
		}
		if (ret) {
			snprintf(st->why, sizeof(st->why), "guest failed: %.200s", vm->err);
			return ret;
		}
		st->bytes = tx->bytes;
		st->mbps = send_ns ? (double)tx->bytes * 1e3 / (double)send_ns : 0;
		st->dirty = vm_dirty_count(vm);
		if (vm->lockstep)
			st->predicted_ms = (double)st->dirty /
					   (cfg->ls_pages_per_ms ? cfg->ls_pages_per_ms : 1);
		else
			st->predicted_ms = st->mbps > 0 ?
				(double)st->dirty * VM_PAGE_SIZE / (st->mbps * 1e3) : 1e9;
		st->total_ns = pc_now() - t0;
		if (cfg->progress)
			cfg->progress(st, cfg->arg);
		if (st->predicted_ms <= cfg->downtime_ms) {
			st->converged = true;
			snprintf(st->why, sizeof(st->why),
				 "converged: %llu pages left, predicted %.2f ms <= %u ms",
				 (unsigned long long)st->dirty, st->predicted_ms, cfg->downtime_ms);
			return 0;
		}
		stall = st->dirty >= sent ? stall + 1 : 0;
		if (r + 1 >= limit || (cfg->stall_rounds && stall >= cfg->stall_rounds) ||
		    (!vm->lockstep && cfg->max_time_ms &&
		     pc_now() - t0 >= (uint64_t)cfg->max_time_ms * 1000000)) {
			snprintf(st->why, sizeof(st->why),
				 "not converged after %u rounds: %llu pages still dirty, predicted %.2f ms > target %u ms%s",
				 r + 1, (unsigned long long)st->dirty, st->predicted_ms,
				 cfg->downtime_ms,
				 stall >= cfg->stall_rounds && cfg->stall_rounds ?
				 " (dirty rate >= transfer rate)" : "");
			return 0;
		}
	}
}

int precopy_send(struct vm *vm, struct ctl_conn *c, const struct precopy_config *cfg,
		 struct precopy_stats *st)
{
	struct stream_hello h = { .version = STREAM_VERSION };
	uint64_t t0 = pc_now(), t_pause = 0, load_ns;
	struct stream_tx tx;
	struct ctl_msg m;
	char text[200];
	bool paused = false;
	int ret;

	memset(st, 0, sizeof(*st));
	stream_tx_init(&tx, c);
	ctl_msg_init(&m, 0);
	h.ram = vm->ram_size;
	h.kind = vm->ops->kind;
	vm->ops->features(vm, h.feat);
	ret = stream_hello_build(&m, &h);
	if (!ret)
		ret = stream_tx_send(&tx, &m);
	if (!ret)
		ret = ctl_recv(c, &m, cfg->timeout_ms);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "handshake: %s", stream_strerror(ret));
		goto fail;
	}
	if (m.type == STREAM_REFUSE || m.type == STREAM_ABORT) {
		if (ctl_get_str(&m, SA_TEXT, text, sizeof(text)))
			snprintf(text, sizeof(text), "no reason given");
		snprintf(st->why, sizeof(st->why), "destination refused: %s", text);
		ret = -EPERM;
		goto out;
	}
	if (m.type != STREAM_ACCEPT) {
		ret = -EBADMSG;
		snprintf(st->why, sizeof(st->why), "handshake: unexpected message %#x", m.type);
		goto fail;
	}
	if (!cfg->stop_copy) {
		ret = pc_rounds(vm, &tx, cfg, st, t0);
		if (ret)
			goto fail;
	} else {
		st->converged = true;
		snprintf(st->why, sizeof(st->why), "stop-and-copy");
	}

	/* Blackout first: netmove buffers what arrives from now on, and what
	 * already sits in the NIC back-end goes into the guest's posted buffers
	 * once it is paused (those pages travel in the final copy). */
	pc_event(cfg, "blackout");
	t_pause = pc_now();
	vm_pause(vm);
	paused = true;
	if (cfg->hold_ms) {
		struct timespec ts = { .tv_sec = cfg->hold_ms / 1000,
				       .tv_nsec = (long)(cfg->hold_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	dev_quiesce(vm);
	if (cfg->stop_copy)
		vm_dirty_all(vm);
	ret = pc_send_dirty(vm, &tx, &st->final_pages);
	if (!ret)
		ret = pc_round_end(&tx, st->rounds, st->final_pages);
	if (!ret)
		ret = pc_send_state(vm, &tx);
	if (!ret) {
		ctl_msg_reset(&m, STREAM_END);
		ret = stream_tx_send(&tx, &m);
	}
	if (!ret)
		ret = pc_wait_ack(c, st->rounds, cfg->timeout_ms);
	if (!ret)
		ret = ctl_recv(c, &m, cfg->timeout_ms);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "final copy: %s", stream_strerror(ret));
		goto fail;
	}
	if (m.type != STREAM_RESUMED) {
		if (ctl_get_str(&m, SA_TEXT, text, sizeof(text)))
			snprintf(text, sizeof(text), "message %#x", m.type);
		snprintf(st->why, sizeof(st->why), "destination failed to resume: %s", text);
		ret = -EPROTO;
		goto out;
	}
	st->downtime_ns = pc_now() - t_pause;
	if (!ctl_get_u64(&m, SA_LOAD_NS, &load_ns))
		st->load_ns = load_ns;
	goto out;
fail:
	pc_peer_reason(c, st->why, sizeof(st->why));
	pc_abort(c, st->why);
out:
	st->bytes = tx.bytes;
	st->zero_pages = tx.zero_pages;
	st->total_ns = pc_now() - t0;
	if (ret && paused) {
		/* The destination never confirmed: the guest stays here. */
		vm_dirty_all(vm);
		vm_resume(vm);
		pc_event(cfg, "failed");
	}
	stream_tx_free(&tx);
	ctl_msg_free(&m);
	return ret;
}

static int pc_check(const struct stream_hello *h, const struct vm_config *tmpl,
		    const struct precopy_config *cfg, char *why, size_t len)
{
	uint32_t here[CPU_FEAT_WORDS];
	struct vm probe;

	if (h->kind != tmpl->ops->kind) {
		const struct cpu_ops *o = cpu_ops_by_kind((uint32_t)h->kind);

		snprintf(why, len, "CPU back-end differs: source runs %s, this host %s",
			 o ? o->name : "an unknown back-end", tmpl->ops->name);
		return -EPERM;
	}
	if (h->ram > cfg->max_ram || h->ram < VM_MIN_RAM || h->ram % VM_PAGE_SIZE) {
		snprintf(why, len, "guest RAM %llu MiB does not fit (this host allows %llu MiB)",
			 (unsigned long long)(h->ram >> 20),
			 (unsigned long long)(cfg->max_ram >> 20));
		return -ENOMEM;
	}
	/* Features are a property of the back-end here, not of one VM. */
	memset(&probe, 0, sizeof(probe));
	probe.ops = tmpl->ops;
	if (tmpl->ops->kind == CPU_KIND_EMU) {
		tmpl->ops->features(&probe, here);
		if (here[CPU_FEAT_WORDS - 1] != h->feat[CPU_FEAT_WORDS - 1]) {
			snprintf(why, len, "emulator build differs: source %#x, here %#x",
				 h->feat[CPU_FEAT_WORDS - 1], here[CPU_FEAT_WORDS - 1]);
			return -EPERM;
		}
		return 0;
	}
	return 1;	/* needs a created vCPU: checked after vm_create */
}

static int pc_check_features(struct vm *vm, const struct stream_hello *h, char *why, size_t len)
{
	uint32_t here[CPU_FEAT_WORDS];
	int i;

	vm->ops->features(vm, here);
	for (i = 0; i < CPU_FEAT_WORDS; i++) {
		if (h->feat[i] & ~here[i]) {
			snprintf(why, len, "CPU features missing here: word %d bits %#x", i,
				 h->feat[i] & ~here[i]);
			return -EPERM;
		}
	}
	return 0;
}

static int pc_refuse(struct ctl_conn *c, const char *why)
{
	struct ctl_msg m;
	int ret;

	ctl_msg_init(&m, STREAM_REFUSE);
	ret = ctl_put_str(&m, SA_TEXT, why);
	if (!ret)
		ret = ctl_send(c, &m);
	ctl_msg_free(&m);
	return ret;
}

static int pc_load_state(struct vm *vm, const struct ctl_msg *m)
{
	struct cpu_state *s = malloc(sizeof(*s));
	struct stream_r r;
	const void *v;
	size_t len;
	int ret;

	if (!s)
		return -ENOMEM;
	ret = ctl_get(m, SA_CPU, &v, &len);
	if (!ret) {
		stream_r_init(&r, v, len);
		ret = stream_get_cpu(&r, s);
	}
	if (!ret)
		ret = ctl_get(m, SA_DEV, &v, &len);
	if (!ret) {
		stream_r_init(&r, v, len);
		ret = dev_load(vm, &r);
	}
	if (ret == -ENOENT)
		ret = -EBADMSG;
	/* RAM is complete by now: selectors reload descriptors from it. */
	if (!ret)
		ret = vm->ops->set_state(vm, s);
	free(s);
	return ret;
}

int precopy_recv(struct vm *vm, const struct vm_config *tmpl, struct ctl_conn *c,
		 const struct precopy_config *cfg, struct precopy_stats *st)
{
	struct vm_config vc = *tmpl;
	struct stream_hello h;
	struct ctl_msg m;
	uint64_t t0 = pc_now(), t_end, round_pages = 0, count, round;
	bool have_vm = false, have_state = false;
	char text[200];
	int ret;

	memset(st, 0, sizeof(*st));
	ctl_msg_init(&m, 0);
	ret = ctl_recv(c, &m, cfg->timeout_ms);
	if (!ret)
		ret = stream_hello_parse(&m, &h);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "handshake: %s", stream_strerror(ret));
		goto out;
	}
	st->bytes += CTL_HDR_LEN + CTL_TAG_LEN + m.len;
	ret = pc_check(&h, tmpl, cfg, st->why, sizeof(st->why));
	if (ret >= 0) {
		vc.ram_size = h.ram;
		vc.no_boot = true;
		ret = vm_create(vm, &vc) ? -EIO : ret;
		if (ret == -EIO)
			snprintf(st->why, sizeof(st->why), "cannot create the VM: %.200s", vm->err);
		else
			have_vm = true;
	}
	if (ret == 1)
		ret = pc_check_features(vm, &h, st->why, sizeof(st->why));
	if (ret < 0) {
		pc_refuse(c, st->why);
		goto out;
	}
	ctl_msg_reset(&m, STREAM_ACCEPT);
	ret = ctl_send(c, &m);
	while (!ret) {
		ret = ctl_recv(c, &m, cfg->timeout_ms);
		if (ret) {
			snprintf(st->why, sizeof(st->why), "%s", stream_strerror(ret));
			break;
		}
		st->bytes += CTL_HDR_LEN + CTL_TAG_LEN + m.len;
		switch (m.type) {
		case STREAM_PAGES:
			ret = stream_apply_pages(vm->ram, vm->npages, &m, &round_pages);
			if (ret)
				snprintf(st->why, sizeof(st->why), "malformed page record");
			break;
		case STREAM_ROUND_END:
			if (ctl_get_u64(&m, SA_ROUND, &round) || ctl_get_u64(&m, SA_COUNT, &count) ||
			    round != st->rounds || count != round_pages) {
				ret = -EBADMSG;
				snprintf(st->why, sizeof(st->why),
					 "round %u incomplete: %llu pages received", st->rounds,
					 (unsigned long long)round_pages);
				break;
			}
			if (st->rounds < PRECOPY_MAX_ROUNDS)
				st->pages[st->rounds] = round_pages;
			st->final_pages = round_pages;
			st->rounds++;
			round_pages = 0;
			ctl_msg_reset(&m, STREAM_ROUND_ACK);
			ret = ctl_put_u64(&m, SA_ROUND, round);
			if (!ret)
				ret = ctl_send(c, &m);
			if (ret)
				snprintf(st->why, sizeof(st->why), "acknowledging round %llu: %s",
					 (unsigned long long)round, stream_strerror(ret));
			break;
		case STREAM_STATE:
			ret = pc_load_state(vm, &m);
			if (ret)
				snprintf(st->why, sizeof(st->why), "bad vCPU/device state: %.200s",
					 ret == -EBADMSG ? "malformed record" : vm->err);
			have_state = !ret;
			break;
		case STREAM_END:
			if (!have_state || round_pages) {
				ret = -EBADMSG;
				snprintf(st->why, sizeof(st->why), "stream ended before the final state");
				break;
			}
			t_end = pc_now();
			if (!vm->lockstep)
				ret = vm_start(vm);
			if (ret) {
				snprintf(st->why, sizeof(st->why), "cannot resume: %s", strerror(-ret));
				break;
			}
			pc_event(cfg, "resumed");
			st->load_ns = pc_now() - t_end;
			ctl_msg_reset(&m, STREAM_RESUMED);
			if (ctl_put_u64(&m, SA_LOAD_NS, st->load_ns) == 0)
				ctl_send(c, &m);
			/* Rounds counted the final one too: report pre-copy rounds. */
			st->rounds = st->rounds ? st->rounds - 1 : 0;
			snprintf(st->why, sizeof(st->why), "resumed");
			goto out;
		case STREAM_ABORT:
			if (ctl_get_str(&m, SA_TEXT, text, sizeof(text)))
				snprintf(text, sizeof(text), "no reason given");
			snprintf(st->why, sizeof(st->why), "source aborted: %s", text);
			ret = -ECANCELED;
			break;
		default:
			snprintf(st->why, sizeof(st->why), "unexpected message %#x", m.type);
			ret = -EBADMSG;
		}
	}
	if (ret && ret != -ECANCELED && ret != -ECONNRESET)
		pc_abort(c, st->why);
out:
	st->total_ns = pc_now() - t0;
	if (ret && have_vm)
		vm_destroy(vm);
	ctl_msg_free(&m);
	return ret;
}
