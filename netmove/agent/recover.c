/* recover: resolve what a netmoved that died left behind (see recover.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>

#include "agent.h"
#include "recover.h"
#include "netmove/buffer.h"
#include "netmove/journal.h"
#include "netmove/out.h"
#include "netmove/tapq.h"
#include "netmove/timeutil.h"
#include "ovsp.h"
#include "recfile.h"

#define RECOVER_MAX 256			/* MACs and interrupted relocations per start */
#define RECOVER_STEP_MS 10		/* the bridge's MAC table is looked at this often */

/* What was found, and done, for one MAC. */
struct left {
	struct mac mac;
	char port[IF_NAMESIZE];		/* port whose buffer program held its frames, or "" */
	uint64_t handed;		/* frames of that ring handed to the port */
	uint64_t forwarded;		/* or sent out of the uplink, after the VM */
	char kept[RECFILE_PATH];	/* a dead source's keep file (taprec.h), or "" */
	uint64_t tap_kept;		/* frames it held (read out of the tap at the
					 * blackout), counted in handed or forwarded */
	uint64_t tap_lost;		/* or that no program was left to send after */
	char spill[RECFILE_PATH];	/* a dead agent's spill file (spill.h), or "" */
	uint64_t spill_frames;		/* frames it held (moved out of the ring),
					 * counted in handed or forwarded */
	uint64_t spill_lost;		/* or that no program was left to send after */
	struct tapq *tq;		/* the VM's tap, its queues taken from its reader
					 * (tap_held), or NULL */
	bool tap_read;			/* the VM's tap was read out once it ran elsewhere */
	uint64_t tap_unread;		/* frames the stopped VM had left in it, sent out
					 * of the uplink after the rest */
	struct buffer *held;		/* that port's program, its frames still held for a
					 * source's VM that may have come up elsewhere */
	uint64_t passed;		/* frames the program let through past its lease */
	bool flows;			/* netmove flows were on the bridge */
	bool flows_removed;		/* and are gone */
	bool fdb_removed;		/* a static MAC entry on the uplink was removed */
	char err[128];			/* the first step that failed, or "" */
	bool told;			/* journaled with an interrupted relocation */
};

/* A relocation the journal says began and (so far in the journal) never
 * ended. */
struct started {
	uint64_t id;
	char role[16], from[AGENT_NAME_LEN], to[AGENT_NAME_LEN], port[IF_NAMESIZE];
	struct mac mac;
};

struct recovery {
	struct agent *a;
	struct left left[RECOVER_MAX];
	int nleft;
	struct started st[RECOVER_MAX];
	int nst;
};

static struct left *left_get(struct recovery *rc, const struct mac *mac)
{
	int i;

	for (i = 0; i < rc->nleft; i++)
		if (mac_equal(&rc->left[i].mac, mac))
			return &rc->left[i];
	if (rc->nleft == RECOVER_MAX)
		return NULL;
	memset(&rc->left[rc->nleft], 0, sizeof(rc->left[0]));
	rc->left[rc->nleft].mac = *mac;
	return &rc->left[rc->nleft++];
}

static void left_fail(struct left *l, const char *what, int err, const char *detail)
{
	if (!l->err[0])
		snprintf(l->err, sizeof(l->err), "%s: %s%s%s", what, strerror(-err),
			 detail ? ": " : "", detail ? detail : "");
}

/* ---- the journal's relocations that began and never ended ---- */

static int journal_line(const char *line, void *arg)
{
	struct recovery *rc = arg;
	struct started s = { 0 };
	char host[AGENT_NAME_LEN], id[24], outcome[32], mac[MAC_STRLEN];
	int i;

	if (journal_field(line, "host", host, sizeof(host)) <= 0 || strcmp(host, rc->a->cfg.name) ||
	    journal_field(line, "id", id, sizeof(id)) <= 0 ||
	    journal_field(line, "role", s.role, sizeof(s.role)) <= 0 ||
	    journal_field(line, "from", s.from, sizeof(s.from)) <= 0 ||
	    journal_field(line, "outcome", outcome, sizeof(outcome)) <= 0)
		return 0;
	s.id = strtoull(id, NULL, 10);
	/* Relocation ids go on from the last this host gave, across restarts. */
	if (!strcmp(s.role, "source") && !strcmp(s.from, rc->a->cfg.name) && s.id > rc->a->next_id)
		rc->a->next_id = s.id;
	for (i = 0; i < rc->nst; i++)
		if (rc->st[i].id == s.id && !strcmp(rc->st[i].role, s.role) &&
		    !strcmp(rc->st[i].from, s.from))
			break;
	/* Ended: forget it (only the open ones are kept, however long the
	 * journal). */
	if (strcmp(outcome, "in progress")) {
		if (i < rc->nst)
			rc->st[i] = rc->st[--rc->nst];
		return 0;
	}
	if (i < rc->nst || rc->nst == RECOVER_MAX ||
	    journal_field(line, "mac", mac, sizeof(mac)) <= 0 || mac_parse(mac, &s.mac) < 0)
		return 0;
	journal_field(line, "to", s.to, sizeof(s.to));
	journal_field(line, "port", s.port, sizeof(s.port));
	rc->st[rc->nst++] = s;
	return 0;
}

/* ---- buffer programs ---- */

/* The interrupted relocation of mac. */
static const struct started *started_of(const struct recovery *rc, const struct mac *mac)
{
	int i;

	for (i = 0; i < rc->nst; i++)
		if (mac_equal(&rc->st[i].mac, mac))
			return &rc->st[i];
	return NULL;
}

static bool is_source(const struct started *s)
{
	return s && !strcmp(s->role, "source");
}

/* The record files s left (its keep file and spill file), into l: "" for
 * those that are not there. */
static void files_find(const struct agent *a, const struct started *s, struct left *l)
{
	agent_reloc_path(a, "tap", s->from, s->id, l->kept, sizeof(l->kept));
	if (!l->kept[0] || access(l->kept, F_OK) < 0)
		l->kept[0] = 0;
	agent_reloc_path(a, "spill", s->from, s->id, l->spill, sizeof(l->spill));
	if (!l->spill[0] || access(l->spill, F_OK) < 0)
		l->spill[0] = 0;
}

/* Where a dead source's frames go: what it read out of its tap at the
 * blackout (its keep file) came before its ring's, and goes first. */
struct onward {
	struct buffer *b;		/* the port's program (not forwarding) */
	struct replay *up;		/* the uplink (forwarding) */
	bool forward;			/* out of the uplink (agent_forward), or into the port */
	uint64_t n;
	struct buffer_replay_stats *ds;	/* the port's count (not forwarding) */
};

static int onward_one(const struct buffer_record *rec, void *arg)
{
	struct onward *k = arg;

	if (k->forward)
		return agent_forward(k->up, rec, &k->n);
	k->n++;
	return k->b ? buffer_replay(k->b, rec, k->ds) : 0;
}

/* Hand one record file of l (if any) into k; *n gets its frames.  The
 * file goes.  Returns 0 or a negative errno. */
static int file_hand(char *path, struct onward *k, uint64_t *n)
{
	uint64_t before = k->n;
	int ret;

	if (!path[0])
		return 0;
	ret = recfile_each(path, onward_one, k);
	path[0] = 0;
	*n += k->n - before;
	return ret == -ENOENT ? 0 : ret;
}

/* Hand what l's record files hold into k, oldest first: what the dead
 * source read out of the tap at the blackout came before what it moved out
 * of the ring.  Returns 0 or the first negative errno. */
static int files_hand(struct left *l, struct onward *k)
{
	int ret = file_hand(l->kept, k, &l->tap_kept), r2;

	r2 = file_hand(l->spill, k, &l->spill_frames);
	return ret < 0 ? ret : r2;
}

/* Frames of l's record files that nothing was left to send after:
 * counted, and the files go. */
static void files_lost(struct left *l)
{
	struct onward k = { 0 };

	file_hand(l->kept, &k, &l->tap_lost);
	file_hand(l->spill, &k, &l->spill_lost);
}

/* Everything l's program holds for the VM, what the tap gave first, to its
 * port (the VM stayed, or where it went is not known). */
static void hand_to_port(struct left *l, struct buffer *b)
{
	struct buffer_replay_stats ds = { 0 };
	struct onward k = { .b = b, .ds = &ds };
	int ret;

	ret = files_hand(l, &k);
	if (ret < 0)
		left_fail(l, "handing the frames kept in files to the port", ret, l->port);
	ret = buffer_drain(b, &l->mac, &ds);
	if (ret < 0)
		left_fail(l, "handing the held frames to the port", ret, l->port);
	l->handed = ds.frames;
}

static void recover_port(struct recovery *rc, const char *ifname)
{
	struct mac macs[BUFFER_MAX_MACS];
	struct buffer_stats ps;
	struct buffer *b;
	int n, i, ret;

	/* A pinned buffer is a standalone one (`netmove buffer attach --pin`):
	 * its owner is the operator, not an agent. */
	if (buffer_open_pinned(ifname, &b) == 0) {
		buffer_close(b);
		return;
	}
	ret = buffer_adopt(ifname, &b);
	if (ret < 0) {
		agent_log(rc->a, "recovery: the program on %s: %s", ifname, strerror(-ret));
		return;
	}
	n = buffer_macs(b, macs, BUFFER_MAX_MACS);
	if (buffer_stats(b, NULL, &ps) < 0)
		memset(&ps, 0, sizeof(ps));
	for (i = 0; i < n && i < BUFFER_MAX_MACS; i++) {
		const struct started *s = started_of(rc, &macs[i]);
		struct buffer_stats ms;
		struct left *l = left_get(rc, &macs[i]);

		if (!l)
			break;
		snprintf(l->port, sizeof(l->port), "%s", ifname);
		l->passed = ps.lease_passed;
		if (s)
			files_find(rc->a, s, l);
		/* A source that died with the VM paused: the VM may come up
		 * elsewhere, and its frames should follow it (held_main). */
		if (n == 1 && is_source(s) && (ps.ring_used || l->kept[0] || l->spill[0])) {
			l->held = b;
			return;
		}
		if (l->kept[0] || l->spill[0] ||
		    (buffer_stats(b, &macs[i], &ms) == 0 && ms.mode != BUFFER_MODE_PASS))
			hand_to_port(l, b);
	}
	ret = buffer_detach(b);
	if (ret < 0)
		agent_log(rc->a, "recovery: removing the program on %s: %s", ifname, strerror(-ret));
	else
		agent_log(rc->a, "recovery: removed the buffer program a dead agent left on %s",
			  ifname);
}

static void recover_ports(struct recovery *rc)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++)
		if (buffer_hooked(i->if_name) == 1)
			recover_port(rc, i->if_name);
	if_freenameindex(ifs);
}

/* ---- flows and the OVS MAC table ---- */

static int flow_seen(const struct ovsp_flow *f, void *arg)
{
	struct recovery *rc = arg;
	struct left *l;
	struct mac m;
	int i;

	for (i = 0; i < MAC_LEN; i++)
		m.b[i] = (uint8_t)(f->cookie >> (8 * (MAC_LEN - 1 - i)));
	l = left_get(rc, &m);
	if (l)
		l->flows = true;
	return 0;
}

static void recover_ovs(struct recovery *rc)
{
	const struct agent_cfg *cfg = &rc->a->cfg;
	struct ovsp_conn *of = NULL;
	struct ovsp_ctl *ctl = NULL;
	uint32_t uplink = 0;
	char *err = NULL;
	int i, ret;

	ret = ovsp_open(cfg->ofctl, 0, &of, &err);
	if (ret == 0)
		ret = ovsp_flows_dump(of, OVSP_COOKIE_TAG, OVSP_COOKIE_TAG_MASK, flow_seen, rc, NULL,
				      &err);
	if (ret == 0)
		ret = ovsp_ofport(of, cfg->uplink, &uplink, &err);
	if (ret == 0)
		ret = ovsp_ctl_open(cfg->ovs_ctl, 0, &ctl, &err);
	if (ret < 0) {
		agent_log(rc->a, "recovery: the bridge: %s%s%s", strerror(-ret), err ? ": " : "",
			  err ? err : "");
		free(err);
		goto out;
	}
	/* The interrupted relocations' MACs too: a source that died after
	 * removing the flows may have left the MAC entry. */
	for (i = 0; i < rc->nst; i++)
		left_get(rc, &rc->st[i].mac);
	for (i = 0; i < rc->nleft; i++) {
		struct left *l = &rc->left[i];
		struct ovsp_fdb_entry e;

		if (l->flows) {
			ret = ovsp_vm_remove(of, l->mac.b, &err);
			if (ret < 0)
				left_fail(l, "removing the VM's flows", ret, err);
			l->flows_removed = ret == 0;
			free(err);
			err = NULL;
		}
		if (ovsp_fdb_lookup(ctl, cfg->bridge, l->mac.b, 0, &e, &err) == 0 && e.is_static &&
		    e.ofport == uplink) {
			ret = ovsp_fdb_del(ctl, cfg->bridge, l->mac.b, 0, &l->fdb_removed, &err);
			if (ret < 0)
				left_fail(l, "removing the MAC entry on the uplink", ret, err);
		}
		free(err);
		err = NULL;
	}
out:
	ovsp_ctl_close(ctl);
	ovsp_close(of);
}

/* ---- the records ---- */

static void render_left(const struct left *l, struct out *o)
{
	out_obj_begin(o, "recovery");
	if (l->port[0]) {
		out_str(o, "buffer_port", l->port);
		out_u64(o, "frames_handed_to_port", l->handed);
		out_u64(o, "frames_forwarded", l->forwarded);
		out_u64(o, "tap_frames_kept", l->tap_kept);
		out_u64(o, "frames_passed_after_lease", l->passed);
	}
	if (l->port[0] || l->spill_frames)
		out_u64(o, "spill_frames", l->spill_frames);
	if (l->tap_lost)
		out_u64(o, "tap_frames_lost", l->tap_lost);
	if (l->spill_lost)
		out_u64(o, "spill_frames_lost", l->spill_lost);
	if (l->tap_read)
		out_u64(o, "tap_frames_forwarded", l->tap_unread);
	out_bool(o, "flows_found", l->flows);
	out_bool(o, "flows_removed", l->flows_removed);
	out_bool(o, "uplink_mac_entry_removed", l->fdb_removed);
	if (l->err[0])
		out_str(o, "failed", l->err);
	out_obj_end(o);
}

static bool left_empty(const struct left *l)
{
	return !l->port[0] && !l->flows && !l->fdb_removed && !l->err[0];
}

static int record(struct agent *a, const struct started *s, struct left *l)
{
	struct journal_entry e;
	char m[MAC_STRLEN];
	int ret;

	ret = journal_begin(&e);
	if (ret < 0)
		return ret;
	out_u64(&e.o, "time_us", timeutil_real_ns() / NSEC_PER_USEC);
	out_str(&e.o, "host", a->cfg.name);
	if (s) {
		out_u64(&e.o, "id", s->id);
		out_str(&e.o, "role", s->role);
		out_str(&e.o, "from", s->from);
		out_str(&e.o, "to", s->to);
		out_str(&e.o, "port", s->port);
	}
	out_str(&e.o, "mac", mac_format(s ? &s->mac : &l->mac, m));
	/* This agent writes it as it starts; who asked for the relocation is in
	 * its own record (same id, outcome "in progress"). */
	out_obj_begin(&e.o, "requested_by");
	out_str(&e.o, "kind", "recovery");
	out_obj_end(&e.o);
	if (l)
		render_left(l, &e.o);
	out_str(&e.o, "outcome", s ? "interrupted" : "recovered");
	if (s) {
		pthread_mutex_lock(&a->lock);
		metrics_count(&a->metrics, strcmp(s->role, "source") ? METRICS_DST : METRICS_SRC,
			      "interrupted");
		pthread_mutex_unlock(&a->lock);
	}
	out_str(&e.o, "error", s ? "netmoved ended before this relocation did" :
				   "left by a netmoved that ended");
	ret = journal_commit(&e, a->cfg.journal);
	if (ret < 0)
		agent_log(a, "journal %s: %s", a->cfg.journal, strerror(-ret));
	agent_log(a, "recovery: %s %s%s%s", m, s ? "relocation interrupted" : "leftovers",
		  l && l->err[0] ? ": " : "", l && l->err[0] ? l->err : "");
	return ret < 0 ? 0 : 1;
}

/* ---- a dead source's held frames ---- */

struct held {
	struct agent *a;
	struct started st;
	struct left l;
};

/* Send what still reaches a dead source's port out of the uplink after
 * the VM: its ring's frames, then its tap's. */
struct follow {
	struct left *l;
	struct buffer *b;		/* the port's program, or NULL */
	struct tapq *tq;		/* the VM's tap, or NULL */
	struct onward *k;		/* out of the uplink */
};

static int ring_step(void *arg)
{
	struct follow *f = arg;

	return buffer_export(f->b, onward_one, f->k);
}

static int tap_step(void *arg)
{
	struct follow *f = arg;
	uint64_t before = f->k->n;
	int ret = tapq_drain(f->tq, &f->l->mac, onward_one, f->k, NULL);

	f->l->tap_read = true;
	f->l->tap_unread += f->k->n - before;
	return ret;
}

/* The ring until the port is quiet; then the program lets frames through
 * to the tap (PASS), where the stopped VM leaves them, the ring empties,
 * and the tap is read until quiet.  Nothing is dropped on the way: what
 * comes after all that is the fabric's to send to the VM's new home. */
static int follow_vm(struct follow *f)
{
	int ret = 0;

	if (f->b) {
		ret = agent_until_quiet(ring_step, f, AGENT_QUIET_ROUNDS);
		if (ret == 0)
			ret = buffer_set_mode(f->b, &f->l->mac, BUFFER_MODE_PASS);
		if (ret == 0)
			ret = agent_ring_empty(f->b, ring_step, f);
	}
	f->l->forwarded = f->k->n;
	if (ret == 0 && f->tq)
		ret = agent_until_quiet(tap_step, f, AGENT_QUIET_ROUNDS);
	return ret;
}

/* Watch for the VM to come up elsewhere (the bridge learns its MAC on the
 * uplink: the destination announced it) for at most the blackout timeout:
 * then what is held for it goes out of the uplink after it, oldest first:
 * what the dead source had read out of the tap (its keep file) and moved
 * out of the ring (its spill file), its ring, and what the stopped VM left
 * in its tap (frames that came before the program held them, past its
 * lease, or after it let them pass), until the port is quiet (follow_vm).
 * Else (it stayed, or time ran out) the files and the ring go to its port,
 * and the tap is left to its reader.  Then the program goes, and the
 * relocation is journaled. */
static void *held_main(void *arg)
{
	struct held *h = arg;
	const struct agent_cfg *cfg = &h->a->cfg;
	uint64_t deadline = timeutil_deadline_ms((int)cfg->blackout_timeout_ms);
	struct buffer *b = h->l.held;
	struct replay *rp = NULL;
	struct ovsp_conn *of = NULL;
	struct ovsp_ctl *ctl = NULL;
	struct tapq *tq = h->l.tq;
	uint32_t uplink = 0;
	char *err = NULL;
	bool elsewhere = false;
	int ret;

	if (!tq && tapq_open(h->st.port, &tq) < 0)
		tq = NULL;
	h->l.tq = NULL;
	ret = ovsp_open(cfg->ofctl, 0, &of, &err);
	if (ret == 0)
		ret = ovsp_ofport(of, cfg->uplink, &uplink, &err);
	if (ret == 0)
		ret = ovsp_ctl_open(cfg->ovs_ctl, 0, &ctl, &err);
	if (ret < 0)
		left_fail(&h->l, "watching where the VM comes up", ret, err);
	while (ret == 0 && !__atomic_load_n(&h->a->stop, __ATOMIC_RELAXED) &&
	       timeutil_mono_ns() < deadline &&
	       !(elsewhere = agent_vm_on_uplink(ctl, cfg->bridge, &h->l.mac, uplink)))
		usleep(RECOVER_STEP_MS * 1000);
	if (elsewhere) {
		ret = replay_open(cfg->uplink, &rp);
		if (ret == 0) {
			struct onward k = { .up = rp, .forward = true };

			ret = files_hand(&h->l, &k);
			if (ret == 0)
				ret = follow_vm(&(struct follow){ &h->l, b, tq, &k });
			replay_close(rp);
		}
		if (ret < 0)
			left_fail(&h->l, "sending the held frames out of the uplink", ret, cfg->uplink);
	} else if (b) {
		hand_to_port(&h->l, b);
	}
	tapq_close(tq);
	files_lost(&h->l);
	agent_log(h->a, "recovery: %llu frames a dead source held %s, %llu left in its tap %s",
		  elsewhere ? (unsigned long long)h->l.forwarded : (unsigned long long)h->l.handed,
		  elsewhere ? "followed the VM out of the uplink" : "handed to its port",
		  (unsigned long long)h->l.tap_unread, elsewhere ? "followed it" : "stay there");
	if (b) {
		ret = buffer_detach(b);
		if (ret < 0)
			agent_log(h->a, "recovery: removing the program on %s: %s", h->l.port,
				  strerror(-ret));
	}
	h->l.held = NULL;
	record(h->a, &h->st, &h->l);
	free(err);
	ovsp_ctl_close(ctl);
	ovsp_close(of);
	free(h);
	return NULL;
}

/* A source that died before its program held anything (or whose program
 * held nothing): once the VM stopped, its frames went to its tap, which the
 * stopped VM never reads again.  Worth a watch if a reader holds the tap:
 * true with its queues in l->tq. */
static bool tap_held(const struct started *s, struct left *l)
{
	return is_source(s) && s->port[0] && tapq_open(s->port, &l->tq) == 0;
}

/* Run held_main for l (its journal record is then held_main's). */
static bool hold_on(struct agent *a, const struct started *s, struct left *l)
{
	struct held *h = malloc(sizeof(*h));
	pthread_attr_t at;
	pthread_t t;
	bool ok;

	if (!h)
		return false;
	h->a = a;
	h->st = *s;
	h->l = *l;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&t, &at, held_main, h) == 0;
	pthread_attr_destroy(&at);
	if (!ok)
		free(h);
	return ok;
}

int recover_run(struct agent *a)
{
	struct recovery *rc = calloc(1, sizeof(*rc));
	int i, j, n = 0;

	if (!rc)
		return 0;
	rc->a = a;
	journal_read(a->cfg.journal, journal_line, rc);
	recover_ports(rc);
	recover_ovs(rc);
	for (i = 0; i < rc->nst; i++) {
		struct left *l = NULL;

		for (j = 0; j < rc->nleft; j++)
			if (mac_equal(&rc->left[j].mac, &rc->st[i].mac) && !rc->left[j].told)
				l = &rc->left[j];
		if (l)
			l->told = true;
		if (l && l->held && hold_on(a, &rc->st[i], l))
			continue;
		if (l && l->held) {
			hand_to_port(l, l->held);
			buffer_detach(l->held);
			l->held = NULL;
		} else if (l && tap_held(&rc->st[i], l)) {
			files_find(a, &rc->st[i], l);
			if (hold_on(a, &rc->st[i], l))
				continue;
			tapq_close(l->tq);
			l->tq = NULL;
		}
		/* Record files with no program left to send their frames
		 * after: they are counted, and go. */
		if (l) {
			files_find(a, &rc->st[i], l);
			files_lost(l);
		}
		n += record(a, &rc->st[i], l);
	}
	for (j = 0; j < rc->nleft; j++)
		if (!rc->left[j].told && !left_empty(&rc->left[j]))
			n += record(a, NULL, &rc->left[j]);
	free(rc);
	return n;
}
