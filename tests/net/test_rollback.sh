#!/bin/bash
# Rollback: the destination agent dies during BLACKOUT.  The source agent
# notices, undoes its changes and, once the VM resumes on host A, replays what
# it buffered: a 10 kpps stream loses nothing, A's flows are as before.  The
# blackout comes 20 ms after the stop (as with QEMU's STOP event), so what the
# stopped VM left in its tap, read out at the blackout, is replayed first.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

step "testbed, agents, stand-in vm1 on host a"
mig_setup
# A's flows without their counters and ages.
a_flows() {
	tb_ovs_ofctl a dump-flows | grep -v NXST |
		sed -E 's/(duration|n_packets|n_bytes|idle_age|hard_age)=[^,]*, //g' | sort
}
flows_before=$(a_flows)

ns=$(vs_ns vm1)
mig_reach "$VM1_IP"
t_bg "$T_TMP/recv.json" "$T_TMP/recv.err" "$NETMOVE" -n "$ns" --json probe recv \
	--timeout 30 --idle 3000 --max-lost 100000000
recv=$T_BG
t_wait_ready "$T_TMP/recv.err" || fail "probe recv did not start"
nm "$TB_ROUTER" --json probe send --to "$VM1_IP" --rate 10000 --duration 2 >"$T_TMP/send.json" &
send=$!
sleep 0.5

step "prepare the destination, relocate, pause the VM"
vs_prepare vm1 b || fail "preparing vm1's port on b"
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 ||
	fail "relocate was refused"
vs_ctl vm1 pause late 20 >/dev/null || fail "pause"
sleep 0.1
step "kill the destination agent during the blackout"
ag_stop b KILL
sleep 0.1
step "the VM resumes on host a"
vs_ctl vm1 resume src >/dev/null || fail "resume on the source"
id=$(ag_nm a --json status | jq -r '[.relocations[] | .id] | max')
mig_wait_commit a "$id" || fail "the source did not finish the rollback"
wait "$send" || fail "probe send failed"
t_wait "$recv" || true
r=$T_TMP/recv.json
jr=$(ag_last a)
echo "journal (source): $jr" | cut -c1-500
lost=$(jget "$r" lost)
echo "measured: rollback at 10 kpps: sent $(jget "$T_TMP/send.json" sent), lost $lost," \
	"dup $(jget "$r" duplicated), reordered $(jget "$r" reordered), max gap $(jget "$r" max_gap_ms) ms," \
	"replayed $(jq -r .frames.replayed <<<"$jr") (of them $(jq -r '.tap_queue.recovered // 0' <<<"$jr") read out of the tap at the late blackout)"
[ "$(jq -r .outcome <<<"$jr")" = "rolled back" ] || fail "outcome is not 'rolled back'"
[ "$(jq -r .frames.replayed <<<"$jr")" -gt 0 ] || fail "nothing was replayed on the source"
[ "$(jq -r '.tap_queue.recovered // 0' <<<"$jr")" -gt 0 ] ||
	fail "the late blackout read nothing out of the tap: the test does not cover it: $jr"
[ "$(jget "$r" end_seen)" = true ] || fail "END marker missing"
[ "$lost" = 0 ] || fail "rollback lost $lost frames"
[ "$(jget "$r" duplicated)" = 0 ] || fail "duplicates"
[ "$(jget "$r" reordered)" = 0 ] || fail "reordered"
flows_after=$(a_flows)
[ -n "$flows_before" ] || fail "could not read A's flows"
[ "$flows_before" = "$flows_after" ] || fail "A's flows changed: before [$flows_before] after [$flows_after]"
tb_ovs_appctl a fdb/show br-int | grep -qi "$VM1_MAC.*static" && fail "a static OVS MAC entry was left on A"
tb_wait_ping router "$VM1_IP" 2 || fail "vm1 unreachable after the rollback"
echo "PASS"
