/* probe: a sequenced UDP stream.  The sender paces numbered datagrams at a
 * fixed rate and ends with END markers carrying the total; the receiver counts
 * received, lost, duplicated and reordered datagrams and the largest gap
 * between two arrivals.  Optionally the receiver echoes each datagram back. */
#ifndef NETMOVE_PROBE_H
#define NETMOVE_PROBE_H

#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#define PROBE_MAGIC 0x4e4d5042u		/* "NMPB" */
#define PROBE_VERSION 1
#define PROBE_HDR_LEN 32
#define PROBE_MAX_SIZE 8972		/* UDP payload at MTU 9000 */
#define PROBE_MAX_SEQ (1ULL << 31)	/* receiver bitmap bound (256 MiB) */
#define PROBE_FLAG_END 0x01		/* end marker: total = datagrams sent */
#define PROBE_DEFAULT_PORT 7869

/* One datagram's header (wire form is big-endian, PROBE_HDR_LEN bytes). */
struct probe_pkt {
	uint8_t flags;		/* PROBE_FLAG_* */
	uint32_t run;		/* run id chosen by the sender */
	uint64_t seq;		/* sequence number (data) or total sent (END) */
	uint64_t send_ns;	/* sender's CLOCK_REALTIME */
};

/* Write hdr into buf padded with a pattern to size bytes (>= PROBE_HDR_LEN).
 * Returns size or a negative errno. */
int probe_encode(uint8_t *buf, size_t cap, const struct probe_pkt *pkt, size_t size);

/* Parse a datagram; returns 0, or -EINVAL if short, foreign or malformed. */
int probe_decode(const uint8_t *buf, size_t len, struct probe_pkt *pkt);

/* Receiver accounting, independent of sockets. */
struct probe_stats {
	uint64_t received;	/* data datagrams of the run, duplicates included */
	uint64_t unique;	/* distinct sequence numbers */
	uint64_t duplicated;	/* datagrams whose sequence was already seen */
	uint64_t reordered;	/* arrived after a higher sequence number */
	uint64_t lost;		/* expected - unique */
	uint64_t expected;	/* total from END, else highest seq + 1 */
	uint64_t foreign;	/* datagrams of other runs or not probe datagrams */
	bool end_seen;		/* an END marker arrived */
	uint64_t max_gap_ns;	/* largest inter-arrival time */
	uint64_t gap_before_seq; /* sequence number that ended that gap */
	uint64_t first_ns;	/* arrival of the first datagram (CLOCK_REALTIME) */
	uint64_t last_ns;	/* arrival of the last datagram */
	uint64_t max_latency_ns; /* largest receive - send time (same-host clocks) */
};

/* Receiver state. */
struct probe_rx {
	struct probe_stats st;	/* running counters */
	uint8_t *seen;		/* bitmap of sequence numbers */
	uint64_t seen_bits;	/* bitmap capacity */
	uint64_t max_seq;	/* highest sequence number seen */
	bool have_run;		/* run id fixed by the first datagram */
	uint32_t run;		/* the run being counted */
	uint64_t prev_ns;	/* arrival of the previous data datagram */
};

void probe_rx_init(struct probe_rx *rx);
void probe_rx_free(struct probe_rx *rx);

/* Account one arrival (rx_ns: CLOCK_REALTIME).  Returns 0, -ENOMEM, or -ERANGE
 * for a sequence number past PROBE_MAX_SEQ (counted as foreign). */
int probe_rx_account(struct probe_rx *rx, const struct probe_pkt *pkt, uint64_t rx_ns);

/* Final figures (lost computed from expected). */
void probe_rx_result(const struct probe_rx *rx, struct probe_stats *st);

/* A run of lost sequence numbers [first, last]. */
struct probe_range {
	uint64_t first;		/* first missing sequence number */
	uint64_t last;		/* last missing one */
};

/* The first (up to max) runs of sequence numbers below expected that never
 * arrived; returns how many were written. */
size_t probe_rx_lost_ranges(const struct probe_rx *rx, uint64_t expected,
			    struct probe_range *out, size_t max);

/* Sender configuration. */
struct probe_send_cfg {
	struct in_addr dst;	/* receiver address */
	uint16_t port;		/* receiver port */
	uint64_t rate;		/* datagrams per second */
	size_t size;		/* UDP payload bytes */
	uint64_t duration_ns;	/* how long to send */
	uint32_t run;		/* run id (0: pick one) */
	const char *ifname;	/* bind to this device, or NULL */
	const volatile sig_atomic_t *stop;	/* if set and non-zero: end early */
};

/* Sender outcome. */
struct probe_send_result {
	uint64_t sent;		/* data datagrams sent */
	uint64_t errors;	/* sends that failed (not retried: counted as loss) */
	uint64_t elapsed_ns;	/* first to last send */
	uint32_t run;		/* run id used */
	bool stopped;		/* ended early (cfg->stop): END carries what was sent */
};

/* Send the stream, then three END markers (with the number sent: all of it,
 * or what was sent before *cfg->stop was set).  Returns 0 or a negative errno. */
int probe_send(const struct probe_send_cfg *cfg, struct probe_send_result *res);

/* Receiver configuration. */
struct probe_recv_cfg {
	struct in_addr bind;	/* local address (INADDR_ANY allowed) */
	uint16_t port;		/* local port */
	uint64_t timeout_ns;	/* give up this long after start with no END */
	uint64_t idle_ns;	/* stop this long after the last datagram (0: never) */
	bool echo;		/* send every datagram back to its source */
	int ready_fd;		/* if >= 0, write "ready\n" here once bound */
	struct probe_range *lost;	/* if not NULL, receives the first lost runs */
	size_t max_lost;	/* room in lost */
	size_t *n_lost;		/* runs written to lost */
};

/* Receive one run until END (+ a short grace for stragglers), idle or
 * timeout.  Returns 0 or a negative errno. */
int probe_recv(const struct probe_recv_cfg *cfg, struct probe_stats *st);

#endif
