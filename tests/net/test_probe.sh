#!/bin/bash
# probe through the testbed (router -> tor -> host A's OVS -> VM): a clean
# 10 kpps stream for 2 s loses nothing; with the VM's port down for 200 ms the
# loss is reported and the largest gap is about 200 ms.
set -u
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/common.sh"
t_need_root
t_trap

step "testbed up"
tb_up || fail "testbed did not come up"

# run_probe NAME [during-cmd...]: 10 kpps for 2 s from the router to the VM.
run_probe() {
	local name=$1 recv
	shift
	t_bg "$T_TMP/$name.recv.json" "$T_TMP/$name.recv.err" \
		"$NETMOVE" -n "$TB_VM" --json probe recv --timeout 10 --idle 2000 --max-lost 1000000
	recv=$T_BG
	t_wait_ready "$T_TMP/$name.recv.err" || fail "probe recv did not start"
	nm "$TB_ROUTER" --json probe send --to "$TB_VM_IP" --rate 10000 --duration 2 \
		>"$T_TMP/$name.send.json" &
	local send=$!
	if [ $# -gt 0 ]; then
		sleep 0.8
		"$@"
	fi
	wait "$send" || fail "probe send failed"
	t_wait "$recv" || fail "probe recv failed: $(cat "$T_TMP/$name.recv.err")"
}

step "clean stream: 10 kpps, 2 s"
run_probe clean
r=$T_TMP/clean.recv.json
echo "clean: sent $(jget "$T_TMP/clean.send.json" sent), received $(jget "$r" received)," \
	"lost $(jget "$r" lost), dup $(jget "$r" duplicated), reordered $(jget "$r" reordered)," \
	"max gap $(jget "$r" max_gap_ms) ms"
[ "$(jget "$T_TMP/clean.send.json" sent)" = 20000 ] || fail "sender did not send 20000"
[ "$(jget "$r" end_seen)" = true ] || fail "END marker missing"
[ "$(jget "$r" expected)" = 20000 ] || fail "expected 20000, got $(jget "$r" expected)"
[ "$(jget "$r" lost)" = 0 ] || fail "clean stream lost $(jget "$r" lost)"
[ "$(jget "$r" duplicated)" = 0 ] || fail "duplicates"
[ "$(jget "$r" reordered)" = 0 ] || fail "reordered"

step "VM port down for 200 ms in the middle"
blackout() {
	tb_vm_link down && sleep 0.2 && tb_vm_link up
}
run_probe cut blackout
r=$T_TMP/cut.recv.json
lost=$(jget "$r" lost)
gap=$(jget "$r" max_gap_ms)
echo "measured: port down 200 ms at 10 kpps: lost $lost, max gap $gap ms" \
	"(before seq $(jget "$r" max_gap_before_seq))"
[ "$lost" -ge 1000 ] || fail "expected about 2000 lost during 200 ms, got $lost"
[ "$lost" -le 6000 ] || fail "lost $lost: far more than 200 ms worth"
awk -v g="$gap" 'BEGIN { exit !(g >= 150 && g <= 700) }' ||
	fail "largest gap $gap ms is not about 200 ms"
[ "$(jget "$r" duplicated)" = 0 ] || fail "duplicates"
echo "PASS"
