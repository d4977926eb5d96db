#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "vs_hook.h"

pid_t vs_hook_spawn(const char *cmd, char *const vars[])
{
	sigset_t none;
	pid_t pid;
	int i;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		/* Also here: a kill of the group may come before the child runs. */
		setpgid(pid, pid);
		return pid;
	}
	/* The parent blocks its signals for signalfd and ignores SIGPIPE: both
	 * survive exec, and a hook must not inherit them. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own process group, so a timeout kills what the shell started too. */
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	for (i = 0; vars && vars[i]; i++)
		putenv(vars[i]);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

const char *vs_hook_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status %#x", status);
	return buf;
}
