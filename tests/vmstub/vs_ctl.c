#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vs_ctl.h"

static int addr_init(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

static int connect_to(const char *path, int flags)
{
	struct sockaddr_un sun;
	int fd, ret;

	ret = addr_init(&sun, path);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int vs_ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, ret;

	ret = addr_init(&sun, path);
	if (ret < 0)
		return ret;
	fd = connect_to(path, 0);
	if (fd >= 0) {
		close(fd);
		return -EADDRINUSE;
	}
	if (fd == -ECONNREFUSED) {
		struct stat st;

		if (lstat(path, &st) < 0)
			return -errno;
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return -errno;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* bind() creates the file: no window in which it is group/world accessible. */
	old_mask = umask(077);
	ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (ret < 0 || chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
		ret = -errno;
		goto out;
	}
	return fd;
out:
	close(fd);
	return ret;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int vs_ctl_request(const char *path, const char *line, char *reply, size_t len,
		   int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char out[VS_CTL_LINE_MAX];
	size_t got = 0, n;
	struct pollfd pfd;
	char *nl;
	ssize_t r;
	int fd, ret;

	if (len < 2)
		return -EINVAL;
	n = (size_t)snprintf(out, sizeof(out), "%s\n", line);
	if (n >= sizeof(out))
		return -E2BIG;
	fd = connect_to(path, 0);
	if (fd < 0)
		return fd;
	if (send(fd, out, n, MSG_NOSIGNAL) != (ssize_t)n) {
		ret = errno ? -errno : -EIO;
		goto out;
	}
	for (;;) {
		long long left = deadline - now_ms();

		if (left <= 0) {
			ret = -ETIMEDOUT;
			goto out;
		}
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		ret = poll(&pfd, 1, (int)left);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		if (ret <= 0)
			continue;
		r = recv(fd, reply + got, len - 1 - got, 0);
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (r == 0) {
			ret = -ECONNRESET;
			goto out;
		}
		got += (size_t)r;
		reply[got] = '\0';
		nl = strchr(reply, '\n');
		if (nl) {
			*nl = '\0';
			ret = 0;
			goto out;
		}
		if (got == len - 1) {
			ret = -EMSGSIZE;
			goto out;
		}
	}
out:
	close(fd);
	return ret;
}
