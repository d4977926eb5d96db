/* The guest: a memory-dirtying workload the host steers through the control
 * device.  Freestanding, 32-bit, no libc. */
#include "../hw.h"

typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

void guest_main(void);
void iter_end(u32 n);

static struct {
	u32 iter;
	u32 cursor;
	u32 sum;
} g;

static inline u32 inl(u16 port)
{
	u32 v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void putc_(char c)
{
	outb(HW_SERIAL, (u8)c);
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void puthex(u32 v)
{
	int i;

	for (i = 28; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
}

void guest_main(void)
{
	puts_("netmove guest: up\n");
	for (;;) {
		u32 ws = inl(HW_CTL_WS), rate = inl(HW_CTL_RATE), i;

		for (i = 0; ws && i < rate; i++) {
			u32 page = g.cursor % ws;
			volatile u32 *w = (volatile u32 *)(HW_WS_BASE + page * HW_PAGE_SIZE +
							   ((g.iter * 4) & (HW_PAGE_SIZE - 4)));

			*w = g.iter * 2654435761u + page;
			g.sum += *w;
			g.cursor++;
		}
		g.iter++;
		if ((g.iter & 1023) == 0) {
			puts_("it ");
			puthex(g.iter);
			puts_(" sum ");
			puthex(g.sum);
			putc_('\n');
		}
		iter_end(g.iter);
	}
}
