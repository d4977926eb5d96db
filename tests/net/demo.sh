#!/bin/bash
# make demo: first the real thing, a Linux guest under QEMU (TCG) moved by
# QEMU's own migration with netmove fed by nm-qemu, then without netmove,
# side by side with netmove's phase timeline (tests/qemu/test_qemu_guest.sh
# with DEMO=1; DEMO_QEMU_MIGRATIONS, default 1, migrations each way; 0 skips
# it).  Then the compact migrator moves a live guest (its own NIC on a tap,
# answering ARP, ping and echoing a 10 kpps probe stream from the router)
# from host A to host B of the testbed, once with netmove built in and once
# without; live progress, the relocation's phase timeline, and the loss,
# reordering and gap side by side; then verify shows where the fabric
# delivers the guest's frames.
# NMM_CPU=kvm runs the guest on KVM (where KVM_CREATE_VM works) instead of
# the emulated CPU; the demo says which it uses.
set -u
. "$(dirname "$0")/nmm.sh"
mig_init
nmm_need_cpu

if [ "${DEMO_QEMU_MIGRATIONS:-1}" != 0 ]; then
	printf '\n\033[1m== a Linux guest under real QEMU: QEMU migrates it, with netmove (nm-qemu) and without\033[0m\n'
	DEMO=1 MIGRATIONS=${DEMO_QEMU_MIGRATIONS:-1} bash "$(dirname "$0")/../qemu/test_qemu_guest.sh" 2>&1 |
		grep -vE '^journal' || echo "the QEMU part did not finish (see above)"
	printf '\n\033[1m== the compact migrator (its own tiny guest), with netmove built in and without\033[0m\n'
fi

# This small guest switches over in a few ms; the hold models a slower
# switchover (a large guest, a busy host) so there is a blackout to survive.
HOLD_MS=${HOLD_MS:-200}
NMM_PROGRESS=1
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Show the migrator's progress line while it runs: rewritten in place on a
# terminal, one line per change otherwise.
watch_progress() { # FILE
	(
		last=
		while sleep 0.25; do
			[ -f "$1" ] || continue
			line=$(tr '\r' '\n' <"$1" | grep '^round' | tail -1 | sed 's/ *$//')
			[ -n "$line" ] && [ "$line" != "$last" ] || continue
			if [ -t 1 ]; then printf '\r  %s' "$line"; else printf '  %s\n' "$line"; fi
			last=$line
		done
	) &
	WATCH=$!
	T_PIDS+=("$WATCH")
}

say "migrator CPU back-end: $NMM_CPU (this host: $("$NM_MIGRATE" backends | tr '\n' ';' | sed 's/  */ /g; s/;$//; s/;/; /g'))"
[ "$NMM_CPU" = emu ] && "$NM_MIGRATE" backends | grep -q '^kvm *available' &&
	echo "KVM runs here too: NMM_CPU=kvm make demo runs the same on KVM"
say "testbed: router 198.18.0.1, top-of-rack bridge, hosts A and B (own OVS each), netmoved on both"
t0=$(date +%s%N)
nmm_setup
echo "up in $((($(date +%s%N) - t0) / 1000000)) ms"

for mode in netmove plain; do
	if [ $mode = netmove ]; then
		say "migration A -> B with netmove: a 64 MiB guest on $NMM_CPU ($G_MAC, $G_IP) under $RATE pps, echoed, switchover held $HOLD_MS ms"
	else
		say "the same migration without netmove (what hypervisors do today)"
	fi
	watch_progress "$T_TMP/nmm-$mode.src.err"
	nmm_migrate $mode
	kill "$WATCH" 2>/dev/null
	echo
	sed 's/^/  /' "$T_TMP/nmm-$mode.src.out"
	if [ $mode = netmove ]; then
		ja=$(ag_last a)
		jb=$(ag_last b)
		echo "phase timeline (ms from PREPARE on the source):"
		jq -rn --argjson a "$ja" --argjson b "$jb" '
			($a.phases_us.prepare) as $t0 |
			def ms(x): if x then ((x - $t0) / 1000 | . * 10 | round / 10 | tostring) else "-" end;
			["phase", "source(A)", "destination(B)"],
			(["prepare", "blackout", "switchover", "handoff", "verify", "commit"][] as $p |
				[$p, ms($a.phases_us[$p]), ms($b.phases_us[$p])]) | @tsv' | column -t | sed 's/^/  /'
		jq -rn --argjson a "$ja" --argjson b "$jb" '
			"  guest paused (blackout -> resume): \($b.vm_pause_ms) ms",
			"  resume -> first announcement:      \($b.resume_to_announce_us) us",
			"  resume -> ToR FDB moved, read back: \($b.resume_to_fdb_us) us (port \($b.upstream_fdb_port))",
			"  frames buffered on A \($a.frames.buffered), shipped \($a.frames.shipped); buffered on B \($b.frames.buffered); replayed on B \($b.frames.replayed)",
			"  verify from B: answered \($b.verify.answered); outcome A \($a.outcome), B \($b.outcome)"'
		grep -h 'nic:' "$T_TMP/nmm-$mode.dst.err" | sed 's/^/  /'
	fi
done

say "side by side ($RATE pps from the router, echoed by the guest)"
printf '  %-16s %8s %8s %6s %9s %9s\n' "" sent echoed lost reordered "gap(ms)"
for m in netmove plain; do
	printf '  %-16s %8s %8s %6s %9s %9s\n' "$([ $m = netmove ] && echo "with netmove" || echo "without")" \
		"$(jget "$T_TMP/nmm-$m.send.json" sent)" "$(jget "$T_TMP/nmm-$m.recv.json" received)" \
		"$(nmm_lost $m)" "$(jget "$T_TMP/nmm-$m.recv.json" reordered)" \
		"$(jget "$T_TMP/nmm-$m.recv.json" max_gap_ms)"
done

say "netmove journal on host b (last entry)"
ag_nm b journal --limit 1 | jq -c '{mac, from, to, outcome, vm_pause_ms, frames, verify, upstream_fdb_port}'
svg=$(cd "$(dirname "$0")/../.." && pwd)/build/demo-timeline.svg
id=$(ag_nm b journal --limit 1 | jq -r .id)
if ag_nm b journal --svg "$svg" --id "$id" --also "$(ag_journal a)" 2>/dev/null; then
	say "the relocation's timeline (both hosts' phases, the VM's pause, announce, FDB, frames over time): $svg"
fi

say "tearing down"
