/* qmp: a client of the QEMU Machine Protocol on a unix socket: connect and
 * negotiate, run commands, receive asynchronous events.  QEMU writes one
 * JSON object per line; events that arrive while a command waits for its
 * return are kept, in order, for qmp_event. */
#ifndef NETMOVE_QMP_H
#define NETMOVE_QMP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define QMP_LINE_MAX (1u << 20)	/* longest line accepted from QEMU */

/* A connection. */
struct qmp {
	int fd;			/* -1 when closed */
	char *buf;		/* bytes read, not yet split into lines */
	size_t len, cap;
	uint64_t next_id;	/* id of the next command */
	json_t *events;		/* array: events kept while a command waited */
	char version[32];	/* QEMU's "major.minor.micro" */
};

/* Connect to the QMP socket at path, read the greeting and leave capability
 * negotiation (qmp_capabilities).  Returns 0, -ENOENT/-ECONNREFUSED (no
 * QEMU there), -EPROTO (not QMP), -ETIMEDOUT, or another negative errno. */
int qmp_connect(struct qmp *q, const char *path, int timeout_ms);

/* Run cmd with args (taken over; NULL: none).  On success *ret (if not NULL)
 * gets the "return" value, owned by the caller.  Returns 0, -EPROTO with
 * QEMU's error text in err (errlen bytes), -ETIMEDOUT, -ECONNRESET (QEMU went
 * away), or another negative errno. */
int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, char *err, size_t errlen,
	     int timeout_ms);

/* Next event (kept ones first): 0 with *ev (owned by the caller),
 * -ETIMEDOUT, -ECONNRESET, or another negative errno.  timeout_ms 0 only
 * looks, -1 waits. */
int qmp_event(struct qmp *q, int timeout_ms, json_t **ev);

/* The event's QEMU timestamp as CLOCK_REALTIME µs (0 if it has none). */
uint64_t qmp_event_time_us(const json_t *ev);

/* Close (the struct may be connected again). */
void qmp_close(struct qmp *q);

#endif
