#!/bin/bash
# A blackout that comes after the stop, as with QEMU's STOP event: the VM
# stand-in stops at once, leaving what is queued on its tap unread, and the
# blackout hook runs 0, 5, 20 and 50 ms later.  The frames that reached the tap
# in between are read out of it by the source agent and delivered at the
# destination before the buffered ones: 0 lost, 0 duplicated, 0 reordered in
# every case, and the source's journal says how late the blackout was and how
# many frames came out of the tap.  Then the stand-in keeps the first frame
# it reads after the stop, as QEMU does: the source finds that frame among
# its copies of what went into the tap and sends it on (0 lost); left unaware
# of the keeping, the agents lose exactly that frame (the test can tell).
# Then the stand-in drops the first frame it reads after the stop and keeps
# the next, as QEMU does when a frame comes while its vCPUs pause, and tells
# what its guest got as nm-qemu reads it from a guest's RX ring whose last
# buffers were posted again (the third frame from the end, then the lengths
# of the two after it): both are sent on (0 lost); told only the lengths of
# the newest buffers, which over the probe's equal frames fit more than one
# count of lost frames, the agent does not guess (the marker finds the kept
# one, the dropped one is lost, nothing is duplicated); not told, the
# dropped one is lost.
# Then the same late blackout with the agents' tap recovery off: frames are
# lost.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

RATE=${RATE:-2000}
HOLD=${HOLD:-100}
AG_GRACE=300
step "testbed, agents, stand-in vm1 on host a"
mig_setup

printf '%-8s %-9s %6s %8s %5s %4s %4s %9s %9s %9s\n' late_ms recovery sent received lost dup reo late_us tap_frames "gap(ms)" >"$T_TMP/table"
run() { # LATE_MS RECOVERY [keep]
	local from r=$T_TMP/probe-netmove.json s=$T_TMP/send-netmove.json
	from=$(vs_host vm1)
	MIG_LATE_MS=$1 MIG_KEEP=${3:-} mig_probe vm1 "$RATE" 2 "$HOLD" netmove
	J=$(ag_last "$from")
	SENT=$(jget "$s" sent)
	LOST=$((SENT - $(jget "$r" received) + $(jget "$r" duplicated)))
	DUP=$(jget "$r" duplicated) REO=$(jget "$r" reordered)
	LATE_US=$(jq -r '.blackout_late_us // "none"' <<<"$J")
	TAPF=$(jq -r '.tap_queue.recovered // "none"' <<<"$J")
	printf '%-8s %-9s %6s %8s %5s %4s %4s %9s %9s %9s\n' "$1" "$2" "$SENT" "$(jget "$r" received)" \
		"$LOST" "$DUP" "$REO" "$LATE_US" "$TAPF" "$(jget "$r" max_gap_ms)" >>"$T_TMP/table"
	echo "journal (source): $J" | cut -c1-600
	echo "lost runs: $(jq -c '.lost_ranges // []' "$r")"
	[ "$(jq -r .outcome <<<"$J")" = committed ] || fail "late $1 ms: not committed: $J"
}

check_clean() { # WHAT
	[ "$LOST" = 0 ] || fail "$1: $LOST frames lost"
	[ "$DUP" = 0 ] || fail "$1: $DUP duplicated"
	[ "$REO" = 0 ] || fail "$1: $REO reordered"
}

for late in 0 5 20 50; do
	step "blackout $late ms after the stop, host $(vs_host vm1) -> $(mig_other "$(vs_host vm1)")"
	run "$late" on
	echo "measured: blackout $late ms late: lost $LOST of $SENT, dup $DUP, reordered $REO, blackout_late_us $LATE_US, frames recovered from the tap $TAPF"
	check_clean "blackout $late ms late"
	[ "$(jq -r '.tap_queue.queues // 0' <<<"$J")" -ge 1 ] ||
		fail "the source agent held no queue of the tap: $J"
	[ "$LATE_US" != none ] || fail "the journal lacks blackout_late_us"
	[ "$LATE_US" -ge $((late * 1000)) ] ||
		fail "journal says the blackout was $LATE_US us late, the stand-in waited $late ms"
	# At $RATE pps a 5 ms late blackout leaves ~10 frames in the tap.
	if [ "$late" -ge 5 ]; then
		[ "$TAPF" -gt 0 ] || fail "blackout $late ms late but no frame came out of the tap"
	fi
done

step "blackout 20 ms late, the stand-in keeps a frame as QEMU does"
run 20 kept keep
KEPT=$(jq -r '.tap_queue.reader_kept // "none"' <<<"$J")
echo "measured: blackout 20 ms late, a frame kept by the reader: lost $LOST of $SENT, dup $DUP, reordered $REO, the kept frame: $KEPT"
[ "$KEPT" = recovered ] || fail "the kept frame was not recovered: $KEPT"
check_clean "a kept frame"

step "the same, the agents not told that the reader keeps a frame: that frame is lost"
touch "$TB_DIR/keeps-untold"
run 20 untold keep
rm -f "$TB_DIR/keeps-untold"
echo "measured: blackout 20 ms late, a kept frame the agents were not told of: lost $LOST of $SENT"
[ "$LOST" = 1 ] || fail "the reader kept one frame, the agents did not look for it: $LOST lost, expected 1"

step "blackout 20 ms late, the stand-in drops a frame and keeps the next, as QEMU does; the guest's last frame named"
run 20 last-rx drop
KEPT=$(jq -r '.tap_queue.reader_kept // "none"' <<<"$J")
SENTON=$(jq -r '.tap_queue.reader_lost_sent_on // 0' <<<"$J")
echo "measured: blackout 20 ms late, a frame dropped and one kept by the reader, the guest's last frame named: lost $LOST of $SENT, dup $DUP, reordered $REO, the reader's frames: $KEPT"
[ "$SENTON" = 2 ] || fail "the reader lost 2 frames, $SENTON were sent on: $KEPT"
check_clean "a dropped and a kept frame"

step "the same, no frame in the guest's ring readable (lengths alone) and the probe's frames all alike: no guess, the marker finds the kept one"
run 20 lengths drop-lengths
KEPT=$(jq -r '.tap_queue.reader_kept // "none"' <<<"$J")
echo "measured: blackout 20 ms late, a frame dropped and one kept, the guest's buffer lengths alone over equal frames: lost $LOST of $SENT, dup $DUP, the reader's frames: $KEPT"
case $KEPT in *"fit several counts"*"marker: recovered") ;; *) fail "equal frames' lengths were taken as telling: $KEPT" ;; esac
[ "$LOST" = 1 ] || fail "lengths alone over equal frames: $LOST lost, expected the dropped one"
[ "$DUP" = 0 ] || fail "lengths alone over equal frames: $DUP duplicated"

step "the same, the guest's last frame not named: the marker finds the kept frame, the dropped one is lost"
touch "$TB_DIR/last-rx-untold"
run 20 marker drop
rm -f "$TB_DIR/last-rx-untold"
echo "measured: blackout 20 ms late, a frame dropped by the reader, the guest's last frame not named: lost $LOST of $SENT"
[ "$LOST" = 1 ] || fail "the reader dropped one frame and kept one, only the kept one was looked for: $LOST lost, expected 1"

step "the same with tap recovery off (netmoved --no-tap-recovery): frames are lost"
ag_stop_all
AG_EXTRA=(--no-tap-recovery)
ag_start || fail "agents did not restart"
run 20 off
echo "measured: blackout 20 ms late without tap recovery: lost $LOST of $SENT"
[ "$LOST" -gt 0 ] || fail "without tap recovery nothing was lost: the test cannot tell"
[ "$(jq -r '.tap_queue.none // ""' <<<"$J")" != "" ] || fail "journal does not say recovery was off: $J"
echo
cat "$T_TMP/table"
echo "PASS"
