/* recover: what a netmoved that died left behind, resolved by the next one
 * at its start (netmoved internals).
 *
 * An agent killed mid-relocation leaves up to three things: a buffer
 * program on a VM port (which its lease already let fail open, holding the
 * frames it caught before), the VM's OpenFlow flows (cookie
 * OVSP_COOKIE_TAG | MAC) and, on a source, the static OVS MAC entry that
 * points the VM at the uplink.  The journal has a record written when each
 * relocation began and one when it ended; one that only began was
 * interrupted.  At start-up, before the agent takes requests, recover_run:
 *
 *   - for every port of this host with netmove's buffer program that no
 *     process holds pinned (`netmove buffer attach --pin` owns those): hands
 *     every frame its ring holds to the port, in order (they were the VM's;
 *     a VM that runs here gets them late rather than never), and removes
 *     exactly that program.  Where this host was the source of the
 *     interrupted relocation, the VM may be coming up elsewhere: a thread
 *     watches the bridge for its MAC on the uplink (the destination
 *     announced it) for up to the blackout timeout, and sends the frames
 *     out of the uplink after it if it shows there, first those the dead
 *     agent had read out of the tap (taprec's keep file), then those it
 *     moved out of the ring (its spill file), then the ring's, then what
 *     the stopped VM left unread in its tap (tapq), until the port is
 *     quiet; the lease meanwhile lets new frames through, so the port
 *     fails open as before.  A source that died before its program held
 *     anything gets the same watch if a process still holds the VM's tap:
 *     what the VM left there when it stopped follows it;
 *   - for every MAC with netmove flows on the bridge: removes them, and a
 *     static MAC entry on the uplink, as the grace period would have;
 *   - journals each interrupted relocation as "interrupted", with what was
 *     found and done for its MAC, and each leftover no record explains as
 *     "recovered".
 *
 * Each step that fails is logged and journaled; recovery never stops the
 * agent from starting. */
#ifndef NETMOVE_AGENT_RECOVER_H
#define NETMOVE_AGENT_RECOVER_H

struct agent;

/* Resolve every leftover of an earlier netmoved on this host, and go on
 * with relocation ids (a->next_id) from the last the journal has.  Call
 * before the agent takes requests.  Returns the number of journal records
 * written (0: nothing was left). */
int recover_run(struct agent *a);

#endif
