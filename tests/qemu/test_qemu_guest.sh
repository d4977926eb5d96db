#!/bin/bash
# A Linux guest under real QEMU (7.2, TCG; Debian's cloud kernel + a busybox
# initramfs this test builds, IPv6 off) migrated by QEMU's own migration
# between the testbed's hosts, A -> B -> A -> ..., MIGRATIONS times with
# netmove fed only by nm-qemu, then as many times with nm-qemu stopped (QEMU
# alone, its own announce), side by side.  Traffic during each migration,
# from the router: a ping every 10 ms, a sequenced UDP stream the guest sends
# on to the router's probe receiver (what reached the guest: lost,
# duplicated, reordered), and a TCP stream whose bytes the guest hashes
# (byte-exact or not).  With netmove: 0 lost, 0 duplicated, 0 reordered in
# every migration and the guest alive after each.  A guest that crashed is
# reported as a guest crash, not as network loss.
# QEMU takes up to two frames from the tap while it stops and loses them
# (it drops one read while its vCPUs pause and keeps the next, undelivered):
# nm-qemu reads the guest's last frame from its RX ring at the STOP and the
# source sends on every frame QEMU took after it (docs/qemu-libvirt.md);
# each migration checks that the guest's last frame told it.
# Offloads: the router's TCP stream comes to the tap as GSO super-frames
# with partial checksums (OVS userspace TSO); the destination journals how
# many of each it replayed.  Across the series some of both must have been
# buffered and replayed, and the stream stay byte-exact (the router's TCP
# retransmissions are reported).  With /dev/vhost-net the netmove series
# runs again with the tap's queues in vhost-net.
# DEMO=1 (make demo): report instead of failing, and print each netmove
# migration's phase timeline.
set -u
. "$(dirname "$0")/../net/migrate.sh"
mig_init
. "$(dirname "$0")/../net/qemu.sh"
. "$(dirname "$0")/traffic.sh"

MIGRATIONS=${MIGRATIONS:-5}
QM_MAC=52:54:00:00:00:70 QM_IP=198.18.0.70
AG_GRACE=300

step "testbed, agents, the test guest"
tb_up || fail "testbed did not come up"
ag_start || fail "agents did not start"
qm_init guest
D=$QM_D

# The phases of one relocation, in ms from QEMU's STOP.
timeline() { # SOURCE_JOURNAL DESTINATION_JOURNAL
	jq -rn --argjson s "$1" --argjson d "$2" '
		($s.phases_us.blackout - $s.blackout_late_us) as $t0 |
		def at($us): (($us - $t0) / 100 | round) / 10;
		"  timeline (ms from QEMU STOP):",
		([[at($s.phases_us.prepare), "PREPARE (QEMU migration setup)"],
		  [0, "QEMU STOP"],
		  [at($s.phases_us.blackout), "BLACKOUT armed on the source"],
		  [at($d.resumed_us), "QEMU RESUME on the destination: SWITCHOVER"],
		  [at($d.resumed_us + $d.resume_to_announce_us), "RARP + GARP out of the uplink"],
		  [at($d.resumed_us + $d.resume_to_first_replay_us),
		   "first of the \($d.frames.received) source frames (\($s.tap_queue.recovered) out of its tap) replayed"],
		  [at($d.resumed_us + $d.resume_to_fdb_us), "ToR FDB moved and read back (\($d.upstream_fdb_port))"],
		  [at($d.phases_us.commit), "COMMIT (verify answered: \($d.verify.answered))"]]
		 | sort_by(.[0])[] | "    \(.[0] | tostring | .[0:9] + (" " * (9 - length)))  \(.[1])")'
}

printf '%-3s %-8s %-6s %6s %5s %4s %4s %9s %9s %8s %9s %s\n' n mode move sent lost dup reo "gap(ms)" ping_lost tcp "pause(ms)" late_us >"$T_TMP/table"

# One migration FROM -> TO under traffic; MODE netmove|plain.
cycle() {
	local n=$1 mode=$2 from=$3 to=$4 js jd
	qm_start "$to" incoming
	if [ "$mode" = netmove ]; then
		t_wait_match "$D/nm-qemu-$to.log" "attached to QEMU .* \\(inmigrate\\)" 10 ||
			fail "nm-qemu $to did not attach"
	fi
	qmp "$D/$to-test.sock" migrate-set-parameters '{"announce-rounds":5}' >/dev/null
	qmp "$D/$from-test.sock" migrate-set-parameters \
		'{"downtime-limit":300,"max-bandwidth":1073741824}' >/dev/null
	gt_start
	T0=$(($(date +%s%N) / 1000))
	qm_migrate "$from" "$to"
	gt_finish "${QM_CONSOLE[$to]}"
	# The source's RX ring as QEMU left it at the stop: with no free buffer
	# QEMU would hold a frame it read, and purge it at the stop, even while
	# running (docs/qemu-libvirt.md).
	RXFREE=$(qmp "$D/$from-test.sock" x-query-virtio-queue-status \
		'{"path":"/machine/peripheral-anon/device[0]/virtio-backend","queue":0}' |
		jq -r '(."shadow-avail-idx" - ."last-avail-idx" + 65536) % 65536' 2>/dev/null || echo "?")
	PAUSE=- LATE=-
	if [ "$mode" = netmove ]; then
		mig_wait_commit "$to" "$(ag_nm "$from" --json status | jq -r '[.relocations[] | .id] | max')" ||
			fail "migration $n: the destination did not commit"
		js=$(ag_last "$from")
		[ "$(jq -r .time_us <<<"$js")" -gt "$T0" ] || fail "migration $n: no source journal entry"
		PAUSE=$(jq -r '.vm_pause_ms // "-"' <<<"$js") LATE=$(jq -r '.blackout_late_us // "-"' <<<"$js")
		gt_check_reader "$n" "$js"
		jd=$(ag_last "$to")
		NM_GSO=$((NM_GSO + $(jq -r '.frames.replayed_gso // 0' <<<"$jd")))
		NM_PARTIAL=$((NM_PARTIAL + $(jq -r '.frames.replayed_checksum_partial // 0' <<<"$jd")))
		NM_RETRANS=$((NM_RETRANS + RETRANS))
		echo "journal (source): $js" | cut -c1-700
		echo "journal (destination): $(ag_last "$to")" | cut -c1-700
		sed -n 's/^/  /; /MIGRATION setup/,$p' "$D/nm-qemu-$from.log" | tail -12
		[ "${DEMO:-0}" = 1 ] && timeline "$js" "$(ag_last "$to")"
	fi
	printf '%-3s %-8s %-6s %6s %5s %4s %4s %9s %9s %8s %9s %s\n' "$n" "$mode" "$from>$to" "$SENT" \
		"$LOST" "$DUP" "$REO" "$GAP" "$PING_LOST${PING_DUP:++${PING_DUP}dup}" "$TCP" "$PAUSE" "$LATE" >>"$T_TMP/table"
	echo "$(gt_line "$n" "$mode" "$from -> $to"); pause $PAUSE ms, blackout late $LATE us; source RX ring free buffers at the stop: $RXFREE"
	# The guest is alive: it answers after the move.
	ip netns exec "$TB_ROUTER" ping -n -c 1 -W 2 "$QM_IP" >/dev/null ||
		fail "migration $n: the guest does not answer after the move"
	qm_quit "$from"
}

step "the guest boots on host a"
qm_start a
gt_wait_boot "${QM_CONSOLE[a]}"
GT_HERE=a
# QEMU's own switchover, as nm-qemu runs by default; NMQEMU_ARGS=--own-pause
# (make test-qemu) lets nm-qemu hold it until the blackout is armed.  Without
# that, a migration faster than PREPARE would resume the VM on the
# destination before its buffer is attached there, and frames would then
# arrive directly, ahead of the older ones still at the source: PREPARE
# takes 20-50 ms here under this test's load (buffer programs loaded ahead),
# this guest's migration 140-260 ms from setup to STOP.
qm_nmqemu a b ${NMQEMU_ARGS:-}
qm_nmqemu b a ${NMQEMU_ARGS:-}

# The offloads the netmove series carried (cycle adds them up).
offloads() { # WHAT
	echo "measured: offloads, $1: $NM_GSO GSO and $NM_PARTIAL checksum-partial frames replayed into the guest's tap, TCP byte-exact in every migration, $NM_RETRANS TCP segments retransmitted"
	[ "$NM_GSO" -gt 0 ] && [ "$NM_PARTIAL" -gt 0 ]
	check $? "$1: no GSO or no checksum-partial frame was buffered and replayed: the offload path went untested"
}

NM_GSO=0 NM_PARTIAL=0 NM_RETRANS=0
gt_series netmove "$MIGRATIONS"
offloads "$MIGRATIONS migrations with netmove, vhost off"
if [ -c /dev/vhost-net ]; then
	step "with netmove, the tap's queues in vhost-net"
	qm_quit "$GT_HERE"
	QM_VHOST=1
	qm_start "$GT_HERE"
	gt_wait_boot "${QM_CONSOLE[$GT_HERE]}"
	NM_GSO=0 NM_PARTIAL=0 NM_RETRANS=0
	gt_series netmove "$MIGRATIONS"
	offloads "$MIGRATIONS migrations with netmove, vhost-net on"
	qm_quit "$GT_HERE"
	QM_VHOST=
	qm_start "$GT_HERE"
	gt_wait_boot "${QM_CONSOLE[$GT_HERE]}"
else
	echo "measured: offloads, vhost-net on: not run, this machine has no /dev/vhost-net"
fi

step "the same without netmove (nm-qemu stopped: QEMU alone)"
qm_nmqemu_stop a
qm_nmqemu_stop b
gt_series plain "$MIGRATIONS"
gt_summary
echo "PASS"
