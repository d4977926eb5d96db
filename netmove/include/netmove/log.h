/* log: the daemons' and hooks' log lines on stderr, one per call:
 *   "HH:MM:SS.uuuuuu WHO: text"  (UTC)
 * written with a single write, so that lines from several threads or
 * processes sharing a log file never interleave. */
#ifndef NETMOVE_LOG_H
#define NETMOVE_LOG_H

#include <stdarg.h>

/* One line from who (e.g. "nm-qemu", "netmoved[hosta]"); text longer than
 * LOG_LINE_MAX is cut. */
void log_line(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vline(const char *who, const char *fmt, va_list ap);

#define LOG_LINE_MAX 1024

#endif
