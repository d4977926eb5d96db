# shellcheck shell=bash
# The compact migrator (nm-migrate) on the testbed.  Sourcing this also
# sources migrate.sh (and through it lib.sh, common.sh, vmstub.sh, agents.sh).
#
#   nmm_setup            testbed + agents + the stream key
#   nmm_migrate MODE     one migration a -> b of a fresh guest (MAC $G_MAC, IP
#                        $G_IP, tap $TAP; its tap created by `receive` at once
#                        and attached first, as with QEMU -incoming) under a
#                        $RATE pps probe stream from the router, echoed by the
#                        guest.  MODE netmove: the migrator signals the agents
#                        (PREPARE when the copy starts, BLACKOUT at the pause,
#                        SWITCHOVER at the resume); MODE plain: nothing.
#                        Results: $T_TMP/nmm-MODE.{recv,send}.json, the
#                        migrator's summaries in $T_TMP/nmm-MODE.{src,dst}.*,
#                        the relocation id in NMM_ID.  Leaves no guest behind.
#   nmm_lost MODE        echoes lost (sent - received + duplicated)
#   NMM_PROGRESS=1       keep nm-migrate's live progress line (in the .src.err file)
#   HOLD_MS=N            keep the guest paused N ms longer (a slow switchover)
#   NMM_CPU=emu|kvm      the migrator's CPU back-end (default emu; kvm: RATE 500)
#   nmm_need_cpu         exit 77 (skip, saying why) if NMM_CPU cannot run here

. "$(dirname "${BASH_SOURCE[0]}")/migrate.sh"

NM_MIGRATE=${NM_MIGRATE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/nm-migrate}
G_MAC=52:54:00:00:00:40
G_IP=198.18.0.40
TAP=vnet-g1
NMM_PORT=7880
NMM_CPU=${NMM_CPU:-emu}
# A host whose KVM emulates this 32-bit guest instruction by instruction (a
# PVM-nested one: 2 us an instruction) echoes about 1000 frames/s.
[ "$NMM_CPU" = kvm ] && RATE=${RATE:-500}
RATE=${RATE:-10000}
SECS=${SECS:-6}
WARMUP_MS=${WARMUP_MS:-5000}

nmm__wait_link() { # NS DEV
	local i
	for ((i = 0; i < 250; i++)); do
		ip -n "$1" link show "$2" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	return 1
}

# The guest's tap, once nm-migrate created it, on a host's OVS.
nmm__attach() { # a|b
	nmm__wait_link "$(tb__host_ns "$1")" "$TAP" || fail "tap $TAP did not appear on host $1"
	tb_vm_port_add "$1" "$TAP" || fail "attaching $TAP on host $1"
}

nmm_need_cpu() {
	local line
	line=$("$NM_MIGRATE" backends | grep "^$NMM_CPU ") || fail "no back-end $NMM_CPU"
	case $line in
	*" available"*) ;;
	*) echo "$NMM_CPU back-end: $line"; exit 77 ;;
	esac
}

nmm_setup() {
	[ -x "$NM_MIGRATE" ] || fail "$NM_MIGRATE not built"
	AG_GRACE=300
	tb_up || fail "testbed did not come up"
	ag_start || fail "agents did not start"
	head -c 32 /dev/urandom >"$T_TMP/mig.key"
}

nmm_lost() {
	local r=$T_TMP/nmm-$1.recv.json s=$T_TMP/nmm-$1.send.json
	echo $(($(jget "$s" sent) - $(jget "$r" received) + $(jget "$r" duplicated)))
}

nmm_migrate() {
	local mode=$1 p=$T_TMP/nmm-$1 src dst recv send t0 i nm_a=() nm_b=() quiet=(--quiet)
	[ -n "${NMM_PROGRESS:-}" ] && quiet=()
	if [ "$mode" = netmove ]; then
		# The migrator starts the relocation itself (PREPARE) after the
		# warm-up, then signals BLACKOUT and, on b, SWITCHOVER.
		nm_a=(--netmove --netmove-socket "$(ag_sock a)" --netmove-to hostb)
		nm_b=(--netmove --netmove-socket "$(ag_sock b)")
	fi
	t_bg "$p.dst.out" "$p.dst.err" ip netns exec "$TB_HOSTB" "$NM_MIGRATE" receive \
		--listen "$TB_HOSTB_MGMT_IP:$NMM_PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
		--cpu "$NMM_CPU" --mac "$G_MAC" "${nm_b[@]}" --quiet
	dst=$T_BG
	nmm__attach b
	t_bg "$p.src.out" "$p.src.err" ip netns exec "$TB_HOSTA" "$NM_MIGRATE" send \
		--to "$TB_HOSTB_MGMT_IP:$NMM_PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
		--cpu "$NMM_CPU" --mac "$G_MAC" --ip "$G_IP" "${nm_a[@]}" \
		--warmup-ms "$WARMUP_MS" --linger-ms 60000 --hold-ms "${HOLD_MS:-0}" "${quiet[@]}"
	src=$T_BG
	t0=$(now_us)
	nmm__attach a
	tb_wait_ping router "$G_IP" || fail "router cannot reach the guest: $(cat "$p.src.err")"

	t_bg "$p.recv.json" "$p.recv.err" "$NETMOVE" -n "$TB_ROUTER" --json probe recv \
		--timeout 30 --idle 3000 --max-lost 100000000 --lost-ranges 8
	recv=$T_BG
	t_wait_ready "$p.recv.err" || fail "probe recv did not start"
	nm "$TB_ROUTER" --json probe send --to "$G_IP" --rate "$RATE" --duration "$SECS" \
		>"$p.send.json" &
	send=$!
	sleep 0.3
	[ $(($(now_us) - t0)) -lt $((WARMUP_MS * 1000 - 500000)) ] ||
		fail "set-up took longer than the warm-up: raise WARMUP_MS"
	# The source keeps its paused guest's tap until told: removing a port
	# makes the source OVS reconfigure its datapath, which on this shared
	# 2-core machine starves the destination mid-measurement.
	for ((i = 0; i < 1500; i++)); do
		grep -q '^source:' "$p.src.out" 2>/dev/null && break
		kill -0 "$src" 2>/dev/null || break
		sleep 0.02
	done
	grep -q '^source: done' "$p.src.out" ||
		fail "nm-migrate send ($mode) failed: $(cat "$p.src.out" "$p.src.err")"
	if [ "$mode" = netmove ]; then
		NMM_ID=$(ag_nm a --json status | jq -r '[.relocations[] | .id] | max')
		[ "$NMM_ID" != null ] || fail "nm-migrate did not start a relocation"
		mig_wait_commit b "$NMM_ID" || fail "destination did not commit"
		mig_wait_commit a "$NMM_ID" || fail "source did not commit"
	fi
	wait "$send" || fail "probe send failed"
	t_wait "$recv" || true
	tb_ovs_vsctl a --if-exists del-port br-int "$TAP" || fail "del-port on host a"
	kill -TERM "$src"
	t_wait "$src" || fail "nm-migrate send exited with an error: $(cat "$p.src.err")"
	tb_wait_ping router "$G_IP" || fail "router cannot reach the guest on host b ($mode)"
	kill -TERM "$dst"
	t_wait "$dst" || fail "destination guest failed: $(cat "$p.dst.err")"
	tb_ovs_vsctl b --if-exists del-port br-int "$TAP" || fail "del-port on host b"
	[ -s "$p.recv.json" ] || fail "probe recv printed nothing: $(cat "$p.recv.err")"
	nmm__forget
}

# The guest is gone: clear what the fabric remembers of it, as an
# orchestrator does when a VM is destroyed (netmove's flows for its MAC on b,
# the ToR's entry, the router's ARP entry), so the next guest starts clean.
nmm__forget() {
	local h
	for h in a b; do
		tb_ovs_ofctl "$h" del-flows "cookie=0x4e4d${G_MAC//:/}/-1" || fail "del-flows on $h"
	done
	bridge -n "$TB_TOR" fdb del "$G_MAC" dev tor-a master 2>/dev/null
	bridge -n "$TB_TOR" fdb del "$G_MAC" dev tor-b master 2>/dev/null
	ip -n "$TB_ROUTER" neigh flush to "$G_IP" 2>/dev/null
	return 0
}
