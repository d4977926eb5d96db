# shellcheck shell=bash
# Shared by the network test scripts: the netmove binary, assertions and
# background-process bookkeeping.  Source after lib.sh.

NETMOVE=${NETMOVE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/netmove}
T_PIDS=()
T_TMP=$(mktemp -d /tmp/netmove-test.XXXXXX)

t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${T_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T_TMP"
}

# Install cleanup of background processes, temp files and testbeds.
t_trap() {
	trap 't_cleanup; tb__down_all' EXIT
	trap 'exit 130' INT TERM
}

t_need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "needs root (network namespaces, Open vSwitch)"
		exit 77
	fi
	[ -x "$NETMOVE" ] || { echo "FAIL: $NETMOVE not built"; exit 1; }
}

fail() {
	echo "FAIL: $*"
	exit 1
}

step() {
	echo "-- $*"
}

# nm NS args...: run netmove inside a testbed namespace.
nm() {
	local ns=$1
	shift
	"$NETMOVE" -n "$ns" "$@"
}

# jget FILE KEY: a top-level value of a JSON document.
jget() {
	jq -r ".$2" "$1"
}

# t_jq JSON FILTER [JQ-OPTION...]: true if JSON holds a document and FILTER
# is true of it.  Not jq -e alone: jq 1.6 exits 0 when its input is empty,
# so a check of a record that was never written would pass.
t_jq() {
	local doc=$1 filter=$2
	shift 2
	[ -n "${doc//[[:space:]]/}" ] && jq -e "$@" "$filter" <<<"$doc" >/dev/null
}

# t_bg OUT ERR cmd...: start cmd in the background, remember its PID in T_BG.
t_bg() {
	local out=$1 err=$2
	shift 2
	# Emptied here, not in the child: a caller that waits for a line in
	# them (t_wait_ready) must not find the last run's.
	: >"$out"
	: >"$err"
	"$@" >"$out" 2>"$err" &
	T_BG=$!
	T_PIDS+=("$T_BG")
}

# t_wait_match FILE REGEX [SECONDS]: wait for a line of FILE to match.
# t_stop_in ARRAY KEY [SIG]: stop the process whose PID is ARRAY[KEY]
# (SIGTERM by default), wait for it and forget it; nothing if there is none.
t_stop_in() {
	local -n t__pids=$1
	local pid=${t__pids[$2]:-}
	[ -n "$pid" ] || return 0
	kill "-${3:-TERM}" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "t__pids[$2]"
	return 0
}

t_wait_match() {
	local i n=$((${3:-5} * 50))
	for ((i = 0; i < n; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.02
	done
	return 1
}

# t_wait_ready FILE [SECONDS]: wait for "ready" to appear in FILE.
t_wait_ready() {
	t_wait_match "$1" '^ready' "${2:-5}"
}

# t_wait_line FILE [SECONDS]: wait for FILE to hold a first line.
t_wait_line() {
	t_wait_match "$1" '.' "${2:-5}"
}

# t_wait PID: wait for a background process, return its exit status.
t_wait() {
	local st=0
	wait "$1" || st=$?
	return $st
}

now_us() {
	echo $(($(date +%s%N) / 1000))
}
