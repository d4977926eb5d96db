#!/bin/bash
# ovs-plugin on the namespace testbed, through build/nm-ovs (the CLI over
# ovsp): port lookup, a VM's flows in one OpenFlow 1.4 bundle and their
# read-back, all-or-nothing bundles with OVS's error text, idempotent
# install/remove, the OVS MAC-learning entry moved and read back, a redirect
# flow that really steers frames, timeouts and OpenFlow version errors.
# Exit 0 pass, 1 fail ("FAIL: reason"), 77 skip (not root).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/net/lib.sh
. "$here/lib.sh"
NMOVS=${NMOVS:-$here/../../build/nm-ovs}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: test_ovs_plugin needs root (network namespaces, OVS)"
	exit 77
fi

fail() {
	echo "FAIL: $*"
	exit 1
}
step() {
	echo "-- $*"
}
[ -x "$NMOVS" ] || fail "$NMOVS not built (make build/nm-ovs)"
command -v jq >/dev/null || fail "jq not found"

TMP=$(mktemp -d /tmp/nmovs-test.XXXXXX)
STOPPED=
cleanup() {
	# A daemon this test paused must run again before teardown.
	[ -n "$STOPPED" ] && kill -CONT "$STOPPED" 2>/dev/null
	rm -rf "$TMP"
	tb__down_all
}

MAC=$TB_VM_MAC
COOKIE=0x4e4d525400000010
OUT=$TMP/out
ERR=$TMP/err

# nmo a|b ARGS...: nm-ovs against that host's bridge and unixctl socket;
# stdout in $OUT, stderr in $ERR, returns nm-ovs's exit code.
nmo() {
	local h=$1
	shift
	"$NMOVS" --bridge "unix:$TB_DIR/host$h/br-int.mgmt" \
		--ctl "$TB_DIR/host$h/ovs-vswitchd.ctl" "$@" >"$OUT" 2>"$ERR"
}
# nmo_ok a|b ARGS...: same, and fail the test on a non-zero exit.
nmo_ok() {
	local rc=0
	nmo "$@" || rc=$?
	[ "$rc" -eq 0 ] || fail "nm-ovs ${*:2} on host $1: exit $rc: $(cat "$ERR")"
}
# nmo_rc WANT a|b ARGS...: expect exit code WANT.
nmo_rc() {
	local want=$1 rc=0
	shift
	nmo "$@" || rc=$?
	[ "$rc" -eq "$want" ] || fail "nm-ovs ${*:2} on host $1: exit $rc, expected $want: $(cat "$ERR")"
}
vsctl_ofport() {
	tb_ovs_vsctl "$1" get Interface "$2" ofport
}
# Flows on a host's bridge whose cookie matches COOKIE[/MASK], as ovs-ofctl
# prints them (the independent read-back).
ofctl_flows() {
	tb_ovs_ofctl "$1" -O OpenFlow14 dump-flows "cookie=$2" | grep -v -e '_FLOW reply' -e '^OFPST_FLOW' || true
}
count_flows() {
	ofctl_flows "$@" | grep -c 'cookie=' || true
}
# OVS's MAC table line for MAC on a host: "PORT VLAN MAC AGE".
fdb_line() {
	tb_ovs_appctl "$1" fdb/show br-int | awk -v m="$2" 'tolower($3) == m { print $1, $2, $3, $4 }'
}
# ping from namespace hosta through the local endpoint "nbr", once.
nbr_ping() {
	tb_ns hosta ping -n -q -c1 -W1 -I nbr "$TB_VM_IP" >/dev/null 2>&1
}
# nbr_ping_within SECONDS: bounded retry (the datapath may hold a stale
# megaflow until the revalidator runs).
nbr_ping_within() {
	local end=$((SECONDS + $1))
	until nbr_ping; do
		[ "$SECONDS" -lt "$end" ] || return 1
	done
}

# tb_trap's teardown, plus resuming a paused daemon and the temp dir.
tb_trap
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export TB_PREFIX=${TB_PREFIX:-nmovs$$-}
step "testbed $TB_PREFIX"
tb_up || fail "tb_up failed"

# ---------------------------------------------------------------- ofport
step "ofport lookup by interface name matches ovs-vsctl"
for hp in a:vmport a:uplink b:uplink; do
	h=${hp%%:*} p=${hp#*:}
	nmo_ok "$h" --json ofport "$p"
	got=$(jq -r .ofport "$OUT")
	want=$(vsctl_ofport "$h" "$p")
	[ "$got" = "$want" ] || fail "host $h $p: nm-ovs says ofport $got, ovs-vsctl says $want"
	echo "   host $h $p: ofport $got"
done
nmo_rc 1 a ofport nosuch
grep -q "no port 'nosuch'" "$ERR" || fail "ofport nosuch: unclear error: $(cat "$ERR")"

# ---------------------------------------------------------------- install
step "VM to host B; its flows installed in one bundle and read back"
tb_vm_attach b || fail "tb_vm_attach b"
vmport_b=$(vsctl_ofport b vmport)
nmo_ok b --json vm-install --mac "$MAC" --port vmport
[ "$(jq -r .ofport "$OUT")" = "$vmport_b" ] || fail "vm-install used ofport $(jq -r .ofport "$OUT"), vmport is $vmport_b"
[ "$(jq -r .cookie "$OUT")" = "$COOKIE" ] || fail "unexpected cookie $(jq -r .cookie "$OUT")"
echo "figure: ovs-plugin vm-install (one bundle, in-process) $(jq -r .ms "$OUT") ms, connect $(jq -r .connect_ms "$OUT") ms"
flows=$(ofctl_flows b "$COOKIE/-1")
echo "$flows" | sed 's/^/   /'
[ "$(count_flows b "$COOKIE/-1")" -eq 1 ] || fail "expected 1 flow with cookie $COOKIE on B"
echo "$flows" | grep -q "priority=200,dl_dst=$MAC actions=output:$vmport_b" ||
	fail "flow on B is not 'priority=200,dl_dst=$MAC actions=output:$vmport_b'"
nmo_ok b --json flows --mac "$MAC"
[ "$(jq -r .count "$OUT")" -eq 1 ] || fail "nm-ovs flows --mac counts $(jq -r .count "$OUT"), expected 1"
[ "$(jq -r '.flows[0].actions' "$OUT")" = "output:$vmport_b" ] || fail "nm-ovs flows: actions $(jq -r '.flows[0].actions' "$OUT")"
# The VM speaks first (its announcement, in a real move) so the tor learns
# where it went; then the router reaches it through B's flow.
tb_wait_ping vm "$TB_ROUTER_IP" 5 || fail "VM on host B cannot ping the router"
tb_wait_ping router "$TB_VM_IP" 5 || fail "router cannot ping the VM on host B"

step "install again: same flows (idempotent)"
before=$(ofctl_flows b "$COOKIE/-1" | sed 's/.*priority=/priority=/')
nmo_ok b vm-install --mac "$MAC" --port vmport
after=$(ofctl_flows b "$COOKIE/-1" | sed 's/.*priority=/priority=/')
[ "$before" = "$after" ] || fail "second install changed the flows: '$before' -> '$after'"
[ "$(count_flows b "$COOKIE/-1")" -eq 1 ] || fail "second install left $(count_flows b "$COOKIE/-1") flows"

# ---------------------------------------------------------------- bundles
# 100 flow_mods, the 57th bad in a given way: nothing may be installed.
write_bundle() {
	local bad=$1 i
	for i in $(seq 1 100); do
		if [ "$i" -eq 57 ]; then
			echo "$bad"
		else
			printf 'add cookie=0x7e57,priority=%d,dl_dst=02:7e:57:00:%02x:%02x,actions=output:%s\n' \
				$((100 + i)) $((i / 256)) $((i % 256)) "$vmport_b"
		fi
	done >"$TMP/bundle"
}
check_rejected() {
	local what=$1 text=$2
	nmo_rc 1 b bundle "$TMP/bundle"
	grep -qF -- "$text" "$ERR" || fail "$what: error lacks '$text': $(cat "$ERR")"
	grep -q "flow 57 " "$ERR" || fail "$what: error does not name flow 57: $(cat "$ERR")"
	[ "$(count_flows b 0x7e57/-1)" -eq 0 ] || fail "$what: $(count_flows b 0x7e57/-1) of the good flows were installed"
	echo "   $what: $(cat "$ERR")"
}
step "bundle of 100 with one bad flow: nothing installed, OVS's error text"
write_bundle "add cookie=0x7e57,table=254,priority=1,actions=drop"
check_rejected "refused at add (read-only table)" "OFPBRC_EPERM: Permissions error"
write_bundle "add cookie=0x7e57,priority=1,dl_dst=02:7e:57:ff:ff:ff,actions=group:77"
check_rejected "refused at commit (no such group)" "OFPBAC_BAD_OUT_GROUP"
write_bundle "add cookie=0x7e57,priority=1,dl_dst=02:7e:57:ff:ff:ff,actions=frobnicate"
check_rejected "refused by OVS's parser" "unknown action frobnicate"
write_bundle "add cookie=0x7e57,priority=1,dl_dst=02:7e:57:ff:ff:ff,actions=drop"
nmo_ok b --json bundle "$TMP/bundle"
[ "$(count_flows b 0x7e57/-1)" -eq 100 ] || fail "good bundle: $(count_flows b 0x7e57/-1) of 100 flows installed"
echo "figure: ovs-plugin bundle of 100 flows $(jq -r .ms "$OUT") ms"

step "bundle commands: add, modify_strict, delete_strict, delete"
printf '%s\n' "# comment lines and blank lines are skipped" "" \
	"delete cookie=0x7e57/-1" \
	"add cookie=0x7e57,priority=10,dl_dst=02:7e:57:00:00:01,actions=drop" \
	"modify_strict priority=10,dl_dst=02:7e:57:00:00:01,actions=output:$vmport_b" >"$TMP/cmds"
nmo_ok b bundle "$TMP/cmds"
ofctl_flows b 0x7e57/-1 | grep -q "priority=10,dl_dst=02:7e:57:00:00:01 actions=output:$vmport_b" ||
	fail "add + modify_strict in one bundle: $(ofctl_flows b 0x7e57/-1)"
[ "$(count_flows b 0x7e57/-1)" -eq 1 ] || fail "delete + add in one bundle left $(count_flows b 0x7e57/-1) flows"
nmo_ok b bundle - <<<"delete_strict priority=10,dl_dst=02:7e:57:00:00:01"
[ "$(count_flows b 0x7e57/-1)" -eq 0 ] || fail "delete_strict left the flow"
nmo_ok b bundle - <<<"delete cookie=0x7e57/-1"

# ---------------------------------------------------------------- remove
step "vm-remove touches only netmove's flows and is idempotent"
tb_ovs_ofctl b add-flow "cookie=0x99,priority=150,dl_dst=02:99:00:00:00:01,actions=drop" ||
	fail "add-flow foreign"
nmo_ok b vm-remove --mac "$MAC"
[ "$(count_flows b "$COOKIE/-1")" -eq 0 ] || fail "vm-remove left VM flows on B"
[ "$(count_flows b 0x99/-1)" -eq 1 ] || fail "vm-remove removed a flow that is not netmove's"
tb_ovs_ofctl b dump-flows | grep -q 'priority=0 actions=NORMAL' || fail "vm-remove removed the NORMAL flow"
nmo_ok b vm-remove --mac "$MAC"
nmo_ok b --json flows
[ "$(jq -r .count "$OUT")" -eq 0 ] || fail "netmove flows left on B: $(jq -c .flows "$OUT")"

# ---------------------------------------------------------------- fdb
step "OVS MAC-learning entry of the VM: to the uplink and back (host B)"
uplink_b=$(vsctl_ofport b uplink)
tb_wait_ping router "$TB_VM_IP" 5 || fail "router cannot ping the VM on B"
line=$(fdb_line b "$MAC")
[ "${line%% *}" = "$vmport_b" ] || fail "B has not learned the VM on vmport ($vmport_b): '$line'"
echo "   learned: $line"
nmo_ok b --json fdb-move --bridge br-int --mac "$MAC" --port uplink
[ "$(jq -r .ofport "$OUT")" = "$uplink_b" ] || fail "fdb-move read-back: ofport $(jq -r .ofport "$OUT")"
line=$(fdb_line b "$MAC")
[ "$line" = "$uplink_b 0 $MAC static" ] || fail "after move to uplink, fdb/show says '$line'"
echo "   moved:   $line"
nmo_ok b fdb-move --bridge br-int --mac "$MAC" --port uplink
[ "$(fdb_line b "$MAC")" = "$uplink_b 0 $MAC static" ] || fail "second move changed the entry"
nmo_ok b fdb-move --bridge br-int --mac "$MAC" --port vmport
line=$(fdb_line b "$MAC")
[ "$line" = "$vmport_b 0 $MAC static" ] || fail "after move back, fdb/show says '$line'"
echo "   back:    $line"
nmo_ok b --json fdb-show --mac "$MAC"
[ "$(jq -r '.entries[0].ofport' "$OUT")" = "$vmport_b" ] || fail "fdb-show: $(jq -c . "$OUT")"
nmo_ok b --json fdb-del --mac "$MAC"
[ "$(jq -r .removed "$OUT")" = true ] || fail "fdb-del did not remove the static entry"
case "$(fdb_line b "$MAC")" in *static*) fail "static entry still there after fdb-del" ;; esac
nmo_ok b --json fdb-del --mac "$MAC"
[ "$(jq -r .removed "$OUT")" = false ] || fail "second fdb-del claims a removal"
nmo_rc 1 b fdb-move --bridge br-nope --mac "$MAC" --port uplink
grep -q 'no such bridge' "$ERR" || fail "bad bridge: error lacks OVS's 'no such bridge': $(cat "$ERR")"
echo "   bad bridge: $(cat "$ERR")"
tb_wait_ping router "$TB_VM_IP" 5 || fail "VM unreachable after the fdb round trip"

# ---------------------------------------------------------------- redirect
# Host A after the VM left: a stale MAC-learning entry points the VM's MAC
# at a dead local port ("oldvm", the source VM's port during a migration),
# and a local sender ("nbr") talks to the VM.  Without a redirect its frames
# die on the dead port; with the redirect flow they leave through A's uplink
# and reach the VM on B.  (Frames that reach A *from* the uplink cannot be
# steered back out of it: OpenFlow drops output to the input port, and the
# top-of-rack bridge would not hairpin them.)
step "redirect on host A steers frames for the VM out of A's uplink"
nmo_ok b vm-install --mac "$MAC" --port vmport
tb_wait_ping vm "$TB_ROUTER_IP" 5 || fail "VM on B cannot ping the router"
[ "$(tb_tor_port_of "$MAC")" = tor-b ] || fail "tor has the VM on '$(tb_tor_port_of "$MAC")', not tor-b"
tb_ns hosta ip link add oldvm type veth peer name oldvm-p || fail "veth oldvm"
tb_ns hosta ip link add nbrport type veth peer name nbr || fail "veth nbr"
for i in oldvm oldvm-p nbrport nbr; do tb_ns hosta ip link set "$i" up || fail "link $i up"; done
tb_ns hosta ip addr add 198.18.0.20/24 dev nbr || fail "address on nbr"
tb_ovs_vsctl a add-port br-int oldvm -- add-port br-int nbrport >/dev/null || fail "add-port on A"
tb_ovs_appctl a fdb/add br-int oldvm 0 "$MAC" >/dev/null || fail "stale entry on A"
if nbr_ping || nbr_ping; then
	fail "A reached the VM without a redirect: the stale entry does not black-hole"
fi
echo "   without redirect: frames for the VM go to the dead port (no reply)"
uplink_a=$(vsctl_ofport a uplink)
nmo_ok a --json vm-redirect --mac "$MAC" --port uplink
[ "$(jq -r .ofport "$OUT")" = "$uplink_a" ] || fail "vm-redirect used ofport $(jq -r .ofport "$OUT")"
nbr_ping_within 5 || fail "with the redirect on A, the VM is still unreachable from A"
# Datapath statistics reach the flow table with the revalidator's next pass.
end=$((SECONDS + 5))
while :; do
	flow=$(ofctl_flows a "$COOKIE/-1")
	pk=$(echo "$flow" | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p')
	[ "${pk:-0}" -ge 1 ] && break
	[ "$SECONDS" -lt "$end" ] || fail "redirect flow on A matched no packet: '$flow'"
	sleep 0.2
done
echo "   with redirect: reply received; $(echo "$flow" | sed 's/^ *//')"
echo "$flow" | grep -q "dl_dst=$MAC actions=output:$uplink_a" || fail "redirect flow on A: '$flow'"
nmo_ok a vm-remove --mac "$MAC"
end=$((SECONDS + 3))
while nbr_ping; do
	[ "$SECONDS" -lt "$end" ] || fail "after vm-remove on A, frames still reach the VM"
	sleep 0.2
done
echo "   redirect removed: frames for the VM black-holed again"
tb_ovs_appctl a fdb/del br-int 0 "$MAC" >/dev/null || fail "fdb/del on A"

# ---------------------------------------------------------------- errors
step "clear errors: missing socket, no OpenFlow 1.4, a switch that does not answer"
rc=0
"$NMOVS" --bridge "unix:$TMP/nothere.mgmt" ofport uplink >"$OUT" 2>"$ERR" || rc=$?
if [ "$rc" -ne 3 ] || ! grep -q 'no such socket' "$ERR"; then
	fail "missing socket: exit $rc: $(cat "$ERR")"
fi
echo "   $(cat "$ERR")"
tb_ovs_vsctl b set bridge br-int protocols=OpenFlow10,OpenFlow13 || fail "set protocols"
sleep 0.3
nmo_rc 3 b ofport uplink
grep -q 'does not allow OpenFlow14' "$ERR" || fail "OF1.3-only bridge: $(cat "$ERR")"
echo "   $(cat "$ERR")"
tb_ovs_vsctl b clear bridge br-int protocols || fail "clear protocols"
sleep 0.3
nmo_ok b ofport uplink
STOPPED=$(cat "$TB_DIR/hostb/ovs-vswitchd.pid")
kill -STOP "$STOPPED"
t0=$(date +%s%N)
nmo_rc 3 b --timeout 300 vm-remove --mac "$MAC"
ms=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$STOPPED"
STOPPED=
[ "$ms" -lt 2000 ] || fail "timeout of 300 ms took $ms ms"
echo "   stopped ovs-vswitchd: gave up after $ms ms: $(cat "$ERR")"
nmo_ok b vm-remove --mac "$MAC"
[ "$(count_flows b "$COOKIE/-1")" -eq 0 ] || fail "VM flows left on B"

echo "PASS: test_ovs_plugin"
