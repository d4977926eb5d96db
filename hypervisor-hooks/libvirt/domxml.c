#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "domxml.h"

/* Attribute values quoted in error texts (a bad MAC or IP never needs more). */
#define VALUE_SIZE 64

/* Error texts end up in log lines: no control characters from the document
 * (values quoted in them, libxml2's own messages). */
static char *printable(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		printable(err);
	}
	return ret;
}

/* One of libvirt's own elements (they have no namespace). */
static bool is_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !n->ns && !strcmp((const char *)n->name, name);
}

/* An element of netmove's metadata namespace, whatever its prefix. */
static bool is_nm_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, DOMXML_NS) &&
	       !strcmp((const char *)n->name, name);
}

static xmlNode *child(xmlNode *parent, const char *name)
{
	xmlNode *n;

	for (n = parent->children; n; n = n->next)
		if (is_el(n, name))
			return n;
	return NULL;
}

/* Copy attribute name of n into buf (size bytes): 0, -ENOENT if absent,
 * -ENAMETOOLONG if it does not fit (buf then holds a truncated copy). */
static int attr(xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	int ret = 0;

	buf[0] = 0;
	if (!v)
		return -ENOENT;
	if (strlen((const char *)v) >= size)
		ret = -ENAMETOOLONG;
	snprintf(buf, size, "%s", (const char *)v);
	xmlFree(v);
	return ret;
}

/* What the kernel's dev_valid_name() accepts, IF_NAMESIZE bounded by attr(). */
static bool ifname_ok(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s))
			return false;
	return true;
}

static int get_mac(xmlNode *n, const char *name, struct mac *mac, const char *where,
		   char *err, size_t errlen)
{
	char v[VALUE_SIZE];
	int r;

	r = attr(n, name, v, sizeof(v));
	if (r == -ENOENT)
		return fail(err, errlen, -EINVAL, "%s: no MAC address", where);
	if (r < 0 || mac_parse(v, mac) < 0)
		return fail(err, errlen, -EINVAL, "%s: bad MAC address '%s'", where, v);
	if (mac_is_multicast(mac))
		return fail(err, errlen, -EINVAL, "%s: MAC address %s is multicast", where,
			    v);
	return 0;
}

/* An <interface>'s target dev or source bridge: "" when absent. */
static int get_ifname(xmlNode *iface, const char *el, const char *name, char *buf,
		      const char *where, char *err, size_t errlen)
{
	xmlNode *n = child(iface, el);
	int r;

	buf[0] = 0;
	if (!n)
		return 0;
	r = attr(n, name, buf, IF_NAMESIZE);
	if (r == -ENOENT)
		return 0;
	if (r == -ENAMETOOLONG)
		return fail(err, errlen, -EINVAL, "%s: <%s %s='%s...'> is longer than %d bytes",
			    where, el, name, buf, IF_NAMESIZE - 1);
	if (!ifname_ok(buf))
		return fail(err, errlen, -EINVAL, "%s: <%s %s='%s'> is not an interface name",
			    where, el, name, buf);
	return 0;
}

static bool is_ovs(xmlNode *iface)
{
	char type[VALUE_SIZE];
	xmlNode *n;

	for (n = iface->children; n; n = n->next)
		if (is_el(n, "virtualport") && attr(n, "type", type, sizeof(type)) == 0 &&
		    !strcmp(type, "openvswitch"))
			return true;
	return false;
}

static int parse_iface(xmlNode *n, unsigned idx, struct domxml_domain *out, char *err,
		       size_t errlen)
{
	struct domxml_iface *i;
	xmlNode *mac_el = child(n, "mac");
	char where[64 + MAC_STRLEN], mac_s[MAC_STRLEN];
	int r;

	if (out->n_ifaces == DOMXML_MAX_IFACES)
		return fail(err, errlen, -E2BIG, "more than %d Open vSwitch interfaces",
			    DOMXML_MAX_IFACES);
	i = &out->ifaces[out->n_ifaces];
	snprintf(where, sizeof(where), "interface %u", idx);
	if (!mac_el)
		return fail(err, errlen, -EINVAL, "%s: no <mac address=...>", where);
	r = get_mac(mac_el, "address", &i->mac, where, err, errlen);
	if (r < 0)
		return r;
	if (domxml_find(out, &i->mac))
		return fail(err, errlen, -EINVAL, "%s: MAC %s is used by another interface",
			    where, mac_format(&i->mac, mac_s));
	snprintf(where, sizeof(where), "interface %u (MAC %s)", idx, mac_format(&i->mac, mac_s));
	r = get_ifname(n, "target", "dev", i->target, where, err, errlen);
	if (r == 0)
		r = get_ifname(n, "source", "bridge", i->bridge, where, err, errlen);
	if (r < 0)
		return r;
	out->n_ifaces++;
	return 0;
}

static int parse_devices(xmlNode *root, struct domxml_domain *out, char *err, size_t errlen)
{
	unsigned idx = 0;
	xmlNode *dev, *n;
	int r;

	for (dev = root->children; dev; dev = dev->next) {
		if (!is_el(dev, "devices"))
			continue;
		for (n = dev->children; n; n = n->next) {
			if (!is_el(n, "interface"))
				continue;
			idx++;
			if (!is_ovs(n))
				continue;
			r = parse_iface(n, idx, out, err, errlen);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* One <nm:interface mac=... ip=.../>: its IP goes to the interface with
 * that MAC, if the domain has one. */
static int parse_nm_iface(xmlNode *n, struct domxml_domain *out, char *err, size_t errlen)
{
	struct domxml_iface *i;
	struct in_addr ip;
	struct mac mac;
	char v[VALUE_SIZE], mac_s[MAC_STRLEN], where[64 + MAC_STRLEN];
	int r;

	r = get_mac(n, "mac", &mac, "netmove metadata <interface>", err, errlen);
	if (r < 0)
		return r;
	snprintf(where, sizeof(where), "netmove metadata for MAC %s", mac_format(&mac, mac_s));
	r = attr(n, "ip", v, sizeof(v));
	if (r == -ENOENT)
		return fail(err, errlen, -EINVAL, "%s: no ip", where);
	if (r < 0 || mac_parse_ipv4(v, &ip) < 0)
		return fail(err, errlen, -EINVAL, "%s: bad IPv4 address '%s'", where, v);
	i = (struct domxml_iface *)domxml_find(out, &mac);
	if (!i)
		return 0;
	if (i->have_ip)
		return fail(err, errlen, -EINVAL, "%s: given twice", where);
	i->ip = ip;
	i->have_ip = true;
	return 0;
}

static int parse_metadata(xmlNode *root, struct domxml_domain *out, char *err, size_t errlen)
{
	xmlNode *md, *nm, *n;
	int r;

	for (md = root->children; md; md = md->next) {
		if (!is_el(md, "metadata"))
			continue;
		for (nm = md->children; nm; nm = nm->next) {
			if (!is_nm_el(nm, "netmove"))
				continue;
			/* virsh metadata --set puts children in the namespace too; a
			 * hand-written <interface> without a prefix is taken as well. */
			for (n = nm->children; n; n = n->next) {
				if (!is_nm_el(n, "interface") && !is_el(n, "interface"))
					continue;
				r = parse_nm_iface(n, out, err, errlen);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

static int parse_name(xmlNode *root, struct domxml_domain *out, char *err, size_t errlen)
{
	xmlNode *n = child(root, "name");
	xmlChar *v;
	size_t len;

	if (!n)
		return fail(err, errlen, -EINVAL, "no <name>");
	v = xmlNodeGetContent(n);
	if (!v)
		return fail(err, errlen, -ENOMEM, "out of memory");
	len = strlen((const char *)v);
	if (len && len < sizeof(out->name))
		memcpy(out->name, v, len + 1);
	xmlFree(v);
	if (!len)
		return fail(err, errlen, -EINVAL, "empty <name>");
	if (len >= sizeof(out->name))
		return fail(err, errlen, -EINVAL, "<name> longer than %zu bytes",
			    sizeof(out->name) - 1);
	return 0;
}

/* SAX internalSubset: a <!DOCTYPE> (libvirt never writes one) stops the
 * parser before any entity it declares is read. */
static void no_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
		       const xmlChar *sys_id)
{
	xmlParserCtxtPtr ctxt = ctx;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	*(bool *)ctxt->_private = true;
	xmlStopParser(ctxt);
}

static int parse_doc(const char *xml, size_t len, xmlDocPtr *doc, char *err, size_t errlen)
{
	xmlParserCtxtPtr ctxt;
	const xmlError *e;
	bool doctype = false;
	char msg[160] = "";
	size_t n;

	ctxt = xmlNewParserCtxt();
	if (!ctxt || !ctxt->sax) {
		xmlFreeParserCtxt(ctxt);
		return fail(err, errlen, -ENOMEM, "out of memory");
	}
	ctxt->sax->internalSubset = no_doctype;
	ctxt->_private = &doctype;
	/* No XML_PARSE_NOENT (entities stay unexpanded), no DTD loading. */
	*doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
				 XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (*doc && ((*doc)->intSubset || (*doc)->extSubset))
		doctype = true;
	if (*doc && !doctype) {
		xmlFreeParserCtxt(ctxt);
		return 0;
	}
	xmlFreeDoc(*doc);
	*doc = NULL;
	if (doctype) {
		xmlFreeParserCtxt(ctxt);
		return fail(err, errlen, -EBADMSG, "the document has a <!DOCTYPE>: refused");
	}
	e = xmlCtxtGetLastError(ctxt);
	if (e && e->message) {
		snprintf(msg, sizeof(msg), "%s", e->message);
		n = strlen(msg);
		while (n && isspace((unsigned char)msg[n - 1]))
			msg[--n] = 0;
	}
	fail(err, errlen, -EBADMSG, "not well-formed XML: line %d: %s", e ? e->line : 0,
	     msg[0] ? msg : "parse error");
	xmlFreeParserCtxt(ctxt);
	return -EBADMSG;
}

int domxml_parse(const char *xml, size_t len, struct domxml_domain *out, char *err,
		 size_t errlen)
{
	xmlDocPtr doc = NULL;
	xmlNode *root;
	int ret;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	if (len > DOMXML_MAX_LEN)
		return fail(err, errlen, -E2BIG, "domain XML of %zu bytes (at most %u)", len,
			    DOMXML_MAX_LEN);
	if (!xml || !len)
		return fail(err, errlen, -EBADMSG, "empty domain XML");
	xmlInitParser();
	ret = parse_doc(xml, len, &doc, err, errlen);
	if (ret < 0)
		return ret;
	root = xmlDocGetRootElement(doc);
	if (!root || !is_el(root, "domain"))
		ret = fail(err, errlen, -EBADMSG, "the root element <%s>%s%s is not libvirt's <domain>",
			   root ? (const char *)root->name : "",
			   root && root->ns ? " in namespace " : "",
			   root && root->ns && root->ns->href ? (const char *)root->ns->href : "");
	if (!ret)
		ret = parse_name(root, out, err, errlen);
	if (!ret)
		ret = parse_devices(root, out, err, errlen);
	if (!ret)
		ret = parse_metadata(root, out, err, errlen);
	xmlFreeDoc(doc);
	if (ret < 0)
		out->n_ifaces = 0;
	return ret;
}

const struct domxml_iface *domxml_find(const struct domxml_domain *d, const struct mac *mac)
{
	size_t i;

	for (i = 0; i < d->n_ifaces; i++)
		if (mac_equal(&d->ifaces[i].mac, mac))
			return &d->ifaces[i];
	return NULL;
}
