# shellcheck shell=bash
# VM stand-ins (nm-vmstub) on the namespace testbed.  Source after lib.sh.
#
# A stand-in NAME is a guest namespace ${TB_P}NAME (a real Linux stack behind
# a tap eth0) plus an nm-vmstub process that forwards its frames to a host tap
# vnet-NAME on host a or b, attached to that host's br-int.  It can be paused
# and migrated to the other host with the same MAC, IP and guest state.
#
# Functions (non-zero with a message on stderr on failure):
#   vs_start NAME a|b --mac MAC --ip IP/PREFIX [nm-vmstub options...]
#                        start it (NAME: 1-10 of [a-z0-9]; --gw defaults to
#                        the router); waits for "ready" and the OVS port
#   vs_ctl NAME CMD [ARG...]
#                        send one control command, print the JSON reply;
#                        fails if the reply is not ok
#   vs_prepare NAME a|b  create NAME's destination tap on that host and
#                        attach it to its br-int (before a relocation)
#   vs_migrate NAME [--early]
#                        pause, prepare vnet-NAME on the other host, add it
#                        to that br-int, resume dst, del-port + release src;
#                        --early prepares and attaches before the pause (as
#                        QEMU -incoming does).  Prints one line with the
#                        pause->resume time; the last replies are kept in
#                        $VS_LAST_PAUSE / $VS_LAST_RESUME
#   vs_host NAME         print the host (a|b) its active tap is on
#   vs_ns NAME           print its guest namespace
#   vs_stop NAME         del-port, stop the process (by PID), delete the
#                        guest namespace
#   vs_stop_all          vs_stop every stand-in this shell started; chain it
#                        in front of the testbed teardown, e.g.
#                          trap 'vs_stop_all; t_cleanup; tb__down_all' EXIT
#                        (vs_trap installs exactly that)
#
# vs_start, vs_migrate and vs_stop keep their records in this shell: call
# them directly, never inside $(...) or a pipeline.
#
# Environment: VMSTUB (binary, default build/nm-vmstub of this tree).
# State lives in $TB_DIR/vmstub/ (log NAME.log, ctl socket NAME.sock).

VMSTUB=${VMSTUB:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/nm-vmstub}
# NAME -> PID, guest namespace, host letter, state dir (kept in the shell so
# vs_stop_all works even after $TB_DIR is gone).
declare -gA VS_PID=() VS_GNS=() VS_HOST=() VS_DIR=() VS_OVSDB=()
# shellcheck disable=SC2034 # results for the caller
VS_LAST_PAUSE=
# shellcheck disable=SC2034
VS_LAST_RESUME=

vs__err() {
	echo "vmstub: $*" >&2
}

vs__known() {
	if [ -z "${VS_PID[$1]:-}" ]; then
		vs__err "no stand-in named '${1:-}'"
		return 1
	fi
}

vs__tap() {
	echo "vnet-$1"
}

# True if PID is still our nm-vmstub (not a recycled PID).
vs__alive() {
	local comm
	comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
	[ "$comm" = nm-vmstub ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

vs_start() {
	local name=${1:-} h=${2:-} hns dir tap pid i gw=yes a
	if [ $# -lt 2 ]; then
		vs__err "usage: vs_start NAME a|b --mac MAC --ip IP/PREFIX [options...]"
		return 2
	fi
	shift 2
	if ! [[ "$name" =~ ^[a-z0-9]{1,10}$ ]]; then
		vs__err "vs_start: NAME must be 1-10 of [a-z0-9], not '$name'"
		return 2
	fi
	case "$name" in
	tor | router | hosta | hostb | vm)
		vs__err "vs_start: '$name' is a testbed namespace name"
		return 2
		;;
	esac
	tb__need_current || return
	hns=$(tb__host_ns "$h") || return
	if [ -n "${VS_PID[$name]:-}" ]; then
		vs__err "vs_start: '$name' is already running"
		return 1
	fi
	[ -x "$VMSTUB" ] || { vs__err "vs_start: $VMSTUB not built"; return 1; }
	for a in "$@"; do
		case "$a" in --gw | --gw=*) gw= ;; esac
	done
	dir=$TB_DIR/vmstub
	tap=$(vs__tap "$name")
	mkdir -p "$dir" || return
	tb__x ip netns add "${TB_P}$name" || return
	VS_GNS[$name]=${TB_P}$name
	VS_DIR[$name]=$dir
	VS_HOST[$name]=$h
	VS_OVSDB[$name]=$TB_DIR
	# VS_PRIO: a command prefix to run the stand-in with (e.g. chrt/nice).
	${VS_PRIO:-} "$VMSTUB" --guest-ns "${TB_P}$name" --host-ns "$hns" --tap "$tap" \
		--ctl "$dir/$name.sock" --pidfile "$dir/$name.pid" \
		${gw:+--gw "$TB_ROUTER_IP"} "$@" </dev/null >"$dir/$name.log" 2>&1 &
	pid=$!
	VS_PID[$name]=$pid
	for ((i = 0; i < 250; i++)); do
		grep -q '^ready' "$dir/$name.log" 2>/dev/null && break
		if ! kill -0 "$pid" 2>/dev/null; then
			vs__err "vs_start: nm-vmstub $name exited: $(tail -3 "$dir/$name.log")"
			vs_stop "$name"
			return 1
		fi
		sleep 0.02
	done
	if ! grep -q '^ready' "$dir/$name.log"; then
		vs__err "vs_start: nm-vmstub $name not ready after 5 s"
		vs_stop "$name"
		return 1
	fi
	echo "$h" >"$dir/$name.host"
	if ! tb_vm_port_add "$h" "$tap" || ! tb__ovs_port_ok "$h" "$tap"; then
		vs_stop "$name"
		return 1
	fi
}

vs_ns() {
	vs__known "${1:-}" || return
	echo "${VS_GNS[$1]}"
}

vs_host() {
	vs__known "${1:-}" || return
	echo "${VS_HOST[$1]}"
}

vs_ctl() {
	local name=${1:-}
	if [ $# -lt 2 ]; then
		vs__err "usage: vs_ctl NAME CMD [ARG...]"
		return 2
	fi
	vs__known "$name" || return
	shift
	"$VMSTUB" ctl "${VS_DIR[$name]}/$name.sock" "$@"
}

# vs__jnum JSON KEY: a top-level number of a one-line JSON reply.
vs__jnum() {
	jq -r ".$2" <<<"$1"
}

# vs_prepare NAME a|b: the destination tap of NAME on that host, attached to
# its br-int (QEMU -incoming creating its tap).
vs_prepare() {
	local name=$1 h=$2 ns
	ns=$(tb__host_ns "$h") || return
	vs_ctl "$name" prepare "$ns" "$(vs__tap "$name")" >/dev/null || return
	tb_vm_port_add "$h" "$(vs__tap "$name")"
}

vs_migrate() {
	local name=${1:-} early=0 from to tap pause resume paused hook
	vs__known "$name" || return
	[ "${2:-}" = --early ] && early=1
	from=${VS_HOST[$name]}
	case "$from" in a) to=b ;; *) to=a ;; esac
	tap=$(vs__tap "$name")
	if [ "$early" = 1 ]; then
		vs_prepare "$name" "$to" || return
	fi
	pause=$(vs_ctl "$name" pause) || { vs__err "vs_migrate: pause: $pause"; return 1; }
	# shellcheck disable=SC2034
	VS_LAST_PAUSE=$pause
	if [ "$early" = 0 ]; then
		vs_prepare "$name" "$to" || return
	fi
	resume=$(vs_ctl "$name" resume dst) || { vs__err "vs_migrate: resume: $resume"; return 1; }
	# shellcheck disable=SC2034
	VS_LAST_RESUME=$resume
	VS_HOST[$name]=$to
	echo "$to" >"${VS_DIR[$name]}/$name.host"
	tb__x tb_ovs_vsctl "$from" --if-exists del-port br-int "$tap" || return
	vs_ctl "$name" release src >/dev/null || return
	paused=$(($(vs__jnum "$resume" resume_us) - $(vs__jnum "$pause" pause_stop_us)))
	hook=$(vs__jnum "$pause" hook_done_us)
	[ "$hook" = 0 ] || hook=$((hook - $(vs__jnum "$pause" pause_start_us)))
	printf 'vs_migrate %s: host %s -> %s: paused %d.%03d ms (pause -> resume), blackout hook %d us, drained %s frames\n' \
		"$name" "$from" "$to" $((paused / 1000)) $((paused % 1000)) "$hook" \
		"$(vs__jnum "$pause" drained_frames)"
}

vs_stop() {
	local name=${1:-} pid h db i
	vs__known "$name" || return
	pid=${VS_PID[$name]}
	h=${VS_HOST[$name]}
	db=${VS_OVSDB[$name]}/host$h/db.sock
	# The netdev datapath never recovers a port whose device vanished while
	# configured: remove the port before the tap goes away.
	[ -S "$db" ] && ovs-vsctl --db="unix:$db" --timeout=5 --if-exists \
		del-port br-int "$(vs__tap "$name")" >/dev/null 2>&1
	if vs__alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			vs__alive "$pid" || break
			sleep 0.02
		done
		if vs__alive "$pid"; then
			vs__err "vs_stop: nm-vmstub $name (PID $pid) ignored SIGTERM; SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	wait "$pid" 2>/dev/null
	if [ -e "/run/netns/${VS_GNS[$name]}" ]; then
		ip netns del "${VS_GNS[$name]}" 2>/dev/null ||
			vs__err "vs_stop: could not delete namespace ${VS_GNS[$name]}"
	fi
	unset "VS_PID[$name]" "VS_GNS[$name]" "VS_HOST[$name]" "VS_DIR[$name]" "VS_OVSDB[$name]"
	return 0
}

vs_stop_all() {
	local name
	for name in "${!VS_PID[@]}"; do
		vs_stop "$name"
	done
	return 0
}

# Install the EXIT/INT/TERM cleanup for tests that use common.sh and vmstub.sh.
vs_trap() {
	trap 'vs_stop_all; t_cleanup; tb__down_all' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}
