#!/bin/bash
# The compact migrator end to end on the testbed: a guest with a tap-backed
# NIC runs on host a, answering ping and echoing a 10 kpps probe stream from
# the router; nm-migrate moves it to host b.  With netmove built in: 0 lost,
# 0 duplicated, 0 reordered echoes, verify passed, every phase journaled, no
# frame dropped by the guest's NIC.  The same migration without netmove loses
# echoes.  Printed side by side.
set -u
. "$(dirname "$0")/nmm.sh"
mig_init
nmm_need_cpu

step "testbed and agents ($NMM_CPU back-end)"
nmm_setup

step "migration a -> b with netmove"
nmm_migrate netmove
r=$T_TMP/nmm-netmove.recv.json s=$T_TMP/nmm-netmove.send.json
jr=$(ag_last b)
echo "journal (destination): $jr" | cut -c1-400
cat "$T_TMP/nmm-netmove.src.out"
grep 'nic:' "$T_TMP/nmm-netmove.src.err" "$T_TMP/nmm-netmove.dst.err"
downtime=$(sed -n 's/.*downtime \([0-9.]*\) ms.*/\1/p' "$T_TMP/nmm-netmove.src.out")
lost=$(nmm_lost netmove)
echo "measured: nm-migrate ($NMM_CPU) a->b at $RATE pps echoed, with netmove: sent $(jget "$s" sent), echoed $(jget "$r" received), lost $lost, dup $(jget "$r" duplicated), reordered $(jget "$r" reordered), max gap $(jget "$r" max_gap_ms) ms, migration downtime $downtime ms, VM paused $(jq -r .vm_pause_ms <<<"$jr") ms"
[ "$(jget "$r" end_seen)" = true ] || fail "END marker missing"
[ "$lost" = 0 ] || fail "lost $lost echoes: $(jq -c .lost_ranges "$r")"
[ "$(jget "$r" duplicated)" = 0 ] || fail "duplicated echoes"
[ "$(jget "$r" reordered)" = 0 ] || fail "reordered echoes"
[ "$(jq -r .outcome <<<"$jr")" = committed ] || fail "relocation not committed: $jr"
[ "$(jq -r .verify.answered <<<"$jr")" = true ] || fail "verify did not pass: $jr"
for p in prepare blackout switchover handoff verify commit; do
	[ "$(jq -r ".phases_us.$p // 0" <<<"$jr")" != 0 ] || fail "journal lacks phase $p"
done
grep -q "destination nic: .*rx dropped 0, tx errors 0" "$T_TMP/nmm-netmove.dst.err" ||
	fail "destination NIC dropped frames"

step "the same migration without netmove"
nmm_migrate plain
plost=$(nmm_lost plain)
echo "measured: nm-migrate ($NMM_CPU) a->b at $RATE pps echoed, without netmove: lost $plost, max gap $(jget "$T_TMP/nmm-plain.recv.json" max_gap_ms) ms"
[ "$plost" -gt 0 ] || fail "without netmove nothing was lost: the test cannot tell"
echo
printf '%-16s %8s %8s %6s %9s %9s\n' "" sent echoed lost reordered "gap(ms)"
for m in netmove plain; do
	printf '%-16s %8s %8s %6s %9s %9s\n' "$m" "$(jget "$T_TMP/nmm-$m.send.json" sent)" \
		"$(jget "$T_TMP/nmm-$m.recv.json" received)" "$(nmm_lost "$m")" \
		"$(jget "$T_TMP/nmm-$m.recv.json" reordered)" "$(jget "$T_TMP/nmm-$m.recv.json" max_gap_ms)"
done
echo "PASS"
