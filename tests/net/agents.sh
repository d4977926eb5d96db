# shellcheck shell=bash
# netmoved agents on the namespace testbed.  Source after lib.sh and
# common.sh.
#
#   ag_start [a|b]...     start the agents of hosts a and b (default both),
#                         sharing the key $TB_DIR/agent.key (TLS PSK mode);
#                         with AG_PKI set, in certificate mode instead:
#                         --pki-dir $AG_PKI/hostX, or AG_PKI_X for host X;
#                         waits for their sockets.  Agent X: socket $(ag_sock X), journal
#                         $(ag_journal X), log $TB_DIR/agent-X.log
#   ag_stop X [SIGNAL]    stop agent X by its PID (default TERM)
#   ag_nm X args...       run the netmove CLI against agent X
#   ag_sock X / ag_journal X
#   ag_last X             the last journal record of agent X that tells how a
#                         relocation ended (a relocation's first record,
#                         written as it begins, says "in progress")
#   ag_hook               print a nm-vmstub hook command that forwards the
#                         stand-in's event to the agent of the host its tap
#                         is on (with the stop instant of a late pause); it
#                         does nothing while $TB_DIR/netmove-off exists (the
#                         "without netmove" runs)
#   ag_stop_all           stop every agent this shell started

NETMOVED=${NETMOVED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/netmoved}
declare -gA AG_PID=()

ag_sock() { echo "$TB_DIR/agent-$(tb__host_ns "$1").sock"; }
ag_journal() { echo "$TB_DIR/journal-$1.jsonl"; }
ag_last() { grep -v '"outcome":"in progress"' "$(ag_journal "$1")" | tail -1; }

ag_start() {
	local h hosts=("$@") ns ip peer peerip tor i pki tls
	[ ${#hosts[@]} -eq 0 ] && hosts=(a b)
	[ -f "$TB_DIR/agent.key" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' \
		>"$TB_DIR/agent.key"
	for h in "${hosts[@]}"; do
		ns=$(tb__host_ns "$h") || return
		if [ "$h" = a ]; then ip=$TB_HOSTA_MGMT_IP peer=b peerip=$TB_HOSTB_MGMT_IP; else
			ip=$TB_HOSTB_MGMT_IP peer=a peerip=$TB_HOSTA_MGMT_IP; fi
		pki=AG_PKI_$h
		pki=${!pki:-${AG_PKI:+$AG_PKI/host$h}}
		if [ -n "$pki" ]; then tls=(--pki-dir "$pki"); else
			tls=(--key-file "${AG_KEY:-$TB_DIR/agent.key}"); fi
		# A killed agent's socket file stays: the wait below is for the new one.
		rm -f "$(ag_sock "$h")"
		ip netns exec "$ns" "$NETMOVED" --name "host$h" --listen "$ip:7870" \
			--peer "host$peer=$peerip:7870" --socket "$(ag_sock "$h")" \
			"${tls[@]}" \
			--ofctl "unix:$TB_DIR/host$h/br-int.mgmt" \
			--ovs-ctl "$TB_DIR/host$h/ovs-vswitchd.ctl" --ovsdb "unix:$TB_DIR/host$h/db.sock" \
			--uplink uplink --gateway "$TB_ROUTER_IP" --journal "$(ag_journal "$h")" \
			--schedule "$TB_DIR/schedule-$h.jsonl" \
			--tor-netns "$TB_TOR" --tor-bridge br0 --tor-port "tor-$h" \
			--grace "${AG_GRACE:-1000}" --ring-mib "${AG_RING_MIB:-16}" \
			"${AG_EXTRA[@]}" >>"$TB_DIR/agent-$h.log" 2>&1 &
		AG_PID[$h]=$!
	done
	for h in "${hosts[@]}"; do
		for ((i = 0; i < 250; i++)); do
			[ -S "$(ag_sock "$h")" ] && break
			if ! kill -0 "${AG_PID[$h]}" 2>/dev/null; then
				echo "agent $h died: $(tail -3 "$TB_DIR/agent-$h.log")" >&2
				return 1
			fi
			sleep 0.02
		done
		[ -S "$(ag_sock "$h")" ] || { echo "agent $h: no socket" >&2; return 1; }
	done
}

ag_stop() { t_stop_in AG_PID "$1" "${2:-TERM}"; }

ag_stop_all() {
	local h
	for h in "${!AG_PID[@]}"; do
		ag_stop "$h"
	done
}

ag_nm() {
	local h=$1
	shift
	NETMOVE_SOCKET=$(ag_sock "$h") "$NETMOVE" "$@"
}

ag_hook() {
	# A stand-in that keeps a frame as QEMU does says so, unless the test
	# wants the agents left unaware ($TB_DIR/keeps-untold); one that also
	# drops one tells what its guest got (an anchor frame and the lengths
	# after it), unless $TB_DIR/last-rx-untold.
	printf '[ -e %q ] || NETMOVE_SOCKET=%q/agent-$VMSTUB_HOST_NS.sock %q event $VMSTUB_EVENT --mac $VMSTUB_MAC ${VMSTUB_STOPPED_US:+--stopped-us $VMSTUB_STOPPED_US} $([ -n "$VMSTUB_KEEPS_ONE" ] && [ ! -e %q ] && echo --reader-keeps-one) $([ -n "$VMSTUB_LAST_RX" ] && [ ! -e %q ] && echo --last-rx $VMSTUB_LAST_RX ${VMSTUB_RX_AFTER:+--rx-after $VMSTUB_RX_AFTER})' \
		"$TB_DIR/netmove-off" "$TB_DIR" "$NETMOVE" "$TB_DIR/keeps-untold" "$TB_DIR/last-rx-untold"
}
