# shellcheck shell=bash
# A VM stand-in migrating between the testbed's hosts, with and without
# netmove, under a probe stream.  Sourcing this also sources lib.sh,
# common.sh, vmstub.sh and agents.sh.
#
#   mig_init               root check + cleanup of agents, stand-ins, temp
#                          files and testbeds on exit (also on failure)
#   mig_setup              testbed + agents + stand-in vm1 on host a
#   mig_move NAME HOLD_MS [--netmove|--plain]
#                          move NAME to the other host: the destination tap is
#                          prepared and attached first (QEMU -incoming), then
#                          with --netmove `netmove relocate` runs, the VM is
#                          paused (blackout hook; with MIG_LATE_MS set, it
#                          stops first and the hook runs that many ms later,
#                          as with QEMU's STOP event; MIG_KEEP=keep too: it
#                          keeps the first frame it reads after the stop, as
#                          QEMU does; MIG_KEEP=drop: it drops that one and
#                          keeps the next, as QEMU does when a frame comes
#                          while its vCPUs pause, and names the guest's last
#                          frame to the hook), held HOLD_MS, resumed on the
#                          destination (RARP + resumed hook); the source tap
#                          goes once the relocation committed.  With MIG_PULL=1
#                          the destination starts it (`relocate --pull`, as
#                          libvirt's hook does): the source port carries
#                          external_ids:attached-mac, as libvirt sets it.
#   mig_probe NAME RATE SECS HOLD_MS MODE
#                          a probe stream from the router to NAME during a
#                          mig_move after 0.5 s; results in $T_TMP/probe-MODE.json
#                          (MIG_PROBE_SIZE: datagram size, default the probe's)
#   mig_wait_commit H ID   wait for relocation ID on agent H to end (10 s)
#   mig_reach IP           the router reaches IP (fails the test if not in 4 s)
#   mig_drops              print the testbed's links' drop counters that are
#                          not 0 (each vSwitch's interfaces, the kernel's links
#                          in the hosts, the ToR, the router and the guest)

MIG_DIR=$(dirname "${BASH_SOURCE[0]}")
. "$MIG_DIR/lib.sh"
. "$MIG_DIR/common.sh"
. "$MIG_DIR/vmstub.sh"
. "$MIG_DIR/agents.sh"

MIG_CLEANUP=()
VM1_MAC=52:54:00:00:00:20
VM1_IP=198.18.0.20
VM2_MAC=52:54:00:00:00:30
VM2_IP=198.18.0.30

mig_init() {
	t_need_root
	trap 'ag_stop_all; vs_stop_all; t_cleanup; tb__down_all' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

mig_setup() {
	tb_up || fail "testbed did not come up"
	ag_start || fail "agents did not start"
	vs_start vm1 a --mac "$VM1_MAC" --ip "$VM1_IP/24" --announce --txqlen "${MIG_TXQLEN:-50000}" \
		--hook-blackout "$(ag_hook)" --hook-resumed "$(ag_hook)" >/dev/null ||
		fail "stand-in vm1 did not start"
	tb_wait_ping router "$VM1_IP" || fail "router cannot reach vm1"
}

mig_other() { [ "$1" = a ] && echo b || echo a; }

mig_wait_commit() {
	local h=$1 id=$2 i out
	for ((i = 0; i < 500; i++)); do
		out=$(ag_nm "$h" --json status) || return 1
		if jq -e --argjson id "$id" \
			'.relocations[] | select(.id == $id and .outcome != "in progress")' \
			<<<"$out" >/dev/null; then
			return 0
		fi
		sleep 0.02
	done
	return 1
}

mig_move() {
	local name=$1 hold=$2 mode=${3:---netmove} from to tap mac ip id pause resume
	from=$(vs_host "$name")
	to=$(mig_other "$from")
	tap=vnet-$name
	mac=$VM1_MAC ip=$VM1_IP
	vs_prepare "$name" "$to" || return
	if [ "$mode" = --netmove ] && [ "${MIG_PULL:-0}" = 1 ]; then
		rm -f "$TB_DIR/netmove-off"
		tb_ovs_vsctl "$from" set Interface "$tap" "external_ids:attached-mac=\"$mac\"" || return
		ag_nm "$to" relocate --pull --mac "$mac" --ip "$ip" --port "$tap" \
			>"$T_TMP/relocate.out" || { echo "relocate --pull: $(cat "$T_TMP/relocate.out")"; return 1; }
	elif [ "$mode" = --netmove ]; then
		rm -f "$TB_DIR/netmove-off"
		ag_nm "$from" relocate --mac "$mac" --ip "$ip" --to "host$to" --port "$tap" \
			>"$T_TMP/relocate.out" || { echo "relocate: $(cat "$T_TMP/relocate.out")"; return 1; }
	else
		touch "$TB_DIR/netmove-off"
	fi
	# MIG_LATE_MS: QEMU's order, the VM stops and the blackout comes that late.
	pause=$(vs_ctl "$name" pause ${MIG_LATE_MS:+late "$MIG_LATE_MS" ${MIG_KEEP:-}}) ||
		{ echo "pause failed: $pause"; return 1; }
	sleep "$(awk -v h="$hold" 'BEGIN { print h / 1000 }')"
	resume=$(vs_ctl "$name" resume dst) || { echo "resume failed: $resume"; return 1; }
	MIG_PAUSE_US=$(($(jq -r .resume_us <<<"$resume") - $(jq -r .pause_start_us <<<"$pause")))
	VS_HOST[$name]=$to
	echo "$to" >"${VS_DIR[$name]}/$name.host"
	if [ "$mode" = --netmove ]; then
		id=$(ag_nm "$from" --json status | jq -r '[.relocations[] | .id] | max')
		mig_wait_commit "$to" "$id" || { echo "destination did not commit"; return 1; }
		mig_wait_commit "$from" "$id" || { echo "source did not commit"; return 1; }
		MIG_ID=$id
	fi
	MIG_CLEANUP=("$name" "$from" "$tap")
	[ "${MIG_DEFER_CLEANUP:-0}" = 1 ] || mig_cleanup
}

# The source's old port goes (QEMU's source process exits).  mig_probe defers
# this until the stream has ended: on this 2-core machine both "hosts" share
# the CPUs, and the source OVS reconfiguring its datapath would starve the
# destination's OVS mid-measurement, which separate hosts would not.
mig_cleanup() {
	[ ${#MIG_CLEANUP[@]} -eq 3 ] || return 0
	tb_ovs_vsctl "${MIG_CLEANUP[1]}" --if-exists del-port br-int "${MIG_CLEANUP[2]}" || return
	vs_ctl "${MIG_CLEANUP[0]}" release src >/dev/null || return
	MIG_CLEANUP=()
}

# A stream must not start before the router reaches its target: the first
# frame towards a VM that came back to a host can meet a stale "drop"
# megaflow there (lib.sh's notes on OVS), and a router whose neighbour entry
# is not resolved queues the first datagrams and drops the oldest when its
# queue is full.  Either would lose the stream's first frames before any
# relocation began.
mig_reach() {
	echo "the router's neighbour entry for $1: $(ip -n "$TB_ROUTER" neigh show "$1")"
	tb_wait_ping router "$1" 4 ||
		fail "the router does not reach $1 before the probe: $(ip -n "$TB_ROUTER" neigh show "$1")"
}

mig_drops() {
	local h ns i st
	for h in a b; do
		for i in $(tb_ovs_vsctl "$h" --bare --columns=name list Interface); do
			st=$(tb_ovs_vsctl "$h" get Interface "$i" statistics |
				grep -oE '[a-z_]*(drop|error)[a-z_]*=[1-9][0-9]*' | tr '\n' ' ')
			[ -z "$st" ] || echo "drops: vSwitch $h $i: $st"
		done
	done
	for ns in "$TB_HOSTA" "$TB_HOSTB" "$TB_TOR" "$TB_ROUTER" "$(vs_ns vm1)"; do
		ip -n "$ns" -s -j link show | jq -r --arg ns "$ns" '.[] | select(.stats64.rx.dropped + .stats64.tx.dropped + .stats64.rx.errors + .stats64.tx.errors > 0) |
			"drops: \($ns) \(.ifname): rx dropped \(.stats64.rx.dropped) errors \(.stats64.rx.errors), tx dropped \(.stats64.tx.dropped) errors \(.stats64.tx.errors)"'
	done
}

# A probe stream's result R (probe recv --json) for what LABEL names: the
# "measured:" line, then fail unless it saw its end and lost, duplicated and
# reordered nothing.
mig_stream_ok() { # LABEL R
	echo "measured: $1: lost $(jget "$2" lost), dup $(jget "$2" duplicated), reordered $(jget "$2" reordered), max gap $(jget "$2" max_gap_ms) ms"
	[ "$(jget "$2" end_seen)" = true ] || fail "$1: END marker missing"
	[ "$(jget "$2" lost)" = 0 ] || fail "$1: lost $(jget "$2" lost): $(jq -c .lost_ranges "$2")"
	[ "$(jget "$2" duplicated)" = 0 ] || fail "$1: duplicates"
	[ "$(jget "$2" reordered)" = 0 ] || fail "$1: reordered"
}

mig_probe() {
	local name=$1 rate=$2 secs=$3 hold=$4 mode=$5 recv send ns
	ns=$(vs_ns "$name")
	mig_reach "$VM1_IP"
	t_bg "$T_TMP/probe-$mode.json" "$T_TMP/probe-$mode.err" \
		"$NETMOVE" -n "$ns" --json probe recv --timeout 30 --idle 3000 --max-lost 100000000 --lost-ranges 8
	recv=$T_BG
	t_wait_ready "$T_TMP/probe-$mode.err" || fail "probe recv did not start in $ns"
	nm "$TB_ROUTER" --json probe send --to "$VM1_IP" --rate "$rate" --duration "$secs" \
		${MIG_PROBE_SIZE:+--size "$MIG_PROBE_SIZE"} \
		>"$T_TMP/send-$mode.json" &
	send=$!
	sleep 0.5
	MIG_DEFER_CLEANUP=1
	mig_move "$name" "$hold" "--$mode" >"$T_TMP/move-$mode.log" 2>&1 ||
		fail "migration ($mode) failed: $(cat "$T_TMP/move-$mode.log")"
	MIG_DEFER_CLEANUP=0
	wait "$send" || fail "probe send failed"
	t_wait "$recv" || true
	mig_cleanup || fail "removing the source port failed"
	[ -s "$T_TMP/probe-$mode.json" ] || fail "probe recv ($mode) printed nothing: $(cat "$T_TMP/probe-$mode.err")"
}
