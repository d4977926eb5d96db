#!/bin/bash
# Benchmark of ovs-plugin against exec'ing ovs-ofctl, side by side in one
# run on one testbed bridge (host B's br-int, netdev datapath):
#   - one VM's flows (delete by cookie + add, i.e. what vm-install sends) in
#     one atomic OpenFlow 1.4 bundle: in-process on an open connection, vs
#     `ovs-ofctl -O OpenFlow14 --bundle --no-names add-flows` of the same
#     flow_mods; also in-process with the connect, and the nm-ovs process;
#   - 1000 VMs' flows (2000 flow_mods) in one bundle, both ways.
# Medians of N runs (BENCH_RUNS, default 30; 1000-VM runs: BENCH_RUNS_BIG,
# default 10).  Prints "bench: ..." lines.  Needs root; exit 77 if not.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/net/lib.sh
. "$here/net/lib.sh"
NMOVS=${NMOVS:-$here/../build/nm-ovs}
RUNS=${BENCH_RUNS:-30}
RUNS_BIG=${BENCH_RUNS_BIG:-10}

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: bench_ovs needs root (network namespaces, OVS)"
	exit 77
fi
die() {
	echo "bench_ovs: $*" >&2
	exit 1
}
[ -x "$NMOVS" ] || die "$NMOVS not built (make build/nm-ovs)"
command -v jq >/dev/null || die "jq not found"

TMP=$(mktemp -d /tmp/nmovs-bench.XXXXXX)
tb_trap
trap 'rm -rf "$TMP"; tb__down_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
export TB_PREFIX=${TB_PREFIX:-nmovsb$$-}
tb_up >/dev/null || die "tb_up failed"
BR=unix:$TB_DIR/hostb/br-int.mgmt
UPLINK=$(tb_ovs_vsctl b get Interface uplink ofport)

# Microseconds since the epoch, without a fork.
now_us() {
	local t=${EPOCHREALTIME/./}
	echo "$t"
}
# median_ms FILE: median of one number per line (microseconds) in ms.
median_ms() {
	sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.3f", v[int((NR + 1) / 2)] / 1000 }'
}
# ofctl_runs FILE N: time N execs of ovs-ofctl --bundle add-flows FILE.
ofctl_runs() {
	local i t0 t1 out=$TMP/ofctl.us
	: >"$out"
	for ((i = 0; i < $2; i++)); do
		t0=$(now_us)
		ovs-ofctl -O OpenFlow14 --bundle --no-names add-flows "$BR" "$1" ||
			die "ovs-ofctl add-flows $1 failed"
		t1=$(now_us)
		echo $((t1 - t0)) >>"$out"
	done
	median_ms "$out"
}
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'
}
# One VM's flow_mods, exactly as ovsp_vm_install writes them.
vm_mods() {
	local i=$1 mac cookie
	mac=$(printf '52:54:%02x:%02x:%02x:%02x' $((i >> 24 & 255)) $((i >> 16 & 255)) \
		$((i >> 8 & 255)) $((i & 255)))
	cookie=$(printf '0x4e4d5254%02x%02x%02x%02x' $((i >> 24 & 255)) $((i >> 16 & 255)) \
		$((i >> 8 & 255)) $((i & 255)))
	echo "delete cookie=$cookie/-1"
	echo "add cookie=$cookie,priority=200,dl_dst=$mac,actions=output:$UPLINK"
}

vm_mods 16 >"$TMP/one"
for i in $(seq 1 1000); do vm_mods "$i"; done >"$TMP/big"

echo "bench_ovs: host B br-int (netdev datapath), $(nproc) CPUs, medians of $RUNS runs ($RUNS_BIG for 1000 VMs)"

# One VM: in-process on an open connection (what netmoved does).
"$NMOVS" --bridge "$BR" --json --repeat "$RUNS" bundle "$TMP/one" >"$TMP/one.json" ||
	die "nm-ovs bundle (one VM) failed"
inproc=$(jq -r .ms_median "$TMP/one.json")
# Cross-check that the helper and the file agree: vm-install, same cost.
"$NMOVS" --bridge "$BR" --json --repeat "$RUNS" vm-install --mac 52:54:00:00:00:10 \
	--ofport "$UPLINK" >"$TMP/vm.json" || die "nm-ovs vm-install failed"
vminst=$(jq -r .ms_median "$TMP/vm.json")
# In-process including the connect: a fresh connection per VM.
: >"$TMP/conn.us"
for ((i = 0; i < RUNS; i++)); do
	"$NMOVS" --bridge "$BR" --json bundle "$TMP/one" >"$TMP/once.json" || die "nm-ovs bundle failed"
	jq -r '(.connect_ms + .ms) * 1000 | floor' "$TMP/once.json" >>"$TMP/conn.us"
done
withconn=$(median_ms "$TMP/conn.us")
# The nm-ovs process as a whole (exec, connect, bundle), like ovs-ofctl.
: >"$TMP/exec.us"
for ((i = 0; i < RUNS; i++)); do
	t0=$(now_us)
	"$NMOVS" --bridge "$BR" bundle "$TMP/one" >/dev/null || die "nm-ovs bundle failed"
	t1=$(now_us)
	echo $((t1 - t0)) >>"$TMP/exec.us"
done
nmexec=$(median_ms "$TMP/exec.us")
ofctl=$(ofctl_runs "$TMP/one" "$RUNS")
echo "bench: ovs one-vm bundle in-process $inproc ms vs ovs-ofctl $ofctl ms (ratio $(ratio "$ofctl" "$inproc"))"
echo "bench: ovs one-vm vm-install in-process $vminst ms; with connect $withconn ms; nm-ovs exec $nmexec ms (ratio vs ovs-ofctl $(ratio "$ofctl" "$nmexec"))"

# 1000 VMs in one bundle.
"$NMOVS" --bridge "$BR" --json --repeat "$RUNS_BIG" bundle "$TMP/big" >"$TMP/big.json" ||
	die "nm-ovs bundle (1000 VMs) failed"
big=$(jq -r .ms_median "$TMP/big.json")
n=$(tb_ovs_ofctl b dump-flows cookie=0x4e4d525400000000/0xffffffff00000000 | grep -c cookie=)
[ "$n" -eq 1000 ] || die "1000-VM bundle left $n VM flows, expected 1000"
ofbig=$(ofctl_runs "$TMP/big" "$RUNS_BIG")
echo "bench: ovs 1000-vm bundle (2000 flow_mods) in-process $big ms vs ovs-ofctl $ofbig ms (ratio $(ratio "$ofbig" "$big"))"
