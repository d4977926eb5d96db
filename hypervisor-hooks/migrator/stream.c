/* stream: record encoding and parsing for the migration stream. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

void stream_w_bytes(struct stream_w *w, const void *v, size_t n)
{
	if (w->err)
		return;
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *p;

		while (cap < w->len + n)
			cap *= 2;
		p = realloc(w->p, cap);
		if (!p) {
			w->err = -ENOMEM;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

void stream_w_u16(struct stream_w *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	stream_w_bytes(w, b, 2);
}

void stream_w_u32(struct stream_w *w, uint32_t v)
{
	stream_w_u16(w, (uint16_t)v);
	stream_w_u16(w, (uint16_t)(v >> 16));
}

void stream_w_u64(struct stream_w *w, uint64_t v)
{
	stream_w_u32(w, (uint32_t)v);
	stream_w_u32(w, (uint32_t)(v >> 32));
}

void stream_w_free(struct stream_w *w)
{
	free(w->p);
	memset(w, 0, sizeof(*w));
}

void stream_r_init(struct stream_r *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

void stream_r_bytes(struct stream_r *r, void *v, size_t n)
{
	if (r->err || n > r->len - r->off) {
		r->err = -EBADMSG;
		memset(v, 0, n);
		return;
	}
	memcpy(v, r->p + r->off, n);
	r->off += n;
}

uint16_t stream_r_u16(struct stream_r *r)
{
	uint8_t b[2];

	stream_r_bytes(r, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

uint32_t stream_r_u32(struct stream_r *r)
{
	uint32_t lo = stream_r_u16(r);

	return lo | (uint32_t)stream_r_u16(r) << 16;
}

uint64_t stream_r_u64(struct stream_r *r)
{
	uint64_t lo = stream_r_u32(r);

	return lo | (uint64_t)stream_r_u32(r) << 32;
}

static void put_seg(struct stream_w *w, const struct cpu_seg *s)
{
	stream_w_u16(w, s->sel);
	stream_w_u32(w, s->base);
	stream_w_u32(w, s->limit);
	stream_w_u16(w, s->attr);
}

static void get_seg(struct stream_r *r, struct cpu_seg *s)
{
	s->sel = stream_r_u16(r);
	s->base = stream_r_u32(r);
	s->limit = stream_r_u32(r);
	s->attr = stream_r_u16(r);
}

void stream_put_cpu(struct stream_w *w, const struct cpu_state *s)
{
	int i;

	for (i = 0; i < 8; i++)
		stream_w_u32(w, s->gpr[i]);
	stream_w_u32(w, s->eip);
	stream_w_u32(w, s->eflags);
	for (i = 0; i < CPU_NSEG; i++)
		put_seg(w, &s->seg[i]);
	put_seg(w, &s->tr);
	put_seg(w, &s->ldt);
	stream_w_u32(w, s->gdt_base);
	stream_w_u16(w, s->gdt_limit);
	stream_w_u32(w, s->idt_base);
	stream_w_u16(w, s->idt_limit);
	stream_w_u32(w, s->cr0);
	stream_w_u32(w, s->cr2);
	stream_w_u32(w, s->cr3);
	stream_w_u32(w, s->cr4);
	stream_w_u64(w, s->efer);
	stream_w_u32(w, s->ext_len);
	stream_w_bytes(w, s->ext, s->ext_len <= CPU_EXT_MAX ? s->ext_len : 0);
}

int stream_get_cpu(struct stream_r *r, struct cpu_state *s)
{
	int i;

	for (i = 0; i < 8; i++)
		s->gpr[i] = stream_r_u32(r);
	s->eip = stream_r_u32(r);
	s->eflags = stream_r_u32(r);
	for (i = 0; i < CPU_NSEG; i++)
		get_seg(r, &s->seg[i]);
	get_seg(r, &s->tr);
	get_seg(r, &s->ldt);
	s->gdt_base = stream_r_u32(r);
	s->gdt_limit = stream_r_u16(r);
	s->idt_base = stream_r_u32(r);
	s->idt_limit = stream_r_u16(r);
	s->cr0 = stream_r_u32(r);
	s->cr2 = stream_r_u32(r);
	s->cr3 = stream_r_u32(r);
	s->cr4 = stream_r_u32(r);
	s->efer = stream_r_u64(r);
	s->ext_len = stream_r_u32(r);
	if (s->ext_len > CPU_EXT_MAX)
		return -EBADMSG;
	stream_r_bytes(r, s->ext, s->ext_len);
	if (r->err || r->off != r->len)
		return -EBADMSG;
	return 0;
}

int stream_hello_build(struct ctl_msg *m, const struct stream_hello *h)
{
	uint8_t feat[4 * CPU_FEAT_WORDS];
	int i, ret;

	for (i = 0; i < CPU_FEAT_WORDS; i++) {
		feat[4 * i] = (uint8_t)h->feat[i];
		feat[4 * i + 1] = (uint8_t)(h->feat[i] >> 8);
		feat[4 * i + 2] = (uint8_t)(h->feat[i] >> 16);
		feat[4 * i + 3] = (uint8_t)(h->feat[i] >> 24);
	}
	ctl_msg_reset(m, STREAM_HELLO);
	ret = ctl_put_u64(m, SA_MAGIC, STREAM_MAGIC);
	if (!ret)
		ret = ctl_put_u64(m, SA_VERSION, h->version);
	if (!ret)
		ret = ctl_put_u64(m, SA_RAM, h->ram);
	if (!ret)
		ret = ctl_put_u64(m, SA_KIND, h->kind);
	if (!ret)
		ret = ctl_put(m, SA_FEAT, feat, sizeof(feat));
	return ret;
}

int stream_hello_parse(const struct ctl_msg *m, struct stream_hello *h)
{
	struct stream_r r;
	const void *v;
	uint64_t magic;
	size_t len;
	int i;

	memset(h, 0, sizeof(*h));
	if (m->type != STREAM_HELLO || ctl_get_u64(m, SA_MAGIC, &magic) || magic != STREAM_MAGIC)
		return -EPROTONOSUPPORT;
	if (ctl_get_u64(m, SA_VERSION, &h->version))
		return -EBADMSG;
	if (h->version != STREAM_VERSION)
		return -EPROTONOSUPPORT;
	if (ctl_get_u64(m, SA_RAM, &h->ram) || ctl_get_u64(m, SA_KIND, &h->kind) ||
	    ctl_get(m, SA_FEAT, &v, &len) || len != 4 * CPU_FEAT_WORDS)
		return -EBADMSG;
	stream_r_init(&r, v, len);
	for (i = 0; i < CPU_FEAT_WORDS; i++)
		h->feat[i] = stream_r_u32(&r);
	return 0;
}

void stream_tx_init(struct stream_tx *tx, struct ctl_conn *c)
{
	memset(tx, 0, sizeof(*tx));
	tx->c = c;
	ctl_msg_init(&tx->m, STREAM_PAGES);
}

void stream_tx_free(struct stream_tx *tx)
{
	ctl_msg_free(&tx->m);
}

/* Pages go through the C library's memcpy (wide vector moves): compilers
 * inline a copy of a constant 4 KiB as `rep movsq`, a third slower on these
 * machines.  The volatile pointer keeps it a call. */
static void *(*volatile const page_copy)(void *, const void *, size_t) = memcpy;

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *)(const void *)p;
	size_t i;

	for (i = 0; i < STREAM_PAGE / 8; i++)
		if (q[i])
			return false;
	return true;
}

static int tx_put_zero_run(struct stream_tx *tx)
{
	uint8_t v[12];
	int i;

	if (!tx->zero_count)
		return 0;
	for (i = 0; i < 8; i++)
		v[i] = (uint8_t)(tx->zero_first >> (8 * i));
	for (i = 0; i < 4; i++)
		v[8 + i] = (uint8_t)(tx->zero_count >> (8 * i));
	tx->zero_count = 0;
	return ctl_put(&tx->m, SA_ZERO, v, sizeof(v));
}

int stream_tx_send(struct stream_tx *tx, struct ctl_msg *m)
{
	int ret = ctl_send(tx->c, m);

	if (ret == 0) {
		tx->bytes += stream_wire_len(m);
		tx->msgs++;
	}
	return ret;
}

void stream_abort(struct ctl_conn *c, const char *why)
{
	struct ctl_msg m;

	ctl_msg_init(&m, STREAM_ABORT);
	if (ctl_put_str(&m, SA_TEXT, why) == 0)
		ctl_send(c, &m);
	ctl_msg_free(&m);
}

int stream_tx_flush(struct stream_tx *tx)
{
	int ret = tx_put_zero_run(tx);

	if (ret || !tx->m.len)
		return ret;
	ret = stream_tx_send(tx, &tx->m);
	ctl_msg_reset(&tx->m, STREAM_PAGES);
	tx->n = 0;
	return ret;
}

int stream_tx_page(struct stream_tx *tx, uint64_t pfn, const uint8_t *data)
{
	uint8_t *rec;
	int i, ret;

	tx->pages++;
	if (!data || page_is_zero(data)) {
		tx->zero_pages++;
		if (tx->zero_count && tx->zero_first + tx->zero_count == pfn &&
		    tx->zero_count < UINT32_MAX) {
			tx->zero_count++;
			return 0;
		}
		ret = tx_put_zero_run(tx);
		tx->zero_first = pfn;
		tx->zero_count = 1;
		return ret;
	}
	ret = tx_put_zero_run(tx);
	if (ret)
		return ret;
	rec = ctl_put_reserve(&tx->m, SA_PAGE, 8 + STREAM_PAGE);
	if (!rec)
		return -ENOMEM;
	for (i = 0; i < 8; i++)
		rec[i] = (uint8_t)(pfn >> (8 * i));
	/* The one copy of the page, straight into the message: it happens after
	 * the dirty bit was cleared, so a guest write racing with it sets the
	 * bit again and the page goes in the next round. */
	page_copy(rec + 8, data, STREAM_PAGE);
	if (++tx->n >= STREAM_BATCH)
		return stream_tx_flush(tx);
	return 0;
}

int stream_apply_pages(uint8_t *ram, uint64_t npages, const struct ctl_msg *m,
		       uint64_t *pages)
{
	size_t off = 0, len;
	const void *v;
	uint16_t tag;
	uint64_t n = 0;

	if (m->type != STREAM_PAGES || ctl_body_check(m->body, m->len))
		return -EBADMSG;
	while (ctl_next(m, &off, &tag, &v, &len) == 1) {
		struct stream_r r;
		uint64_t pfn;
		uint32_t count;

		stream_r_init(&r, v, len);
		if (tag == SA_PAGE) {
			pfn = stream_r_u64(&r);
			if (len != 8 + STREAM_PAGE || pfn >= npages)
				return -EBADMSG;
			page_copy(ram + pfn * STREAM_PAGE, (const uint8_t *)v + 8, STREAM_PAGE);
			n++;
		} else if (tag == SA_ZERO) {
			pfn = stream_r_u64(&r);
			count = stream_r_u32(&r);
			if (len != 12 || !count || pfn >= npages || count > npages - pfn)
				return -EBADMSG;
			/* Writing zeros to a fresh page would allocate it. */
			for (; count; count--, pfn++, n++)
				if (!page_is_zero(ram + pfn * STREAM_PAGE))
					memset(ram + pfn * STREAM_PAGE, 0, STREAM_PAGE);
		} else {
			return -EBADMSG;
		}
	}
	*pages += n;
	return 0;
}

const char *stream_strerror(int err)
{
	switch (err) {
	case -ECONNRESET:
	case -EPIPE:
		return "stream truncated: the peer closed the connection";
	case -EBADMSG:
		return "corrupted or foreign stream: bad header or record";
	case -EPROTO:
		return "stream out of sequence: replayed or reordered message";
	case -EPROTONOSUPPORT:
		return "not a migration stream of this version";
	case -ETIMEDOUT:
		return "the peer did not answer in time";
	default:
		return ctl_strerror(err);
	}
}
