/* spares: buffer programs loaded ahead of the relocations that attach them
 * (netmoved internals).
 *
 * Loading the buffer program (the verifier's work) takes 25-35 ms of a
 * PREPARE on this kind of machine, on each side.  A hypervisor's migration
 * does not wait for PREPARE (QEMU's own switchover, a small guest's
 * migration done in ~100 ms): so a thread keeps SPARES_MAX programs loaded,
 * and PREPARE only attaches one. */
#ifndef NETMOVE_AGENT_SPARES_H
#define NETMOVE_AGENT_SPARES_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "netmove/buffer.h"
#include "netmove/worker.h"

#define SPARES_MAX 2			/* a source and a destination at once */
#define SPARES_RETRY_MS 1000		/* after a failed load */

struct spares {
	pthread_mutex_t lock;		/* the members below */
	struct worker w;		/* the loader; nudged when a spare is taken */
	struct buffer_spare *s[SPARES_MAX];
	uint32_t ring;			/* ring bytes of each */
	void (*log)(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	void *log_arg;
};

/* Start the loader for rings of ring bytes.  log (with log_arg) reports a
 * failed load once.  Returns 0 or a negative errno. */
int spares_start(struct spares *sp, uint32_t ring, void (*log)(void *, const char *, ...),
		 void *log_arg);

/* A loaded program, or NULL if none is ready (buffer_attach then loads
 * one itself).  The caller hands it to buffer_attach. */
struct buffer_spare *spares_take(struct spares *sp);

/* How many are loaded and waiting (netmove plan tells it). */
int spares_ready(struct spares *sp);

/* Stop the loader and free what it holds. */
void spares_stop(struct spares *sp);

#endif
