#!/bin/bash
# The fault matrix: an agent dies (SIGKILL) as it enters a phase of a
# relocation, for either role and every phase.  The agent kills itself at
# that instant (NETMOVED_FAULT, fault.h): no guessed delay.  The stand-in's
# migration goes on regardless, as a hypervisor's does: it stops (the
# blackout hook 20 ms later, as with QEMU's STOP event) and resumes on the
# destination.  Then the dead agent is started again.  Each cell checks:
#   - the VM runs on the destination and answers the router's ping within
#     BOUND_MS of its resume;
#   - the fabric's FDB holds it on the destination's port, and neither
#     host keeps a netmove flow or buffer program once the survivor's grace
#     period is over (the restarted agent removed the dead one's);
#   - the restarted agent journaled the relocation as "interrupted";
#   - the probe's losses are printed beside the journals' counts, and a cell
#     that lost frames has no journal saying a plain "committed";
#   - 0 lost where a surviving side held the frames: a dead destination's
#     source forwards what it never confirmed, or what it held while the VM
#     was paused, out of the uplink after the VM; a dead source's restarted
#     agent sends what it had read out of the tap (its keep file) and its
#     ring's frames after the VM; one that died in PREPARE held nothing,
#     but the stopped VM's tap did: its restarted agent reads it out once
#     the VM runs elsewhere and sends that after it (recover.h); a
#     destination that lost its source keeps the VM's flows and buffer
#     until the VM comes up there; one that never had them when the VM
#     resumed there (its agent died in PREPARE, or the source's did before
#     it asked) leaves its vSwitch to MAC learning, which may drop a few
#     frames that came to it directly before it saw the VM's move: counted
#     by its pipeline drop counter, no more may be lost;
#   - 0 lost in every cell where both agents live (cut, stall).
# Then SIGTERM of the source agent (term:PHASE), sent when the agent says it
# entered the phase (it holds there for a moment, NETMOVED_FAULT hold): in
# PREPARE the relocation is rolled back on both hosts; in BLACKOUT, with the
# VM's frames held, it is seen through (committed, 0 lost) before the agent
# exits.
# Then the management link cut for 2 s (iptables drops everything on it, both
# ways) as an agent enters a phase (cut:ROLE:PHASE; the agent's own log line
# of the phase is the trigger): the relocation ends, committed or rolled
# back, the VM answers where it runs, nothing is left behind.  And a peer
# that stops (stall: the source holds 3 s as the VM resumes on the
# destination, neither reading nor shipping): the destination lets the VM's
# own frames through once the source's stop coming (--handoff-idle), and the
# source, back, finds the relocation over rather than hang.
# And spill:ROLE:PHASE, a cell whose victim has a 4 MiB ring and the probe
# 1500-byte frames: the paused VM's frames overflow a quarter of the ring
# and go to the agent's spill file, which its restarted agent sends on too.
# Usage: test_fault_matrix.sh [ROLE:PHASE|term:PHASE|cut:ROLE:PHASE|stall|spill:ROLE:PHASE...]
# (default: all)
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

BOUND_MS=${BOUND_MS:-3000}	# the 1 s lease, the stand-in's announce, this loaded box
RATE=5000
CELLS=("$@")
[ ${#CELLS[@]} -gt 0 ] || CELLS=(
	source:prepare source:blackout source:switchover source:handoff source:verify
	destination:prepare destination:blackout destination:switchover destination:handoff
	destination:verify term:prepare term:blackout
	cut:source:prepare cut:source:blackout cut:source:switchover cut:source:handoff
	cut:destination:verify stall spill:source:switchover)
AG_GRACE=500
AG_EXTRA=(--blackout-timeout 5000 --phase-timeout 2000)

step "testbed, agents, stand-in vm1 on host a"
mig_setup

# netmove's flows on host H (cookie tag "NM").
nm_flows() { tb_ovs_ofctl "$1" dump-flows "cookie=0x4e4d000000000000/0xffff000000000000" | grep -c cookie=; }
nm_progs() { ip netns exec "$(tb__host_ns "$1")" tc filter show dev vnet-vm1 egress 2>/dev/null | grep -c bpf; }

# A probe stream from the router to vm1 for SECS, its receiver in the
# guest: PROBE_RECV, PROBE_SEND (PIDs); results in $T_TMP/recv.json and
# $T_TMP/send.json.
probe_start() { # SECS
	mig_reach "$VM1_IP"
	t_bg "$T_TMP/recv.json" "$T_TMP/recv.err" "$NETMOVE" -n "$(vs_ns vm1)" --json probe recv \
		--timeout 40 --idle 4000 --max-lost 100000000 --lost-ranges 4
	PROBE_RECV=$T_BG
	t_wait_ready "$T_TMP/recv.err" || fail "probe recv did not start"
	# netmove itself, not a subshell: $! takes the SIGINT that ends it early.
	"$NETMOVE" -n "$TB_ROUTER" --json probe send --to "$VM1_IP" --rate "$RATE" --duration "$1" \
		${PROBE_SIZE:+--size "$PROBE_SIZE"} >"$T_TMP/send.json" &
	PROBE_SEND=$!
	sleep 0.5
}

# Ping vm1 from the router until it answers (0.1 s a try, at most 100):
# ANSWER_MS is the time since T0 (date +%s%N), empty if it never did.
wait_answer() { # T0
	local i
	ANSWER_MS=
	for ((i = 0; i < 100; i++)); do
		if ip netns exec "$TB_ROUTER" ping -n -c 1 -W 0.1 "$VM1_IP" >/dev/null 2>&1; then
			ANSWER_MS=$((($(date +%s%N) - $1) / 1000000))
			return 0
		fi
	done
	return 1
}

# The migration, as a hypervisor runs it whatever the agents do: vm1's port
# made on TO, `netmove relocate` asked on FROM, the VM stopped (the blackout
# hook 20 ms later, QEMU's order: a dead agent fails the hook, the VM stays
# stopped, the migration goes on), resumed on TO.  MOVE_T0: the resume
# (date +%s%N).
move_vm() { # FROM TO
	vs_prepare vm1 "$2" 2>"$T_TMP/prepare.err" || fail "preparing vm1's port on $2: $(cat "$T_TMP/prepare.err")"
	ag_nm "$1" relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to "host$2" --port vnet-vm1 \
		>"$T_TMP/relocate.out" 2>&1 || echo "relocate: $(cat "$T_TMP/relocate.out")"
	vs_ctl vm1 pause late 20 >/dev/null 2>&1 || echo "the blackout hook failed"
	sleep 0.2
	vs_ctl vm1 resume dst >/dev/null || fail "resume on $2"
	MOVE_T0=$(date +%s%N)
	VS_HOST[vm1]=$2
	echo "$2" >"${VS_DIR[vm1]}/vm1.host"
}

# Start host H's agent again with the fault SPEC (NETMOVED_FAULT): FAULT_PID.
restart_with_fault() { # H SPEC
	ag_stop "$1"
	NETMOVED_FAULT=$2 ag_start "$1" || fail "agent $1 did not start"
	FAULT_PID=${AG_PID[$1]}
}

# Wait up to TRIES x 20 ms for PID to be gone: 0 if it is.
wait_gone() { # PID TRIES
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.02
	done
	return 1
}

# Frames host H's vSwitch dropped in its pipeline so far (OVS's counter of
# its drop action).  A vSwitch that learned the VM's MAC on its uplink (the
# VM was elsewhere) drops frames for it coming in there until its
# revalidator has seen the MAC move to the VM's new port.
ovs_drops() { # H
	tb_ovs_appctl "$1" coverage/read-counter drop_action_of_pipeline
}

# One cell: ROLE:PHASE.  Moves vm1 to the other host.
cell() {
	local role=${1%%:*} phase=${1#*:} from to victim pv t0 t1 ms id ok fired r i tc
	tc=$(($(date +%s%N) / 1000))
	from=$(vs_host vm1)
	to=$(mig_other "$from")
	if [ "$role" = source ]; then victim=$from; else victim=$to; fi
	step "cell ${SPILL_CELL:+spill:}$role:$phase: vm1 $from -> $to, agent $victim dies entering $phase"
	AG_RING_MIB=${SPILL_CELL:+4} restart_with_fault "$victim" "$role:$phase:kill"
	pv=$FAULT_PID

	local drops0 drops
	drops0=$(ovs_drops "$to") || fail "reading $to's vSwitch drop counter"
	probe_start 3
	local recv=$PROBE_RECV send=$PROBE_SEND r=$T_TMP/recv.json
	move_vm "$from" "$to"
	t0=$MOVE_T0
	# The fault must have fired: the agent died in that phase.  It is
	# started again at once, as its service manager would.
	fired=
	wait_gone "$pv" 100 && fired=1
	[ -n "$fired" ] || fail "$role:$phase: agent $victim never reached $phase: $(tail -3 "$TB_DIR/agent-$victim.log")"
	grep -q "fault: SIGKILL at $phase" "$TB_DIR/agent-$victim.log" ||
		fail "$role:$phase: agent $victim died, but not of the fault"
	wait "$pv" 2>/dev/null
	unset "AG_PID[$victim]"
	ag_start "$victim" || fail "agent $victim did not start again"
	ok=
	wait_answer "$t0" && ok=1
	ms=${ANSWER_MS:-never}
	wait "$send" || fail "probe send failed"
	t_wait "$recv" || true
	drops=$(($(ovs_drops "$to") - drops0))
	# The survivor ends its side (rollback, or the VM runs there).
	local surv
	surv=$([ "$victim" = "$from" ] && echo "$to" || echo "$from")
	id=$(ag_nm "$surv" --json status | jq -r --arg f "host$from" \
		'[.relocations[] | select(.from == $f and (.phases_us.prepare // 0) > '"$tc"')] | max_by(.phases_us.prepare) | .id // empty')
	if [ -n "$id" ]; then mig_wait_commit "$surv" "$id" || fail "agent $surv did not end relocation $id"; fi
	sleep 0.7 # the survivor's grace period (500 ms)
	mig_cleanup_port "$from"
	local lost dup reo js jv outcome
	lost=$(jget "$r" lost) dup=$(jget "$r" duplicated) reo=$(jget "$r" reordered)
	# The survivor's record of this cell's relocation, if it had one (a
	# source that died in PREPARE may have asked nobody).
	js=$(jq -c "select(.outcome != \"in progress\" and .time_us > $tc)" "$(ag_journal "$surv")" | tail -1)
	jv=$(jq -c "select(.outcome == \"interrupted\" and .time_us > $tc)" "$(ag_journal "$victim")" | tail -1)
	outcome=$(jq -r '.outcome // "no record"' <<<"${js:-null}")
	echo "lost runs: $(jq -c ".lost_ranges // []" "$r")"
	echo "measured: cell ${SPILL_CELL:+spill:}$role:$phase | vm1 on $to | answered ${ms} ms after resume | probe lost $lost dup $dup reordered $reo of $(jget "$T_TMP/send.json" sent) | survivor ($surv) '$outcome', frames $(jq -c .frames <<<"${js:-null}") | restarted $victim: $(jq -c .recovery <<<"$jv") | $to's vSwitch dropped $drops in its pipeline"
	[ -n "$ok" ] || fail "$role:$phase: vm1 never answered on $to"
	[ "$ms" -le "$BOUND_MS" ] || fail "$role:$phase: vm1 answered only after $ms ms (bound $BOUND_MS)"
	[ "$(tb_tor_port_of "$VM1_MAC")" = "tor-$to" ] ||
		fail "$role:$phase: the fabric holds vm1 on '$(tb_tor_port_of "$VM1_MAC")', not tor-$to"
	[ "$(nm_flows a)" = 0 ] && [ "$(nm_flows b)" = 0 ] ||
		fail "$role:$phase: netmove flows left: a $(nm_flows a), b $(nm_flows b)"
	[ "$(nm_progs "$to")" = 0 ] || fail "$role:$phase: a buffer program is left on vnet-vm1 on $to"
	[ -n "$jv" ] || fail "$role:$phase: the restarted agent $victim journaled no interrupted relocation"
	[ "$(jq -r .mac <<<"$jv")" = "$VM1_MAC" ] || fail "$role:$phase: interrupted record of another MAC: $jv"
	[ "$dup" = 0 ] || fail "$role:$phase: $dup duplicated frames"
	# Never silent: frames lost, and no journal says a plain "committed".
	[ "$lost" = 0 ] || [ "$outcome" != committed ] ||
		fail "$role:$phase: the probe lost $lost frames, the survivor says committed"
	# Nothing lost where a surviving side held the frames: a dead
	# destination's source holds them all.  A dead source held them once
	# the VM stopped: in its ring, and what it read out of the tap in its
	# keep file (a restarted agent sends both after the VM).  One that died
	# before the blackout held nothing, but the stopped VM's tap did: the
	# restarted agent reads it out once the VM runs elsewhere.
	# Where the destination had no netmove flows when the VM resumed
	# there (its agent died in PREPARE, or the source's died before it
	# asked for the relocation), its vSwitch is left to MAC learning:
	# having learned the VM on its uplink, it drops what comes in there for
	# the VM until its revalidator saw the move (CI: 2 lost and 2 pipeline
	# drops; 1 and 1).  Those frames reached the destination directly: no
	# netmove side held them.  No more may be lost.
	local learn=0
	case $role:$phase in
	destination:prepare | source:prepare) learn=$drops ;;
	esac
	[ "$lost" -le "$learn" ] || [ "$role" != destination ] ||
		fail "$role:$phase: $lost frames lost though the source held them ($to's vSwitch dropped $drops)"
	case $role:$phase in
	source:prepare)
		[ "$(jq -r '.recovery.tap_frames_forwarded // 0' <<<"$jv")" -gt 0 ] ||
			fail "$role:$phase: the restarted source sent none of what the stopped VM left in its tap: $jv"
		[ "$lost" -le "$learn" ] ||
			fail "$role:$phase: $lost frames lost though the stopped VM's tap held them ($to's vSwitch dropped $drops)" ;;
	source:blackout | source:switchover | source:handoff)
		# A destination that lost its source before the resume kept
		# the VM's flows and buffer and saw it through alone.
		[ "$phase" != blackout ] || [ "$outcome" = "committed with errors" ] ||
			fail "$role:$phase: the destination, having lost its source, ended '$outcome'"
		[ "$(jq -r '.recovery.frames_forwarded // 0' <<<"$jv")" -gt 0 ] ||
			fail "$role:$phase: the restarted source sent none of its ring's frames after the VM: $jv"
		# The stand-in stops reading 20 ms before the blackout hook: its
		# tap held frames, which the dead agent had read out.
		[ "$(jq -r '.recovery.tap_frames_kept // 0' <<<"$jv")" -gt 0 ] ||
			fail "$role:$phase: the restarted source found none of the frames read out of the tap: $jv"
		if [ "${SPILL_CELL:-0}" = 1 ]; then
			[ "$(jq -r '.recovery.spill_frames // 0' <<<"$jv")" -gt 0 ] ||
				fail "$role:$phase: the restarted source sent none of what was moved out of the ring: $jv"
		fi
		[ "$lost" -le "$learn" ] ||
			fail "$role:$phase: $lost frames lost though the dead source held them ($to's vSwitch dropped $drops)" ;;
	esac
}

# The source's old port goes (its QEMU exits).
mig_cleanup_port() {
	tb_ovs_vsctl "$1" --if-exists del-port br-int vnet-vm1 || fail "removing the old port on $1"
	vs_ctl vm1 release src >/dev/null || fail "releasing the old tap"
}

# SIGTERM of the source agent as it holds in PHASE (prepare or blackout).
term_cell() {
	local phase=$1 from to pv rel pause_pid js jd r recv send i tc
	tc=$(($(date +%s%N) / 1000))
	from=$(vs_host vm1)
	to=$(mig_other "$from")
	step "cell term:$phase: vm1 $from -> $to, SIGTERM to agent $from in $phase"
	restart_with_fault "$from" "source:$phase:hold=300"
	pv=$FAULT_PID
	probe_start 3
	local recv=$PROBE_RECV send=$PROBE_SEND r=$T_TMP/recv.json
	vs_prepare vm1 "$to" 2>"$T_TMP/prepare.err" || fail "preparing vm1's port on $to: $(cat "$T_TMP/prepare.err")"
	ag_nm "$from" relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to "host$to" --port vnet-vm1 \
		>"$T_TMP/relocate.out" 2>&1 &
	rel=$!
	if [ "$phase" = blackout ]; then
		wait "$rel" || fail "relocate: $(cat "$T_TMP/relocate.out")"
		vs_ctl vm1 pause late 20 >"$T_TMP/pause.out" 2>&1 &
		pause_pid=$!
	fi
	t_wait_match "$TB_DIR/agent-$from.log" "fault: holding at $phase" 5 ||
		fail "term:$phase: agent $from never held in $phase"
	kill -TERM "$pv"
	if [ "$phase" = prepare ]; then
		wait "$rel"
		echo "relocate: exit $?: $(cat "$T_TMP/relocate.out")"
	else
		wait "$pause_pid" || fail "term:blackout: pause: $(cat "$T_TMP/pause.out")"
		sleep 0.2
		vs_ctl vm1 resume dst >/dev/null || fail "resume on $to"
		VS_HOST[vm1]=$to
		echo "$to" >"${VS_DIR[vm1]}/vm1.host"
	fi
	wait_gone "$pv" 250 || fail "term:$phase: agent $from still runs 5 s after SIGTERM"
	wait "$pv"
	local st=$?
	unset "AG_PID[$from]"
	wait "$send" || fail "probe send failed"
	t_wait "$recv" || true
	js=$(jq -c "select(.outcome != \"in progress\" and .time_us > $tc)" "$(ag_journal "$from")" | tail -1)
	jd=$(jq -c "select(.outcome != \"in progress\" and .time_us > $tc)" "$(ag_journal "$to")" | tail -1)
	ag_start "$from" || fail "agent $from did not start again"
	sleep 0.7
	[ "$phase" = blackout ] && mig_cleanup_port "$from"
	echo "lost runs: $(jq -c ".lost_ranges // []" "$r")"
	echo "measured: cell term:$phase | agent exit status $st | source '$(jq -r .outcome <<<"$js")' ($(jq -r '.error // ""' <<<"$js")) | destination '$(jq -r .outcome <<<"$jd")' | vm1 on $(vs_host vm1) | probe lost $(jget "$r" lost) dup $(jget "$r" duplicated) reordered $(jget "$r" reordered) of $(jget "$T_TMP/send.json" sent)"
	[ "$st" = 0 ] || fail "term:$phase: netmoved exited with $st"
	if [ "$phase" = prepare ]; then
		[ "$(jq -r .outcome <<<"$js")" = "rolled back" ] || fail "term:prepare: source: $js"
		jq -r .error <<<"$js" | grep -q "stopping" || fail "term:prepare: the reason is not the stop: $js"
		[ "$(jq -r .outcome <<<"$jd")" = "rolled back" ] || fail "term:prepare: destination: $jd"
		tb_ovs_vsctl "$to" --if-exists del-port br-int vnet-vm1 || fail "removing the unused port"
		vs_ctl vm1 release dst >/dev/null || fail "releasing the unused tap"
	else
		[ "$(jq -r .outcome <<<"$js")" = committed ] || fail "term:blackout: source: $js"
		[ "$(jq -r .outcome <<<"$jd")" = committed ] || fail "term:blackout: destination: $jd"
		[ "$(jget "$r" lost)" = 0 ] || fail "term:blackout: $(jget "$r" lost) frames lost"
		[ "$(jget "$r" reordered)" = 0 ] || fail "term:blackout: reordered"
	fi
	[ "$(jget "$r" duplicated)" = 0 ] || fail "term:$phase: duplicates"
	[ "$(nm_flows a)" = 0 ] && [ "$(nm_flows b)" = 0 ] ||
		fail "term:$phase: netmove flows left: a $(nm_flows a), b $(nm_flows b)"
	[ "$(nm_progs "$(vs_host vm1)")" = 0 ] || fail "term:$phase: a buffer program is left"
}

# Drop everything on the management link, both ways, for SECS.
cut_link() { # SECS
	local h
	for h in a b; do
		ip netns exec "$(tb__host_ns "$h")" iptables -I INPUT -i mgmt -j DROP
		ip netns exec "$(tb__host_ns "$h")" iptables -I OUTPUT -o mgmt -j DROP
	done
	sleep "$1"
	for h in a b; do
		ip netns exec "$(tb__host_ns "$h")" iptables -D INPUT -i mgmt -j DROP
		ip netns exec "$(tb__host_ns "$h")" iptables -D OUTPUT -o mgmt -j DROP
	done
}

# A fault that does not kill: the link cut as ROLE's agent enters PHASE
# (cut:ROLE:PHASE), or a destination that stops reading in HANDOFF (stall).
# The agents live on; the relocation must end, and the VM answer where it
# runs.
live_cell() { # cut ROLE PHASE | stall
	local kind=$1 role=${2:-destination} phase=${3:-handoff} from to h watcher r recv send i ms t0 id js jd tc
	tc=$(($(date +%s%N) / 1000))
	from=$(vs_host vm1)
	to=$(mig_other "$from")
	if [ "$role" = source ]; then h=$from; else h=$to; fi
	step "cell $kind${2:+:$role:$phase}: vm1 $from -> $to"
	if [ "$kind" = stall ]; then
		restart_with_fault "$from" "source:switchover:hold=3000"
	fi
	if [ "$kind" = cut ]; then
		# The agent's own line for the phase (a new one) is the trigger.
		local n0 log=$TB_DIR/agent-$h.log
		n0=$(wc -l <"$log")
		(for ((i = 0; i < 1000; i++)); do
			if tail -n "+$((n0 + 1))" "$log" | grep -qE "relocation [0-9]+ $role: $phase\$"; then
				echo "cut at $(date +%s%N)" >"$T_TMP/cut.at"
				cut_link 2
				break
			fi
			sleep 0.01
		done) &
		watcher=$!
		T_PIDS+=("$watcher")
	fi
	# The stream lasts until both sides have ended their relocation (at most
	# 30 s): what the source sends out of its uplink once the link is back
	# comes seconds late, and must find the receiver still counting.
	probe_start 30
	local recv=$PROBE_RECV send=$PROBE_SEND r=$T_TMP/recv.json
	move_vm "$from" "$to"
	t0=$MOVE_T0
	ok=
	wait_answer "$t0" && ok=1
	ms=${ANSWER_MS:-never}
	if [ "$kind" = cut ]; then
		wait "$watcher"
		[ -s "$T_TMP/cut.at" ] || fail "cut:$role:$phase: agent $h never logged $phase"
		rm -f "$T_TMP/cut.at"
	fi
	# Both sides end their relocation (the stall's source within its send
	# deadline, the destination after its hold).
	for i in $(seq 300); do
		js=$(jq -c "select(.outcome != \"in progress\" and .time_us > $tc)" "$(ag_journal "$from")" | tail -1)
		jd=$(jq -c "select(.outcome != \"in progress\" and .time_us > $tc)" "$(ag_journal "$to")" | tail -1)
		[ -n "$js" ] && [ -n "$jd" ] && break
		sleep 0.05
	done
	kill -INT "$send" 2>/dev/null
	wait "$send" || fail "probe send failed"
	t_wait "$recv" || true
	sleep 0.7 # the grace period (500 ms)
	mig_cleanup_port "$from"
	echo "lost runs: $(jq -c ".lost_ranges // []" "$r")"
	echo "measured: cell $kind${2:+:$role:$phase} | vm1 on $to | answered ${ms} ms after resume | probe lost $(jget "$r" lost) dup $(jget "$r" duplicated) reordered $(jget "$r" reordered) of $(jget "$T_TMP/send.json" sent) | source '$(jq -r .outcome <<<"$js")' ($(jq -r '.error // ""' <<<"$js" | cut -c1-100)) lost $(jq -r .frames.lost <<<"$js") shipped $(jq -r .frames.shipped <<<"$js") confirmed $(jq -r .frames.confirmed <<<"$js") forwarded $(jq -r .frames.forwarded <<<"$js") unconfirmed $(jq -r .frames.unconfirmed <<<"$js") | destination '$(jq -r .outcome <<<"$jd")' lost $(jq -r .frames.lost <<<"$jd")"
	[ -n "$js" ] || fail "$kind: the source's relocation never ended"
	[ -n "$jd" ] || fail "$kind: the destination's relocation never ended"
	[ -n "$ok" ] || fail "$kind: vm1 never answered on $to"
	[ "$ms" -le "$BOUND_MS" ] || fail "$kind: vm1 answered only after $ms ms (bound $BOUND_MS)"
	[ "$(tb_tor_port_of "$VM1_MAC")" = "tor-$to" ] ||
		fail "$kind: the fabric holds vm1 on '$(tb_tor_port_of "$VM1_MAC")', not tor-$to"
	[ "$(nm_flows a)" = 0 ] && [ "$(nm_flows b)" = 0 ] ||
		fail "$kind: netmove flows left: a $(nm_flows a), b $(nm_flows b)"
	[ "$(nm_progs "$to")" = 0 ] || fail "$kind: a buffer program is left on vnet-vm1 on $to"
	[ "$(jget "$r" duplicated)" = 0 ] || fail "$kind: duplicates"
	# Both agents live: one of them held every frame.
	[ "$(jget "$r" lost)" = 0 ] || fail "$kind: $(jget "$r" lost) frames lost with both agents alive"
	if [ "$(jget "$r" lost)" != 0 ] && { [ "$(jq -r .outcome <<<"$js")" = committed ] ||
		[ "$(jq -r .outcome <<<"$jd")" = committed ]; }; then
		fail "$kind: the probe lost $(jget "$r" lost) frames, a journal says committed"
	fi
	if [ "$kind" = stall ]; then
		ag_stop "$from"
		ag_start "$from" || fail "agent $from did not start again"
	fi
}

for c in "${CELLS[@]}"; do
	case $c in
	term:*) term_cell "${c#term:}" ;;
	cut:*) c=${c#cut:}; live_cell cut "${c%%:*}" "${c#*:}" ;;
	stall) live_cell stall ;;
	spill:*) SPILL_CELL=1 PROBE_SIZE=1458 cell "${c#spill:}" ;;
	*) cell "$c" ;;
	esac
done
echo "PASS"
