#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "netmove/be.h"
#include "netmove/ctl.h"
#include "netmove/timeutil.h"
#include "ctl_tls.h"


void ctl_msg_init(struct ctl_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

void ctl_msg_free(struct ctl_msg *m)
{
	free(m->body);
	memset(m, 0, sizeof(*m));
}

void ctl_msg_reset(struct ctl_msg *m, uint16_t type)
{
	m->type = type;
	m->len = 0;
	m->seq = 0;
}

static int reserve(struct ctl_msg *m, size_t more)
{
	size_t cap = m->cap ? m->cap : 256;
	uint8_t *p;

	if (m->len + more > CTL_MAX_BODY)
		return -EMSGSIZE;
	if (m->len + more <= m->cap)
		return 0;
	while (cap < m->len + more)
		cap *= 2;
	p = realloc(m->body, cap);
	if (!p)
		return -ENOMEM;
	m->body = p;
	m->cap = cap;
	return 0;
}

/* Append an attribute header for len bytes; *val: where the value goes. */
static int attr_add(struct ctl_msg *m, uint16_t tag, size_t len, uint8_t **val)
{
	int ret;

	if (len > CTL_MAX_BODY)
		return -EMSGSIZE;
	ret = reserve(m, CTL_ATTR_HDR_LEN + len);
	if (ret < 0)
		return ret;
	be_put16(m->body + m->len, tag);
	be_put32(m->body + m->len + 2, (uint32_t)len);
	*val = m->body + m->len + CTL_ATTR_HDR_LEN;
	m->len += CTL_ATTR_HDR_LEN + len;
	return 0;
}

void *ctl_put_reserve(struct ctl_msg *m, uint16_t tag, size_t len)
{
	uint8_t *val;

	return attr_add(m, tag, len, &val) ? NULL : val;
}

int ctl_put(struct ctl_msg *m, uint16_t tag, const void *v, size_t len)
{
	uint8_t *val;
	int ret;

	if (len && !v)
		return -EINVAL;
	ret = attr_add(m, tag, len, &val);
	if (!ret && len)
		memcpy(val, v, len);
	return ret;
}

int ctl_put_u64(struct ctl_msg *m, uint16_t tag, uint64_t v)
{
	uint8_t b[8];

	be_put64(b, v);
	return ctl_put(m, tag, b, sizeof(b));
}

int ctl_put_str(struct ctl_msg *m, uint16_t tag, const char *s)
{
	return ctl_put(m, tag, s, strlen(s));
}

int ctl_next(const struct ctl_msg *m, size_t *off, uint16_t *tag, const void **v, size_t *len)
{
	uint32_t l;

	if (*off + CTL_ATTR_HDR_LEN > m->len)
		return 0;
	l = be_get32(m->body + *off + 2);
	if (l > m->len - *off - CTL_ATTR_HDR_LEN)
		return 0;
	*tag = be_get16(m->body + *off);
	*v = m->body + *off + CTL_ATTR_HDR_LEN;
	*len = l;
	*off += CTL_ATTR_HDR_LEN + l;
	return 1;
}

int ctl_body_check(const uint8_t *body, size_t len)
{
	size_t off = 0;

	while (off < len) {
		if (len - off < CTL_ATTR_HDR_LEN || be_get32(body + off + 2) > len - off - CTL_ATTR_HDR_LEN)
			return -EBADMSG;
		off += CTL_ATTR_HDR_LEN + be_get32(body + off + 2);
	}
	return 0;
}

int ctl_get(const struct ctl_msg *m, uint16_t tag, const void **v, size_t *len)
{
	size_t off = 0;
	uint16_t t;

	while (ctl_next(m, &off, &t, v, len))
		if (t == tag)
			return 0;
	return -ENOENT;
}

int ctl_get_u64(const struct ctl_msg *m, uint16_t tag, uint64_t *v)
{
	const void *p;
	size_t len;
	int ret = ctl_get(m, tag, &p, &len);

	if (ret < 0)
		return ret;
	if (len != 8)
		return -EBADMSG;
	*v = be_get64(p);
	return 0;
}

int ctl_get_str(const struct ctl_msg *m, uint16_t tag, char *buf, size_t size)
{
	const void *p;
	size_t len;
	int ret = ctl_get(m, tag, &p, &len);

	if (ret < 0)
		return ret;
	if (len >= size || memchr(p, 0, len))
		return -EBADMSG;
	memcpy(buf, p, len);
	buf[len] = 0;
	return 0;
}

const char *ctl_strerror(int err)
{
	switch (err) {
	case -EBADMSG:
		return "malformed message";
	case -EPROTO:
		return "bad sequence number (a message replayed or reordered)";
	case -EMSGSIZE:
		return "declared length over the limit";
	case -EPROTONOSUPPORT:
		return "not the netmove protocol over TLS 1.3, or another version of it";
	case -EACCES:
		return "TLS authentication failed (certificate or key not accepted, or not the "
		       "host expected)";
	case -ENOTCONN:
		return "no TLS session";
	case -EIO:
		return "TLS error";
	default:
		return strerror(-err);
	}
}

int ctl_get_name(const struct ctl_msg *m, uint16_t tag, const char *what, char *buf, size_t size,
		 char *err, size_t errlen)
{
	const void *p;
	size_t len;

	if (ctl_get(m, tag, &p, &len) < 0) {
		snprintf(err, errlen, "missing %s", what);
		return -ENOENT;
	}
	if (len >= size) {
		snprintf(err, errlen, "%s of %zu bytes: at most %zu", what, len, size - 1);
		return -ENAMETOOLONG;
	}
	if (!len) {
		snprintf(err, errlen, "empty %s", what);
		return -EINVAL;
	}
	if (memchr(p, 0, len)) {
		snprintf(err, errlen, "%s holds a NUL byte", what);
		return -EBADMSG;
	}
	memcpy(buf, p, len);
	buf[len] = 0;
	return 0;
}

int ctl_conn_init(struct ctl_conn *c, int fd, struct ctl_tls *tls, const char *peer)
{
	int fl;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->tls = tls;
	c->send_timeout_ms = CTL_SEND_TIMEOUT_MS;
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "?");
	if (!tls)
		return 0;
	/* OpenSSL reads and writes as it needs: only a nonblocking socket
	 * keeps every one of them under a deadline. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int read_all(int fd, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *p = buf;

	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = timeutil_poll_ms(deadline);
		ssize_t n;
		int ret;

		if (wait == 0)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, wait);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			continue;
		n = recv(fd, p, len, 0);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Send iov[0..n) completely (one sendmsg when the socket takes it all, so a
 * small message leaves as one segment) by the deadline. */
static int writev_all(int fd, struct iovec *iov, int n, uint64_t deadline)
{
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				int wait = timeutil_poll_ms(deadline);

				if (wait == 0)
					return -ETIMEDOUT;
				poll(&pfd, 1, wait);
				continue;
			}
			return -errno;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Largest message copied into one TLS write with its header; bigger ones go
 * as header then body, without a copy. */
#define ONE_WRITE (16u << 10)

static int send_raw(struct ctl_conn *c, uint16_t type, uint64_t seq, const uint8_t *body,
		    size_t len)
{
	uint64_t deadline = timeutil_deadline_ms(c->send_timeout_ms);
	uint8_t hdr[CTL_HDR_LEN] = { 0 };
	struct iovec iov[2];
	int n = 0, ret;

	if (len > CTL_MAX_BODY)
		return -EMSGSIZE;
	be_put32(hdr, CTL_MAGIC);
	hdr[4] = CTL_VERSION;
	be_put16(hdr + 6, type);
	be_put64(hdr + 8, seq);
	be_put32(hdr + 16, (uint32_t)len);
	if (!c->tls) {
		iov[n++] = (struct iovec){ hdr, sizeof(hdr) };
		if (len)
			iov[n++] = (struct iovec){ (void *)body, len };
		return writev_all(c->fd, iov, n, deadline);
	}
	if (len <= ONE_WRITE - CTL_HDR_LEN) {
		uint8_t *one = malloc(CTL_HDR_LEN + len);

		if (!one)
			return -ENOMEM;
		memcpy(one, hdr, CTL_HDR_LEN);
		if (len)
			memcpy(one + CTL_HDR_LEN, body, len);
		ret = ctl_tls_write(c, one, CTL_HDR_LEN + len, deadline);
		free(one);
		return ret;
	}
	ret = ctl_tls_write(c, hdr, sizeof(hdr), deadline);
	return ret < 0 ? ret : ctl_tls_write(c, body, len, deadline);
}

static int read_some(struct ctl_conn *c, void *buf, size_t len, uint64_t deadline)
{
	return c->tls ? ctl_tls_read(c, buf, len, deadline) : read_all(c->fd, buf, len, deadline);
}

static int recv_raw(struct ctl_conn *c, struct ctl_msg *m, int timeout_ms)
{
	uint64_t deadline = timeutil_deadline_ms(timeout_ms);
	uint8_t hdr[CTL_HDR_LEN];
	uint32_t len;
	int ret;

	ret = read_some(c, hdr, sizeof(hdr), deadline);
	if (ret < 0)
		return ret;
	len = be_get32(hdr + 16);
	if (be_get32(hdr) != CTL_MAGIC || hdr[4] != CTL_VERSION)
		return -EPROTONOSUPPORT;
	/* Refused on the header: a peer cannot make us allocate or read more. */
	if (len > CTL_MAX_BODY)
		return -EMSGSIZE;
	ctl_msg_reset(m, be_get16(hdr + 6));
	ret = reserve(m, len);
	if (ret < 0)
		return ret;
	ret = read_some(c, m->body, len, deadline);
	if (ret < 0)
		return ret;
	m->len = len;
	m->seq = be_get64(hdr + 8);
	return ctl_body_check(m->body, m->len);
}

int ctl_send(struct ctl_conn *c, struct ctl_msg *m)
{
	if (c->tls && !c->ssl)
		return -ENOTCONN;
	m->seq = ++c->tx_seq;
	return send_raw(c, m->type, m->seq, m->body, m->len);
}

int ctl_recv(struct ctl_conn *c, struct ctl_msg *m, int timeout_ms)
{
	int ret;

	if (c->tls && !c->ssl)
		return -ENOTCONN;
	ret = recv_raw(c, m, timeout_ms);
	if (ret < 0)
		return ret;
	if (m->seq != c->rx_seq + 1)
		return -EPROTO;
	c->rx_seq = m->seq;
	return 0;
}

void ctl_conn_close(struct ctl_conn *c)
{
	ctl_tls_close(c);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int ctl_key_load(const char *path, uint8_t *key, size_t cap)
{
	uint8_t raw[2 * CTL_MAX_KEY + 64];
	size_t n = 0, i, hex = 0, k = 0;
	bool is_hex = true;
	int fd, ret = 0;
	ssize_t r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((r = read(fd, raw + n, sizeof(raw) - n)) > 0 && n < sizeof(raw))
		n += (size_t)r;
	if (r < 0)
		ret = -errno;
	close(fd);
	if (ret < 0)
		return ret;
	for (i = 0; i < n; i++) {
		if (isxdigit(raw[i]))
			hex++;
		else if (!isspace(raw[i]))
			is_hex = false;
	}
	if (is_hex && hex % 2 == 0 && hex > 0) {
		char pair[3] = { 0 };

		for (i = 0; i < n; i++) {
			if (!isxdigit(raw[i]))
				continue;
			pair[hex++ % 2] = (char)raw[i];
			if (hex % 2 == 0) {
				if (k >= cap)
					return -EINVAL;
				key[k++] = (uint8_t)strtoul(pair, NULL, 16);
			}
		}
	} else {
		if (n > cap)
			return -EINVAL;
		memcpy(key, raw, n);
		k = n;
	}
	explicit_bzero(raw, sizeof(raw));
	return k < CTL_MIN_KEY ? -EINVAL : (int)k;
}

int ctl_addr_parse(const char *addr, struct sockaddr_in *out)
{
	struct sockaddr_in tmp, *sa = out ? out : &tmp;
	char host[64];
	const char *colon = strrchr(addr, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || !port || port > 65535 || colon[1] == '-' ||
	    colon[1] == '+' || colon[1] == ' ')
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

int ctl_listen_tcp(const char *addr)
{
	struct sockaddr_in sa;
	int fd, one = 1, ret = ctl_addr_parse(addr, &sa);

	if (ret < 0)
		return ret;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int ctl_connect_tcp(const char *addr, int timeout_ms)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, one = 1, err = 0, ret = ctl_addr_parse(addr, &sa);

	if (ret < 0)
		return ret;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		ret = -errno;
		goto err;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, timeout_ms) <= 0) {
		ret = -ETIMEDOUT;
		goto err;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl);
	if (err) {
		ret = -err;
		goto err;
	}
	return fd;
err:
	close(fd);
	return ret;
}

int ctl_accept_tcp(int lfd, char *peer, size_t peerlen)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	int fd, one = 1;

	fd = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Small replies (acks, READY, RESUMED) must not wait for Nagle and
	 * the peer's delayed ACK: that costs 40 ms a time. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (peer && peerlen)
		snprintf(peer, peerlen, "%s:%u", inet_ntoa(from.sin_addr), ntohs(from.sin_port));
	return fd;
}

/* A unix stream socket and its address for path. */
static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	int fd;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int ctl_listen_unix(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, ret;

	fd = unix_socket(path, &sa);
	if (fd < 0)
		return fd;
	unlink(path);
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int ctl_connect_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd, ret;

	fd = unix_socket(path, &sa);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int ctl_peer_cred(int fd, unsigned *uid, int *pid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	*uid = cr.uid;
	*pid = cr.pid;
	return 0;
}
