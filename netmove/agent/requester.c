/* requester: who asked for a relocation (see requester.h). */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "requester.h"

/* src into dst, cut to fit: an identity or an origin longer than the
 * journal keeps loses its tail. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

static void comm_of(int pid, char *buf, size_t size)
{
	char path[40];
	ssize_t n = -1;
	int fd;

	buf[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	fd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		n = read(fd, buf, size - 1);
		close(fd);
	}
	if (n <= 0)
		n = 0;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

void requester_local(struct requester *q, unsigned uid, int pid)
{
	struct passwd pw, *res = NULL;
	char sbuf[1024];

	memset(q, 0, sizeof(*q));
	q->uid = uid;
	q->pid = pid;
	if (getpwuid_r((uid_t)uid, &pw, sbuf, sizeof(sbuf), &res) == 0 && res)
		copy_cut(q->user, sizeof(q->user), res->pw_name);
	comm_of(pid, q->program, sizeof(q->program));
}

void requester_peer(struct requester *q, const struct ctl_conn *c, const char *origin)
{
	memset(q, 0, sizeof(*q));
	q->peer = true;
	copy_cut(q->identity, sizeof(q->identity), c->peer_id[0] ? c->peer_id : c->peer);
	if (origin)
		copy_cut(q->origin, sizeof(q->origin), origin);
}

void requester_text(const struct requester *q, const char *host, char *buf, size_t size)
{
	char sched[40] = "";

	if (q->schedule_id)
		snprintf(sched, sizeof(sched), ", scheduled (%llu)",
			 (unsigned long long)q->schedule_id);
	if (q->peer)
		snprintf(buf, size, "peer %s on %s%s%s%s", q->identity, host,
			 q->origin[0] ? ", for " : "", q->origin, sched);
	else
		snprintf(buf, size, "user %s (uid %u), pid %d %s, on %s%s", q->user[0] ? q->user : "?",
			 q->uid, q->pid, q->program[0] ? q->program : "?", host, sched);
}

void requester_render(const struct requester *q, const char *key, struct out *o)
{
	out_obj_begin(o, key);
	if (q->peer) {
		out_str(o, "kind", "peer");
		out_str(o, "identity", q->identity);
		if (q->origin[0])
			out_str(o, "says_for", q->origin);
	} else {
		out_str(o, "kind", "local");
		out_str(o, "user", q->user);
		out_u64(o, "uid", q->uid);
		out_i64(o, "pid", q->pid);
		out_str(o, "program", q->program);
	}
	if (q->schedule_id) {
		out_u64(o, "schedule_id", q->schedule_id);
		out_u64(o, "scheduled_for_us", q->scheduled_us);
	}
	out_obj_end(o);
}
