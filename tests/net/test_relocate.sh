#!/bin/bash
# A VM moves from host A to host B.  Without an announcement the top-of-rack
# switch keeps pointing at A and verify from B fails; after `netmove announce`
# from B the switch points at B within one frame and verify from B passes.
set -u
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/common.sh"
t_need_root
t_trap

VM=$TB_VM_MAC
step "testbed up"
tb_up || fail "testbed did not come up"
tb_vm_static_arp on || fail "static ARP"

vrf() { # vrf HOSTNS LISTEN: verify as the VM, sent out of the host's uplink
	nm "$1" --json verify --iface uplink --listen "$2" --mac "$VM" --ip "$TB_VM_IP" \
		--gateway "$TB_ROUTER_IP" --tries 2 --timeout 500
}

step "verify locates the VM behind host A"
vrf "$TB_HOSTA" vmport >"$T_TMP/v1.json" || fail "verify from A failed: $(cat "$T_TMP/v1.json")"
[ "$(jget "$T_TMP/v1.json" reply_iface)" = vmport ] || fail "reply not on A's VM port"
[ "$(jget "$T_TMP/v1.json" gateway_mac)" = "$TB_ROUTER_MAC" ] || fail "wrong gateway MAC"
echo "verify from A: answered in $(jget "$T_TMP/v1.json" rtt_ms) ms on vmport"
port=$(nm "$TB_TOR" fdb get --mac "$VM" --dev br0 --json | jq -r .port)
[ "$port" = tor-a ] || fail "tor FDB has $VM on '$port', expected tor-a"
# The same check from inside the VM, as an operator would run it there.
nm "$TB_VM" verify --iface eth0 --mac "$VM" --ip "$TB_VM_IP" --gateway "$TB_ROUTER_IP" \
	>/dev/null || fail "verify from the VM's own interface failed"

step "move the VM port to host B, no announcement"
tb_vm_attach b || fail "move to B"
sleep 0.3
port=$(nm "$TB_TOR" fdb get --mac "$VM" --dev br0 --json | jq -r .port)
[ "$port" = tor-a ] || fail "without announcement tor should still point at tor-a, has '$port'"
echo "tor FDB without announcement: $VM -> $port"
st=0
vrf "$TB_HOSTB" vmport >"$T_TMP/v2.json" 2>"$T_TMP/v2.err" || st=$?
[ $st -eq 1 ] || fail "verify from B before announce: exit $st, expected 1"
[ "$(jget "$T_TMP/v2.json" answered)" = false ] || fail "verify from B answered before announce"
grep -q 'no ARP reply' "$T_TMP/v2.err" || fail "verify failure message missing"
echo "verify from B before announce: $(cat "$T_TMP/v2.err")"

step "announce from B, watch the tor FDB"
t_bg "$T_TMP/watch.json" "$T_TMP/watch.err" \
	"$NETMOVE" -n "$TB_TOR" --json fdb watch --mac "$VM" --dev br0 --until-port tor-b --timeout 5000
watch=$T_BG
t_wait_line "$T_TMP/watch.json" || fail "fdb watch did not start: $(cat "$T_TMP/watch.err")"
nm "$TB_HOSTB" --json announce --iface uplink --mac "$VM" --ip "$TB_VM_IP" \
	>"$T_TMP/ann.json" || fail "announce failed"
t_wait "$watch" || fail "tor FDB did not move to tor-b: $(cat "$T_TMP/watch.json" "$T_TMP/watch.err")"
first=$(jget "$T_TMP/ann.json" first_us)
moved=$(jq -rs '[.[] | select(.type == "event" and .port == "tor-b")][0].time_us' "$T_TMP/watch.json")
[ "$(jget "$T_TMP/ann.json" frames)" = 10 ] || fail "announce sent $(jget "$T_TMP/ann.json" frames) frames, expected 10"
echo "measured: announce first frame -> tor FDB moved: $((moved - first)) us"
port=$(nm "$TB_TOR" fdb get --mac "$VM" --dev br0 --json | jq -r .port)
[ "$port" = tor-b ] || fail "after announce tor has '$port', expected tor-b"

step "verify from B passes"
vrf "$TB_HOSTB" vmport >"$T_TMP/v3.json" || fail "verify from B after announce failed"
[ "$(jget "$T_TMP/v3.json" reply_iface)" = vmport ] || fail "reply not on B's VM port"
echo "verify from B: answered in $(jget "$T_TMP/v3.json" rtt_ms) ms"
echo "PASS"
