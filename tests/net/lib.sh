# shellcheck shell=bash
# netmove network testbed: helpers sourced by the tests under tests/net/.
#
# A testbed is five network namespaces sharing one prefix ($TB_P):
#
#   vm  eth0 ──── vmport ┐                                      ┌ eth0  router
#   52:54:00:00:00:10    │ hosta: br-int (OVS, netdev datapath)  │ 198.18.0.1/24
#   198.18.0.10/24       └─ uplink ── tor-a ┐                    │ 02:00:00:00:00:01
#                                           tor: br0 ── tor-r ───┘
#                        ┌─ uplink ── tor-b ┘ (Linux bridge, learning)
#                          hostb: br-int (OVS, netdev datapath)
#   hosta mgmt 198.19.0.1/30 ──── hostb mgmt 198.19.0.2/30
#
# Every host runs its own ovsdb-server and ovs-vswitchd; their state lives
# in $TB_DIR/hosta and $TB_DIR/hostb.  IPv6 is off in every namespace, and
# every interface is created inside a namespace, so nothing touches the
# root namespace and testbeds with different prefixes can run side by side.
#
# Functions (all return non-zero with a message on stderr on failure):
#   tb_up [--ageing SECONDS]  build a testbed (prefix: $TB_PREFIX or a fresh
#                             nmt<pid><letter>-); exports TB_P TB_DIR TB_TOR
#                             TB_ROUTER TB_HOSTA TB_HOSTB TB_VM
#   tb_use PREFIX             make an existing testbed the current one
#   tb_down [PREFIX]          tear down (default: the current one); idempotent
#   tb_trap                   tear down every testbed this shell built on
#                             EXIT, INT and TERM
#   tb_ns NAME cmd...         run cmd in namespace NAME (tor router hosta
#                             hostb vm, any case)
#   tb_ovs_vsctl a|b args...  ovs-vsctl against that host's ovsdb-server
#   tb_ovs_ofctl a|b [opts] cmd [args...]
#                             ovs-ofctl --no-names on that host's br-int
#   tb_ovs_appctl a|b args... ovs-appctl against that host's ovs-vswitchd
#   tb_vm_attach a|b          move the VM port to that host's br-int
#   tb_vm_port_add a|b DEV    attach a VM's tap to that host's br-int (clsact
#                             first, raised OVS socket buffer)
#   tb_vm_host                print the VM port's host (a or b)
#   tb_vm_detach              remove the VM port from its host's br-int
#   tb_vm_reattach            put it back on the same host
#   tb_vm_link down|up        set the VM port down/up in its host namespace
#   tb_vm_static_arp on|off   pin the VM's ARP entry for the router (see below)
#   tb_tor_port_of MAC        print the tor port the tor FDB has for MAC
#   tb_wait_ping NAME IP [S]  ping from NAME until IP answers (max S=5 s)
#   tb_ovs_pids [PREFIX]      print the PIDs of the testbed's OVS daemons
#
# Environment: TB_PREFIX (prefix for the next tb_up), TB_STATE_ROOT (default
# /run/netmove-tb), TB_OVS_TSO=0 (turn off OVS userspace-tso-enable, which is
# on by default because TCP across the netdev datapath needs it: see
# tb__host_up).
#
# OVS behaviour worth knowing when writing tests:
# - After the VM moves back to a host whose OVS had learned the VM MAC on its
#   uplink, the first frame towards the VM can be dropped: the datapath still
#   holds a megaflow "to VM MAC: drop (output = in_port)" until the revalidator
#   runs after the VM's first frame re-learns the MAC.  Ping with retries
#   (tb_wait_ping), or announce first.
# - Moving or downing vmport flaps the carrier of the VM's eth0, which makes
#   the VM flush its ARP cache (see tb_vm_static_arp).

TB_STATE_ROOT=${TB_STATE_ROOT:-/run/netmove-tb}
TB_VM_MAC=52:54:00:00:00:10
TB_VM_IP=198.18.0.10
TB_ROUTER_MAC=02:00:00:00:00:01
TB_ROUTER_IP=198.18.0.1
TB_HOSTA_MGMT_IP=198.19.0.1
TB_HOSTB_MGMT_IP=198.19.0.2
TB_OVS_SCHEMA=${TB_OVS_SCHEMA:-/usr/share/openvswitch/vswitch.ovsschema}
# Prefixes of the testbeds this shell built (torn down by tb_trap).
TB_ALL=${TB_ALL:-}
# Background jobs (children of this shell) that tb_trap's handler waits for
# before tearing down, e.g. a tb_up running in a background subshell.
TB_WAIT_PIDS=${TB_WAIT_PIDS:-}

tb__err() {
	echo "testbed: $*" >&2
}

# Namespace names of a prefix.
tb__ns_names() {
	local p=$1
	echo "${p}tor ${p}router ${p}hosta ${p}hostb ${p}vm"
}

# Host letter (a|b) → namespace name; fails on anything else.
tb__host_ns() {
	case "$1" in
	a) echo "$TB_HOSTA" ;;
	b) echo "$TB_HOSTB" ;;
	*)
		tb__err "host must be a or b, not '$1'"
		return 1
		;;
	esac
}

tb__need_current() {
	if [ -z "${TB_P:-}" ] || [ ! -d "${TB_DIR:-/nonexistent}" ]; then
		tb__err "no current testbed (run tb_up or tb_use PREFIX first)"
		return 1
	fi
}

tb__valid_prefix() {
	case "$1" in
	'' | *[!A-Za-z0-9_.-]* | .*)
		tb__err "invalid prefix '$1' (letters, digits, '_', '.', '-'; no leading '.')"
		return 1
		;;
	esac
	if [ "${#1}" -gt 32 ]; then
		tb__err "prefix '$1' is longer than 32 characters"
		return 1
	fi
}

# Run a command; on failure report it with its stderr and fail.
tb__x() {
	local out
	if ! out=$("$@" 2>&1); then
		tb__err "failed: $*${out:+: $out}"
		return 1
	fi
	[ -z "$out" ] || printf '%s\n' "$out"
}

tb_ns() {
	if [ $# -lt 2 ]; then
		tb__err "usage: tb_ns NAME cmd..."
		return 2
	fi
	local ns
	ns=$(tb__ns_of "$1") || return
	shift
	ip netns exec "$ns" "$@"
}

# Namespace name of tor|router|hosta|hostb|vm (any case) in the current testbed.
tb__ns_of() {
	tb__need_current || return
	case "${1,,}" in
	tor) echo "$TB_TOR" ;;
	router) echo "$TB_ROUTER" ;;
	hosta) echo "$TB_HOSTA" ;;
	hostb) echo "$TB_HOSTB" ;;
	vm) echo "$TB_VM" ;;
	*)
		tb__err "unknown namespace '$1' (tor router hosta hostb vm)"
		return 2
		;;
	esac
}

# Make PREFIX the current testbed (loads $TB_STATE_ROOT/PREFIX/env).
tb_use() {
	local p=${1:-} dir
	tb__valid_prefix "$p" || return
	dir=$TB_STATE_ROOT/$p
	if [ ! -f "$dir/env" ]; then
		tb__err "no testbed with prefix '$p' ($dir/env missing)"
		return 1
	fi
	# shellcheck disable=SC1091
	. "$dir/env" || return
	export TB_P TB_DIR TB_TOR TB_ROUTER TB_HOSTA TB_HOSTB TB_VM
}

# Claim a prefix by creating its state directory (mkdir is atomic, so two
# concurrent tb_up calls never get the same prefix).  Prints the prefix.
tb__claim_prefix() {
	local p l
	mkdir -p "$TB_STATE_ROOT" || return
	if [ -n "${TB_PREFIX:-}" ]; then
		tb__valid_prefix "$TB_PREFIX" || return
		p=$TB_PREFIX
		for l in $(tb__ns_names "$p"); do
			if [ -e "/run/netns/$l" ]; then
				tb__err "prefix '$p' is in use: namespace $l exists"
				return 1
			fi
		done
		if ! mkdir "$TB_STATE_ROOT/$p" 2>/dev/null; then
			tb__err "prefix '$p' is in use: $TB_STATE_ROOT/$p exists"
			return 1
		fi
		echo "$p"
		return 0
	fi
	for l in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
		p=nmt$$$l-
		[ -e "/run/netns/${p}tor" ] && continue
		if mkdir "$TB_STATE_ROOT/$p" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	tb__err "no free prefix nmt$$?- left"
	return 1
}

# Raise net.core.rmem_default (global, not per namespace) to TB_RMEM bytes
# under a lock shared by concurrent testbeds; tb__rmem_restore puts the old
# value back and releases the lock.
TB_RMEM=${TB_RMEM:-8388608}
tb__rmem_raise() {
	exec {TB_RMEM_FD}>"$TB_STATE_ROOT/.rmem.lock" || return
	flock "$TB_RMEM_FD" || return
	TB_RMEM_OLD=$(sysctl -n net.core.rmem_default) || return
	[ "$TB_RMEM_OLD" -ge "$TB_RMEM" ] || sysctl -qw net.core.rmem_default="$TB_RMEM"
}

tb__rmem_restore() {
	[ -n "${TB_RMEM_OLD:-}" ] && sysctl -qw net.core.rmem_default="$TB_RMEM_OLD"
	exec {TB_RMEM_FD}>&-
	TB_RMEM_OLD=
}

# tb_vm_port_add a|b DEV: attach a VM's port (a tap) to that host's br-int as
# a hypervisor does: its clsact qdisc first (adding one to a port that carries
# traffic briefly deactivates it, see netmoved(8)), then the OVS port, whose
# AF_PACKET socket gets the raised receive buffer for the bursts a replay or a
# resumed guest sends.
tb_vm_port_add() {
	local h=$1 dev=$2 ns ret
	ns=$(tb__host_ns "$h") || return
	# A netmoved running here may have given the new tap its clsact already.
	if ! tc -n "$ns" qdisc add dev "$dev" clsact 2>/dev/null; then
		tc -n "$ns" qdisc show dev "$dev" | grep -q clsact ||
			tb__x tc -n "$ns" qdisc add dev "$dev" clsact || return
	fi
	tb__rmem_raise || return
	tb__x tb_ovs_vsctl "$h" add-port br-int "$dev"
	ret=$?
	tb__rmem_restore
	return $ret
}

# One host: its namespace exists; start its OVS pair and build br-int.
tb__host_up() {
	local h=$1 ns=$2 d=$TB_DIR/host$1 pid
	mkdir -p "$d" || return
	export OVS_RUNDIR=$d OVS_DBDIR=$d OVS_LOGDIR=$d OVS_SYSCONFDIR=$d
	tb__x ovsdb-tool create "$d/conf.db" "$TB_OVS_SCHEMA" || return
	tb__x ovsdb-server "$d/conf.db" </dev/null --remote="punix:$d/db.sock" \
		--unixctl="$d/ovsdb-server.ctl" --pidfile="$d/ovsdb-server.pid" \
		-vconsole:off --log-file="$d/ovsdb-server.log" --detach || return
	pid=$(cat "$d/ovsdb-server.pid") || return
	echo "ovsdb-server $pid" >>"$d/pids"
	# userspace-tso-enable makes OVS carry the kernel's checksum-offload
	# metadata (virtio-net header) across its AF_PACKET ports; without it
	# every TCP segment leaves OVS with a partial checksum and is dropped
	# by the receiver (ping works, TCP does not).  TB_OVS_TSO=0 turns it off.
	tb__x ovs-vsctl --db="unix:$d/db.sock" --no-wait init \
		-- set Open_vSwitch . \
		other_config:userspace-tso-enable="$([ "${TB_OVS_TSO:-1}" = 0 ] && echo false || echo true)" ||
		return
	tb__x ip netns exec "$ns" ovs-vswitchd "unix:$d/db.sock" </dev/null \
		--unixctl="$d/ovs-vswitchd.ctl" --pidfile="$d/ovs-vswitchd.pid" \
		-vconsole:off --log-file="$d/ovs-vswitchd.log" --detach || return
	pid=$(cat "$d/ovs-vswitchd.pid") || return
	echo "ovs-vswitchd $pid" >>"$d/pids"
	local ports=(-- add-port br-int uplink) ret
	[ "$h" = a ] && ports+=(-- add-port br-int vmport)
	# Without --no-wait ovs-vsctl returns once ovs-vswitchd applied it.  The
	# AF_PACKET sockets the netdev datapath opens for these ports take their
	# receive buffer from the global net.core.rmem_default: the default 208 KiB
	# overflows at 50 kpps, so raise it just while the ports are added.
	tb__rmem_raise || return
	tb__x ovs-vsctl --db="unix:$d/db.sock" --timeout=20 \
		-- add-br br-int \
		-- set Bridge br-int datapath_type=netdev fail_mode=standalone \
		"${ports[@]}"
	ret=$?
	tb__rmem_restore
	[ $ret -eq 0 ] || return $ret
	tb__ovs_port_ok "$h" uplink || return
	[ "$h" = b ] || tb__ovs_port_ok "$h" vmport
}

# Check that ovs-vswitchd has a working OpenFlow port for an interface.
tb__ovs_port_ok() {
	local h=$1 port=$2 ofport err
	ofport=$(tb_ovs_vsctl "$h" get Interface "$port" ofport 2>&1) || {
		tb__err "host $h: $port: $ofport"
		return 1
	}
	if ! [ "$ofport" -gt 0 ] 2>/dev/null; then
		err=$(tb_ovs_vsctl "$h" get Interface "$port" error 2>/dev/null)
		tb__err "host $h: OVS has no port for $port (ofport=$ofport error=$err)"
		return 1
	fi
}

tb__build() {
	local ageing=$1 ns port pids=() pid rc=0
	for ns in $(tb__ns_names "$TB_P"); do
		tb__x ip netns add "$ns" || return
		# IPv6 off before any link exists (no DAD/RS/MLD frames anywhere).
		# shellcheck disable=SC2016
		tb__x ip netns exec "$ns" sh -c '
			for f in all default lo; do
				echo 1 >/proc/sys/net/ipv6/conf/$f/disable_ipv6 || exit 1
			done' || return
		tb__x ip -n "$ns" link set lo up || return
	done

	# tor: the learning bridge (ageing_time is in centiseconds).
	tb__x ip -n "$TB_TOR" link add br0 type bridge stp_state 0 \
		ageing_time $((ageing * 100)) || return
	tb__x ip -n "$TB_TOR" link add tor-r type veth peer name eth0 netns "$TB_ROUTER" || return
	tb__x ip -n "$TB_TOR" link add tor-a type veth peer name uplink netns "$TB_HOSTA" || return
	tb__x ip -n "$TB_TOR" link add tor-b type veth peer name uplink netns "$TB_HOSTB" || return
	for port in tor-r tor-a tor-b; do
		tb__x ip -n "$TB_TOR" link set "$port" master br0 up || return
	done
	tb__x ip -n "$TB_TOR" link set br0 up || return

	# router
	tb__x ip -n "$TB_ROUTER" link set eth0 address "$TB_ROUTER_MAC" up || return
	tb__x ip -n "$TB_ROUTER" addr add "$TB_ROUTER_IP/24" dev eth0 || return

	# vm, its port starts on hosta
	tb__x ip -n "$TB_VM" link add eth0 address "$TB_VM_MAC" type veth \
		peer name vmport netns "$TB_HOSTA" || return
	tb__x ip -n "$TB_VM" link set eth0 up || return
	tb__x ip -n "$TB_VM" addr add "$TB_VM_IP/24" dev eth0 || return
	tb__x ip -n "$TB_VM" route add default via "$TB_ROUTER_IP" || return

	# hosts: uplinks, management link
	tb__x ip -n "$TB_HOSTA" link set uplink up || return
	tb__x ip -n "$TB_HOSTB" link set uplink up || return
	tb__x ip -n "$TB_HOSTA" link set vmport up || return
	tb__x ip -n "$TB_HOSTA" link add mgmt type veth peer name mgmt netns "$TB_HOSTB" || return
	tb__x ip -n "$TB_HOSTA" addr add "$TB_HOSTA_MGMT_IP/30" dev mgmt || return
	tb__x ip -n "$TB_HOSTB" addr add "$TB_HOSTB_MGMT_IP/30" dev mgmt || return
	tb__x ip -n "$TB_HOSTA" link set mgmt up || return
	tb__x ip -n "$TB_HOSTB" link set mgmt up || return

	# OVS on both hosts in parallel (most of the bring-up time).
	tb__host_up a "$TB_HOSTA" &
	pids+=($!)
	tb__host_up b "$TB_HOSTB" &
	pids+=($!)
	# If a signal lands meanwhile, tb_trap's handler waits for these first.
	TB_WAIT_PIDS="$TB_WAIT_PIDS ${pids[*]}"
	for pid in "${pids[@]}"; do
		wait "$pid" || rc=1
	done
	TB_WAIT_PIDS=
	[ "$rc" -eq 0 ] || return 1
	echo a >"$TB_DIR/vm_host"

	tb__wait_ping "$TB_ROUTER" "$TB_VM_IP" 5 || {
		tb__err "router cannot ping the VM ($TB_VM_IP) via hosta after 5 s"
		return 1
	}
}

# tb_wait_ping NAME IP [SECONDS]: ping -c1 -W1 from namespace NAME (tor
# router hosta hostb vm) until it answers or SECONDS (default 5) pass.
tb_wait_ping() {
	local ns
	if [ $# -lt 2 ]; then
		tb__err "usage: tb_wait_ping NAME IP [SECONDS]"
		return 2
	fi
	ns=$(tb__ns_of "$1") || return
	tb__wait_ping "$ns" "$2" "${3:-5}"
}

# tb__wait_ping NS IP SECONDS: bounded retry of ping -c1 -W1 from NS.
tb__wait_ping() {
	local ns=$1 ip=$2 secs=$3 end
	end=$((SECONDS + secs))
	while :; do
		ip netns exec "$ns" ping -n -q -c1 -W1 "$ip" >/dev/null 2>&1 && return 0
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.1
	done
}

tb_up() {
	local ageing=300 p
	while [ $# -gt 0 ]; do
		case "$1" in
		--ageing)
			ageing=${2:-}
			shift 2 || { tb__err "tb_up: --ageing needs a value"; return 2; }
			;;
		--ageing=*)
			ageing=${1#--ageing=}
			shift
			;;
		*)
			tb__err "tb_up: unknown argument '$1' (usage: tb_up [--ageing SECONDS])"
			return 2
			;;
		esac
	done
	if ! [[ "$ageing" =~ ^[0-9]+$ ]] || [ "$ageing" -gt 1000000 ]; then
		tb__err "tb_up: --ageing takes whole seconds, not '$ageing'"
		return 2
	fi
	if [ "$(id -u)" -ne 0 ]; then
		tb__err "tb_up: needs root"
		return 1
	fi
	local c
	for c in ip bridge ping ovsdb-tool ovsdb-server ovs-vswitchd ovs-vsctl ovs-ofctl ovs-appctl; do
		command -v "$c" >/dev/null || { tb__err "tb_up: $c not found"; return 1; }
	done
	[ -f "$TB_OVS_SCHEMA" ] || { tb__err "tb_up: $TB_OVS_SCHEMA missing"; return 1; }

	local prev=${TB_P:-}
	p=$(tb__claim_prefix) || return
	TB_P=$p
	TB_DIR=$TB_STATE_ROOT/$p
	TB_TOR=${p}tor
	TB_ROUTER=${p}router
	TB_HOSTA=${p}hosta
	TB_HOSTB=${p}hostb
	TB_VM=${p}vm
	export TB_P TB_DIR TB_TOR TB_ROUTER TB_HOSTA TB_HOSTB TB_VM
	case " $TB_ALL " in *" $p "*) ;; *) TB_ALL="$TB_ALL $p" ;; esac
	cat >"$TB_DIR/env" <<-EOF
		TB_P=$TB_P
		TB_DIR=$TB_DIR
		TB_TOR=$TB_TOR
		TB_ROUTER=$TB_ROUTER
		TB_HOSTA=$TB_HOSTA
		TB_HOSTB=$TB_HOSTB
		TB_VM=$TB_VM
		TB_AGEING=$ageing
	EOF
	if ! tb__build "$ageing"; then
		tb__err "tb_up: bring-up of testbed '$p' failed; tearing it down"
		tb_down "$p"
		if [ -n "$prev" ] && [ -f "$TB_STATE_ROOT/$prev/env" ]; then
			tb_use "$prev"
		fi
		return 1
	fi
}

# PIDs of a testbed's OVS daemons: the recorded ones plus any pidfile a
# daemon wrote before its PID was recorded.
tb_ovs_pids() {
	local p=${1:-${TB_P:-}} dir f
	tb__valid_prefix "$p" || return
	dir=$TB_STATE_ROOT/$p
	{
		for f in "$dir"/host?/pids; do
			[ -f "$f" ] && awk '{print $2}' "$f"
		done
		for f in "$dir"/host?/*.pid; do
			[ -f "$f" ] && cat "$f"
		done
	} 2>/dev/null | awk '/^[0-9]+$/' | sort -un
	return 0
}

# True if PID is a live (non-zombie) OVS daemon of the state dir DIR.
tb__our_daemon() {
	local pid=$1 dir=$2 comm state cmd
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	case "$comm" in ovsdb-server | ovs-vswitchd) ;; *) return 1 ;; esac
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
	[ "$state" != Z ] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
	case "$cmd" in *"$dir/"*) return 0 ;; esac
	return 1
}

# Start time (clock ticks since boot) of PID if it is running and not a
# zombie; empty otherwise.
tb__start_time() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	rest=${stat##*) }
	set -- $rest
	case "$1" in Z | X | x) return 0 ;; esac
	echo "${20}"
}

tb_down() {
	local p=${1:-${TB_P:-}} dir pid ns live
	if [ -z "$p" ]; then
		return 0
	fi
	tb__valid_prefix "$p" || return
	dir=$TB_STATE_ROOT/$p
	# Daemons first (ovs-vswitchd keeps its namespace alive), by PID only,
	# and only if the PID still is one of this testbed's daemons.
	# A signalled daemon counts as gone only once it is a zombie or reaped:
	# an exiting process drops its cmdline (exit_mm) well before that, so
	# tb__our_daemon would call it gone too early. Its start time guards
	# against a recycled PID.
	live=()
	local -A born=()
	for pid in $(tb_ovs_pids "$p"); do
		if tb__our_daemon "$pid" "$dir"; then
			born[$pid]=$(tb__start_time "$pid")
			[ -n "${born[$pid]}" ] && kill -TERM "$pid" 2>/dev/null &&
				live+=("$pid")
		fi
	done
	local round
	for round in $(seq 100); do
		[ ${#live[@]} -gt 0 ] || break
		local still=()
		for pid in "${live[@]}"; do
			[ "$(tb__start_time "$pid")" = "${born[$pid]}" ] && still+=("$pid")
		done
		live=("${still[@]}")
		if [ ${#live[@]} -gt 0 ] && [ "$round" = 50 ]; then
			for pid in "${live[@]}"; do
				tb__err "tb_down: PID $pid ignored SIGTERM; sending SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
			done
		fi
		[ ${#live[@]} -gt 0 ] && sleep 0.05
	done
	for pid in "${live[@]}"; do
		tb__err "tb_down: PID $pid still running after SIGKILL"
	done
	for ns in $(tb__ns_names "$p"); do
		if [ -e "/run/netns/$ns" ]; then
			ip netns del "$ns" 2>/dev/null ||
				tb__err "tb_down: could not delete namespace $ns"
		fi
	done
	rm -rf "$dir"
	local rest="" q
	for q in $TB_ALL; do
		[ "$q" = "$p" ] || rest="$rest $q"
	done
	TB_ALL=$rest
	if [ "${TB_P:-}" = "$p" ]; then
		unset TB_P TB_DIR TB_TOR TB_ROUTER TB_HOSTA TB_HOSTB TB_VM
	fi
	return 0
}

tb__down_all() {
	local p pid
	for pid in $TB_WAIT_PIDS; do
		wait "$pid" 2>/dev/null || true
	done
	TB_WAIT_PIDS=
	for p in $TB_ALL; do
		tb_down "$p"
	done
}

tb_trap() {
	trap 'tb__down_all' EXIT
	trap 'tb__down_all; trap - EXIT; exit 130' INT
	trap 'tb__down_all; trap - EXIT; exit 143' TERM
}

tb_ovs_vsctl() {
	local h=${1:-}
	shift || true
	tb__need_current || return
	tb__host_ns "$h" >/dev/null || return
	ovs-vsctl --db="unix:$TB_DIR/host$h/db.sock" --timeout=20 "$@"
}

tb_ovs_appctl() {
	local h=${1:-}
	shift || true
	tb__need_current || return
	tb__host_ns "$h" >/dev/null || return
	ovs-appctl -t "$TB_DIR/host$h/ovs-vswitchd.ctl" --timeout=20 "$@"
}

# tb_ovs_ofctl HOST [options] COMMAND [args...]: the bridge target is put
# right after COMMAND, so e.g. `tb_ovs_ofctl a dump-flows` or
# `tb_ovs_ofctl b -O OpenFlow14 --bundle add-flows file`.
tb_ovs_ofctl() {
	local h=${1:-} opts=() cmd
	shift || true
	tb__need_current || return
	tb__host_ns "$h" >/dev/null || return
	while [ $# -gt 0 ]; do
		case "$1" in
		-O | --protocols | -t | --timeout | --sort | --rsort)
			# options that take a separate value (--sort/--rsort only
			# when followed by a field; they are rare: pass --sort=F)
			case "$1" in
			--sort | --rsort) opts+=("$1") ;;
			*)
				opts+=("$1" "${2:-}")
				shift
				;;
			esac
			shift
			;;
		-*)
			opts+=("$1")
			shift
			;;
		*) break ;;
		esac
	done
	if [ $# -eq 0 ]; then
		tb__err "usage: tb_ovs_ofctl a|b [options] COMMAND [args...]"
		return 2
	fi
	cmd=$1
	shift
	ovs-ofctl --no-names "${opts[@]}" "$cmd" "unix:$TB_DIR/host$h/br-int.mgmt" "$@"
}

tb_vm_host() {
	tb__need_current || return
	cat "$TB_DIR/vm_host"
}

# tb_vm_attach a|b: move vmport to that host's br-int.  The port is removed
# from the old host's OVS before the device leaves (the netdev datapath never
# recovers a port whose device went away while configured).
tb_vm_attach() {
	local to=${1:-} from from_ns to_ns
	tb__need_current || return
	to_ns=$(tb__host_ns "$to") || return
	from=$(tb_vm_host) || return
	from_ns=$(tb__host_ns "$from") || return
	if [ "$from" != "$to" ]; then
		tb__x tb_ovs_vsctl "$from" --if-exists del-port br-int vmport || return
		tb__x ip -n "$from_ns" link set vmport netns "$to_ns" || return
		echo "$to" >"$TB_DIR/vm_host"
	fi
	rm -f "$TB_DIR/vm_detached"
	tb__x ip -n "$to_ns" link set vmport up || return
	tb__x tb_ovs_vsctl "$to" --may-exist add-port br-int vmport || return
	tb__ovs_port_ok "$to" vmport
}

tb_vm_detach() {
	local h
	tb__need_current || return
	h=$(tb_vm_host) || return
	tb__x tb_ovs_vsctl "$h" --if-exists del-port br-int vmport || return
	touch "$TB_DIR/vm_detached"
}

tb_vm_reattach() {
	local h
	tb__need_current || return
	h=$(tb_vm_host) || return
	tb_vm_attach "$h"
}

tb_vm_link() {
	local h ns
	case "${1:-}" in
	up | down) ;;
	*)
		tb__err "usage: tb_vm_link down|up"
		return 2
		;;
	esac
	tb__need_current || return
	h=$(tb_vm_host) || return
	ns=$(tb__host_ns "$h") || return
	tb__x ip -n "$ns" link set vmport "$1"
}

# tb_vm_static_arp on|off: pin (or unpin) the VM's ARP entry for the router.
# Moving or downing vmport flaps the carrier of the VM's eth0 (a real virtio
# guest sees no such flap), and on carrier loss Linux flushes the VM's ARP
# cache: the VM's next packet is then an ARP broadcast, a hidden location
# announcement.  A permanent entry survives the flap.
tb_vm_static_arp() {
	tb__need_current || return
	case "${1:-}" in
	on)
		tb__x ip -n "$TB_VM" neigh replace "$TB_ROUTER_IP" \
			lladdr "$TB_ROUTER_MAC" nud permanent dev eth0
		;;
	off)
		tb__x ip -n "$TB_VM" neigh flush to "$TB_ROUTER_IP" dev eth0 nud permanent
		;;
	*)
		tb__err "usage: tb_vm_static_arp on|off"
		return 2
		;;
	esac
}

# tb_tor_port_of MAC: the tor port the bridge FDB holds MAC on (empty if none).
tb_tor_port_of() {
	local mac=${1:-}
	mac=${mac,,}
	if [ -z "$mac" ]; then
		tb__err "usage: tb_tor_port_of MAC"
		return 2
	fi
	tb__need_current || return
	bridge -n "$TB_TOR" fdb show br br0 |
		awk -v m="$mac" '
			!found && tolower($1) == m && $2 == "dev" && !/ self( |$)/ {
				print $3; found = 1
			}'
}
