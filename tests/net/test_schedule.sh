#!/bin/bash
# Scheduled relocations: `netmove relocate --at TIME [--window SPAN]` and
# `netmove schedule [list|cancel ID]`.
#   - refused at once what would fail later: a time past, a host that is not
#     a peer, a window over 7 days; --window without --at, a time that is
#     not one: usage errors;
#   - kept across a restart (SIGKILL), listed with who asked, cancelled
#     (journaled with who cancelled it), not cancelled twice;
#   - missed, not begun late, when its window closed while no agent ran;
#   - begun on time: its PREPARE not before TIME; the migration's own
#     `relocate` (the hook's) joins it; the VM moves under a stream with 0
#     lost, 0 duplicated, 0 reordered; its journal records carry who asked,
#     the schedule's id, wall-clock and monotonic times.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

AG_GRACE=300
step "testbed, agents, stand-in vm1 on host a"
mig_setup

J_A=$(ag_journal a)
REL=(--mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1)
# The schedule record of entry ID with OUTCOME in host a's journal.
sched_rec() { jq -c --argjson id "$1" --arg o "$2" \
	'select(.record == "schedule" and .schedule_id == $id and .outcome == $o)' "$J_A"; }
expect() { # STATUS TEXT-PATTERN LABEL -- command...
	local want=$1 pat=$2 label=$3 st=0
	shift 4
	"$@" >"$T_TMP/out" 2>&1 || st=$?
	echo "$label: exit $st: $(head -c 200 "$T_TMP/out")"
	[ "$st" = "$want" ] || fail "$label: exit $st, expected $want"
	grep -qE "$pat" "$T_TMP/out" || fail "$label: output does not say /$pat/"
}

step "refused now what could not begin then"
expect 1 'has passed' "a time past" -- ag_nm a relocate "${REL[@]}" --at -1h
expect 1 'not a peer' "a host not a peer" -- ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" \
	--to hostz --port vnet-vm1 --at +1h
expect 1 'at most 7 days' "a window of 8 days" -- ag_nm a relocate "${REL[@]}" --at +1h --window 8d
expect 2 'goes with --at' "--window alone" -- ag_nm a relocate "${REL[@]}" --window 5m
expect 2 'is not a time' "--at tomorrow" -- ag_nm a relocate "${REL[@]}" --at tomorrow
expect 2 'is not a span' "--window 5" -- ag_nm a relocate "${REL[@]}" --at +1h --window 5
[ "$(ag_nm a --json schedule | jq '.scheduled | length')" = 0 ] || fail "a refused request was kept"

step "kept across a restart, listed with who asked, cancelled"
expect 0 '^scheduled [0-9]+: relocate at ' "relocate --at +1h" -- ag_nm a relocate "${REL[@]}" --at +1h
ID1=$(grep -oE '^scheduled [0-9]+' "$T_TMP/out" | cut -d' ' -f2)
ag_stop a KILL
ag_start a || fail "agent a did not start again"
L=$(ag_nm a --json schedule)
echo "after a restart: $(jq -c '.scheduled[] | {schedule_id, kind, mac, to, at_us, until_us, requested_by}' <<<"$L")"
t_jq "$L" '.scheduled | length == 1 and .[0].schedule_id == $id
	and .[0].mac == $m and .[0].to == "hostb" and .[0].until_us - .[0].at_us == 900000000
	and .[0].requested_by.kind == "local" and .[0].requested_by.user == "root"
	and .[0].requested_by.program == "netmove"' --argjson id "$ID1" --arg m "$VM1_MAC" ||
	fail "the restarted agent does not list what was scheduled: $L"
grep -q "1 relocation(s) scheduled" "$TB_DIR/agent-a.log" || fail "the restart did not log the schedule read back"
expect 0 "cancelled $ID1" "cancel $ID1" -- ag_nm a schedule cancel "$ID1"
expect 1 "nothing scheduled has id $ID1" "cancel $ID1 again" -- ag_nm a schedule cancel "$ID1"
expect 2 "not list or cancel" "schedule frob" -- ag_nm a schedule frob
[ "$(ag_nm a --json schedule | jq '.scheduled | length')" = 0 ] || fail "cancelled, yet still listed"
[ -n "$(sched_rec "$ID1" scheduled)" ] || fail "no journal record of scheduling $ID1"
R=$(sched_rec "$ID1" cancelled)
echo "journal: $R" | cut -c1-400
t_jq "$R" '.cancelled_by.user == "root" and .requested_by.user == "root" and .mono_us > 0
	and (.boot_id | length) == 36' || fail "the cancellation's record lacks who or when: $R"

step "missed: its window closed while no agent ran"
expect 0 '^scheduled' "relocate --at +2s --window 1s" -- ag_nm a relocate "${REL[@]}" --at +2s --window 1s
ID2=$(grep -oE '^scheduled [0-9]+' "$T_TMP/out" | cut -d' ' -f2)
UNTIL=$(ag_nm a --json schedule | jq -r --argjson id "$ID2" '.scheduled[] | select(.schedule_id == $id) | .until_us')
[ -n "$UNTIL" ] || fail "entry $ID2 is not listed"
ag_stop a TERM
# The window is wall-clock time by its definition: wait until it closed.
while [ "$(now_us)" -le "$UNTIL" ]; do sleep 0.2; done
ag_start a || fail "agent a did not start again"
t_wait_match "$J_A" "\"schedule_id\":$ID2,.*\"outcome\":\"missed\"" 5 ||
	fail "entry $ID2 was not journaled missed"
[ "$(jq -c 'select(.record != "schedule")' "$J_A" | grep -c .)" = 0 ] ||
	fail "a missed relocation was begun: $(jq -c 'select(.record != "schedule")' "$J_A")"
[ "$(ag_nm a --json schedule | jq '.scheduled | length')" = 0 ] || fail "a missed entry is still listed"

step "begun on time, joined by the migration's hook, moved under a stream"
vs_prepare vm1 b || fail "preparing vm1's port on b"
mig_reach "$VM1_IP"
t_bg "$T_TMP/recv.json" "$T_TMP/recv.err" "$NETMOVE" -n "$(vs_ns vm1)" --json probe recv \
	--timeout 30 --idle 3000 --max-lost 100000000 --lost-ranges 8
RECV=$T_BG
t_wait_ready "$T_TMP/recv.err" || fail "probe recv did not start"
nm "$TB_ROUTER" --json probe send --to "$VM1_IP" --rate 1000 --duration 7 >"$T_TMP/send.json" &
SEND=$!
AT=$(($(date +%s) + 3))
expect 0 '^scheduled' "relocate --at @$AT" -- ag_nm a relocate "${REL[@]}" --at "@$AT"
ID3=$(grep -oE '^scheduled [0-9]+' "$T_TMP/out" | cut -d' ' -f2)
t_wait_match "$TB_DIR/agent-a.log" "scheduled relocation $ID3 begun" 10 ||
	fail "entry $ID3 was not begun: $(grep "scheduled relocation $ID3" "$TB_DIR/agent-a.log")"
S=$(ag_nm a --json status | jq -c --argjson id "$ID3" '.relocations[] | select(.requested_by.schedule_id == $id)')
[ -n "$S" ] || fail "no relocation says it came from entry $ID3"
PREP=$(jq -r .phases_us.prepare <<<"$S")
echo "entry $ID3: asked for $AT s, PREPARE began $(((PREP - AT * 1000000) / 1000)) ms after"
[ "$PREP" -ge $((AT * 1000000)) ] || fail "PREPARE began before the time asked: $PREP < ${AT}000000"
expect 0 'prepared ahead' "the hook's relocate" -- ag_nm a relocate "${REL[@]}"
vs_ctl vm1 pause >/dev/null || fail "pause vm1"
sleep 0.2
vs_ctl vm1 resume dst >/dev/null || fail "resume vm1 on b"
VS_HOST[vm1]=b
RID=$(jq -r .id <<<"$S")
mig_wait_commit a "$RID" || fail "the scheduled relocation did not end on a"
wait "$SEND" || fail "probe send"
t_wait "$RECV" || true
tb_ovs_vsctl a --if-exists del-port br-int vnet-vm1
vs_ctl vm1 release src >/dev/null
R=$(jq -c --argjson id "$RID" 'select(.id == $id and .role == "source" and .outcome != "in progress")' "$J_A")
echo "journal: $(jq -c '{id, outcome, requested_by, time_us, mono_us, boot_id, phases_mono_us}' <<<"$R")"
t_jq "$R" '.outcome == "committed" and
	.requested_by.schedule_id == $s and .requested_by.scheduled_for_us == $at * 1000000 and
	.requested_by.user == "root" and .mono_us > 0 and (.boot_id | length) == 36 and
	.phases_mono_us.commit > .phases_mono_us.prepare and
	(.phases_mono_us.commit - .phases_mono_us.prepare) - (.phases_us.commit - .phases_us.prepare) < 2000 and
	(.phases_us.commit - .phases_us.prepare) - (.phases_mono_us.commit - .phases_mono_us.prepare) < 2000' \
	--argjson s "$ID3" --argjson at "$AT" || fail "the relocation's record does not say it was scheduled, or when: $R"
[ -n "$(sched_rec "$ID3" begun)" ] || fail "no journal record of entry $ID3 begun"
mig_stream_ok "scheduled relocation at 1 kpps" "$T_TMP/recv.json"
echo "PASS"
