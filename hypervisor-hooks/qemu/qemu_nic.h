/* qemu_nic: what QEMU's monitor tells about one virtio-net NIC, for
 * guestrx: where its RX ring and the guest's RAM are.
 *
 * The monitor is reached through a callback, so nm-qemu (its own QMP
 * socket) and nm-libvirt (libvirt's monitor passthrough) ask the same
 * questions: x-query-virtio, qom-get mac, x-query-virtio-status (features,
 * driver state), x-query-virtio-queue-status (queue 0), and the HMP
 * commands `info mtree -f` (the RAM's guest-physical ranges) and `gpa2hva`
 * (where QEMU maps each).  Ask while the VM runs: once QEMU's migration has
 * stopped the VM it may not answer until the migration ends. */
#ifndef NETMOVE_QEMU_NIC_H
#define NETMOVE_QEMU_NIC_H

#include <stddef.h>

#include <jansson.h>

#include "netmove/guestrx.h"
#include "netmove/mac.h"

/* Run QMP command cmd with args (taken over; NULL: none) on the VM's
 * monitor: 0 with *ret (its "return" value, owned by the caller), or a
 * negative errno with the reason in err (errlen bytes). */
typedef int (*qemu_nic_monitor_fn)(void *arg, const char *cmd, json_t *args, json_t **ret,
				   char *err, size_t errlen);

/* Fill g's ring and RAM layout (not its memfd) for the virtio-net NIC whose
 * MAC is mac.  Returns 0, -ENOENT (no such NIC), -EAGAIN (its driver is not
 * ready yet), -ENOTSUP (a packed ring, a hash-report header, more RAM
 * regions than guestrx maps), -EPROTO (an answer that does not parse), or
 * the monitor's error; err says which. */
int qemu_nic_rx_ring(struct guestrx *g, const struct mac *mac, qemu_nic_monitor_fn fn,
		     void *arg, char *err, size_t errlen);

/* The RAM ranges of `info mtree -f` text: the flat view of address space
 * "memory", entries of type ram.  Calls add(arg, gpa, size) for each, in
 * order; stops at add's negative return.  Returns the number of ranges, or
 * -EPROTO if the text has no such flat view. */
int qemu_nic_mtree_ram(const char *mtree, int (*add)(void *arg, uint64_t gpa, uint64_t size),
		       void *arg);

#endif
