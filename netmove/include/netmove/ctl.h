/* ctl: the control protocol between agents and of the migration stream (TCP,
 * inside TLS 1.3) and between the CLI and its local agent (unix socket, root
 * peers only, plain).
 *
 * A message is a 24-byte header (magic "NMC1", version 3, type, sequence
 * number, body length) and a body of TLV attributes.  On TCP every byte
 * travels inside TLS 1.3 (OpenSSL; AES-GCM, no compression, renegotiation
 * or session tickets), which authenticates the peer and encrypts frames,
 * pages and commands alike.  Two ways to authenticate (struct ctl_tls):
 *  - certificates: mutual TLS under the operator's CA (as libvirt, QEMU and
 *    OVS use it); a peer's identity is its certificate's subjectAltName DNS
 *    names (its CN if it has none) and nothing it says can change that;
 *  - a pre-shared key (zero configuration): a TLS 1.3 external PSK.  The
 *    client's PSK identity is "CLAIMED/EXPECTED", the host name it claims
 *    and the one it means to reach; a server refuses an EXPECTED that is not
 *    its own name.  Any holder of the key can claim any host: the key is
 *    the trust, the names only catch misdirected or misconfigured peers.
 * Sequence numbers start at 1 and must grow by exactly one in each
 * direction (defence in depth beside TLS's own record sequence).  Version 2
 * (the GMAC channel) and older peers fail the TLS handshake. */
#ifndef NETMOVE_CTL_H
#define NETMOVE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAGIC 0x4e4d4331u		/* "NMC1" */
#define CTL_VERSION 3			/* 3: inside TLS 1.3, no tags of its own */
#define CTL_HDR_LEN 24			/* header bytes */
#define CTL_ATTR_HDR_LEN 6		/* an attribute's header: tag u16, length u32 */
#define CTL_MAX_BODY (64u << 20)	/* largest body accepted or sent */
#define CTL_SEND_TIMEOUT_MS 5000	/* default deadline of one ctl_send */
#define CTL_MAX_KEY 256			/* longest pre-shared key */
#define CTL_MIN_KEY 16			/* shortest pre-shared key */
#define CTL_NAME_MAX 64			/* longest peer name kept (host, DNS name) */
#define CTL_MAX_NAMES 8			/* names of one peer's certificate kept */
#define CTL_MAX_CERT_LIST (16u << 10)	/* largest certificate chain read from a peer */

struct ssl_st;				/* OpenSSL's SSL */
struct ctl_tls;				/* a process's TLS context: ctl_tls_new */

/* A message being built or received: a type and a TLV body. */
struct ctl_msg {
	uint16_t type;		/* message type (the agent defines them) */
	uint64_t seq;		/* sequence number (set by send/recv) */
	uint8_t *body;		/* TLV attributes: tag u16, length u32, value */
	size_t len;		/* bytes used in body */
	size_t cap;		/* bytes allocated for body */
};

/* One end of a connection.  After a successful handshake it owns a TLS
 * session: ctl_conn_close frees it.  A struct copy moves that ownership
 * (close one copy only). */
struct ctl_conn {
	int fd;				/* connected socket (nonblocking under TLS) */
	struct ctl_tls *tls;		/* the process's TLS context (not owned), NULL: plain */
	struct ssl_st *ssl;		/* TLS session once handshaken, else NULL */
	uint64_t tx_seq;		/* last sequence number sent */
	uint64_t rx_seq;		/* last sequence number accepted */
	int send_timeout_ms;		/* deadline of one send (ctl_conn_init: the default) */
	char peer[64];			/* peer address, for logs */
	char peer_id[CTL_MAX_NAMES * (CTL_NAME_MAX + 1) + 8]; /* authenticated identity, printable */
	char names[CTL_MAX_NAMES][CTL_NAME_MAX]; /* the names it stands for (ctl_peer_is) */
	int nnames;			/* how many */
	char why[160];			/* the last TLS failure in OpenSSL's words, or "" */
};


/* An empty message of type (no allocation yet). */
void ctl_msg_init(struct ctl_msg *m, uint16_t type);
/* Free the body; m is empty afterwards. */
void ctl_msg_free(struct ctl_msg *m);
/* Drop all attributes, keep the buffer, set a new type. */
void ctl_msg_reset(struct ctl_msg *m, uint16_t type);

/* Append an attribute.  Returns 0 or -ENOMEM / -EMSGSIZE. */
int ctl_put(struct ctl_msg *m, uint16_t tag, const void *v, size_t len);
/* Append an attribute of len bytes and return where its value goes, for the
 * caller to fill (bulk data written once, in place); NULL if it does not
 * fit (ENOMEM or past CTL_MAX_BODY). */
void *ctl_put_reserve(struct ctl_msg *m, uint16_t tag, size_t len);
int ctl_put_u64(struct ctl_msg *m, uint16_t tag, uint64_t v);
int ctl_put_str(struct ctl_msg *m, uint16_t tag, const char *s);

/* Find the first attribute with tag.  Returns 0 or -ENOENT. */
int ctl_get(const struct ctl_msg *m, uint16_t tag, const void **v, size_t *len);
/* u64 attribute (must be 8 bytes): 0, -ENOENT or -EBADMSG. */
int ctl_get_u64(const struct ctl_msg *m, uint16_t tag, uint64_t *v);
/* String attribute copied NUL-terminated into buf: 0, -ENOENT or -EBADMSG
 * (too long or containing NUL). */
int ctl_get_str(const struct ctl_msg *m, uint16_t tag, char *buf, size_t size);
/* A name attribute (an interface, a host): like ctl_get_str, and not empty;
 * on error err (errlen bytes) says what of it was wrong, naming it what.
 * Returns 0, -ENOENT (missing), -ENAMETOOLONG (size bytes or more),
 * -EINVAL (empty) or -EBADMSG (holds a NUL byte). */
int ctl_get_name(const struct ctl_msg *m, uint16_t tag, const char *what, char *buf, size_t size,
		 char *err, size_t errlen);
/* Iterate over attributes: *off starts at 0.  Returns 1 with tag/v/len set,
 * 0 at the end. */
int ctl_next(const struct ctl_msg *m, size_t *off, uint16_t *tag, const void **v, size_t *len);

/* Check that a body is a well-formed TLV sequence: 0 or -EBADMSG. */
int ctl_body_check(const uint8_t *body, size_t len);

/* Set up c for fd (c must not hold a handshaken connection: close it
 * first).  tls NULL: plain (the local unix socket only).  Under TLS the
 * socket is made nonblocking: every later read and write has a deadline.
 * Returns 0 or -errno (fcntl); allocates nothing. */
int ctl_conn_init(struct ctl_conn *c, int fd, struct ctl_tls *tls, const char *peer);
/* Run the TLS handshake as the client, within timeout_ms.  expect: the
 * host the caller means to reach; the server must be it (certificates: its
 * certificate names it; PSK: it accepts the PSK identity naming it), NULL:
 * any peer the CA (or the key) vouches for.  Plain connections: no-op.
 * Returns 0, -ETIMEDOUT, -ECONNRESET, -EACCES (the peer's certificate or
 * key did not verify, or it is not expect), -EPROTO (not TLS 1.3, not
 * netmove), -EMSGSIZE (a certificate chain over CTL_MAX_CERT_LIST or an
 * oversized record), -EALREADY, -ENOMEM or -EIO.  On failure c holds no
 * session. */
int ctl_handshake_client(struct ctl_conn *c, const char *expect, int timeout_ms);
/* The same as the server: the client must present a certificate from the
 * CA (certificate mode) or know the key (PSK mode). */
int ctl_handshake_server(struct ctl_conn *c, int timeout_ms);
/* Whether the authenticated peer stands for host: one of its certificate's
 * DNS names (or its CN) or, in PSK mode, the name it claimed, equals host
 * (ASCII case ignored).  False before a handshake and on plain connections. */
bool ctl_peer_is(const struct ctl_conn *c, const char *host);
/* Send one message (assigns the next sequence number), within
 * c->send_timeout_ms: a peer that stops reading cannot hold the sender.
 * A message ends a TLS record, so once ctl_recv returned one nothing of the
 * next waits inside TLS: polling c->fd for POLLIN stays valid.  Returns 0,
 * -ETIMEDOUT, -EMSGSIZE, a negative errno from the socket, -EIO (TLS), or
 * -ENOTCONN (TLS connection without a successful handshake). */
int ctl_send(struct ctl_conn *c, struct ctl_msg *m);
/* Receive one message into m (reset first).  Returns 0, -ETIMEDOUT,
 * -ECONNRESET (peer closed), -EPROTONOSUPPORT (not our magic or version),
 * -EMSGSIZE (a declared length over CTL_MAX_BODY, refused before its body
 * is read), -EBADMSG (malformed), -EPROTO (bad sequence: replayed or
 * reordered), -ENOMEM, -EIO (TLS: a record that did not decrypt), or
 * -ENOTCONN (TLS connection without a successful handshake). */
int ctl_recv(struct ctl_conn *c, struct ctl_msg *m, int timeout_ms);
/* What an error of ctl_handshake_* or ctl_recv means, for a log line. */
const char *ctl_strerror(int err);
/* Close the socket and free the TLS session.  A second call does nothing
 * more. */
void ctl_conn_close(struct ctl_conn *c);

/* TLS options of a program (netmoved, nm-migrate) as given on its command
 * line: --key-file (PSK mode) or --pki-dir / --tls-ca, --tls-cert,
 * --tls-key (certificate mode). */
struct ctl_tls_opts {
	const char *key_file;		/* --key-file: the pre-shared key */
	const char *pki_dir;		/* --pki-dir: ca-cert.pem, cert.pem, key.pem */
	const char *ca;			/* --tls-ca: CA certificates (PEM) */
	const char *cert;		/* --tls-cert: this host's certificate (PEM chain) */
	const char *key;		/* --tls-key: its private key (PEM) */
};

/* getopt_long values of the TLS options (outside any short option's range). */
enum {
	CTL_OPT_KEY_FILE = 0x1100,	/* --key-file */
	CTL_OPT_PKI_DIR,		/* --pki-dir */
	CTL_OPT_TLS_CA,			/* --tls-ca */
	CTL_OPT_TLS_CERT,		/* --tls-cert */
	CTL_OPT_TLS_KEY,		/* --tls-key */
};

/* The TLS options' entries for a struct option table. */
#define CTL_TLS_LONGOPTS					\
	{ "key-file", 1, NULL, CTL_OPT_KEY_FILE },		\
	{ "pki-dir", 1, NULL, CTL_OPT_PKI_DIR },		\
	{ "tls-ca", 1, NULL, CTL_OPT_TLS_CA },			\
	{ "tls-cert", 1, NULL, CTL_OPT_TLS_CERT },		\
	{ "tls-key", 1, NULL, CTL_OPT_TLS_KEY }

/* Their synopsis, for usage texts. */
#define CTL_TLS_USAGE "(--key-file F | --pki-dir DIR | --tls-ca F --tls-cert F --tls-key F)"

/* Take one getopt_long result: 1 if opt is a TLS option (arg stored in o),
 * 0 if not. */
int ctl_tls_opt(struct ctl_tls_opts *o, int opt, const char *arg);
/* Build the process's one TLS context from o: checks the combination and
 * loads and checks every file (the key must match the certificate, the CA
 * must verify the certificate).  name: the host this side claims in PSK
 * mode, and the one a PSK identity must name for it to accept (NULL: claims
 * "" and accepts any).  On error err (errlen bytes) names the option or file
 * at fault.  Returns 0, -EINVAL (no mode, both, a part missing or not
 * matching), -ENOENT / -EACCES (a file), -ENOMEM or -EIO. */
int ctl_tls_new(const struct ctl_tls_opts *o, const char *name, struct ctl_tls **out,
		char *err, size_t errlen);
/* The same in PSK mode from a key in memory (keylen CTL_MIN_KEY..
 * CTL_MAX_KEY), for tests and self-tests.  Returns 0, -EINVAL, -ENOMEM or
 * -EIO. */
int ctl_tls_new_psk(const uint8_t *key, size_t keylen, const char *name, struct ctl_tls **out);
/* Free it (NULL: nothing).  Its connections must be closed first. */
void ctl_tls_free(struct ctl_tls *t);
/* Whether t authenticates with the pre-shared key (else certificates). */
bool ctl_tls_is_psk(const struct ctl_tls *t);

/* Read a key file: raw bytes, or hex text (whitespace ignored) if the file
 * is all hex digits.  Returns the key length or a negative errno (-EINVAL if
 * shorter than CTL_MIN_KEY). */
int ctl_key_load(const char *path, uint8_t *key, size_t cap);

/* Sockets.  addr is "IPv4:port". */
/* Parse addr (port 1..65535) into *sa (may be NULL: only check it).
 * Returns 0 or -EINVAL. */
struct sockaddr_in;
int ctl_addr_parse(const char *addr, struct sockaddr_in *sa);
int ctl_listen_tcp(const char *addr);
int ctl_connect_tcp(const char *addr, int timeout_ms);
/* Accept one TCP peer on lfd, with TCP_NODELAY as ctl_connect_tcp sets it;
 * its "IPv4:port" goes into peer (may be NULL).  The fd or -errno. */
int ctl_accept_tcp(int lfd, char *peer, size_t peerlen);
/* Unix socket with mode 0600, replacing a stale file. */
int ctl_listen_unix(const char *path);
int ctl_connect_unix(const char *path);
/* uid and pid of the peer of a unix socket, via SO_PEERCRED. */
int ctl_peer_cred(int fd, unsigned *uid, int *pid);

#endif
