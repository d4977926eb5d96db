/* recfile: held frames as records in a file that outlives the agent
 * (netmoved internals).
 *
 * A record file holds A_RECORD attributes, as a FRAMES message's body does
 * (buffer_record_encode), back to back.  taprec writes what it read out of
 * the VM's tap into one, whole; spill appends what it moves out of the ring
 * during a long blackout to another.  Both sit beside the agent's socket
 * (agent_reloc_path) until their frames were handed on, so that an agent
 * that dies leaves them to the next one (recover.h).  Reading streams the
 * file through one window: a file of hundreds of MiB needs no more memory
 * than that. */
#ifndef NETMOVE_AGENT_RECFILE_H
#define NETMOVE_AGENT_RECFILE_H

#include <stddef.h>

#include "netmove/buffer.h"
#include "netmove/ctl.h"

#define RECFILE_PATH 256		/* a record file's path, with its NUL */
#define RECFILE_WINDOW (1u << 20)	/* bytes read at a time (> one record) */

/* Hand every A_RECORD of m to fn, decoded, in order; stops at fn's error
 * (returned).  Shipped batches of frames are kept this way too. */
int records_each(const struct ctl_msg *m, buffer_record_fn fn, void *arg);

/* Write m's body as the whole file path (mode 0600): a new file renamed
 * over, so that a reader finds the old one or the new one.  0 or a
 * negative errno. */
int recfile_write(const char *path, const struct ctl_msg *m);

/* Append m's body to the record file open on fd (O_APPEND).  0 or a
 * negative errno (-ENOSPC: the file system is full). */
int recfile_append(int fd, const struct ctl_msg *m);

/* Hand each record of the file open on fd, from its start, in order, to fn
 * (the file's offset is left alone).  Returns 0, fn's negative return, or
 * another negative errno; a file cut short (a crash while it was written)
 * hands the records before the cut and returns -EBADMSG. */
int recfile_each_fd(int fd, buffer_record_fn fn, void *arg);

/* recfile_each_fd on the file path, which is removed afterwards (its frames
 * were handed on, or told lost): -ENOENT if there is no such file. */
int recfile_each(const char *path, buffer_record_fn fn, void *arg);

#endif
