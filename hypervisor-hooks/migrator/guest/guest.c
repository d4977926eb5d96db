/* The guest: a memory-dirtying workload the host steers through the control
 * device, answering the network between iterations when it has a NIC.
 * Freestanding, 32-bit, no libc. */
#include "../hw.h"
#include "io.h"

void guest_main(void);
void iter_end(u32 n);

static struct {
	u32 iter;
	u32 cursor;
	u32 sum;
	u32 net;
} g;

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
	g.net = inl(HW_CTL_NET) == 1;
	if (g.net) {
		net_init();
		puts_("netmove guest: nic up\n");
	}
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
		if (g.net)
			net_poll();
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
