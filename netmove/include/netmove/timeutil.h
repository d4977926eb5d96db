/* timeutil: clocks and sleeps in nanoseconds. */
#ifndef NETMOVE_TIMEUTIL_H
#define NETMOVE_TIMEUTIL_H

#include <stdint.h>

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

/* CLOCK_MONOTONIC in ns: for intervals inside one process. */
uint64_t timeutil_mono_ns(void);

/* CLOCK_REALTIME in ns: for instants compared across processes and with
 * packet capture timestamps. */
uint64_t timeutil_real_ns(void);

/* A CLOCK_MONOTONIC deadline timeout_ms from now; 0 (none) when
 * timeout_ms < 0. */
uint64_t timeutil_deadline_ms(int timeout_ms);

/* poll()'s timeout for a deadline from timeutil_deadline_ms: -1 for none,
 * 0 once it passed, else the milliseconds left rounded up. */
int timeutil_poll_ms(uint64_t deadline_ns);

/* Sleep until the given CLOCK_MONOTONIC instant (restarts on EINTR). */
void timeutil_sleep_until_mono(uint64_t deadline_ns);

#endif
