#!/bin/bash
# 200 hostile connections to an agent's peer port, held open while a real
# relocation runs through it: old (pre-TLS) HELLO headers that declare 64 MiB
# bodies, senders that stop after one byte, garbage.  No more than a TLS
# record is read before a peer is authenticated and at most 256 may be
# in their handshake at once (netmoved(8), SECURITY): the connections cost
# the agent little memory (measured while they are held, before the
# relocation, whose ring alone maps 2 x --ring-mib, 4 here), its peak RSS stays under
# 64 MiB, and the relocation is not held up: 0 lost at 2000 frames/s,
# committed.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

HOSTILE=${HOSTILE:-200}
RSS_LIMIT_KB=$((64 * 1024))
# The ring is memory the operator gives the agent (--ring-mib, mapped twice
# by the kernel's ring buffer): a small one here, so the figure is the
# agent's own.
AG_RING_MIB=4

step "testbed, agents, stand-in vm1 on host a"
mig_setup
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/${AG_PID[$1]}/status"; }
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/${AG_PID[$1]}/status"; }
before=$(rss b)

step "$HOSTILE hostile connections to host b's agent"
ip netns exec "$TB_HOSTA" python3 - "$TB_HOSTB_MGMT_IP" "$HOSTILE" >"$T_TMP/hostile.out" 2>&1 <<'PY' &
import os, socket, struct, sys, time
host, n = sys.argv[1], int(sys.argv[2])
conns = []
for i in range(n):
    try:
        s = socket.create_connection((host, 7870), timeout=2)
    except OSError:
        continue  # refused or reset: the agent keeps its limit
    kind = i % 3
    try:
        if kind == 0:    # a HELLO header declaring a 64 MiB body, then a trickle
            s.sendall(b"NMC1" + bytes([2, 0, 0xff, 0xff]) + bytes(8) + struct.pack(">I", 64 << 20))
        elif kind == 1:  # one byte, then silence
            s.sendall(b"N")
        else:            # garbage
            s.sendall(os.urandom(512))
    except OSError:
        pass
    conns.append(s)
print("open", len(conns), flush=True)
end = time.time() + 8
while time.time() < end:
    for s in conns:
        try:
            s.send(b"\0", socket.MSG_DONTWAIT)
        except OSError:
            pass
    time.sleep(0.2)
PY
hostile=$!
T_PIDS+=("$hostile")
t_wait_match "$T_TMP/hostile.out" "^open" 20 || fail "the hostile client did not start: $(cat "$T_TMP/hostile.out")"
echo "measured: hostile connections made: $(sed -n 's/^open //p' "$T_TMP/hostile.out") of $HOSTILE"
# Every one of them has reached the agent once the log says so.
for _ in $(seq 100); do
	[ "$(grep -c 'refused peer\|rejected peer' "$TB_DIR/agent-b.log")" -ge $((HOSTILE / 3)) ] && break
	sleep 0.05
done
held=$(rss b)
echo "measured: host b's agent RSS: ${before} kB idle, ${held} kB with $HOSTILE hostile connections held"
[ $((held - before)) -lt $((16 * 1024)) ] ||
	fail "the hostile connections cost the agent $((held - before)) kB"


step "meanwhile, a relocation a -> b under 2000 frames/s"
mig_probe vm1 2000 2 100 netmove
r=$T_TMP/probe-netmove.json
lost=$(( $(jget "$T_TMP/send-netmove.json" sent) - $(jget "$r" received) + $(jget "$r" duplicated) ))
J=$(ag_last b)
echo "measured: relocation beside $HOSTILE hostile connections: lost $lost, dup $(jget "$r" duplicated), reordered $(jget "$r" reordered), outcome $(jq -r .outcome <<<"$J")"
[ "$(jq -r .outcome <<<"$J")" = committed ] || fail "the relocation did not commit: $J"
[ "$lost" = 0 ] || fail "the relocation lost $lost frames beside the hostile connections"
wait "$hostile" 2>/dev/null
after=$(hwm b)
refused=$(grep -c 'refused peer\|rejected peer' "$TB_DIR/agent-b.log" || true)
echo "measured: host b's agent peak RSS with the relocation (its ring maps 2 x ${AG_RING_MIB} MiB): ${after} kB (limit ${RSS_LIMIT_KB} kB); log lines for refused or rejected peers: $refused"
[ "$after" -lt "$RSS_LIMIT_KB" ] || fail "peak RSS ${after} kB is over ${RSS_LIMIT_KB} kB"
[ "$HOSTILE" = 0 ] || [ "$refused" -gt 0 ] ||
	fail "host b logged no refused or rejected peer: the test did not reach it"
echo "PASS"
