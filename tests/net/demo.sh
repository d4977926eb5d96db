#!/bin/bash
# make demo: a VM stand-in moves from host A to host B on the namespace
# testbed; netmove locates it, announces it from B and proves the fabric
# followed, with timings.
set -u
here=$(dirname "$0")
. "$here/lib.sh"
. "$here/common.sh"
t_need_root
t_trap

VM=$TB_VM_MAC
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "bringing up the testbed: router, top-of-rack bridge, two OVS hosts, a VM"
t0=$(date +%s%N)
tb_up || fail "testbed did not come up"
tb_vm_static_arp on >/dev/null
echo "up in $((($(date +%s%N) - t0) / 1000000)) ms (prefix $TB_P)"

say "where does the fabric deliver frames for the VM $VM?"
nm "$TB_TOR" fdb show --dev br0
echo
echo "verify from host A (sent out of A's uplink, reply awaited on the VM's port):"
nm "$TB_HOSTA" verify --iface uplink --listen vmport --mac "$VM" --ip "$TB_VM_IP" \
	--gateway "$TB_ROUTER_IP"

say "the VM moves to host B (no announcement yet)"
tb_vm_attach b || fail "move failed"
echo "tor says: $VM -> $(nm "$TB_TOR" fdb get --mac "$VM" --dev br0 --json | jq -r .port)"
echo "verify from host B:"
nm "$TB_HOSTB" verify --iface uplink --listen vmport --mac "$VM" --ip "$TB_VM_IP" \
	--gateway "$TB_ROUTER_IP" --tries 1 --timeout 500 || true

say "netmove announce from host B (RARP + GARP, QEMU schedule)"
t_bg "$T_TMP/watch.json" "$T_TMP/watch.err" \
	"$NETMOVE" -n "$TB_TOR" --json fdb watch --mac "$VM" --dev br0 --until-port tor-b --timeout 5000
watch=$T_BG
t_wait_line "$T_TMP/watch.json" || fail "fdb watch did not start"
nm "$TB_HOSTB" --json announce --iface uplink --mac "$VM" --ip "$TB_VM_IP" >"$T_TMP/ann.json" ||
	fail "announce failed"
t_wait "$watch" || fail "the tor FDB did not move"
jq . "$T_TMP/ann.json"
first=$(jget "$T_TMP/ann.json" first_us)
moved=$(jq -rs '[.[] | select(.type == "event" and .port == "tor-b")][0].time_us' "$T_TMP/watch.json")
echo "announce first frame -> tor FDB moved to tor-b: $((moved - first)) us"

say "verify from host B"
nm "$TB_HOSTB" verify --iface uplink --listen vmport --mac "$VM" --ip "$TB_VM_IP" \
	--gateway "$TB_ROUTER_IP" || fail "verify from B failed"
echo
nm "$TB_TOR" fdb show --dev br0 --mac "$VM"

say "tearing down"
