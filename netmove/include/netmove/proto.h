/* proto: message types and attribute tags spoken over ctl connections:
 * CLI -> local agent (unix socket) and agent <-> agent (TCP, TLS 1.3). */
#ifndef NETMOVE_PROTO_H
#define NETMOVE_PROTO_H

#define PROTO_DEFAULT_SOCKET "/run/netmove/netmoved.sock"

/* A_PRIORITY: 0..PROTO_PRIORITY_MAX, higher first; PROTO_PRIORITY_DEFAULT if not
 * given. */
#define PROTO_PRIORITY_MAX 100
#define PROTO_PRIORITY_DEFAULT 50

/* Message types. */
enum proto_type {
	/* CLI -> agent */
	PROTO_REQ_RELOCATE = 1,	/* start a relocation (this agent is the source) */
	PROTO_REQ_EVENT,	/* hypervisor event: blackout / resumed / failed */
	PROTO_REQ_STATUS,	/* relocations in progress and recent ones */
	PROTO_REQ_JOURNAL,	/* the audit trail */
	PROTO_REQ_PULL,		/* relocate a VM here (this agent is the destination) */
	PROTO_REQ_SCHEDULE = 6,	/* the relocations scheduled for later (relocate --at) */
	PROTO_REQ_CANCEL = 7,	/* take scheduled relocation A_ID off the schedule */
	/* agent -> CLI */
	PROTO_REP_OK = 32,	/* done; A_TEXT may carry a rendered report */
	PROTO_REP_ERROR,	/* refused or failed; A_TEXT says why */
	/* agent <-> agent */
	PROTO_PREPARE = 64,	/* src -> dst: get ready to receive the VM */
	PROTO_PREPARED,		/* dst -> src: flows in, buffer armed */
	PROTO_BLACKOUT,		/* src -> dst: the VM stopped on the source */
	PROTO_SWITCHED,		/* dst -> src: the VM resumed here, fabric moved */
	PROTO_FRAMES,		/* src -> dst: a batch of buffered frames, in order */
	PROTO_FRAMES_END,	/* src -> dst: no more frames (A_COUNT = total) */
	PROTO_DONE,		/* dst -> src: replayed, drained, verified */
	PROTO_ROLLBACK,		/* either way: abort, undo (A_TEXT says why) */
	PROTO_ERROR,		/* either way: request failed (A_TEXT) */
	PROTO_PULL,		/* dst -> src: relocate the VM to me (A_TO = me) */
	PROTO_FRAMES_ACK,	/* dst -> src: A_COUNT frames taken so far, each handed to
				 * the VM's port (the source may forget them) */
};

/* Attribute tags. */
enum proto_attr {
	A_ID = 1,		/* u64 relocation id */
	A_MAC,			/* 6 bytes */
	A_IP,			/* 4 bytes, network order */
	A_GATEWAY,		/* 4 bytes */
	A_PORT,			/* string: the VM's port on the receiving host */
	A_FROM,			/* string: source host name */
	A_TO,			/* string: destination host name */
	A_EVENT,		/* string: blackout / resumed / failed */
	A_TEXT,			/* string: error text or rendered report */
	A_RECORD,		/* bytes: one buffered frame (buffer record form) */
	A_COUNT,		/* u64 */
	A_TIME,			/* u64 CLOCK_REALTIME µs */
	A_JSON,			/* u64 1: render reports as JSON */
	A_VERIFIED,		/* u64 1 if verify was answered */
	A_LIMIT,		/* u64: journal lines wanted (newest) */
	A_DST_PORT,		/* string: the VM's port on the destination host */
	A_STOPPED,		/* u64 CLOCK_REALTIME µs the VM stopped (hypervisor's word) */
	A_READER_KEEPS,		/* u64 1: the tap's reader keeps the first frame it reads
				 * after the stop, undelivered (QEMU's user-space net) */
	A_LAST_RX,		/* u64: the newest frame the VM's NIC received before the
				 * stop that could be read (the anchor), frame_hash << 32
				 * | its length */
	A_RX_AFTER,		/* bytes: the NIC's header length (1 byte), then per buffer
				 * it filled after the anchor the bytes written (u32, big-
				 * endian), oldest first; at most GUESTRX_AFTER_MAX */
	A_REQUESTER,		/* string: who asked the sending agent (its word:
				 * requester_text), in PREPARE and PULL */
	A_MATCH_MAC,		/* string: journal lines of this MAC only */
	A_MATCH_HOST,		/* string: of this host (host, from or to) only */
	A_MATCH_OUTCOME,	/* string: with this outcome only */
	A_SINCE,		/* u64 CLOCK_REALTIME µs: written at or after it only */
	A_UNTIL,		/* u64 CLOCK_REALTIME µs: at or before it only */
	A_PRIORITY,		/* u64 0..PROTO_PRIORITY_MAX: a queued relocation's
				 * priority, in REQ_RELOCATE, REQ_PULL and PULL */
	A_AT = 28,		/* u64 CLOCK_REALTIME µs: in REQ_RELOCATE or REQ_PULL, start
				 * it then, not now (it is scheduled) */
	A_WINDOW = 29,		/* u64 µs: with A_AT, a relocation not begun this long
				 * after A_AT (the agent was down) is missed, not begun */
};

/* netmove plan: placement advice (planrank.h).  REQ_PLAN carries A_MAC,
 * A_IP, A_PORT, A_PLAN_CANDIDATE... and A_PLAN_BLACKOUT_MS, and is answered
 * REP_OK with the rendered plan (A_TEXT) and the accepted count (A_COUNT).
 * PLAN carries A_FROM (the asker), A_TO (the candidate), A_MAC and A_IP of
 * the VM; PLAN_REPLY what the candidate measured (A_GATEWAY and the
 * A_PLAN_* below).  Numbered apart from the rest. */
enum proto_plan_type {
	PROTO_REQ_PLAN = 8,	/* CLI -> agent: rank candidate hosts for a VM */
	PROTO_PLAN = 80,	/* asker -> candidate: measure yourself for this VM */
	PROTO_PLAN_REPLY = 81,	/* candidate -> asker: what it measured */
};

enum proto_plan_attr {
	A_PLAN_CANDIDATE = 40,	/* string, repeated: a candidate host, in the order given */
	A_PLAN_BLACKOUT_MS = 41,	/* u64: the blackout expected */
	A_PLAN_RING = 42,	/* u64: ring bytes per VM port */
	A_PLAN_SPILL = 43,	/* u64: most bytes spilled per relocation */
	A_PLAN_PROGS = 44,	/* u64: buffer programs loaded ahead */
	A_PLAN_PROG_ERR = 45,	/* u64 errno: a trial load of the buffer program failed */
	A_PLAN_BRIDGE_ERR = 46,	/* string: the bridge over OpenFlow or its uplink port failed */
	A_PLAN_UPLINK_ERR = 47,	/* string: the uplink is not up */
	A_PLAN_DP_FLOWS = 48,	/* u64: the datapath's flows */
	A_PLAN_DP_LIMIT = 49,	/* u64: their limit */
	A_PLAN_FLOWS_ERR = 50,	/* string: why they could not be read */
	A_PLAN_GW_RTT = 51,	/* u64 ns: the gateway answered an ARP probe (absent: not) */
	A_PLAN_VM_RTT = 52,	/* u64 ns: the VM's IP answered one (absent: not) */
	A_PLAN_PROBE_ERR = 53,	/* string: the ARP probes could not run */
	A_PLAN_IN_FLIGHT = 54,	/* u64: relocations under way, either role */
	A_PLAN_QUEUED = 55,	/* u64: relocations waiting for their turn */
	A_PLAN_STOPPING = 56,	/* u64 1: the agent is stopping */
	A_PLAN_KNOWS_ASKER = 57, /* u64 1: the asker is one of its peers */
	A_PLAN_PROBE_MAC = 58,	/* 6 bytes: the identity the probes used */
	A_PLAN_TOOK_US = 59,	/* u64: the candidate's time to measure */
};

#endif
