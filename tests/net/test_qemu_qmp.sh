#!/bin/bash
# nm-qemu against real QEMU (7.2, TCG): QEMU creates its tap and plugs it into
# the host's OVS through its own script hook, as users run it; QEMU's own
# migration moves the VM between the testbed's hosts, A -> B -> A, and netmove
# is fed by nm-qemu alone (no CLI step): MIGRATION setup -> PREPARE, STOP ->
# BLACKOUT with QEMU's stop time, destination RESUME -> SWITCHOVER.
#   A -> B without --own-pause: this guest's migration is faster than
#   PREPARE, so QEMU may resume on B before B is prepared and before A's
#   blackout (the agents take the early resume and arm at handoff);
#   B -> A with --own-pause: QEMU waits at pre-switchover until nm-qemu armed
#   the blackout, so the phases come in order.
# After the first move the source QEMU quits and a new one waits there for
# the way back: nm-qemu reconnects to it.  Checked in both agents' journals: committed,
# verify answered, upstream FDB read back, blackout lateness and the tap
# queue QEMU held.  The guest runs no OS (SeaBIOS only): this checks the
# integration, not the data path (frames are checked with a Linux guest).
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

. "$(dirname "$0")/qemu.sh"
MAC=$QM_MAC TAP=$QM_TAP QM_RAM=64
AG_GRACE=300

step "testbed and agents"
tb_up || fail "testbed did not come up"
ag_start || fail "agents did not start"
qm_init
D=$QM_D

check_move() { # FROM TO STRICT
	local js jd
	mig_wait_commit "$2" 1 || mig_wait_commit "$2" 2 || true
	for _ in $(seq 250); do
		js=$(ag_last "$1" 2>/dev/null)
		jd=$(ag_last "$2" 2>/dev/null)
		[ -n "$js" ] && [ -n "$jd" ] && [ "$(jq -r .mac <<<"$js")" = "$MAC" ] &&
			[ "$(jq -r .time_us <<<"$js")" -gt "$T0" ] &&
			[ "$(jq -r .time_us <<<"$jd")" -gt "$T0" ] && break
		sleep 0.02
	done
	echo "journal (source): $js" | cut -c1-700
	echo "journal (destination): $jd" | cut -c1-500
	[ "$(jq -r .time_us <<<"$js")" -gt "$T0" ] || fail "no new source journal entry on $1"
	[ "$(jq -r .outcome <<<"$js")" = committed ] || fail "source did not commit: $js"
	[ "$(jq -r .outcome <<<"$jd")" = committed ] || fail "destination did not commit: $jd"
	[ "$(jq -r .verify.answered <<<"$jd")" = true ] || fail "verify did not answer: $jd"
	[ "$(jq -r .upstream_fdb_port <<<"$jd")" = "tor-$2" ] || fail "upstream FDB not on tor-$2"
	[ "$(jq -r '.tap_queue.queues // 0' <<<"$js")" -ge 1 ] ||
		fail "the source agent did not take QEMU's tap queue: $js"
	LATE=$(jq -r '.blackout_late_us // ""' <<<"$js")
	if [ "$3" = strict ]; then
		[ -n "$LATE" ] && [ "$LATE" -ge 0 ] || fail "no blackout_late_us (QEMU's STOP time not passed): $js"
		[ "$(jq -r '.phases_us.blackout < .phases_us.switchover' <<<"$js")" = true ] ||
			fail "with --own-pause the blackout must come before the switchover: $js"
	fi
	echo "measured: QEMU $1 -> $2: blackout ${LATE:-(after the switchover)} us after QEMU's STOP, QEMU STOP -> RESUME $(jq -r .vm_pause_ms <<<"$js") ms, frames from the tap $(jq -r .tap_queue.recovered <<<"$js")"
}

step "QEMU on host a (running) and host b (-incoming), nm-qemu beside each"
qm_start a
qm_start b incoming
tb_ovs_vsctl a list-ports br-int | grep -qx "$TAP" || fail "QEMU's script did not plug $TAP into host a's OVS"
qm_nmqemu a b
qm_nmqemu b a --own-pause
for h in a b; do
	t_wait_match "$D/nm-qemu-$h.log" "VM NIC $MAC on tap $TAP" 10 ||
		fail "nm-qemu on $h did not learn the NIC: $(cat "$D/nm-qemu-$h.log")"
done

step "QEMU migrates a -> b"
T0=$(($(date +%s%N) / 1000))
qm_migrate a b
check_move a b loose
grep -q "blackout $MAC: accepted" "$D/nm-qemu-a.log" || fail "nm-qemu a: no blackout: $(cat "$D/nm-qemu-a.log")"
grep -q "resumed $MAC: accepted" "$D/nm-qemu-b.log" || fail "nm-qemu b: no resumed: $(cat "$D/nm-qemu-b.log")"

step "the source QEMU quits; a new one waits on host a; nm-qemu a reconnects"
qm_quit a
t_wait_match "$D/nm-qemu-a.log" "went away" 10 || fail "nm-qemu a did not notice QEMU quit"
qm_start a incoming
t_wait_match "$D/nm-qemu-a.log" "attached to QEMU .* \(inmigrate\)" 10 ||
	fail "nm-qemu a did not reconnect: $(cat "$D/nm-qemu-a.log"; cat "$D/qemu-a.log")"

step "QEMU migrates b -> a"
T0=$(($(date +%s%N) / 1000))
qm_migrate b a
check_move b a strict
grep -q "migrate-continue: ok" "$D/nm-qemu-b.log" || fail "nm-qemu b did not release pre-switchover"
echo "--- nm-qemu a"; cat "$D/nm-qemu-a.log"
echo "--- nm-qemu b"; cat "$D/nm-qemu-b.log"
echo "PASS"
