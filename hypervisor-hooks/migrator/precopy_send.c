/* precopy_send: the source side of a migration.  Handshake, pre-copy rounds
 * (throttling the vCPU when it outruns the stream), the pause, the final
 * copy, and the three-step commit (END -> READY -> COMMIT -> RESUMED). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netmove/timeutil.h"
#include "precopy.h"
#include "stream.h"

#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PC_WINDOW_WORDS 64	/* dirty words (x 64 pages) taken at once */

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

/* Which pages of [pfn, pfn + n) were never touched (no page behind them, not
 * even swapped out: they read as zero), one bit each in out[].  Asked after
 * their dirty bits were taken, so a first write racing with the question
 * marks its page again.  false if the kernel does not say. */
static bool pc_untouched(struct vm *vm, int pagemap, uint64_t pfn, uint64_t n, uint64_t *out)
{
	uint64_t ent[PC_WINDOW_WORDS * 64 / 8], i, done;
	off_t off = (off_t)((uintptr_t)vm->ram / VM_PAGE_SIZE + pfn) * 8;

	if (pagemap < 0)
		return false;
	memset(out, 0, (n + 63) / 64 * 8);
	for (done = 0; done < n; done += i) {
		uint64_t chunk = n - done < sizeof(ent) / 8 ? n - done : sizeof(ent) / 8;

		if (pread(pagemap, ent, chunk * 8, off + (off_t)done * 8) != (ssize_t)(chunk * 8))
			return false;
		for (i = 0; i < chunk; i++)
			if (!(ent[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)))
				out[(done + i) / 64] |= 1ULL << ((done + i) % 64);
	}
	return true;
}

/* Send every dirty page (taking its bit).  The first page message of the
 * round raises PC_EV_ROUND. */
static int pc_send_dirty(struct vm *vm, struct stream_tx *tx, const struct precopy_config *cfg,
			 uint32_t round, uint64_t *sent)
{
	uint64_t words = (vm->npages + 63) / 64, before = tx->pages, msgs = tx->msgs, w0, w;
	uint64_t bits[PC_WINDOW_WORDS], untouched[PC_WINDOW_WORDS];
	bool emitted = false;
	int pagemap, ret;

	ret = vm->ops->sync_dirty(vm);
	if (ret)
		return ret;
	/* Reading a never-touched page would fault it in only to find zeros:
	 * round 0 of a large guest is mostly such pages. */
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	for (w0 = 0; w0 < words; w0 += PC_WINDOW_WORDS) {
		uint64_t nw = words - w0 < PC_WINDOW_WORDS ? words - w0 : PC_WINDOW_WORDS, any = 0;
		bool known;

		for (w = 0; w < nw; w++)
			any |= bits[w] = vm_dirty_take(vm, w0 + w);
		if (!any)
			continue;
		known = pc_untouched(vm, pagemap, w0 * 64,
				     vm->npages - w0 * 64 < nw * 64 ? vm->npages - w0 * 64 : nw * 64,
				     untouched);
		for (w = 0; w < nw; w++) {
			while (bits[w]) {
				unsigned b = (unsigned)__builtin_ctzll(bits[w]);
				uint64_t pfn = (w0 + w) * 64 + b;
				bool zero = known && (untouched[w] & (1ULL << b));

				ret = stream_tx_page(tx, pfn, zero ? NULL : vm->ram + pfn * VM_PAGE_SIZE);
				if (ret)
					goto out;
				bits[w] &= bits[w] - 1;
				if (!emitted && tx->msgs != msgs) {
					emitted = true;
					precopy_emit(cfg, PC_EV_ROUND, round);
				}
			}
		}
	}
	ret = stream_tx_flush(tx);
	if (!ret && !emitted)
		precopy_emit(cfg, PC_EV_ROUND, round);
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

/* Wait for a message of type want (with round r, for ROUND_ACK).  An ABORT
 * from the destination is -ECANCELED. */
static int pc_expect(struct ctl_conn *c, uint16_t want, uint64_t r, int timeout_ms)
{
	struct ctl_msg m;
	uint64_t got;
	int ret;

	ctl_msg_init(&m, 0);
	ret = ctl_recv(c, &m, timeout_ms);
	if (!ret && m.type != want)
		ret = m.type == STREAM_ABORT ? -ECANCELED : -EBADMSG;
	if (!ret && want == STREAM_ROUND_ACK && (ctl_get_u64(&m, SA_ROUND, &got) || got != r))
		ret = -EBADMSG;
	ctl_msg_free(&m);
	return ret;
}

static int pc_handshake(struct vm *vm, struct stream_tx *tx, const struct precopy_config *cfg,
			struct precopy_stats *st)
{
	struct stream_hello h = { .version = STREAM_VERSION };
	struct ctl_msg m;
	char text[200];
	int ret;

	ctl_msg_init(&m, 0);
	h.ram = vm->ram_size;
	h.kind = vm->ops->kind;
	vm->ops->features(vm, h.feat);
	ret = stream_hello_build(&m, &h);
	if (!ret)
		ret = stream_tx_send(tx, &m);
	if (!ret)
		ret = ctl_recv(tx->c, &m, cfg->timeout_ms);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "handshake: %s", stream_strerror(ret));
	} else if (m.type == STREAM_REFUSE || m.type == STREAM_ABORT) {
		if (ctl_get_str(&m, SA_TEXT, text, sizeof(text)))
			snprintf(text, sizeof(text), "no reason given");
		snprintf(st->why, sizeof(st->why), "destination refused: %s", text);
		ret = -EPERM;
	} else if (m.type != STREAM_ACCEPT) {
		snprintf(st->why, sizeof(st->why), "handshake: unexpected message %#x", m.type);
		ret = -EBADMSG;
	}
	ctl_msg_free(&m);
	return ret;
}

/* Auto-convergence, as QEMU's: a round that dirtied more than half of what
 * it sent counts as "too fast"; from the second such round in a row the
 * throttle goes up one step per round, until the full throttle. */
static uint32_t pc_throttle_next(const struct precopy_config *cfg, uint32_t throttle,
				 uint64_t dirty, uint64_t sent, uint32_t *high)
{
	*high = dirty * 2 > sent ? *high + 1 : 0;
	if (!cfg->auto_converge || *high < 2 || throttle >= cfg->throttle_max)
		return throttle;
	throttle = throttle ? throttle + cfg->throttle_step : cfg->throttle_initial;
	return throttle > cfg->throttle_max ? cfg->throttle_max : throttle;
}

/* Pre-copy rounds; returns with the pages still dirty in vm's bitmap. */
static int pc_rounds(struct vm *vm, struct stream_tx *tx, const struct precopy_config *cfg,
		     struct precopy_stats *st, uint64_t t0)
{
	uint64_t sent, t, limit, data0;
	uint32_t r, stall = 0, high = 0, throttle = 0;
	bool full;
	int ret;

	limit = cfg->max_rounds < PRECOPY_MAX_ROUNDS ? cfg->max_rounds : PRECOPY_MAX_ROUNDS;
	if (!limit)
		limit = 1;
	vm_dirty_all(vm);
	for (r = 0;; r++) {
		st->throttle[r] = (uint8_t)throttle;
		t = timeutil_mono_ns();
		data0 = tx->pages - tx->zero_pages;
		ret = pc_send_dirty(vm, tx, cfg, r, &sent);
		if (!ret)
			ret = pc_round_end(tx, r, sent);
		if (!ret)
			ret = pc_expect(tx->c, STREAM_ROUND_ACK, r, cfg->timeout_ms);
		if (ret) {
			snprintf(st->why, sizeof(st->why), "round %u: %s", r, stream_strerror(ret));
			return ret;
		}
		st->copy_ns += timeutil_mono_ns() - t;
		st->page_bytes += (tx->pages - tx->zero_pages - data0) * VM_PAGE_SIZE;
		st->pages[r] = sent;
		st->rounds = r + 1;
		if (vm->lockstep) {
			/* The guest "runs while we send": a fixed number of its
			 * iterations per page sent, fewer when throttled, so
			 * rounds are exact. */
			uint32_t ppi = cfg->ls_pages_per_iter ? cfg->ls_pages_per_iter : 1;

			ret = vm_run_iters(vm, (sent + ppi - 1) / ppi * (100 - throttle) / 100);
		} else {
			ret = vm_error(vm);
		}
		if (ret) {
			snprintf(st->why, sizeof(st->why), "guest failed: %.200s", vm->err);
			return ret;
		}
		st->bytes = tx->bytes;
		st->mbps = st->copy_ns ? (double)tx->bytes * 1e3 / (double)st->copy_ns : 0;
		st->dirty = vm_dirty_count(vm);
		if (vm->lockstep)
			st->predicted_ms = (double)st->dirty /
					   (cfg->ls_pages_per_ms ? cfg->ls_pages_per_ms : 1);
		else
			st->predicted_ms = st->mbps > 0 ?
				(double)st->dirty * VM_PAGE_SIZE / (st->mbps * 1e3) : 1e9;
		st->total_ns = timeutil_mono_ns() - t0;
		if (cfg->progress)
			cfg->progress(st, cfg->arg);
		if (st->predicted_ms <= cfg->downtime_ms) {
			st->converged = true;
			snprintf(st->why, sizeof(st->why),
				 "converged: %llu pages left, predicted %.2f ms <= %u ms%s",
				 (unsigned long long)st->dirty, st->predicted_ms, cfg->downtime_ms,
				 throttle ? " (vCPU throttled)" : "");
			return 0;
		}
		throttle = pc_throttle_next(cfg, throttle, st->dirty, sent, &high);
		if (!vm->lockstep)
			vm_set_throttle(vm, throttle);
		/* While the throttle can still rise, a round that did not
		 * shrink is no reason to give up. */
		full = !cfg->auto_converge || throttle >= cfg->throttle_max;
		stall = full && st->dirty >= sent ? stall + 1 : 0;
		if (r + 1 >= limit || (cfg->stall_rounds && stall >= cfg->stall_rounds) ||
		    (!vm->lockstep && cfg->max_time_ms &&
		     timeutil_mono_ns() - t0 >= (uint64_t)cfg->max_time_ms * NSEC_PER_MSEC)) {
			char how[64] = "";

			if (cfg->stall_rounds && stall >= cfg->stall_rounds)
				snprintf(how, sizeof(how), " (dirty rate >= transfer rate%s)",
					 cfg->auto_converge ? " at the full throttle" : "");
			snprintf(st->why, sizeof(st->why),
				 "not converged after %u rounds: %llu pages still dirty, predicted %.2f ms > target %u ms, throttle %u%%%s",
				 r + 1, (unsigned long long)st->dirty, st->predicted_ms,
				 cfg->downtime_ms, throttle, how);
			return 0;
		}
	}
}

/* The final copy and the commit.  *committed tells the caller whether
 * COMMIT left: from then on the guest must not resume here on its own. */
static int pc_switchover(struct vm *vm, struct stream_tx *tx, const struct precopy_config *cfg,
			 struct precopy_stats *st, bool *committed)
{
	struct ctl_msg m;
	uint64_t load_ns;
	char text[200];
	int ret;

	ctl_msg_init(&m, 0);
	dev_quiesce(vm);
	if (cfg->stop_copy)
		vm_dirty_all(vm);
	ret = pc_send_dirty(vm, tx, cfg, st->rounds, &st->final_pages);
	if (!ret)
		ret = pc_round_end(tx, st->rounds, st->final_pages);
	if (!ret)
		ret = pc_send_state(vm, tx);
	if (!ret) {
		ctl_msg_reset(&m, STREAM_END);
		ret = stream_tx_send(tx, &m);
	}
	if (!ret)
		precopy_emit(cfg, PC_EV_END, st->rounds);
	if (!ret)
		ret = pc_expect(tx->c, STREAM_ROUND_ACK, st->rounds, cfg->timeout_ms);
	if (!ret)
		ret = pc_expect(tx->c, STREAM_READY, 0, cfg->timeout_ms);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "final copy: %s", stream_strerror(ret));
		goto out;
	}
	/* A COMMIT that could not be written whole cannot be authenticated:
	 * the destination then never resumes. */
	ctl_msg_reset(&m, STREAM_COMMIT);
	ret = stream_tx_send(tx, &m);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "commit: %s", stream_strerror(ret));
		goto out;
	}
	*committed = true;
	precopy_emit(cfg, PC_EV_COMMIT, st->rounds);
	ret = ctl_recv(tx->c, &m, cfg->timeout_ms);
	if (!ret && m.type != STREAM_RESUMED) {
		if (ctl_get_str(&m, SA_TEXT, text, sizeof(text)))
			snprintf(text, sizeof(text), "message %#x", m.type);
		snprintf(st->why, sizeof(st->why), "after commit, the destination said: %s", text);
		ret = -EPROTO;
		goto out;
	}
	if (ret) {
		snprintf(st->why, sizeof(st->why), "after commit: %s", stream_strerror(ret));
		goto out;
	}
	if (!ctl_get_u64(&m, SA_LOAD_NS, &load_ns))
		st->load_ns = load_ns;
out:
	ctl_msg_free(&m);
	return ret;
}

int precopy_send(struct vm *vm, struct ctl_conn *c, const struct precopy_config *cfg,
		 struct precopy_stats *st)
{
	uint64_t t0 = timeutil_mono_ns(), t_pause = 0;
	bool paused = false, committed = false;
	struct stream_tx tx;
	size_t n;
	int ret;

	memset(st, 0, sizeof(*st));
	st->outcome = PC_OUT_STAYED;
	stream_tx_init(&tx, c);
	ret = pc_handshake(vm, &tx, cfg, st);
	if (ret == -EPERM)
		goto out;
	if (ret)
		goto fail;
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
	precopy_emit(cfg, PC_EV_BLACKOUT, st->rounds);
	t_pause = timeutil_mono_ns();
	vm_pause(vm);
	paused = true;
	if (cfg->hold_ms)
		timeutil_sleep_until_mono(timeutil_mono_ns() + cfg->hold_ms * NSEC_PER_MSEC);
	precopy_emit(cfg, PC_EV_PAUSED, st->rounds);
	ret = pc_switchover(vm, &tx, cfg, st, &committed);
	if (!ret) {
		st->downtime_ns = timeutil_mono_ns() - t_pause;
		st->outcome = PC_OUT_MOVED;
		goto out;
	}
	if (committed) {
		/* The destination may run the guest: resuming here could make
		 * two of it.  Stay paused; someone who can look decides. */
		st->outcome = PC_OUT_UNKNOWN;
		n = strlen(st->why);
		snprintf(st->why + n, sizeof(st->why) - n,
			 ": outcome unknown, the guest stays paused here (the destination may be running it)");
		precopy_emit(cfg, PC_EV_UNKNOWN, st->rounds);
		goto out;
	}
fail:
	pc_peer_reason(c, st->why, sizeof(st->why));
	stream_abort(c, st->why);
out:
	st->bytes = tx.bytes;
	st->zero_pages = tx.zero_pages;
	st->total_ns = timeutil_mono_ns() - t0;
	if (!vm->lockstep)
		vm_set_throttle(vm, 0);
	if (ret && st->outcome == PC_OUT_STAYED) {
		/* The destination never got COMMIT: the guest stays here, and
		 * a paused one runs again (netmove hands its frames back). */
		if (paused) {
			vm_dirty_all(vm);
			vm_resume(vm);
		}
		precopy_emit(cfg, PC_EV_FAILED, st->rounds);
		if (paused)
			precopy_emit(cfg, PC_EV_RESUMED, st->rounds);
	}
	stream_tx_free(&tx);
	return ret;
}
