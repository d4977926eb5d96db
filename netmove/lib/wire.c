#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <pcap/pcap.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "netmove/timeutil.h"
#include "netmove/wire.h"

static int fail(struct wire *w, int err, const char *what, const char *detail)
{
	snprintf(w->err, sizeof(w->err), "%s on %s: %s", what, w->ifname, detail);
	return err;
}

int wire_open(struct wire *w, const char *ifname, const char *filter, bool in_only)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct bpf_program prog;
	pcap_t *p;
	int ret;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	snprintf(w->ifname, sizeof(w->ifname), "%s", ifname);
	if (strlen(ifname) >= IF_NAMESIZE)
		return fail(w, -EINVAL, "open", "interface name too long");
	p = pcap_create(ifname, ebuf);
	if (!p)
		return fail(w, -ENODEV, "pcap_create", ebuf);
	w->pcap = p;
	if (pcap_set_snaplen(p, 65535) || pcap_set_immediate_mode(p, 1) ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO)) {
		ret = fail(w, -EINVAL, "pcap setup", pcap_geterr(p));
		goto err;
	}
	ret = pcap_activate(p);
	if (ret < 0) {
		ret = fail(w, ret == PCAP_ERROR_NO_SUCH_DEVICE ? -ENODEV :
			      ret == PCAP_ERROR_PERM_DENIED ? -EPERM : -EIO,
			   "pcap_activate", pcap_geterr(p));
		goto err;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		ret = fail(w, -EPROTONOSUPPORT, "open", "not an Ethernet interface");
		goto err;
	}
	if (in_only && pcap_setdirection(p, PCAP_D_IN) < 0) {
		ret = fail(w, -EIO, "pcap_setdirection", pcap_geterr(p));
		goto err;
	}
	if (filter) {
		if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			ret = fail(w, -EINVAL, "pcap_compile", pcap_geterr(p));
			goto err;
		}
		ret = pcap_setfilter(p, &prog);
		pcap_freecode(&prog);
		if (ret < 0) {
			ret = fail(w, -EIO, "pcap_setfilter", pcap_geterr(p));
			goto err;
		}
	}
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		ret = fail(w, -EIO, "pcap_setnonblock", ebuf);
		goto err;
	}
	w->fd = pcap_get_selectable_fd(p);
	if (w->fd < 0) {
		ret = fail(w, -EIO, "open", "no selectable descriptor");
		goto err;
	}
	return 0;
err:
	pcap_close(p);
	w->pcap = NULL;
	return ret;
}

int wire_send(struct wire *w, const void *frame, size_t len)
{
	if (pcap_inject(w->pcap, frame, len) != (int)len)
		return fail(w, -EIO, "pcap_inject", pcap_geterr(w->pcap));
	return 0;
}

int wire_recv(struct wire *w, uint64_t deadline_ns, const uint8_t **frame,
	      size_t *len, uint64_t *ts_ns)
{
	struct pcap_pkthdr *h;
	const u_char *data;

	for (;;) {
		uint64_t now = timeutil_mono_ns();
		struct pollfd pfd = { .fd = w->fd, .events = POLLIN };
		int ret = pcap_next_ex(w->pcap, &h, &data);

		if (ret == 1) {
			*frame = data;
			*len = h->caplen;
			*ts_ns = (uint64_t)h->ts.tv_sec * NSEC_PER_SEC +
				 (uint64_t)h->ts.tv_usec; /* nanoseconds: precision set */
			return 1;
		}
		if (ret < 0)
			return fail(w, -EIO, "pcap_next_ex", pcap_geterr(w->pcap));
		if (now >= deadline_ns)
			return 0;
		ret = poll(&pfd, 1, (int)((deadline_ns - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC));
		if (ret < 0 && errno != EINTR)
			return fail(w, -errno, "poll", strerror(errno));
	}
}

void wire_close(struct wire *w)
{
	if (w->pcap)
		pcap_close(w->pcap);
	w->pcap = NULL;
	w->fd = -1;
}

int wire_ifmac(const char *ifname, struct mac *out)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	if (strlen(ifname) >= IF_NAMESIZE)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		ret = -errno;
	else
		memcpy(out->b, ifr.ifr_hwaddr.sa_data, MAC_LEN);
	close(fd);
	return ret;
}
