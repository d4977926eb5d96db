/* work: the state a relocation's thread keeps, and what reloc.c,
 * reloc_src.c and reloc_dst.c share of it (netmoved internals). */
#ifndef NETMOVE_AGENT_WORK_H
#define NETMOVE_AGENT_WORK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "choreo.h"
#include "shipq.h"
#include "spill.h"
#include "taprec.h"
#include "netmove/wire.h"

struct ovsp_conn;
struct ovsp_ctl;

/* Per-thread working state that does not need the agent's lock. */
struct work {
	struct reloc *r;
	struct agent *a;
	struct reloc_progress p;	/* what this thread measured (published into r->p) */
	struct buffer *buf;		/* eBPF buffer on the VM's port */
	struct replay *rp;		/* replays shipped frames (dst), forwards held ones (src) */
	struct taprec tap;		/* what the source tap's reader left (src) */
	struct spill spill;		/* the ring's frames moved to memory while paused (src) */
	struct shipq sent;		/* shipped, not yet confirmed (src) */
	bool done;			/* the destination's DONE came (src) */
	bool dst_short;			/* it came before frames shipped, which went out
					 * of the uplink after the VM instead (src) */
	struct ovsp_conn *of;		/* OpenFlow to the local bridge */
	struct ovsp_ctl *ctl;		/* unixctl of the local vswitchd */
	struct wire up;			/* announcements out of the uplink (dst) */
	bool flows;			/* VM flows installed by us */
	bool ovs_fdb;			/* OVS MAC entry moved by us */
	bool peer_up;			/* peer connection usable */
	bool vm_paused;			/* source VM stopped (buffering) */
	bool resumed_local;		/* VM resumed on this host (rollback) */
	bool stopping;			/* netmoved is stopping (EV_STOP came) */
	int spill_err;			/* the first spill_take error, logged once */
	uint64_t deadline;		/* when the waiting state's time runs out (0: not set) */
	struct reloc_event ev;		/* the last event (a CI_EVENT's detail) */
	uint64_t expected;		/* frames the source said it shipped (dst) */
	bool spilling;			/* the ring is moved to memory every step: the VM is
					 * paused (src) or resumed with A's frames to come (dst) */
	uint64_t port_drop0;		/* the port's tx_dropped when the buffer was attached */
	uint64_t rp_tx0;		/* its tx_packets when replays began (dst) */
	uint64_t rp_sent;		/* frames replayed into it since (dst) */
	uint64_t rp_limit;		/* most of them left unread at once: half its
					 * txqueuelen (dst, 0: no pacing) */
	uint64_t resume_real_us;	/* when the resume detector saw the VM */
	pthread_t fdb_thread;		/* programs the upstream FDB (dst) */
	bool fdb_running;		/* fdb_thread to join */
	int fdb_ret;			/* its result */
	char fdb_err[128];		/* and the kernel's message */
	char fdb_port[IF_NAMESIZE];	/* the port it read back (fdb_thread's, until joined) */
	uint64_t fdb_moved_us;		/* and when (fdb_thread's, until joined) */
	struct ctl_msg in;		/* last message received */
	struct ctl_msg out;		/* message being built */
};


/* Now, CLOCK_REALTIME µs (the journal's and the phases' clock). */
uint64_t work_now_us(void);
/* Publish what this thread measured into its record (status, journal). */
void work_publish(struct work *w);
/* Enter phase p: its time, the log, a test's fault (fault.h). */
void work_mark(struct work *w, enum phase p);
/* Set the relocation's error, if none yet (err 0: no errno). */
void work_error(struct work *w, const char *what, int err, const char *detail);
/* Append the relocation's record to the journal. */
void work_journal(struct work *w);
/* Answer events that came after the thread stopped listening. */
void work_answer_late(struct work *w);
/* Wait ms after COMMIT (the grace period), cut short when netmoved stops. */
void work_grace_wait(struct work *w, unsigned ms);
/* The outcome is known: record, journal and announce it. */
void work_finish(struct work *w, const char *outcome);
/* Release everything the thread holds; the record is left to the agent. */
void work_cleanup(struct work *w);
/* Send w->out to the peer (-ENOTCONN once it failed). */
int work_send(struct work *w);
/* Send a message with the relocation's id, a text and a time (0: none). */
int work_send_simple(struct work *w, uint16_t type, const char *text, uint64_t time_us);
/* Connect to the local bridge's OpenFlow and unixctl sockets. */
int work_ovs_open(struct work *w);
/* Attach the buffer to the VM's port, with a lease, its ring touched. */
int work_attach_buffer(struct work *w);
/* Wait for a message from the peer (1, in w->in), an event (2, *ev), the
 * resume detector (3); 0 on timeout, a negative errno if the peer is lost. */
int work_wait(struct work *w, int timeout_ms, struct reloc_event *ev);
/* While spilling: move what the ring holds into memory (spill.h). */
void work_spill(struct work *w);
/* True if a relocation of the same MAC started on this agent after w's. */
bool work_superseded(struct work *w);

/* The ops both roles share (choreo.h). */
void work_next(void *ctx, enum choreo_state s, struct choreo_input *in);
void work_reply(void *ctx, const struct choreo_input *in, bool ok, const char *text);
void work_op_error(void *ctx, const char *what, const char *detail);
void work_commit(void *ctx, const char *outcome);
void work_stopping(void *ctx);

/* A relocation's thread: its state set up, its first journal record, the
 * choreography run through the role's ops, everything released. */
void work_run(struct reloc *r, enum choreo_role role, const struct choreo_ops *ops);
/* The threads of the two roles (reloc_src.c, reloc_dst.c). */
void *reloc_src_main(void *arg);
void *reloc_dst_main(void *arg);

#endif
