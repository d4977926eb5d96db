/* agentc: client side of the local netmoved socket, for the CLI and for
 * hypervisor hooks built in C (the compact migrator calls these directly). */
#ifndef NETMOVE_AGENTC_H
#define NETMOVE_AGENTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include "netmove/ctl.h"
#include "netmove/guestrx.h"
#include "netmove/rxmatch.h"
#include "netmove/mac.h"

/* The agent's socket: $NETMOVE_SOCKET, else PROTO_DEFAULT_SOCKET. */
const char *agentc_socket(void);

/* Send req to the agent at path and receive its reply into rep (initialised
 * by the caller).  Returns 0 when the agent answered (rep->type says OK or
 * ERROR), or a negative errno if it could not be reached or did not answer
 * within timeout_ms. */
int agentc_transact(const char *path, struct ctl_msg *req, struct ctl_msg *rep,
		    int timeout_ms);

/* What a hypervisor tells of the VM's stop, with a blackout event. */
struct agentc_stop {
	uint64_t stopped_us;	/* CLOCK_REALTIME µs at which the VM stopped, 0: not
				 * told (the agent journals how late the blackout came) */
	unsigned flags;		/* AGENTC_READER_*, AGENTC_LAST_RX */
	struct rxmatch_tail rx;	/* AGENTC_LAST_RX: what the VM's NIC received before the
				 * stop (read from its RX ring, see guestrx.h) */
};

/* Flags of struct agentc_stop (they need stopped_us). */
enum {
	/* The tap's reader keeps the first frame it reads after the VM stopped
	 * and never delivers it (QEMU's user-space network path does): the
	 * source finds that frame among the copies it logged and sends it on. */
	AGENTC_READER_KEEPS_ONE = 1,
	/* rx tells what the guest received (read from its RX ring, see
	 * guestrx.h): every frame its reader took that did not reach the guest
	 * was lost inside the reader, and the source sends those on. */
	AGENTC_LAST_RX = 2,
};

/* Set stop's AGENTC_LAST_RX part from the tail of a guest's RX ring
 * (guestrx_tail): frame holds the anchor's t->len bytes; hdr_len is the
 * NIC's header length (struct guestrx). */
void agentc_stop_last_rx(struct agentc_stop *stop, const uint8_t *frame,
			 const struct guestrx_tail *t, unsigned hdr_len);

/* Build the EVENT request: kind ("blackout", "resumed", "failed") for mac;
 * stop (NULL: nothing told) as above.  Returns 0, -EINVAL (flags without
 * stopped_us), or another negative errno. */
int agentc_event_msg(struct ctl_msg *req, const char *kind, const struct mac *mac,
		     const struct agentc_stop *stop);

/* The agent's side of agentc_event_msg: what req (PROTO_REQ_EVENT) tells
 * of the stop.  Flags without a stop time are dropped.  Returns 0 or
 * -EBADMSG (a malformed RX ring tail). */
int agentc_event_stop(const struct ctl_msg *req, struct agentc_stop *stop);

/* Signal a hypervisor event (see agentc_event_msg).  Returns 0 if the agent
 * accepted it, -EPROTO if it refused (text in msg, msglen bytes, may be
 * NULL), or the errors of agentc_transact. */
int agentc_event(const char *path, const char *kind, const struct mac *mac,
		 const struct agentc_stop *stop, char *msg, size_t msglen);

/* agentc_event, timed, for a hook's log: writes "KIND MAC: accepted: TEXT
 * (N us after the stop, agent answered in M us)" (the first part only with
 * a stop time) into line (len bytes).  Returns what agentc_event returned. */
int agentc_event_logged(const char *path, const char *kind, const struct mac *mac,
			const struct agentc_stop *stop, char *line, size_t len);

/* Build the RELOCATE request: this host's agent (the source) moves mac/ip
 * to the agent of host `to`; port is the VM's port here, dst_port its port
 * there (NULL: the same name).  Returns 0 or a negative errno. */
int agentc_relocate_msg(struct ctl_msg *req, const struct mac *mac, struct in_addr ip,
			const char *to, const char *port, const char *dst_port);

/* PREPARE a relocation through the agent at path; returns once the
 * destination is prepared: 0, -EPROTO if refused (text in msg), or the errors
 * of agentc_transact. */
int agentc_relocate(const char *path, const struct mac *mac, struct in_addr ip,
		    const char *to, const char *port, const char *dst_port,
		    char *msg, size_t msglen);

/* Build the PULL request: this host's agent (the destination) asks the
 * agent that has mac on one of its ports to relocate it here, as if that
 * agent had been asked with agentc_relocate.  port is the VM's port here;
 * from names the source host, or NULL: each peer is asked in turn and the
 * one that has mac takes it.  Returns 0 or a negative errno. */
int agentc_pull_msg(struct ctl_msg *req, const struct mac *mac, struct in_addr ip,
		    const char *port, const char *from);

/* PULL through the agent at path; returns once the relocation is prepared
 * (this host is armed for the VM): 0, -EPROTO if refused or no peer has mac
 * (text in msg), or the errors of agentc_transact (-ETIMEDOUT after
 * timeout_ms). */
int agentc_pull(const char *path, const struct mac *mac, struct in_addr ip, const char *port,
		const char *from, int timeout_ms, char *msg, size_t msglen);

#endif
