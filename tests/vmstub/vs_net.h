/* nm-vmstub: network namespaces, taps and link configuration (ioctl based). */
#ifndef VS_NET_H
#define VS_NET_H

#include <stdint.h>
#include <netinet/in.h>

/* Size of the virtio_net_hdr every tap read and write starts with. */
#define VS_VNET_HDR_LEN 10

/* Open a network namespace: a name under /run/netns or a path; returns an fd or -errno. */
int vs_ns_open(const char *name);

/* Make the namespace behind fd the current one (the process must be single-threaded). */
int vs_ns_enter(int nsfd);

/* Create a tap named name in the current namespace: IFF_TAP|IFF_NO_PI|IFF_VNET_HDR,
 * offloads csum/TSO4/TSO6, non-blocking; returns the fd or -errno. */
int vs_tap_create(const char *name);

/* Write value to /proc/sys/net/<key> of the current namespace; -ENOENT if absent. */
int vs_sysctl_net(const char *key, const char *value);

/* Link and address set-up in the current namespace. */
int vs_link_set_mac(const char *ifname, const uint8_t mac[6]);
int vs_link_set_txqlen(const char *ifname, int qlen);
int vs_link_up(const char *ifname);
int vs_addr_add(const char *ifname, struct in_addr addr, int prefix);
int vs_route_default(const char *ifname, struct in_addr gw);

#endif
