/* requests: what netmoved is asked (netmoved internals). */
#ifndef NETMOVE_AGENT_REQUESTS_H
#define NETMOVE_AGENT_REQUESTS_H

struct agent;

/* Serve one local client's request on fd (a root peer of the unix socket);
 * fd is closed by whoever answers. */
void requests_local(struct agent *a, int fd);

/* Serve a peer agent connected on fd from address `from`: the TLS
 * handshake, then its PREPARE, PULL or PLAN; fd is closed. */
void requests_peer(struct agent *a, int fd, const char *from);

#endif
