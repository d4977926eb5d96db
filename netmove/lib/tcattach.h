/* tcattach: netmove's filters on a port's clsact hooks (libnetmove
 * internal: the buffer attaches its programs through it).  One filter per
 * hook, at netmove's fixed handle and priority (NM_TC_HANDLE,
 * NM_TC_PRIORITY), so that a restarted agent finds what an earlier one
 * left; a filter is removed only by the owner of the program in it. */
#ifndef NETMOVE_TCATTACH_H
#define NETMOVE_TCATTACH_H

#include <stdbool.h>
#include <linux/types.h>

/* A hook of the port. */
enum tcattach_hook {
	TCATTACH_EGRESS,	/* frames the port sends (to the VM) */
	TCATTACH_INGRESS,	/* frames the port receives (from the VM) */
};

/* Whether ifindex has a clsact qdisc: 1, 0 if none, -EBUSY if a plain
 * ingress qdisc holds its place, or another negative errno. */
int tcattach_clsact(int ifindex);

/* Give ifindex a clsact qdisc if it has none: 1 if created here, 0 if one
 * was there, -EBUSY (a plain ingress qdisc), or another negative errno. */
int tcattach_clsact_create(int ifindex);

/* Remove ifindex's clsact qdisc unless filters remain on it (another
 * owner's, or ours).  Returns 1 if removed, 0 if it stays or was gone, or
 * a negative errno. */
int tcattach_clsact_release(int ifindex);

/* How many filters of any owner are on ifindex's clsact hooks, or a
 * negative errno. */
int tcattach_filters(int ifindex);

/* Put prog_fd at netmove's place on one hook.  With replace, a program
 * already there is replaced (atomically); without it, that is -EEXIST.
 * Returns 0 or a negative errno. */
int tcattach_attach(int ifindex, enum tcattach_hook hook, int prog_fd, bool replace);

/* The id of the program at netmove's place on one hook: 0 with *id set,
 * -ENOENT if none there, or another negative errno. */
int tcattach_query(int ifindex, enum tcattach_hook hook, __u32 *id);

/* An fd on the program at netmove's place on one hook (the caller's to
 * close), -ENOENT if none there, or another negative errno. */
int tcattach_prog_fd(int ifindex, enum tcattach_hook hook);

/* The kernel's id of the program fd: 0 with *id set, or -errno. */
int tcattach_prog_id(int prog_fd, __u32 *id);

/* Remove netmove's filter from one hook.  With prog_fd (not -1) only if
 * that program is the one there: a newer relocation may have replaced it,
 * and that one is not ours to remove.  Returns 0, -ENOENT (none there),
 * -ESTALE (another program is there), or another negative errno. */
int tcattach_detach(int ifindex, enum tcattach_hook hook, int prog_fd);

#endif
