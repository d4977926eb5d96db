#!/bin/bash
# netmoved under ThreadSanitizer (build/tsan/netmoved, `make test` builds it)
# through the tests that run its threads against each other: two
# relocations at once (their threads, the lease thread, status requests),
# a relocation with the agent killed and restarted (recovery), SIGTERM in
# PREPARE and in BLACKOUT (the ordered shutdown).  Every race TSAN reports
# fails the test, with the report.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TSAN_BIN=$ROOT/build/tsan/netmoved
if [ ! -x "$TSAN_BIN" ]; then
	echo "no $TSAN_BIN: build it with 'make build/tsan/netmoved'"
	exit 1
fi
dir=$(mktemp -d /tmp/netmove-tsan.XXXXXX)
trap 'rm -rf "$dir"' EXIT

export NETMOVED=$TSAN_BIN
# Reports go to files (one per process); the agents keep running after one.
export TSAN_OPTIONS="log_path=$dir/tsan halt_on_error=0 second_deadlock_stack=1"
st=0
for t in "test_concurrent.sh" "test_fault_matrix.sh destination:handoff source:blackout term:prepare term:blackout"; do
	set -- $t
	echo "-- under TSAN: $*"
	bash "$ROOT/tests/net/$1" "${@:2}" >"$dir/out" 2>&1 || {
		echo "FAIL: $* failed under TSAN:"
		tail -20 "$dir/out"
		st=1
	}
	echo "   ($(wc -l <"$dir/out") lines of output)"; grep -E "^(measured|PASS)" "$dir/out" | sed "s/^/   /"
done
n=0
for f in "$dir"/tsan.*; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	echo "== $f"
	head -60 "$f"
done
echo "measured: ThreadSanitizer reports from netmoved: $n"
[ "$n" = 0 ] || { echo "FAIL: ThreadSanitizer found races"; exit 1; }
[ "$st" = 0 ] || exit 1
echo "PASS"
