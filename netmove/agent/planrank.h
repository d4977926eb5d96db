/* planrank: `netmove plan`'s facts and its decision (netmoved internals).
 *
 * For each candidate host the asking agent (on the VM's current host) holds
 * what it found itself (a --peer?  reached?  authenticated?  its own
 * relocations to it) and what the candidate measured there and sent back in
 * PROTO_PLAN_REPLY (its buffer, bridge, uplink, datapath flows, ARP probes
 * of the gateway and of the VM from its uplink, its load).  The decision is
 * a pure function of those and of the VM's measured traffic: every reason a
 * candidate cannot take the VM, and the others ranked.  No I/O and no
 * clock, so tests feed it tables. */
#ifndef NETMOVE_AGENT_PLANRANK_H
#define NETMOVE_AGENT_PLANRANK_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>

#include "netmove/ctl.h"
#include "netmove/mac.h"
#include "netmove/out.h"

#define PLAN_MAX_CANDIDATES 16		/* hosts one plan asks (AGENT_MAX_PEERS) */
#define PLAN_NAME_LEN 32		/* a host name, with its NUL (AGENT_NAME_LEN) */
#define PLAN_TEXT 192			/* one reason's or error's words */
#define PLAN_MARGIN 1.5			/* a buffer must hold rate x blackout this many times */
#define PLAN_HEADROOM_ENOUGH 8.0	/* beyond this many times the need, more buffer
					 * does not rank a host higher */
#define PLAN_FLOWS_FREE_MIN 100		/* datapath flows a host must have left */
#define PLAN_FLOWS_BUSY_PCT 90		/* and at most this share of its limit used */
#define PLAN_MIN_FRAME 60		/* frame size assumed below it (an idle VM) */
#define PLAN_BLACKOUT_DEFAULT_MS 1000	/* `netmove plan --blackout-ms` default */
#define PLAN_BLACKOUT_MAX_MS 3600000	/* and its largest */

/* Why a candidate cannot take the VM (bit numbers of plan_verdict.reasons). */
enum plan_reason {
	PLAN_R_NOT_PEER,	/* not a --peer of the asking agent */
	PLAN_R_SELF,		/* the VM's current host */
	PLAN_R_UNREACHABLE,	/* no TCP connection to its agent */
	PLAN_R_UNAUTHENTICATED,	/* the TLS handshake failed: wrong key or certificate,
				 * or not the host asked for */
	PLAN_R_NO_ANSWER,	/* authenticated, but no usable answer in time */
	PLAN_R_STOPPING,	/* its agent is stopping */
	PLAN_R_ASKER_UNKNOWN,	/* the asker is not one of its peers: it refuses PREPARE */
	PLAN_R_BRIDGE,		/* its bridge not reachable over OpenFlow, or no uplink on it */
	PLAN_R_UPLINK,		/* its uplink is not up */
	PLAN_R_PROBE,		/* its ARP probes could not run */
	PLAN_R_GATEWAY,		/* its gateway did not answer from its uplink */
	PLAN_R_L2,		/* the VM did not answer from its uplink */
	PLAN_R_BUFFER_PROG,	/* it cannot load the buffer program */
	PLAN_R_BUFFER,		/* its ring holds less than the blackout needs */
	PLAN_R_FLOWS,		/* its datapath flows near their limit */
	PLAN_R_LIMIT,		/* this host's relocations to it at --max-per-peer */
	PLAN_R_MAX,
};

/* How far the asker's exchange with a candidate got. */
enum plan_stage {
	PLAN_ST_NONE,		/* not tried (not a peer, this host) */
	PLAN_ST_CONNECT,	/* the TCP connection failed */
	PLAN_ST_TLS,		/* the handshake failed */
	PLAN_ST_ANSWER,		/* no usable PROTO_PLAN_REPLY */
	PLAN_ST_DONE,		/* answered: plan_facts.p holds what it said */
};

/* What a candidate measured there (PROTO_PLAN_REPLY). */
struct plan_peer_facts {
	uint64_t ring_bytes;		/* its ring per VM port (--ring-mib) */
	uint64_t spill_bytes;		/* most it spills per relocation (--spill-mib) */
	uint32_t progs_ready;		/* buffer programs it has loaded ahead */
	int prog_err;			/* 0, or -errno: a trial load of the program failed */
	char bridge_err[PLAN_TEXT];	/* "", or why OpenFlow or the uplink's port failed */
	char uplink_err[PLAN_TEXT];	/* "", or why its uplink is not up */
	uint64_t dp_flows;		/* its datapath's flows */
	uint64_t dp_limit;		/* their limit (OVS lowers it under load), 0: unknown */
	char flows_err[PLAN_TEXT];	/* "", or why it could not tell them */
	char probe_err[PLAN_TEXT];	/* "", or why its ARP probes could not run */
	struct in_addr gateway;		/* its gateway */
	bool gw_answered;		/* the gateway answered an ARP probe from its uplink */
	uint64_t gw_rtt_ns;		/* its round trip */
	bool vm_answered;		/* the VM's IP answered one */
	uint64_t vm_rtt_ns;		/* its round trip */
	struct mac probe_mac;		/* the identity the probes used (never the VM's) */
	uint32_t in_flight;		/* its relocations under way, either role */
	uint32_t queued;		/* its relocations waiting for their turn */
	bool stopping;			/* its agent is stopping */
	bool knows_asker;		/* the asker is one of its --peer hosts */
	uint64_t took_us;		/* its time to find all this */
};

/* One candidate, as the asker knows it. */
struct plan_facts {
	char host[PLAN_NAME_LEN];	/* its name */
	bool peer;			/* a --peer of the asker */
	bool self;			/* the asker itself (the VM's current host) */
	enum plan_stage stage;		/* how far the exchange got */
	char why[PLAN_TEXT];		/* stage < DONE: what failed, in words */
	uint64_t answer_us;		/* connect to answer */
	uint32_t in_flight_to;		/* the asker's relocations to it under way */
	uint32_t queued_to;		/* and queued for it */
	struct plan_peer_facts p;	/* stage DONE: what it said */
};

/* The VM and the asking host. */
struct plan_vm {
	struct mac mac;			/* the VM's MAC */
	struct in_addr ip;		/* its IPv4 address */
	char port[IF_NAMESIZE];		/* its port on the asking host */
	double rate_fps;		/* frames towards it per second, measured */
	double mean_bytes;		/* their mean size */
	uint64_t window_us;		/* measured over this long */
	uint64_t blackout_ms;		/* the blackout expected */
	bool answers_probe;		/* it answered an ARP probe on its own port: its
					 * silence elsewhere means its L2 domain is not there */
	uint32_t max_per_peer;		/* the asker's --max-per-peer */
	uint64_t ring_bytes;		/* the asker's ring (it is the source) */
	uint64_t spill_bytes;		/* and its spill limit */
};

/* The decision on one candidate. */
struct plan_verdict {
	bool accepted;			/* no reason against it */
	unsigned rank;			/* 1.. among the accepted, 0 if rejected */
	uint32_t reasons;		/* 1 << PLAN_R_* */
	char text[PLAN_R_MAX][PLAN_TEXT]; /* each reason in words */
	uint64_t need_frames;		/* rate x blackout x PLAN_MARGIN */
	uint64_t capacity_frames;	/* its ring, in frames of the VM's mean size */
	double headroom;		/* capacity / need (need 0: capacity) */
	uint32_t load;			/* relocations there under way or waiting */
};

/* The JSON key of a reason ("unreachable", "buffer", ...). */
const char *plan_reason_name(enum plan_reason r);

/* Ring bytes one captured frame of mean_bytes takes (record header, the
 * BPF ring's own header, 8-byte alignment). */
uint64_t plan_record_bytes(double mean_bytes);
/* Frames of mean_bytes a ring of ring_bytes holds. */
uint64_t plan_ring_frames(uint64_t ring_bytes, double mean_bytes);
/* Frames of mean_bytes a spill of spill_bytes holds (their wire form). */
uint64_t plan_spill_frames(uint64_t spill_bytes, double mean_bytes);
/* Frames the blackout brings: rate x blackout x PLAN_MARGIN, rounded up. */
uint64_t plan_need_frames(const struct plan_vm *vm);

/* Decide on one candidate: every reason against it, its capacity, its
 * load (rank is left 0). */
void plan_decide(const struct plan_vm *vm, const struct plan_facts *f, struct plan_verdict *v);

/* Decide on n candidates and rank the accepted: fewest relocations there
 * first, then the most buffer headroom (up to PLAN_HEADROOM_ENOUGH), then
 * the quickest gateway answer, then the name.  order receives the indexes,
 * the accepted by rank, then the rejected as given.  Returns how many are
 * accepted. */
int plan_rank(const struct plan_vm *vm, const struct plan_facts *f, int n,
	      struct plan_verdict *v, int *order);

/* Render the plan (took_us: its whole time) with the out printer. */
void plan_render(const char *host, const struct plan_vm *vm, const struct plan_facts *f,
		 const struct plan_verdict *v, const int *order, int n, uint64_t took_us,
		 struct out *o);

/* A candidate's facts into its PROTO_PLAN_REPLY, and back.  decode:
 * 0, or -EBADMSG (an attribute of the wrong size, a ring size missing). */
int plan_reply_encode(struct ctl_msg *m, const struct plan_peer_facts *p);
int plan_reply_decode(const struct ctl_msg *m, struct plan_peer_facts *p);

/* The datapath's flows and their limit from ovs-appctl upcall/show's text
 * ("flows : (current N) (avg N) (max N) (limit N)", the first datapath's).
 * Returns 0 or -EINVAL. */
int plan_parse_upcall(const char *text, uint64_t *current, uint64_t *limit);

#endif
