/* nm-vmstub: the stand-in's state, shared by its VM side (vs_vm.c), its control
 * commands (vs_cmd.c) and its main loop (nm-vmstub.c). */
#ifndef VMSTUB_H
#define VMSTUB_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/types.h>

#include "vs_ctl.h"
#include "vs_net.h"

#define VS_GUEST_IF "eth0"		/* the guest's NIC, in the guest namespace */
#define VS_MAX_CLIENTS 8		/* control connections at a time */
#ifndef VS_HOOK_TIMEOUT_MS
#define VS_HOOK_TIMEOUT_MS 10000	/* the blackout hook is killed after this */
#endif
#define VS_BATCH 64			/* frames per direction per poll round */
/* A GSO super-frame is at most 64 KiB; leave room for larger gso_max_size settings. */
#define VS_FRAME_MAX (VS_VNET_HDR_LEN + 256 * 1024)

/* Running: forwarding.  Pausing: the blackout hook runs, still forwarding.  Paused:
 * nothing is read from either tap. */
enum vs_state { VS_RUNNING, VS_PAUSING, VS_PAUSED };
/* Host tap slots: the current host's and the one prepared on the destination. */
enum { VS_SRC, VS_DST };

/* Command line. */
struct vs_opts {
	const char *guest_ns, *host_ns;	/* namespace names (or paths) */
	const char *tap;		/* host tap name */
	const char *ctl;		/* control socket path */
	const char *pidfile;		/* NULL: none */
	const char *hook_blackout;	/* run at pause, must exit 0; NULL: none */
	const char *hook_resumed;	/* started at resume, not waited for; NULL: none */
	const char *ip_str;		/* --ip as given, for messages */
	uint8_t mac[6];			/* the guest's MAC */
	struct in_addr ip, gw;		/* the guest's address and gateway */
	int prefix;			/* prefix length of ip */
	bool has_mac, has_ip, has_gw;	/* which options were given */
	bool announce;			/* send a RARP at each resume */
	int txqlen;			/* txqueuelen of every tap */
};

/* A host-side tap. */
struct vs_tap {
	int fd;				/* -1: slot empty */
	char ns[NAME_MAX + 1];		/* namespace it lives in */
	char name[IFNAMSIZ];		/* its name there */
};

/* A control connection. */
struct vs_client {
	int fd;				/* -1: slot free */
	unsigned int id;		/* tells a reused slot from the original */
	bool waiting;			/* a pause reply is pending for it */
	size_t len;			/* bytes in buf */
	char buf[VS_CTL_LINE_MAX];	/* input not handled yet */
};

/* Counters (frame bytes exclude the virtio-net header) and timestamps (CLOCK_REALTIME us). */
struct vs_stats {
	uint64_t h2g_frames, h2g_bytes;	/* host tap -> guest */
	uint64_t g2h_frames, g2h_bytes;	/* guest -> host tap */
	uint64_t dropped;		/* frames that could not be written */
	uint64_t discarded;		/* left in a released tap's queue */
	uint64_t drained_frames, drained_bytes; /* delivered by the last pause */
	uint64_t pauses, resumes, announces;
	uint64_t pause_start_us;	/* last pause command received */
	uint64_t hook_done_us;		/* its blackout hook exited (0: no hook) */
	uint64_t pause_stop_us;		/* forwarding stopped */
	uint64_t resume_us;		/* last resume */
};

struct vmstub {
	struct vs_opts o;		/* command line */
	int orig_ns, guest_ns;		/* namespace fds: ours, the guest's */
	int guest_fd;			/* guest tap eth0 */
	int sig_fd, ctl_fd;		/* signalfd, listening control socket */
	struct vs_tap tap[2];		/* host taps by slot */
	int active;			/* slot forwarded to and from */
	enum vs_state state;
	struct vs_client cl[VS_MAX_CLIENTS];
	unsigned int next_id;		/* last client id given */
	pid_t hook_pid;			/* running blackout hook, 0: none */
	unsigned int hook_client;	/* client waiting for its pause reply */
	long long hook_deadline;	/* CLOCK_MONOTONIC ms */
	bool hook_killed;		/* it timed out */
	bool late;			/* pause late: stopped first, hook after (QEMU's order) */
	long long hook_at;		/* pause late: start the hook then (CLOCK_MONOTONIC ms), 0: no */
	bool keep_one;			/* pause late keep: read one frame after the stop and
					 * keep it, undelivered, as QEMU's user-space net does */
	unsigned char *kept;		/* that frame (virtio header first), NULL: none yet */
	ssize_t kept_len;
	bool drop_first;		/* pause late drop: and drop the one read before it,
					 * as QEMU does with a frame read while it stops */
	bool dropped;			/* that one was read */
	bool no_anchor;			/* pause late drop-lengths: tell the lengths alone */
	unsigned rx_seen;		/* frames the guest got (saturating at 3) */
	uint32_t rx_hash[3];		/* frame_hash of the last three it got, newest first */
	uint32_t rx_len[3];		/* and their lengths */
	struct vs_stats st;
	bool quit;			/* leave the main loop */
	int exit_code;			/* of the process */
	char err[256];			/* message of the last failure */
};

/* Names of enum vs_state and of the tap slots, for replies. */
extern const char *const vm_state_names[];
extern const char *const vm_slot_names[];

/* ---- vs_vm.c: the virtual NIC ---- */

/* CLOCK_REALTIME in microseconds; CLOCK_MONOTONIC in milliseconds. */
uint64_t vm_now_us(void);
long long vm_mono_ms(void);
/* Record an error message in vs->err, with (vm_err) or without (vm_fail) the text of
 * err; both return err. */
int vm_err(struct vmstub *vs, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vm_fail(struct vmstub *vs, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A usable interface name (1-15 characters, no '/', ':' or blanks). */
bool vm_ifname_ok(const char *name);
/* Configure the guest namespace and create its eth0 tap (vs->guest_fd). */
int vm_guest_open(struct vmstub *vs);
/* Create host tap name in namespace ns (up, txqueuelen) into t. */
int vm_host_tap_open(struct vmstub *vs, const char *ns, const char *name, struct vs_tap *t);
/* Move up to max frames between two taps; returns frames moved or -errno (read error). */
int vm_fwd(struct vmstub *vs, int from, int to, uint64_t *frames, uint64_t *bytes, int max);
/* Read and count up to max frames still queued on a tap. */
uint64_t vm_discard(int fd, int max);
/* Send QEMU's RARP self-announcement for the VM's MAC into a host tap. */
int vm_announce(struct vmstub *vs, int fd);
/* Start a hook command for event with the VMSTUB_* environment (with
 * VMSTUB_STOPPED_US, the stop instant, for a late pause's blackout); pid or -errno. */
pid_t vm_hook_start(struct vmstub *vs, const char *cmd, const char *event);
/* Deliver what is queued on the active host tap to the guest, then stop. */
int vm_pause_finish(struct vmstub *vs);

/* ---- vs_cmd.c: control commands ---- */

/* Accept a control connection; read and handle a client's input; close a client. */
void cmd_accept(struct vmstub *vs);
void cmd_input(struct vmstub *vs, struct vs_client *c);
void cmd_close(struct vs_client *c);
/* The blackout hook ended with status: finish or fail the pending pause. */
void cmd_hook_exited(struct vmstub *vs, int status);
/* Paused with keep_one and nothing kept yet: read one frame from the host
 * tap and keep it (given to the guest first if the VM resumes here). */
void vm_keep_one(struct vmstub *vs);

/* A late pause's blackout hook is due: start it. */
void cmd_late_hook(struct vmstub *vs);

#endif
