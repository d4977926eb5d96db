#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "netmove/ctl.h"
#include "netmove/timeutil.h"

#define CTL_TYPE_HELLO 0xffff
#define ATTR_HDR 6

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

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
	ret = reserve(m, ATTR_HDR + len);
	if (ret < 0)
		return ret;
	put16(m->body + m->len, tag);
	put32(m->body + m->len + 2, (uint32_t)len);
	*val = m->body + m->len + ATTR_HDR;
	m->len += ATTR_HDR + len;
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

	put64(b, v);
	return ctl_put(m, tag, b, sizeof(b));
}

int ctl_put_str(struct ctl_msg *m, uint16_t tag, const char *s)
{
	return ctl_put(m, tag, s, strlen(s));
}

int ctl_next(const struct ctl_msg *m, size_t *off, uint16_t *tag, const void **v, size_t *len)
{
	uint32_t l;

	if (*off + ATTR_HDR > m->len)
		return 0;
	l = get32(m->body + *off + 2);
	if (l > m->len - *off - ATTR_HDR)
		return 0;
	*tag = get16(m->body + *off);
	*v = m->body + *off + ATTR_HDR;
	*len = l;
	*off += ATTR_HDR + l;
	return 1;
}

int ctl_body_check(const uint8_t *body, size_t len)
{
	size_t off = 0;

	while (off < len) {
		if (len - off < ATTR_HDR || get32(body + off + 2) > len - off - ATTR_HDR)
			return -EBADMSG;
		off += ATTR_HDR + get32(body + off + 2);
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
	*v = get64(p);
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
		return "bad authentication tag or malformed message (another key, or a message "
		       "from another session)";
	case -EPROTO:
		return "bad sequence number (a message replayed or reordered)";
	case -EMSGSIZE:
		return "declared length over the limit";
	case -EPROTONOSUPPORT:
		return "not the netmove protocol, or another version of it";
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

int ctl_conn_init(struct ctl_conn *c, int fd, const uint8_t *key, size_t keylen,
		  const char *peer)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->send_timeout_ms = CTL_SEND_TIMEOUT_MS;
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "?");
	if (!key)
		return 0;
	if (keylen < CTL_MIN_KEY || keylen > CTL_MAX_KEY)
		return -EINVAL;
	c->auth = true;
	memcpy(c->key, key, keylen);
	c->keylen = keylen;
	if (getrandom(c->my_nonce, sizeof(c->my_nonce), 0) != sizeof(c->my_nonce))
		return -EIO;
	return 0;
}

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

/* The provider lookup is costly next to hashing a small message: once. */
static void hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* HELLO's tag: HMAC-SHA256 under the pre-shared key.  Not GMAC: with no
 * session key yet, a GMAC would need the long-lived key and a fixed IV. */
static int hello_tag(const struct ctl_conn *c, const uint8_t *hdr, const uint8_t *body,
		     size_t len, uint8_t *out)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *h;
	size_t outlen = 0;
	int ok;

	pthread_once(&hmac_once, hmac_fetch);
	h = hmac_alg ? EVP_MAC_CTX_new(hmac_alg) : NULL;
	ok = h && EVP_MAC_init(h, c->key, c->keylen, params) &&
	     EVP_MAC_update(h, hdr, CTL_HDR_LEN) && (!len || EVP_MAC_update(h, body, len)) &&
	     EVP_MAC_final(h, out, &outlen, CTL_HELLO_TAG_LEN) && outlen == CTL_HELLO_TAG_LEN;
	EVP_MAC_CTX_free(h);
	return ok ? 0 : -EIO;
}

/* One direction's AES-256-GCM context, keyed with HKDF-SHA256(ikm = the
 * pre-shared key, salt = sender's nonce || receiver's nonce): each direction
 * and each connection its own key.  The sender's nonce is its own fresh one,
 * so a key it sends under is never reused and neither is any (key, IV). */
static int gmac_key(const struct ctl_conn *c, const uint8_t *from, const uint8_t *to,
		    bool enc, EVP_CIPHER_CTX **out)
{
	static const char info[] = CTL_KDF_INFO;
	uint8_t salt[2 * CTL_NONCE_LEN], k[32];
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_octet_string("key", (void *)c->key, c->keylen),
		OSSL_PARAM_construct_octet_string("salt", salt, sizeof(salt)),
		OSSL_PARAM_construct_octet_string("info", (void *)info, sizeof(info) - 1),
		OSSL_PARAM_construct_end(),
	};
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_CIPHER_CTX *x = NULL;
	int ret = -EIO;

	memcpy(salt, from, CTL_NONCE_LEN);
	memcpy(salt + CTL_NONCE_LEN, to, CTL_NONCE_LEN);
	if (!kc || EVP_KDF_derive(kc, k, sizeof(k), params) <= 0)
		goto out;
	x = EVP_CIPHER_CTX_new();
	if (!x) {
		ret = -ENOMEM;
		goto out;
	}
	/* Keyed once here; each message then sets only its IV. */
	if (EVP_CipherInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, CTL_IV_LEN, NULL) <= 0 ||
	    EVP_CipherInit_ex(x, NULL, NULL, k, NULL, enc) <= 0)
		goto out;
	*out = x;
	x = NULL;
	ret = 0;
out:
	EVP_CIPHER_CTX_free(x);
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(k, sizeof(k));
	return ret;
}

static void gmac_free(struct ctl_conn *c)
{
	EVP_CIPHER_CTX_free(c->tx_gmac);
	EVP_CIPHER_CTX_free(c->rx_gmac);
	c->tx_gmac = c->rx_gmac = NULL;
}

/* IV = 4 zero bytes || sequence number, big-endian: unique per message
 * under a key since sequence numbers only grow. */
static void gmac_iv(uint8_t *iv, uint64_t seq)
{
	memset(iv, 0, 4);
	put64(iv + 4, seq);
}

/* Header and body go in as AAD only: GMAC, nothing is encrypted. */
static int gmac_aad(EVP_CIPHER_CTX *x, const uint8_t *hdr, const uint8_t *body, size_t len)
{
	int outl;

	if (EVP_CipherUpdate(x, NULL, &outl, hdr, CTL_HDR_LEN) <= 0 ||
	    (len && EVP_CipherUpdate(x, NULL, &outl, body, (int)len) <= 0))
		return -EIO;
	return 0;
}

/* seal: compute the GMAC of seq, hdr and body into tag under our key;
 * else check tag under the peer's: 0, -EBADMSG (no match) or -EIO. */
static int gmac_run(EVP_CIPHER_CTX *x, bool seal, uint64_t seq, const uint8_t *hdr,
		    const uint8_t *body, size_t len, uint8_t *tag)
{
	uint8_t iv[CTL_IV_LEN], none[16];
	int outl, ret;

	gmac_iv(iv, seq);
	if (EVP_CipherInit_ex(x, NULL, NULL, NULL, iv, -1) <= 0)
		return -EIO;
	ret = gmac_aad(x, hdr, body, len);
	if (ret < 0)
		return ret;
	if (!seal && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, CTL_TAG_LEN, tag) <= 0)
		return -EIO;
	if (EVP_CipherFinal_ex(x, none, &outl) <= 0)
		return seal ? -EIO : -EBADMSG;
	if (seal && EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, CTL_TAG_LEN, tag) <= 0)
		return -EIO;
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

/* On authenticated connections our HELLO carries an HMAC tag, anything else
 * a GMAC tag (so ctl_send never makes a tag under the pre-shared key). */
static int send_raw(struct ctl_conn *c, uint16_t type, uint64_t seq, const uint8_t *body,
		    size_t len, bool hello)
{
	uint8_t hdr[CTL_HDR_LEN] = { 0 }, tag[CTL_HELLO_TAG_LEN];
	struct iovec iov[3];
	int n = 0, ret;

	put32(hdr, CTL_MAGIC);
	hdr[4] = CTL_VERSION;
	put16(hdr + 6, type);
	put64(hdr + 8, seq);
	put32(hdr + 16, (uint32_t)len);
	iov[n++] = (struct iovec){ hdr, sizeof(hdr) };
	if (len)
		iov[n++] = (struct iovec){ (void *)body, len };
	if (c->auth) {
		ret = hello ? hello_tag(c, hdr, body, len, tag) :
			      gmac_run(c->tx_gmac, true, seq, hdr, body, len, tag);
		if (ret < 0)
			return ret;
		iov[n++] = (struct iovec){ tag, hello ? CTL_HELLO_TAG_LEN : CTL_TAG_LEN };
	}
	return writev_all(c->fd, iov, n, timeutil_deadline_ms(c->send_timeout_ms));
}

/* Receive one frame; on authenticated connections it must be a HELLO if
 * hello is set, anything else if not, and its tag must verify. */
static int recv_raw(struct ctl_conn *c, struct ctl_msg *m, int timeout_ms, bool hello)
{
	uint64_t deadline = timeutil_deadline_ms(timeout_ms);
	uint8_t hdr[CTL_HDR_LEN], tag[CTL_HELLO_TAG_LEN], want[CTL_HELLO_TAG_LEN];
	size_t taglen = hello ? CTL_HELLO_TAG_LEN : CTL_TAG_LEN;
	uint32_t len;
	int ret;

	ret = read_all(c->fd, hdr, sizeof(hdr), deadline);
	if (ret < 0)
		return ret;
	len = get32(hdr + 16);
	if (get32(hdr) != CTL_MAGIC || hdr[4] != CTL_VERSION)
		return -EPROTONOSUPPORT;
	if (len > (hello && c->auth ? CTL_HELLO_MAX_BODY : CTL_MAX_BODY))
		return -EMSGSIZE;
	ctl_msg_reset(m, get16(hdr + 6));
	/* Its tag could not verify under the other kind's key. */
	if (c->auth && hello != (m->type == CTL_TYPE_HELLO))
		return -EBADMSG;
	ret = reserve(m, len);
	if (ret < 0)
		return ret;
	ret = read_all(c->fd, m->body, len, deadline);
	if (!ret && c->auth)
		ret = read_all(c->fd, tag, taglen, deadline);
	if (ret < 0)
		return ret;
	m->len = len;
	m->seq = get64(hdr + 8);
	if (c->auth && hello) {
		if (hello_tag(c, hdr, m->body, len, want) < 0 ||
		    CRYPTO_memcmp(tag, want, CTL_HELLO_TAG_LEN) != 0)
			return -EBADMSG;
	} else if (c->auth) {
		ret = gmac_run(c->rx_gmac, false, m->seq, hdr, m->body, len, tag);
		if (ret < 0)
			return ret;
	}
	return ctl_body_check(m->body, m->len);
}

int ctl_handshake(struct ctl_conn *c, int timeout_ms)
{
	struct ctl_msg m;
	const void *v;
	size_t len;
	uint8_t body[ATTR_HDR + CTL_NONCE_LEN];
	int ret;

	if (!c->auth)
		return 0;
	if (c->tx_gmac)
		return -EALREADY;
	put16(body, 1);
	put32(body + 2, CTL_NONCE_LEN);
	memcpy(body + ATTR_HDR, c->my_nonce, CTL_NONCE_LEN);
	ret = send_raw(c, CTL_TYPE_HELLO, 0, body, sizeof(body), true);
	if (ret < 0)
		return ret;
	ctl_msg_init(&m, 0);
	ret = recv_raw(c, &m, timeout_ms, true);
	if (ret < 0)
		goto out;
	if (m.seq != 0 || ctl_get(&m, 1, &v, &len) < 0 || len != CTL_NONCE_LEN) {
		ret = -EBADMSG;
		goto out;
	}
	memcpy(c->peer_nonce, v, CTL_NONCE_LEN);
	if (!memcmp(c->peer_nonce, c->my_nonce, CTL_NONCE_LEN)) {
		ret = -EPROTO; /* our own HELLO reflected back */
		goto out;
	}
	ret = gmac_key(c, c->my_nonce, c->peer_nonce, true, &c->tx_gmac);
	if (ret == 0)
		ret = gmac_key(c, c->peer_nonce, c->my_nonce, false, &c->rx_gmac);
	if (ret < 0)
		gmac_free(c);
out:
	ctl_msg_free(&m);
	return ret;
}

int ctl_send(struct ctl_conn *c, struct ctl_msg *m)
{
	if (c->auth && !c->tx_gmac)
		return -ENOTCONN;
	m->seq = ++c->tx_seq;
	return send_raw(c, m->type, m->seq, m->body, m->len, false);
}

int ctl_recv(struct ctl_conn *c, struct ctl_msg *m, int timeout_ms)
{
	int ret;

	if (c->auth && !c->rx_gmac)
		return -ENOTCONN;
	ret = recv_raw(c, m, timeout_ms, false);
	if (ret < 0)
		return ret;
	if (m->type == CTL_TYPE_HELLO || m->seq != c->rx_seq + 1)
		return -EPROTO;
	c->rx_seq = m->seq;
	return 0;
}

void ctl_conn_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	gmac_free(c);	/* frees wipe the key schedules */
	OPENSSL_cleanse(c->key, sizeof(c->key));
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
	OPENSSL_cleanse(raw, sizeof(raw));
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
