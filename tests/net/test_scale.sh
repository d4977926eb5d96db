#!/bin/bash
# Scale: N VMs asked to move at once between the two hosts, half of them
# each way, each under its own probe stream, for N in SCALE_ROUNDS (default
# 1 10; make bench runs 1 10 100 at 20 frames/s each, where this 2-core
# testbed's userspace vSwitches do not keep up yet: see the bench's line).  Each VM is moved as a hypervisor hook does it: relocate, and
# once prepared, pause, hold 200 ms, resume on the other host.  Each agent
# lets one destination take --max-per-peer (SCALE_MAX_PER_PEER, default 16,
# netmoved's) at once; the rest wait in its queue.  Every relocation commits
# and every stream loses, duplicates and reorders nothing.  Per round it
# prints (figures, not thresholds): how many ran at once at most, each
# agent's CPU time and resident memory, and the relocations' latency
# (relocate -> prepared, queue wait included; destination PREPARE ->
# commit; resume -> announce and -> upstream FDB read back), median and
# worst.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

read -r -a ROUNDS <<<"${SCALE_ROUNDS:-1 10}"
MAX=0
for n in "${ROUNDS[@]}"; do [ "$n" -gt "$MAX" ] && MAX=$n; done
RATE=${SCALE_RATE:-100}		# frames/s to each VM
AG_GRACE=300
LIMIT=${SCALE_MAX_PER_PEER:-16}	# netmoved's default
AG_EXTRA=(--max-per-peer "$LIMIT" ${SCALE_PHASE_MS:+--phase-timeout "$SCALE_PHASE_MS"})
step "testbed, agents (--max-per-peer $LIMIT), $MAX stand-ins, half on each host"
mig_setup
declare -A MAC=() IP=() RECV=() SEND=() RELOC=() PAUSE=()
for ((i = 1; i <= MAX; i++)); do
	v=s$i
	MAC[$v]=$(printf '52:54:00:01:%02x:%02x' $((i / 256)) $((i % 256)))
	IP[$v]=198.18.0.$((100 + i))
	h=$([ $((i % 2)) = 1 ] && echo a || echo b)
	vs_start "$v" "$h" --mac "${MAC[$v]}" --ip "${IP[$v]}/24" --announce --txqlen 50000 \
		--hook-blackout "$(ag_hook)" --hook-resumed "$(ag_hook)" >/dev/null ||
		fail "stand-in $v did not start on $h"
done
for ((i = 1; i <= MAX; i++)); do
	tb_wait_ping router "${IP[s$i]}" || fail "router cannot reach s$i"
done

# CPU time (s, user + system) and resident set (MiB: now, peak) of agent H.
cpu_of() { awk '{printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"'}' "/proc/${AG_PID[$1]}/stat"; }
rss_of() { awk '/^VmRSS/ {r = $2} /^VmHWM/ {h = $2} END {printf "%.1f/%.1f", r / 1024, h / 1024}' "/proc/${AG_PID[$1]}/status"; }
# Median and worst of the numbers on stdin (one per line).
med_max() { sort -n | awk '{v[NR] = $1} END {if (!NR) {print "-"; exit} printf "%s/%s", v[int((NR + 1) / 2)], v[NR]}'; }

for n in "${ROUNDS[@]}"; do
	VMS=()
	for ((i = 1; i <= n; i++)); do VMS+=("s$i"); done
	step "round: $n relocation(s) at once, both directions"
	t_round=$(($(date +%s%N) / 1000))
	for v in "${VMS[@]}"; do
		vs_prepare "$v" "$(mig_other "$(vs_host "$v")")" || fail "preparing $v's port"
	done
	for v in "${VMS[@]}"; do
		t_bg "$T_TMP/$v.json" "$T_TMP/$v.err" "$NETMOVE" -n "$(vs_ns "$v")" --json probe recv \
			--timeout 90 --idle 3000 --max-lost 100000000 --lost-ranges 4
		RECV[$v]=$T_BG
	done
	for v in "${VMS[@]}"; do
		t_wait_ready "$T_TMP/$v.err" || fail "probe recv in $v did not start"
		mig_reach "${IP[$v]}" >/dev/null
	done
	secs=$((3 + n / 8))
	for v in "${VMS[@]}"; do
		nm "$TB_ROUTER" --json probe send --to "${IP[$v]}" --rate "$RATE" --duration "$secs" \
			--port 7869 >"$T_TMP/$v.send.json" &
		SEND[$v]=$!
	done
	sleep 0.5
	cpu0a=$(cpu_of a) cpu0b=$(cpu_of b)
	# Each VM as a hypervisor moves it: ask for the relocation, and once it
	# is prepared (its turn may come later: the queue), pause, hold, resume.
	for v in "${VMS[@]}"; do
		from=$(vs_host "$v") to=$(mig_other "$(vs_host "$v")")
		(
			t0=$(date +%s%N)
			ag_nm "$from" relocate --mac "${MAC[$v]}" --ip "${IP[$v]}" --to "host$to" \
				--port "vnet-$v" >"$T_TMP/$v.reloc" 2>&1 || exit 1
			echo $((($(date +%s%N) - t0) / 1000000)) >"$T_TMP/$v.prep_ms"
			vs_ctl "$v" pause >/dev/null || exit 2
			sleep 0.2
			vs_ctl "$v" resume dst >/dev/null || exit 3
		) &
		RELOC[$v]=$!
	done
	for v in "${VMS[@]}"; do
		wait "${RELOC[$v]}" || fail "moving $v (step $?): $(cat "$T_TMP/$v.reloc")"
		to=$(mig_other "$(vs_host "$v")")
		VS_HOST[$v]=$to
		echo "$to" >"${VS_DIR[$v]}/$v.host"
	done
	for h in a b; do
		for id in $(ag_nm "$h" --json status | jq -r --argjson t "$t_round" \
			'.relocations[] | select(.role == "source" and .queued_us == null and (.phases_us.prepare // 0) > $t) | .id'); do
			mig_wait_commit "$h" "$id" || fail "relocation $id did not end on $h"
		done
	done
	cpu1a=$(cpu_of a) cpu1b=$(cpu_of b)
	for v in "${VMS[@]}"; do
		wait "${SEND[$v]}" || fail "probe send to $v"
	done
	for v in "${VMS[@]}"; do
		t_wait "${RECV[$v]}" || true
		from=$(mig_other "$(vs_host "$v")")
		tb_ovs_vsctl "$from" --if-exists del-port br-int "vnet-$v"
		vs_ctl "$v" release src >/dev/null
	done
	# This round's records: sources' and destinations' ends.
	src=$(cat "$(ag_journal a)" "$(ag_journal b)" | jq -c --argjson t "$t_round" \
		'select(.time_us > $t and .role == "source" and .outcome != "in progress")')
	dst=$(cat "$(ag_journal a)" "$(ag_journal b)" | jq -c --argjson t "$t_round" \
		'select(.time_us > $t and .role == "destination" and .outcome != "in progress")')
	committed=$(jq -r 'select(.outcome == "committed") | .mac' <<<"$src" | sort -u | grep -c .)
	jlost=$(printf '%s\n%s\n' "$src" "$dst" | jq -s '[.[] | .frames.lost // 0] | add // 0')
	lost=0 dup=0 reo=0 bad=()
	for v in "${VMS[@]}"; do
		r=$T_TMP/$v.json
		l=$(jget "$r" lost) d=$(jget "$r" duplicated) o=$(jget "$r" reordered)
		lost=$((lost + l)) dup=$((dup + d)) reo=$((reo + o))
		[ "$l" = 0 ] && [ "$d" = 0 ] && [ "$o" = 0 ] && [ "$(jget "$r" end_seen)" = true ] ||
			bad+=("$v: lost $l dup $d reordered $o end $(jget "$r" end_seen) $(jq -c .lost_ranges "$r")")
	done
	prep_ms=$(for v in "${VMS[@]}"; do cat "$T_TMP/$v.prep_ms"; done | med_max)
	# The most under way at once on one source: its records' [prepare, end].
	peak=$(jq -r '[.host, .phases_us.prepare, .time_us] | @tsv' <<<"$src" |
		awk '{print $1, $2, 1; print $1, $3, -1}' | sort -k1,1 -k2,2n |
		awk '$1 != h {h = $1; c = 0} {c += $3; if (c > m) m = c} END {print m + 0}')
	commit_ms=$(jq -r '(.phases_us.commit // empty) - .phases_us.prepare | . / 1000 | floor' <<<"$dst" | med_max)
	fdb_us=$(jq -r '.resume_to_fdb_us // empty' <<<"$dst" | med_max)
	ann_us=$(jq -r '.resume_to_announce_us // empty' <<<"$dst" | med_max)
	echo "measured: scale $n asked at once, at most $peak under way on one source: committed $committed of $n, lost $lost (journals: $jlost), dup $dup, reordered $reo (each VM $RATE frames/s); agent CPU a $(awk -v x="$cpu0a" -v y="$cpu1a" 'BEGIN{printf "%.2f", y-x}') s b $(awk -v x="$cpu0b" -v y="$cpu1b" 'BEGIN{printf "%.2f", y-x}') s, RSS now/peak a $(rss_of a) MiB b $(rss_of b) MiB; relocate -> prepared median/max $prep_ms ms, destination PREPARE -> commit median/max $commit_ms ms, resume -> announce $ann_us us, resume -> ToR FDB $fdb_us us"
	if [ "$lost" != "$jlost" ]; then
		# Where the probes and the journals disagree, VM by VM.
		for v in "${VMS[@]}"; do
			jl=$(printf '%s\n%s\n' "$src" "$dst" | jq -s --arg m "${MAC[$v]}" \
				'[.[] | select(.mac == $m) | "\(.role) \(.frames.lost)"] | join(", ")')
			[ "$(jget "$T_TMP/$v.json" lost)" = 0 ] && ! grep -q '[1-9]' <<<"$jl" ||
				echo "lost vs journal: $v: probe $(jget "$T_TMP/$v.json" lost) $(jq -c .lost_ranges "$T_TMP/$v.json"), journals $jl"
		done | head -20
	fi
	[ "$lost" = 0 ] || [ "$jlost" != 0 ] || fail "round $n: $lost frames lost, silently: no journal counts any"
	[ "$committed" = "$n" ] || fail "round $n: $committed of $n relocations committed: $(jq -c '{mac, outcome, error}' <<<"$src" | grep -v '"committed"' | head -5)"
	if [ ${#bad[@]} != 0 ]; then
		mig_drops
		for h in a b; do
			echo "vSwitch $h: $(tb_ovs_appctl "$h" coverage/show | grep -iE 'drop|upcall|lost|full' | tr -s ' ' | tr '\n' ';')"
			# Packet sockets (OVS's netdevs among them) that dropped: skmem d.
			ip netns exec "$(tb__host_ns "$h")" ss -0 -m -p 2>/dev/null | paste - - |
				grep -E ',d[1-9][0-9]*\)' | sed "s/^/packet socket drops on $h: /" | head -5
		done
		for v in $(printf '%s\n' "${bad[@]}" | cut -d: -f1 | head -2); do
			ip -n "$(vs_ns "$v")" -s -j link show | jq -c '.[] | {ifname, rx: .stats64.rx, tx: .stats64.tx}'
			grep -iE 'drop|lost|full' "${VS_DIR[$v]}/$v.log" | tail -3
		done
		for v in $(printf '%s\n' "${bad[@]}" | cut -d: -f1 | head -3); do
			jq -c --arg m "${MAC[$v]}" 'select(.mac == $m) | {mac, role, phases_us, resumed_us, blackout_late_us, frames: (.frames | {buffered, shipped, received, replayed, forwarded}), tap_queue, outcome, error}' <<<"$src
$dst"
		done
		fail "round $n: streams that lost, duplicated or reordered frames: ${bad[*]:0:5}"
	fi
done
echo "PASS"
