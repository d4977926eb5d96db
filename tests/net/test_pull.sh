#!/bin/bash
# A relocation started from the destination's side, as libvirt's hook must
# (libvirt runs its migration hook on the destination only): host B's agent
# is asked to pull vm1, asks its peers, and host A, whose OVS has vm1's MAC on
# a port (external_ids:attached-mac, as libvirt records it), relocates it to B
# as if its own CLI had asked.  Under a probe stream: 0 lost, 0 duplicated,
# 0 reordered, both ways.  Refusals: a MAC no peer has, a source that is not a
# peer.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

AG_GRACE=300
step "testbed, agents, stand-in vm1 on host a"
mig_setup

for n in 1 2; do
	from=$(vs_host vm1) to=$(mig_other "$(vs_host vm1)")
	step "host $to pulls vm1 from host $from under 2000 frames/s"
	MIG_PULL=1 mig_probe vm1 2000 2 100 netmove
	r=$T_TMP/probe-netmove.json s=$T_TMP/send-netmove.json
	SENT=$(jget "$s" sent)
	LOST=$((SENT - $(jget "$r" received) + $(jget "$r" duplicated)))
	J=$(ag_last "$from")
	echo "journal (source): $J" | cut -c1-400
	echo "relocate --pull said: $(cat "$T_TMP/relocate.out")"
	echo "measured: pull $n ($from -> $to): lost $LOST of $SENT, dup $(jget "$r" duplicated), reordered $(jget "$r" reordered), max gap $(jget "$r" max_gap_ms) ms"
	[ "$(jq -r .outcome <<<"$J")" = committed ] || fail "pull $n: not committed: $J"
	[ "$(jq -r .to <<<"$J")" = "host$to" ] || fail "pull $n: relocated to $(jq -r .to <<<"$J"), not host$to"
	[ "$LOST" = 0 ] || fail "pull $n: $LOST frames lost"
	[ "$(jget "$r" duplicated)" = 0 ] || fail "pull $n: duplicates"
	[ "$(jget "$r" reordered)" = 0 ] || fail "pull $n: reordered"
done

step "refusals"
st=0
ag_nm a relocate --pull --mac 52:54:00:00:00:99 --ip 198.18.0.99 --port vnet-none \
	>"$T_TMP/p1.out" 2>&1 || st=$?
echo "a MAC no peer has: exit $st: $(cat "$T_TMP/p1.out")"
[ "$st" = 1 ] || fail "pull of an unknown MAC: exit $st, expected 1"
grep -q 'not here' "$T_TMP/p1.out" || fail "no 'not here' reason: $(cat "$T_TMP/p1.out")"
st=0
ag_nm a relocate --pull --mac "$VM1_MAC" --ip "$VM1_IP" --port vnet-vm1 --from hostz \
	>"$T_TMP/p2.out" 2>&1 || st=$?
echo "a source that is not a peer: exit $st: $(cat "$T_TMP/p2.out")"
[ "$st" = 1 ] || fail "pull from a non-peer: exit $st, expected 1"
grep -q 'not a peer' "$T_TMP/p2.out" || fail "no 'not a peer' reason: $(cat "$T_TMP/p2.out")"
echo "PASS"
