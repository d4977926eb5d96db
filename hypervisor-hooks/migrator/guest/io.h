/* Guest-side types and port I/O (freestanding, no libc). */
#ifndef NM_GUEST_IO_H
#define NM_GUEST_IO_H

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

/* The memory clobbers matter: the VMM reads and writes the rings during
 * the I/O instruction. */
static inline u32 inl(u16 port)
{
	u32 v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void outl(u16 port, u32 v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

/* net.c: the NIC driver and the ARP / ICMP echo / UDP echo responder. */
void net_init(void);
void net_poll(void);

#endif
