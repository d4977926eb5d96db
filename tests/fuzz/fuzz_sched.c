/* libFuzzer harness: sched_load, the reader of netmoved's schedule file
 * (a file anyone with root can edit, read at every start).
 *
 * The input is the file.  Whatever it holds: only the documented errors
 * come out; what was read is in order, at most SCHED_MAX entries, each
 * with a window that does not end before it begins and an id no greater
 * than the last id given; and what was read, saved and read again is the
 * same schedule, entry for entry. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched.h"

static char path[64], path2[64];

static void write_all(const char *p, const uint8_t *data, size_t size)
{
	FILE *f = fopen(p, "w");

	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sched s = { 0 }, t = { 0 };
	unsigned line = 0;
	size_t i;
	int ret;

	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/fuzz_sched.%d", (int)getpid());
		snprintf(path2, sizeof(path2), "/tmp/fuzz_sched.%d.2", (int)getpid());
	}
	write_all(path, data, size);
	ret = sched_load(&s, path, &line);
	if (ret != 0 && ret != -EBADMSG && ret != -ENOMEM)
		abort();
	if (s.n > SCHED_MAX)
		abort();
	for (i = 0; i < s.n; i++) {
		if (!s.v[i].id || s.v[i].id > s.next_id || s.v[i].until_us < s.v[i].at_us ||
		    !s.v[i].port[0] || s.v[i].priority > 100)
			abort();
		if (i && (s.v[i].at_us < s.v[i - 1].at_us ||
			  (s.v[i].at_us == s.v[i - 1].at_us && s.v[i].id <= s.v[i - 1].id)))
			abort();
	}
	if (sched_save(&s, path2) != 0)
		abort();
	if (sched_load(&t, path2, &line) != 0 || t.n != s.n || t.next_id != s.next_id)
		abort();
	for (i = 0; i < s.n; i++)
		if (memcmp(&s.v[i], &t.v[i], sizeof(s.v[i])))
			abort();
	sched_free(&s);
	sched_free(&t);
	unlink(path);
	unlink(path2);
	return 0;
}
