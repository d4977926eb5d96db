#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "vs_hook.h"
#include "vs_json.h"
#include "vmstub.h"

static void client_lines(struct vmstub *vs, struct vs_client *c);

static struct vs_client *client_by_id(struct vmstub *vs, unsigned int id)
{
	int i;

	for (i = 0; i < VS_MAX_CLIENTS; i++)
		if (vs->cl[i].fd >= 0 && vs->cl[i].id == id)
			return &vs->cl[i];
	return NULL;
}

void cmd_close(struct vs_client *c)
{
	close(c->fd);
	c->fd = -1;
	c->waiting = false;
	c->len = 0;
}

static void client_send(struct vs_client *c, const char *line, int len)
{
	fprintf(stderr, "nm-vmstub: reply %.*s", len, line);
	if (len < 0 || send(c->fd, line, (size_t)len, MSG_NOSIGNAL) != len)
		cmd_close(c);
}

static void reply_error(struct vs_client *c, const char *cmd, const char *msg)
{
	char buf[VS_CTL_LINE_MAX];
	struct vs_json j;

	vs_json_init(&j, buf, sizeof(buf));
	vs_json_bool(&j, "ok", false);
	vs_json_str(&j, "cmd", cmd);
	vs_json_str(&j, "error", msg);
	client_send(c, buf, vs_json_end(&j));
}

static void counters_json(struct vmstub *vs, struct vs_json *j)
{
	vs_json_u64(j, "h2g_frames", vs->st.h2g_frames);
	vs_json_u64(j, "h2g_bytes", vs->st.h2g_bytes);
	vs_json_u64(j, "g2h_frames", vs->st.g2h_frames);
	vs_json_u64(j, "g2h_bytes", vs->st.g2h_bytes);
	vs_json_u64(j, "dropped", vs->st.dropped);
	vs_json_u64(j, "discarded", vs->st.discarded);
}

static void pause_json(struct vmstub *vs, struct vs_json *j)
{
	vs_json_str(j, "state", vm_state_names[vs->state]);
	vs_json_u64(j, "pause_start_us", vs->st.pause_start_us);
	vs_json_u64(j, "hook_done_us", vs->st.hook_done_us);
	vs_json_u64(j, "pause_stop_us", vs->st.pause_stop_us);
	vs_json_u64(j, "drained_frames", vs->st.drained_frames);
	vs_json_u64(j, "drained_bytes", vs->st.drained_bytes);
	counters_json(vs, j);
}

/* Start the blackout hook with its timeout; its PID or -errno. */
static pid_t blackout_hook_start(struct vmstub *vs)
{
	pid_t pid = vm_hook_start(vs, vs->o.hook_blackout, "blackout");

	if (pid > 0) {
		vs->hook_pid = pid;
		vs->hook_killed = false;
		vs->hook_deadline = vm_mono_ms() + VS_HOOK_TIMEOUT_MS;
	}
	return pid;
}

/* pause late MS, QEMU's order: the VM stops at once and leaves what is
 * queued on its tap unread; the blackout hook runs MS ms later. */
static int pause_late(struct vmstub *vs, struct vs_client *c, struct vs_json *j, long long ms)
{
	vs->state = VS_PAUSED;
	vs->st.pause_stop_us = vm_now_us();
	vs->st.pauses++;
	if (!vs->o.hook_blackout) {
		pause_json(vs, j);
		return 0;
	}
	vs->late = true;
	vs->hook_at = vm_mono_ms() + ms;
	vs->hook_client = c->id;
	c->waiting = true;
	return 1;
}

/* Start the hook of a late pause when its time has come. */
void cmd_late_hook(struct vmstub *vs)
{
	struct vs_client *c;
	pid_t pid;

	if (!vs->hook_at || vm_mono_ms() < vs->hook_at)
		return;
	vs->hook_at = 0;
	pid = blackout_hook_start(vs);
	if (pid > 0)
		return;
	vs->late = false;
	vm_err(vs, pid, "starting the blackout hook");
	c = client_by_id(vs, vs->hook_client);
	if (c) {
		c->waiting = false;
		reply_error(c, "pause", vs->err);
		client_lines(vs, c);
	}
}

static int cmd_pause(struct vmstub *vs, struct vs_client *c, int argc, char **argv,
		     struct vs_json *j)
{
	long long late = -1;
	char *end;
	pid_t pid;
	int ret;

	if ((argc == 3 || (argc == 4 && (!strcmp(argv[3], "keep") || !strcmp(argv[3], "drop") ||
					 !strcmp(argv[3], "drop-lengths")))) &&
	    !strcmp(argv[1], "late")) {
		late = strtoll(argv[2], &end, 10);
		if (*end || !*argv[2] || late < 0 || late > VS_HOOK_TIMEOUT_MS)
			return vm_fail(vs, -EINVAL, "pause late: MS must be 0..%d", VS_HOOK_TIMEOUT_MS);
	} else if (argc != 1) {
		return vm_fail(vs, -EINVAL, "usage: pause [late MS [keep|drop|drop-lengths]]");
	}
	if (vs->state != VS_RUNNING)
		return vm_fail(vs, -EALREADY, "state is %s", vm_state_names[vs->state]);
	vs->st.pause_start_us = vm_now_us();
	vs->st.hook_done_us = 0;
	vs->st.drained_frames = vs->st.drained_bytes = 0;
	vs->keep_one = argc == 4;
	vs->drop_first = argc == 4 && strncmp(argv[3], "drop", 4) == 0;
	vs->no_anchor = argc == 4 && !strcmp(argv[3], "drop-lengths");
	vs->dropped = false;
	free(vs->kept);
	vs->kept = NULL;
	if (late >= 0)
		return pause_late(vs, c, j, late);
	if (!vs->o.hook_blackout) {
		ret = vm_pause_finish(vs);
		if (ret < 0)
			return ret;
		pause_json(vs, j);
		return 0;
	}
	/* The VM keeps running while the hook arms the buffer. */
	pid = blackout_hook_start(vs);
	if (pid < 0)
		return vm_err(vs, pid, "starting the blackout hook");
	vs->hook_client = c->id;
	vs->state = VS_PAUSING;
	c->waiting = true;
	return 1;
}

void cmd_hook_exited(struct vmstub *vs, int status)
{
	struct vs_client *c = client_by_id(vs, vs->hook_client);
	char buf[VS_CTL_LINE_MAX], how[32];
	struct vs_json j;
	int ret;

	vs->hook_pid = 0;
	if (vs->late) {
		/* Stopped already, as QEMU is when it reports STOP: stays stopped. */
		vs->late = false;
		if (vs->hook_killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			vm_fail(vs, 0, "blackout hook %s",
				vs->hook_killed ? "timed out" :
						  vs_hook_status(status, how, sizeof(how)));
			ret = -ECANCELED;
		} else {
			vs->st.hook_done_us = vm_now_us();
			ret = 0;
		}
	} else if (vs->hook_killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vs->state = VS_RUNNING;
		if (vs->hook_killed)
			vm_fail(vs, 0, "blackout hook timed out after %d ms", VS_HOOK_TIMEOUT_MS);
		else
			vm_fail(vs, 0, "blackout hook failed (%s)",
				vs_hook_status(status, how, sizeof(how)));
		ret = -ECANCELED;
	} else {
		vs->st.hook_done_us = vm_now_us();
		ret = vm_pause_finish(vs);
	}
	if (!c)
		return;
	c->waiting = false;
	if (ret < 0) {
		reply_error(c, "pause", vs->err);
	} else {
		vs_json_init(&j, buf, sizeof(buf));
		vs_json_bool(&j, "ok", true);
		vs_json_str(&j, "cmd", "pause");
		pause_json(vs, &j);
		client_send(c, buf, vs_json_end(&j));
	}
	/* Commands it sent while waiting. */
	client_lines(vs, c);
}

static int slot_arg(struct vmstub *vs, const char *arg, int *slot)
{
	if (!strcmp(arg, "src"))
		*slot = VS_SRC;
	else if (!strcmp(arg, "dst"))
		*slot = VS_DST;
	else
		return vm_fail(vs, -EINVAL, "expected src or dst, not '%s'", arg);
	return 0;
}

static int cmd_prepare(struct vmstub *vs, int argc, char **argv, struct vs_json *j)
{
	struct vs_tap *t = &vs->tap[VS_DST];
	int ret;

	if (argc != 3)
		return vm_fail(vs, -EINVAL, "usage: prepare NS TAP");
	if (t->fd >= 0)
		return vm_fail(vs, -EBUSY, "dst tap %s in %s already prepared", t->name, t->ns);
	ret = vm_host_tap_open(vs, argv[1], argv[2], t);
	if (ret < 0)
		return ret;
	vs_json_str(j, "ns", t->ns);
	vs_json_str(j, "tap", t->name);
	vs_json_u64(j, "txqlen", (uint64_t)vs->o.txqlen);
	return 0;
}

static int cmd_resume(struct vmstub *vs, int argc, char **argv, struct vs_json *j)
{
	int slot = vs->tap[VS_DST].fd >= 0 ? VS_DST : VS_SRC, ret;
	const char *hook_error = NULL, *announce_error = NULL;
	char msg[sizeof(vs->err)], amsg[128];
	bool announced = false;
	pid_t pid;

	if (argc > 2)
		return vm_fail(vs, -EINVAL, "usage: resume [src|dst]");
	if (argc == 2 && (ret = slot_arg(vs, argv[1], &slot)) < 0)
		return ret;
	if (vs->state != VS_PAUSED)
		return vm_fail(vs, -EINVAL, "not paused (state is %s)", vm_state_names[vs->state]);
	if (vs->tap[slot].fd < 0)
		return vm_fail(vs, -ENOENT, "no %s tap", vm_slot_names[slot]);
	/* What QEMU kept it delivers first when the VM runs on here; a VM that
	 * runs on elsewhere never gets it. */
	if (vs->kept && slot == vs->active &&
	    write(vs->guest_fd, vs->kept, (size_t)vs->kept_len) != vs->kept_len)
		vs->st.dropped++;
	free(vs->kept);
	vs->kept = NULL;
	vs->active = slot;
	vs->state = VS_RUNNING;
	vs->st.resume_us = vm_now_us();
	/* As in QEMU, a failed announcement does not stop the VM from running. */
	if (vs->o.announce) {
		ret = vm_announce(vs, vs->tap[slot].fd);
		if (ret < 0) {
			snprintf(amsg, sizeof(amsg), "%s", strerror(-ret));
			announce_error = amsg;
		} else {
			announced = true;
			vs->st.announces++;
		}
	}
	vs->st.resumes++;
	if (vs->o.hook_resumed) {
		/* Not waited for: the VM runs while its hook does. */
		pid = vm_hook_start(vs, vs->o.hook_resumed, "resumed");
		if (pid < 0) {
			snprintf(msg, sizeof(msg), "starting the resumed hook: %s", strerror(-pid));
			hook_error = msg;
		}
	}
	vs_json_str(j, "state", vm_state_names[vs->state]);
	vs_json_str(j, "active", vm_slot_names[slot]);
	vs_json_str(j, "ns", vs->tap[slot].ns);
	vs_json_str(j, "tap", vs->tap[slot].name);
	vs_json_bool(j, "announced", announced);
	if (announce_error)
		vs_json_str(j, "announce_error", announce_error);
	vs_json_u64(j, "resume_us", vs->st.resume_us);
	vs_json_u64(j, "paused_us", vs->st.resume_us - vs->st.pause_stop_us);
	if (hook_error)
		vs_json_str(j, "hook_error", hook_error);
	return 0;
}

static int cmd_release(struct vmstub *vs, int argc, char **argv, struct vs_json *j)
{
	struct vs_tap *t;
	uint64_t n;
	int slot = VS_SRC, ret;

	if (argc != 2)
		return vm_fail(vs, -EINVAL, "usage: release src|dst");
	ret = slot_arg(vs, argv[1], &slot);
	if (ret < 0)
		return ret;
	t = &vs->tap[slot];
	if (t->fd < 0)
		return vm_fail(vs, -ENOENT, "no %s tap", vm_slot_names[slot]);
	if (slot == vs->active)
		return vm_fail(vs, -EBUSY, "%s is the active tap", vm_slot_names[slot]);
	/* What still sits in its queue is what a real migration loses at the source. */
	n = vm_discard(t->fd, vs->o.txqlen + VS_BATCH);
	vs->st.discarded += n;
	vs_json_str(j, "released", vm_slot_names[slot]);
	vs_json_str(j, "ns", t->ns);
	vs_json_str(j, "tap", t->name);
	vs_json_u64(j, "discarded_frames", n);
	close(t->fd);
	t->fd = -1;
	if (slot == VS_SRC) {
		/* The destination becomes the source of the next migration. */
		vs->tap[VS_SRC] = vs->tap[VS_DST];
		vs->tap[VS_DST].fd = -1;
		vs->active = VS_SRC;
	}
	return 0;
}

static void cmd_stats(struct vmstub *vs, struct vs_json *j)
{
	const struct vs_tap *a = &vs->tap[vs->active], *d = &vs->tap[VS_DST];
	bool prepared = vs->active != VS_DST && d->fd >= 0;

	vs_json_str(j, "state", vm_state_names[vs->state]);
	vs_json_str(j, "active", vm_slot_names[vs->active]);
	vs_json_str(j, "active_ns", a->ns);
	vs_json_str(j, "active_tap", a->name);
	vs_json_str(j, "prepared_ns", prepared ? d->ns : NULL);
	vs_json_str(j, "prepared_tap", prepared ? d->name : NULL);
	counters_json(vs, j);
	vs_json_u64(j, "pauses", vs->st.pauses);
	vs_json_u64(j, "resumes", vs->st.resumes);
	vs_json_u64(j, "announces", vs->st.announces);
	vs_json_u64(j, "pause_start_us", vs->st.pause_start_us);
	vs_json_u64(j, "hook_done_us", vs->st.hook_done_us);
	vs_json_u64(j, "pause_stop_us", vs->st.pause_stop_us);
	vs_json_u64(j, "resume_us", vs->st.resume_us);
	vs_json_u64(j, "drained_frames", vs->st.drained_frames);
}

#define VS_MAX_ARGS 4

static void handle_line(struct vmstub *vs, struct vs_client *c, char *line)
{
	char buf[VS_CTL_LINE_MAX], *argv[VS_MAX_ARGS + 1], *save = NULL, *tok;
	struct vs_json j;
	int argc = 0, ret;

	for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		if (argc == VS_MAX_ARGS) {
			reply_error(c, argv[0], "too many arguments");
			return;
		}
		argv[argc++] = tok;
	}
	if (!argc)
		return;
	fprintf(stderr, "nm-vmstub: command %s%s%s%s%s\n", argv[0], argc > 1 ? " " : "",
		argc > 1 ? argv[1] : "", argc > 2 ? " " : "", argc > 2 ? argv[2] : "");
	vs_json_init(&j, buf, sizeof(buf));
	vs_json_bool(&j, "ok", true);
	vs_json_str(&j, "cmd", argv[0]);
	vs->err[0] = '\0';
	if (!strcmp(argv[0], "pause")) {
		ret = cmd_pause(vs, c, argc, argv, &j);
	} else if (!strcmp(argv[0], "prepare")) {
		ret = cmd_prepare(vs, argc, argv, &j);
	} else if (!strcmp(argv[0], "resume")) {
		ret = vs->state == VS_PAUSING || vs->late ? vm_fail(vs, -EBUSY, "pause in progress") :
						cmd_resume(vs, argc, argv, &j);
	} else if (!strcmp(argv[0], "release")) {
		ret = cmd_release(vs, argc, argv, &j);
	} else if (!strcmp(argv[0], "stats")) {
		cmd_stats(vs, &j);
		ret = 0;
	} else if (!strcmp(argv[0], "quit")) {
		vs->quit = true;
		ret = 0;
	} else {
		ret = vm_fail(vs, -EINVAL, "unknown command '%s' (pause prepare resume release "
			   "stats quit)", argv[0]);
	}
	if (ret < 0)
		reply_error(c, argv[0], vs->err);
	else if (ret == 0)
		client_send(c, buf, vs_json_end(&j));
}

/* Handle the complete lines buffered for a client, unless a reply is pending. */
static void client_lines(struct vmstub *vs, struct vs_client *c)
{
	char *nl;
	size_t n;

	while (c->fd >= 0 && !c->waiting && (nl = memchr(c->buf, '\n', c->len))) {
		*nl = '\0';
		n = (size_t)(nl - c->buf) + 1;
		handle_line(vs, c, c->buf);
		if (c->fd < 0)
			return;
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
	}
	if (c->fd >= 0 && c->len == sizeof(c->buf) - 1) {
		reply_error(c, "", "command line too long");
		if (c->fd >= 0)
			cmd_close(c);
	}
}

void cmd_input(struct vmstub *vs, struct vs_client *c)
{
	ssize_t n;

	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		cmd_close(c);
		return;
	}
	c->len += (size_t)n;
	client_lines(vs, c);
}

void cmd_accept(struct vmstub *vs)
{
	int fd, i;

	fd = accept4(vs->ctl_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < VS_MAX_CLIENTS; i++) {
		if (vs->cl[i].fd < 0) {
			vs->cl[i].fd = fd;
			vs->cl[i].id = ++vs->next_id;
			vs->cl[i].len = 0;
			vs->cl[i].waiting = false;
			return;
		}
	}
	close(fd);
}
