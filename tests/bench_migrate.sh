#!/bin/bash
# Compact migrator figures (emulated back-end): downtime (pause -> resume) and
# total time for 64 and 256 MiB guests at a low and a moderate dirty rate,
# pre-copy against stop-and-copy, pages per round; and the stream's transfer
# rate over loopback TCP against raw loopback TCP measured in the same run.
set -u
cd "$(dirname "$0")/.."
M=build/nm-migrate
row() { # row LABEL ARGS...
	local label=$1
	shift
	timeout 120 "$M" selftest --json --quiet "$@" 2>/dev/null |
		jq -r --arg l "$label" '"bench: migrate \($l) \(.mode): downtime \(.downtime_ms) ms, total \(.total_ms) ms, rounds \(.rounds), pages per round \(.pages_per_round | map(tostring) | join(",")) then \(.final_pages), \(if .converged then "converged" else "NOT converged" end)"'
}
for ram in 64 256; do
	for load in "low:--ws 256 --rate 4" "moderate:--ws 4096 --rate 32"; do
		# shellcheck disable=SC2086
		row "${ram} MiB ${load%%:*}" --ram "$ram" ${load#*:}
		# shellcheck disable=SC2086
		row "${ram} MiB ${load%%:*}" --ram "$ram" ${load#*:} --stop-copy
	done
done

key=$(mktemp)
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key"
"$M" receive --listen 127.0.0.1:47911 --key-file "$key" --run-ms 200 --json >/dev/null 2>&1 &
rpid=$!
sleep 0.3
"$M" send --to 127.0.0.1:47911 --key-file "$key" --ram 256 --ws 4096 --rate 32 --json --quiet 2>/dev/null |
	jq -r '"bench: migrate 256 MiB over loopback TCP: \(.bytes) bytes in \(.total_ms) ms, stream \(.mbps) MB/s, downtime \(.downtime_ms) ms"'
wait "$rpid" 2>/dev/null
rm -f "$key"
python3 - <<'PY'
import socket, threading, time
N = 512 << 20
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
def rx():
    c, _ = srv.accept(); n = 0
    while n < N:
        b = c.recv(1 << 20)
        if not b: break
        n += len(b)
t = threading.Thread(target=rx); t.start()
s = socket.create_connection(("127.0.0.1", port)); buf = b"\0" * (1 << 20); t0 = time.time()
for _ in range(N >> 20): s.sendall(buf)
s.close(); t.join()
print("bench: migrate raw loopback TCP (same machine, same run): %.0f MB/s" % (N / (time.time() - t0) / 1e6))
PY
