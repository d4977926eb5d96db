/* plan: the candidate's part of `netmove plan` (see plan.h): what a
 * relocation of the VM to this host would need, measured here.  The fabric
 * is probed from the uplink as this host's probe identity (its uplink's own
 * MAC), never as the VM: the fabric's entry for the VM stays where the VM
 * is. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "agent.h"
#include "plan.h"
#include "planrank.h"
#include "netmove/arpprobe.h"
#include "netmove/frame.h"
#include "netmove/proto.h"
#include "netmove/timeutil.h"
#include "ovsp.h"

static void check_buffer(struct agent *a, struct plan_peer_facts *p)
{
	struct buffer_spare *s;

	p->ring_bytes = (uint64_t)a->cfg.ring_mib << 20;
	p->spill_bytes = (uint64_t)a->cfg.spill_mib << 20;
	p->progs_ready = (uint32_t)spares_ready(&a->spares);
	if (p->progs_ready)
		return;
	/* None loaded ahead: whether one loads at all (the verifier's
	 * 25-35 ms, only then). */
	p->prog_err = buffer_spare_load((uint32_t)p->ring_bytes, &s);
	if (p->prog_err == 0)
		buffer_spare_free(s);
}

static void check_bridge(struct agent *a, struct plan_peer_facts *p)
{
	struct ovsp_conn *of = NULL;
	struct ovsp_ctl *ctl = NULL;
	char *err = NULL, *text = NULL;
	uint32_t ofport;
	int ret;

	ret = ovsp_open(a->cfg.ofctl, PLAN_OVS_MS, &of, &err);
	if (ret < 0)
		snprintf(p->bridge_err, sizeof(p->bridge_err), "bridge %s not reachable over "
			 "OpenFlow: %s", a->cfg.bridge, err ? err : strerror(-ret));
	else if ((ret = ovsp_ofport(of, a->cfg.uplink, &ofport, &err)) < 0)
		snprintf(p->bridge_err, sizeof(p->bridge_err), "uplink %s is not a port of %s: %s",
			 a->cfg.uplink, a->cfg.bridge, err ? err : strerror(-ret));
	free(err);
	err = NULL;
	ovsp_close(of);
	ret = ovsp_ctl_open(a->cfg.ovs_ctl, PLAN_OVS_MS, &ctl, &err);
	if (ret == 0)
		ret = ovsp_ctl_command(ctl, "upcall/show", 0, NULL, &text, &err);
	if (ret == 0 && plan_parse_upcall(text, &p->dp_flows, &p->dp_limit) < 0)
		snprintf(p->flows_err, sizeof(p->flows_err), "upcall/show told no flow counts");
	else if (ret < 0)
		snprintf(p->flows_err, sizeof(p->flows_err), "ovs-vswitchd: %s",
			 err ? err : strerror(-ret));
	free(text);
	free(err);
	ovsp_ctl_close(ctl);
}

static void check_uplink(struct agent *a, struct plan_peer_facts *p)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->cfg.uplink);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		snprintf(p->uplink_err, sizeof(p->uplink_err), "uplink %s: %s", a->cfg.uplink,
			 strerror(-ret));
	else if (!(ifr.ifr_flags & IFF_UP) || !(ifr.ifr_flags & IFF_RUNNING))
		snprintf(p->uplink_err, sizeof(p->uplink_err), "uplink %s is %s", a->cfg.uplink,
			 ifr.ifr_flags & IFF_UP ? "up without carrier" : "down");
}

/* The gateway and the VM, from the uplink, as this host's probe identity. */
static void check_fabric(struct agent *a, const struct mac *vm, struct in_addr ip,
			 struct plan_peer_facts *p)
{
	struct arpprobe_cfg cfg = { .ntargets = 2, .vlan = FRAME_NO_VLAN,
				    .tries = PLAN_PROBE_TRIES, .timeout_ms = PLAN_PROBE_WAIT_MS };
	struct arpprobe_answer ans[2];
	char err[WIRE_ERRLEN];

	plan_probe_identity(a, vm, &cfg.src);
	p->probe_mac = cfg.src;
	p->gateway = a->cfg.gateway;
	cfg.target[0] = a->cfg.gateway;
	cfg.target[1] = ip;
	if (arpprobe_run(a->cfg.uplink, &cfg, ans, err) < 0) {
		snprintf(p->probe_err, sizeof(p->probe_err), "%.*s", PLAN_TEXT - 1, err);
		return;
	}
	p->gw_answered = ans[0].answered;
	p->gw_rtt_ns = ans[0].rtt_ns;
	p->vm_answered = ans[1].answered;
	p->vm_rtt_ns = ans[1].rtt_ns;
}

void plan_serve(struct agent *a, struct ctl_conn *c, struct ctl_msg *m)
{
	struct plan_peer_facts p = { 0 };
	uint64_t t0 = timeutil_mono_ns();
	char from[AGENT_NAME_LEN], to[AGENT_NAME_LEN], why[sizeof(c->peer_id) + 96] = "";
	struct in_addr ip;
	struct mac mac;
	struct reloc *r;
	const void *v;
	size_t len;

	if (ctl_get_name(m, A_FROM, "asking host", from, sizeof(from), why, sizeof(why)) < 0 ||
	    ctl_get_name(m, A_TO, "candidate host", to, sizeof(to), why, sizeof(why)) < 0)
		goto refuse;
	if (!ctl_peer_is(c, from)) {
		snprintf(why, sizeof(why), "asking host %s is not the peer's authenticated "
			 "identity %s", from, c->peer_id);
		goto refuse;
	}
	if (strcmp(to, a->cfg.name)) {
		snprintf(why, sizeof(why), "addressed to %s, this is %s", to, a->cfg.name);
		goto refuse;
	}
	if (ctl_get(m, A_MAC, &v, &len) < 0 || len != MAC_LEN)
		goto bad_vm;
	memcpy(mac.b, v, MAC_LEN);
	if (ctl_get(m, A_IP, &v, &len) < 0 || len != 4)
		goto bad_vm;
	memcpy(&ip, v, 4);
	if (mac_is_multicast(&mac) || mac_is_zero(&mac) || !ip.s_addr ||
	    IN_MULTICAST(ntohl(ip.s_addr)) || ip.s_addr == INADDR_BROADCAST)
		goto bad_vm;
	p.knows_asker = agent_is_peer(a, from);
	pthread_mutex_lock(&a->lock);
	p.stopping = a->stopping;
	for (r = a->relocs; r; r = r->next)
		p.in_flight += !r->done && !r->queued;
	p.queued = (uint32_t)relq_count(&a->queue, NULL);
	pthread_mutex_unlock(&a->lock);
	check_buffer(a, &p);
	check_bridge(a, &p);
	check_uplink(a, &p);
	check_fabric(a, &mac, ip, &p);
	p.took_us = (timeutil_mono_ns() - t0) / NSEC_PER_USEC;
	ctl_msg_reset(m, PROTO_PLAN_REPLY);
	if (plan_reply_encode(m, &p) < 0 || ctl_send(c, m) < 0)
		agent_log(a, "plan for %s: the answer did not go out", from);
	return;
bad_vm:
	snprintf(why, sizeof(why), "no unicast MAC and IP of a VM");
refuse:
	agent_log(a, "refused PLAN from %s: %s", c->peer, why);
	ctl_msg_reset(m, PROTO_ERROR);
	if (ctl_put_str(m, A_TEXT, why) == 0)
		(void)ctl_send(c, m);
}
