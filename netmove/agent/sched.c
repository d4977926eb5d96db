/* sched: the schedule's store and its file (see sched.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "sched.h"
#include "netmove/agentc.h"
#include "netmove/journal.h"
#include "netmove/proto.h"

void sched_free(struct sched *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool before(const struct sched_entry *x, const struct sched_entry *y)
{
	return x->at_us < y->at_us || (x->at_us == y->at_us && x->id < y->id);
}

/* Insert e in order (room for it is there). */
static void insert(struct sched *s, const struct sched_entry *e)
{
	size_t i = s->n;

	while (i > 0 && before(e, &s->v[i - 1]))
		i--;
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = *e;
	s->n++;
}

static int make_room(struct sched *s)
{
	struct sched_entry *v;

	if (s->n >= SCHED_MAX)
		return -ENOSPC;
	v = realloc(s->v, (s->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->v = v;
	return 0;
}

int sched_add(struct sched *s, struct sched_entry *e)
{
	int ret = make_room(s);

	if (ret < 0)
		return ret;
	e->id = ++s->next_id;
	insert(s, e);
	return 0;
}

static void take(struct sched *s, size_t i, struct sched_entry *out)
{
	if (out)
		*out = s->v[i];
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

int sched_cancel(struct sched *s, uint64_t id, struct sched_entry *out)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->v[i].id == id) {
			take(s, i, out);
			return 0;
		}
	}
	return -ENOENT;
}

bool sched_take_due(struct sched *s, uint64_t now_us, struct sched_entry *out)
{
	if (!s->n || s->v[0].at_us > now_us)
		return false;
	take(s, 0, out);
	return true;
}

int64_t sched_next_ms(const struct sched *s, uint64_t now_us)
{
	if (!s->n)
		return -1;
	if (s->v[0].at_us <= now_us)
		return 0;
	return (int64_t)((s->v[0].at_us - now_us + 999) / 1000);
}

int sched_request(const struct sched_entry *e, struct ctl_msg *m)
{
	int ret;

	if (e->pull)
		ret = agentc_pull_msg(m, &e->mac, e->ip, e->port, e->host[0] ? e->host : NULL);
	else
		ret = agentc_relocate_msg(m, &e->mac, e->ip, e->host, e->port,
					  e->dst_port[0] ? e->dst_port : NULL);
	if (ret == 0)
		ret = ctl_put_u64(m, A_PRIORITY, e->priority);
	return ret;
}

/* The fields the file and sched_render share. */
static void render_request(const struct sched_entry *e, struct out *o)
{
	char m[MAC_STRLEN], ip[INET_ADDRSTRLEN];

	out_u64(o, "schedule_id", e->id);
	out_str(o, "kind", e->pull ? "pull" : "relocate");
	out_str(o, "mac", mac_format(&e->mac, m));
	out_str(o, "ip", inet_ntop(AF_INET, &e->ip, ip, sizeof(ip)));
	if (e->pull || e->host[0])
		out_str(o, e->pull ? "from" : "to", e->host);
	out_str(o, "port", e->port);
	if (e->dst_port[0])
		out_str(o, "dst_port", e->dst_port);
	out_u64(o, "priority", e->priority);
	out_u64(o, "at_us", e->at_us);
	out_u64(o, "until_us", e->until_us);
	out_u64(o, "created_us", e->created_us);
}

void sched_render(const struct sched_entry *e, struct out *o)
{
	render_request(e, o);
	requester_render(&e->by, "requested_by", o);
}

/* One entry's line: its request, and who asked as flat fields (the file's
 * reader, journal_field, reads the top level only). */
static void write_entry(const struct sched_entry *e, FILE *f)
{
	struct out o;

	out_init(&o, f, true);
	render_request(e, &o);
	out_u64(&o, "by_peer", e->by.peer);
	out_str(&o, "by_identity", e->by.identity);
	out_str(&o, "by_origin", e->by.origin);
	out_u64(&o, "by_uid", e->by.uid);
	out_i64(&o, "by_pid", e->by.pid);
	out_str(&o, "by_user", e->by.user);
	out_str(&o, "by_program", e->by.program);
	out_finish(&o);
}

int sched_save(const struct sched *s, const char *path)
{
	char tmp[4096];
	FILE *f;
	size_t i;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		goto fail;
	}
	for (i = 0; i < s->n; i++)
		write_entry(&s->v[i], f);
	fprintf(f, "{\"last_id\":%llu}\n", (unsigned long long)s->next_id);
	if (fflush(f) != 0 || fsync(fd) < 0)
		ret = -errno;
	if (fclose(f) != 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (!ret)
		return 0;
fail:
	unlink(tmp);
	return ret;
}

static int field_u64(const char *line, const char *key, uint64_t *v)
{
	char buf[32], *end;

	if (journal_field(line, key, buf, sizeof(buf)) <= 0 || buf[0] < '0' || buf[0] > '9')
		return -EBADMSG;
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || *end ? -EBADMSG : 0;
}

/* A string field (its length may be 0): 0, -ENOENT (absent) or -EBADMSG;
 * buf is all zeros unless it is there. */
static int field_str(const char *line, const char *key, char *buf, size_t size)
{
	int ret = journal_field(line, key, buf, size);

	if (ret >= 0)
		return 0;
	memset(buf, 0, size);
	return ret == -ENOENT ? -ENOENT : -EBADMSG;
}

static int read_entry(const char *line, struct sched_entry *e)
{
	char kind[16], mac[MAC_STRLEN + 8], ip[INET_ADDRSTRLEN + 8];
	uint64_t prio, uid, pid, peer;
	int ret;

	memset(e, 0, sizeof(*e));
	if (field_u64(line, "schedule_id", &e->id) < 0 || !e->id ||
	    field_str(line, "kind", kind, sizeof(kind)) < 0 ||
	    (strcmp(kind, "pull") && strcmp(kind, "relocate")) ||
	    field_str(line, "mac", mac, sizeof(mac)) < 0 || mac_parse(mac, &e->mac) < 0 ||
	    field_str(line, "ip", ip, sizeof(ip)) < 0 || inet_pton(AF_INET, ip, &e->ip) != 1 ||
	    field_str(line, "port", e->port, sizeof(e->port)) < 0 || !e->port[0] ||
	    field_u64(line, "priority", &prio) < 0 || prio > PROTO_PRIORITY_MAX ||
	    field_u64(line, "at_us", &e->at_us) < 0 || field_u64(line, "until_us", &e->until_us) < 0 ||
	    e->until_us < e->at_us || field_u64(line, "created_us", &e->created_us) < 0 ||
	    field_u64(line, "by_peer", &peer) < 0 || peer > 1 ||
	    field_str(line, "by_identity", e->by.identity, sizeof(e->by.identity)) < 0 ||
	    field_str(line, "by_origin", e->by.origin, sizeof(e->by.origin)) < 0 ||
	    field_u64(line, "by_uid", &uid) < 0 || uid > UINT32_MAX ||
	    field_u64(line, "by_pid", &pid) < 0 || pid > INT32_MAX ||
	    field_str(line, "by_user", e->by.user, sizeof(e->by.user)) < 0 ||
	    field_str(line, "by_program", e->by.program, sizeof(e->by.program)) < 0)
		return -EBADMSG;
	e->pull = !strcmp(kind, "pull");
	e->priority = (unsigned)prio;
	e->by.peer = peer;
	e->by.uid = (unsigned)uid;
	e->by.pid = (int)pid;
	/* A pull may name no source (any peer); a relocate has the same port
	 * there if it names none. */
	ret = field_str(line, e->pull ? "from" : "to", e->host, sizeof(e->host));
	if (ret == -EBADMSG || (ret < 0 && !e->pull))
		return -EBADMSG;
	return field_str(line, "dst_port", e->dst_port, sizeof(e->dst_port)) == -EBADMSG ?
		       -EBADMSG : 0;
}

static bool has_id(const struct sched *s, uint64_t id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i].id == id)
			return true;
	return false;
}

struct loader {
	struct sched *s;
	unsigned line;		/* lines read */
	bool last;		/* the last_id line was read: nothing may follow */
};

static int load_line(const char *line, void *arg)
{
	struct loader *l = arg;
	struct sched_entry e;
	uint64_t last;
	int ret;

	l->line++;
	if (l->last)
		return -EBADMSG;
	if (field_u64(line, "last_id", &last) == 0) {
		if (last < l->s->next_id)
			return -EBADMSG;
		l->s->next_id = last;
		l->last = true;
		return 0;
	}
	if (read_entry(line, &e) < 0 || has_id(l->s, e.id))
		return -EBADMSG;	/* not an entry, or an id given twice */
	ret = make_room(l->s);
	if (ret < 0)
		return ret;
	insert(l->s, &e);
	if (e.id > l->s->next_id)
		l->s->next_id = e.id;
	return 0;
}

int sched_load(struct sched *s, const char *path, unsigned *line)
{
	struct loader l = { .s = s };
	int ret = journal_read(path, load_line, &l);

	if (ret == 0 && l.line && !l.last) {
		l.line++;	/* cut short: its last line is missing */
		ret = -EBADMSG;
	}
	*line = l.line;
	return ret;
}
