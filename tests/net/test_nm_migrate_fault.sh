#!/bin/bash
# Faults in a live migration of the compact migrator on the testbed, with
# netmove's agents, each triggered on a migration event (nm-migrate --fault
# stops or cuts at that exact point; the test then kills a peer), never on a
# wall clock:
#   dst-mid-round    destination killed after applying round 0's first batch
#   dst-at-pause     destination killed while the source is paused
#   dst-after-end    destination killed with everything applied, before READY
#   cut-mid-round    the stream cut in the middle of round 0
#   src-after-commit source killed right after COMMIT
#   resumed-lost     the destination's RESUMED never reaches the source
#   src-mid-round    source killed mid-round (its guest dies with it)
# After each: exactly one copy of the guest runs (where the protocol says)
# and answers ping from the router, with no duplicate replies; where the
# outcome cannot be known the source stays paused and says how to resolve
# it; when the source dies before COMMIT the destination starts nothing.
# NMM_CPU=kvm|emu (default emu) picks the back-end; NMF_CASES the cases.
set -u
. "$(dirname "$0")/nmm.sh"
mig_init

nmm_need_cpu
CASES=${NMF_CASES:-dst-mid-round dst-at-pause dst-after-end cut-mid-round src-after-commit resumed-lost src-mid-round}
WARMUP_MS=1500

# The process is stopped (SIGSTOP) at its fault point.
nmf_wait_stopped() { # PID
	local i
	for ((i = 0; i < 1000; i++)); do
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ] && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.01
	done
	return 1
}

# What a failed case leaves to read.
nmf_diag() {
	local f
	for f in "$P".src.out "$P".src.err "$P".dst.out "$P".dst.err "$TB_DIR"/agent-a.log "$TB_DIR"/agent-b.log; do
		[ -s "$f" ] && { echo "== $f"; tail -15 "$f"; }
	done
}

nmf_kill() { # PID
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

nmf_gone() { # PID: exited (or was killed); its status in NMF_ST
	local i
	for ((i = 0; i < 1000; i++)); do
		if ! kill -0 "$1" 2>/dev/null; then
			NMF_ST=0
			wait "$1" 2>/dev/null || NMF_ST=$?
			return 0
		fi
		sleep 0.01
	done
	return 1
}

# ping -c 5 from the router; 0 if every reply came once.
nmf_ping() { # OUTFILE
	ip netns exec "$TB_ROUTER" ping -c 5 -i 0.2 -W 1 "$G_IP" >"$1" 2>&1
	local st=$?
	grep -q 'DUP!' "$1" && return 2
	grep -q ' 5 received' "$1" || return 1
	return $st
}

# One case: start both ends (FAULT_DST / FAULT_SRC passed as --fault), let
# ACT run the drill, then check where the guest is.  Sets SRC, DST (PIDs)
# and P (file prefix).
nmf_start() { # CASE DST_FAULT SRC_FAULT
	local fd=() fs=()
	P=$T_TMP/$1
	[ -n "$2" ] && fd=(--fault "$2")
	[ -n "$3" ] && fs=(--fault "$3")
	ag_start || fail "agents did not start"
	t_bg "$P.dst.out" "$P.dst.err" ip netns exec "$TB_HOSTB" "$NM_MIGRATE" receive \
		--listen "$TB_HOSTB_MGMT_IP:$NMM_PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
		--cpu "$NMM_CPU" --mac "$G_MAC" --netmove --netmove-socket "$(ag_sock b)" \
		--timeout-ms 3000 --quiet "${fd[@]}"
	DST=$T_BG
	nmm__attach b
	t_bg "$P.src.out" "$P.src.err" ip netns exec "$TB_HOSTA" "$NM_MIGRATE" send \
		--to "$TB_HOSTB_MGMT_IP:$NMM_PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
		--cpu "$NMM_CPU" --mac "$G_MAC" --ip "$G_IP" --netmove --netmove-socket "$(ag_sock a)" \
		--netmove-to hostb --warmup-ms "$WARMUP_MS" --timeout-ms 3000 --quiet "${fs[@]}"
	SRC=$T_BG
	nmm__attach a
	tb_wait_ping router "$G_IP" || fail "$1: router cannot reach the guest: $(cat "$P.src.err")"
}

nmf_stop() { # end both ends and the agents, forget the guest
	nmf_kill "$SRC"
	nmf_kill "$DST"
	ag_stop_all
	tb_ovs_vsctl a --if-exists del-port br-int "$TAP" || fail "del-port on host a"
	tb_ovs_vsctl b --if-exists del-port br-int "$TAP" || fail "del-port on host b"
	nmm__forget
}

# The guest stayed on the source: the destination is gone without a guest,
# the source says the migration failed and its guest answers.
nmf_expect_source() { # CASE
	nmf_gone "$DST" || fail "$1: the destination still runs"
	[ "$NMF_ST" != 0 ] || fail "$1: the destination reported success"
	grep -q '^destination: done' "$P.dst.out" && fail "$1: the destination started the guest"
	t_wait_match "$P.src.err" 'keeps running here' 10 ||
		fail "$1: the source did not keep the guest: $(cat "$P.src.out" "$P.src.err")"
	kill -0 "$SRC" || fail "$1: the source died"
	nmf_ping "$P.ping" || fail "$1: the guest on the source does not answer: $(cat "$P.ping"; nmf_diag)"
	local said
	said=$(sed -n 2p "$P.dst.out" | sed 's/^ *//')
	echo "measured: $1: guest stays on A, $(grep -o '[0-9]* received' "$P.ping") of 5 pings, destination: ${said:-killed}"
}

# The guest runs on the destination only.
nmf_expect_destination() { # CASE
	t_wait_match "$P.dst.out" '^destination: done' 10 ||
		fail "$1: the destination did not resume: $(cat "$P.dst.out" "$P.dst.err")"
	kill -0 "$DST" || fail "$1: the destination died"
	nmf_ping "$P.ping" || fail "$1: the guest on the destination does not answer: $(cat "$P.ping"; nmf_diag)"
	echo "measured: $1: guest runs on B, $(grep -o '[0-9]* received' "$P.ping") of 5 pings"
}

case_dst-mid-round() {
	nmf_start "$1" round:0=stop ""
	nmf_wait_stopped "$DST" || fail "$1: destination never reached round 0"
	nmf_kill "$DST"
	nmf_expect_source "$1"
}

case_dst-at-pause() {
	nmf_start "$1" "" pause=stop
	nmf_wait_stopped "$SRC" || fail "$1: source never paused"
	nmf_kill "$DST"
	kill -CONT "$SRC"
	nmf_expect_source "$1"
}

case_dst-after-end() {
	nmf_start "$1" end=stop ""
	nmf_wait_stopped "$DST" || fail "$1: destination never received END"
	nmf_kill "$DST"
	nmf_expect_source "$1"
}

case_cut-mid-round() {
	nmf_start "$1" "" round:0=cut
	nmf_expect_source "$1"
	grep -q 'truncated' "$P.dst.out" || fail "$1: the destination did not see a truncated stream"
}

case_src-after-commit() {
	nmf_start "$1" "" commit=stop
	nmf_wait_stopped "$SRC" || fail "$1: source never committed"
	t_wait_match "$P.dst.out" '^destination: done' 10 || fail "$1: destination did not resume"
	nmf_kill "$SRC"
	nmf_expect_destination "$1"
}

case_resumed-lost() {
	nmf_start "$1" resumed=cut ""
	t_wait_match "$P.src.err" 'OUTCOME UNKNOWN' 10 ||
		fail "$1: the source did not report an unknown outcome: $(cat "$P.src.out" "$P.src.err")"
	grep -q 'kill -USR2' "$P.src.err" || fail "$1: the source did not say how to resolve it"
	kill -0 "$SRC" || fail "$1: the source process ended instead of keeping the paused guest"
	nmf_expect_destination "$1"
	kill -TERM "$SRC"
	nmf_gone "$SRC" || fail "$1: the source did not end on SIGTERM"
	[ "$NMF_ST" = 5 ] || fail "$1: source exit $NMF_ST, want 5 (outcome unknown)"
	grep -q 'keeps running here' "$P.src.err" && fail "$1: the source resumed the guest on its own"
}

case_src-mid-round() {
	nmf_start "$1" "" round:0=kill
	nmf_gone "$DST" || fail "$1: the destination still runs"
	[ "$NMF_ST" != 0 ] || fail "$1: the destination reported success"
	grep -q '^destination: done' "$P.dst.out" && fail "$1: the destination started a partial guest"
	grep -q 'truncated' "$P.dst.out" || fail "$1: the destination did not see the stream end"
	if nmf_ping "$P.ping"; then fail "$1: something answers for a guest that died with its host"; fi
	echo "measured: $1: destination started nothing ($(sed -n 2p "$P.dst.out" | sed 's/^ *//')); no copy answers, as the guest died with its host"
}

step "testbed ($NMM_CPU back-end)"
AG_GRACE=300
tb_up || fail "testbed did not come up"
head -c 32 /dev/urandom >"$T_TMP/mig.key"
for c in $CASES; do
	step "$c"
	"case_$c" "$c"
	nmf_stop
done
echo "PASS"
