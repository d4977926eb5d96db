/* plan: `netmove plan` in netmoved (netmoved internals).  On the VM's host
 * the agent measures the traffic towards the VM and asks every candidate
 * host at once (plan_start); each candidate measures itself for the VM and
 * answers (plan_serve); planrank.h decides. */
#ifndef NETMOVE_AGENT_PLAN_H
#define NETMOVE_AGENT_PLAN_H

#include "netmove/ctl.h"
#include "netmove/mac.h"

#define PLAN_RATE_WINDOW_MS 400		/* the VM's traffic is measured over this long */
#define PLAN_CONNECT_MS 1000		/* a candidate's agent must accept within this */
#define PLAN_PEER_MS 2500		/* and answer, from the first SYN, within this */
#define PLAN_PROBE_TRIES 3		/* ARP probe rounds from a candidate's uplink */
#define PLAN_PROBE_WAIT_MS 150		/* wait after each */
#define PLAN_OVS_MS 1000		/* deadline of each question to its vSwitch */

struct agent;

/* A local PROTO_REQ_PLAN on fd (which is answered and closed): the plan,
 * rendered, or why there is none. */
void plan_start(struct agent *a, int fd, struct ctl_msg *req);

/* A peer's PROTO_PLAN on the authenticated connection c: measure this host
 * for the VM and answer PROTO_PLAN_REPLY (PROTO_ERROR if refused)
 * (plan_serve.c). */
void plan_serve(struct agent *a, struct ctl_conn *c, struct ctl_msg *m);

/* This host's probe identity for ARP probes about the VM: its uplink's own
 * MAC, unless that is unusable or the VM's; then one derived from the
 * VM's (verify_neutral_mac). */
void plan_probe_identity(const struct agent *a, const struct mac *vm, struct mac *out);

#endif
