#!/bin/bash
# netmove plan: placement advice for vm1 (on host a, under a 2000 frames/s
# probe stream) among 10 candidates, asked of host a's agent.  Besides host
# b's own agent, host b's namespace runs further agents with other names
# and ports as more candidates: three healthy ones (one with a 32 MiB ring,
# two with 2 MiB), one whose gateway does not exist, one whose uplink is an
# isolated link (no bridge port, no gateway, no VM there), one with another
# key, one that is not the host asked for; one configured peer has nothing
# listening and one candidate is no peer at all.  Each verdict and its
# reasons are the expected ones; the rate measured is the probe's; a longer
# blackout drops the small rings, then every one, for their buffer; the VM's
# MAC never shows on host b's port in the ToR's FDB (monitored while the
# plans run) while the probe identity does; a datapath flow limit rejects
# host b for its flows.  Figures: the plan's time for 10 candidates and for 1.
set -u
. "$(dirname "$0")/migrate.sh"
mig_init

RATE=2000
XB=$TB_HOSTB_MGMT_IP
# Further candidates in host b's namespace: NAME=PORT (nothing on 7879).
declare -A XPORT=([hostc1]=7871 [hostc2]=7872 [hostc3]=7873 [hostnogw]=7874 [hostiso]=7875
	[hostbadkey]=7876 [hostimp]=7877 [hostdown]=7879)
AG_EXTRA=()
for h in "${!XPORT[@]}"; do
	AG_EXTRA+=(--peer "$h=$XB:${XPORT[$h]}")
done
CANDS=hostb,hostc1,hostc2,hostc3,hostnogw,hostiso,hostbadkey,hostimp,hostdown,hostz

step "testbed, agents a and b, vm1 on host a"
mig_setup

# xagent NAME RING_MIB [netmoved args...]: another agent in host b's
# namespace, listening as candidate NAME (PID kept with the others).
xagent() {
	local name=$1 ring=$2 port
	shift 2
	port=${XPORT[$name]}
	ip netns exec "$TB_HOSTB" "$NETMOVED" --listen "$XB:$port" --peer "hosta=$TB_HOSTA_MGMT_IP:7870" \
		--socket "$TB_DIR/agent-$name.sock" --ofctl "unix:$TB_DIR/hostb/br-int.mgmt" \
		--ovs-ctl "$TB_DIR/hostb/ovs-vswitchd.ctl" --ovsdb "unix:$TB_DIR/hostb/db.sock" \
		--journal "$TB_DIR/journal-$name.jsonl" --ring-mib "$ring" --no-port-watch "$@" \
		>>"$TB_DIR/agent-$name.log" 2>&1 &
	AG_PID[$name]=$!
}
step "further candidates in host b's namespace"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T_TMP/other.key"
ip -n "$TB_HOSTB" link add iso0 type veth peer name iso1 || fail "isolated link"
ip -n "$TB_HOSTB" link set iso0 up && ip -n "$TB_HOSTB" link set iso1 up || fail "isolated link up"
K=(--key-file "$TB_DIR/agent.key")
xagent hostc1 32 --name hostc1 "${K[@]}" --uplink uplink --gateway "$TB_ROUTER_IP"
xagent hostc2 2 --name hostc2 "${K[@]}" --uplink uplink --gateway "$TB_ROUTER_IP"
xagent hostc3 2 --name hostc3 "${K[@]}" --uplink uplink --gateway "$TB_ROUTER_IP"
xagent hostnogw 2 --name hostnogw "${K[@]}" --uplink uplink --gateway 198.18.0.254
xagent hostiso 2 --name hostiso "${K[@]}" --uplink iso0 --gateway "$TB_ROUTER_IP"
xagent hostbadkey 2 --name hostbadkey --key-file "$T_TMP/other.key" --uplink uplink \
	--gateway "$TB_ROUTER_IP"
# Answers at hostimp's address, but is another host.
xagent hostimp 2 --name hostother "${K[@]}" --uplink uplink --gateway "$TB_ROUTER_IP"
for h in hostc1 hostc2 hostc3 hostnogw hostiso hostbadkey hostimp; do
	t_wait_match "$TB_DIR/agent-$h.log" 'ready: socket' 5 ||
		fail "agent $h did not start: $(tail -3 "$TB_DIR/agent-$h.log")"
done

step "vm1 under a probe stream of $RATE frames/s from the router"
t_bg "$T_TMP/recv.json" "$T_TMP/recv.err" "$NETMOVE" -n "$(vs_ns vm1)" --json probe recv \
	--timeout 60 --idle 3000 --max-lost 100000000
t_wait_ready "$T_TMP/recv.err" || fail "probe recv did not start"
mig_reach "$VM1_IP"
t_bg "$T_TMP/send.json" "$T_TMP/send.err" "$NETMOVE" -n "$TB_ROUTER" --json probe send \
	--to "$VM1_IP" --rate "$RATE" --duration 30
sleep 0.5
[ "$(tb_tor_port_of "$VM1_MAC")" = tor-a ] || fail "the ToR does not have vm1 on tor-a to begin with"
t_bg "$T_TMP/fdb.log" "$T_TMP/fdb.err" ip netns exec "$TB_TOR" bridge monitor fdb
FDBMON=$T_BG

# Whether the ToR ever learned vm1's MAC on host b's port since the monitor
# began (a probe sent as the VM would move it there).
fdb_check() {
	if grep -i "^$VM1_MAC dev tor-b" "$T_TMP/fdb.log"; then
		fail "vm1's MAC was learned on tor-b while planning"
	fi
	[ "$(tb_tor_port_of "$VM1_MAC")" = tor-a ] || fail "the ToR has vm1 on $(tb_tor_port_of "$VM1_MAC")"
}

# plan OUT [args...]: netmove plan for vm1 on host a, JSON into OUT; its
# exit status in ST and its wall time (ms) in WALL.
plan() {
	local out=$1 t0
	shift
	t0=$(date +%s%N)
	ST=0
	ag_nm a --json plan --mac "$VM1_MAC" --ip "$VM1_IP" --port vnet-vm1 "$@" >"$out" \
		2>"$out.err" || ST=$?
	WALL=$((($(date +%s%N) - t0) / 1000000))
}
# reasons OUT HOST: the reason keys of HOST's entry, comma-separated.
reasons() { jq -r --arg h "$2" '.candidates[] | select(.host == $h) | .reasons | keys | join(",")' "$1"; }
verdict() { jq -r --arg h "$2" '.candidates[] | select(.host == $h) | .verdict' "$1"; }
rank() { jq -r --arg h "$2" '.candidates[] | select(.host == $h) | .rank' "$1"; }

step "plan: 10 candidates, blackout 1000 ms"
P=$T_TMP/plan10.json
plan "$P" --candidates "$CANDS"
sleep 0.1
fdb_check
[ "$ST" = 0 ] || fail "plan: exit $ST: $(cat "$P.err")"
jq -r '.candidates[] | "  \(.rank // "-") \(.host) \(.verdict): \(.reasons | to_entries | map("\(.key): \(.value)") | join("; "))"' "$P"
jq -c '.vm, .source' "$P"
[ "$(jq '.candidates | length' "$P")" = 10 ] || fail "not 10 entries"
[ "$(jq -r .accepted "$P")" = 4 ] || fail "$(jq -r .accepted "$P") accepted, expected 4"
declare -A WANT=([hostb]="" [hostc1]="" [hostc2]="" [hostc3]="" [hostnogw]=gateway
	[hostiso]=bridge,gateway,l2_domain [hostbadkey]=not_authenticated
	[hostimp]=not_authenticated [hostdown]=unreachable [hostz]=not_peer)
for h in "${!WANT[@]}"; do
	got=$(reasons "$P" "$h")
	[ "$got" = "${WANT[$h]}" ] || fail "$h: reasons '$got', expected '${WANT[$h]}'"
	[ "$(verdict "$P" "$h")" = "$([ -z "${WANT[$h]}" ] && echo accepted || echo rejected)" ] ||
		fail "$h: verdict $(verdict "$P" "$h")"
done
jq -e '.candidates[] | select(.host == "hostdown") | .reasons.unreachable | test("Connection refused")' "$P" \
	>/dev/null || fail "hostdown's reason does not say the connection was refused"
jq -e '.candidates[] | select(.host == "hostnogw") | .reasons.gateway | test("198.18.0.254")' "$P" \
	>/dev/null || fail "hostnogw's reason does not name its gateway"
# Enough buffer counts alike (8x the need): the 2 MiB rings (4.4x) come last.
for h in hostc2 hostc3; do
	r=$(rank "$P" "$h")
	[ "$r" = 3 ] || [ "$r" = 4 ] || fail "$h (2 MiB ring) ranks $r, expected 3 or 4"
done
[ "$(jq -r '.vm.answers_arp_probe' "$P")" = true ] || fail "vm1 did not answer the probe on its port"
jq -e '.candidates[] | select(.host == "hostb") | .facts | .gateway_rtt_ms != null and
	.vm_rtt_ms != null and .datapath_flow_limit > 0 and .buffer_program == "loads"' "$P" >/dev/null ||
	fail "hostb's facts are incomplete: $(jq -c '.candidates[] | select(.host == "hostb") | .facts' "$P")"
MEAS=$(jq -r .vm.rate_fps "$P")
echo "measured: rate towards vm1 $MEAS frames/s (probe $RATE/s), mean frame $(jq -r .vm.mean_frame_bytes "$P") bytes"
awk -v m="$MEAS" -v r="$RATE" 'BEGIN { exit !(m >= 0.7 * r && m <= 1.3 * r) }' ||
	fail "measured $MEAS frames/s, not within 30% of $RATE"
T10=$(jq -r .took_ms "$P")
echo "figure: netmove plan, 10 candidates: $T10 ms in the agent, $WALL ms for the command"
awk -v t="$T10" 'BEGIN { exit !(t < 10000) }' || fail "plan took $T10 ms"

step "plan: 1 candidate; the human form; an agent that is not there"
plan "$T_TMP/plan1.json" --candidates hostb
[ "$ST" = 0 ] || fail "plan hostb: exit $ST: $(cat "$T_TMP/plan1.json.err")"
echo "figure: netmove plan, 1 candidate: $(jq -r .took_ms "$T_TMP/plan1.json") ms in the agent, $WALL ms for the command"
ag_nm a plan --mac "$VM1_MAC" --ip "$VM1_IP" --port vnet-vm1 --candidates hostb,hostdown \
	>"$T_TMP/human.out" 2>&1 || fail "plan (human): exit $?: $(cat "$T_TMP/human.out")"
grep -q "^  - $" "$T_TMP/human.out" && grep -q '^    verdict: accepted$' "$T_TMP/human.out" &&
	grep -q '^      unreachable: its netmoved is unreachable' "$T_TMP/human.out" ||
	fail "the human form lacks a verdict or a reason: $(head -40 "$T_TMP/human.out")"
sed 's/^/    /' "$T_TMP/human.out"
st=0
"$NETMOVE" plan --socket "$T_TMP/none.sock" --mac "$VM1_MAC" --ip "$VM1_IP" --port vnet-vm1 \
	--candidates hostb >/dev/null 2>&1 || st=$?
[ "$st" = 3 ] || fail "plan with no agent: exit $st, expected 3"
st=0
ag_nm a plan --mac "$VM1_MAC" --ip "$VM1_IP" --port vnet-none --candidates hostb \
	>"$T_TMP/noport.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q 'no port vnet-none' "$T_TMP/noport.out" ||
	fail "plan for a port not here: exit $st: $(cat "$T_TMP/noport.out")"

step "plan: blackout 10 s, then 120 s"
P=$T_TMP/plan-10s.json
plan "$P" --candidates "$CANDS" --blackout-ms 10000
[ "$ST" = 0 ] || fail "plan 10 s: exit $ST: $(cat "$P.err")"
jq -r '.candidates[] | select(.facts != null) | "  \(.rank // "-") \(.host) \(.verdict) capacity \(.facts.capacity_frames) headroom \(.facts.headroom)"' "$P"
echo "need_frames $(jq -r .need_frames "$P")"
[ "$(rank "$P" hostc1)" = 1 ] || fail "hostc1 (32 MiB) ranks $(rank "$P" hostc1), expected 1"
[ "$(rank "$P" hostb)" = 2 ] || fail "hostb (16 MiB) ranks $(rank "$P" hostb), expected 2"
for h in hostc2 hostc3; do
	[ "$(reasons "$P" "$h")" = buffer ] || fail "$h: reasons '$(reasons "$P" "$h")', expected buffer"
done
P=$T_TMP/plan-120s.json
plan "$P" --candidates hostb,hostc1 --blackout-ms 120000
[ "$ST" = 1 ] || fail "plan 120 s: exit $ST, expected 1 (none accepted): $(cat "$P.err")"
for h in hostb hostc1; do
	[ "$(reasons "$P" "$h")" = buffer ] || fail "$h at 120 s: reasons '$(reasons "$P" "$h")', expected buffer"
done
jq -r '.candidates[] | "  \(.host): \(.reasons.buffer)"' "$P"

step "the fabric: vm1's MAC stayed on tor-a, the probe identity came from tor-b"
sleep 0.2
kill "$FDBMON" 2>/dev/null
wait "$FDBMON" 2>/dev/null
echo "ToR FDB events while planning: $(tr "\n" ";" <"$T_TMP/fdb.log")"
fdb_check
PM=$(jq -r '.candidates[] | select(.host == "hostb") | .facts.probe_mac' "$T_TMP/plan10.json")
[ "$PM" = "$(ip netns exec "$TB_HOSTB" cat /sys/class/net/uplink/address)" ] ||
	fail "hostb's probe identity $PM is not its uplink's MAC"
[ "$(tb_tor_port_of "$PM")" = tor-b ] || fail "the probe identity $PM is not on tor-b: $(tb_tor_port_of "$PM")"
echo "vm1 $VM1_MAC on tor-a; probe identity $PM on tor-b"

step "host b's datapath flow limit at 50: rejected for its flows"
tb_ovs_vsctl b set Open_vSwitch . other_config:flow-limit=50 || fail "flow-limit"
for ((i = 0; i < 60; i++)); do
	tb_ovs_appctl b upcall/show | grep -q '(limit 50)' && break
	sleep 0.1
done
tb_ovs_appctl b upcall/show | grep -m1 flows
plan "$T_TMP/plan-flows.json" --candidates hostb
tb_ovs_vsctl b remove Open_vSwitch . other_config flow-limit || fail "flow-limit back"
[ "$ST" = 1 ] || fail "plan with a flow limit of 50: exit $ST, expected 1"
[ "$(reasons "$T_TMP/plan-flows.json" hostb)" = flows ] ||
	fail "hostb: reasons '$(reasons "$T_TMP/plan-flows.json" hostb)', expected flows"
jq -r '.candidates[0].reasons.flows' "$T_TMP/plan-flows.json"
echo "PASS"
