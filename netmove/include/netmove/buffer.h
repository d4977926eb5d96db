/* buffer: blackout buffer on a VM port.  An eBPF program on the port's tc
 * egress (frames going to the VM) passes, buffers, drains or drops frames per
 * destination MAC; buffered frames are kept whole, with their checksum and GSO
 * metadata, in one ring per port, in arrival order.  They are either replayed
 * into the same port (buffer_drain: in order, then an atomic hand-back to
 * PASS) or exported, encoded, shipped and replayed into another host's port.
 * A second program on the port's tc ingress reports the VM's first frame after
 * buffer_watch_resume ("the VM resumed here").
 *
 * The ring is per port: draining or exporting takes the frames of every MAC
 * of the port.  A handle is used by one thread at a time, except that one
 * thread may wait in buffer_poll_resume while another uses the rest. */
#ifndef NETMOVE_BUFFER_H
#define NETMOVE_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netmove/mac.h"
#include "netmove/record.h"
#include "netmove/replay.h"

#define BUFFER_RING_DEFAULT (16u << 20)	/* ring bytes when opts->ring_bytes is 0 */
#define BUFFER_RING_MIN (16u << 10)	/* smallest ring (a power of two >= this) */
#define BUFFER_MAX_MACS 255		/* MACs one port can track */
#define BUFFER_PIN_ROOT "/sys/fs/bpf/netmove"	/* pins live in ROOT/<ifname>/ */

/* Per-MAC modes. */
enum buffer_mode {
	BUFFER_MODE_PASS = 0,	/* frames go through */
	BUFFER_MODE_BUFFER = 1,	/* frames are captured into the ring, not delivered */
	BUFFER_MODE_DRAIN = 2,	/* captured until the ring is empty, then PASS */
	BUFFER_MODE_DROP = 3,	/* frames are dropped and counted */
	BUFFER_MODE_FORWARD = 4,	/* frames are sent out of another port and counted
					 * (buffer_forward_to), dropped while there is none */
};


/* How the running kernel gets a frame into the ring: the program is built
 * twice (ebpf/nm_buffer.bpf.c) and the build loaded is chosen at run time. */
enum buffer_capture {
	BUFFER_CAPTURE_NONE = 0,	/* this kernel cannot run the buffer */
	BUFFER_CAPTURE_KFUNC,		/* one copy, bpf_dynptr_copy (Linux 6.15 and newer) */
	BUFFER_CAPTURE_COPY,		/* through a per-CPU scratch page (Linux 5.19 and newer) */
};

#define BUFFER_MIN_KERNEL "5.19"	/* the oldest release with all the copy build needs */

/* The running kernel, as the buffer sees it. */
struct buffer_kernel {
	char release[65];		/* uname -r */
	enum buffer_capture capture;	/* the build buffer_attach loads */
	char why[320];			/* NONE: what is missing; COPY: why not KFUNC; else "" */
};

/* Probe the running kernel once (its BTF, and a test load of each helper
 * the copy build calls); later calls give the same answer.  The
 * environment variable NETMOVE_BPF_CAPTURE=copy picks the copy build where
 * both would run (tests run both on one kernel).  k may be NULL.  Returns
 * 0, or -EOPNOTSUPP when this kernel cannot run the buffer (k->why says
 * what it lacks; buffer_attach and buffer_spare_load then fail alike). */
int buffer_kernel(struct buffer_kernel *k);

/* "kfunc", "copy" or "none". */
const char *buffer_capture_name(enum buffer_capture c);

/* A buffer program loaded ahead of its port (opaque): the verifier's work,
 * tens of milliseconds, done before a relocation needs it. */
struct buffer_spare;

/* Load one for a ring of ring_bytes (0: the default).  Returns 0, -EINVAL
 * (a ring size buffer_attach would refuse), or libbpf's negative errno. */
int buffer_spare_load(uint32_t ring_bytes, struct buffer_spare **out);

/* Its ring size. */
uint32_t buffer_spare_ring(const struct buffer_spare *s);

/* Free one not used (NULL is a no-op). */
void buffer_spare_free(struct buffer_spare *s);

/* Attach options; zero means default. */
struct buffer_opts {
	uint32_t ring_bytes;	/* frame ring size: power of two >= BUFFER_RING_MIN */
	struct buffer_spare *spare; /* loaded ahead for ring_bytes: buffer_attach takes it
				 * over (used or freed); NULL: load now */
	bool pin;		/* pin maps and programs under BUFFER_PIN_ROOT/<ifname> */
	bool replace;		/* take over a stale netmove filter left on the port */
	bool keep_qdisc;	/* never remove a clsact qdisc created here: adding or
				 * removing one deactivates the device for a moment
				 * (qdisc_graft) and frames in flight are dropped */
};

/* Frame counters (port totals or one MAC's). */
struct buffer_counters {
	uint64_t passed;	/* let through */
	uint64_t buffered;	/* captured into the ring */
	uint64_t drained;	/* replayed from the ring by buffer_drain */
	uint64_t exported;	/* handed to a buffer_export callback */
	uint64_t dropped;	/* dropped in DROP mode */
	uint64_t ring_full;	/* dropped because the ring had no room */
	uint64_t errors;	/* dropped because the capture copy failed */
	uint64_t flips;		/* DRAIN -> PASS hand-backs done by the program */
	uint64_t forwarded;	/* sent out of the FORWARD port */
};

/* buffer_stats result. */
struct buffer_stats {
	struct buffer_counters c;	/* port totals, or the MAC's counters */
	enum buffer_mode mode;		/* the MAC's mode (PASS for port totals) */
	bool watching;			/* the MAC's resume watch is armed */
	uint64_t resumes;		/* resume events emitted */
	uint64_t ring_used;		/* bytes in the ring not yet consumed */
	uint64_t ring_size;		/* ring capacity in bytes */
	uint64_t next_seq;		/* next capture sequence number */
	uint64_t lease_ns;		/* the owner's lease deadline (CLOCK_MONOTONIC), 0: none */
	uint64_t lease_passed;		/* frames let through past it (port totals only) */
};

/* "The VM resumed here": its first frame after buffer_watch_resume. */
struct buffer_resume_event {
	struct mac mac;		/* source MAC of the frame */
	uint16_t ethertype;	/* its EtherType */
	uint32_t len;		/* its length */
	uint64_t mono_ns;	/* when the program saw it, CLOCK_MONOTONIC */
	uint64_t real_ns;	/* the same instant as CLOCK_REALTIME */
	uint64_t read_real_ns;	/* when userspace read the event, CLOCK_REALTIME */
};

/* A port handle (opaque). */
struct buffer;

/* Load the programs and attach them to ifname's clsact egress and ingress
 * (creating clsact only if missing).  Every MAC starts untracked (PASS).
 * Returns 0, -ENODEV (no such interface), -EEXIST (already attached), -EPERM,
 * -EINVAL (bad ring size) or another negative errno. */
int buffer_attach(const char *ifname, const struct buffer_opts *opts, struct buffer **out);

/* Give ifname its clsact qdisc if it has none, so that a later
 * buffer_attach grafts nothing on a live port (see keep_qdisc).  Do it when
 * the port appears, before traffic flows (portwatch).  Returns 1 if it was
 * added, 0 if there was one, -ENODEV, -EBUSY (a plain ingress qdisc holds
 * its place), or another negative errno. */
int buffer_ready_port(const char *ifname);

/* Open a port attached earlier with opts->pin, from its pins.  Returns 0,
 * -ENOENT (not attached), -ENODEV (interface gone), -ESTALE (the pins belong
 * to an interface that was recreated or lives in another namespace). */
int buffer_open_pinned(const char *ifname, struct buffer **out);

/* Take over the programs attached to ifname by a process that is gone (a
 * killed agent): a handle on their maps, from the attached egress program,
 * for buffer_stats, buffer_macs, buffer_drain and buffer_detach (which
 * removes exactly those programs).  Returns 0, -ENOENT (no netmove program
 * there), -EPROTO (the program there is not netmove's buffer), -ESTALE (its
 * maps belong to another interface), -ENODEV or another negative errno. */
int buffer_adopt(const char *ifname, struct buffer **out);

/* Detach the programs, remove clsact if netmove created it, remove the pins,
 * and free the handle (also on error).  A program attached since in their
 * place (another handle's, with replace) is left where it is. */
int buffer_detach(struct buffer *b);

/* Free the handle and leave the attachment (and pins) in place. */
void buffer_close(struct buffer *b);

/* Remove netmove's filters from ifname without a handle (e.g. left by a
 * process that died), keeping the qdisc.  Returns 0, -ENOENT if there were
 * none, -ENODEV. */
int buffer_unhook(const char *ifname);

/* 1 if netmove's filter is on ifname's egress, 0 if not, or a negative errno. */
int buffer_hooked(const char *ifname);

/* Remove the pins of ifname (e.g. stale ones).  Returns 0 or -ENOENT. */
int buffer_unpin(const char *ifname);

/* Mount a bpffs at /sys/fs/bpf unless one is there (pinning needs it; none
 * is mounted by default).  *mounted tells whether this call mounted it. */
int buffer_bpffs_mount(bool *mounted);

/* Interface name of the handle. */
const char *buffer_ifname(const struct buffer *b);

/* Set a MAC's mode, tracking the MAC first if needed (-ENOSPC when
 * BUFFER_MAX_MACS are tracked; -EINVAL for a group address). */
int buffer_set_mode(struct buffer *b, const struct mac *mac, enum buffer_mode mode);

/* Send what reaches the port for mac out of ifname (a port in the same
 * network namespace, e.g. the uplink) instead: FORWARD mode.  The port is
 * the buffer's, one for all its MACs.  Returns 0, -ENODEV (no such port),
 * -ELOOP (the buffer's own port), -EINVAL, or buffer_set_mode's errors. */
int buffer_forward(struct buffer *b, const struct mac *mac, const char *ifname);

/* buffer_set_mode(b, mac, BUFFER_MODE_BUFFER). */
int buffer_arm(struct buffer *b, const struct mac *mac);

/* Stop tracking a MAC (its frames pass, its counters go).  Its frames already
 * in the ring stay there. */
int buffer_forget(struct buffer *b, const struct mac *mac);

/* Renew the owner's lease: until CLOCK_MONOTONIC until_ns (0: no lease,
 * the default) the modes hold; past it the program lets every frame through
 * (fail open: an owner that died or hung cannot black-hole the port).
 * Returns 0 or -EINVAL (b NULL). */
int buffer_lease(struct buffer *b, uint64_t until_ns);

/* Fault in every page of the ring once, so the first blackout frames do not
 * pay for it.  Call with an empty ring, before arming: -EBUSY otherwise. */
int buffer_pretouch(struct buffer *b);

/* Arm the ingress detector for mac: the next frame from it is reported once. */
int buffer_watch_resume(struct buffer *b, const struct mac *mac);

/* Descriptor that polls readable when a resume event is pending. */
int buffer_resume_fd(const struct buffer *b);

/* Wait up to timeout_ms (-1: forever, 0: just check) for a resume event.
 * Returns 0 with ev filled, -ETIMEDOUT, or a negative errno. */
int buffer_poll_resume(struct buffer *b, int timeout_ms, struct buffer_resume_event *ev);

/* Hand back mac losslessly and in order: set DRAIN, replay every buffered
 * frame of the port into it (frames arriving meanwhile queue behind them)
 * until the program finds the ring empty and flips the MAC to PASS, or
 * userspace does when no frame comes.  On a replay failure the MAC is put
 * back to BUFFER and the remaining frames stay in the ring.  st may be NULL. */
int buffer_drain(struct buffer *b, const struct mac *mac, struct buffer_replay_stats *st);

/* Export callback: rec and its frame are valid during the call only.  A
 * negative return stops the export and keeps that record in the ring. */
typedef int (*buffer_record_fn)(const struct buffer_record *rec, void *arg);

/* Consume the ring, handing each record to fn in order.  Returns the number
 * of records exported or fn's negative return. */
int buffer_export(struct buffer *b, buffer_record_fn fn, void *arg);

/* Replay one record into the handle's port: replay_send (replay.h) on a
 * replay handle the buffer opens on first use.  st may be NULL. */
int buffer_replay(struct buffer *b, const struct buffer_record *rec,
		  struct buffer_replay_stats *st);

/* Counters of one MAC (-ENOENT if untracked) or, with mac NULL, the port. */
int buffer_stats(struct buffer *b, const struct mac *mac, struct buffer_stats *st);

/* Tracked MACs into out (at most cap); returns how many are tracked. */
int buffer_macs(struct buffer *b, struct mac *out, size_t cap);

/* Run the egress program cost measurement: repeat runs on one synthetic frame
 * through BPF_PROG_TEST_RUN; *ns gets the mean per run.  Frames it captures
 * stay in the ring. */
int buffer_bench_egress(struct buffer *b, const void *frame, size_t len,
			uint32_t repeat, uint64_t *ns);

/* "pass", "buffer", "drain", "drop". */
const char *buffer_mode_name(enum buffer_mode mode);

/* Parse a mode name; returns 0 or -EINVAL. */
int buffer_mode_parse(const char *s, enum buffer_mode *mode);

#endif
