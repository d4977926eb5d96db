#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netmove/proto.h"
#include "taprec.h"

/* Frames the tap's reader (and we) took from the tap: its tx_packets, or 0
 * if unknown. */
static uint64_t tap_tx_packets(const char *ifname)
{
	uint64_t v = 0;

	return tapq_stat(ifname, "tx_packets", &v) == 0 ? v : 0;
}

int taprec_open(struct taprec *t, const char *port, const struct mac *mac, struct buffer *buf,
		const char *keep, bool off, int *log_err)
{
	int ret;

	memset(t, 0, sizeof(*t));
	snprintf(t->port, sizeof(t->port), "%s", port);
	if (keep && snprintf(t->keep, sizeof(t->keep), "%s", keep) >= (int)sizeof(t->keep))
		t->keep[0] = 0;
	t->mac = *mac;
	t->buf = buf;
	*log_err = 0;
	ret = off ? -ECANCELED : tapq_open(port, &t->tq);
	t->tx0 = tap_tx_packets(port);
	if (ret < 0)
		return ret;
	/* A reader that keeps one frame after the stop (QEMU) reads one queue
	 * in order: copies of what goes into it find that frame again. */
	if (tapq_queues(t->tq) == 1)
		*log_err = txlog_start(port, &t->txl);
	return tapq_queues(t->tq);
}

/* The marker: a frame for the VM's MAC of an experimental EtherType (a guest
 * drops it), sent into the tap after it was read out, to see whether the
 * reader still reads.  A reader that keeps one frame and has not kept one
 * yet takes it, and keeps it: from then on it takes nothing else. */
static const char marker_text[] = "netmove: does the reader still read?";

static bool is_marker(const struct buffer_record *rec)
{
	return rec->len >= 14 + sizeof(marker_text) && rec->frame[12] == 0x88 &&
	       rec->frame[13] == 0xb5 && !memcmp(rec->frame + 14, marker_text, sizeof(marker_text));
}

static int marker_send(struct taprec *t)
{
	uint8_t f[64] = { 0 };
	struct buffer_record rec = { .len = sizeof(f), .frame = f };
	int ret;

	memcpy(f, t->mac.b, MAC_LEN);
	f[6] = 0x02;		/* a locally administered source */
	f[12] = 0x88;		/* 0x88b5: IEEE 802 local experimental */
	f[13] = 0xb5;
	memcpy(f + 14, marker_text, sizeof(marker_text));
	t->marker_tx = tap_tx_packets(t->port);
	t->read_since_marker = 0;
	ret = buffer_replay(t->buf, &rec, NULL);
	t->marker_sent = ret == 0;
	return ret;
}

/* Keep a frame read out of the tap, unless it is the marker. */
static int keep_read(const struct buffer_record *rec, void *arg)
{
	struct taprec *t = arg;
	int len;

	if (is_marker(rec))
		return 0;
	if (!t->enc && !(t->enc = malloc(BUFFER_WIRE_HDR_LEN + BUFFER_MAX_FRAME)))
		return -ENOMEM;
	len = buffer_record_encode(rec, t->enc, BUFFER_WIRE_HDR_LEN + BUFFER_MAX_FRAME);
	if (len < 0)
		return len;
	len = ctl_put(&t->early, A_RECORD, t->enc, (size_t)len);
	if (len == 0)
		t->early_frames++;
	return len;
}

/* Read the tap out into t->early, noting every frame's hash. */
static int read_out(struct taprec *t)
{
	struct tapq_stats ts = { .hashes = t->hashes + t->nhashes,
				 .hashes_cap = TXLOG_KEEP - t->nhashes };
	int ret;

	ret = tapq_drain(t->tq, &t->mac, keep_read, t, &ts);
	t->nhashes += ts.read < ts.hashes_cap ? ts.read : ts.hashes_cap;
	t->read_since_marker += ts.read;
	t->out += ts.read;
	t->other += ts.other;
	return ret < 0 ? ret : 0;
}

/* ---- the keep file: what was read out, while nobody else holds it ---- */

/* Write t->early to the keep file (whole: a new file renamed over). */
static int keep_write(const struct taprec *t)
{
	if (!t->keep[0] || !t->early_frames)
		return 0;
	return recfile_write(t->keep, &t->early);
}

static void keep_drop(struct taprec *t)
{
	if (t->keep[0])
		unlink(t->keep);
	t->keep[0] = 0;
}

int taprec_blackout(struct taprec *t, bool reader_keeps, const struct rxmatch_tail *last,
		    int *marker_err, int *keep_err)
{
	int ret;

	*marker_err = *keep_err = 0;
	if (!t->tq)
		return 0;
	ret = read_out(t);
	/* Until handed on, these frames would live in this process only. */
	*keep_err = keep_write(t);
	if (*keep_err < 0)
		keep_drop(t);
	t->keeps = reader_keeps;
	t->have_last = last != NULL;
	if (last)
		t->last = *last;
	if (t->keeps && t->txl)
		*marker_err = marker_send(t);
	return ret;
}

static void note(struct taprec_counts *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct taprec_counts *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->kept, sizeof(c->kept), fmt, ap);
	va_end(ap);
}

/* The frames the reader took, newest first.  It reads its tap in order, and
 * everything it did not read, we read out (the t->out frames whose hashes
 * are in t->hashes): so they are the frames logged (n, txlog_stop's answer)
 * that we did not read out.  w->k counts the logged frames walked. */
struct taken {
	bool used[TXLOG_KEEP];		/* read-out hashes matched already */
	uint64_t k;
};

static bool taken_next(struct taprec *t, int64_t n, struct taken *w, struct buffer_record *rec,
		       uint32_t *hash)
{
	size_t i;

	for (; w->k < (uint64_t)n && w->k < t->nhashes + RXMATCH_TAKEN_MAX; w->k++) {
		if (txlog_get(t->txl, (uint64_t)n - 1 - w->k, rec, hash) < 0)
			return false;
		for (i = 0; i < t->nhashes && (w->used[i] || t->hashes[i] != *hash); i++)
			;
		if (i < t->nhashes) {
			w->used[i] = true;
			continue;
		}
		w->k++;
		return true;
	}
	return false;
}

/* Whether the log can tell what the reader took. */
static bool log_complete(const struct taprec *t, int64_t n, struct taprec_counts *c)
{
	if (n < 0) {
		note(c, "unknown: the log of the tap is incomplete (%s)", strerror((int)-n));
		return false;
	}
	if (t->out > t->nhashes) {
		note(c, "unknown: more than %d frames were read out of the tap", TXLOG_KEEP);
		return false;
	}
	return true;
}

/* The guest told what it received (an anchor frame and the lengths after
 * it, or the lengths alone): every frame the reader took that did not reach
 * it was lost inside the reader (QEMU drops one it read while stopping and
 * keeps the next).  Hands those for the VM to fn, oldest first (*ret: fn's
 * return), and says so in c->kept.  False if the ring does not tell
 * (c->kept says why): the marker then judges. */
static bool find_lost(struct taprec *t, int64_t n, buffer_record_fn fn, void *arg,
		      struct taprec_counts *c, int *ret)
{
	struct taken *w = calloc(1, sizeof(*w));
	struct buffer_record *taken = calloc(RXMATCH_TAKEN_MAX, sizeof(*taken));
	uint32_t hashes[RXMATCH_TAKEN_MAX];
	int ntaken = 0, anchor, lost, f;

	if (!w || !taken) {
		free(w);
		free(taken);
		note(c, "unknown: out of memory");
		return false;
	}
	while (ntaken < RXMATCH_TAKEN_MAX && taken_next(t, n, w, &taken[ntaken], &hashes[ntaken]))
		ntaken++;
	free(w);
	lost = rxmatch_lost(&t->last, taken, hashes, ntaken, &t->mac, &anchor);
	if (lost < 0) {
		note(c, "%s", lost == -ENOENT ?
			"the guest's last frame is not among the frames its reader took" :
			lost == -EAGAIN ?
			"the lengths of the guest's newest buffers fit several counts of frames lost" :
			"the lengths of the guest's buffers do not match the frames its reader took");
		free(taken);
		return false;
	}
	for (f = lost - 1; f >= 0 && *ret >= 0; f--) {
		if (memcmp(taken[f].frame, t->mac.b, MAC_LEN))
			continue;
		*ret = fn(&taken[f], arg);
		c->reader_lost++;
	}
	if (!lost)
		note(c, "none: the guest got the last frame its reader took");
	else
		note(c, "recovered %llu: the reader took %d after the guest's last frame",
		     (unsigned long long)c->reader_lost, lost);
	if (anchor < 0 && strlen(c->kept) + 48 < sizeof(c->kept))
		snprintf(c->kept + strlen(c->kept), sizeof(c->kept) - strlen(c->kept),
			 " (from the lengths of %u buffers)", t->last.nafter);
	else if (t->last.nafter && strlen(c->kept) + 40 < sizeof(c->kept))
		snprintf(c->kept + strlen(c->kept), sizeof(c->kept) - strlen(c->kept),
			 " (%d frames after its anchor)", anchor);
	free(taken);
	return true;
}

/* The frame a keeping reader kept: the last one it took.  The marker, sent
 * at the blackout, tells whether it keeps one: a reader that took the marker
 * (tx_packets moved past our own reads) keeps the marker and nothing else.
 * True with *rec if it was found and is for the VM; c->kept says what became
 * of it. */
static bool find_kept(struct taprec *t, int64_t n, struct buffer_record *rec,
		      struct taprec_counts *c)
{
	struct taken *w;
	uint32_t h;
	bool got;

	if (!t->marker_sent) {
		note(c, "unknown: the marker could not be sent at the blackout");
		return false;
	}
	if (tap_tx_packets(t->port) > t->marker_tx + t->read_since_marker) {
		note(c, "none: the reader took the marker");
		return false;
	}
	w = calloc(1, sizeof(*w));
	got = w && taken_next(t, n, w, rec, &h);
	free(w);
	if (!got) {
		note(c, "lost: not among the frames logged");
		return false;
	}
	if (memcmp(rec->frame, t->mac.b, MAC_LEN)) {
		char d[MAC_STRLEN];

		note(c, "none for the VM: it kept a frame for %s (ethertype %02x%02x)",
		     mac_format((const struct mac *)rec->frame, d), rec->frame[12], rec->frame[13]);
		return false;
	}
	note(c, "recovered");
	c->reader_lost = 1;
	return true;
}

void taprec_counts(const struct taprec *t, struct taprec_counts *c)
{
	c->recovered = t->early_frames;
	c->other = t->other;
}

int taprec_handoff(struct taprec *t, buffer_record_fn fn, void *arg, struct taprec_counts *c,
		   int *read_err)
{
	struct buffer_record kept;
	/* tx_packets also counts what we read out at the blackout. */
	uint64_t tx = tap_tx_packets(t->port), ours = t->out;
	/* The log ends before the tap is read out: what still comes in (the
	 * fabric floods group frames here too) is in one, not both. */
	int64_t logged = t->keeps && t->txl ? txlog_stop(t->txl) : 0;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	*read_err = 0;
	keep_drop(t);
	if (!t->tq)
		return 0;
	*read_err = read_out(t);
	/* What the reader took and lost came before all of these. */
	if (t->keeps && t->txl && log_complete(t, logged, c) &&
	    !(t->have_last && find_lost(t, logged, fn, arg, c, &ret))) {
		char guest[sizeof(c->kept)];

		snprintf(guest, sizeof(guest), "%s", c->kept);
		if (find_kept(t, logged, &kept, c))
			ret = fn(&kept, arg);
		if (t->have_last) {
			char marker[sizeof(c->kept)];

			snprintf(marker, sizeof(marker), "%s", c->kept);
			note(c, "%s; marker: %s", guest, marker);
		}
	}
	if (ret >= 0)
		ret = records_each(&t->early, fn, arg);
	taprec_counts(t, c);
	c->reader_took = tx >= t->tx0 + ours ? tx - t->tx0 - ours : 0;
	return ret;
}

struct give_back {
	struct buffer *b;
	struct buffer_replay_stats *st;
};

static int give_back_one(const struct buffer_record *rec, void *arg)
{
	struct give_back *g = arg;

	return buffer_replay(g->b, rec, g->st);
}

int taprec_give_back(struct taprec *t, struct buffer_replay_stats *st)
{
	struct give_back g = { .b = t->buf, .st = st };

	keep_drop(t);
	return records_each(&t->early, give_back_one, &g);
}

void taprec_close(struct taprec *t)
{
	keep_drop(t);
	tapq_close(t->tq);
	txlog_free(t->txl);
	ctl_msg_free(&t->early);
	free(t->enc);
	t->tq = NULL;
	t->txl = NULL;
	t->enc = NULL;
}
