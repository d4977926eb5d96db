# shellcheck shell=bash
# Real QEMU (7.2, TCG) on the testbed's hosts, as users run it: QEMU creates
# its tap and plugs it into the host's OVS through its own -netdev script
# hook; QEMU's own migration moves the VM.  Source after migrate.sh.
#
#   qm_init [guest]      state dir $QM_D, the ifup scripts; with "guest", the
#                        Linux test guest (tests/guest/build.sh) in $QM_GUEST
#   qmp SOCK CMD [ARGS]  one QMP command on a QEMU's test monitor; prints its
#                        return as JSON
#   qm_start H [incoming]
#                        QEMU on host H (tap $QM_TAP, MAC $QM_MAC); monitors
#                        $QM_D/H-nm.sock (nm-qemu) and $QM_D/H-test.sock; with
#                        the guest, its console goes to $QM_D/console-H-N.log;
#                        QM_VHOST=1: the tap's queues in vhost-net
#   qm_nmqemu H TO [ARGS...]
#                        nm-qemu for host H's QEMU, outgoing migrations to TO
#   qm_nmqemu_stop H     stop it
#   qm_migrate FROM TO   QEMU's migration FROM -> TO (over a unix socket)
#   qm_quit H            quit H's QEMU, take its port out of OVS (as libvirt
#                        does) and wait for the tap to go

QM_QEMU=${QEMU:-qemu-system-x86_64}
QM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
QM_NMQEMU=$QM_ROOT/build/nm-qemu
QM_MAC=${QM_MAC:-52:54:00:00:00:60}
QM_IP=${QM_IP:-198.18.0.60}
QM_TAP=vnet-q
QM_GUEST=
QM_N=0
declare -gA QM_PID=() QM_NPID=() QM_CONSOLE=()

qm_init() {
	local h
	command -v "$QM_QEMU" >/dev/null ||
		{ echo "skip: $QM_QEMU not installed (make deps installs qemu-system-x86)"; exit 77; }
	[ -x "$QM_NMQEMU" ] || fail "$QM_NMQEMU not built"
	QM_D=$TB_DIR/qemu
	mkdir -p "$QM_D"
	for h in a b; do
		cat >"$QM_D/ifup-$h" <<EOF
#!/bin/sh
ip link set "\$1" up &&
exec ovs-vsctl --db=unix:$TB_DIR/host$h/db.sock --timeout=20 add-port br-int "\$1"
EOF
		chmod +x "$QM_D/ifup-$h"
	done
	if [ "${1:-}" = guest ]; then
		QM_GUEST=$("$QM_ROOT/tests/guest/build.sh" "$QM_ROOT/build/guest/udp-reflect") ||
			fail "building the test guest failed"
	fi
}

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

qm_start() {
	local h=$1 ns extra=() gw
	ns=$(tb__host_ns "$h")
	rm -f "$QM_D/$h-nm.sock" "$QM_D/$h-test.sock"
	[ "${2:-}" = incoming ] && extra+=(-incoming "unix:$QM_D/mig-$h.sock")
	if [ -n "$QM_GUEST" ]; then
		QM_N=$((QM_N + 1))
		QM_CONSOLE[$h]=$QM_D/console-$h-$QM_N.log
		gw=$TB_ROUTER_IP
		# Single-threaded TCG: QEMU 7.2's multi-threaded TCG crashes guests after some
		# migrations (FIELD-NOTES); the guest's own log level is left as it is.
		extra+=(-kernel "$QM_GUEST/vmlinuz" -initrd "$QM_GUEST/initrd.gz"
			-append "console=ttyS0 panic=-1 ipv6.disable=1 nm_ip=$QM_IP/24 nm_gw=$gw"
			-serial "file:${QM_CONSOLE[$h]}" -no-reboot)
	fi
	ip netns exec "$ns" "$QM_QEMU" -M pc -accel tcg,thread=single -m "${QM_RAM:-256}" \
		-nodefaults -display none \
		-netdev "tap,id=n0,ifname=$QM_TAP,script=$QM_D/ifup-$h,downscript=no${QM_VHOST:+,vhost=on}" \
		-device "virtio-net-pci,netdev=n0,mac=$QM_MAC${QM_RXQ:+,rx_queue_size=$QM_RXQ}" \
		-qmp "unix:$QM_D/$h-nm.sock,server=on,wait=off" \
		-qmp "unix:$QM_D/$h-test.sock,server=on,wait=off" "${extra[@]}" \
		>"$QM_D/qemu-$h.log" 2>&1 &
	QM_PID[$h]=$!
	T_PIDS+=("${QM_PID[$h]}")
	for _ in $(seq 250); do
		[ -S "$QM_D/$h-test.sock" ] && return 0
		kill -0 "${QM_PID[$h]}" 2>/dev/null || fail "QEMU on $h died: $(cat "$QM_D/qemu-$h.log")"
		sleep 0.02
	done
	fail "QEMU on $h: no QMP socket"
}

qm_nmqemu() {
	local h=$1 to=$2
	shift 2
	NETMOVE_SOCKET=$(ag_sock "$h") ip netns exec "$(tb__host_ns "$h")" "$QM_NMQEMU" --qmp "$QM_D/$h-nm.sock" --ip "$QM_IP" \
		--to "host$to" "$@" >>"$QM_D/nm-qemu-$h.log" 2>&1 &
	QM_NPID[$h]=$!
	T_PIDS+=("${QM_NPID[$h]}")
}

qm_nmqemu_stop() { t_stop_in QM_NPID "$1"; }

qm_migrate() {
	local st
	qmp "$QM_D/$1-test.sock" migrate "{\"uri\":\"unix:$QM_D/mig-$2.sock\"}" >/dev/null ||
		fail "QMP migrate $1 -> $2 refused"
	for _ in $(seq 600); do
		st=$(qmp "$QM_D/$1-test.sock" query-migrate | jq -r '.status // ""')
		case $st in
		completed) return 0 ;;
		failed | cancelled) fail "QEMU migration $1 -> $2: $st" ;;
		esac
		sleep 0.05
	done
	fail "QEMU migration $1 -> $2 did not complete"
}

qm_quit() {
	local h=$1 ns
	ns=$(tb__host_ns "$h")
	qmp "$QM_D/$h-test.sock" quit >/dev/null 2>&1 || true
	wait "${QM_PID[$h]}" 2>/dev/null || true
	tb_ovs_vsctl "$h" --if-exists del-port br-int "$QM_TAP"
	for _ in $(seq 250); do
		ip -n "$ns" link show "$QM_TAP" >/dev/null 2>&1 || return 0
		sleep 0.02
	done
	fail "the old tap on host $h is still there"
}
