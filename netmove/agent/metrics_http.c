/* GET /metrics with libmicrohttpd (metrics_http.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "agent.h"
#include "metrics.h"
#include "metrics_http.h"

_Static_assert(METRICS_PHASES == PH_MAX, "metrics.h counts agent.h's phases");

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The server; the agent keeps it as an opaque pointer. */
struct metrics_http {
	struct MHD_Daemon *d;
};

/* Copy what a scrape shows; the lock is held for the copy only. */
static void snapshot(struct agent *a, struct metrics_snap *s)
{
	struct reloc *r;
	int p;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&a->lock);
	s->m = a->metrics;
	for (r = a->relocs; r; r = r->next)
		if (!r->done && !r->queued)
			s->in_flight[r->is_src ? METRICS_SRC : METRICS_DST]++;
	s->queued = relq_count(&a->queue, NULL);
	s->scheduled = a->sched.n;
	pthread_mutex_unlock(&a->lock);
	s->host = a->cfg.name;
	s->start_us = a->start_us;
	for (p = 0; p < METRICS_PHASES; p++)
		s->phase_name[p] = reloc_phase_name((enum phase)p);
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned status,
				  const char *text, const char *allow)
{
	struct MHD_Response *rsp;
	enum MHD_Result ret;

	rsp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (!rsp)
		return MHD_NO;
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(rsp, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(conn, status, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

/* One request: answered at its first call (a GET has no body to wait for). */
static enum MHD_Result serve(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version, const char *upload,
			     size_t *upload_len, void **req)
{
	struct metrics_snap s;
	struct MHD_Response *rsp;
	enum MHD_Result ret;
	char *buf;
	size_t len;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n",
				  "GET, HEAD");
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
				  NULL);
	snapshot(cls, &s);
	if (metrics_format(&s, &buf, &len) < 0)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n", NULL);
	rsp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!rsp) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(rsp, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, rsp);
	MHD_destroy_response(rsp);
	return ret;
}

/* libmicrohttpd's messages go to the agent's log, one line each. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	agent_log(cls, "metrics: %s", line);
}

int metrics_http_start(struct agent *a)
{
	struct metrics_http *h;
	int fd, ret;

	if (!a->cfg.metrics)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	/* Bound here, not by libmicrohttpd: a taken address fails with its
	 * errno at start, as --listen does. */
	fd = ctl_listen_tcp(a->cfg.metrics);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		ret = -errno;
		close(fd);
		goto out;
	}
	/* The daemon owns fd from here on (MHD_stop_daemon closes it). */
	h->d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				serve, a,
				/* First: it logs what the other options say. */
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a,
				MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_CONNS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_IDLE_S,
				MHD_OPTION_END);
	if (!h->d) {
		close(fd);
		ret = -EIO;
		goto out;
	}
	a->http = h;
	agent_log(a, "metrics: serving http://%s/metrics", a->cfg.metrics);
	return 0;
out:
	free(h);
	return ret;
}

void metrics_http_stop(struct agent *a)
{
	if (!a->http)
		return;
	MHD_stop_daemon(a->http->d);
	free(a->http);
	a->http = NULL;
}
