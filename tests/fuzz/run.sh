#!/bin/bash
# Run each libFuzzer harness for a bounded time.
#   tests/fuzz/run.sh SECONDS FUZZER...
# Prints one line per harness and exits non-zero if any harness crashed.
set -u
secs=$1
shift
corpus_root=${FUZZ_CORPUS:-build/fuzz-corpus}
failed=0
for f in "$@"; do
	name=$(basename "$f")
	corpus="$corpus_root/$name"
	seeds="tests/fuzz/seeds/$name"
	mkdir -p "$corpus"
	log="$corpus_root/$name.log"
	dirs=("$corpus")
	[ -d "$seeds" ] && dirs+=("$seeds")
	if "$f" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$corpus_root/$name-" "${dirs[@]}" >"$log" 2>&1; then
		runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || echo '?')
		echo "fuzz $name: ok, $runs runs in ${secs}s"
	else
		echo "fuzz $name: CRASH (see $log)"
		tail -30 "$log"
		failed=1
	fi
done
exit $failed
