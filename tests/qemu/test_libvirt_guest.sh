#!/bin/bash
# A Linux guest under libvirt 9.0 (two daemons, one per host namespace, the
# guest's interface <virtualport type='openvswitch'/> on each host's OVS)
# migrated by `virsh migrate --live --p2p`, A -> B -> A -> ..., MIGRATIONS
# times with netmove driven by nothing but its libvirt hook (the
# destination's `started` hook pulls the relocation from whichever host has
# the VM) and nm-libvirt (libvirt's lifecycle events: suspended-migrated on
# the source is the blackout, resumed-migrated on the destination the
# switchover); then as many times with the hook and nm-libvirt off (libvirt
# and QEMU alone), side by side.  Traffic as in test_qemu_guest.sh; as
# there, the source names the guest's last frame (read from its RX ring by
# nm-libvirt) and sends on what QEMU took from the tap and lost.
# DEMO=1: report instead of failing.
set -u
. "$(dirname "$0")/../net/migrate.sh"
mig_init
. "$(dirname "$0")/../net/qemu.sh"
. "$(dirname "$0")/../net/libvirt.sh"
. "$(dirname "$0")/traffic.sh"
trap 'lv_cleanup; ag_stop_all; vs_stop_all; t_cleanup; tb__down_all' EXIT

MIGRATIONS=${MIGRATIONS:-5}
QM_MAC=52:54:00:00:00:80 QM_IP=198.18.0.80
AG_GRACE=300
DOM=nmvm

step "testbed, agents, two libvirt daemons, the test guest"
tb_up || fail "testbed did not come up"
ag_start || fail "agents did not start"
qm_init guest
lv_init
lv_start a
lv_start b
lv_define a "$DOM" || fail "defining the guest failed"
lv_virsh a start "$DOM" >/dev/null || fail "starting the guest failed: $(tail -n 5 "$LV_D/a/libvirtd.log")"
gt_wait_boot "$(lv_console a "$DOM")"
lv_nmlibvirt a
lv_nmlibvirt b
t_wait_match "$LV_D/nm-libvirt-a.log" "connected" 10 || fail "nm-libvirt a did not connect"
t_wait_match "$LV_D/nm-libvirt-b.log" "connected" 10 || fail "nm-libvirt b did not connect"

printf '%-3s %-8s %-6s %6s %5s %4s %4s %9s %9s %8s %9s %s\n' n mode move sent lost dup reo "gap(ms)" ping_lost tcp "mig(s)" late_us >"$T_TMP/table"

cycle() { # N MODE FROM TO
	local n=$1 mode=$2 from=$3 to=$4 dst js t0 t1 id
	[ "$to" = a ] && dst=$TB_HOSTA_MGMT_IP || dst=$TB_HOSTB_MGMT_IP
	gt_start
	T0=$(($(date +%s%N) / 1000))
	t0=$(date +%s%N)
	lv_virsh "$from" migrate --live --p2p "$DOM" "qemu+tcp://$dst/system" ||
		fail "migration $n ($mode): virsh migrate failed: $(tail -n 5 "$LV_D/$from/libvirtd.log")"
	t1=$(date +%s%N)
	gt_finish "$(lv_console "$to" "$DOM")"
	LATE=-
	if [ "$mode" = netmove ]; then
		id=$(ag_nm "$from" --json status | jq -r '[.relocations[] | .id] | max')
		[ "$id" != null ] || fail "migration $n: no relocation on the source: $(tail -n 5 "$LV_D/$to/hook.log")"
		mig_wait_commit "$to" "$id" || fail "migration $n: the destination did not commit"
		js=$(ag_last "$from")
		[ "$(jq -r .time_us <<<"$js")" -gt "$T0" ] ||
			fail "migration $n: no source journal entry: hook: $(tail -n 3 "$LV_D/$to/hook.log")"
		LATE=$(jq -r '.blackout_late_us // "-"' <<<"$js")
		echo "journal (source): $js" | cut -c1-700
		echo "journal (destination): $(ag_last "$to")" | cut -c1-700
		echo "hook ($to):"
		tail -n 4 "$LV_D/$to/hook.log" | sed 's/^/  /'
		echo "nm-libvirt ($from, $to):"
		tail -n 3 "$LV_D/nm-libvirt-$from.log" | sed 's/^/  /'
		tail -n 2 "$LV_D/nm-libvirt-$to.log" | sed 's/^/  /'
		[ "$(jq -r .outcome <<<"$js")" = committed ] || fail "migration $n: not committed: $js"
		gt_check_reader "$n" "$js"
	fi
	MIG_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
	printf '%-3s %-8s %-6s %6s %5s %4s %4s %9s %9s %8s %9s %s\n' "$n" "$mode" "$from>$to" "$SENT" \
		"$LOST" "$DUP" "$REO" "$GAP" "$PING_LOST${PING_DUP:++${PING_DUP}dup}" "$TCP" "$MIG_S" "$LATE" >>"$T_TMP/table"
	echo "$(gt_line "$n" "$mode" "$from -> $to"); virsh migrate $MIG_S s, blackout late $LATE us"
	ip netns exec "$TB_ROUTER" ping -n -c 1 -W 2 "$QM_IP" >/dev/null ||
		fail "migration $n: the guest does not answer after the move"
}

GT_HERE=a
gt_series netmove "$MIGRATIONS"

step "the same without netmove (hook and nm-libvirt off: libvirt and QEMU alone)"
lv_nmlibvirt_stop a
lv_nmlibvirt_stop b
lv_hook a off
lv_hook b off
gt_series plain "$MIGRATIONS"
lv_virsh "$GT_HERE" destroy "$DOM" >/dev/null
gt_summary
echo "PASS"
