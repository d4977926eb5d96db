#!/bin/bash
# A long blackout with a small ring: 2 s at 20 kpps of 1500-byte frames
# (about 60 MB for the VM) into a 4 MiB ring, which fills in 0.14 s.  While
# the VM is paused the source agent moves the ring into its memory (spill.h,
# --spill-mib), and the destination does the same while the source's frames
# come: nothing is lost, nothing reordered, and the journal says how much was
# moved.  Then the same with the spill off (--spill-mib 0): the ring
# overflows, the probe loses frames, and the source's journal counts every
# one of them and says "committed with loss", never a plain "committed".
# RATE and AG_RING_MIB change the figures (RATE=50000: 0 lost with the
# spill on in 7 of 8 runs; with the spill off this 2-core testbed once lost
# 2791 frames more than the journals count, after the blackout, with no
# link or vSwitch counter showing them: the closing note of issue 9).  Each
# run prints the testbed's non-zero drop counters (mig_drops).
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

RATE=${RATE:-20000}
MIG_PROBE_SIZE=1458	# + UDP, IP and Ethernet headers: 1500-byte frames
AG_RING_MIB=${AG_RING_MIB:-4}

# Datagrams the guest's own UDP socket had no room for (its receive buffer):
# past netmove, which delivered them.
udp_rcvbuf_errors() {
	ip netns exec "$(vs_ns vm1)" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp
}

run() { # LABEL
	local r=$T_TMP/probe-netmove.json js jd e0 e1
	e0=$(udp_rcvbuf_errors)
	mig_probe vm1 "$RATE" 4 2000 netmove
	e1=$(udp_rcvbuf_errors)
	js=$(ag_last "$(mig_other "$(vs_host vm1)")")
	jd=$(ag_last "$(vs_host vm1)")
	LOST=$(jget "$r" lost) REO=$(jget "$r" reordered) DUP=$(jget "$r" duplicated)
	OUT_S=$(jq -r .outcome <<<"$js") OUT_D=$(jq -r .outcome <<<"$jd")
	DROP_S=$(jq -r .frames.lost <<<"$js") DROP_D=$(jq -r .frames.lost <<<"$jd")
	SPILLED=$(jq -r .frames.spilled <<<"$js") SPILL_BYTES=$(jq -r .frames.spill_bytes <<<"$js")
	echo "measured: $1: sent $(jget "$T_TMP/send-netmove.json" sent), lost $LOST, dup $DUP," \
		"reordered $REO | source '$OUT_S': buffered $(jq -r .frames.buffered <<<"$js")," \
		"spilled $SPILLED ($((SPILL_BYTES >> 20)) MiB), shipped" \
		"$(jq -r .frames.shipped <<<"$js"), lost $DROP_S | destination '$OUT_D': lost $DROP_D" \
		"($(jq -c .frames <<<"$jd")) | vm pause $(jq -r .vm_pause_ms <<<"$jd") ms |" \
		"the guest's UDP receive buffer overflowed for $((e1 - e0)) datagrams"
	GUEST_DROPS=$((e1 - e0))
	echo "lost runs (sequence numbers): $(jq -c '.lost_ranges // empty' "$r")"
	mig_drops
}

step "testbed, agents ($AG_RING_MIB MiB rings, spill on), stand-in vm1 on host a"
mig_setup
step "2 s blackout at $RATE frames/s of 1500 bytes, the ring spilled into memory"
run "spill on"
[ "$LOST" = 0 ] || fail "$LOST frames lost with the spill on"
[ "$REO" = 0 ] && [ "$DUP" = 0 ] || fail "reordered $REO, duplicated $DUP"
[ "$OUT_S" = committed ] && [ "$OUT_D" = committed ] || fail "outcomes '$OUT_S' / '$OUT_D'"
[ "$SPILL_BYTES" -gt $((AG_RING_MIB << 20)) ] ||
	fail "the source spilled no more than its ring holds: the test covers nothing"

step "the same with the spill off: the ring overflows, and the journal says so"
ag_stop_all
AG_EXTRA=(--spill-mib 0)
ag_start || fail "agents did not start again"
run "spill off"
[ "$LOST" -gt 0 ] || fail "nothing lost with a $AG_RING_MIB MiB ring and no spill: the test covers nothing"
echo "measured: spill off: the journals count $((DROP_S + DROP_D)) lost frames, the guest's socket $GUEST_DROPS, the probe $LOST"
[ "$DROP_S" -gt 0 ] || fail "the source's journal counts no loss; the probe lost $LOST"
# Never silent: each frame the probe lost is counted, by a journal or, past
# netmove, by the guest's own socket.
[ $((DROP_S + DROP_D + GUEST_DROPS)) = "$LOST" ] ||
	fail "the journals count $((DROP_S + DROP_D)) lost frames and the guest's socket $GUEST_DROPS; the probe lost $LOST"
[ "$OUT_S" = "committed with loss" ] || fail "the source's outcome is '$OUT_S' after losing $DROP_S frames"
echo "PASS"
