/* precopy_recv: the destination side of a migration.  Check the source's
 * guest fits, apply rounds, load the state at END, answer READY, and resume
 * only on COMMIT. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netmove/timeutil.h"
#include "precopy.h"
#include "stream.h"

/* Choose the back-end (tmpl's, or the source's when tmpl names none) and
 * check the guest fits: 0, 1 if it fits provided the vCPU has the features
 * (checked once it exists), or a negative errno with why set. */
static int pr_check(const struct stream_hello *h, const struct vm_config *tmpl,
		    const struct precopy_config *cfg, const struct cpu_ops **ops,
		    char *why, size_t len)
{
	const struct cpu_ops *src = cpu_ops_by_kind((uint32_t)h->kind);
	uint32_t here[CPU_FEAT_WORDS];
	char tmp[200];
	struct vm probe;

	*ops = tmpl->ops ? tmpl->ops : src;
	if (!*ops || (uint64_t)(*ops)->kind != h->kind) {
		snprintf(why, len, "CPU back-end differs: source runs %s, this host %s",
			 src ? src->name : "an unknown back-end",
			 tmpl->ops ? tmpl->ops->name : "none of that kind");
		return -EPERM;
	}
	if (!tmpl->ops && cpu_probe(*ops, tmp, sizeof(tmp))) {
		snprintf(why, len, "the source runs the %s back-end, which cannot run here: %s",
			 (*ops)->name, tmp);
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
	probe.ops = *ops;
	if ((*ops)->kind == CPU_KIND_EMU) {
		(*ops)->features(&probe, here);
		if (here[CPU_FEAT_WORDS - 1] != h->feat[CPU_FEAT_WORDS - 1]) {
			snprintf(why, len, "emulator build differs: source %#x, here %#x",
				 h->feat[CPU_FEAT_WORDS - 1], here[CPU_FEAT_WORDS - 1]);
			return -EPERM;
		}
		return 0;
	}
	return 1;
}

static int pr_check_features(struct vm *vm, const struct stream_hello *h, char *why, size_t len)
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

static int pr_reply(struct ctl_conn *c, uint16_t type, uint16_t tag, const char *text,
		    uint64_t v)
{
	struct ctl_msg m;
	int ret;

	ctl_msg_init(&m, type);
	ret = text ? ctl_put_str(&m, tag, text) : tag ? ctl_put_u64(&m, tag, v) : 0;
	if (!ret)
		ret = ctl_send(c, &m);
	ctl_msg_free(&m);
	return ret;
}

static int pr_load_state(struct vm *vm, const struct ctl_msg *m)
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

/* HELLO: create the VM if the guest fits, answer ACCEPT or REFUSE. */
static int pr_handshake(struct vm *vm, const struct vm_config *tmpl, struct ctl_conn *c,
			const struct precopy_config *cfg, struct precopy_stats *st, bool *have_vm)
{
	struct vm_config vc = *tmpl;
	struct stream_hello h;
	struct ctl_msg m;
	int ret;

	ctl_msg_init(&m, 0);
	ret = ctl_recv(c, &m, cfg->timeout_ms);
	if (!ret)
		ret = stream_hello_parse(&m, &h);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "handshake: %s", stream_strerror(ret));
		goto out;
	}
	st->bytes += stream_wire_len(&m);
	ret = pr_check(&h, tmpl, cfg, &vc.ops, st->why, sizeof(st->why));
	if (ret >= 0) {
		vc.ram_size = h.ram;
		vc.no_boot = true;
		if (vm_create(vm, &vc)) {
			snprintf(st->why, sizeof(st->why), "cannot create the VM: %.200s", vm->err);
			ret = -EIO;
		} else {
			*have_vm = true;
		}
	}
	if (ret == 1)
		ret = pr_check_features(vm, &h, st->why, sizeof(st->why));
	if (ret < 0)
		pr_reply(c, STREAM_REFUSE, SA_TEXT, st->why, 0);
	else
		ret = pr_reply(c, STREAM_ACCEPT, 0, NULL, 0);
out:
	ctl_msg_free(&m);
	return ret;
}

/* COMMIT: the guest runs here from now on. */
static int pr_resume(struct vm *vm, struct ctl_conn *c, const struct precopy_config *cfg,
		     struct precopy_stats *st)
{
	uint64_t t = timeutil_mono_ns();
	int ret = 0;

	precopy_emit(cfg, PC_EV_COMMIT, st->rounds);
	if (!vm->lockstep)
		ret = vm_start(vm);
	if (ret) {
		snprintf(st->why, sizeof(st->why), "cannot resume: %s", strerror(-ret));
		return ret;
	}
	st->outcome = PC_OUT_MOVED;
	st->load_ns = timeutil_mono_ns() - t;
	precopy_emit(cfg, PC_EV_RESUMED, st->rounds);
	ret = pr_reply(c, STREAM_RESUMED, SA_LOAD_NS, NULL, st->load_ns);
	if (ret)
		snprintf(st->why, sizeof(st->why),
			 "resumed; the source was not told (%s) and stays paused until an operator resolves it",
			 stream_strerror(ret));
	else
		snprintf(st->why, sizeof(st->why), "resumed");
	return 0;
}

int precopy_recv(struct vm *vm, const struct vm_config *tmpl, struct ctl_conn *c,
		 const struct precopy_config *cfg, struct precopy_stats *st)
{
	uint64_t t0 = timeutil_mono_ns(), round_pages = 0, count, round;
	bool have_vm = false, have_state = false, ready = false, in_round = false;
	struct ctl_msg m;
	char text[200];
	int ret;

	memset(st, 0, sizeof(*st));
	st->outcome = PC_OUT_STAYED;
	ctl_msg_init(&m, 0);
	ret = pr_handshake(vm, tmpl, c, cfg, st, &have_vm);
	while (!ret) {
		ret = ctl_recv(c, &m, cfg->timeout_ms);
		if (ret) {
			snprintf(st->why, sizeof(st->why), "%s%s", stream_strerror(ret),
				 ready ? ": the source did not commit, the guest was not started here" : "");
			break;
		}
		st->bytes += stream_wire_len(&m);
		if (ready && m.type != STREAM_COMMIT && m.type != STREAM_ABORT) {
			snprintf(st->why, sizeof(st->why), "message %#x where COMMIT was due", m.type);
			ret = -EBADMSG;
			break;
		}
		switch (m.type) {
		case STREAM_PAGES:
			ret = stream_apply_pages(vm->ram, vm->npages, &m, &round_pages);
			if (ret)
				snprintf(st->why, sizeof(st->why), "malformed page record");
			else if (!in_round)
				precopy_emit(cfg, PC_EV_ROUND, st->rounds);
			in_round = true;
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
			in_round = false;
			ret = pr_reply(c, STREAM_ROUND_ACK, SA_ROUND, NULL, round);
			if (ret)
				snprintf(st->why, sizeof(st->why), "acknowledging round %llu: %s",
					 (unsigned long long)round, stream_strerror(ret));
			break;
		case STREAM_STATE:
			ret = pr_load_state(vm, &m);
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
			/* Rounds counted the final one too: report pre-copy rounds. */
			st->rounds = st->rounds ? st->rounds - 1 : 0;
			precopy_emit(cfg, PC_EV_END, st->rounds);
			ret = pr_reply(c, STREAM_READY, 0, NULL, 0);
			if (ret)
				snprintf(st->why, sizeof(st->why),
					 "answering END: %s: the guest was not started here",
					 stream_strerror(ret));
			ready = true;
			break;
		case STREAM_COMMIT:
			ret = ready ? pr_resume(vm, c, cfg, st) : -EBADMSG;
			if (!ready)
				snprintf(st->why, sizeof(st->why), "COMMIT before END");
			if (!ret)
				goto out;
			break;
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
		stream_abort(c, st->why);
out:
	st->total_ns = timeutil_mono_ns() - t0;
	if (ret && have_vm)
		vm_destroy(vm);
	ctl_msg_free(&m);
	return ret;
}
