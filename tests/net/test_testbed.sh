#!/bin/bash
# Self-test of the network testbed (tests/net/lib.sh): bring-up, VM move,
# OVS daemons, helpers, a second testbed running alongside, clean teardown.
# Exit 0 pass, 1 fail, 77 skip (not root).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/net/lib.sh
. "$here/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: test_testbed needs root (network namespaces, OVS)"
	exit 77
fi

fail() {
	echo "FAIL: $*"
	exit 1
}
trap 'echo "FAIL: line $LINENO: command failed: $BASH_COMMAND"; exit 1' ERR
step() {
	echo "  - $*"
}
ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}
# Live, non-zombie process?
alive() {
	[ -n "$(tb__start_time "$1")" ]
}

tb_trap

echo "test_testbed: bring-up"
t=$(date +%s%N)
tb_up --ageing 60 || fail "tb_up failed"
echo "  - testbed $TB_P up in $(ms_since "$t") ms"
P1=$TB_P
for ns in "$TB_TOR" "$TB_ROUTER" "$TB_HOSTA" "$TB_HOSTB" "$TB_VM"; do
	[ -e "/run/netns/$ns" ] || fail "namespace $ns missing"
done
[ "$(ip netns exec "$TB_TOR" cat /sys/class/net/br0/bridge/ageing_time)" = 6000 ] ||
	fail "tor br0 ageing_time is not 60 s"
[ "$(ip netns exec "$TB_VM" cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6)" = 1 ] ||
	fail "IPv6 is not disabled on the VM's eth0"
[ "$(tb_ovs_vsctl a get Bridge br-int datapath_type)" = netdev ] ||
	fail "hosta br-int is not on the netdev datapath"

# A second testbed comes up in the background while the first one is used.
P2=nmt$$-2-
TB_ALL="$TB_ALL $P2" # so tb_trap also removes it
(
	trap - ERR
	TB_PREFIX=$P2 tb_up >/tmp/tb-second.$$.log 2>&1
) &
second=$!
TB_WAIT_PIDS="$TB_WAIT_PIDS $second" # on failure, tb_trap waits for it

echo "test_testbed: VM on host A"
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null || fail "router cannot ping the VM via host A"
[ "$(tb_vm_host)" = a ] || fail "tb_vm_host says $(tb_vm_host), expected a"
port=$(tb_tor_port_of 52:54:00:00:00:10)
[ "$port" = tor-a ] || fail "tor FDB maps the VM MAC to '$port', expected tor-a"
step "router -> VM ok, tor FDB: VM on tor-a"
tb_ovs_ofctl a dump-flows | grep -q 'actions=NORMAL' || fail "hosta br-int has no NORMAL flow"
tb_ovs_appctl a fdb/show br-int | grep -qi 52:54:00:00:00:10 || fail "hosta OVS did not learn the VM MAC"
tb_ns hosta ping -n -q -c1 -W1 198.19.0.2 >/dev/null || fail "management link hosta -> hostb down"
step "ovs-ofctl/appctl helpers and management link ok"

echo "test_testbed: move VM to host B"
t=$(date +%s%N)
tb_vm_attach b || fail "tb_vm_attach b failed"
step "tb_vm_attach b took $(ms_since "$t") ms"
[ "$(tb_vm_host)" = b ] || fail "tb_vm_host says $(tb_vm_host), expected b"
tb_ovs_vsctl a list-ports br-int | grep -qx vmport && fail "vmport still on hosta br-int"
tb_ovs_vsctl b list-ports br-int | grep -qx vmport || fail "vmport not on hostb br-int"
tb_wait_ping vm 198.18.0.1 5 || fail "VM cannot ping the router from host B"
port=$(tb_tor_port_of 52:54:00:00:00:10)
[ "$port" = tor-b ] || fail "tor FDB maps the VM MAC to '$port' after the move, expected tor-b"
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null || fail "router cannot ping the VM via host B"
step "VM -> router ok, tor FDB: VM on tor-b"

echo "test_testbed: OVS daemons"
mapfile -t PIDS1 < <(tb_ovs_pids "$P1")
[ "${#PIDS1[@]}" -eq 4 ] || fail "expected 4 OVS daemon PIDs, got ${#PIDS1[*]}: ${PIDS1[*]}"
for pid in "${PIDS1[@]}"; do
	alive "$pid" || fail "OVS daemon $pid is not running"
done
for h in a b; do
	tb_ovs_appctl "$h" version >/dev/null || fail "ovs-vswitchd of host $h does not answer"
done
step "4 daemons alive (${PIDS1[*]})"

echo "test_testbed: blackout helpers"
tb_vm_link down
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null && fail "VM answers with vmport down"
tb_vm_link up
tb_wait_ping router 198.18.0.10 5 || fail "VM unreachable after tb_vm_link up"
tb_vm_detach
tb_ovs_vsctl b list-ports br-int | grep -qx vmport && fail "vmport still on br-int after tb_vm_detach"
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null && fail "VM answers while detached"
tb_vm_reattach
[ "$(tb_vm_host)" = b ] || fail "tb_vm_reattach changed the host"
tb_wait_ping router 198.18.0.10 5 || fail "VM unreachable after tb_vm_reattach"
step "link down/up and detach/reattach ok"

echo "test_testbed: second testbed alongside"
wait "$second" || { cat "/tmp/tb-second.$$.log"; rm -f "/tmp/tb-second.$$.log"; fail "second tb_up failed"; }
rm -f "/tmp/tb-second.$$.log"
tb_use "$P2"
[ "$TB_P" = "$P2" ] || fail "tb_use did not switch to $P2"
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null || fail "router cannot ping the VM in the second testbed"
port=$(tb_tor_port_of 52:54:00:00:00:10)
[ "$port" = tor-a ] || fail "second testbed: VM MAC on '$port', expected tor-a"
[ "$(tb_vm_host)" = a ] || fail "second testbed: VM not on host a"
mapfile -t PIDS2 < <(tb_ovs_pids "$P2")
[ "${#PIDS2[@]}" -eq 4 ] || fail "second testbed: expected 4 OVS PIDs, got ${#PIDS2[*]}"
step "second testbed $P2 pings; its VM is on host a while the first one's is on b"
tb_use "$P1"
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null || fail "first testbed broke when the second came up"
[ "$(tb_tor_port_of 52:54:00:00:00:10)" = tor-b ] || fail "first testbed's tor FDB changed"
step "first testbed still pings"

echo "test_testbed: refusals and failed bring-up"
if out=$(TB_PREFIX=$P1 tb_up 2>&1); then
	fail "tb_up accepted the prefix $P1 that is in use"
fi
tb_ns router ping -n -q -c1 -W1 198.18.0.10 >/dev/null || fail "refused tb_up damaged testbed $P1"
bad=$(mktemp)
echo '{}' >"$bad"
P3=nmt$$-3-
if out=$(TB_PREFIX=$P3 TB_OVS_SCHEMA=$bad tb_up 2>&1); then
	rm -f "$bad"
	fail "tb_up with a broken OVS schema succeeded"
fi
rm -f "$bad"
echo "$out" | grep -q 'failed' || fail "failed tb_up gave no message: $out"
ip netns list | grep -q "^$P3" && fail "failed tb_up left namespaces behind"
[ ! -e "$TB_STATE_ROOT/$P3" ] || fail "failed tb_up left $TB_STATE_ROOT/$P3 behind"
step "prefix in use refused; half-built testbed removed"

echo "test_testbed: teardown"
tb_down "$P2"
tb_down "$P1"
tb_down "$P1" || fail "second tb_down of $P1 failed"
for p in "$P1" "$P2"; do
	if ip netns list | grep -q "^$p"; then
		fail "namespaces with prefix $p remain: $(ip netns list | grep "^$p" | xargs)"
	fi
	[ ! -e "$TB_STATE_ROOT/$p" ] || fail "state dir $TB_STATE_ROOT/$p remains"
done
for pid in "${PIDS1[@]}" "${PIDS2[@]}"; do
	alive "$pid" && fail "OVS daemon $pid survived tb_down"
done
[ -z "${TB_P:-}" ] || fail "TB_P still set after tb_down"
step "no namespaces, state dirs or daemons left"
echo "PASS: test_testbed"
