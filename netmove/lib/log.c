#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "netmove/log.h"

void log_vline(const char *who, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX + 80];
	struct timespec ts;
	size_t n, room;
	struct tm tm;
	int k;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(line, sizeof(line), "%02d:%02d:%02d.%06ld %s: ", tm.tm_hour, tm.tm_min,
		     tm.tm_sec, ts.tv_nsec / 1000, who);
	if (k < 0 || (size_t)k >= sizeof(line) - 1)
		return;
	n = (size_t)k;
	room = sizeof(line) - n - 1;	/* the newline's byte kept */
	k = vsnprintf(line + n, room, fmt, ap);
	if (k < 0)
		return;
	n += (size_t)k < room ? (size_t)k : room - 1;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to say it */
	}
}

void log_line(const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(who, fmt, ap);
	va_end(ap);
}
