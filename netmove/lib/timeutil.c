#include <errno.h>
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

void timeutil_sleep_until_mono(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ns / NSEC_PER_SEC),
		.tv_nsec = (long)(deadline_ns % NSEC_PER_SEC),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}
