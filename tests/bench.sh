#!/bin/bash
# make bench: speed figures measured side by side in one run (not pass/fail).
#   0. many relocations asked at once (1, 10, 100 VMs): lost, CPU, memory,
#      latency (tests/net/test_scale.sh);
#   1. relocation on the testbed: frames lost with and without netmove at 10
#      and 50 kpps, largest gap / pause, resume -> first announcement, resume
#      -> upstream FDB moved and read back (from the agents' journals);
#   1b. the control channel (build/bench_tls): TLS 1.3 handshake (PSK and
#      certificates), 64-byte round trip, 1 MiB one-way throughput; and a
#      relocation's latency over it, PSK vs certificates: relocate ->
#      "prepared" (connect, TLS handshake, PREPARE both ways) and the
#      destination's resume -> commit;
#   2. the eBPF buffer: BUFFER overhead per frame, replay rate;
#   3. OVS: one VM's flows in-process vs ovs-ofctl, 1000 VMs in one bundle;
#   4. the compact migrator (tests/bench_migrate.sh): downtime and total time
#      on each back-end that runs here, three dirty rates, with and without
#      auto-convergence; the non-zero-page stream vs raw loopback TCP.
set -u
cd "$(dirname "$0")/.."
. tests/net/migrate.sh
. tests/net/pki.sh
t_need_root

echo "== control channel: TLS 1.3 handshake, round trip, throughput (build/bench_tls)"
pki=$(mktemp -d /tmp/nm-bench-pki.XXXXXX)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench \
	-addext subjectAltName=DNS:bench -keyout "$pki/key.pem" -out "$pki/cert.pem" 2>/dev/null &&
	cp "$pki/cert.pem" "$pki/ca-cert.pem" && build/bench_tls --pki-dir "$pki"
rm -rf "$pki"

echo "== eBPF buffer (tests/unit/test_buffer, private namespace)"
build/unit/test_buffer 2>&1 | grep -E '^measured' | sed 's/^/bench: buffer /'

echo "== OVS programming"
bash tests/bench_ovs.sh 2>&1 | grep -E '^bench'

echo "== compact migrator (every back-end that runs here)"
bash tests/bench_migrate.sh

echo "== a relocation's latency over TLS: PSK vs certificates (5 relocations each, alternating)"
(
	trap 'ag_stop_all; vs_stop_all; t_cleanup; tb__down_all' EXIT
	AG_GRACE=300
	mig_setup >/dev/null
	pki_make "$T_TMP/pki" || { echo "bench: no certificates"; exit 0; }
	for mode in psk certs; do
		ag_stop_all
		if [ "$mode" = certs ]; then AG_PKI=$T_TMP/pki; else unset AG_PKI; fi
		ag_start >/dev/null || { echo "bench: agents ($mode) did not start"; continue; }
		prep=() commit=()
		for i in 1 2 3 4 5; do
			from=$(vs_host vm1)
			mig_probe vm1 1000 1 50 netmove
			js=$(ag_last "$from") jd=$(ag_last "$(vs_host vm1)")
			prep+=("$(jq -rn --argjson s "$js" --argjson d "$jd" '($d.phases_us.prepare - $s.phases_us.prepare) / 1000')")
			commit+=("$(jq -r '(.phases_us.commit - .resumed_us) / 1000' <<<"$jd")")
		done
		echo "bench: relocation over TLS ($mode): source PREPARE -> destination has it (connect, handshake, message) ${prep[*]} ms; destination resume -> commit ${commit[*]} ms"
	done
)

echo "== many relocations asked at once (tests/net/test_scale.sh: 1, 10, 100 VMs, 20 frames/s each)"
SCALE_ROUNDS="1 10 100" SCALE_RATE=20 bash tests/net/test_scale.sh 2>&1 | grep -E '^(measured|FAIL)' | sed 's/^/bench: /'

echo "== relocation on the testbed (VM paused 200 ms, 2 s streams)"
(
	trap 'ag_stop_all; vs_stop_all; t_cleanup; tb__down_all' EXIT
	AG_GRACE=300
	mig_setup >/dev/null
	for rate in 10000 50000; do
		for mode in netmove plain; do
			mig_probe vm1 "$rate" 2 200 "$mode"
			r=$T_TMP/probe-$mode.json s=$T_TMP/send-$mode.json
			lost=$(($(jget "$s" sent) - $(jget "$r" received) + $(jget "$r" duplicated)))
			line="bench: relocation $rate pps $mode: lost $lost of $(jget "$s" sent), reordered $(jget "$r" reordered), max gap $(jget "$r" max_gap_ms) ms"
			if [ "$mode" = netmove ]; then
				jb=$(ag_last "$(vs_host vm1)")
				line+=$(jq -rn --argjson b "$jb" --arg g "$(jget "$r" max_gap_ms)" \
					'", pause \($b.vm_pause_ms) ms, gap/pause \(($g | tonumber) / $b.vm_pause_ms * 1000 | round / 1000), resume->detector event read \($b.resume_to_seen_us // "-") us, resume->announce \($b.resume_to_announce_us) us, resume->ToR FDB read back \($b.resume_to_fdb_us) us"')
			fi
			echo "$line"
		done
	done
)
