/* timeutil: clocks and sleeps in nanoseconds. */
#ifndef NETMOVE_TIMEUTIL_H
#define NETMOVE_TIMEUTIL_H

#include <stddef.h>
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

/* A wall-clock instant as an operator writes it, into CLOCK_REALTIME ns:
 * "2026-12-03T08:00:00Z" or "2026-12-03 08:00:00" (UTC; the Z is optional,
 * no other zone), "2026-12-03" (its midnight, UTC), "@1796284800" (seconds
 * since the epoch), "now", or a span from now_ns: "-15m" (ago), "+2h"
 * (ahead), units s, m, h, d.  Returns 0 or -EINVAL. */
int timeutil_parse_real(const char *s, uint64_t now_ns, uint64_t *out_ns);

/* A span as an operator writes it: a whole number and a unit, s, m, h or
 * d ("90s", "15m", "2h"), into ns.  Returns 0 or -EINVAL. */
int timeutil_parse_span(const char *s, uint64_t *out_ns);

/* CLOCK_REALTIME ns as timeutil_parse_real reads it back, to the second:
 * "2026-12-03T08:00:00Z", into buf (TIMEUTIL_REAL_LEN bytes); returns buf. */
#define TIMEUTIL_REAL_LEN 32
char *timeutil_format_real(uint64_t ns, char *buf, size_t size);

/* Sleep until the given CLOCK_MONOTONIC instant (restarts on EINTR). */
void timeutil_sleep_until_mono(uint64_t deadline_ns);

/* The same, once: 0, or -EINTR when a signal woke it first. */
int timeutil_nap_until_mono(uint64_t deadline_ns);

#endif
