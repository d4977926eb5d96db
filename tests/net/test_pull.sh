#!/bin/bash
# A relocation started from the destination's side, as libvirt's hook must
# (libvirt runs its migration hook on the destination only): host B's agent
# is asked to pull vm1, asks its peers, and host A, whose OVS has vm1's MAC on
# a port (external_ids:attached-mac, as libvirt records it), relocates it to B
# as if its own CLI had asked.  Under a probe stream: 0 lost, 0 duplicated,
# 0 reordered, both ways.  Refusals: a MAC no peer has, a source that is not a
# peer.  The audit trail: each journal record says who asked (the pulling
# agent's authenticated identity, and who it says asked it; for a relocation
# asked on the source, the local user and program), and `netmove journal`'s
# filters give what the journal file holds for them; --svg draws the last
# relocation from both hosts' journals.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

AG_GRACE=300
step "testbed, agents, stand-in vm1 on host a"
mig_setup

for n in 1 2; do
	from=$(vs_host vm1) to=$(mig_other "$(vs_host vm1)")
	step "host $to pulls vm1 from host $from under 2000 frames/s"
	MIG_PULL=1 mig_probe vm1 2000 2 100 netmove
	r=$T_TMP/probe-netmove.json s=$T_TMP/send-netmove.json
	SENT=$(jget "$s" sent)
	LOST=$((SENT - $(jget "$r" received) + $(jget "$r" duplicated)))
	J=$(ag_last "$from")
	echo "journal (source): $J" | cut -c1-400
	echo "relocate --pull said: $(cat "$T_TMP/relocate.out")"
	echo "measured: pull $n ($from -> $to): lost $LOST of $SENT, dup $(jget "$r" duplicated), reordered $(jget "$r" reordered), max gap $(jget "$r" max_gap_ms) ms"
	[ "$(jq -r .outcome <<<"$J")" = committed ] || fail "pull $n: not committed: $J"
	[ "$(jq -r .to <<<"$J")" = "host$to" ] || fail "pull $n: relocated to $(jq -r .to <<<"$J"), not host$to"
	[ "$LOST" = 0 ] || fail "pull $n: $LOST frames lost"
	[ "$(jget "$r" duplicated)" = 0 ] || fail "pull $n: duplicates"
	[ "$(jget "$r" reordered)" = 0 ] || fail "pull $n: reordered"
	# Who asked: the source knows the pulling agent by its authenticated
	# identity, which says a local user asked it; the destination knows
	# the source by its identity, which says it did this for that agent.
	JD=$(ag_last "$to")
	echo "requested_by: source $(jq -c .requested_by <<<"$J"), destination $(jq -c .requested_by <<<"$JD")"
	t_jq "$J" '.requested_by.kind == "peer" and (.requested_by.identity | contains($to))
		and (.requested_by.says_for | test("^user root \\(uid 0\\), pid [0-9]+ netmove, on " + $to + "$"))' \
		--arg to "host$to" || fail "pull $n: the source's record does not say host$to's root asked: $J"
	t_jq "$JD" '.requested_by.kind == "peer" and
		(.requested_by.identity | contains($from)) and
		(.requested_by.says_for | startswith("peer ") and contains(" on " + $from + ", for user root"))' \
		--arg from "host$from" --arg to "host$to" || fail "pull $n: the destination's record does not say why host$from asked: $JD"
done

step "a relocation asked on the source: the local client is named"
from=$(vs_host vm1) to=$(mig_other "$(vs_host vm1)")
mig_probe vm1 2000 1 100 netmove
J=$(ag_last "$from") JD=$(ag_last "$to")
echo "requested_by: source $(jq -c .requested_by <<<"$J"), destination $(jq -c .requested_by <<<"$JD")"
[ "$(jq -r .outcome <<<"$J")" = committed ] || fail "relocation: not committed: $J"
t_jq "$J" '.requested_by == {kind: "local", user: "root", uid: 0, pid: .requested_by.pid, program: "netmove"}
	and .requested_by.pid > 0' || fail "the source's record does not name root's netmove: $J"
t_jq "$JD" '.requested_by.kind == "peer" and (.requested_by.identity | contains($from)) and
	(.requested_by.says_for | test("^user root \\(uid 0\\), pid [0-9]+ netmove, on " + $from + "$"))' \
	--arg from "host$from" || fail "the destination's record does not say host$from's root asked: $JD"

step "netmove journal: filters against the journal file"
# jcheck H JQ FILTER...: the lines `netmove journal FILTER...` prints on
# host H are those jq selects (JQ) from its journal file.
jcheck() { # H JQ FILTER...
	local h=$1 sel=$2 got want
	shift 2
	# Both through jq, which writes numbers its own way.
	got=$(ag_nm "$h" journal --limit 1000000 "$@" | jq -c .) || fail "journal $*: exit $?"
	want=$(jq -c "select($sel)" "$(ag_journal "$h")")
	echo "journal $h $*: $(grep -c . <<<"$got") line(s)"
	[ "$got" = "$want" ] || fail "journal $h $*: printed $(grep -c . <<<"$got") line(s), the file has $(grep -c . <<<"$want")"
}
total=$(grep -c . "$(ag_journal a)")
[ "$total" -ge 6 ] || fail "host a's journal has $total lines, expected at least 6"
id=$(jq -r 'select(.role == "source") | .id' "$(ag_journal a)" | tail -1)
mid=$(($(jq -r .time_us "$(ag_journal a)" | sed -n 3p) / 1000000))	# seconds
jcheck a 'true'
jcheck a '.mac == "'"$VM1_MAC"'" and .outcome == "committed"' --mac "${VM1_MAC^^}" --outcome committed
jcheck a '.outcome == "in progress"' --outcome "in progress"
jcheck a '.host == "hostb" or .from == "hostb" or .to == "hostb"' --host hostb
jcheck a '.id == '"$id" --id "$id"
jcheck a ".time_us >= $mid * 1000000" --since "@$mid"
jcheck a ".time_us <= $mid * 1000000" --until "@$mid"
jcheck a ".time_us >= $mid * 1000000 and .time_us <= ($mid + 1) * 1000000" --since "@$mid" --until "@$((mid + 1))"
jcheck a 'false' --since +1h
jcheck a 'false' --host hostz
got=$(ag_nm a journal --limit 2) || fail "journal --limit 2"
[ "$got" = "$(tail -2 "$(ag_journal a)")" ] || fail "journal --limit 2 is not the newest two lines"
t_jq "$(ag_nm a --json journal --mac "$VM1_MAC")" 'type == "array" and length > 0' ||
	fail "journal --json is not a JSON array"

step "netmove journal --svg: the last relocation's timeline, both hosts"
J=$(ag_last "$from")
id=$(jq -r .id <<<"$J")
ag_nm "$from" journal --svg "$T_TMP/t.svg" --id "$id" --also "$(ag_journal "$to")" 2>"$T_TMP/svg.err" ||
	fail "journal --svg: $(cat "$T_TMP/svg.err")"
cat "$T_TMP/svg.err"
# The counts over time end at the totals, and are drawn.
JD=$(jq -c --argjson id "$id" 'select(.id == $id and .outcome != "in progress")' "$(ag_journal "$to")")
echo "over time: source $(jq -c '.over_time | map_values(length)' <<<"$J"), destination $(jq -c '.over_time | map_values(length)' <<<"$JD")"
t_jq "$J" '.frames.shipped > 0 and .over_time.shipped[-1][1] == .frames.shipped and
	(.over_time.shipped | length) >= 2 and
	.over_time.buffered[-1][1] == .frames.buffered' || fail "the source's series do not end at its totals: $J"
t_jq "$JD" '.frames.replayed > 0 and .over_time.replayed[-1][1] == .frames.replayed and
	(.over_time.replayed | length) >= 2' || fail "the destination's series does not end at its total: $JD"
for e in source-prepare source-blackout destination-switchover destination-verify vm-pause resume fdb \
	frames-source-shipped frames-destination-replayed; do
	grep -q "id=\"$e\"" "$T_TMP/t.svg" || fail "the timeline has no $e"
done
if command -v rsvg-convert >/dev/null; then
	rsvg-convert -o "$T_TMP/t.png" "$T_TMP/t.svg" || fail "rsvg-convert refused the timeline"
	echo "timeline rendered: $(stat -c %s "$T_TMP/t.png") bytes of PNG"
fi
st=0
ag_nm "$from" journal --svg "$T_TMP/none.svg" --id 999999 >/dev/null 2>&1 || st=$?
[ "$st" = 1 ] || fail "journal --svg of an unknown relocation: exit $st, expected 1"

step "refusals"
st=0
ag_nm a relocate --pull --mac 52:54:00:00:00:99 --ip 198.18.0.99 --port vnet-none \
	>"$T_TMP/p1.out" 2>&1 || st=$?
echo "a MAC no peer has: exit $st: $(cat "$T_TMP/p1.out")"
[ "$st" = 1 ] || fail "pull of an unknown MAC: exit $st, expected 1"
grep -q 'not here' "$T_TMP/p1.out" || fail "no 'not here' reason: $(cat "$T_TMP/p1.out")"
st=0
ag_nm a relocate --pull --mac "$VM1_MAC" --ip "$VM1_IP" --port vnet-vm1 --from hostz \
	>"$T_TMP/p2.out" 2>&1 || st=$?
echo "a source that is not a peer: exit $st: $(cat "$T_TMP/p2.out")"
[ "$st" = 1 ] || fail "pull from a non-peer: exit $st, expected 1"
grep -q 'not a peer' "$T_TMP/p2.out" || fail "no 'not a peer' reason: $(cat "$T_TMP/p2.out")"
echo "PASS"
