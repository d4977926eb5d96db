#!/bin/bash
# make demo: a VM stand-in live-migrates between two OVS hosts under a
# 10 kpps probe stream, once with netmove and once with only the VM's own
# RARP (what hypervisors do today); phase timeline, loss, reordering and gap
# side by side; then verify shows where the fabric delivers the VM's frames.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

RATE=${RATE:-10000}
HOLD=${HOLD:-200}
AG_GRACE=300
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "testbed: router 198.18.0.1, top-of-rack bridge, hosts A and B (own OVS each), netmoved on both"
t0=$(date +%s%N)
mig_setup
echo "up in $((($(date +%s%N) - t0) / 1000000)) ms; VM stand-in vm1 $VM1_MAC / $VM1_IP on host $(vs_host vm1)"

say "migration 1: host a -> b with netmove, $RATE pps from the router, VM paused $HOLD ms"
mig_probe vm1 "$RATE" 2 "$HOLD" netmove
cat "$T_TMP/move-netmove.log"
ja=$(tail -1 "$(ag_journal a)")
jb=$(tail -1 "$(ag_journal b)")
echo "phase timeline (ms from PREPARE on the source):"
jq -rn --argjson a "$ja" --argjson b "$jb" '
	($a.phases_us.prepare) as $t0 |
	def ms(x): if x then ((x - $t0) / 1000 | . * 10 | round / 10 | tostring) else "-" end;
	["phase", "source (A)", "destination (B)"],
	(["prepare", "blackout", "switchover", "handoff", "verify", "commit"][] as $p |
		[$p, ms($a.phases_us[$p]), ms($b.phases_us[$p])]) | @tsv' | column -t
echo
jq -rn --argjson a "$ja" --argjson b "$jb" '
	"VM paused (blackout -> resume):        \($b.vm_pause_ms) ms",
	"resume -> first announcement on wire: \($b.resume_to_announce_us) us",
	"resume -> upstream FDB moved (read):  \($b.resume_to_fdb_us) us, port \($b.upstream_fdb_port)",
	"frames buffered on A: \($a.frames.buffered), shipped to B: \($a.frames.shipped)",
	"frames buffered on B: \($b.frames.buffered), replayed into the VM on B: \($b.frames.replayed)",
	"verify from B: answered \($b.verify.answered), rtt \($b.verify.rtt_ms) ms",
	"outcome: A \($a.outcome), B \($b.outcome)"'

say "migration 2: host b -> a without netmove (the VM's own RARP only)"
mig_probe vm1 "$RATE" 2 "$HOLD" plain
cat "$T_TMP/move-plain.log"

say "side by side ($RATE pps, VM paused about $HOLD ms)"
printf '%-16s %8s %8s %6s %6s %9s %9s\n' "" sent received lost dup reordered "gap(ms)"
for m in netmove plain; do
	r=$T_TMP/probe-$m.json s=$T_TMP/send-$m.json
	printf '%-16s %8s %8s %6s %6s %9s %9s\n' "$([ $m = netmove ] && echo "with netmove" || echo "without")" \
		"$(jget "$s" sent)" "$(jget "$r" received)" \
		"$(($(jget "$s" sent) - $(jget "$r" received) + $(jget "$r" duplicated)))" \
		"$(jget "$r" duplicated)" "$(jget "$r" reordered)" "$(jget "$r" max_gap_ms)"
done

say "where does the fabric deliver frames for vm1 now? (netmove verify from each host)"
for h in a b; do
	printf 'from host %s: ' "$h"
	if ! ip -n "$(tb__host_ns "$h")" link show vnet-vm1 >/dev/null 2>&1; then
		echo "vm1 has no port on this host"
		continue
	fi
	nm "$(tb__host_ns "$h")" verify --iface uplink --listen "vnet-vm1" --mac "$VM1_MAC" \
		--ip "$VM1_IP" --gateway "$TB_ROUTER_IP" --tries 1 --timeout 300 --json 2>/dev/null |
		jq -r 'if .answered then "answered in \(.rtt_ms) ms on \(.reply_iface)" else "no reply" end' ||
		echo "no reply (vm1 has no port there)"
done
echo
echo "journal on host b: $(ag_nm b journal | wc -l) entries; netmove status:"
ag_nm b status | head -20

say "tearing down"
