# shellcheck shell=bash
# Two libvirt daemons on the testbed, one per host namespace, each in its own
# mount namespace with its own config, run, state, log and cache directories
# (FIELD-NOTES, "libvirt 9.0 in namespaces").  libvirt plugs the guest's tap
# into the host's OVS with ovs-vsctl against the default database path: each
# daemon's /run/openvswitch is the host's OVS run directory.  netmove's hook
# is installed in each daemon's hooks/qemu.d/.  Source after lib.sh,
# common.sh, agents.sh and qemu.sh (qm_init guest first).
#
#   lv_init              per-host trees under $LV_D; skips (77) without libvirt
#   lv_start H           libvirtd for host H (waits for its socket)
#   lv_virsh H ARGS...   virsh against host H's daemon
#   lv_define H NAME     define the test guest NAME on host H (QM_MAC, QM_IP)
#   lv_console H NAME    the guest's serial console log on host H
#   lv_nmlibvirt H       nm-libvirt for host H (libvirt's events -> netmove)
#   lv_nmlibvirt_stop H
#   lv_hook H on|off     netmove's hook on host H runs, or exits at once
#   lv_cleanup           destroy every guest, stop the daemons (for the
#                        EXIT trap, before the testbed goes)

LV_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LV_HOOK=$LV_ROOT/build/nm-libvirt-hook
LV_NMLIBVIRT=$LV_ROOT/build/nm-libvirt
# libvirt probes QEMU's capabilities on first start (~8 s): keep them.
LV_CAPS_CACHE=${NETMOVE_CACHE:-/var/cache/netmove}/libvirt-qemu-caps
declare -gA LV_PID=() LV_NPID=()

lv_init() {
	local h d ip
	command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
		{ echo "skip: libvirt not installed (make deps installs libvirt-daemon-system)"; exit 77; }
	[ -x "$LV_HOOK" ] && [ -x "$LV_NMLIBVIRT" ] || fail "$LV_HOOK or $LV_NMLIBVIRT not built"
	LV_D=$TB_DIR/libvirt
	mkdir -p /run/libvirt /run/openvswitch /var/log/libvirt /var/cache/libvirt
	cat >"$TB_DIR/lv-reaper.py" <<'PY'
# Run a command as the child of a subreaper that reaps every orphan: libvirt
# waits for its daemonized QEMUs to be reaped, and PID 1 here reaps late.
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
def stop(sig, frame):
    # libvirtd, and whatever it left behind (QEMUs it daemonized are ours).
    me = os.getpid()
    for t in os.listdir(f"/proc/{me}/task"):
        with open(f"/proc/{me}/task/{t}/children") as f:
            for c in f.read().split():
                try:
                    os.kill(int(c), signal.SIGTERM)
                except ProcessLookupError:
                    pass
signal.signal(signal.SIGTERM, stop)
status = 0
while True:
    try:
        p, st = os.wait()
    except ChildProcessError:
        break
    except InterruptedError:
        continue
    if p == pid:
        status = os.waitstatus_to_exitcode(st)
sys.exit(status if status >= 0 else 1)
PY
	for h in a b; do
		d=$LV_D/$h
		[ "$h" = a ] && ip=$TB_HOSTA_MGMT_IP || ip=$TB_HOSTB_MGMT_IP
		mkdir -p "$d"/{run,lib,log/qemu,cache,sock}
		cp -a /etc/libvirt "$d/etc"
		cp -a /var/lib/libvirt/. "$d/lib/"
		[ -d "$LV_CAPS_CACHE" ] && cp -a "$LV_CAPS_CACHE/." "$d/cache/"
		cat >"$d/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "$ip"
auth_tcp = "none"
unix_sock_dir = "$d/sock"
host_uuid = "6e6d0000-0000-4000-8000-00000000000$([ "$h" = a ] && echo 1 || echo 2)"
log_outputs = "3:file:$d/libvirtd.log"
EOF
		cat >"$d/etc/qemu.conf" <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
cgroup_controllers = [ ]
migration_host = "$ip"
EOF
		# libvirt runs hooks with a clean environment: a wrapper names the
		# host's agent (installed, the hook uses the default socket).
		mkdir -p "$d/etc/hooks/qemu.d"
		cat >"$d/etc/hooks/qemu.d/netmove" <<EOF
#!/bin/sh
[ -e "$d/hook-off" ] && exit 0
NETMOVE_SOCKET=$(ag_sock "$h") NETMOVE_HOOK_STATE_DIR=$d/hook-state \\
NETMOVE_HOOK_LOG=$d/hook.log exec $LV_HOOK "\$@"
EOF
		chmod +x "$d/etc/hooks/qemu.d/netmove"
	done
}

lv_uri() { echo "qemu+unix:///system?socket=$LV_D/$1/sock/libvirt-sock"; }

lv_start() {
	local h=$1 d=$LV_D/$1 ns i
	ns=$(tb__host_ns "$h")
	ip netns exec "$ns" unshare -m --propagation private -- python3 "$TB_DIR/lv-reaper.py" \
		sh -c "mount --bind '$d/etc' /etc/libvirt && mount --bind '$d/run' /run/libvirt &&
			mount --bind '$d/lib' /var/lib/libvirt && mount --bind '$d/log' /var/log/libvirt &&
			mount --bind '$d/cache' /var/cache/libvirt &&
			mount --bind '$TB_DIR/host$h' /run/openvswitch &&
			exec libvirtd --listen -p '$d/libvirtd.pid' -f /etc/libvirt/libvirtd.conf" \
		>"$d/stdout.log" 2>&1 &
	LV_PID[$h]=$!
	T_PIDS+=("${LV_PID[$h]}")
	for ((i = 0; i < 1500; i++)); do
		[ -S "$d/sock/libvirt-sock" ] && virsh -q -c "$(lv_uri "$h")" version >/dev/null 2>&1 &&
			break
		kill -0 "${LV_PID[$h]}" 2>/dev/null ||
			fail "libvirtd on $h died: $(tail -n 5 "$d/stdout.log" "$d/libvirtd.log" 2>&1)"
		sleep 0.02
	done
	virsh -q -c "$(lv_uri "$h")" version >/dev/null 2>&1 || fail "libvirtd on $h did not answer"
	if [ ! -d "$LV_CAPS_CACHE" ] && [ -n "$(ls "$d/cache/qemu/capabilities" 2>/dev/null)" ]; then
		mkdir -p "$LV_CAPS_CACHE"
		cp -a "$d/cache/." "$LV_CAPS_CACHE/"
	fi
}

lv_stop() { t_stop_in LV_PID "$1"; }

lv_virsh() {
	local h=$1
	shift
	ip netns exec "$(tb__host_ns "$h")" virsh -q -c "$(lv_uri "$h")" "$@"
}

lv_console() { echo "$LV_D/$1/log/qemu/$2-console.log"; }

lv_define() {
	local h=$1 name=$2
	cat >"$LV_D/$name.xml" <<EOF
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>${QM_RAM:-256}</memory>
  <vcpu>1</vcpu>
  <metadata>
    <nm:netmove xmlns:nm='https://netmove.dev/xmlns/libvirt/1'>
      <nm:interface mac='$QM_MAC' ip='$QM_IP'/>
    </nm:netmove>
  </metadata>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$QM_GUEST/vmlinuz</kernel>
    <initrd>$QM_GUEST/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 ipv6.disable=1 nm_ip=$QM_IP/24 nm_gw=$TB_ROUTER_IP</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <mac address='$QM_MAC'/>
      <source bridge='br-int'/>
      <virtualport type='openvswitch'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/$name-console.log' append='on'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
	lv_virsh "$h" define "$LV_D/$name.xml" >/dev/null
}

lv_nmlibvirt() {
	local h=$1
	NETMOVE_SOCKET=$(ag_sock "$h") ip netns exec "$(tb__host_ns "$h")" "$LV_NMLIBVIRT" \
		--connect "$(lv_uri "$h")" >>"$LV_D/nm-libvirt-$h.log" 2>&1 &
	LV_NPID[$h]=$!
	T_PIDS+=("${LV_NPID[$h]}")
}

lv_nmlibvirt_stop() { t_stop_in LV_NPID "$1"; }

lv_hook() {
	if [ "$2" = on ]; then rm -f "$LV_D/$1/hook-off"; else touch "$LV_D/$1/hook-off"; fi
}

lv_cleanup() {
	local h d
	for h in "${!LV_NPID[@]}"; do
		lv_nmlibvirt_stop "$h"
	done
	for h in "${!LV_PID[@]}"; do
		for d in $(lv_virsh "$h" list --name 2>/dev/null); do
			lv_virsh "$h" destroy "$d" >/dev/null 2>&1
		done
		lv_stop "$h"
	done
}
