/* netmoved internals: configuration, relocations, phases. */
#ifndef NETMOVE_AGENT_H
#define NETMOVE_AGENT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include "netmove/ctl.h"
#include "netmove/mac.h"
#include "netmove/worker.h"
#include "fault.h"
#include "lease.h"
#include "metrics.h"
#include "relq.h"
#include "requester.h"
#include "sched.h"
#include "series.h"
#include "spares.h"
#include "spill.h"
#include "taprec.h"

#define AGENT_MAX_PEERS 16
#define AGENT_MAX_PER_PEER 16		/* --max-per-peer default */
#define AGENT_MAX_PER_PEER_LIMIT 1024	/* and its largest */
#define AGENT_DEQUEUE_BATCH 32		/* relocations agent_dequeue starts per lock taken */
#define AGENT_NAME_LEN 32
/* Finished relocations kept for `netmove status` (the journal has them all). */
#define AGENT_KEEP_DONE 64

/* A peer agent this one may talk to. */
struct agent_peer {
	char name[AGENT_NAME_LEN];	/* its host name */
	char addr[64];			/* "IPv4:port" */
};

/* Everything the agent was started with. */
struct agent_cfg {
	char name[AGENT_NAME_LEN];	/* this host's name */
	const char *listen;		/* "IPv4:port" for peers, NULL: none */
	const char *metrics;		/* "IPv4:port" of GET /metrics, NULL: off */
	const char *socket;		/* local unix socket */
	struct ctl_tls *tls;		/* TLS of every peer connection (PSK or certificates) */
	struct agent_peer peers[AGENT_MAX_PEERS]; /* known peers */
	int npeers;			/* how many */
	const char *ofctl;		/* OpenFlow target, e.g. unix:/run/.../br-int.mgmt */
	const char *ovs_ctl;		/* ovs-vswitchd unixctl socket */
	const char *ovsdb;		/* OVSDB socket ("unix:PATH"): a pulled VM's port */
	const char *bridge;		/* OVS bridge name */
	const char *uplink;		/* uplink interface towards the fabric */
	struct in_addr gateway;		/* router the verify step asks */
	const char *journal;		/* JSON-lines audit trail */
	const char *schedule;		/* the schedule's file (scheduler.h) */
	const char *tor_netns;		/* upstream switch reachable in this netns, or NULL */
	const char *tor_bridge;		/* its bridge */
	const char *tor_port;		/* its port towards this host */
	unsigned grace_ms;		/* leftovers removed this long after COMMIT */
	unsigned phase_timeout_ms;	/* longest wait for the peer in one phase */
	unsigned blackout_timeout_ms;	/* longest wait for the VM to resume */
	unsigned handoff_idle_ms;	/* a destination waits this long for the source's
					 * next frames before it lets the VM's own through */
	unsigned ring_mib;		/* buffer ring size per VM port */
	unsigned max_per_peer;		/* this agent's relocations one destination takes at
					 * once; the others are queued (relq.h) */
	unsigned spill_mib;		/* most a source moves out of a ring into memory, per
					 * relocation (0: none) */
	bool no_tap_recovery;		/* leave frames a stopped VM left in its tap */
	bool no_port_watch;		/* do not give new taps their clsact qdisc */
	struct fault fault;		/* a test's injected fault (NETMOVED_FAULT), or none */
};

/* Phases, in order; ROLLBACK can follow any phase before COMMIT. */
enum phase {
	PH_PREPARE,
	PH_BLACKOUT,
	PH_SWITCHOVER,
	PH_HANDOFF,
	PH_VERIFY,
	PH_COMMIT,
	PH_ROLLBACK,
	PH_MAX,
};

/* An event handed from the main thread to a relocation's thread. */
struct reloc_event {
	int kind;		/* EV_* */
	int cli_fd;		/* connection to answer, or -1 */
	uint64_t time_us;	/* when it was received */
	uint64_t stopped_us;	/* when the VM stopped, per the hypervisor (0: not said) */
	bool reader_keeps;	/* its tap's reader keeps one frame read after the stop */
	bool last_rx;		/* last: what the guest's RX ring told at the stop */
	struct rxmatch_tail last;
};

/* EV_STOP: netmoved is stopping (SIGTERM): roll back what has not begun
 * moving, finish what has, cut the grace period short. */
enum { EV_BLACKOUT = 1, EV_RESUMED, EV_FAILED, EV_STOP };

/* What a relocation's thread measures.  The thread keeps its own copy and
 * publishes it into its struct reloc under the agent's lock (reloc.c), so
 * `netmove status` and the journal read a consistent snapshot and no field
 * is written by one thread while another reads it. */
struct reloc_progress {
	uint64_t resume_us;		/* VM resumed on the destination (from dst) */
	uint64_t resume_seen_us;	/* the resume detector's event read here (dst) */
	uint64_t announce_us;		/* first announcement left (dst) */
	uint64_t fdb_moved_us;		/* upstream FDB read back on this host (dst) */
	uint64_t first_replay_us;	/* first shipped frame replayed into the VM (dst) */
	uint64_t buffered;		/* frames captured on this host */
	uint64_t shipped;		/* frames sent to the destination (src) */
	uint64_t confirmed;		/* of which the destination confirmed (src) */
	uint64_t forwarded;		/* held frames sent out of the uplink after the VM,
					 * its destination agent gone (src) */
	uint64_t late_forwarded;	/* reached the old port after the follow: sent out of
					 * the uplink by the program, up to the commit (src) */
	uint64_t unconfirmed;		/* shipped into a destination that never confirmed
					 * them and was not seen to die: they may be lost (src) */
	uint64_t received;		/* frames received from the source (dst) */
	uint64_t replayed;		/* frames replayed into the VM on this host */
	uint64_t replayed_gso;		/* of which GSO super-frames (dst) */
	uint64_t replayed_partial;	/* of which checksum-partial (dst) */
	uint64_t dropped;		/* frames dropped (ring full, DROP mode) */
	uint64_t spilled;		/* frames moved out of the ring into memory */
	uint64_t spill_bytes;		/* the memory they took */
	uint64_t port_dropped;		/* frames the VM's port dropped meanwhile (a tap whose
					 * reader fell behind) */
	uint64_t stopped_us;		/* the VM stopped, per the blackout event (src, 0: not said) */
	int tap_queues;			/* tap queue descriptors held (src; <0: -errno, none) */
	uint64_t tap_recovered;		/* frames read out of the source tap and shipped (src) */
	uint64_t tap_other;		/* frames in it for other addresses, left (src) */
	uint64_t tap_read;		/* frames the tap's reader took, PREPARE..handoff (tx_packets, src) */
	char reader_kept[176];		/* the frames a keeping reader lost: what became of them (src) */
	uint64_t tap_reader_lost;	/* how many of them were sent on (src) */
	bool verified;			/* verify answered */
	double verify_rtt_ms;		/* its round trip */
	char fdb_port[IF_NAMESIZE];	/* upstream FDB read back: the port */
	struct series held_series;	/* frames captured here, over time, while the ring
					 * filled with nobody taking it */
	struct series shipped_series;	/* frames sent to the destination, over time (src) */
	struct series replayed_series;	/* frames replayed into the VM, over time (dst) */
};

/* One relocation of one VM, as seen by this host. */
struct reloc {
	uint64_t id;			/* unique per source agent */
	bool is_src;			/* source (true) or destination role */
	struct mac mac;			/* the VM's MAC */
	struct in_addr ip;		/* the VM's IPv4 address */
	char port[IF_NAMESIZE];		/* the VM's port on this host */
	char peer_port[IF_NAMESIZE];	/* the VM's port on the destination (src role) */
	char from[AGENT_NAME_LEN];	/* source host */
	char to[AGENT_NAME_LEN];	/* destination host */
	struct requester by;		/* who asked */
	unsigned priority;		/* its place in the queue (relq.h: higher first) */
	bool queued;			/* waiting for its turn, no thread yet (under lock) */
	uint64_t queued_us;		/* CLOCK_REALTIME µs it was queued, 0 if never */
	enum phase phase;		/* current phase */
	uint64_t t_us[PH_MAX];		/* CLOCK_REALTIME µs each phase began, 0 if not */
	uint64_t t_mono_us[PH_MAX];	/* the same instants in CLOCK_MONOTONIC µs (this
					 * boot, boot_id): a wall clock set meanwhile
					 * does not move them */
	bool prepared;			/* source: the destination answered PREPARED */
	struct reloc_progress p;	/* what its thread measured, as last published
					 * (under lock) */
	struct buffer *lease_buf;	/* its buffer while attached: the lease thread renews
					 * its lease (under lock) */
	bool done;			/* outcome known (the thread may still clean up) */
	bool thread_exited;		/* the thread no longer touches this record */
	char outcome[32];		/* committed / rolled back / failed */
	char error[256];		/* why, if not committed */
	int evfd[2];			/* pipe: main thread -> relocation thread */
	int cli_fd;			/* CLI waiting for the end, or -1 */
	struct ctl_conn peer;		/* connection to the other agent */
	struct agent *agent;		/* owner */
	pthread_t thread;		/* its thread */
	struct reloc *next;		/* list link */
};

#define AGENT_EARLY_MAX 16		/* resumes kept before their PREPARE */
#define AGENT_MAX_UNAUTH 256		/* peer connections not authenticated yet, at once */
#define AGENT_HANDSHAKE_MS 2000		/* a peer's TLS handshake must end within this */
#define AGENT_CONN_STACK (256u << 10)	/* stack of a connection's thread */
#define AGENT_EARLY_MS 5000		/* and for how long */

/* A VM that resumed here before its relocation was prepared here (a fast
 * migration outran PREPARE): the relocation switches over as it starts. */
struct early_resume {
	struct mac mac;
	uint64_t time_us;		/* CLOCK_REALTIME µs of the resume event */
	uint64_t mono_ns;		/* when it was noted; 0: slot free */
};

/* The agent. */
struct agent {
	struct agent_cfg cfg;		/* configuration */
	pthread_mutex_t lock;		/* protects relocs, next_id and early */
	struct reloc *relocs;		/* every relocation since start */
	uint64_t next_id;		/* id generator */
	struct early_resume early[AGENT_EARLY_MAX];
	struct spares spares;		/* buffer programs loaded ahead */
	int unauth;			/* peer connections in their handshake (under lock) */
	uint64_t unauth_refused;	/* connections refused for that (under lock) */
	struct worker lease;		/* renews the relocations' buffer leases (lease.c) */
	struct metrics metrics;		/* counted since start (under lock; metrics.h) */
	struct relq queue;		/* source relocations waiting for their turn (under lock) */
	struct sched sched;		/* relocations scheduled for later (under lock) */
	struct worker scheduler;	/* begins them (scheduler.c) */
	char boot_id[40];		/* this boot's id: CLOCK_MONOTONIC times compare within it */
	uint64_t start_us;		/* when it started (CLOCK_REALTIME µs) */
	struct metrics_http *http;	/* serves them (--metrics), or NULL */
	volatile int stop;		/* set by SIGTERM/SIGINT */
	bool stopping;			/* shutting down: no new relocation (under lock) */
};

/* Note a resume of mac with no relocation of it here yet (caller holds
 * a->lock); take one back (caller holds a->lock): true with *time_us if mac
 * resumed within AGENT_EARLY_MS. */
void agent_note_early_resume(struct agent *a, const struct mac *mac, uint64_t time_us);
bool agent_take_early_resume(struct agent *a, const struct mac *mac, uint64_t *time_us);

/* True if bridge learned mac on OpenFlow port uplink (a learned entry, not
 * netmove's static one): the VM announced itself from elsewhere. */
struct ovsp_ctl;
bool agent_vm_on_uplink(struct ovsp_ctl *ctl, const char *bridge, const struct mac *mac,
			uint32_t uplink);

/* Send one held frame out of the uplink (rp, a replayer on it) after the
 * VM, and count it in *sent.  Paced: the VM's tap on the other host is out
 * of sight and a burst at line rate would overflow its queue, so the sends
 * pause AGENT_FORWARD_PAUSE_US after every AGENT_FORWARD_BATCH frames.
 * Returns buffer_replay's result. */
#define AGENT_FORWARD_BATCH 64
#define AGENT_FORWARD_PAUSE_US 1000	/* at most ~64k frames/s */
struct buffer;
struct buffer_record;
int agent_forward(struct replay *rp, const struct buffer_record *rec, uint64_t *sent);

/* Frames for a VM that left may still reach its old port for a while (the
 * datapath's cached flows, frames a busy vSwitch took in before the fabric
 * moved): call step every AGENT_QUIET_STEP_US until it found nothing (it
 * returns how many frames it took) rounds times in a row, at most
 * AGENT_QUIET_MAX times.  Returns 0 or step's negative errno. */
#define AGENT_QUIET_STEP_US 5000
#define AGENT_QUIET_ROUNDS 3		/* 15 ms: the least quiet that counts */
#define AGENT_QUIET_ROUNDS_MAX 40	/* 200 ms: the most asked of a slow VM */
#define AGENT_QUIET_MAX 200		/* 1 s */
/* A source's grace period goes on while frames still reach the old port
 * (its program sends them out of the uplink: late_forwarded), looked at
 * every AGENT_LATE_QUIET_MS, for at most AGENT_LATE_MAX_MS more: a vSwitch
 * far behind (seconds, under load) still hands the old port what it took
 * in before the fabric moved, and without the flows and the program those
 * frames would be lost. */
#define AGENT_LATE_QUIET_MS 500
#define AGENT_LATE_MAX_MS 8000
int agent_until_quiet(int (*step)(void *arg), void *arg, int rounds);

/* After its mode changed, a capture that began before may still be being
 * copied into b's ring on another CPU (reserved, not yet committed): call
 * step (which exports the ring) until the ring is empty, at most
 * AGENT_DRAIN_TRIES times AGENT_DRAIN_STEP_US apart.  Returns 0 or step's
 * negative errno. */
#define AGENT_DRAIN_TRIES 100
#define AGENT_DRAIN_STEP_US 100
int agent_ring_empty(struct buffer *b, int (*step)(void *arg), void *arg);

/* What relocation id of source host from holds: "tap", the frames its
 * source read out of the VM's tap (taprec's keep file), or "spill", what it
 * moved out of the ring (spill.h).  A record file (recfile.h) beside the
 * agent's local socket, a runtime directory, so that an agent started after
 * this one died finds it (recover.h): SOCKET.WHAT-FROM-ID. */
void agent_reloc_path(const struct agent *a, const char *what, const char *from, uint64_t id,
		      char *buf, size_t len);

/* Free finished relocations beyond AGENT_KEEP_DONE (caller holds a->lock). */
void agent_prune(struct agent *a);

/* True if name is one of the --peer hosts. */
bool agent_is_peer(const struct agent *a, const char *name);

/* Find an unfinished relocation of mac (caller holds a->lock). */
struct reloc *agent_find(struct agent *a, const struct mac *mac);

/* Log a line to stderr with a timestamp (agent_vlog: from a va_list). */
void agent_vlog(const struct agent *a, const char *fmt, va_list ap);
void agent_log(const struct agent *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A journal record's first fields: time_us (CLOCK_REALTIME), mono_us
 * (CLOCK_MONOTONIC), boot_id, host. */
void agent_journal_head(const struct agent *a, struct out *o);

/* Reply to a CLI connection and close it (fd -1: nothing). */
void agent_reply(int fd, bool ok, const char *text);

/* Start a relocation of the VM in req (PROTO_REQ_RELOCATE) with this agent
 * as the source; the answer ("prepared" or why not) goes to fd, which is
 * then closed.  by: who asked, for the journal. */
void agent_relocate(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by);
/* The VM a request names: A_MAC (unicast) and A_IP (not 0.0.0.0).  Returns 0
 * or -EINVAL with why in err. */
int agent_get_vm(const struct ctl_msg *m, struct mac *mac, struct in_addr *ip, char *err,
		 size_t errlen);
/* A relocate request's fields (PROTO_REQ_RELOCATE) into r: mac, ip, to,
 * port, peer_port, priority, from.  Returns 0 or -EINVAL with why in err. */
int agent_parse_relocate(struct agent *a, struct ctl_msg *req, struct reloc *r, char *err,
			 size_t errlen);

/* Relocations started from the destination (pull.c).  pull_start: a local
 * PROTO_REQ_PULL on fd from by: ask the peers (saying who asked), answer on
 * fd.  pull_serve: a peer's PROTO_PULL on c: relocate the VM to it if it is
 * on a port here. */
void pull_start(struct agent *a, int fd, struct ctl_msg *req, const struct requester *by);
/* A pull request's fields (PROTO_REQ_PULL or PROTO_PULL): mac, ip and port
 * (IF_NAMESIZE bytes); with from (AGENT_NAME_LEN bytes) not NULL, also the
 * source (A_FROM, "" for any peer) and the priority.  Returns 0 or -EINVAL
 * with why in err. */
int pull_parse(struct ctl_msg *m, struct mac *mac, struct in_addr *ip, char *port, char *from,
	       unsigned *priority, char *err, size_t errlen);
void pull_serve(struct agent *a, struct ctl_conn *c, struct ctl_msg *m);

/* Phases (reloc.c). */
const char *reloc_phase_name(enum phase p);
/* Start the source side of a relocation (thread); reply goes to cli_fd. */
int reloc_start_src(struct agent *a, struct reloc *r);
/* Start the destination side for a PREPARE received on conn. */
int reloc_start_dst(struct agent *a, struct ctl_conn *conn, struct ctl_msg *prepare);
/* Phase p of r began at real_us (CLOCK_REALTIME µs): t_us and t_mono_us
 * (caller holds a->lock, or owns r alone). */
void reloc_mark_at(struct reloc *r, enum phase p, uint64_t real_us);
/* Render a relocation's state with the out printer (status, journal). */
struct out;
void reloc_render(struct reloc *r, struct out *o);
/* Append r's record to the journal (takes a->lock to render it). */
void reloc_journal(struct agent *a, struct reloc *r);

/* The queue (agent.c).  agent_in_flight_to: this agent's source
 * relocations to host under way, queued ones not counted (caller holds
 * a->lock).  agent_start_src: start r's thread; if it cannot start, r ends
 * failed and its asker is told.  agent_dequeue: after one to host ended,
 * start those waiting for it while it has room, in their order; one whose
 * asker hung up ends "cancelled" (journaled).  agent_cancel_queued: end
 * every queued one "cancelled" with why, telling its asker (shutdown). */
unsigned agent_in_flight_to(struct agent *a, const char *host);
void agent_start_src(struct agent *a, struct reloc *r);
void agent_dequeue(struct agent *a, const char *host);
void agent_cancel_queued(struct agent *a, const char *why);

#endif
