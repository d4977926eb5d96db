#!/bin/bash
# The queue: host A's agent lets host B take one of its relocations at a
# time (--max-per-peer 1).  vm1 goes first; vm2 (priority 10) and then vm3
# (priority 90) are asked meanwhile and wait, shown as queued in `netmove
# status` in priority order; an event for a queued one is refused.  Each
# starts when the one before it ends, the higher priority first although it
# was asked later: vm1, vm3, vm2, each under its own stream, 0 lost, 0
# duplicated, 0 reordered.  Then a queued relocation whose asker gave up is
# cancelled when its turn comes (journaled, nothing prepared for it).
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

VM3_MAC=52:54:00:00:00:40
VM3_IP=198.18.0.40
AG_GRACE=300
AG_EXTRA=(--max-per-peer 1)
step "testbed, agents (--max-per-peer 1), vm1, vm2 and vm3 on host a"
mig_setup
vs_start vm2 a --mac "$VM2_MAC" --ip "$VM2_IP/24" --announce --txqlen 50000 \
	--hook-blackout "$(ag_hook)" --hook-resumed "$(ag_hook)" >/dev/null || fail "vm2 did not start"
vs_start vm3 a --mac "$VM3_MAC" --ip "$VM3_IP/24" --announce --txqlen 50000 \
	--hook-blackout "$(ag_hook)" --hook-resumed "$(ag_hook)" >/dev/null || fail "vm3 did not start"
tb_wait_ping router "$VM2_IP" && tb_wait_ping router "$VM3_IP" || fail "router cannot reach vm2, vm3"

declare -A MAC=([vm1]=$VM1_MAC [vm2]=$VM2_MAC [vm3]=$VM3_MAC)
declare -A IP=([vm1]=$VM1_IP [vm2]=$VM2_IP [vm3]=$VM3_IP) RECV=() SEND=() RELOC=()
VMS=(vm1 vm2 vm3)
for v in "${VMS[@]}"; do
	t_bg "$T_TMP/$v.json" "$T_TMP/$v.err" "$NETMOVE" -n "$(vs_ns "$v")" --json probe recv \
		--timeout 60 --idle 3000 --max-lost 100000000 --lost-ranges 8
	RECV[$v]=$T_BG
	t_wait_ready "$T_TMP/$v.err" || fail "probe recv in $v did not start"
	mig_reach "${IP[$v]}"
done
for v in "${VMS[@]}"; do
	nm "$TB_ROUTER" --json probe send --to "${IP[$v]}" --rate 1000 --duration 8 \
		--port 7869 >"$T_TMP/$v.send.json" &
	SEND[$v]=$!
done
sleep 0.4

# The status of v's relocation on host a (the newest), as JSON.
st_of() { ag_nm a --json status | jq -c --arg m "${MAC[$1]}" '[.relocations[] | select(.mac == $m)] | max_by(.id)'; }

# Move v to host b: the hypervisor's part once its relocation is prepared.
move() { # VM
	vs_ctl "$1" pause >/dev/null || fail "pause $1"
	sleep 0.15
	vs_ctl "$1" resume dst >/dev/null || fail "resume $1 on b"
	VS_HOST[$1]=b
	mig_wait_commit a "$(st_of "$1" | jq -r .id)" || fail "$1's relocation did not end on a"
}

step "relocate vm1; vm2 (priority 10) and vm3 (priority 90) wait"
for v in "${VMS[@]}"; do
	vs_prepare "$v" b || fail "preparing $v's port on b"
done
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 --priority 50 \
	>"$T_TMP/vm1.reloc" 2>&1 || fail "relocate vm1: $(cat "$T_TMP/vm1.reloc")"
ag_nm a relocate --mac "$VM2_MAC" --ip "$VM2_IP" --to hostb --port vnet-vm2 --priority 10 \
	>"$T_TMP/vm2.reloc" 2>&1 &
RELOC[vm2]=$!
t_wait_match "$TB_DIR/agent-a.log" "queued for hostb \\(priority 10," 5 || fail "vm2 was not queued"
ag_nm a relocate --mac "$VM3_MAC" --ip "$VM3_IP" --to hostb --port vnet-vm3 --priority 90 \
	>"$T_TMP/vm3.reloc" 2>&1 &
RELOC[vm3]=$!
t_wait_match "$TB_DIR/agent-a.log" "queued for hostb \\(priority 90," 5 || fail "vm3 was not queued"
S=$(ag_nm a --json status)
echo "status: queued $(jq .queued <<<"$S") of max_per_peer $(jq .max_per_peer <<<"$S"): $(jq -c '[.relocations[] | {mac, phase, priority, queue_position}]' <<<"$S")"
[ "$(jq .queued <<<"$S")" = 2 ] || fail "status says $(jq .queued <<<"$S") queued, expected 2"
[ "$(st_of vm3 | jq -r '.phase + " " + (.queue_position | tostring)')" = "queued 1" ] ||
	fail "vm3 (priority 90) is not first in the queue: $(st_of vm3)"
[ "$(st_of vm2 | jq -r '.phase + " " + (.queue_position | tostring)')" = "queued 2" ] ||
	fail "vm2 (priority 10) is not second in the queue: $(st_of vm2)"
st=0
ag_nm a event blackout --mac "$VM2_MAC" >"$T_TMP/ev.out" 2>&1 || st=$?
echo "an event for queued vm2: exit $st: $(cat "$T_TMP/ev.out")"
[ "$st" = 1 ] && grep -q 'is queued' "$T_TMP/ev.out" || fail "an event for a queued relocation was not refused"

step "vm1 moves; then vm3, the higher priority, is prepared; then vm2"
move vm1
wait "${RELOC[vm3]}" || fail "relocate vm3: $(cat "$T_TMP/vm3.reloc")"
[ "$(st_of vm2 | jq -r '.phase + " " + (.queue_position | tostring)')" = "queued 1" ] ||
	fail "vm2 did not wait for vm3: $(st_of vm2)"
move vm3
wait "${RELOC[vm2]}" || fail "relocate vm2: $(cat "$T_TMP/vm2.reloc")"
move vm2
for v in "${VMS[@]}"; do
	wait "${SEND[$v]}" || fail "probe send to $v"
	t_wait "${RECV[$v]}" || true
	tb_ovs_vsctl a --if-exists del-port br-int "vnet-$v"
	vs_ctl "$v" release src >/dev/null
done
# Prepared in the queue's order, each after the one before it ended.
order=$(jq -r 'select(.role == "source" and .outcome == "committed") | .mac' "$(ag_journal a)" | tr '\n' ' ')
echo "committed on a, in order: $order"
[ "$order" = "$VM1_MAC $VM3_MAC $VM2_MAC " ] || fail "relocations ended in the order $order, expected vm1 vm3 vm2"
for v in vm2 vm3; do
	J=$(jq -c --arg m "${MAC[$v]}" 'select(.role == "source" and .mac == $m and .outcome == "committed")' \
		"$(ag_journal a)")
	t_jq "$J" '.queued_us > 0 and .phases_us.prepare > .queued_us' ||
		fail "$v's record does not show its time queued before its PREPARE: $J"
done
for v in "${VMS[@]}"; do
	mig_stream_ok "queued relocation, $v at 1 kpps" "$T_TMP/$v.json"
done

step "a queued relocation whose asker gave up is cancelled at its turn"
vs_prepare vm1 a || fail "preparing vm1's port on a"
vs_prepare vm2 a || fail "preparing vm2's port on a"
ag_nm b relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hosta --port vnet-vm1 \
	>"$T_TMP/back1.reloc" 2>&1 || fail "relocate vm1 back: $(cat "$T_TMP/back1.reloc")"
# The CLI itself in the background (its PID, not a subshell's), to kill.
NETMOVE_SOCKET=$(ag_sock b) "$NETMOVE" relocate --mac "$VM2_MAC" --ip "$VM2_IP" --to hosta \
	--port vnet-vm2 >"$T_TMP/back2.reloc" 2>&1 &
asker=$!
t_wait_match "$TB_DIR/agent-b.log" "queued for hosta" 5 || fail "vm2's relocation back was not queued"
kill "$asker"
wait "$asker" 2>/dev/null
vs_ctl vm1 pause >/dev/null || fail "pause vm1"
sleep 0.15
vs_ctl vm1 resume dst >/dev/null || fail "resume vm1 on a"
VS_HOST[vm1]=a
id1=$(ag_nm b --json status | jq -r --arg m "$VM1_MAC" '[.relocations[] | select(.mac == $m)] | max_by(.id) | .id')
mig_wait_commit b "$id1" || fail "vm1's relocation back did not end"
t_wait_match "$TB_DIR/agent-b.log" "cancelled: the asker stopped waiting" 5 ||
	fail "the abandoned relocation was not cancelled at its turn"
J=$(jq -c --arg m "$VM2_MAC" 'select(.mac == $m and .outcome == "cancelled")' "$(ag_journal b)")
echo "journal: $J" | cut -c1-300
[ -n "$J" ] || fail "no cancelled record for vm2 on b"
[ "$(jq -c --arg m "$VM2_MAC" 'select(.mac == $m and .role == "destination")' "$(ag_journal a)" | grep -c .)" = 0 ] ||
	fail "host a was prepared for the cancelled relocation of vm2"
[ "$(ag_nm b --json status | jq .queued)" = 0 ] || fail "something is still queued on b"
echo "PASS"
