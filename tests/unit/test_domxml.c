#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "domxml.h"

/* A domain as `virsh dumpxml` prints it, trimmed; %s is where each test
 * puts its <interface> elements, the netmove metadata is fixed. */
#define DOMAIN(ifaces) \
	"<domain type='kvm' id='7'>\n" \
	"  <name>vm70</name>\n" \
	"  <uuid>0b1ec1c5-5b42-4d4e-9d2c-7a8f3a3c2a70</uuid>\n" \
	"  <metadata>\n" \
	"    <other:netmove xmlns:other=\"https://example.org/not-netmove\">\n" \
	"      <other:interface mac=\"52:54:00:00:00:71\" ip=\"203.0.113.9\"/>\n" \
	"    </other:netmove>\n" \
	"    <nm:netmove xmlns:nm=\"https://netmove.dev/xmlns/libvirt/1\">\n" \
	"      <nm:interface mac=\"52:54:00:00:00:70\" ip=\"198.18.0.70\"/>\n" \
	"      <nm:interface mac=\"52:54:00:00:00:99\" ip=\"198.18.0.99\"/>\n" \
	"    </nm:netmove>\n" \
	"  </metadata>\n" \
	"  <memory unit='KiB'>1048576</memory>\n" \
	"  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>\n" \
	"  <devices>\n" \
	"    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n" \
	"    <disk type='file' device='disk'><target dev='vda' bus='virtio'/></disk>\n" \
	ifaces \
	"  </devices>\n" \
	"</domain>\n"

#define OVS_IFACE(mac, target) \
	"    <interface type='bridge'>\n" \
	"      <mac address='" mac "'/>\n" \
	"      <source bridge='br-int'/>\n" \
	"      <virtualport type='openvswitch'>\n" \
	"        <parameters interfaceid='6f1c2b8e-0d1e-4a51-9f43-2d0b8c7d5e01'/>\n" \
	"      </virtualport>\n" \
	target \
	"      <model type='virtio'/>\n" \
	"    </interface>\n"

#define LINUX_BRIDGE_IFACE \
	"    <interface type='bridge'>\n" \
	"      <mac address='52:54:00:00:00:72'/>\n" \
	"      <source bridge='virbr0'/>\n" \
	"      <target dev='vnet9'/>\n" \
	"      <model type='virtio'/>\n" \
	"    </interface>\n"

static int parse(const char *xml, struct domxml_domain *d, char *err, size_t errlen)
{
	return domxml_parse(xml, strlen(xml), d, err, errlen);
}

static void ip_is(const struct domxml_iface *i, const char *want)
{
	char s[INET_ADDRSTRLEN];

	assert_true(i->have_ip);
	assert_string_equal(inet_ntop(AF_INET, &i->ip, s, sizeof(s)), want);
}

static void two_ovs_one_bridge(void **state)
{
	static const char xml[] = DOMAIN(
		OVS_IFACE("52:54:00:00:00:70", "      <target dev='vnet0'/>\n")
		LINUX_BRIDGE_IFACE
		OVS_IFACE("52:54:00:00:00:71", "      <target dev='vnet1'/>\n"));
	struct domxml_domain d;
	char err[256], mac_s[MAC_STRLEN];
	struct mac m;

	(void)state;
	assert_int_equal(parse(xml, &d, err, sizeof(err)), 0);
	assert_string_equal(d.name, "vm70");
	assert_int_equal(d.n_ifaces, 2);
	assert_string_equal(mac_format(&d.ifaces[0].mac, mac_s), "52:54:00:00:00:70");
	assert_string_equal(d.ifaces[0].target, "vnet0");
	assert_string_equal(d.ifaces[0].bridge, "br-int");
	ip_is(&d.ifaces[0], "198.18.0.70");
	/* Its only IP is in another namespace's element of the same name. */
	assert_string_equal(mac_format(&d.ifaces[1].mac, mac_s), "52:54:00:00:00:71");
	assert_string_equal(d.ifaces[1].target, "vnet1");
	assert_false(d.ifaces[1].have_ip);
	assert_int_equal(mac_parse("52:54:00:00:00:72", &m), 0);
	assert_null(domxml_find(&d, &m));
	assert_int_equal(mac_parse("52:54:00:00:00:71", &m), 0);
	assert_ptr_equal(domxml_find(&d, &m), &d.ifaces[1]);
}

static void target_absent(void **state)
{
	static const char xml[] = DOMAIN(OVS_IFACE("52:54:00:00:00:70", ""));
	struct domxml_domain d;
	char err[256];

	(void)state;
	assert_int_equal(parse(xml, &d, err, sizeof(err)), 0);
	assert_int_equal(d.n_ifaces, 1);
	assert_string_equal(d.ifaces[0].target, "");
	ip_is(&d.ifaces[0], "198.18.0.70");
}

/* The metadata namespace is matched by URI: any prefix, or a default one. */
static void metadata_by_uri(void **state)
{
	static const char xml[] =
		"<domain><name>a</name><metadata>"
		"<netmove xmlns='https://netmove.dev/xmlns/libvirt/1'>"
		"<interface mac='52-54-00-00-00-70' ip='198.18.0.7'/></netmove>"
		"</metadata><devices>"
		OVS_IFACE("52:54:00:00:00:70", "")
		"</devices></domain>";
	static const char wrong_prefix_only[] =
		"<domain><name>a</name><metadata>"
		"<nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/2'>"
		"<nm:interface mac='52:54:00:00:00:70' ip='198.18.0.7'/></nm:netmove>"
		"</metadata><devices>"
		OVS_IFACE("52:54:00:00:00:70", "")
		"</devices></domain>";
	static const char unprefixed_child[] =
		"<domain><name>a</name><metadata>"
		"<nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/1'>"
		"<interface mac='52:54:00:00:00:70' ip='198.18.0.8'/></nm:netmove>"
		"</metadata><devices>"
		OVS_IFACE("52:54:00:00:00:70", "")
		"</devices></domain>";
	struct domxml_domain d;
	char err[256];

	(void)state;
	assert_int_equal(parse(xml, &d, err, sizeof(err)), 0);
	ip_is(&d.ifaces[0], "198.18.0.7");
	assert_int_equal(parse(unprefixed_child, &d, err, sizeof(err)), 0);
	ip_is(&d.ifaces[0], "198.18.0.8");
	assert_int_equal(parse(wrong_prefix_only, &d, err, sizeof(err)), 0);
	assert_int_equal(d.n_ifaces, 1);
	assert_false(d.ifaces[0].have_ip);
}

static void no_ovs_interfaces(void **state)
{
	static const char xml[] = DOMAIN(LINUX_BRIDGE_IFACE);
	struct domxml_domain d;
	char err[256];

	(void)state;
	assert_int_equal(parse(xml, &d, err, sizeof(err)), 0);
	assert_string_equal(d.name, "vm70");
	assert_int_equal(d.n_ifaces, 0);
}

static void expect_error(const char *xml, int want, const char *text)
{
	struct domxml_domain d;
	char err[256] = "";

	assert_int_equal(parse(xml, &d, err, sizeof(err)), want);
	assert_int_equal(d.n_ifaces, 0);
	if (!strstr(err, text))
		fail_msg("error text '%s' does not contain '%s'", err, text);
	assert_null(strchr(err, '\n'));
}

static void bad_mac(void **state)
{
	(void)state;
	expect_error(DOMAIN(OVS_IFACE("52:54:00:00:00:7", "")), -EINVAL,
		     "interface 1: bad MAC address '52:54:00:00:00:7'");
	expect_error(DOMAIN(OVS_IFACE("01:00:5e:00:00:01", "")), -EINVAL, "is multicast");
	expect_error(DOMAIN(OVS_IFACE("52:54:00:00:00:70", "")
			    OVS_IFACE("52:54:00:00:00:70", "")), -EINVAL,
		     "interface 2: MAC 52:54:00:00:00:70 is used by another interface");
	expect_error("<domain><name>a</name><devices><interface type='bridge'>"
		     "<virtualport type='openvswitch'/></interface></devices></domain>",
		     -EINVAL, "interface 1: no <mac address=...>");
	expect_error("<domain><name>a</name><metadata>"
		     "<nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/1'>"
		     "<nm:interface mac='52:54:00:00:00:zz' ip='198.18.0.7'/></nm:netmove>"
		     "</metadata></domain>",
		     -EINVAL, "netmove metadata <interface>: bad MAC address '52:54:00:00:00:zz'");
}

static void bad_ip(void **state)
{
	(void)state;
	expect_error("<domain><name>a</name><metadata>"
		     "<nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/1'>"
		     "<nm:interface mac='52:54:00:00:00:70' ip='198.18.0.256'/></nm:netmove>"
		     "</metadata><devices>" OVS_IFACE("52:54:00:00:00:70", "")
		     "</devices></domain>",
		     -EINVAL, "netmove metadata for MAC 52:54:00:00:00:70: bad IPv4 address "
			      "'198.18.0.256'");
	expect_error("<domain><name>a</name><metadata>"
		     "<nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/1'>"
		     "<nm:interface mac='52:54:00:00:00:70'/></nm:netmove>"
		     "</metadata></domain>",
		     -EINVAL, "netmove metadata for MAC 52:54:00:00:00:70: no ip");
	expect_error("<domain><name>a</name><metadata>"
		     "<nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/1'>"
		     "<nm:interface mac='52:54:00:00:00:70' ip='198.18.0.1'/>"
		     "<nm:interface mac='52:54:00:00:00:70' ip='198.18.0.2'/></nm:netmove>"
		     "</metadata><devices>" OVS_IFACE("52:54:00:00:00:70", "")
		     "</devices></domain>",
		     -EINVAL, "given twice");
}

static void bad_names(void **state)
{
	(void)state;
	/* IF_NAMESIZE - 1 = 15 bytes fit, 16 do not. */
	expect_error(DOMAIN(OVS_IFACE("52:54:00:00:00:70",
				      "      <target dev='vnet0123456789ab'/>\n")),
		     -EINVAL, "interface 1 (MAC 52:54:00:00:00:70): <target dev='vnet0123456789a...'> "
			      "is longer than 15 bytes");
	expect_error(DOMAIN(OVS_IFACE("52:54:00:00:00:70", "      <target dev='../x'/>\n")),
		     -EINVAL, "<target dev='../x'> is not an interface name");
	expect_error(DOMAIN(OVS_IFACE("52:54:00:00:00:70", "      <target dev=''/>\n")),
		     -EINVAL, "is not an interface name");
	expect_error("<domain><name>a</name><devices><interface type='bridge'>"
		     "<mac address='52:54:00:00:00:70'/><source bridge='br&#10;evil'/>"
		     "<virtualport type='openvswitch'/></interface></devices></domain>",
		     -EINVAL, "<source bridge='br?evil'> is not an interface name");
	expect_error("<domain><devices/></domain>", -EINVAL, "no <name>");
	expect_error("<domain><name></name></domain>", -EINVAL, "empty <name>");
}

static void target_at_the_limit(void **state)
{
	static const char xml[] = DOMAIN(OVS_IFACE("52:54:00:00:00:70",
						   "      <target dev='vnet0123456789a'/>\n"));
	struct domxml_domain d;
	char err[256];

	(void)state;
	assert_int_equal(parse(xml, &d, err, sizeof(err)), 0);
	assert_string_equal(d.ifaces[0].target, "vnet0123456789a");
}

static void too_many(void **state)
{
	char xml[8192];
	size_t n, i;

	(void)state;
	n = (size_t)snprintf(xml, sizeof(xml), "<domain><name>a</name><devices>");
	for (i = 0; i <= DOMXML_MAX_IFACES; i++)
		n += (size_t)snprintf(xml + n, sizeof(xml) - n,
				      "<interface type='bridge'><mac address='52:54:00:00:01:%02zx'/>"
				      "<virtualport type='openvswitch'/></interface>", i);
	snprintf(xml + n, sizeof(xml) - n, "</devices></domain>");
	assert_true(strlen(xml) < sizeof(xml) - 1);
	expect_error(xml, -E2BIG, "more than 16 Open vSwitch interfaces");
}

static void malformed(void **state)
{
	struct domxml_domain d;
	char err[256];

	(void)state;
	expect_error("<domain><name>vm</name><devices>", -EBADMSG, "not well-formed XML: line 1");
	expect_error("<domain><name>vm</nam></domain>", -EBADMSG, "not well-formed XML");
	expect_error("<network><name>default</name></network>", -EBADMSG,
		     "the root element <network> is not libvirt's <domain>");
	expect_error("", -EBADMSG, "empty domain XML");
	/* Entities are never declared, let alone expanded. */
	expect_error("<?xml version='1.0'?>\n<!DOCTYPE domain [<!ENTITY a 'aaaaaaaa'>"
		     "<!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>\n"
		     "<domain><name>&b;</name></domain>", -EBADMSG, "<!DOCTYPE>");
	expect_error("<!DOCTYPE domain SYSTEM 'http://127.0.0.1:1/domain.dtd'>"
		     "<domain><name>a</name></domain>", -EBADMSG, "<!DOCTYPE>");
	assert_int_equal(domxml_parse("<domain/>", DOMXML_MAX_LEN + 1, &d, err, sizeof(err)),
			 -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(two_ovs_one_bridge),
		cmocka_unit_test(target_absent),
		cmocka_unit_test(metadata_by_uri),
		cmocka_unit_test(no_ovs_interfaces),
		cmocka_unit_test(bad_mac),
		cmocka_unit_test(bad_ip),
		cmocka_unit_test(bad_names),
		cmocka_unit_test(target_at_the_limit),
		cmocka_unit_test(too_many),
		cmocka_unit_test(malformed),
	};

	return cmocka_run_group_tests_name("domxml", tests, NULL, NULL);
}
