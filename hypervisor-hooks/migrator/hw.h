/* hw: the guest-visible machine, shared by the VMM and the guest (which is
 * built freestanding, so this header uses no library types). */
#ifndef NM_HW_H
#define NM_HW_H

#define HW_PAGE_SIZE	0x1000
#define HW_GDT		0x1000		/* flat GDT written by the VMM */
#define HW_TSS		0x2000		/* busy TSS for TR (KVM needs a valid one) */
#define HW_LOAD		0x10000		/* guest image load address and entry */
#define HW_STACK_TOP	0x80000		/* initial ESP */
#define HW_WS_BASE	0x100000	/* first page of the dirtying working set */

#define HW_SEL_CODE	0x08
#define HW_SEL_DATA	0x10
#define HW_SEL_TSS	0x18

/* Serial console (a write-only 16550 subset). */
#define HW_SERIAL	0x3f8
#define HW_SERIAL_LSR	0x3fd

/* Control device: the host sets the workload, the guest reports progress. */
#define HW_CTL_WS	0x500		/* in: working set in pages */
#define HW_CTL_RATE	0x504		/* in: pages dirtied per iteration */
#define HW_CTL_DONE	0x508		/* out: iteration finished (value: count) */
#define HW_CTL_NET	0x50c		/* in: 1 if the NIC is present */

/* Paravirtual NIC.  Both rings live in guest RAM; each has HW_NIC_RING
 * descriptors of 8 bytes: u32 buffer address, u16 length, u16 flags.
 * RX: the guest posts buffers with OWN set, the VMM fills one, writes the
 * length and clears OWN.  TX: the guest writes a frame, sets OWN and writes
 * the doorbell; the VMM sends every OWN descriptor in order and clears OWN. */
#define HW_NIC_MAC_LO	0x600		/* in: MAC octets 0-3 */
#define HW_NIC_MAC_HI	0x604		/* in: MAC octets 4-5 */
#define HW_NIC_IP	0x608		/* in: IPv4 address, network order */
#define HW_NIC_RX_BASE	0x60c		/* out: RX ring address */
#define HW_NIC_TX_BASE	0x610		/* out: TX ring address */
#define HW_NIC_TX_KICK	0x614		/* out: TX doorbell */
#define HW_NIC_RX_POLL	0x618		/* out: let the VMM fill posted RX buffers */
#define HW_NIC_RING	64		/* descriptors per ring */
#define HW_NIC_BUF	2048		/* bytes per buffer */
#define HW_NIC_OWN	0x1		/* descriptor flag: owned by the other side */

/* Where the embedded guest keeps its NIC rings and buffers (between the
 * stack and the working set; the VMM only trusts what the guest wrote). */
#define HW_NIC_AREA	0x80000
#define HW_NIC_RX_RING	HW_NIC_AREA
#define HW_NIC_TX_RING	(HW_NIC_AREA + 0x200)
#define HW_NIC_RX_BUFS	(HW_NIC_AREA + 0x1000)
#define HW_NIC_TX_BUFS	(HW_NIC_RX_BUFS + HW_NIC_RING * HW_NIC_BUF)
#define HW_NIC_ECHO_PORT 7869		/* the guest echoes UDP sent to this port */

#endif
