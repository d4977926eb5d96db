#!/bin/bash
# Fail open: an agent killed (SIGKILL) while its buffer holds the VM's frames
# leaves no black hole.  The source agent arms its buffer at the blackout;
# while it lives, frames for the paused VM are held (the router's pings go
# unanswered).  Then it is killed, the hypervisor gives up the migration and
# the VM runs on host A again: nobody will ever replay the buffer, and the
# buffer program, whose lease the dead agent no longer renews, lets the
# frames through within the lease (1 s, lease.h).  The VM answers again with
# no human step; the time from the kill to the first answer is measured.
# First, a local client that connects and says nothing must not hold the
# agent's other requests up.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

LEASE_MS=1000
BOUND_MS=3000	# the lease, its renewal step and this loaded box's ping rounds

step "testbed, agents, stand-in vm1 on host a"
mig_setup
tb_wait_ping router "$VM1_IP" 2 || fail "vm1 unreachable before the test"

step "a local client that connects and says nothing does not hold the agent up"
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected", flush=True); time.sleep(20)' \
	"$(ag_sock a)" >"$T_TMP/silent.out" 2>&1 &
silent=$!
T_PIDS+=("$silent")
t_wait_match "$T_TMP/silent.out" connected 5 || fail "the silent client did not connect"
s0=$(date +%s%N)
ag_nm a status >/dev/null || fail "status failed beside a silent client"
s_ms=$((($(date +%s%N) - s0) / 1000000))
echo "measured: netmove status beside a silent local client: $s_ms ms (the agent's local timeout is 5000 ms)"
[ "$s_ms" -lt 2500 ] || fail "status took $s_ms ms: the silent client held the agent"
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null

step "relocate to b, and the blackout: the source's buffer holds vm1's frames"
vs_prepare vm1 b || fail "preparing vm1's port on b"
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 ||
	fail "relocate was refused"
# The pause returns once the blackout hook (the agent's buffering) is done.
vs_ctl vm1 pause >/dev/null || fail "pause"
ip netns exec "$TB_ROUTER" ping -n -c 3 -i 0.2 -W 1 "$VM1_IP" >"$T_TMP/held.txt" 2>&1
held=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T_TMP/held.txt")
echo "measured: pings answered while the agent holds the paused VM's frames: ${held:-?} of 3"
[ "${held:-1}" = 0 ] || fail "the armed buffer let pings through while its agent lived"

step "SIGKILL the source agent; the VM runs on host a again"
ag_stop a KILL
t0=$(date +%s%N)
vs_ctl vm1 resume src >/dev/null 2>&1 || true
ok=
for _ in $(seq 60); do
	if ip netns exec "$TB_ROUTER" ping -n -c 1 -W 0.1 "$VM1_IP" >/dev/null 2>&1; then
		ok=1
		break
	fi
done
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
echo "measured: vm1 answered again ${ms} ms after its agent was killed (lease ${LEASE_MS} ms)"
[ -n "$ok" ] || fail "vm1 never answered again: the dead agent's buffer black-holes it"
[ "$ms" -le "$BOUND_MS" ] || fail "vm1 answered only after $ms ms (bound $BOUND_MS ms)"
ip netns exec "$(tb__host_ns a)" tc filter show dev vnet-vm1 egress | grep -q bpf ||
	fail "the buffer program is gone: the test did not leave it to its lease"
echo "PASS"
