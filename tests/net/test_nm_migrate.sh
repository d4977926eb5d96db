#!/bin/bash
# The compact migrator end to end on the testbed: a guest with a tap-backed
# NIC runs on host a, attached to a's OVS, answering ping and echoing a
# 10 kpps probe stream from the router; nm-migrate moves it to host b (its tap
# created at `receive` start and attached first, as with QEMU -incoming)
# while netmove relocates its network identity.  Expected: 0 lost, 0
# duplicated, 0 reordered echoes, verify passed, every phase journaled.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

NM_MIGRATE=${NM_MIGRATE:-$(cd "$(dirname "$0")/../.." && pwd)/build/nm-migrate}
[ -x "$NM_MIGRATE" ] || fail "$NM_MIGRATE not built"
G_MAC=52:54:00:00:00:40
G_IP=198.18.0.40
TAP=vnet-g1
PORT=7880
RATE=${RATE:-10000}
AG_GRACE=300

wait_link() { # wait_link NS DEV
	local i
	for ((i = 0; i < 250; i++)); do
		ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	return 1
}

attach() { # attach a|b: the port of the guest's tap on that host's OVS
	local ns
	ns=$(tb__host_ns "$1")
	wait_link "$ns" "$TAP" || fail "tap $TAP did not appear on host $1"
	tc -n "$ns" qdisc add dev "$TAP" clsact || fail "clsact on host $1"
	# OVS reads the guest's echoes through an AF_PACKET socket sized by the
	# global rmem_default: the burst after the resume needs more (lib.sh).
	tb__rmem_raise || fail "rmem"
	tb_ovs_vsctl "$1" add-port br-int "$TAP" || { tb__rmem_restore; fail "add-port on host $1"; }
	tb__rmem_restore
}

step "testbed and agents"
tb_up || fail "testbed did not come up"
ag_start || fail "agents did not start"
head -c 32 /dev/urandom >"$T_TMP/mig.key"

step "destination waits on host b (tap created at once)"
t_bg "$T_TMP/dst.out" "$T_TMP/dst.err" ip netns exec "$TB_HOSTB" "$NM_MIGRATE" receive \
	--listen "$TB_HOSTB_MGMT_IP:$PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
	--mac "$G_MAC" --netmove --netmove-socket "$(ag_sock b)" --quiet
DST=$T_BG
attach b

step "guest starts on host a"
t_bg "$T_TMP/src.out" "$T_TMP/src.err" ip netns exec "$TB_HOSTA" "$NM_MIGRATE" send \
	--to "$TB_HOSTB_MGMT_IP:$PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
	--mac "$G_MAC" --ip "$G_IP" --netmove --netmove-socket "$(ag_sock a)" \
	--warmup-ms "${WARMUP_MS:-5000}" --linger-ms 60000 --quiet
SRC=$T_BG
T0=$(now_us)
attach a
tb_wait_ping router "$G_IP" || fail "router cannot reach the guest: $(cat "$T_TMP/src.err")"

step "probe stream $RATE pps router -> guest (echoed back to the router)"
t_bg "$T_TMP/recv.json" "$T_TMP/recv.err" "$NETMOVE" -n "$TB_ROUTER" --json probe recv \
	--timeout 30 --idle 3000 --max-lost 100000000 --lost-ranges 8
RECV=$T_BG
t_wait_ready "$T_TMP/recv.err" || fail "probe recv did not start"
nm "$TB_ROUTER" --json probe send --to "$G_IP" --rate "$RATE" --duration "${SECS:-6}" \
	>"$T_TMP/send.json" &
SEND=$!
sleep 0.3

step "netmove relocate (PREPARE) before the migration's send phase"
[ $(($(now_us) - T0)) -lt $((${WARMUP_MS:-5000} * 1000 - 500000)) ] ||
	fail "set-up took longer than the warm-up: raise WARMUP_MS"
ag_nm a relocate --mac "$G_MAC" --ip "$G_IP" --to hostb --port "$TAP" >"$T_TMP/relocate.out" ||
	fail "relocate: $(cat "$T_TMP/relocate.out")"
ID=$(ag_nm a --json status | jq -r '[.relocations[] | .id] | max')

step "migration a -> b"
# The source keeps its (paused) guest's tap until told: removing a port makes
# the source OVS reconfigure its datapath, which on this shared 2-core machine
# starves the destination mid-measurement (as in migrate.sh's mig_cleanup).
for ((i = 0; i < 1500; i++)); do
	grep -q '^source:' "$T_TMP/src.out" 2>/dev/null && break
	kill -0 "$SRC" 2>/dev/null || break
	sleep 0.02
done
grep -q '^source: done' "$T_TMP/src.out" || fail "nm-migrate send failed: $(cat "$T_TMP/src.out" "$T_TMP/src.err")"
cat "$T_TMP/src.out"
mig_wait_commit b "$ID" || fail "destination did not commit"
mig_wait_commit a "$ID" || fail "source did not commit"
wait "$SEND" || fail "probe send failed"
t_wait "$RECV" || true
tb_ovs_vsctl a --if-exists del-port br-int "$TAP" || fail "del-port on host a"
kill -TERM "$SRC"
t_wait "$SRC" || fail "nm-migrate send exited with an error: $(cat "$T_TMP/src.err")"
tb_wait_ping router "$G_IP" || fail "router cannot reach the guest on host b"
ip netns exec "$TB_ROUTER" ping -c 3 -i 0.2 -W 1 "$G_IP" >/dev/null ||
	fail "guest does not answer ping after the migration"

r=$T_TMP/recv.json s=$T_TMP/send.json
[ -s "$r" ] || fail "probe recv printed nothing: $(cat "$T_TMP/recv.err")"
cat "$r"
[ "$(jget "$r" end_seen)" = true ] || fail "END marker missing"
[ "$(jget "$r" expected)" = "$(jget "$s" sent)" ] || fail "expected $(jget "$r" expected), sent $(jget "$s" sent)"
lost=$(jget "$r" lost) dup=$(jget "$r" duplicated) reo=$(jget "$r" reordered) gap=$(jget "$r" max_gap_ms)
jr=$(tail -1 "$(ag_journal b)")
echo "journal (destination): $jr" | cut -c1-400
downtime=$(sed -n 's/.*downtime \([0-9.]*\) ms.*/\1/p' "$T_TMP/src.out")
echo "measured: nm-migrate a->b at $RATE pps echoed, with netmove: sent $(jget "$s" sent), echoed $(jget "$r" received), lost $lost, dup $dup, reordered $reo, max gap $gap ms, migration downtime $downtime ms, VM paused $(jq -r .vm_pause_ms <<<"$jr") ms"
if [ "$lost" != 0 ]; then
	kill -TERM "$DST"
	t_wait "$DST"
	echo "destination: $(tail -3 "$T_TMP/dst.err")"
	echo "source: $(tail -3 "$T_TMP/src.err")"
	for h in a b; do ip -n "$(tb__host_ns "$h")" -s link show "$TAP" 2>/dev/null; done
	fail "lost $lost echoes: $(jq -c .lost_ranges "$r")"
fi
[ "$dup" = 0 ] || fail "$dup duplicated"
[ "$reo" = 0 ] || fail "$reo reordered"
[ "$(jq -r .outcome <<<"$jr")" = committed ] || fail "relocation not committed: $jr"
[ "$(jq -r .verify.answered <<<"$jr")" = true ] || fail "verify did not pass: $jr"
for p in prepare switchover handoff verify commit; do
	[ "$(jq -r ".phases_us.$p // 0" <<<"$jr")" != 0 ] || fail "journal lacks phase $p"
done
kill -TERM "$DST"
t_wait "$DST" || fail "destination guest failed: $(cat "$T_TMP/dst.err")"
cat "$T_TMP/dst.out" "$T_TMP/dst.err"
grep -q "rx dropped 0, tx errors 0" "$T_TMP/dst.err" || fail "destination NIC dropped frames"
echo "PASS"
