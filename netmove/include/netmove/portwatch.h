/* portwatch: new VM ports as the kernel announces them.  Hypervisors (QEMU,
 * libvirt) create a VM's tap and plug it into the vSwitch themselves, with
 * no step in between for netmove; giving the port its clsact qdisc later,
 * once traffic flows, deactivates it for a moment and drops frames
 * (qdisc_graft).  Watching rtnetlink's link group lets netmoved prepare each
 * tap the moment it appears, before traffic flows. */
#ifndef NETMOVE_PORTWATCH_H
#define NETMOVE_PORTWATCH_H

/* Called for each tap (tun driver, tap mode) that appeared or changed. */
typedef void (*portwatch_fn)(const char *ifname, int ifindex, void *arg);

/* A netlink socket subscribed to link changes in this namespace (poll it
 * for POLLIN), or a negative errno. */
int portwatch_open(void);

/* Read what is pending (non-blocking) and call fn for each tap in it.
 * Returns the number of taps reported, or a negative errno (-ENOBUFS: the
 * kernel dropped notices; call portwatch_each to catch up). */
int portwatch_read(int fd, portwatch_fn fn, void *arg);

/* Call fn for every tap that exists now; returns how many, or -errno. */
int portwatch_each(portwatch_fn fn, void *arg);

#endif
