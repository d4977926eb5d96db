/* bufring: a BPF ring buffer (BPF_MAP_TYPE_RINGBUF) consumed through its
 * memory mapping, the kernel's record headers read as libbpf's consumer
 * reads them (libnetmove internal: the buffer's frame and resume rings).
 * One consumer per ring. */
#ifndef NETMOVE_BUFRING_H
#define NETMOVE_BUFRING_H

#include <stddef.h>
#include <stdint.h>

/* A mapped ring. */
struct bufring {
	uint64_t size;			/* data bytes (power of two) */
	unsigned long *cons;		/* consumer position (ours to write) */
	const unsigned long *prod;	/* producer position */
	const uint8_t *data;		/* data pages, mapped twice in a row */
	void *cons_map;			/* mapping of the consumer page */
	void *prod_map;			/* mapping of the producer page + data */
	size_t prod_len;		/* its length */
};

/* A committed record at the consumer position or after it (bufring_peek). */
struct bufring_ent {
	const uint8_t *data;	/* the record */
	uint32_t len;		/* its length */
	unsigned long next;	/* the consumer position past it */
};

/* Map the ring map fd (which stays the caller's).  Returns 0 or -errno. */
int bufring_map(struct bufring *r, int fd);

/* Unmap it (a ring never mapped, or unmapped, is a no-op). */
void bufring_unmap(struct bufring *r);

/* Bytes produced and not consumed yet. */
uint64_t bufring_used(const struct bufring *r);

/* Up to max committed records from the consumer position on, not consumed
 * yet: the producer cannot reuse their room until bufring_advance.
 * Discarded records before the first are consumed here.  Returns how many. */
int bufring_peek(struct bufring *r, struct bufring_ent *e, int max);

/* Consume what bufring_peek gave, up to and including e. */
void bufring_advance(struct bufring *r, const struct bufring_ent *e);

typedef int (*bufring_fn)(void *arg, const uint8_t *rec, uint32_t len);

/* Hand up to max committed records to fn in order; a record is consumed only
 * after fn returned >= 0.  fn NULL consumes discarded records and stops at
 * the first real one.  Returns the number of records handed, or fn's error. */
int bufring_consume(struct bufring *r, bufring_fn fn, void *arg, int max);

#endif
