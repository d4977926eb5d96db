/* Relocations started from the destination's side.  libvirt runs its
 * migration hook on the destination only, and there the hook knows the VM
 * (MAC, IP, its new tap) but not where it comes from.  The destination's
 * agent asks its peers in turn (PULL); the one that has the MAC on one of its
 * OVS ports (the Interface row's external_ids:attached-mac, which the
 * hypervisor records) starts the relocation to the asker exactly as if its
 * own CLI had asked, and answers once the destination is prepared. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "agent.h"
#include "netmove/agentc.h"
#include "netmove/proto.h"
#include "ovsp.h"

/* A PULL in progress on the destination. */
struct pull {
	struct agent *a;
	int cli_fd;			/* the hook waiting for the answer */
	struct mac mac;
	struct in_addr ip;
	char port[IF_NAMESIZE];		/* the VM's port here */
	char from[AGENT_NAME_LEN];	/* the source, or "": ask every peer */
	struct requester by;		/* who asked here */
	unsigned priority;		/* its priority on the source (A_PRIORITY) */
};

int pull_parse(struct ctl_msg *m, struct mac *mac, struct in_addr *ip, char *port, char *from,
	       unsigned *priority, char *err, size_t errlen)
{
	uint64_t prio = PROTO_PRIORITY_DEFAULT;
	int ret;

	if (agent_get_vm(m, mac, ip, err, errlen) < 0)
		return -EINVAL;
	if (ctl_get_name(m, A_PORT, "VM port on the destination", port, IF_NAMESIZE, err,
			 errlen) < 0)
		return -EINVAL;
	if (!from)
		return 0;
	if (ctl_get_u64(m, A_PRIORITY, &prio) == 0 && prio > PROTO_PRIORITY_MAX) {
		snprintf(err, errlen, "priority %llu is not 0..%d", (unsigned long long)prio,
			 PROTO_PRIORITY_MAX);
		return -EINVAL;
	}
	*priority = (unsigned)prio;
	ret = ctl_get_name(m, A_FROM, "source host", from, AGENT_NAME_LEN, err, errlen);
	if (ret == -ENOENT) {
		from[0] = 0;	/* ask every peer */
		err[0] = 0;
		return 0;
	}
	return ret < 0 ? -EINVAL : 0;
}

/* Ask one peer to relocate the VM here.  Returns 0 (prepared), -EPROTO
 * (refused, e.g. the VM is not there) or another negative errno; text says
 * what the peer answered. */
static int ask_peer(struct pull *p, const struct agent_peer *peer, char *text, size_t textlen)
{
	struct agent *a = p->a;
	struct ctl_conn c;
	struct ctl_msg m;
	int fd, ret;

	fd = ctl_connect_tcp(peer->addr, (int)a->cfg.phase_timeout_ms);
	if (fd < 0) {
		snprintf(text, textlen, "%s: cannot connect: %s", peer->name, strerror(-fd));
		return fd;
	}
	ctl_msg_init(&m, PROTO_PULL);
	ret = ctl_conn_init(&c, fd, a->cfg.tls, peer->addr);
	/* The peer must be the host we ask, as its certificate or key says. */
	if (ret == 0)
		ret = ctl_handshake_client(&c, peer->name, (int)a->cfg.phase_timeout_ms);
	if (ret < 0) {
		snprintf(text, textlen, "%s: TLS: %s%s%s", peer->name, ctl_strerror(ret),
			 c.why[0] ? ": " : "", c.why);
		ctl_msg_free(&m);
		ctl_conn_close(&c);
		return ret;
	}
	if (ret == 0)
		ret = ctl_put(&m, A_MAC, p->mac.b, MAC_LEN);
	if (ret == 0)
		ret = ctl_put(&m, A_IP, &p->ip, 4);
	if (ret == 0)
		ret = ctl_put_str(&m, A_PORT, p->port);
	if (ret == 0)
		ret = ctl_put_str(&m, A_TO, a->cfg.name);
	if (ret == 0) {
		char who[REQUESTER_TEXT];

		requester_text(&p->by, a->cfg.name, who, sizeof(who));
		ret = ctl_put_str(&m, A_REQUESTER, who);
	}
	if (ret == 0)
		ret = ctl_put_u64(&m, A_PRIORITY, p->priority);
	if (ret == 0)
		ret = ctl_send(&c, &m);
	/* The source prepares us in between: its PREPARE comes on its own
	 * connection, its answer on this one. */
	if (ret == 0)
		ret = ctl_recv(&c, &m, 2 * (int)a->cfg.phase_timeout_ms);
	if (ret < 0) {
		snprintf(text, textlen, "%s: %s", peer->name, strerror(-ret));
	} else {
		char why[200] = "";

		ctl_get_str(&m, A_TEXT, why, sizeof(why));
		snprintf(text, textlen, "%s: %s", peer->name, why);
		ret = m.type == PROTO_DONE ? 0 : -EPROTO;
	}
	ctl_msg_free(&m);
	ctl_conn_close(&c);
	return ret;
}

static void *pull_main(void *arg)
{
	struct pull *p = arg;
	struct agent *a = p->a;
	char text[256], all[1024] = "";
	char mac_s[MAC_STRLEN];
	bool asked = false;
	int i;

	mac_format(&p->mac, mac_s);
	for (i = 0; i < a->cfg.npeers; i++) {
		const struct agent_peer *peer = &a->cfg.peers[i];
		size_t n = strlen(all);

		if (p->from[0] && strcmp(peer->name, p->from))
			continue;
		asked = true;
		if (ask_peer(p, peer, text, sizeof(text)) == 0) {
			agent_log(a, "pull %s to %s: %s", mac_s, p->port, text);
			agent_reply(p->cli_fd, true, text);
			free(p);
			return NULL;
		}
		snprintf(all + n, sizeof(all) - n, "%s%s", n ? "; " : "", text);
	}
	if (!asked)
		snprintf(all, sizeof(all), "%s is not a peer of this agent",
			 p->from[0] ? p->from : "no host");
	agent_log(a, "pull %s to %s refused: %s", mac_s, p->port, all);
	agent_reply(p->cli_fd, false, all);
	free(p);
	return NULL;
}

void pull_start(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by)
{
	struct pull *p = calloc(1, sizeof(*p));
	char err[128];
	pthread_t t;

	if (!p) {
		agent_reply(fd, false, "out of memory");
		return;
	}
	p->a = a;
	p->cli_fd = fd;
	p->by = *by;
	if (pull_parse(req, &p->mac, &p->ip, p->port, p->from, &p->priority, err,
		       sizeof(err)) < 0) {
		agent_reply(fd, false, err);
		free(p);
		return;
	}
	if (pthread_create(&t, NULL, pull_main, p)) {
		agent_reply(fd, false, "cannot start the pull thread");
		free(p);
		return;
	}
	pthread_detach(t);
}

/* Answer a PULL on c: relocate the VM to the asker if its MAC is on one of
 * our ports. */
void pull_serve(struct agent *a, struct ctl_conn *c, struct ctl_msg *m)
{
	char err[256] = "", port[IF_NAMESIZE], dst_port[IF_NAMESIZE], to[AGENT_NAME_LEN];
	char *oerr = NULL, mac_s[MAC_STRLEN], origin[REQUESTER_TEXT];
	struct requester by;
	struct ctl_msg req, rep;
	struct ctl_conn lc;
	uint64_t prio;
	struct in_addr ip;
	struct mac mac;
	int sv[2], ret;

	ctl_msg_init(&req, PROTO_REQ_RELOCATE);
	ctl_msg_init(&rep, PROTO_ERROR);
	if (pull_parse(m, &mac, &ip, dst_port, NULL, NULL, err, sizeof(err)) < 0)
		goto answer;
	if (ctl_get_str(m, A_TO, to, sizeof(to)) < 0)
		snprintf(to, sizeof(to), "?");
	if (!agent_is_peer(a, to)) {
		snprintf(err, sizeof(err), "%s is not a peer of %s", to, a->cfg.name);
		goto answer;
	}
	mac_format(&mac, mac_s);
	ret = ovsp_iface_by_mac(a->cfg.ovsdb, mac.b, (int)a->cfg.phase_timeout_ms, port,
				sizeof(port), &oerr);
	if (ret < 0) {
		snprintf(err, sizeof(err), "%s not here (%s)", mac_s, oerr ? oerr : strerror(-ret));
		free(oerr);
		goto answer;
	}
	agent_log(a, "pull %s from %s: on port %s here, relocating", mac_s, to, port);
	/* The relocation answers "prepared" on the fd it is given, as it
	 * answers the CLI: take that answer back here and pass it on. */
	if (agentc_relocate_msg(&req, &mac, ip, to, port, dst_port) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, sizeof(err), "cannot start the relocation: %s", strerror(errno));
		goto answer;
	}
	if (ctl_get_str(m, A_REQUESTER, origin, sizeof(origin)) < 0)
		origin[0] = 0;
	requester_peer(&by, c, origin);
	if (ctl_get_u64(m, A_PRIORITY, &prio) == 0 && ctl_put_u64(&req, A_PRIORITY, prio) < 0) {
		snprintf(err, sizeof(err), "out of memory");
		close(sv[0]);
		close(sv[1]);
		goto answer;
	}
	agent_relocate(a, sv[0], &req, &by);
	ctl_conn_init(&lc, sv[1], NULL, "pull");
	ret = ctl_recv(&lc, &rep, 3 * (int)a->cfg.phase_timeout_ms);
	ctl_conn_close(&lc);
	if (ret < 0) {
		snprintf(err, sizeof(err), "the relocation did not answer: %s", strerror(-ret));
		rep.type = PROTO_ERROR;
	} else if (ctl_get_str(&rep, A_TEXT, err, sizeof(err)) < 0) {
		err[0] = 0;
	}
	if (ret == 0 && rep.type == PROTO_REP_OK) {
		ctl_msg_reset(&rep, PROTO_DONE);
		ctl_put_str(&rep, A_TEXT, err[0] ? err : "prepared");
		ctl_send(c, &rep);
		goto out;
	}
answer:
	ctl_msg_reset(&rep, PROTO_ERROR);
	ctl_put_str(&rep, A_TEXT, err);
	ctl_send(c, &rep);
out:
	ctl_msg_free(&req);
	ctl_msg_free(&rep);
}
