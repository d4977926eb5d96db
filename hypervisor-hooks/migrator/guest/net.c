/* The guest's network stack: a polled driver for the paravirtual NIC and a
 * responder for ARP requests, ICMP echo requests and UDP datagrams to
 * HW_NIC_ECHO_PORT (echoed back to the sender, same port on both ends). */
#include "../hw.h"
#include "io.h"

#define ETH_HLEN 14
#define ETH_MIN 60

struct desc {
	u32 addr;
	u16 len;
	u16 flags;
};

#define RXR ((volatile struct desc *)HW_NIC_RX_RING)
#define TXR ((volatile struct desc *)HW_NIC_TX_RING)

static struct {
	u8 mac[6];
	u8 ip[4];
	u32 rx_head, tx_head, tx_pending;
} n;

static void copy(u8 *d, const u8 *s, u32 len)
{
	volatile u8 *vd = d;	/* volatile: no call to a memcpy we do not have */

	while (len--)
		*vd++ = *s++;
}

static int same(const u8 *a, const u8 *b, u32 len)
{
	while (len--)
		if (*a++ != *b++)
			return 0;
	return 1;
}

static u16 get16(const u8 *p)
{
	return (u16)(p[0] << 8 | p[1]);
}

static void put16(u8 *p, u32 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

static u32 sum16(u32 sum, const u8 *p, u32 len)
{
	while (len > 1) {
		sum += get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (u32)p[0] << 8;
	return sum;
}

static u16 fold(u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

void net_init(void)
{
	u32 lo = inl(HW_NIC_MAC_LO), hi = inl(HW_NIC_MAC_HI), ip = inl(HW_NIC_IP), i;

	n.mac[0] = (u8)lo;
	n.mac[1] = (u8)(lo >> 8);
	n.mac[2] = (u8)(lo >> 16);
	n.mac[3] = (u8)(lo >> 24);
	n.mac[4] = (u8)hi;
	n.mac[5] = (u8)(hi >> 8);
	copy(n.ip, (const u8 *)&ip, 4);
	for (i = 0; i < HW_NIC_RING; i++) {
		RXR[i].addr = HW_NIC_RX_BUFS + i * HW_NIC_BUF;
		RXR[i].len = 0;
		RXR[i].flags = HW_NIC_OWN;
		TXR[i].addr = HW_NIC_TX_BUFS + i * HW_NIC_BUF;
		TXR[i].len = 0;
		TXR[i].flags = 0;
	}
	outl(HW_NIC_RX_BASE, HW_NIC_RX_RING);
	outl(HW_NIC_TX_BASE, HW_NIC_TX_RING);
}

/* The next free TX buffer, or 0 if the VMM still owns every slot. */
static u8 *tx_buf(void)
{
	if (TXR[n.tx_head].flags & HW_NIC_OWN) {
		outl(HW_NIC_TX_KICK, 0);
		n.tx_pending = 0;
		if (TXR[n.tx_head].flags & HW_NIC_OWN)
			return 0;
	}
	return (u8 *)(HW_NIC_TX_BUFS + n.tx_head * HW_NIC_BUF);
}

static void tx_queue(u8 *f, u32 len)
{
	while (len < ETH_MIN)
		f[len++] = 0;
	TXR[n.tx_head].len = (u16)len;
	TXR[n.tx_head].flags = HW_NIC_OWN;
	n.tx_head = (n.tx_head + 1) % HW_NIC_RING;
	n.tx_pending++;
}

/* Reply frame skeleton: to the sender's MAC, from ours. */
static void eth_reply(u8 *o, const u8 *f)
{
	copy(o, f + 6, 6);
	copy(o + 6, n.mac, 6);
	o[12] = f[12];
	o[13] = f[13];
}

static void arp_in(const u8 *f, u32 len)
{
	const u8 *a = f + ETH_HLEN;
	u8 *o, *r;

	if (len < ETH_HLEN + 28 || get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 ||
	    a[5] != 4 || get16(a + 6) != 1 || !same(a + 24, n.ip, 4))
		return;
	o = tx_buf();
	if (!o)
		return;
	eth_reply(o, f);
	r = o + ETH_HLEN;
	copy(r, a, 6);
	put16(r + 6, 2);
	copy(r + 8, n.mac, 6);
	copy(r + 14, n.ip, 4);
	copy(r + 18, a + 8, 10);	/* sender MAC and IP become the target */
	tx_queue(o, ETH_HLEN + 28);
}

static void ip_in(const u8 *f, u32 len)
{
	const u8 *ip = f + ETH_HLEN;
	u32 hl, tl, pl;
	u8 *o, *oip, *l4;

	if (len < ETH_HLEN + 20 || (ip[0] >> 4) != 4)
		return;
	hl = (u32)(ip[0] & 15) * 4;
	tl = get16(ip + 2);
	if (hl < 20 || tl < hl || tl > len - ETH_HLEN || (get16(ip + 6) & 0x3fff) ||
	    !same(ip + 16, n.ip, 4) || fold(sum16(0, ip, hl)) != 0)
		return;
	pl = tl - hl;
	if (ip[9] == 1) {
		if (pl < 8 || ip[hl] != 8 || ip[hl + 1] != 0)
			return;
	} else if (ip[9] == 17) {
		if (pl < 8 || get16(ip + hl + 2) != HW_NIC_ECHO_PORT || get16(ip + hl + 4) > pl ||
		    get16(ip + hl + 4) < 8)
			return;
		pl = get16(ip + hl + 4);
	} else {
		return;
	}
	o = tx_buf();
	if (!o)
		return;
	eth_reply(o, f);
	oip = o + ETH_HLEN;
	copy(oip, ip, 20);	/* options are not echoed */
	oip[0] = 0x45;
	put16(oip + 2, 20 + pl);
	oip[8] = 64;
	copy(oip + 12, n.ip, 4);
	copy(oip + 16, ip + 12, 4);
	put16(oip + 10, 0);
	put16(oip + 10, fold(sum16(0, oip, 20)));
	l4 = oip + 20;
	copy(l4, ip + hl, pl);
	if (ip[9] == 1) {
		l4[0] = 0;	/* echo reply */
		put16(l4 + 2, 0);
		put16(l4 + 2, fold(sum16(0, l4, pl)));
	} else {
		u32 s;

		put16(l4, HW_NIC_ECHO_PORT);
		put16(l4 + 2, HW_NIC_ECHO_PORT);
		put16(l4 + 6, 0);
		s = sum16(0, oip + 12, 8) + 17 + pl;
		s = fold(sum16(s, l4, pl));
		put16(l4 + 6, s ? s : 0xffff);
	}
	tx_queue(o, ETH_HLEN + 20 + pl);
}

static void frame_in(const u8 *f, u32 len)
{
	u16 type;

	if (len < ETH_HLEN)
		return;
	if (!(f[0] & 1) && !same(f, n.mac, 6))
		return;
	type = get16(f + 12);
	if (type == 0x0806)
		arp_in(f, len);
	else if (type == 0x0800)
		ip_in(f, len);
}

static u32 rx_pass(void)
{
	u32 i;

	outl(HW_NIC_RX_POLL, 0);
	for (i = 0; i < HW_NIC_RING; i++) {
		volatile struct desc *d = &RXR[n.rx_head];

		if (d->flags & HW_NIC_OWN)
			break;
		frame_in((const u8 *)(HW_NIC_RX_BUFS + n.rx_head * HW_NIC_BUF),
			 d->len <= HW_NIC_BUF ? d->len : 0);
		d->len = 0;
		d->flags = HW_NIC_OWN;
		n.rx_head = (n.rx_head + 1) % HW_NIC_RING;
	}
	return i;
}

void net_poll(void)
{
	u32 pass;

	/* A full ring may mean more is queued: a few passes absorb a burst. */
	for (pass = 0; pass < 4 && rx_pass() == HW_NIC_RING; pass++)
		;
	if (n.tx_pending) {
		outl(HW_NIC_TX_KICK, 0);
		n.tx_pending = 0;
	}
}
