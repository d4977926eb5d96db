/* macslots: the buffer's per-MAC table, shared with the tc program
 * (libnetmove internal).  The hash map nm_macs gives a MAC's slot index;
 * the memory-mapped array nm_slots holds each slot's mode, resume watch and
 * counters, which the program reads and updates in place.  Slot 0 is never
 * used; userspace allocates slots (nm_slot.used) and is their only writer
 * apart from the mode's compare-and-swap and the counters. */
#ifndef NETMOVE_MACSLOTS_H
#define NETMOVE_MACSLOTS_H

#include <stddef.h>
#include <stdint.h>

#include "netmove/mac.h"
#include "nm_buffer.h"

/* A port's table. */
struct macslots {
	int macs_fd;		/* nm_macs (the caller's fd) */
	struct nm_slot *slot;	/* nm_slots, mapped: NM_MAX_SLOTS entries */
	size_t map_len;		/* length of that mapping */
};

/* Map the table whose maps are macs_fd and slots_fd (both stay the
 * caller's).  Returns 0 or -errno. */
int macslots_map(struct macslots *m, int macs_fd, int slots_fd);

/* Unmap it (a table never mapped, or unmapped, is a no-op). */
void macslots_unmap(struct macslots *m);

/* mac's slot: 0 with *out set, -ENOENT if mac has none, -EIO if nm_macs
 * names a slot that cannot be, or another negative errno. */
int macslots_find(struct macslots *m, const struct mac *mac, struct nm_slot **out);

/* mac's slot, given one if it has none (in mode, enum nm_mode, before the
 * program can see it): 0 with *out set, -EINVAL (a multicast or zero MAC),
 * -ENOSPC (every slot taken), or what macslots_find returns. */
int macslots_get(struct macslots *m, const struct mac *mac, uint32_t mode,
		 struct nm_slot **out);

/* Free mac's slot once no program run can still be using it.  Returns 0,
 * -ENOENT (mac has none) or another negative errno. */
int macslots_forget(struct macslots *m, const struct mac *mac);

/* Slot idx as the program wrote it into a ring record: NULL for 0 or out
 * of range. */
struct nm_slot *macslots_at(struct macslots *m, uint32_t idx);

/* The MACs with a slot, up to cap of them into out.  Returns how many
 * there are (may exceed cap). */
size_t macslots_list(const struct macslots *m, struct mac *out, size_t cap);

/* Wait until every program run that read the maps before this call has
 * finished (an RCU grace period). */
void macslots_quiesce(void);

#endif
