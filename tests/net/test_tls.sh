#!/bin/bash
# Agents in TLS certificate mode (mutual TLS under a CA made here with the
# openssl command): a relocation under a probe stream loses nothing; the
# frames shipped between the agents cross the management link encrypted (the
# probe's payload pattern is absent from a capture of it); an agent whose
# certificate names another host cannot PREPARE as host a; a peer with a
# certificate from another CA is refused.
set -u
. "$(dirname "$0")/migrate.sh"
. "$(dirname "$0")/pki.sh"
mig_init
command -v openssl >/dev/null || { echo "skip: no openssl command"; exit 77; }
command -v tcpdump >/dev/null || { echo "skip: no tcpdump"; exit 77; }


step "certificates: CA 1 (hosta, hostb, hostz), CA 2 (evila, naming hosta)"
pki_make "$T_TMP/pki" || fail "making the certificates"
AG_PKI=$T_TMP/pki

step "testbed, agents in certificate mode, stand-in vm1 on host a"
mig_setup
grep -q 'ready' "$TB_DIR/agent-a.log" || fail "agent a not ready"

step "an agent whose certificate names hostz cannot PREPARE as hosta"
ag_stop a
AG_PKI_a=$T_TMP/pki/hostz ag_start a || fail "agent a (hostz) did not restart"
st=0
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 \
	>"$T_TMP/out" 2>&1 || st=$?
echo "a (certified hostz) -> b claiming hosta: exit $st: $(cat "$T_TMP/out")"
[ $st -eq 1 ] || fail "a PREPARE from hostz claiming hosta: exit $st, expected 1"
sleep 0.2
line=$(grep 'refused PREPARE' "$TB_DIR/agent-b.log" | tail -1)
echo "host b logged: $line"
grep -q "source host hosta is not the peer's authenticated identity cert:hostz" <<<"$line" ||
	fail "host b did not log the refusal with its reason: $line"
grep -q 'hosta is not the peer' "$T_TMP/out" || fail "the reply lacks the reason: $(cat "$T_TMP/out")"
[ "$(ag_nm b --json status | jq '.relocations | length')" = 0 ] || fail "host b started a relocation"

step "the source refuses a destination whose certificate does not name it"
ag_stop a
ag_start a || fail "agent a did not restart"
ag_stop b
AG_PKI_b=$T_TMP/pki/hostz ag_start b || fail "agent b (hostz) did not restart"
st=0
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 \
	>"$T_TMP/out" 2>&1 || st=$?
echo "a -> b (certified hostz): exit $st: $(cat "$T_TMP/out")"
[ $st -eq 1 ] || fail "relocating to an agent certified as hostz: exit $st, expected 1"
grep -q 'not authenticated as the destination host' "$T_TMP/out" ||
	fail "the source does not say why: $(cat "$T_TMP/out")"
grep -q 'hostname mismatch' "$TB_DIR/agent-a.log" || fail "host a did not log the mismatch"

step "a peer with a certificate from another CA is refused"
ag_stop b
ag_start b || fail "agent b did not restart"
ag_stop a
AG_PKI_a=$T_TMP/pki/evila ag_start a || fail "agent a (CA 2) did not restart"
st=0
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 \
	>"$T_TMP/out" 2>&1 || st=$?
echo "a (CA 2) -> b: exit $st: $(cat "$T_TMP/out")"
[ $st -eq 1 ] || fail "a peer of another CA: exit $st, expected 1"
sleep 0.2
grep -q 'rejected peer' "$TB_DIR/agent-b.log" || fail "host b did not log the rejection"
echo "host b logged: $(grep 'rejected peer' "$TB_DIR/agent-b.log" | tail -1)"
[ "$(ag_nm b --json status | jq '.relocations | length')" = 0 ] || fail "host b started a relocation"

step "a PSK-mode agent cannot talk to a certificate-mode one"
ag_stop a
AG_PKI= ag_start a || fail "agent a (PSK) did not restart"
ag_nm a relocate --mac "$VM1_MAC" --ip "$VM1_IP" --to hostb --port vnet-vm1 \
	>"$T_TMP/out" 2>&1 && fail "PSK agent accepted by a certificate agent"
echo "a (PSK) -> b (certificates): $(cat "$T_TMP/out")"
ag_stop a
ag_start a || fail "agent a did not restart"
tb_wait_ping router "$VM1_IP" || fail "router cannot reach vm1 after the refused attempts"

step "relocation a -> b under 10 kpps, management link captured"
ip netns exec "$TB_HOSTB" tcpdump -i mgmt -U -s 0 -w "$T_TMP/mgmt.pcap" tcp port 7870 \
	>"$T_TMP/tcpdump.log" 2>&1 &
dump=$!
for ((i = 0; i < 100; i++)); do
	grep -q 'listening on' "$T_TMP/tcpdump.log" && break
	sleep 0.05
done
MIG_PROBE_SIZE=200 mig_probe vm1 10000 2 200 netmove
sleep 0.3
kill "$dump"
wait "$dump" 2>/dev/null
r=$T_TMP/probe-netmove.json
lost=$(jget "$r" lost) dup=$(jget "$r" duplicated) reo=$(jget "$r" reordered)
ja=$(tail -1 "$(ag_journal a)")
jb=$(tail -1 "$(ag_journal b)")
shipped=$(jq -r .frames.shipped <<<"$ja")
echo "measured: certificate mode, 10 kpps: lost $lost, dup $dup, reordered $reo, max gap $(jget "$r" max_gap_ms) ms, shipped $shipped frames a -> b"
[ "$lost" = 0 ] || fail "lost $lost frames"
[ "$dup" = 0 ] || fail "$dup duplicated"
[ "$reo" = 0 ] || fail "$reo reordered"
[ "$(jq -r .outcome <<<"$jb")" = committed ] || fail "not committed: $jb"
[ "$shipped" -gt 0 ] 2>/dev/null || fail "no frames shipped a -> b: the capture proves nothing"

step "the shipped frames are not in clear on the management link"
# The probe pads its datagrams with bytes i = 32..199: 64 of them in a row.
python3 - "$T_TMP/mgmt.pcap" <<'PY' || fail "capture check failed"
import sys
data = open(sys.argv[1], "rb").read()
pattern = bytes(range(32, 96))
print(f"capture: {len(data)} bytes; probe pattern found: {pattern in data}")
if len(data) < 200 * 20:
    sys.exit("capture too small to hold the shipped frames")
if pattern in data or bytes(range(100, 132)) in data:
    sys.exit("probe payload in clear on the management link")
PY

echo "PASS"
