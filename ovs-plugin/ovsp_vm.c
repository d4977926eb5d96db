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

/* One bundle: delete the VM's cookie, then send its traffic to `ofport`. */
static int ovsp_vm_point(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t ofport,
			 uint16_t priority, char **err)
{
	char del[64], add[160];
	const char *mods[2] = { del, add };

	/* Physical port numbers only: reserved ports (IN_PORT, NORMAL,
	 * LOCAL, ...) start at 0xff00 and are not a VM's location. */
	if (ofport == 0 || ofport >= 0xff00) {
		if (err && asprintf(err, "%" PRIu32 ": not a port number (1..65279)", ofport) < 0)
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
		 ovsp_vm_cookie(mac), priority ? priority : OVSP_VM_PRIORITY, mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5], ofport);
	return ovsp_bundle(conn, mods, 2, err);
}

int ovsp_vm_install(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t ofport,
		    uint16_t priority, char **err)
{
	return ovsp_vm_point(conn, mac, ofport, priority, err);
}

int ovsp_vm_redirect(struct ovsp_conn *conn, const uint8_t mac[6], uint32_t uplink_ofport,
		     uint16_t priority, char **err)
{
	return ovsp_vm_point(conn, mac, uplink_ofport, priority, err);
}

int ovsp_vm_remove(struct ovsp_conn *conn, const uint8_t mac[6], char **err)
{
	char del[64];
	const char *mods[1] = { del };

	ovsp_cookie_del(del, sizeof del, mac);
	return ovsp_bundle(conn, mods, 1, err);
}
