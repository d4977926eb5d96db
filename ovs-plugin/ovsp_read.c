/* ovsp_read: what the bridge holds: ports (OFPMP_PORT_DESC) and flows
 * (OFPMP_FLOW), each a multipart exchange bounded by the call's deadline. */
#include <config.h>

#include "ovsp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "byte-order.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"
#include "openvswitch/vconn.h"

/* Receive the next part of the multipart reply `xid`; an OpenFlow error
 * reply gives -EPROTO with OVS's error name in *err. */
static int ovsp_next_part(struct ovsp_conn *c, uint32_t xid, enum ofptype want,
			  struct ofpbuf **partp, const char *what, char **err)
{
	const struct ofp_header *oh;
	struct ofpbuf *part;
	enum ofptype type;
	int error;

	*partp = NULL;
	error = ovsp__recv_xid(c, xid, &part, NULL);
	if (error) {
		ovsp__drop(c);
		return ovsp__fail(err, ovsp__errno(error), "%s: %s: %s", c->target, what,
				  error == ETIMEDOUT ? "no answer in time" : ovsp__strerror(error));
	}
	oh = part->data;
	if (!ofptype_decode(&type, oh) && type == OFPTYPE_ERROR) {
		enum ofperr oe = ofperr_decode_msg(oh, NULL);

		ofpbuf_delete(part);
		return ovsp__fail(err, -EPROTO, "%s: %s: %s: %s", c->target, what,
				  oe ? ofperr_get_name(oe) : "error",
				  oe ? ofperr_get_description(oe) : "undecodable OpenFlow error");
	}
	if (ofptype_pull(&type, part) || type != want) {
		ofpbuf_delete(part);
		ovsp__drop(c);
		return ovsp__fail(err, -EPROTO, "%s: %s: unexpected reply from the switch", c->target,
				  what);
	}
	*partp = part;
	return 0;
}

int ovsp_ofport(struct ovsp_conn *conn, const char *ifname, uint32_t *ofport, char **err)
{
	struct ovsp_sigpipe sp;
	struct ofpbuf *req;
	bool found = false, more = true;
	uint32_t xid;
	int ret, error;

	*ofport = 0;
	if (!ifname || !*ifname || strlen(ifname) >= OFP_MAX_PORT_NAME_LEN)
		return ovsp__fail(err, -EINVAL, "'%s': not an interface name", ifname ? ifname : "");
	ovsp__sigpipe_hold(&sp);
	ret = ovsp__begin(conn, err);
	if (ret)
		goto out;
	req = ofputil_encode_port_desc_stats_request(vconn_get_version(conn->vconn), OFPP_ANY);
	xid = ovsp__xid(req);
	error = ovsp__send(conn, req);
	if (error) {
		ovsp__drop(conn);
		ret = ovsp__fail(err, ovsp__errno(error), "%s: port description request: %s",
				 conn->target, ovsp__strerror(error));
		goto out;
	}
	/* Read every part even after a match: the rest would otherwise be
	 * left queued for the next call. */
	while (more) {
		struct ofputil_phy_port pp;
		struct ofpbuf *part;

		ret = ovsp_next_part(conn, xid, OFPTYPE_PORT_DESC_STATS_REPLY, &part,
				     "port description", err);
		if (ret)
			goto out;
		more = (ofpmp_flags(part->header) & OFPSF_REPLY_MORE) != 0;
		while (!(error = ofputil_pull_phy_port(vconn_get_version(conn->vconn), part, &pp))) {
			if (!found && strncmp(pp.name, ifname, sizeof pp.name) == 0) {
				*ofport = (OVS_FORCE uint16_t)pp.port_no;
				found = true;
			}
		}
		ofpbuf_delete(part);
		if (error != EOF) {
			ovsp__drop(conn);
			ret = ovsp__fail(err, -EPROTO, "%s: bad port description reply: %s",
					 conn->target, ofperr_to_string(error));
			goto out;
		}
	}
	ret = found ? 0 : ovsp__fail(err, -ENOENT, "%s: no port '%s' on the bridge", conn->target, ifname);
out:
	ovsp__sigpipe_release(&sp);
	return ret;
}

/* Report one decoded flow; returns the callback's value. */
static int ovsp_report_flow(const struct ofputil_flow_stats *fs, ovsp_flow_fn fn, void *arg)
{
	struct ds match = DS_EMPTY_INITIALIZER, acts = DS_EMPTY_INITIALIZER;
	struct ofpact_format_params fp = { .port_map = NULL, .table_map = NULL, .s = &acts };
	struct ovsp_flow f;
	int ret;

	/* OFP_DEFAULT_PRIORITY keeps "priority=" out of the match text. */
	match_format(&fs->match, NULL, &match, OFP_DEFAULT_PRIORITY);
	ofpacts_format(fs->ofpacts, fs->ofpacts_len, &fp);
	if (!acts.length)
		ds_put_cstr(&acts, "drop");
	f.cookie = ntohll(fs->cookie);
	f.table = fs->table_id;
	f.priority = fs->priority;
	f.n_packets = fs->packet_count;
	f.n_bytes = fs->byte_count;
	f.match = ds_cstr(&match);
	f.actions = ds_cstr(&acts);
	ret = fn(&f, arg);
	ds_destroy(&match);
	ds_destroy(&acts);
	return ret;
}

int ovsp_flows_dump(struct ovsp_conn *conn, uint64_t cookie, uint64_t mask, ovsp_flow_fn fn,
		    void *arg, size_t *count, char **err)
{
	struct ofputil_flow_stats_request fsr;
	struct ofpbuf ofpacts;
	struct ovsp_sigpipe sp;
	struct ofpbuf *req;
	bool more = true;
	size_t seen = 0;
	int ret, stop = 0, error;
	uint32_t xid;

	if (count)
		*count = 0;
	ovsp__sigpipe_hold(&sp);
	ofpbuf_init(&ofpacts, 0);
	ret = ovsp__begin(conn, err);
	if (ret)
		goto out;
	memset(&fsr, 0, sizeof fsr);
	fsr.aggregate = false;
	match_init_catchall(&fsr.match);
	fsr.cookie = htonll(cookie & mask);
	fsr.cookie_mask = htonll(mask);
	fsr.out_port = OFPP_ANY;
	fsr.out_group = OFPG_ANY;
	fsr.table_id = 0xff;
	req = ofputil_encode_flow_stats_request(&fsr, conn->protocol);
	xid = ovsp__xid(req);
	error = ovsp__send(conn, req);
	if (error) {
		ovsp__drop(conn);
		ret = ovsp__fail(err, ovsp__errno(error), "%s: flow stats request: %s", conn->target,
				 ovsp__strerror(error));
		goto out;
	}
	while (more) {
		struct ofputil_flow_stats fs;
		struct ofpbuf *part;

		ret = ovsp_next_part(conn, xid, OFPTYPE_FLOW_STATS_REPLY, &part, "flow stats", err);
		if (ret)
			goto out;
		more = (ofpmp_flags(part->header) & OFPSF_REPLY_MORE) != 0;
		while (!(error = ofputil_decode_flow_stats_reply(&fs, part, false, &ofpacts))) {
			seen++;
			if (fn && !stop)
				stop = ovsp_report_flow(&fs, fn, arg);
		}
		ofpbuf_delete(part);
		if (error != EOF) {
			ovsp__drop(conn);
			ret = ovsp__fail(err, -EPROTO, "%s: bad flow stats reply: %s", conn->target,
					 ofperr_to_string(error));
			goto out;
		}
	}
	if (count)
		*count = seen;
	ret = stop;
out:
	ofpbuf_uninit(&ofpacts);
	ovsp__sigpipe_release(&sp);
	return ret;
}
