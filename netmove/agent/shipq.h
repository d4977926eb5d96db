/* shipq: the frames a source shipped that the destination has not yet
 * confirmed (netmoved internals).
 *
 * A destination confirms each FRAMES message once it handed its frames to
 * the VM's port (PROTO_FRAMES_ACK, the count so far).  The source keeps every
 * message until then: if the destination agent dies with frames in its
 * socket, or its connection is reset before it read them, the source sends
 * what was never confirmed out of the uplink after the VM instead of losing
 * it.  Confirmed messages are freed at once, so what is kept is the window
 * in flight. */
#ifndef NETMOVE_AGENT_SHIPQ_H
#define NETMOVE_AGENT_SHIPQ_H

#include <stddef.h>
#include <stdint.h>

#include "netmove/buffer.h"
#include "netmove/ctl.h"

/* Messages sent and not yet confirmed, oldest first. */
struct shipq {
	struct ctl_msg *msgs;		/* FRAMES messages (A_RECORD attributes) */
	uint64_t *ends;			/* per message: records shipped up to its end */
	size_t n, cap;			/* messages kept and allocated */
	uint64_t base;			/* records shipped before msgs[0] */
	uint64_t confirmed;		/* records the destination confirmed */
	uint64_t shipped;		/* records pushed */
};

/* An empty queue (allocates nothing). */
void shipq_init(struct shipq *q);

/* Keep message m of records records: its body moves into q and m is left
 * empty.  Returns 0 or -ENOMEM (m is then left as it was). */
int shipq_push(struct shipq *q, struct ctl_msg *m, uint64_t records);

/* The destination confirmed count records: free the messages it covers. */
void shipq_confirm(struct shipq *q, uint64_t count);

/* Records shipped and not confirmed. */
uint64_t shipq_unconfirmed(const struct shipq *q);

/* Call fn for each record not confirmed, oldest first (stops at fn's
 * negative return, which it returns). */
int shipq_each_unconfirmed(const struct shipq *q, buffer_record_fn fn, void *arg);

/* Free everything; q is empty afterwards. */
void shipq_free(struct shipq *q);

#endif
