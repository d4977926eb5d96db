#!/bin/bash
# netmoved --metrics: both agents serve GET /metrics on 127.0.0.1 inside
# their own host namespace (nothing leaves the testbed).  Scraped before
# and after one relocation under a probe stream (and every 50 ms during
# it, from host a): the relocation's outcome counter rose by exactly 1 on
# each agent and no other did, the frame counters rose by what each
# agent's journal record counts for it, each phase the journal timed was
# observed once in the histogram (its _sum by the journal's phase time),
# the in-flight gauge said 1 during and 0 after.  Also: 404 off /metrics,
# 405 for POST, HEAD.  Prints the scrape times.  Namespaces: nmmet-*.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init
command -v curl >/dev/null || { echo "curl not found (mk/packages.txt lists it: make deps)"; exit 77; }

TB_PREFIX=${TB_PREFIX:-nmmet-}
MPORT=9870
AG_EXTRA=(--metrics "127.0.0.1:$MPORT")
AG_GRACE=300
RATE=${RATE:-2000}
declare -A BEFORE_MS=() AFTER_MS=()
PHASES='["prepare","blackout","switchover","handoff","verify","commit","rollback"]'

# scrape HOST OUT [PATH [curl options]]: GET from inside HOST's namespace
# into OUT; prints "HTTP_CODE SECONDS CONTENT_TYPE".
scrape() {
	local h=$1 out=$2 path=${3:-/metrics}
	shift 3 2>/dev/null || shift $#
	ip netns exec "$(tb__host_ns "$h")" curl -sS --max-time 5 -o "$out" "$@" \
		-w '%{http_code} %{time_total} %{content_type}\n' "http://127.0.0.1:$MPORT$path"
}

# mval FILE SERIES: the value of one series, named with its exact labels
# (label values may hold spaces: the value is after the last one).
mval() {
	awk -v s="$2" 'substr($0, 1, 1) != "#" {
		i = length($0); while (i > 0 && substr($0, i, 1) != " ") i--
		if (substr($0, 1, i - 1) == s) { print substr($0, i + 1); found = 1 }
	} END { if (!found) print "missing" }' "$1"
}

# msum FILE PREFIX: the sum of the series whose name and labels begin so.
msum() {
	awk -v p="$2" 'substr($0, 1, 1) != "#" && index($0, p) == 1 {
		i = length($0); while (i > 0 && substr($0, i, 1) != " ") i--
		s += substr($0, i + 1)
	} END { printf "%.6f\n", s }' "$1"
}

ms() { awk -v s="$1" 'BEGIN { printf "%.2f", s * 1000 }'; }

# A scrape that answered 200 with the exposition format's content type.
scrape_ok() { # HOST OUT
	local r
	r=$(scrape "$1" "$2") || fail "scrape of host $1 failed: $r"
	[ "${r%% *}" = 200 ] || fail "scrape of host $1: HTTP ${r%% *}"
	case "${r#* * }" in "text/plain; version=0.0.4"*) ;; *) fail "scrape of host $1: content type '${r#* * }'" ;; esac
	SCRAPE_S=$(cut -d' ' -f2 <<<"$r")
}

step "testbed $TB_PREFIX, agents with --metrics 127.0.0.1:$MPORT in their namespaces, stand-in vm1 on host a"
mig_setup

step "scrape both agents before"
for h in a b; do
	scrape_ok "$h" "$T_TMP/before-$h.prom"
	BEFORE_MS[$h]=$(ms "$SCRAPE_S")
	[ "$(mval "$T_TMP/before-$h.prom" "netmove_agent_info{host=\"host$h\"}")" = 1 ] ||
		fail "host $h: no netmove_agent_info for host$h"
	for role in source destination; do
		[ "$(mval "$T_TMP/before-$h.prom" "netmove_relocations_in_flight{role=\"$role\"}")" = 0 ] ||
			fail "host $h: relocations in flight before any"
	done
	[ "$(msum "$T_TMP/before-$h.prom" netmove_relocations_total)" = 0.000000 ] ||
		fail "host $h: relocations counted before any"
done
echo "measured: scrape time before: host a ${BEFORE_MS[a]} ms, host b ${BEFORE_MS[b]} ms ($(wc -c <"$T_TMP/before-a.prom") bytes)"
grep -qx 'netmove_relocations_queued 0' "$T_TMP/before-a.prom" || fail "no queue depth 0 before the relocation"
r=$(scrape a "$T_TMP/404" /other)
[ "${r%% *}" = 404 ] || fail "GET /other: HTTP ${r%% *}, expected 404"
r=$(scrape a "$T_TMP/405" /metrics -X POST -d x)
[ "${r%% *}" = 405 ] || fail "POST /metrics: HTTP ${r%% *}, expected 405"
r=$(scrape a "$T_TMP/head" /metrics -I)
[ "${r%% *}" = 200 ] || fail "HEAD /metrics: HTTP ${r%% *}"

step "one relocation a -> b under $RATE frames/s, host a scraped every 50 ms meanwhile"
watch() { # HOST ROLE OUT: "IN_FLIGHT HTTP_CODE SECONDS" per scrape
	local f=$T_TMP/watch-$1.prom r
	while :; do
		r=$(scrape "$1" "$f" 2>/dev/null) || r="000 0"
		echo "$(mval "$f" "netmove_relocations_in_flight{role=\"$2\"}") $(cut -d' ' -f1,2 <<<"$r")"
		sleep 0.05
	done >>"$3"
}
: >"$T_TMP/during"
watch a source "$T_TMP/during" &
wpid=$!
T_PIDS+=("$wpid")
mig_probe vm1 "$RATE" 2 200 netmove
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
[ "$(vs_host vm1)" = b ] || fail "vm1 is not on host b"
n=$(wc -l <"$T_TMP/during")
[ "$n" -gt 0 ] || fail "no scrape during the relocation"
awk '$2 != 200 { bad++ } END { exit bad > 0 }' "$T_TMP/during" ||
	fail "scrapes during the relocation failed: $(sort "$T_TMP/during" | uniq -c | head)"
grep -q '^1 ' "$T_TMP/during" || fail "no scrape during it saw a source relocation in flight: $(cut -d' ' -f1 "$T_TMP/during" | sort | uniq -c)"
DURING_MAX=$(awk '{ if ($3 > m) m = $3 } END { printf "%.2f", m * 1000 }' "$T_TMP/during")
DURING_AVG=$(awk '{ s += $3 } END { printf "%.2f", s / NR * 1000 }' "$T_TMP/during")

step "scrape both agents after; compare with their journals"
for h in a b; do
	scrape_ok "$h" "$T_TMP/after-$h.prom"
	AFTER_MS[$h]=$(ms "$SCRAPE_S")
done
check_agent() { # HOST ROLE OTHER_ROLE
	local h=$1 role=$2 other=$3 j out b=$T_TMP/before-$1.prom a=$T_TMP/after-$1.prom f v0 v1 p
	local np=0 c0 c1 s0 s1 dur
	j=$(ag_last "$h")
	[ "$(jq -r .id <<<"$j")" = "$MIG_ID" ] || fail "host $h: last journal record is not relocation $MIG_ID: $j"
	[ "$(jq -r .role <<<"$j")" = "$role" ] || fail "host $h: journal role '$(jq -r .role <<<"$j")'"
	out=$(jq -r .outcome <<<"$j")
	v0=$(mval "$b" "netmove_relocations_total{role=\"$role\",outcome=\"$out\"}")
	v1=$(mval "$a" "netmove_relocations_total{role=\"$role\",outcome=\"$out\"}")
	[ "$v0" != missing ] || fail "host $h: no series for outcome '$out'"
	[ $((v1 - v0)) = 1 ] ||
		fail "host $h: relocations_total{$role,$out} went $v0 -> $v1, expected +1"
	[ "$(msum "$a" "netmove_relocations_total{role=\"$role\"")" = 1.000000 ] ||
		fail "host $h: other $role outcomes counted too: $(grep "^netmove_relocations_total{role=\"$role\"" "$a")"
	[ "$(msum "$a" "netmove_relocations_total{role=\"$other\"")" = 0.000000 ] ||
		fail "host $h: $other relocations counted"
	for f in buffered replayed lost; do
		v0=$(mval "$b" "netmove_frames_${f}_total") v1=$(mval "$a" "netmove_frames_${f}_total")
		[ $((v1 - v0)) = "$(jq -r ".frames.$f" <<<"$j")" ] ||
			fail "host $h: frames_${f}_total rose by $((v1 - v0)), its journal counts $(jq -r ".frames.$f" <<<"$j")"
	done
	for role_ in source destination; do
		[ "$(mval "$a" "netmove_relocations_in_flight{role=\"$role_\"}")" = 0 ] ||
			fail "host $h: $role_ relocations still in flight"
	done
	# Each phase the journal timed: observed once; its _sum rose by the
	# time to the next phase the journal timed (the last one runs to the
	# outcome, which the journal's record does not time to the µs).
	while read -r p dur; do
		np=$((np + 1))
		c0=$(mval "$b" "netmove_phase_duration_seconds_count{role=\"$role\",phase=\"$p\"}")
		c1=$(mval "$a" "netmove_phase_duration_seconds_count{role=\"$role\",phase=\"$p\"}")
		[ $((c1 - c0)) = 1 ] || fail "host $h: phase $p observed $((c1 - c0)) times, expected 1"
		[ "$dur" = last ] && continue
		s0=$(mval "$b" "netmove_phase_duration_seconds_sum{role=\"$role\",phase=\"$p\"}")
		s1=$(mval "$a" "netmove_phase_duration_seconds_sum{role=\"$role\",phase=\"$p\"}")
		awk -v a="$s0" -v b="$s1" -v d="$dur" 'BEGIN { x = (b - a) * 1e6 - d; exit !(x < 0.5 && x > -0.5) }' ||
			fail "host $h: phase $p's _sum rose by $s0 -> $s1 s, the journal times it $dur us"
	done < <(jq -r --argjson order "$PHASES" '.phases_us as $t | [$order[] | select($t[.] != null)] as $p |
		range(0; $p | length) as $i |
		"\($p[$i]) \(if $i + 1 < ($p | length) then $t[$p[$i + 1]] - $t[$p[$i]] else "last" end)"' <<<"$j")
	[ "$np" -ge 3 ] || fail "host $h: the journal timed only $np phases: $j"
	c0=$(msum "$b" "netmove_phase_duration_seconds_count{role=\"$role\"")
	c1=$(msum "$a" "netmove_phase_duration_seconds_count{role=\"$role\"")
	awk -v a="$c0" -v b="$c1" -v n="$np" 'BEGIN { exit !(b - a == n) }' ||
		fail "host $h: the $role histogram counts rose by $c0 -> $c1, the journal timed $np phases"
	echo "measured: host $h ($role): outcome '$out' counted once; frames buffered $(jq -r .frames.buffered <<<"$j"), replayed $(jq -r .frames.replayed <<<"$j"), lost $(jq -r .frames.lost <<<"$j") as its journal; $np phases observed"
}
check_agent a source destination
check_agent b destination source
[ "$(jq -r .frames.buffered <<<"$(ag_last a)")" -gt 0 ] ||
	fail "the source buffered nothing: the frame counters were not exercised"
echo "measured: scrape time after: host a ${AFTER_MS[a]} ms, host b ${AFTER_MS[b]} ms; during the relocation (host a, $n scrapes): avg $DURING_AVG ms, max $DURING_MAX ms"
echo "PASS"
