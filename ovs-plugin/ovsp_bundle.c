/* ovsp_bundle: flow_mods in ovs-ofctl syntax, sent in one atomic, ordered
 * OpenFlow 1.4 bundle.  The exchange is vconn_bundle_transact's (open, add
 * each message, barrier, commit only if no message failed, else discard),
 * with the connection's deadline and the failing entries named. */
#include <config.h>

#include "ovsp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"
#include "openvswitch/vconn.h"

/* Adds sent between two looks for early error replies. */
#define OVSP_POLL_EVERY 32

/* The encoded flow_mods of one bundle. */
struct ovsp_msgs {
	struct ofpbuf **msg;	/* n encoded OFPT_FLOW_MODs */
	uint32_t *xid;		/* their xids: errors come back under them */
	size_t n;
};

static void ovsp_msgs_free(struct ovsp_msgs *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		ofpbuf_delete(m->msg[i]);
	free(m->msg);
	free(m->xid);
}

/* Parse and encode every entry; on the first bad one nothing is sent. */
static int ovsp_encode(struct ovsp_conn *c, const char *const *texts, size_t n,
		       struct ovsp_msgs *m, char **err)
{
	size_t i;

	m->msg = xcalloc(n, sizeof *m->msg);
	m->xid = xcalloc(n, sizeof *m->xid);
	m->n = 0;
	for (i = 0; i < n; i++) {
		enum ofputil_protocol usable = 0;
		struct ofputil_flow_mod fm;
		char *perr;

		if (!texts[i])
			return ovsp__fail(err, -EINVAL, "flow %zu: missing (NULL)", i + 1);
		/* -2: the text may start with its command; none means add. */
		perr = parse_ofp_flow_mod_str(&fm, texts[i], NULL, NULL, -2, &usable);
		if (perr) {
			ovsp__fail(err, -EINVAL, "flow %zu (%s): %s", i + 1, texts[i], perr);
			free(perr);
			return -EINVAL;
		}
		if (!(usable & c->protocol)) {
			char *need = ofputil_protocols_to_string(usable);

			minimatch_destroy(&fm.match);
			free(fm.ofpacts);
			ovsp__fail(err, -EINVAL, "flow %zu (%s): needs %s, not OpenFlow 1.4", i + 1,
				   texts[i], need);
			free(need);
			return -EINVAL;
		}
		m->msg[i] = ofputil_encode_flow_mod(&fm, c->protocol);
		m->xid[i] = ovsp__xid(m->msg[i]);
		m->n++;
		minimatch_destroy(&fm.match);
		free(fm.ofpacts);
	}
	return 0;
}

void ovsp__warm(void)
{
	static const char text[] = "add cookie=0x1,priority=1,dl_dst=02:00:00:00:00:01,actions=output:1";
	struct ofputil_bundle_ctrl_msg bc;
	struct ofputil_bundle_add_msg bam;
	enum ofputil_protocol usable;
	struct ofputil_flow_mod fm;
	struct ofpbuf *msg;
	char *perr;

	perr = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, -2, &usable);
	if (perr) {
		free(perr);
		return;
	}
	msg = ofputil_encode_flow_mod(&fm, ofputil_protocol_from_ofp_version(OFP14_VERSION));
	memset(&bc, 0, sizeof bc);
	bam.bundle_id = 0;
	bam.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
	bam.msg = msg->data;
	ofpbuf_delete(ofputil_encode_bundle_add(OFP14_VERSION, &bam));
	ofpbuf_delete(ofputil_encode_bundle_ctrl_request(OFP14_VERSION, &bc));
	ofpbuf_delete(ofputil_encode_barrier_request(OFP14_VERSION));
	ofpbuf_delete(msg);
	minimatch_destroy(&fm.match);
	free(fm.ofpacts);
}

/* "flow N (TEXT): NAME: description" for each error, "; "-separated. */
static char *ovsp_errors_text(const struct ovs_list *errors, const struct ovsp_msgs *m,
			      const char *const *texts, const char *stage)
{
	struct ds ds = DS_EMPTY_INITIALIZER;
	struct ofpbuf *e;

	LIST_FOR_EACH (e, list_node, errors) {
		enum ofperr oe = ofperr_decode_msg(e->data, NULL);
		uint32_t xid = ovsp__xid(e);
		size_t i;

		if (ds.length)
			ds_put_cstr(&ds, "; ");
		for (i = 0; i < m->n && m->xid[i] != xid; i++)
			continue;
		if (i < m->n)
			ds_put_format(&ds, "flow %zu (%s): ", i + 1, texts[i]);
		else
			ds_put_format(&ds, "bundle %s: ", stage);
		if (oe)
			ds_put_format(&ds, "%s: %s", ofperr_get_name(oe), ofperr_get_description(oe));
		else
			ds_put_cstr(&ds, "undecodable OpenFlow error");
	}
	return ds_steal_cstr(&ds);
}

/* Send a bundle control request and wait for its reply; an OpenFlow error
 * reply is appended to `errors` and gives EPROTO. */
static int ovsp_bundle_ctrl(struct ovsp_conn *c, uint32_t id, uint16_t type,
			    struct ovs_list *errors)
{
	struct ofputil_bundle_ctrl_msg bc, rbc;
	struct ofpbuf *req, *reply;
	enum ofptype rtype;
	uint32_t xid;
	int error;

	memset(&bc, 0, sizeof bc);
	bc.bundle_id = id;
	bc.type = type;
	bc.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
	req = ofputil_encode_bundle_ctrl_request(vconn_get_version(c->vconn), &bc);
	ofpmsg_update_length(req);
	xid = ovsp__xid(req);
	error = ovsp__send(c, req);
	if (!error)
		error = ovsp__recv_xid(c, xid, &reply, errors);
	if (error)
		return error;
	if (ofptype_decode(&rtype, reply->data)) {
		error = EPROTO;
	} else if (rtype == OFPTYPE_ERROR) {
		ovs_list_push_back(errors, &reply->list_node);
		return EPROTO;
	} else if (rtype != OFPTYPE_BUNDLE_CONTROL || ofputil_decode_bundle_ctrl(reply->data, &rbc) ||
		   rbc.bundle_id != id || rbc.type != type + 1) {
		error = EPROTO;
	}
	ofpbuf_delete(reply);
	return error;
}

static int ovsp_barrier(struct ovsp_conn *c, struct ovs_list *errors)
{
	struct ofpbuf *req, *reply;
	uint32_t xid;
	int error;

	req = ofputil_encode_barrier_request(vconn_get_version(c->vconn));
	xid = ovsp__xid(req);
	error = ovsp__send(c, req);
	if (!error)
		error = ovsp__recv_xid(c, xid, &reply, errors);
	if (!error)
		ofpbuf_delete(reply);
	return error;
}

int ovsp_bundle(struct ovsp_conn *conn, const char *const *flow_mods, size_t n, char **err)
{
	struct ovsp_msgs m = { NULL, NULL, 0 };
	struct ovs_list errors;
	struct ovsp_sigpipe sp;
	const char *stage = "open";
	bool opened = false;
	uint32_t id;
	size_t i;
	int error, ret;

	ovs_list_init(&errors);
	if (n == 0)
		return 0;
	ovsp__sigpipe_hold(&sp);
	ret = ovsp_encode(conn, flow_mods, n, &m, err);
	if (ret)
		goto out;
	ret = ovsp__begin(conn, err);
	if (ret)
		goto out;

	id = conn->next_bundle_id++;
	error = ovsp_bundle_ctrl(conn, id, OFPBCT_OPEN_REQUEST, &errors);
	if (error)
		goto fail;
	opened = true;
	stage = "add";
	for (i = 0; i < m.n; i++) {
		struct ofputil_bundle_add_msg bam;
		struct ofpbuf *add;

		ofpmsg_update_length(m.msg[i]);
		bam.bundle_id = id;
		bam.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
		bam.msg = m.msg[i]->data;
		add = ofputil_encode_bundle_add(vconn_get_version(conn->vconn), &bam);
		error = ovsp__send(conn, add);
		/* Pick up early errors now and then so that they cannot fill
		 * the socket (a recv per add costs ~10% of a big bundle). */
		if (!error && (i % OVSP_POLL_EVERY == OVSP_POLL_EVERY - 1 || i == m.n - 1))
			error = ovsp__poll(conn, &errors);
		if (error)
			goto fail;
	}
	/* A failed add does not abort the bundle on the switch: sync with a
	 * barrier and commit only if no add failed. */
	error = ovsp_barrier(conn, &errors);
	if (error)
		goto fail;
	if (!ovs_list_is_empty(&errors)) {
		stage = "discard";
		error = ovsp_bundle_ctrl(conn, id, OFPBCT_DISCARD_REQUEST, &errors);
		if (error && error != EPROTO)
			goto fail;
		error = EPROTO;
		goto fail;
	}
	stage = "commit";
	error = ovsp_bundle_ctrl(conn, id, OFPBCT_COMMIT_REQUEST, &errors);
	if (error)
		goto fail;
	ret = 0;
	goto out;

fail:
	if (error == EPROTO && !ovs_list_is_empty(&errors)) {
		char *text = ovsp_errors_text(&errors, &m, flow_mods, stage);

		ret = ovsp__fail(err, -EPROTO, "%s: bundle of %zu rejected, nothing installed: %s",
				 conn->target, n, text);
		free(text);
	} else if (error == EPROTO) {
		ret = ovsp__fail(err, -EPROTO, "%s: bundle %s: unexpected reply from the switch",
				 conn->target, stage);
		ovsp__drop(conn);
	} else {
		/* Transport failure or timeout: closing the connection makes the
		 * switch discard an uncommitted bundle. */
		ret = ovsp__fail(err, ovsp__errno(error), "%s: bundle %s: %s%s", conn->target, stage,
				 error == ETIMEDOUT ? "no answer in time" : ovsp__strerror(error),
				 strcmp(stage, "commit") == 0 ? " (commit outcome unknown)"
				 : opened ? " (bundle discarded)" : "");
		ovsp__drop(conn);
	}
out:
	ofpbuf_list_delete(&errors);
	ovsp_msgs_free(&m);
	ovsp__sigpipe_release(&sp);
	return ret;
}
