/* stream: the migration stream.  One ctl connection inside TLS 1.3
 * (authenticated and encrypted, sequence numbers: see netmove/ctl.h) carries typed messages whose bodies are TLV sections; page
 * sections carry 4 KiB pages or runs of zero pages.  The record parsers here
 * take untrusted input (see fuzz_stream.c). */
#ifndef NM_STREAM_H
#define NM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netmove/ctl.h"
#include "cpu.h"

#define STREAM_VERSION 3
#define STREAM_MAGIC 0x4e4d4d47u	/* "NMMG": first section of HELLO */
#define STREAM_BATCH 256		/* pages per PAGES message */
#define STREAM_PAGE 4096

/* Message types (ctl_msg.type). */
enum {
	STREAM_HELLO = 0x4d01,	/* src->dst: version, RAM, back-end, CPU features */
	STREAM_ACCEPT,		/* dst->src: resources fit */
	STREAM_REFUSE,		/* dst->src: they do not (text says why) */
	STREAM_PAGES,		/* src->dst: pages and zero runs of one round */
	STREAM_ROUND_END,	/* src->dst: round number and its page count */
	STREAM_STATE,		/* src->dst: vCPU and device state */
	STREAM_END,		/* src->dst: nothing follows; resume */
	STREAM_RESUMED,		/* dst->src: the guest runs on the destination */
	STREAM_ABORT,		/* either way: give up (text says why) */
	STREAM_ROUND_ACK,	/* dst->src: a round was applied (its number): the
				 * source measures bandwidth end to end and never
				 * pauses with rounds still queued in the pipe */
	STREAM_READY,		/* dst->src: after END: all applied, nothing started */
	STREAM_COMMIT,		/* src->dst: resume; the source never will on its own */
};

/* Attribute tags. */
enum {
	SA_MAGIC = 1,		/* u64 STREAM_MAGIC */
	SA_VERSION,		/* u64 STREAM_VERSION */
	SA_RAM,			/* u64 guest RAM bytes */
	SA_KIND,		/* u64 enum cpu_kind */
	SA_FEAT,		/* CPU_FEAT_WORDS x u32 LE */
	SA_ROUND,		/* u64 round number */
	SA_PAGE,		/* u64 LE page number + STREAM_PAGE bytes */
	SA_ZERO,		/* u64 LE first page + u32 LE count: all-zero pages */
	SA_COUNT,		/* u64 pages in the round */
	SA_CPU,			/* vCPU state (stream_put_cpu) */
	SA_DEV,			/* device state (dev_save) */
	SA_TEXT,		/* human-readable reason */
	SA_LOAD_NS,		/* u64 destination time from COMMIT to resume */
};

/* Little-endian writer into a growing buffer. */
struct stream_w {
	uint8_t *p;		/* buffer */
	size_t len;		/* bytes written */
	size_t cap;		/* bytes allocated */
	int err;		/* sticky -ENOMEM */
};

/* Little-endian reader over untrusted bytes. */
struct stream_r {
	const uint8_t *p;	/* input */
	size_t len;		/* its length */
	size_t off;		/* read position */
	int err;		/* sticky -EBADMSG on overrun */
};

void stream_w_bytes(struct stream_w *w, const void *v, size_t n);
void stream_w_u16(struct stream_w *w, uint16_t v);
void stream_w_u32(struct stream_w *w, uint32_t v);
void stream_w_u64(struct stream_w *w, uint64_t v);
void stream_w_free(struct stream_w *w);
void stream_r_init(struct stream_r *r, const void *p, size_t len);
void stream_r_bytes(struct stream_r *r, void *v, size_t n);
uint16_t stream_r_u16(struct stream_r *r);
uint32_t stream_r_u32(struct stream_r *r);
uint64_t stream_r_u64(struct stream_r *r);

/* Encode / decode the neutral vCPU state (decode: 0 or -EBADMSG). */
void stream_put_cpu(struct stream_w *w, const struct cpu_state *s);
int stream_get_cpu(struct stream_r *r, struct cpu_state *s);

/* What HELLO announces. */
struct stream_hello {
	uint64_t version;	/* STREAM_VERSION */
	uint64_t ram;		/* guest RAM bytes */
	uint64_t kind;		/* enum cpu_kind */
	uint32_t feat[CPU_FEAT_WORDS];	/* CPUID feature words */
};

int stream_hello_build(struct ctl_msg *m, const struct stream_hello *h);
/* 0, -EBADMSG (malformed) or -EPROTONOSUPPORT (not a migration stream or
 * another version). */
int stream_hello_parse(const struct ctl_msg *m, struct stream_hello *h);

/* Batches pages into PAGES messages. */
struct stream_tx {
	struct ctl_conn *c;	/* connection */
	struct ctl_msg m;	/* message being filled */
	unsigned n;		/* data pages in it */
	uint64_t zero_first;	/* pending zero run: first page */
	uint32_t zero_count;	/* pending zero run: length */
	uint64_t pages;		/* pages queued (data + zero) */
	uint64_t zero_pages;	/* of which zero */
	uint64_t bytes;		/* bytes handed to the socket */
	uint64_t msgs;		/* messages sent */
};

void stream_tx_init(struct stream_tx *tx, struct ctl_conn *c);
void stream_tx_free(struct stream_tx *tx);
/* Queue page pfn whose content is data (zero pages become markers; data
 * NULL: known to be zero without reading it). */
int stream_tx_page(struct stream_tx *tx, uint64_t pfn, const uint8_t *data);
/* Send what is queued. */
int stream_tx_flush(struct stream_tx *tx);
/* Send a message and account its bytes. */
int stream_tx_send(struct stream_tx *tx, struct ctl_msg *m);

/* Bytes a message takes on the wire. */
static inline uint64_t stream_wire_len(const struct ctl_msg *m)
{
	return CTL_HDR_LEN + m->len;
}

/* Best effort: tell the peer why we give up (an ABORT carrying why). */
void stream_abort(struct ctl_conn *c, const char *why);

/* Apply a PAGES message to ram (npages pages).  Adds the pages it held to
 * *pages.  0 or -EBADMSG (malformed, page out of range). */
int stream_apply_pages(uint8_t *ram, uint64_t npages, const struct ctl_msg *m,
		       uint64_t *pages);

/* A clear sentence for a stream error code. */
const char *stream_strerror(int err);

#endif
