#!/bin/bash
# A peer with the wrong key (TLS PSK) is rejected and logged, and nothing
# changes on the destination; garbage and an old (version 2) HELLO are
# rejected the same way; a relocation addressed to another host is refused by
# the host that gets it.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

step "testbed, agents with one key, stand-in vm1 on host a"
mig_setup
vs_prepare vm1 b || fail "preparing vm1's port on b"

step "restart host a's agent with another key"
ag_stop a
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TB_DIR/wrong.key"
AG_KEY=$TB_DIR/wrong.key ag_start a || fail "agent a did not restart"
st=0
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 \
	>"$T_TMP/out" 2>&1 || st=$?
echo "relocate with the wrong key: exit $st: $(cat "$T_TMP/out")"
[ $st -eq 1 ] || fail "relocate with a wrong key: exit $st, expected 1"
grep -q 'rejected peer' "$TB_DIR/agent-b.log" || fail "host b did not log the rejection"
echo "host b logged: $(grep 'rejected peer' "$TB_DIR/agent-b.log" | tail -1)"
[ "$(ag_nm b --json status | jq '.relocations | length')" = 0 ] || fail "host b started a relocation"
n=$(tb_ovs_ofctl b dump-flows | grep -c 'cookie=0x4e4d' || true)
[ "$n" = 0 ] || fail "host b has $n netmove flows"

step "garbage (an old NMC1 HELLO) to host b's port"
ip netns exec "$TB_HOSTA" python3 -c '
import socket, os, sys
s = socket.create_connection((sys.argv[1], 7870), timeout=2)
s.sendall(b"NMC1" + os.urandom(200))
s.settimeout(2)
try:
    while s.recv(4096):
        pass
except OSError:
    pass
' "$TB_HOSTB_MGMT_IP"
sleep 0.2
[ "$(grep -c 'rejected peer' "$TB_DIR/agent-b.log")" -ge 2 ] || fail "garbage was not rejected"
[ "$(ag_nm b --json status | jq '.relocations | length')" = 0 ] || fail "host b started a relocation"

step "a relocation addressed to another host is refused by the one that gets it (at the TLS handshake: the PSK identity names hostc)"
ag_stop a
AG_EXTRA=(--peer "hostc=$TB_HOSTB_MGMT_IP:7870")
ag_start a || fail "agent a did not restart"
AG_EXTRA=()
st=0
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostc --port vnet-vm1 \
	>"$T_TMP/out" 2>&1 || st=$?
echo "relocate to hostc, which is host b: exit $st: $(cat "$T_TMP/out")"
[ $st -eq 1 ] || fail "a relocation for hostc sent to host b: exit $st, expected 1"
grep -q 'not authenticated as the destination host.*expected hostc' "$T_TMP/out" ||
	fail "the refusal does not say why: $(cat "$T_TMP/out")"
grep -q 'rejected peer.*peer means to reach hostc, this is hostb' "$TB_DIR/agent-b.log" ||
	fail "host b did not log the refusal: $(tail -3 "$TB_DIR/agent-b.log")"
echo "host b logged: $(grep 'rejected peer' "$TB_DIR/agent-b.log" | tail -1)"
[ "$(ag_nm b --json status | jq '.relocations | length')" = 0 ] || fail "host b started a relocation"

step "with the right key the same relocation is accepted"
ag_stop a
ag_start a || fail "agent a did not restart"
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 >/dev/null ||
	fail "relocate with the right key failed"
ag_nm a event failed --mac "$VM1_MAC" >/dev/null || fail "event failed"
echo "PASS"
