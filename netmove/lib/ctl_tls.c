#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "netmove/ctl.h"
#include "netmove/timeutil.h"
#include "ctl_tls.h"

/* The one cipher suite of PSK mode: its PSK session must name it. */
static const unsigned char psk_suite[2] = { 0x13, 0x02 };	/* TLS_AES_256_GCM_SHA384 */

/* The session context of every session (OpenSSL verifies peers of a
 * resumed, here PSK, session only under one). */
static const unsigned char sid_ctx[] = "netmove";

struct ctl_tls {
	SSL_CTX *ctx;			/* the process's one context */
	bool psk;			/* PSK mode, else certificates */
	uint8_t key[CTL_MAX_KEY];	/* the pre-shared key (PSK mode) */
	size_t keylen;			/* its length */
	char name[CTL_NAME_MAX];	/* this side's host name, "" for none */
};

/* What the callbacks of one handshake share with it (SSL app data). */
struct hs_state {
	struct ctl_tls *t;
	char ident[2 * CTL_NAME_MAX + 2];	/* client: the PSK identity it sends */
	char claimed[CTL_NAME_MAX];		/* server: the host its client claims */
	char why[96];				/* server: why a PSK identity was refused */
};

int ctl_tls_opt(struct ctl_tls_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CTL_OPT_KEY_FILE: o->key_file = arg; return 1;
	case CTL_OPT_PKI_DIR: o->pki_dir = arg; return 1;
	case CTL_OPT_TLS_CA: o->ca = arg; return 1;
	case CTL_OPT_TLS_CERT: o->cert = arg; return 1;
	case CTL_OPT_TLS_KEY: o->key = arg; return 1;
	default: return 0;
	}
}

/* A host or DNS name we keep: 1..CTL_NAME_MAX-1 bytes of letters, digits,
 * '.', '-', '_' or '*' (a wildcard is kept but never matches a host). */
static bool name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len >= CTL_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_*", s[i]))
			return false;
	return true;
}

static SSL_SESSION *psk_session(const struct ctl_tls *t, const SSL_CIPHER *ciph)
{
	SSL_SESSION *s = SSL_SESSION_new();

	if (s && SSL_SESSION_set1_master_key(s, t->key, t->keylen) &&
	    SSL_SESSION_set1_id_context(s, sid_ctx, sizeof(sid_ctx) - 1) &&
	    SSL_SESSION_set_cipher(s, ciph) && SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION))
		return s;
	SSL_SESSION_free(s);
	return NULL;
}

static int psk_use(SSL *ssl, const EVP_MD *md, const unsigned char **id, size_t *idlen,
		   SSL_SESSION **sess)
{
	struct hs_state *st = SSL_get_app_data(ssl);
	const SSL_CIPHER *ciph = SSL_CIPHER_find(ssl, psk_suite);

	*sess = NULL;
	if (!st || !ciph)
		return 0;
	/* After a HelloRetryRequest for another hash: offer no PSK. */
	if (md && EVP_MD_get_type(md) != EVP_MD_get_type(SSL_CIPHER_get_handshake_digest(ciph)))
		return 1;
	*sess = psk_session(st->t, ciph);
	if (!*sess)
		return 0;
	*id = (const unsigned char *)st->ident;
	*idlen = strlen(st->ident);
	return 1;
}

/* The identity is only a claim until the binder proves the key: it is kept
 * in st and becomes the peer's name once the handshake succeeds. */
static int psk_find(SSL *ssl, const unsigned char *id, size_t idlen, SSL_SESSION **sess)
{
	struct hs_state *st = SSL_get_app_data(ssl);
	const char *s = (const char *)id;
	const char *slash = memchr(id, '/', idlen);
	size_t cl, el;

	*sess = NULL;
	if (!st)
		return 0;
	if (!slash) {
		snprintf(st->why, sizeof(st->why), "PSK identity is not CLAIMED/EXPECTED");
		return 1;
	}
	cl = (size_t)(slash - s);
	el = idlen - cl - 1;
	if (!name_ok(s, cl) || (el && !name_ok(slash + 1, el))) {
		snprintf(st->why, sizeof(st->why), "PSK identity holds no valid host names");
		return 1;
	}
	if (el && st->t->name[0] &&
	    (el != strlen(st->t->name) || strncasecmp(slash + 1, st->t->name, el))) {
		snprintf(st->why, sizeof(st->why), "peer means to reach %.*s, this is %s",
			 (int)el, slash + 1, st->t->name);
		return 1;
	}
	*sess = psk_session(st->t, SSL_CIPHER_find(ssl, psk_suite));
	if (!*sess)
		return 0;
	memcpy(st->claimed, s, cl);
	st->claimed[cl] = 0;
	return 1;
}

static int load_fail(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_peek_last_error();
	char buf[128] = "";
	int ret = -EIO;

	if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
		ret = -ERR_GET_REASON(e);
	} else if (access(path, R_OK) < 0) {
		ret = -errno;
	} else {
		ERR_error_string_n(e, buf, sizeof(buf));
	}
	snprintf(err, errlen, "%s %s: %s", what, path, buf[0] ? buf : strerror(-ret));
	ERR_clear_error();
	return ret;
}

/* Our own certificate must verify under the CA we will check peers with:
 * else every peer would refuse us, which is better said at start-up. */
static int check_own_cert(SSL_CTX *ctx, const char *cert, char *err, size_t errlen)
{
	X509_STORE_CTX *sc = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = NULL;
	int ret = -ENOMEM;

	if (!sc)
		goto out;
	SSL_CTX_get0_chain_certs(ctx, &chain);
	ret = -EIO;
	if (!X509_STORE_CTX_init(sc, SSL_CTX_get_cert_store(ctx), SSL_CTX_get0_certificate(ctx),
				 chain))
		goto out;
	if (X509_verify_cert(sc) != 1) {
		snprintf(err, errlen, "--tls-cert %s: does not verify under --tls-ca: %s", cert,
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(sc)));
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	X509_STORE_CTX_free(sc);
	ERR_clear_error();
	return ret;
}

static int load_certs(struct ctl_tls *t, const char *ca, const char *cert, const char *key,
		      char *err, size_t errlen)
{
	if (SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1)
		return load_fail(err, errlen, "--tls-ca", ca);
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1)
		return load_fail(err, errlen, "--tls-cert", cert);
	if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH)
		return load_fail(err, errlen, "--tls-key", key);
	if (SSL_CTX_check_private_key(t->ctx) != 1) {
		snprintf(err, errlen, "--tls-key %s does not match --tls-cert %s", key, cert);
		ERR_clear_error();
		return -EINVAL;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return check_own_cert(t->ctx, cert, err, errlen);
}

static int use_psk(struct ctl_tls *t)
{
	t->psk = true;
	/* No CA: a server that answers with a certificate instead of the
	 * key is refused. */
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_psk_use_session_callback(t->ctx, psk_use);
	SSL_CTX_set_psk_find_session_callback(t->ctx, psk_find);
	return SSL_CTX_set_ciphersuites(t->ctx, "TLS_AES_256_GCM_SHA384") == 1 ? 0 : -EIO;
}

static int load_psk(struct ctl_tls *t, const char *path, char *err, size_t errlen)
{
	int ret = ctl_key_load(path, t->key, sizeof(t->key));

	if (ret < 0) {
		snprintf(err, errlen, "--key-file %s: %s", path,
			 ret == -EINVAL ? "key must be 16..256 bytes (raw or hex)" : strerror(-ret));
		return ret;
	}
	t->keylen = (size_t)ret;
	return use_psk(t);
}

static int tls_index = -1;
static pthread_once_t tls_index_once = PTHREAD_ONCE_INIT;

static void tls_exfree(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
		       void *argp)
{
	struct ctl_tls *t = ptr;

	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	if (t) {
		explicit_bzero(t->key, sizeof(t->key));
		free(t);
	}
}

static void tls_index_new(void)
{
	tls_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_exfree);
}

/* TLS 1.3 only, nothing that outlives a connection or renegotiates it.  t
 * lives as long as the context: a session still in a handshake when the
 * program frees it (ctl_tls_free) keeps both. */
static int ctx_new(struct ctl_tls *t)
{
	pthread_once(&tls_index_once, tls_index_new);
	if (tls_index < 0)
		return -ENOMEM;
	t->ctx = SSL_CTX_new(TLS_method());
	if (!t->ctx)
		return -ENOMEM;
	if (!SSL_CTX_set_ex_data(t->ctx, tls_index, t)) {
		SSL_CTX_free(t->ctx);
		t->ctx = NULL;
		return -ENOMEM;
	}
	if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(t->ctx, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256") != 1 ||
	    SSL_CTX_set_num_tickets(t->ctx, 0) != 1)
		return -EIO;
	SSL_CTX_set_options(t->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_clear_options(t->ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	/* A PSK handshake counts as a resumption, which OpenSSL refuses to
	 * verify without a session context. */
	if (SSL_CTX_set_session_id_context(t->ctx, sid_ctx, sizeof(sid_ctx) - 1) != 1)
		return -EIO;
	/* Before a peer is authenticated, the most it makes us hold. */
	SSL_CTX_set_max_cert_list(t->ctx, CTL_MAX_CERT_LIST);
	return 0;
}

int ctl_tls_new(const struct ctl_tls_opts *o, const char *name, struct ctl_tls **out,
		char *err, size_t errlen)
{
	char ca[4096], cert[4096], key[4096];
	struct ctl_tls *t = NULL;
	bool certs = o->pki_dir || o->ca || o->cert || o->key;
	int ret = -EINVAL;

	*out = NULL;
	err[0] = 0;
	if (o->key_file && certs) {
		snprintf(err, errlen, "--key-file (PSK mode) and certificate options "
				      "(--pki-dir, --tls-ca/-cert/-key) exclude each other");
		goto out;
	}
	if (!o->key_file && !certs) {
		snprintf(err, errlen, "needs --key-file, --pki-dir or --tls-ca, --tls-cert and "
				      "--tls-key");
		goto out;
	}
	if (o->pki_dir && (o->ca || o->cert || o->key)) {
		snprintf(err, errlen, "--pki-dir and --tls-ca/--tls-cert/--tls-key exclude each "
				      "other");
		goto out;
	}
	if (certs && !o->pki_dir && (!o->ca || !o->cert || !o->key)) {
		snprintf(err, errlen, "--tls-ca, --tls-cert and --tls-key go together (missing %s)",
			 !o->ca ? "--tls-ca" : !o->cert ? "--tls-cert" : "--tls-key");
		goto out;
	}
	if (name && !name_ok(name, strlen(name))) {
		snprintf(err, errlen, "host name '%s' is not 1..%d letters, digits, '.', '-' or '_'",
			 name, CTL_NAME_MAX - 1);
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	ret = ctx_new(t);
	if (ret < 0) {
		snprintf(err, errlen, "cannot set up TLS 1.3 (OpenSSL)");
		goto out;
	}
	if (o->key_file) {
		ret = load_psk(t, o->key_file, err, errlen);
	} else {
		snprintf(ca, sizeof(ca), "%s%s", o->pki_dir ? o->pki_dir : o->ca,
			 o->pki_dir ? "/ca-cert.pem" : "");
		snprintf(cert, sizeof(cert), "%s%s", o->pki_dir ? o->pki_dir : o->cert,
			 o->pki_dir ? "/cert.pem" : "");
		snprintf(key, sizeof(key), "%s%s", o->pki_dir ? o->pki_dir : o->key,
			 o->pki_dir ? "/key.pem" : "");
		ret = load_certs(t, ca, cert, key, err, errlen);
	}
	if (ret < 0)
		goto out;
	/* OpenSSL writes with write(2): a peer that went away must not kill
	 * the process with SIGPIPE. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		ret = -errno;
		goto out;
	}
	*out = t;
	t = NULL;
out:
	if (ret < 0 && !err[0])
		snprintf(err, errlen, "%s", strerror(-ret));
	ctl_tls_free(t);
	return ret;
}

int ctl_tls_new_psk(const uint8_t *key, size_t keylen, const char *name, struct ctl_tls **out)
{
	struct ctl_tls *t;
	int ret;

	*out = NULL;
	if (keylen < CTL_MIN_KEY || keylen > CTL_MAX_KEY || (name && !name_ok(name, strlen(name))))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "");
	memcpy(t->key, key, keylen);
	t->keylen = keylen;
	ret = ctx_new(t);
	if (ret == 0)
		ret = use_psk(t);
	if (ret == 0 && signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		ret = -errno;
	if (ret < 0) {
		ctl_tls_free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void ctl_tls_free(struct ctl_tls *t)
{
	if (!t)
		return;
	if (t->ctx) {
		SSL_CTX_free(t->ctx);	/* frees t with its last reference */
		return;
	}
	explicit_bzero(t->key, sizeof(t->key));
	free(t);
}

bool ctl_tls_is_psk(const struct ctl_tls *t)
{
	return t && t->psk;
}

/* Map what failed to an errno, and keep OpenSSL's words in c->why. */
static int tls_fail(struct ctl_conn *c, const struct hs_state *st)
{
	unsigned long e = ERR_peek_last_error();
	long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	int ret;

	if (c->ssl && v != X509_V_OK && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
		snprintf(c->why, sizeof(c->why), "peer certificate: %s",
			 X509_verify_cert_error_string(v));
		ERR_clear_error();
		return -EACCES;
	}
	switch (ERR_GET_REASON(e)) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_BINDER_DOES_NOT_VERIFY:
	case SSL_R_TLSV13_ALERT_MISSING_EXTENSION:
	case SSL_R_SSLV3_ALERT_ILLEGAL_PARAMETER:	/* its answer to a binder of another key */
		ret = -EACCES;
		break;
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_HTTP_REQUEST:
		ret = -EPROTONOSUPPORT;
		break;
	case SSL_R_EXCESSIVE_MESSAGE_SIZE:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
	case SSL_R_DATA_LENGTH_TOO_LONG:
	case SSL_R_TLSV1_ALERT_RECORD_OVERFLOW:
		ret = -EMSGSIZE;
		break;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		ret = -ECONNRESET;
		break;
	case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
		ret = -EBADMSG;	/* altered in transit */
		break;
	default:
		ret = -EIO;
	}
	if (st && st->why[0])
		snprintf(c->why, sizeof(c->why), "%s", st->why);
	else if (e)
		ERR_error_string_n(e, c->why, sizeof(c->why));
	ERR_clear_error();
	return ret;
}

/* After an SSL call returned r: wait for what it wants by the deadline
 * (0: call again) or say why it failed. */
static int tls_wait(struct ctl_conn *c, int r, uint64_t deadline, const struct hs_state *st)
{
	struct pollfd pfd = { .fd = c->fd };
	int wait, ret;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		pfd.events = POLLIN;
		break;
	case SSL_ERROR_WANT_WRITE:
		pfd.events = POLLOUT;
		break;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return -ECONNRESET;
	case SSL_ERROR_SYSCALL:
		ret = errno ? -errno : -ECONNRESET;
		if (ERR_peek_last_error())
			return tls_fail(c, st);
		return ret == -EPIPE ? -ECONNRESET : ret;
	default:
		return tls_fail(c, st);
	}
	wait = timeutil_poll_ms(deadline);
	if (wait == 0)
		return -ETIMEDOUT;
	if (poll(&pfd, 1, wait) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int ctl_tls_read(struct ctl_conn *c, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *p = buf;
	int ret;

	while (len) {
		size_t n = 0;
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read_ex(c->ssl, p, len, &n);
		if (r == 1) {
			p += n;
			len -= n;
			continue;
		}
		ret = tls_wait(c, r, deadline, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ctl_tls_write(struct ctl_conn *c, const void *buf, size_t len, uint64_t deadline)
{
	int ret;

	for (;;) {
		size_t n = 0;
		int r;

		ERR_clear_error();
		errno = 0;
		/* Without partial writes it writes all of len or, on WANT_*,
		 * must be called again with the same arguments. */
		r = SSL_write_ex(c->ssl, buf, len, &n);
		if (r == 1)
			return 0;
		ret = tls_wait(c, r, deadline, NULL);
		if (ret < 0)
			return ret;
	}
}

static void add_name(struct ctl_conn *c, const char *s, size_t len)
{
	if (c->nnames >= CTL_MAX_NAMES || !name_ok(s, len))
		return;
	memcpy(c->names[c->nnames], s, len);
	c->names[c->nnames++][len] = 0;
}

/* The certificate's DNS subjectAltNames, or its CN if it has none. */
static void cert_names(struct ctl_conn *c)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	GENERAL_NAMES *gens;
	int i, n;

	if (!x)
		return;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type == GEN_DNS)
			add_name(c, (const char *)ASN1_STRING_get0_data(g->d.dNSName),
				 (size_t)ASN1_STRING_length(g->d.dNSName));
	}
	GENERAL_NAMES_free(gens);
	if (!c->nnames) {
		X509_NAME *sub = X509_get_subject_name(x);
		int at = X509_NAME_get_index_by_NID(sub, NID_commonName, -1);
		ASN1_STRING *cn = at >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(sub, at))
					  : NULL;

		if (cn)
			add_name(c, (const char *)ASN1_STRING_get0_data(cn),
				 (size_t)ASN1_STRING_length(cn));
	}
}

static void peer_id_print(struct ctl_conn *c, bool psk)
{
	size_t off;
	int i;

	off = (size_t)snprintf(c->peer_id, sizeof(c->peer_id), "%s", psk ? "psk:" : "cert:");
	for (i = 0; i < c->nnames && off < sizeof(c->peer_id); i++)
		off += (size_t)snprintf(c->peer_id + off, sizeof(c->peer_id) - off, "%s%s",
					i ? "," : "", c->names[i]);
	if (!c->nnames)
		snprintf(c->peer_id + off, sizeof(c->peer_id) - off, "(no name)");
}

static int handshake(struct ctl_conn *c, bool server, const char *expect, int timeout_ms)
{
	uint64_t deadline = timeutil_deadline_ms(timeout_ms);
	struct ctl_tls *t = c->tls;
	struct hs_state st = { .t = t };
	int ret, r;

	if (!t)
		return 0;
	if (c->ssl)
		return -EALREADY;
	c->why[0] = 0;
	c->nnames = 0;
	if (expect && !name_ok(expect, strlen(expect)))
		return -EINVAL;
	if (expect)
		snprintf(st.ident, sizeof(st.ident), "%s/%s", t->name, expect);
	else
		snprintf(st.ident, sizeof(st.ident), "%s/", t->name);
	c->ssl = SSL_new(t->ctx);
	if (!c->ssl)
		return -ENOMEM;
	ret = -EIO;
	if (SSL_set_fd(c->ssl, c->fd) != 1)
		goto out;
	SSL_set_app_data(c->ssl, &st);
	if (server) {
		SSL_set_accept_state(c->ssl);
	} else {
		SSL_set_connect_state(c->ssl);
		if (expect && !t->psk) {
			SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_WILDCARDS);
			if (SSL_set1_host(c->ssl, expect) != 1)
				goto out;
		}
	}
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_do_handshake(c->ssl);
		if (r == 1)
			break;
		ret = tls_wait(c, r, deadline, &st);
		if (ret < 0) {
			if (ret == -EACCES && !c->why[0] && expect)
				snprintf(c->why, sizeof(c->why), "not accepted as %s", expect);
			goto out;
		}
	}
	ret = -EPROTONOSUPPORT;
	if (SSL_version(c->ssl) != TLS1_3_VERSION)
		goto out;
	ret = -EACCES;
	if (t->psk) {
		/* Only the key may have authenticated this session. */
		if (!SSL_session_reused(c->ssl))
			goto out;
		if (server)
			add_name(c, st.claimed, strlen(st.claimed));
		else if (expect)
			add_name(c, expect, strlen(expect));
	} else {
		if (SSL_get_verify_result(c->ssl) != X509_V_OK ||
		    !SSL_get0_peer_certificate(c->ssl))
			goto out;
		cert_names(c);
	}
	peer_id_print(c, t->psk);
	SSL_set_app_data(c->ssl, NULL);
	return 0;
out:
	SSL_free(c->ssl);
	c->ssl = NULL;
	c->nnames = 0;
	ERR_clear_error();
	return ret;
}

int ctl_handshake_client(struct ctl_conn *c, const char *expect, int timeout_ms)
{
	return handshake(c, false, expect, timeout_ms);
}

int ctl_handshake_server(struct ctl_conn *c, int timeout_ms)
{
	return handshake(c, true, NULL, timeout_ms);
}

bool ctl_peer_is(const struct ctl_conn *c, const char *host)
{
	int i;

	if (!c->ssl || !host)
		return false;
	for (i = 0; i < c->nnames; i++)
		if (!strcasecmp(c->names[i], host))
			return true;
	return false;
}

void ctl_tls_close(struct ctl_conn *c)
{
	if (!c->ssl)
		return;
	/* Best effort, never waits: the socket closes right after. */
	ERR_clear_error();
	SSL_shutdown(c->ssl);
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
}
