/* ctl: the control protocol between agents and of the migration stream (TCP,
 * authenticated) and between the CLI and its local agent (unix socket, root
 * peers only, no tags).
 *
 * A message is a 24-byte header (magic "NMC1", version 2, type, sequence
 * number, body length), a body of TLV attributes and, on authenticated
 * connections, a tag.  Each side first sends a HELLO (sequence number 0)
 * carrying a fresh random nonce, tagged with HMAC-SHA256 under the pre-shared
 * key.  Each direction then gets its own AES-256 key, HKDF-SHA256 of the
 * pre-shared key salted with the sender's and the receiver's nonces, and
 * every later message a 16-byte GMAC tag (AES-256-GCM, header and body as
 * AAD only, IV = the sequence number).  Sequence numbers start at 1 and must
 * increase by exactly one, so a message replayed from this or an earlier
 * connection, a reordered or altered one, one sent back the other way, or
 * one from a peer without the key is rejected.  Version 1 (HMAC on every
 * message) peers are rejected at the HELLO. */
#ifndef NETMOVE_CTL_H
#define NETMOVE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_MAGIC 0x4e4d4331u		/* "NMC1" */
#define CTL_VERSION 2			/* 2: GMAC under HKDF session keys */
#define CTL_HDR_LEN 24			/* header bytes */
#define CTL_TAG_LEN 16			/* GMAC tag of every message but HELLO */
#define CTL_HELLO_TAG_LEN 32		/* HMAC-SHA256 tag of a HELLO */
#define CTL_IV_LEN 12			/* GCM IV: 4 zero bytes, sequence number */
#define CTL_KDF_INFO "netmove ctl v2 gmac"	/* HKDF info label */
#define CTL_NONCE_LEN 16		/* HELLO nonce bytes */
#define CTL_MAX_BODY (64u << 20)	/* largest body accepted or sent */
#define CTL_HELLO_MAX_BODY 256		/* largest HELLO body: nothing bigger is read
					 * before a peer is authenticated */
#define CTL_SEND_TIMEOUT_MS 5000	/* default deadline of one ctl_send */
#define CTL_MAX_KEY 256			/* longest pre-shared key */
#define CTL_MIN_KEY 16			/* shortest pre-shared key */

struct evp_cipher_ctx_st;		/* OpenSSL's EVP_CIPHER_CTX */

/* A message being built or received: a type and a TLV body. */
struct ctl_msg {
	uint16_t type;		/* message type (the agent defines them) */
	uint64_t seq;		/* sequence number (set by send/recv) */
	uint8_t *body;		/* TLV attributes: tag u16, length u32, value */
	size_t len;		/* bytes used in body */
	size_t cap;		/* bytes allocated for body */
};

/* One end of a connection.  After a successful ctl_handshake it owns two
 * OpenSSL contexts: ctl_conn_close frees them.  A struct copy moves that
 * ownership (close one copy only). */
struct ctl_conn {
	int fd;				/* connected socket */
	bool auth;			/* tags + nonces + sequence checks */
	uint8_t key[CTL_MAX_KEY];	/* pre-shared key (wiped on close) */
	size_t keylen;			/* its length */
	uint8_t my_nonce[CTL_NONCE_LEN];	/* ours: salts both session keys */
	uint8_t peer_nonce[CTL_NONCE_LEN];	/* theirs: salts both session keys */
	struct evp_cipher_ctx_st *tx_gmac;	/* GCM keyed for what we send, or NULL */
	struct evp_cipher_ctx_st *rx_gmac;	/* GCM keyed for what the peer sends, or NULL */
	uint64_t tx_seq;		/* last sequence number sent */
	uint64_t rx_seq;		/* last sequence number accepted */
	int send_timeout_ms;		/* deadline of one send (ctl_conn_init: the default) */
	char peer[64];			/* peer address, for logs */
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
 * first).  key NULL: unauthenticated (local unix socket).  Returns 0,
 * -EINVAL (key length outside CTL_MIN_KEY..CTL_MAX_KEY) or -EIO (no random
 * nonce); allocates nothing. */
int ctl_conn_init(struct ctl_conn *c, int fd, const uint8_t *key, size_t keylen,
		  const char *peer);
/* Exchange HELLOs and derive the session keys (authenticated connections
 * only; no-op otherwise).  Returns 0, -ETIMEDOUT, -ECONNRESET,
 * -EPROTONOSUPPORT (not our magic or version: a version 1 peer), -EMSGSIZE,
 * -EBADMSG (malformed, bad tag: another key), -EPROTO (our own HELLO
 * reflected back), -EALREADY (done before), -ENOMEM or -EIO.  On
 * failure c holds no session keys. */
int ctl_handshake(struct ctl_conn *c, int timeout_ms);
/* Send one message (assigns the next sequence number), within
 * c->send_timeout_ms: a peer that stops reading cannot hold the sender.
 * Returns 0, -ETIMEDOUT, a negative errno from the socket, -EIO, or
 * -ENOTCONN (authenticated connection without a successful handshake). */
int ctl_send(struct ctl_conn *c, struct ctl_msg *m);
/* Receive one message into m (reset first).  Returns 0, -ETIMEDOUT,
 * -ECONNRESET (peer closed), -EPROTONOSUPPORT (not our magic or version),
 * -EMSGSIZE (a declared length over CTL_MAX_BODY), -EBADMSG (malformed or bad
 * tag), -EPROTO (bad sequence: replayed or reordered), -ENOMEM, -EIO, or
 * -ENOTCONN (authenticated connection without a successful handshake). */
int ctl_recv(struct ctl_conn *c, struct ctl_msg *m, int timeout_ms);
/* What an error of ctl_handshake or ctl_recv means, for a log line. */
const char *ctl_strerror(int err);
/* Close the socket, free the session keys, wipe the pre-shared key.  A
 * second call does nothing more. */
void ctl_conn_close(struct ctl_conn *c);

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
