/* scheduler: relocations asked for a later time (`netmove relocate --at`,
 * `netmove schedule`): the requests that schedule, list and cancel them,
 * and the thread that begins each when its time comes (netmoved
 * internals).  The schedule (sched.h, under a->lock) is kept in the file
 * cfg.schedule after every change, so that it outlives the agent: one
 * whose time passed while no agent ran begins at start if its window is
 * still open, else it is journaled "missed".  Every change is journaled
 * as a record "schedule" (outcome scheduled, cancelled, missed, begun,
 * refused). */
#ifndef NETMOVE_AGENT_SCHEDULER_H
#define NETMOVE_AGENT_SCHEDULER_H

#include <stdbool.h>

#include "netmove/ctl.h"
#include "requester.h"

struct agent;

/* Read the schedule file, journal what was missed, start the thread.
 * Returns 0 or a negative errno with why on stderr (an unreadable file is
 * moved aside, logged and journaled, and is not an error). */
int scheduler_start(struct agent *a);

/* Stop the thread; what is scheduled stays in the file. */
void scheduler_stop(struct agent *a);

/* A local REQ_RELOCATE or REQ_PULL with A_AT, from by: check it as it would
 * be checked then, keep it, answer on fd (closed). */
void scheduler_add(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by);

/* REQ_SCHEDULE: the schedule, as JSON or text, on fd (closed). */
void scheduler_list(struct agent *a, int fd, bool json);

/* REQ_CANCEL of entry A_ID, from by: answered on fd (closed). */
void scheduler_cancel(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by);

#endif
