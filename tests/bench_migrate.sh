#!/bin/bash
# Compact migrator figures, every migration over loopback TCP (send ->
# receive --prealloc), measured side by side in one run:
#   1. downtime (pause -> resumed ack) and total time on each back-end that
#      runs here (emu; kvm where KVM_CREATE_VM works), 256 MiB and 1 GiB,
#      low / moderate / hot dirty rates, with and without auto-convergence,
#      with the throttle reached;
#   2. the stream with every page non-zero (the hot guest after a 4 s
#      warm-up): page throughput of the pre-copy rounds and of a stop-and-copy
#      (guest paused: the stream alone), against raw loopback TCP measured in
#      the same run, from a hot 1 MiB buffer and RAM to RAM (huge pages, the
#      receiver's RAM allocated first, as receive --prealloc does), and what
#      the ctl channel itself moves over TLS 1.3 on this machine (1 MiB
#      messages over a socketpair, both ends here: build/bench_tls).
# BENCH_RAMS, BENCH_CPUS override the sizes and back-ends.
set -u
cd "$(dirname "$0")/.."
M=build/nm-migrate
PORT=47911
key=$(mktemp)
trap 'rm -f "$key"' EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$key"

cpus=${BENCH_CPUS:-}
if [ -z "$cpus" ]; then
	cpus=emu
	if "$M" backends | grep -q '^kvm *available'; then
		cpus="emu kvm"
	else
		echo "bench: migrate kvm back-end skipped: $("$M" backends | grep '^kvm')"
	fi
fi
rams=${BENCH_RAMS:-256 1024}

# One migration over loopback TCP; prints the source's JSON summary.
migrate() { # CPU RAM_MIB ARGS...
	local cpu=$1 ram=$2 rpid
	shift 2
	"$M" receive --listen "127.0.0.1:$PORT" --key-file "$key" --cpu "$cpu" --prealloc \
		--run-ms 1 --quiet --json >/dev/null 2>&1 &
	rpid=$!
	sleep 0.3
	timeout 180 "$M" send --to "127.0.0.1:$PORT" --key-file "$key" --cpu "$cpu" --ram "$ram" \
		--run-ms 1 --quiet --json "$@" 2>/dev/null
	wait "$rpid" 2>/dev/null
}

# Working sets: low and moderate as before; hot = every page, 8192 a tick.
load_args() { # LOAD RAM_MIB
	case $1 in
	low) echo "--ws 256 --rate 4 --warmup-ms 500" ;;
	moderate) echo "--ws 4096 --rate 32 --warmup-ms 500" ;;
	hot) echo "--ws $((($2 - 1) * 256)) --rate 8192 --warmup-ms 4000" ;;
	esac
}

echo "-- downtime and total time (target 30 ms)"
for cpu in $cpus; do
	for ram in $rams; do
		for load in low moderate hot; do
			for ac in on off; do
				extra=()
				[ $ac = off ] && extra=(--no-auto-converge)
				# shellcheck disable=SC2046
				migrate "$cpu" "$ram" $(load_args "$load" "$ram") "${extra[@]}" |
					jq -r --arg l "$cpu $ram MiB $load, auto-converge $ac" '"bench: migrate \($l): downtime \(.downtime_ms) ms, total \(.total_ms) ms, rounds \(.rounds), throttle \(.throttle_per_round | map(tostring) | join(",")), \(if .converged then "converged" else "NOT converged" end)"'
			done
		done
	done
done

# Raw loopback TCP: N MiB from a hot 1 MiB buffer, and N MiB from one huge
# page region into another (receiver's pre-touched).  MB/s, one per line.
raw_tcp() { # MIB
	python3 - "$1" <<'PY'
import mmap, socket, sys, threading, time
N = int(sys.argv[1]) << 20
CH = 1 << 20
def region():
    m = mmap.mmap(-1, N)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        m.madvise(mmap.MADV_HUGEPAGE)
    for off in range(0, N, 4096):
        m[off] = 1
    return m
def run(src, dst):
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
    port = srv.getsockname()[1]
    def rx():
        c, _ = srv.accept(); n = 0
        while n < N:
            v = memoryview(dst)[n % len(dst):][:min(CH, N - n, len(dst) - n % len(dst))]
            r = c.recv_into(v)
            if not r: break
            n += r
    t = threading.Thread(target=rx); t.start()
    s = socket.create_connection(("127.0.0.1", port)); t0 = time.time(); n = 0
    while n < N:
        v = memoryview(src)[n % len(src):][:min(CH, N - n, len(src) - n % len(src))]
        s.sendall(v); n += len(v)
    s.close(); t.join()
    return N / (time.time() - t0) / 1e6
print("%.0f" % run(bytearray(CH), bytearray(CH)))
print("%.0f" % run(region(), region()))
PY
}

echo "-- stream with every page non-zero vs raw loopback TCP (same run)"
# Raw loopback TCP keeps a core busy at each end; the stream inside TLS 1.3
# adds AES-GCM encryption at one end and decryption at the other.
tls=$(build/bench_tls | sed -n 's/^bench: ctl TLS 1.3 PSK:.* \([0-9]*\) MB\/s one way$/\1/p')
for ram in $rams; do
	mapfile -t raw < <(raw_tcp "$ram")
	jq -rn --argjson t "${tls:-0}" --argjson hot "${raw[0]}" --argjson r2r "${raw[1]}" --arg l "$ram MiB" '
		"bench: stream channel \($l): ctl over TLS 1.3 (PSK) \($t) MB/s on a socketpair; raw loopback TCP \($hot) MB/s (hot buffer), \($r2r) MB/s (RAM to RAM)"'
	for cpu in $cpus; do
		# shellcheck disable=SC2046
		pre=$(migrate "$cpu" "$ram" $(load_args hot "$ram"))
		# shellcheck disable=SC2046
		stop=$(migrate "$cpu" "$ram" $(load_args hot "$ram") --stop-copy)
		jq -rn --argjson p "$pre" --argjson s "$stop" --arg l "$cpu $ram MiB" \
			--argjson hot "${raw[0]}" --argjson r2r "${raw[1]}" '
			($p.page_mbps) as $pm |
			(($s.final_pages - $s.zero_pages) * 4096 / ($s.downtime_ms * 1000)) as $sm |
			"bench: stream \($l) non-zero pages: pre-copy rounds \($pm) MB/s, stop-and-copy \($sm | . * 10 | round / 10) MB/s; raw loopback TCP \($hot) MB/s (hot 1 MiB buffer), \($r2r) MB/s (RAM to RAM, huge pages); pre-copy / raw \($pm / $hot * 100 | round)% and \($pm / $r2r * 100 | round)%, stop-and-copy / raw \($sm / $hot * 100 | round)% and \($sm / $r2r * 100 | round)%"'
	done
done
