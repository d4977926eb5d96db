/* metrics_http: GET /metrics over HTTP (netmoved --metrics; netmoved
 * internals).
 *
 * libmicrohttpd's own thread serves it, never the agent's: at most
 * METRICS_HTTP_CONNS clients at once, each closed after METRICS_HTTP_IDLE_S
 * idle seconds, so a scraper that stalls holds up no relocation.  A scrape
 * holds the agent's lock only to copy the counters (metrics.h). */
#ifndef NETMOVE_AGENT_METRICS_HTTP_H
#define NETMOVE_AGENT_METRICS_HTTP_H

#define METRICS_HTTP_CONNS 8		/* clients at once */
#define METRICS_HTTP_IDLE_S 5		/* a client idle this long is closed */

struct agent;

/* Listen on a->cfg.metrics (IPv4:port) and serve; a->http set.  Returns 0
 * (nothing to do without --metrics) or a negative errno (the address
 * cannot be bound: -EADDRINUSE, -EADDRNOTAVAIL...; -EIO if the server does
 * not start). */
int metrics_http_start(struct agent *a);

/* Stop serving (waits for the server's thread); nothing if not started. */
void metrics_http_stop(struct agent *a);

#endif
