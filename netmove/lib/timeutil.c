#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netmove/timeutil.h"

static uint64_t now(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t timeutil_mono_ns(void)
{
	return now(CLOCK_MONOTONIC);
}

uint64_t timeutil_real_ns(void)
{
	return now(CLOCK_REALTIME);
}

uint64_t timeutil_deadline_ms(int timeout_ms)
{
	return timeout_ms < 0 ? 0 : timeutil_mono_ns() + (uint64_t)timeout_ms * NSEC_PER_MSEC;
}

int timeutil_poll_ms(uint64_t deadline_ns)
{
	uint64_t t;

	if (!deadline_ns)
		return -1;
	t = timeutil_mono_ns();
	return t >= deadline_ns ? 0 : (int)((deadline_ns - t + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

int timeutil_nap_until_mono(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(deadline_ns % NSEC_PER_SEC),
	};

	return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR ? -EINTR : 0;
}

void timeutil_sleep_until_mono(uint64_t deadline_ns)
{
	while (timeutil_nap_until_mono(deadline_ns) == -EINTR)
		;
}

int timeutil_parse_span(const char *s, uint64_t *out_ns)
{
	static const struct {
		char unit;
		uint64_t ns;
	} units[] = { { 's', NSEC_PER_SEC }, { 'm', 60 * NSEC_PER_SEC },
		      { 'h', 3600 * NSEC_PER_SEC }, { 'd', 86400 * NSEC_PER_SEC } };
	unsigned long long n;
	char *end;
	size_t i;

	if (!s || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end[0] == 0 || end[1] != 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == end[0])
			break;
	if (i == sizeof(units) / sizeof(units[0]) || n > UINT64_MAX / units[i].ns)
		return -EINVAL;
	*out_ns = n * units[i].ns;
	return 0;
}

/* "-SPAN" before now_ns or "+SPAN" after it. */
static int parse_offset(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	uint64_t span;

	if (timeutil_parse_span(s + 1, &span) < 0)
		return -EINVAL;
	if (s[0] == '-' ? span > now_ns : span > UINT64_MAX - now_ns)
		return -EINVAL;
	*out_ns = s[0] == '-' ? now_ns - span : now_ns + span;
	return 0;
}

int timeutil_parse_real(const char *s, uint64_t now_ns, uint64_t *out_ns)
{
	static const char *const forms[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					     "%Y-%m-%d" };
	unsigned long long secs;
	struct tm tm;
	const char *end;
	char *e;
	time_t t;
	size_t i;

	if (!s || !*s)
		return -EINVAL;
	if (!strcmp(s, "now")) {
		*out_ns = now_ns;
		return 0;
	}
	if (s[0] == '-' || s[0] == '+')
		return parse_offset(s, now_ns, out_ns);
	if (s[0] == '@') {
		if (s[1] < '0' || s[1] > '9')
			return -EINVAL;
		errno = 0;
		secs = strtoull(s + 1, &e, 10);
		if (errno || *e || secs > UINT64_MAX / NSEC_PER_SEC)
			return -EINVAL;
		*out_ns = secs * NSEC_PER_SEC;
		return 0;
	}
	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, forms[i], &tm);
		if (!end)
			continue;
		if (*end == 'Z' && i < 2)
			end++;
		if (*end)
			continue;
		t = timegm(&tm);
		if (t < 0)
			return -EINVAL;
		*out_ns = (uint64_t)t * NSEC_PER_SEC;
		return 0;
	}
	return -EINVAL;
}

char *timeutil_format_real(uint64_t ns, char *buf, size_t size)
{
	time_t t = (time_t)(ns / NSEC_PER_SEC);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "@%llu", (unsigned long long)(ns / NSEC_PER_SEC));
	return buf;
}
