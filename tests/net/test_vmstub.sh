#!/bin/bash
# nm-vmstub on the testbed: a stand-in on host A answers ping and TCP; it
# migrates to host B with a RARP while a ping and a 2 MB TCP transfer run;
# afterwards the router reaches it through tor-b, the transfer arrives intact
# and the stand-in's counters agree with what happened.
set -u
here=$(dirname "$0")
if [ "$(id -u)" -ne 0 ]; then
	echo "needs root (network namespaces, Open vSwitch, taps)"
	exit 77
fi
. "$here/lib.sh"
. "$here/common.sh"
. "$here/vmstub.sh"
vs_trap
[ -x "$VMSTUB" ] || fail "$VMSTUB not built (make all)"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || fail "python3 not found"

MAC=52:54:00:00:00:20
IP=198.18.0.20
hooks=$T_TMP/hooks.log

step "testbed up"
tb_up || fail "testbed did not come up"

step "stand-in g1 on host A"
vs_start g1 a --mac "$MAC" --ip "$IP/24" --gw "$TB_ROUTER_IP" --announce \
	--hook-blackout "echo blackout \$VMSTUB_MAC \$VMSTUB_HOST_NS \$VMSTUB_TAP >>$hooks" \
	--hook-resumed "echo resumed \$VMSTUB_MAC \$VMSTUB_HOST_NS \$VMSTUB_TAP >>$hooks" ||
	fail "vs_start"
G=$(vs_ns g1)

step "router pings it (ARP + ICMP echo through host A)"
tb_wait_ping router "$IP" 5 || fail "router cannot ping $IP"
[ "$(tb_tor_port_of "$MAC")" = tor-a ] || fail "tor FDB: $MAC not on tor-a"

cat >"$T_TMP/server.py" <<'EOF'
import hashlib, json, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(20)
print("ready", file=sys.stderr, flush=True)
c, _ = s.accept()
c.settimeout(20)
h, n, first = hashlib.sha256(), 0, None
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    if first is None:
        first = time.time_ns() // 1000
    h.update(b)
    n += len(b)
last = time.time_ns() // 1000
c.sendall(b"done")
c.close()
print(json.dumps({"bytes": n, "sha256": h.hexdigest(), "first_us": first, "last_us": last}))
EOF
cat >"$T_TMP/client.py" <<'EOF'
import hashlib, json, os, socket, sys, time
ip, port, size, chunk, gap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
data = os.urandom(size)
c = socket.create_connection((ip, port), timeout=15)
start = time.time_ns() // 1000
for i in range(0, size, chunk):
    c.sendall(data[i:i + chunk])
    if i == 0:
        print("ready", file=sys.stderr, flush=True)
    time.sleep(gap)
c.shutdown(socket.SHUT_WR)
ack = c.recv(16).decode()
print(json.dumps({"bytes": size, "sha256": hashlib.sha256(data).hexdigest(), "start_us": start,
                  "end_us": time.time_ns() // 1000, "ack": ack}))
EOF

# tcp_start NAME PORT SIZE CHUNK GAP: server in the guest, client on the router.
tcp_start() {
	local name=$1 port=$2
	t_bg "$T_TMP/$name.srv.json" "$T_TMP/$name.srv.err" \
		ip netns exec "$G" "$PY" "$T_TMP/server.py" "$IP" "$port"
	SRV=$T_BG
	t_wait_ready "$T_TMP/$name.srv.err" || fail "$name: server did not start"
	t_bg "$T_TMP/$name.cli.json" "$T_TMP/$name.cli.err" \
		ip netns exec "$TB_ROUTER" "$PY" "$T_TMP/client.py" "$IP" "$port" "$3" "$4" "$5"
	CLI=$T_BG
}

tcp_check() {
	local name=$1 s=$T_TMP/$1.srv.json c=$T_TMP/$1.cli.json
	t_wait "$CLI" || fail "$name: client failed: $(tail -3 "$T_TMP/$name.cli.err")"
	t_wait "$SRV" || fail "$name: server failed: $(tail -3 "$T_TMP/$name.srv.err")"
	[ "$(jget "$s" bytes)" = "$(jget "$c" bytes)" ] ||
		fail "$name: sent $(jget "$c" bytes) bytes, received $(jget "$s" bytes)"
	[ "$(jget "$s" sha256)" = "$(jget "$c" sha256)" ] || fail "$name: sha256 differs"
	[ "$(jget "$c" ack)" = "done" ] || fail "$name: no acknowledgement from the server"
}

step "TCP from the router to the guest (256 KiB)"
tcp_start small 5001 262144 65536 0
tcp_check small

step "migrate to host B while a ping and a 2 MiB transfer run"
tcp_start big 5002 2097152 65536 0.04
ip netns exec "$TB_ROUTER" ping -n -i 0.02 -c 75 -W 1 "$IP" >"$T_TMP/ping.out" 2>&1 &
PING=$!
T_PIDS+=("$PING")
t_wait_ready "$T_TMP/big.cli.err" || fail "the 2 MiB transfer did not start"
sleep 0.3
kill -0 "$CLI" 2>/dev/null || fail "the transfer ended before the migration"
# Not in $(...): vs_migrate updates the shell's record of the stand-in.
vs_migrate g1 || fail "vs_migrate"
pause=$VS_LAST_PAUSE
resume=$VS_LAST_RESUME
echo "measured: stand-in paused $((($(jq -r .resume_us <<<"$resume") - $(jq -r .pause_stop_us <<<"$pause")) / 1000)) ms" \
	"(prepare + add-port inside the blackout, no netmove)"
[ "$(vs_host g1)" = b ] || fail "stand-in not on host b"
for ((i = 0; i < 25; i++)); do
	[ "$(tb_tor_port_of "$MAC")" = tor-b ] && break
	sleep 0.02
done
[ "$(tb_tor_port_of "$MAC")" = tor-b ] ||
	fail "tor FDB: $MAC on '$(tb_tor_port_of "$MAC")', not tor-b after the RARP"
echo "tor FDB: $(bridge -n "$TB_TOR" fdb show br br0 | grep -i "$MAC")"
first=ok
ip netns exec "$TB_ROUTER" ping -n -q -c1 -W1 "$IP" >/dev/null 2>&1 || first=lost
tb_wait_ping router "$IP" 3 || fail "router cannot ping $IP after the migration"
[ "$(tb_tor_port_of "$MAC")" = tor-b ] || fail "tor FDB moved away from tor-b"
wait "$PING"
echo "measured: ping every 20 ms across the migration: $(grep -o '[0-9]* received' "$T_TMP/ping.out"), first ping after resume: $first"

step "2 MiB transfer intact across the migration"
tcp_check big
s=$T_TMP/big.srv.json
c=$T_TMP/big.cli.json
[ "$(jget "$s" first_us)" -lt "$(jq -r .pause_start_us <<<"$pause")" ] ||
	fail "the transfer started after the pause"
[ "$(jget "$s" last_us)" -gt "$(jq -r .resume_us <<<"$resume")" ] ||
	fail "the transfer ended before the resume"
echo "measured: 2 MiB TCP across the migration in $((($(jget "$c" end_us) - $(jget "$c" start_us)) / 1000)) ms"

step "counters"
st=$(vs_ctl g1 stats) || fail "stats: $st"
echo "stats: $st"
sj() { jq -r ".$1" <<<"$st"; }
[ "$(sj state)" = running ] || fail "state $(sj state)"
[ "$(sj active_ns)" = "$TB_HOSTB" ] || fail "active tap in $(sj active_ns), not $TB_HOSTB"
[ "$(sj prepared_tap)" = null ] || fail "a prepared tap is left over"
[ "$(sj pauses)/$(sj resumes)/$(sj announces)" = 1/1/1 ] ||
	fail "pauses/resumes/announces are $(sj pauses)/$(sj resumes)/$(sj announces), not 1/1/1"
[ "$(sj dropped)" = 0 ] || fail "dropped $(sj dropped)"
[ "$(sj h2g_bytes)" -gt $((2097152 + 262144)) ] || fail "h2g_bytes $(sj h2g_bytes) too small"
[ "$(sj g2h_frames)" -gt 0 ] || fail "no guest->host frames"
[ "$(sj h2g_frames)" -ge "$(jq -r .h2g_frames <<<"$pause")" ] || fail "h2g_frames went back"
[ "$(sj g2h_frames)" -gt "$(jq -r .g2h_frames <<<"$pause")" ] || fail "no guest frames after resume"
t_order=("$(sj pause_start_us)" "$(sj hook_done_us)" "$(sj pause_stop_us)" "$(sj resume_us)")
[ "${t_order[0]}" -le "${t_order[1]}" ] || fail "pause start after hook done: ${t_order[*]}"
[ "${t_order[1]}" -le "${t_order[2]}" ] || fail "hook done after pause stop: ${t_order[*]}"
[ "${t_order[2]}" -lt "${t_order[3]}" ] || fail "pause stop not before resume: ${t_order[*]}"
[ "$(sj resume_us)" -eq "$(jq -r .resume_us <<<"$resume")" ] || fail "resume_us differs"
echo "measured: host A queue discarded at release: $(sj discarded) frames;" \
	"mean frame host->guest $(($(sj h2g_bytes) / $(sj h2g_frames))) bytes (GSO frames pass whole)"
ip -n "$TB_HOSTB" link show vnet-g1 | grep -q 'qlen 10000' || fail "host B tap txqueuelen is not 10000"

step "hooks"
cat "$hooks"
grep -qx "blackout $MAC $TB_HOSTA vnet-g1" "$hooks" || fail "blackout hook did not run with host A's tap"
for ((i = 0; i < 50; i++)); do
	grep -q '^resumed' "$hooks" && break
	sleep 0.02
done
grep -qx "resumed $MAC $TB_HOSTB vnet-g1" "$hooks" || fail "resumed hook did not run with host B's tap"

step "control errors"
out=$(vs_ctl g1 resume) && fail "resume while running succeeded: $out"
out=$(vs_ctl g1 release src) && fail "release of the active tap succeeded: $out"
out=$(vs_ctl g1 bogus) && fail "unknown command succeeded: $out"
[ "$(jq -r .ok <<<"$out")" = false ] || fail "bad error reply: $out"

step "stop"
vs_ctl g1 quit >/dev/null || fail "quit"
vs_stop g1
[ ! -e "/run/netns/$G" ] || fail "guest namespace $G left behind"
echo "PASS"
