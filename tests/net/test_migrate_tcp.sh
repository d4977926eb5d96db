#!/bin/bash
# Across a netmove relocation: a TCP bulk transfer from the router into the VM
# arrives complete with the same hash, and a second VM that stays on host A
# reaches the migrated VM at once (A's OVS redirects its MAC to the uplink).
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

AG_GRACE=3000
step "testbed, agents, vm1 (migrates) and vm2 (stays) on host a"
mig_setup
vs_start vm2 a --mac "$VM2_MAC" --ip "$VM2_IP/24" >/dev/null || fail "vm2 did not start"
tb_wait_ping router "$VM2_IP" || fail "router cannot reach vm2"
ip netns exec "$(vs_ns vm2)" ping -c1 -W1 "$VM1_IP" >/dev/null || fail "vm2 cannot reach vm1"

step "TCP: 24 MiB from the router to vm1 at a limited rate, across the migration"
head -c $((24 << 20)) /dev/urandom >"$T_TMP/payload"
want=$(sha256sum <"$T_TMP/payload" | cut -d' ' -f1)
t_bg "$T_TMP/tcp.out" "$T_TMP/tcp.err" ip netns exec "$(vs_ns vm1)" python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5001)); s.listen(1)
print("ready", file=sys.stderr, flush=True)
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())'
server=$T_BG
t_wait_ready "$T_TMP/tcp.err" || fail "TCP server did not start"
ip netns exec "$TB_ROUTER" python3 -c '
import socket, sys, time
data = open(sys.argv[1], "rb").read()
s = socket.create_connection((sys.argv[2], 5001), timeout=30)
chunk = 1 << 16
for i in range(0, len(data), chunk):   # about 8 MiB/s: the move happens mid-stream
    s.sendall(data[i:i + chunk]); time.sleep(0.008)
s.close()' "$T_TMP/payload" "$VM1_IP" &
client=$!
sleep 1
mig_move vm1 200 --netmove >"$T_TMP/move.log" 2>&1 || fail "migration failed: $(cat "$T_TMP/move.log")"
echo "moved vm1 to host $(vs_host vm1) (relocation $MIG_ID), VM paused $((MIG_PAUSE_US / 1000)) ms"

step "vm2 on host a reaches vm1 on host b right after the move"
ip netns exec "$(vs_ns vm2)" ping -c3 -i0.2 -W1 "$VM1_IP" >"$T_TMP/ping2" ||
	fail "vm2 cannot reach the migrated vm1: $(cat "$T_TMP/ping2")"
grep -E 'packets transmitted' "$T_TMP/ping2"
tb_ovs_ofctl a dump-flows | grep -q "cookie=0x4e4d.*dl_dst=$VM1_MAC.*output" ||
	fail "no redirect flow for vm1 on host a during the grace period"
tb_ovs_appctl a fdb/show br-int | grep -i "$VM1_MAC" || true

wait "$client" || fail "TCP client failed"
t_wait "$server" || fail "TCP server failed: $(cat "$T_TMP/tcp.err")"
read -r n got <"$T_TMP/tcp.out"
echo "measured: TCP across the migration: $n bytes, sha256 match: $([ "$got" = "$want" ] && echo yes || echo no)"
[ "$n" = $((24 << 20)) ] || fail "received $n bytes"
[ "$got" = "$want" ] || fail "hash differs"

step "after the grace period A's redirect is gone and vm2 still reaches vm1"
sleep 3.2
n=$(tb_ovs_ofctl a dump-flows | grep -c 'cookie=0x4e4d' || true)
[ "$n" = 0 ] || fail "host a still has $n netmove flows after the grace period"
ip netns exec "$(vs_ns vm2)" ping -c2 -i0.2 -W1 "$VM1_IP" >/dev/null || fail "vm2 lost vm1 after the grace period"
echo "PASS"
