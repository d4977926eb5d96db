#!/bin/bash
# Two relocations at once: vm1 and vm2 leave host A for host B at the same
# time under their own 5 kpps streams; each relocation keeps its own state,
# both commit, neither stream loses, duplicates or reorders a frame.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

AG_GRACE=300
step "testbed, agents, vm1 and vm2 on host a"
mig_setup
vs_start vm2 a --mac "$VM2_MAC" --ip "$VM2_IP/24" --announce --txqlen 50000 \
	--hook-blackout "$(ag_hook)" --hook-resumed "$(ag_hook)" >/dev/null || fail "vm2 did not start"
tb_wait_ping router "$VM2_IP" || fail "router cannot reach vm2"

declare -A MAC=([vm1]=$VM1_MAC [vm2]=$VM2_MAC) IP=([vm1]=$VM1_IP [vm2]=$VM2_IP) RECV=() SEND=() RELOC=() PAUSE=() RES=()
for v in vm1 vm2; do
	t_bg "$T_TMP/$v.json" "$T_TMP/$v.err" "$NETMOVE" -n "$(vs_ns "$v")" --json probe recv \
		--timeout 30 --idle 3000 --max-lost 100000000 --lost-ranges 8
	RECV[$v]=$T_BG
	t_wait_ready "$T_TMP/$v.err" || fail "probe recv in $v did not start"
done
for v in vm1 vm2; do
	mig_reach "${IP[$v]}"
done
for v in vm1 vm2; do
	nm "$TB_ROUTER" --json probe send --to "${IP[$v]}" --rate 5000 --duration 2 \
		--port 7869 >"$T_TMP/$v.send.json" &
	SEND[$v]=$!
done
sleep 0.4

step "prepare both destinations, relocate both"
for v in vm1 vm2; do
	vs_prepare "$v" b || fail "preparing $v's port on b"
done
for v in vm1 vm2; do
	ag_nm a relocate --mac "${MAC[$v]}" --ip "${IP[$v]}" --to hostb --port "vnet-$v" \
		>"$T_TMP/$v.reloc" 2>&1 &
	RELOC[$v]=$!
done
for v in vm1 vm2; do
	wait "${RELOC[$v]}" || fail "relocate $v: $(cat "$T_TMP/$v.reloc")"
done
[ "$(ag_nm a --json status | jq '[.relocations[] | select(.outcome == "in progress")] | length')" = 2 ] ||
	fail "host a does not run two relocations"

step "pause both, hold 200 ms, resume both on host b"
for v in vm1 vm2; do vs_ctl "$v" pause >/dev/null & PAUSE[$v]=$!; done
for v in vm1 vm2; do wait "${PAUSE[$v]}" || fail "pause $v"; done
sleep 0.2
for v in vm1 vm2; do vs_ctl "$v" resume dst >/dev/null & RES[$v]=$!; done
for v in vm1 vm2; do wait "${RES[$v]}" || fail "resume $v"; VS_HOST[$v]=b; done
for id in $(ag_nm a --json status | jq -r '.relocations[].id'); do
	mig_wait_commit a "$id" || fail "relocation $id did not end on a"
done
for v in vm1 vm2; do
	wait "${SEND[$v]}" || fail "probe send to $v"
	t_wait "${RECV[$v]}" || true
done
for v in vm1 vm2; do
	tb_ovs_vsctl a --if-exists del-port br-int "vnet-$v"
	vs_ctl "$v" release src >/dev/null
done

ag_nm b --json status | jq -c '.relocations[] | {id, mac, outcome, frames, verify}'
for v in vm1 vm2; do
	mig_stream_ok "concurrent relocation, $v at 5 kpps" "$T_TMP/$v.json"
done
[ "$(ag_nm b --json status | jq '[.relocations[] | select(.outcome == "committed")] | length')" = 2 ] ||
	fail "host b did not commit both relocations"
echo "PASS"
