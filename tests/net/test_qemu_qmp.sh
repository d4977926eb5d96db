#!/bin/bash
# nm-qemu against real QEMU (7.2, TCG): QEMU creates its tap and plugs it into
# the host's OVS through its own script hook, as users run it; QEMU's own
# migration moves the VM between the testbed's hosts, A -> B -> A, and netmove
# is fed by nm-qemu alone (no CLI step): MIGRATION setup -> PREPARE, STOP ->
# BLACKOUT with QEMU's stop time, destination RESUME -> SWITCHOVER.
#   A -> B without --own-pause: this guest's migration is faster than
#   PREPARE, so QEMU may resume on B before B is prepared and before A's
#   blackout (the agents take the early resume and arm at handoff);
#   B -> A with --own-pause: QEMU waits at pre-switchover until nm-qemu armed
#   the blackout, so the phases come in order.
# After the first move the source QEMU quits and a new one waits there for
# the way back: nm-qemu reconnects to it.  Checked in both agents' journals: committed,
# verify answered, upstream FDB read back, blackout lateness and the tap
# queue QEMU held.  The guest runs no OS (SeaBIOS only): this checks the
# integration, not the data path (frames are checked with a Linux guest).
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

QEMU=${QEMU:-qemu-system-x86_64}
NMQEMU=$(cd "$(dirname "$0")/../.." && pwd)/build/nm-qemu
command -v "$QEMU" >/dev/null || { echo "skip: $QEMU not installed (make deps installs qemu-system-x86)"; exit 77; }
[ -x "$NMQEMU" ] || fail "$NMQEMU not built"
MAC=52:54:00:00:00:60 IP=198.18.0.60 TAP=vnet-q
AG_GRACE=300

step "testbed and agents"
tb_up || fail "testbed did not come up"
ag_start || fail "agents did not start"
D=$TB_DIR/qemu
mkdir -p "$D"

# QEMU's -netdev tap script: brings the tap up and adds it to that host's OVS.
for h in a b; do
	cat >"$D/ifup-$h" <<EOF
#!/bin/sh
ip link set "\$1" up &&
exec ovs-vsctl --db=unix:$TB_DIR/host$h/db.sock --timeout=20 add-port br-int "\$1"
EOF
	chmod +x "$D/ifup-$h"
done

# qmp SOCK CMD [ARGS_JSON]: run one QMP command on QEMU's test monitor.
qmp() {
	python3 - "$@" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
f = s.makefile("rw")
def rd():
    while True:
        o = json.loads(f.readline())
        if "event" not in o:
            return o
rd()
f.write('{"execute":"qmp_capabilities"}\n'); f.flush(); rd()
cmd = {"execute": sys.argv[2]}
if len(sys.argv) > 3:
    cmd["arguments"] = json.loads(sys.argv[3])
f.write(json.dumps(cmd) + "\n"); f.flush()
r = rd()
if "error" in r:
    print(r["error"]["desc"], file=sys.stderr); sys.exit(1)
print(json.dumps(r["return"]))
PY
}

declare -A QPID=() NPID=()
# qemu_start H [incoming]: QEMU on host H (its tap through ifup-H), two QMP
# monitors: nm.sock for nm-qemu, test.sock for this script.
qemu_start() {
	local h=$1 ns extra=()
	ns=$(tb__host_ns "$h")
	rm -f "$D/$h-nm.sock" "$D/$h-test.sock"
	[ "${2:-}" = incoming ] && extra=(-incoming "unix:$D/mig-$h.sock")
	ip netns exec "$ns" "$QEMU" -M pc -accel tcg -m 64 -nodefaults -display none \
		-netdev "tap,id=n0,ifname=$TAP,script=$D/ifup-$h,downscript=no" \
		-device "virtio-net-pci,netdev=n0,mac=$MAC" \
		-qmp "unix:$D/$h-nm.sock,server=on,wait=off" \
		-qmp "unix:$D/$h-test.sock,server=on,wait=off" "${extra[@]}" \
		>"$D/qemu-$h.log" 2>&1 &
	QPID[$h]=$!
	T_PIDS+=("${QPID[$h]}")
	for _ in $(seq 250); do
		[ -S "$D/$h-test.sock" ] && return 0
		kill -0 "${QPID[$h]}" 2>/dev/null || fail "QEMU on $h died: $(cat "$D/qemu-$h.log")"
		sleep 0.02
	done
	fail "QEMU on $h: no QMP socket"
}
nmqemu_start() { # H TO [ARGS...]
	local h=$1 to=$2
	shift 2
	NETMOVE_SOCKET=$(ag_sock "$h") "$NMQEMU" --qmp "$D/$h-nm.sock" --ip "$IP" --to "host$to" "$@" \
		>>"$D/nm-qemu-$h.log" 2>&1 &
	NPID[$h]=$!
	T_PIDS+=("${NPID[$h]}")
}
migrate() { # FROM TO
	local i st
	qmp "$D/$1-test.sock" migrate "{\"uri\":\"unix:$D/mig-$2.sock\"}" >/dev/null ||
		fail "QMP migrate $1 -> $2 refused"
	for i in $(seq 300); do
		st=$(qmp "$D/$1-test.sock" query-migrate | jq -r '.status // ""')
		case $st in
		completed) return 0 ;;
		failed | cancelled) fail "QEMU migration $1 -> $2: $st" ;;
		esac
		sleep 0.05
	done
	fail "QEMU migration $1 -> $2 did not complete"
}
check_move() { # FROM TO STRICT
	local js jd
	mig_wait_commit "$2" 1 || mig_wait_commit "$2" 2 || true
	for _ in $(seq 250); do
		js=$(tail -1 "$(ag_journal "$1")" 2>/dev/null)
		jd=$(tail -1 "$(ag_journal "$2")" 2>/dev/null)
		[ -n "$js" ] && [ -n "$jd" ] && [ "$(jq -r .mac <<<"$js")" = "$MAC" ] &&
			[ "$(jq -r .time_us <<<"$js")" -gt "$T0" ] &&
			[ "$(jq -r .time_us <<<"$jd")" -gt "$T0" ] && break
		sleep 0.02
	done
	echo "journal (source): $js" | cut -c1-700
	echo "journal (destination): $jd" | cut -c1-500
	[ "$(jq -r .time_us <<<"$js")" -gt "$T0" ] || fail "no new source journal entry on $1"
	[ "$(jq -r .outcome <<<"$js")" = committed ] || fail "source did not commit: $js"
	[ "$(jq -r .outcome <<<"$jd")" = committed ] || fail "destination did not commit: $jd"
	[ "$(jq -r .verify.answered <<<"$jd")" = true ] || fail "verify did not answer: $jd"
	[ "$(jq -r .upstream_fdb_port <<<"$jd")" = "tor-$2" ] || fail "upstream FDB not on tor-$2"
	[ "$(jq -r '.tap_queue.queues // 0' <<<"$js")" -ge 1 ] ||
		fail "the source agent did not take QEMU's tap queue: $js"
	LATE=$(jq -r '.blackout_late_us // ""' <<<"$js")
	if [ "$3" = strict ]; then
		[ -n "$LATE" ] && [ "$LATE" -ge 0 ] || fail "no blackout_late_us (QEMU's STOP time not passed): $js"
		[ "$(jq -r '.phases_us.blackout < .phases_us.switchover' <<<"$js")" = true ] ||
			fail "with --own-pause the blackout must come before the switchover: $js"
	fi
	echo "measured: QEMU $1 -> $2: blackout ${LATE} us after QEMU's STOP, QEMU STOP -> RESUME $(jq -r .vm_pause_ms <<<"$js") ms, frames from the tap $(jq -r .tap_queue.recovered <<<"$js")"
}

step "QEMU on host a (running) and host b (-incoming), nm-qemu beside each"
qemu_start a
qemu_start b incoming
tb_ovs_vsctl a list-ports br-int | grep -qx "$TAP" || fail "QEMU's script did not plug $TAP into host a's OVS"
nmqemu_start a b
nmqemu_start b a --own-pause
for h in a b; do
	t_wait_match "$D/nm-qemu-$h.log" "VM NIC $MAC on tap $TAP" 10 ||
		fail "nm-qemu on $h did not learn the NIC: $(cat "$D/nm-qemu-$h.log")"
done

step "QEMU migrates a -> b"
T0=$(($(date +%s%N) / 1000))
migrate a b
check_move a b loose
grep -q "blackout $MAC: accepted" "$D/nm-qemu-a.log" || fail "nm-qemu a: no blackout: $(cat "$D/nm-qemu-a.log")"
grep -q "resumed $MAC: accepted" "$D/nm-qemu-b.log" || fail "nm-qemu b: no resumed: $(cat "$D/nm-qemu-b.log")"

step "the source QEMU quits; a new one waits on host a; nm-qemu a reconnects"
qmp "$D/a-test.sock" quit >/dev/null 2>&1 || true
wait "${QPID[a]}" 2>/dev/null || true
t_wait_match "$D/nm-qemu-a.log" "went away" 10 || fail "nm-qemu a did not notice QEMU quit"
# As libvirt does at release: the old port leaves OVS.  The tap itself goes
# when the source agent lets go of its queue (after its grace period).
tb_ovs_vsctl a --if-exists del-port br-int "$TAP"
for _ in $(seq 250); do
	ip -n "$(tb__host_ns a)" link show "$TAP" >/dev/null 2>&1 || break
	sleep 0.02
done
ip -n "$(tb__host_ns a)" link show "$TAP" >/dev/null 2>&1 && fail "the old tap on host a is still there"
qemu_start a incoming
t_wait_match "$D/nm-qemu-a.log" "attached to QEMU .* \(inmigrate\)" 10 ||
	fail "nm-qemu a did not reconnect: $(cat "$D/nm-qemu-a.log"; cat "$D/qemu-a.log")"

step "QEMU migrates b -> a"
T0=$(($(date +%s%N) / 1000))
migrate b a
check_move b a strict
grep -q "migrate-continue: ok" "$D/nm-qemu-b.log" || fail "nm-qemu b did not release pre-switchover"
echo "--- nm-qemu a"; cat "$D/nm-qemu-a.log"
echo "--- nm-qemu b"; cat "$D/nm-qemu-b.log"
echo "PASS"
