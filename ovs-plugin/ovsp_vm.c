/* ovsp_vm: a VM's flows, written as ovs-ofctl text and sent through
 * ovsp_bundle.  Every flow carries the VM's cookie, so one "delete by
 * cookie" removes exactly netmove's flows for that VM and nothing else. */
#include "ovsp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

uint64_t ovsp_vm_cookie(const uint8_t mac[6])
{
	uint64_t c = 0;
	int i;

	for (i = 0; i < 6; i++)
		c = c << 8 | mac[i];
	return OVSP_COOKIE_TAG | c;
}

static void ovsp_cookie_del(char *buf, size_t len, const uint8_t mac[6])
{
	snprintf(buf, len, "delete cookie=0x%016" PRIx64 "/-1", ovsp_vm_cookie(mac));
}

static int ovsp_port_ok(uint32_t ofport, char **err)
{
	/* Physical port numbers only: reserved ports (IN_PORT, NORMAL,
	 * LOCAL, ...) start at 0xff00 and are not a VM's location. */
	if (ofport == 0 || ofport >= 0xff00) {
		if (err && asprintf(err, "%" PRIu32 ": not a port number (1..65279)", ofport) < 0)
			*err = NULL;
		return -EINVAL;
	}
	return 0;
}

/* One bundle: delete the VM's cookie, then send its traffic to `ofport`;
 * with `in_port` (not 0), what comes in there goes to `in_to` instead. */
static int ovsp_vm_point(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t ofport,
			 uint32_t in_port, uint32_t in_to, uint16_t priority, char **err)
{
	char del[64], add[160], add_in[192];
	const char *mods[3] = { del, add, add_in };

	if (priority == 0)
		priority = OVSP_VM_PRIORITY;
	if (ovsp_port_ok(ofport, err) < 0 || (in_port && (ovsp_port_ok(in_port, err) < 0 ||
							  ovsp_port_ok(in_to, err) < 0)))
		return -EINVAL;
	if (in_port && priority == UINT16_MAX) {
		if (err && asprintf(err, "priority %u leaves no room above it", priority) < 0)
			*err = NULL;
		return -EINVAL;
	}
	if (mac[0] & 1) {
		if (err && asprintf(err, "%02x:%02x:%02x:%02x:%02x:%02x: a group address is not a VM's MAC",
				    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]) < 0)
			*err = NULL;
		return -EINVAL;
	}
	ovsp_cookie_del(del, sizeof del, mac);
	snprintf(add, sizeof add,
		 "add cookie=0x%016" PRIx64 ",priority=%u,dl_dst=%02x:%02x:%02x:%02x:%02x:%02x"
		 ",actions=output:%" PRIu32,
		 ovsp_vm_cookie(mac), priority, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], ofport);
	snprintf(add_in, sizeof add_in,
		 "add cookie=0x%016" PRIx64 ",priority=%u,in_port=%" PRIu32
		 ",dl_dst=%02x:%02x:%02x:%02x:%02x:%02x,actions=output:%" PRIu32,
		 ovsp_vm_cookie(mac), priority + 1u, in_port, mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5], in_to);
	return ovsp_bundle(conn, mods, in_port ? 3 : 2, err);
}

int ovsp_vm_install(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t ofport,
		    uint16_t priority, char **err)
{
	return ovsp_vm_point(conn, mac, ofport, 0, 0, priority, err);
}

int ovsp_vm_redirect(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t uplink_ofport,
		     uint32_t old_ofport, uint16_t priority, char **err)
{
	return ovsp_vm_point(conn, mac, uplink_ofport, old_ofport ? uplink_ofport : 0, old_ofport,
			     priority, err);
}

int ovsp_vm_remove(struct ovsp_conn *conn, const uint8_t mac[6], char **err)
{
	char del[64];
	const char *mods[1] = { del };

	ovsp_cookie_del(del, sizeof del, mac);
	return ovsp_bundle(conn, mods, 1, err);
}
