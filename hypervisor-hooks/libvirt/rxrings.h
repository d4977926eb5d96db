/* rxrings: where the RX rings of the netmove NICs of libvirt's running
 * domains are, for guestrx (nm-libvirt internals).
 *
 * Learning a ring takes QMP commands (qemu_nic.h) through libvirt's monitor
 * passthrough, which waits for the domain's job: during a migration it
 * would wait for the migration to end.  So a thread of its own, on a
 * connection of its own, learns the rings of running domains that no job
 * holds, and learns them again every RXRINGS_REFRESH_S seconds (a guest
 * that reset its NIC set its ring up anew) and whenever a domain restarts
 * or arrives (a new domain id).  At a blackout the main thread reads the
 * guest's last frame from the VMM's memory at once, with no libvirt call.
 * The passthrough marks the domain "tainted: custom-monitor" in its log. */
#ifndef NETMOVE_RXRINGS_H
#define NETMOVE_RXRINGS_H

#include <stddef.h>
#include <stdint.h>

#include "netmove/mac.h"

#define RXRINGS_REFRESH_S 10		/* a ring learnt is learnt again after this */
#define RXRINGS_PERIOD_MS 1000		/* the thread's pass over the domains */
#define RXRINGS_MAX 256			/* NICs tracked */

struct rxrings;

/* Start the thread; it connects (read-write) to uri and logs what it
 * learns through log_line("nm-libvirt", ...).  Returns 0 or a negative
 * errno. */
int rxrings_start(const char *uri, struct rxrings **out);

/* What the guest behind the NIC with MAC mac received last, into stop's
 * AGENTC_LAST_RX part (agentc_stop_last_rx).  Call once the VM has stopped.
 * Returns 0, -ENOENT (its ring is not known), or guestrx_tail's error; why
 * (whylen bytes) says which. */
struct agentc_stop;
int rxrings_last(struct rxrings *r, const struct mac *mac, struct agentc_stop *stop, char *why,
		 size_t whylen);

/* Stop the thread and free (NULL is a no-op). */
void rxrings_stop(struct rxrings *r);

#endif
