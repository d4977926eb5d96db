/* rxrings: the RX rings of libvirt's domains' NICs (see rxrings.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "domxml.h"
#include "netmove/agentc.h"
#include "netmove/guestrx.h"
#include "netmove/log.h"
#include "netmove/tapq.h"
#include "netmove/timeutil.h"
#include "netmove/worker.h"
#include "qemu_nic.h"
#include "rxrings.h"

#define logf_(...) log_line("nm-libvirt", __VA_ARGS__)

/* One NIC's ring. */
struct ring {
	bool used;
	struct mac mac;
	unsigned dom_id;		/* the domain's id when learnt (a restart changes it) */
	uint64_t learnt_ns;		/* CLOCK_MONOTONIC */
	bool seen;			/* in the current pass */
	struct guestrx rx;		/* rx.num 0: not learnt */
	char err[256];			/* why not, as last logged */
};

struct rxrings {
	char *uri;
	struct worker w;		/* the thread that learns the rings */
	pthread_mutex_t lock;		/* rings */
	struct ring rings[RXRINGS_MAX];
	uint8_t *frame;			/* GUESTRX_FRAME_MAX: rxrings_last's (under lock) */
};

static const char *verr(void)
{
	const char *m = virGetLastErrorMessage();

	return m && *m ? m : "unknown libvirt error";
}

static struct ring *ring_find(struct rxrings *r, const struct mac *mac)
{
	size_t i;

	for (i = 0; i < RXRINGS_MAX; i++)
		if (r->rings[i].used && mac_equal(&r->rings[i].mac, mac))
			return &r->rings[i];
	return NULL;
}

/* One QMP command through libvirt's monitor passthrough. */
static int monitor(void *arg, const char *cmd, json_t *args, json_t **ret, char *err,
		   size_t errlen)
{
	virDomainPtr dom = arg;
	json_t *req = json_pack("{s:s}", "execute", cmd), *rep, *v;
	char *text = NULL, *out = NULL;
	json_error_t je;
	int r;

	if (req && args)
		json_object_set_new(req, "arguments", args);
	else
		json_decref(args);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", cmd);
		return -ENOMEM;
	}
	r = virDomainQemuMonitorCommand(dom, text, &out, 0);
	free(text);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", cmd, verr());
		return -EIO;
	}
	rep = json_loads(out, 0, &je);
	free(out);
	if ((v = json_object_get(rep, "return"))) {
		*ret = json_incref(v);
		r = 0;
	} else {
		const char *desc = json_string_value(json_object_get(json_object_get(rep, "error"),
								     "desc"));

		snprintf(err, errlen, "%s: %s", cmd, desc ? desc : "no answer QMP would give");
		r = -EPROTO;
	}
	json_decref(rep);
	return r;
}

/* Learn the ring of one NIC (tap target) of dom into rx. */
static int learn(virDomainPtr dom, const struct domxml_iface *ifc, struct guestrx *rx, char *err,
		 size_t errlen)
{
	struct tapq *q = NULL;
	pid_t pid;
	int ret;

	/* QEMU holds the tap's queues (libvirt hands it the descriptors). */
	ret = tapq_open(ifc->target, &q);
	pid = tapq_holder(q);
	tapq_close(q);
	if (ret < 0) {
		snprintf(err, errlen, "the reader of tap %s: %s", ifc->target, strerror(-ret));
		return ret;
	}
	ret = guestrx_open(rx, pid);
	if (ret < 0) {
		snprintf(err, errlen, "reading QEMU's memory (pid %d): %s", (int)pid, strerror(-ret));
		return ret;
	}
	ret = qemu_nic_rx_ring(rx, &ifc->mac, monitor, dom, err, errlen);
	if (ret < 0)
		guestrx_close(rx);
	return ret;
}

/* Whether dom runs and no job holds it (a passthrough would wait for it). */
static bool dom_idle(virDomainPtr dom)
{
	virDomainJobInfo job;
	int state, reason;

	return virDomainGetState(dom, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING &&
	       virDomainGetJobInfo(dom, &job) == 0 && job.type == VIR_DOMAIN_JOB_NONE;
}

/* One domain's NICs: learnt again when new, restarted or old. */
static void pass_dom(struct rxrings *r, virDomainPtr dom)
{
	static struct domxml_domain x;	/* the thread's own */
	unsigned id = virDomainGetID(dom);
	char err[256], mac_s[MAC_STRLEN];
	uint64_t now = timeutil_mono_ns();
	bool idle = dom_idle(dom);
	char *xml;
	size_t i, k;

	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml || domxml_parse(xml, strlen(xml), &x, err, sizeof(err)) < 0) {
		free(xml);
		return;
	}
	free(xml);
	for (i = 0; i < x.n_ifaces; i++) {
		const struct domxml_iface *ifc = &x.ifaces[i];
		bool fresh = false, said = false;
		struct guestrx rx;
		struct ring *g;
		int ret;

		pthread_mutex_lock(&r->lock);
		g = ring_find(r, &ifc->mac);
		if (g) {
			g->seen = true;
			fresh = g->rx.num && g->dom_id == id &&
				now - g->learnt_ns < RXRINGS_REFRESH_S * NSEC_PER_SEC;
		}
		pthread_mutex_unlock(&r->lock);
		if (fresh || !idle || !ifc->target[0])
			continue;
		guestrx_init(&rx);
		ret = learn(dom, ifc, &rx, err, sizeof(err));
		pthread_mutex_lock(&r->lock);
		g = ring_find(r, &ifc->mac);
		for (k = 0; k < RXRINGS_MAX && !g; k++)
			if (!r->rings[k].used)
				g = &r->rings[k];
		if (g) {
			if (g->used)
				guestrx_close(&g->rx);
			else
				memset(g, 0, sizeof(*g));
			guestrx_init(&g->rx);
			g->used = g->seen = true;
			g->mac = ifc->mac;
			g->dom_id = id;
			g->learnt_ns = now;
			if (ret == 0)
				g->rx = rx;
			/* A ring not learnt is tried again each pass, its
			 * reason logged when it changes. */
			said = ret < 0 && !strcmp(g->err, err);
			snprintf(g->err, sizeof(g->err), "%s", ret < 0 ? err : "");
		}
		pthread_mutex_unlock(&r->lock);
		if (!g)
			guestrx_close(&rx);
		if (ret < 0 && !said)
			logf_("%s: %s: RX ring not known (%s): at a stop the marker alone tells",
			      x.name, mac_format(&ifc->mac, mac_s), err);
		else
			logf_("%s: %s: RX ring: %u buffers, %s, %zu RAM regions", x.name,
			      mac_format(&ifc->mac, mac_s), rx.num,
			      rx.mergeable ? "mergeable" : "one buffer a frame", rx.nregions);
	}
}

/* One pass over the running domains; rings of NICs no domain has are dropped. */
static void pass(struct rxrings *r, virConnectPtr conn)
{
	virDomainPtr *doms = NULL;
	int n, i;
	size_t k;

	n = virConnectListAllDomains(conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0)
		return;
	pthread_mutex_lock(&r->lock);
	for (k = 0; k < RXRINGS_MAX; k++)
		r->rings[k].seen = false;
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < n; i++) {
		pass_dom(r, doms[i]);
		virDomainFree(doms[i]);
	}
	free(doms);
	pthread_mutex_lock(&r->lock);
	for (k = 0; k < RXRINGS_MAX; k++)
		if (r->rings[k].used && !r->rings[k].seen) {
			guestrx_close(&r->rings[k].rx);
			r->rings[k].used = false;
		}
	pthread_mutex_unlock(&r->lock);
}

static void *thread_main(void *arg)
{
	struct rxrings *r = arg;
	virConnectPtr conn = NULL;

	pthread_mutex_lock(&r->lock);
	do {
		pthread_mutex_unlock(&r->lock);
		if (!conn)
			conn = virConnectOpen(r->uri);
		if (conn && virConnectIsAlive(conn) != 1) {
			virConnectClose(conn);
			conn = NULL;
		}
		if (conn)
			pass(r, conn);
		pthread_mutex_lock(&r->lock);
	} while (!worker_wait(&r->w, RXRINGS_PERIOD_MS));
	pthread_mutex_unlock(&r->lock);
	if (conn)
		virConnectClose(conn);
	return NULL;
}

int rxrings_start(const char *uri, struct rxrings **out)
{
	struct rxrings *r = calloc(1, sizeof(*r));
	int ret;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->uri = strdup(uri);
	r->frame = malloc(GUESTRX_FRAME_MAX);
	if (!r->uri || !r->frame) {
		free(r->uri);
		free(r->frame);
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	ret = worker_start(&r->w, &r->lock, thread_main, r);
	if (ret < 0) {
		free(r->uri);
		free(r->frame);
		free(r);
		return ret;
	}
	*out = r;
	return 0;
}

int rxrings_last(struct rxrings *r, const struct mac *mac, struct agentc_stop *stop, char *why,
		 size_t whylen)
{
	struct guestrx_tail t;
	struct ring *g;
	int ret;

	pthread_mutex_lock(&r->lock);
	g = ring_find(r, mac);
	ret = g && g->rx.num ? guestrx_tail(&g->rx, r->frame, GUESTRX_FRAME_MAX, &t) : -ENOENT;
	if (ret == 0)
		agentc_stop_last_rx(stop, r->frame, &t, g->rx.hdr_len);
	pthread_mutex_unlock(&r->lock);
	if (ret == -ENOENT && !(g && g->rx.num))
		snprintf(why, whylen, "its RX ring is not known");
	else if (ret < 0)
		snprintf(why, whylen, "reading its RX ring: %s", strerror(-ret));
	return ret;
}

void rxrings_stop(struct rxrings *r)
{
	size_t k;

	if (!r)
		return;
	worker_stop(&r->w);
	for (k = 0; k < RXRINGS_MAX; k++)
		if (r->rings[k].used)
			guestrx_close(&r->rings[k].rx);
	pthread_mutex_destroy(&r->lock);
	free(r->uri);
	free(r->frame);
	free(r);
}
