#!/bin/bash
# Fault: the destination migrator is killed in the middle of the copy.  The
# source notices, keeps its guest running on host a, and the guest keeps
# answering the router.
set -u
. "$(dirname "$0")/nmm.sh"
mig_init

step "testbed and agents"
nmm_setup
p=$T_TMP/fault
t_bg "$p.dst.out" "$p.dst.err" ip netns exec "$TB_HOSTB" "$NM_MIGRATE" receive \
	--listen "$TB_HOSTB_MGMT_IP:$NMM_PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
	--mac "$G_MAC" --quiet
dst=$T_BG
nmm__attach b
step "a 256 MiB guest on host a, migration to b after 2 s"
t_bg "$p.src.out" "$p.src.err" ip netns exec "$TB_HOSTA" "$NM_MIGRATE" send \
	--to "$TB_HOSTB_MGMT_IP:$NMM_PORT" --key-file "$T_TMP/mig.key" --tap "$TAP" \
	--mac "$G_MAC" --ip "$G_IP" --ram 256 --warmup-ms 2000 --run-ms 4000 --quiet
src=$T_BG
t0=$(now_us)
nmm__attach a
tb_wait_ping router "$G_IP" || fail "router cannot reach the guest"
# Round 0 of 256 MiB takes over a second here: kill the destination inside it.
sleep "$(awk -v t="$(( $(now_us) - t0 ))" 'BEGIN { d = 2.4 - t / 1e6; print (d > 0 ? d : 0) }')"
step "kill the destination mid-copy"
kill -KILL "$dst"
wait "$dst" 2>/dev/null
sleep 0.5
step "the source guest still answers"
ip netns exec "$TB_ROUTER" ping -c 5 -i 0.2 -W 1 "$G_IP" >"$T_TMP/ping" ||
	fail "the guest stopped answering after the failed migration: $(cat "$T_TMP/ping" "$p.src.err")"
grep 'packets transmitted' "$T_TMP/ping"
st=0
t_wait "$src" || st=$?
cat "$p.src.out"
grep -E 'failed|keeps running' "$p.src.err" | head -3
[ $st -ne 0 ] || fail "nm-migrate send reported success for a migration whose destination died"
grep -q 'keeps running here' "$p.src.err" || fail "the source did not say the guest keeps running"
echo "measured: destination killed mid-copy: source exit $st, guest answered $(grep -o '[0-9]* received' "$T_TMP/ping")"
echo "PASS"
