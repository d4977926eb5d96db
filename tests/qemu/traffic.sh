# shellcheck shell=bash
# Traffic to the test guest during one migration, and what reached it: a
# sequenced UDP stream the guest sends on to the router's probe receiver
# (lost, duplicated, reordered), a ping every 10 ms, and a TCP stream whose
# bytes the guest hashes (byte-exact or not).  Shared by the QEMU and the
# libvirt guest tests.  Source after common.sh and lib.sh; QM_IP is the
# guest's address.
#
#   gt_wait_boot CONSOLE  the guest booted and answers the router
#   gt_start              start the three streams (SECS seconds, RATE/s UDP)
#   gt_finish CONSOLE     wait for them and set SENT LOST DUP REO GAP
#                         PING_LOST PING_TX PING_DUP TCP TBYTES RETRANS GUEST_RX
#                         (RETRANS: the router's TCP retransmissions)
#                         (CONSOLE: the guest's serial log, where it prints
#                         its TCP hash and its own UDP count)
#   gt_line N MODE MOVE   the "measured:" line of one migration
#   gt_check_clean N      fail (report with DEMO=1) unless 0 lost, 0 dup,
#                         0 reordered, every ping answered, TCP exact
#   gt_series MODE COUNT  COUNT migrations from host $GT_HERE to and fro with
#                         the test's own `cycle N MODE FROM TO`; with MODE
#                         netmove each must be clean (gt_check_clean) and their
#                         losses add up in NM_LOST, with plain in PLAIN_LOST
#   gt_check_reader N JS  from the source's journal JS: what QEMU took from
#                         the tap and lost while it stopped, and whether the
#                         guest's last frame (its RX ring) told it; fails
#                         unless it did
#   gt_summary            the table, netmove against QEMU alone
#   guest_crashed CONSOLE true if the guest's kernel died
#   check STATUS MESSAGE  fail, or only report under DEMO=1

RATE=${RATE:-500}
SECS=${SECS:-4}

guest_crashed() {
	grep -qE "Kernel panic|BUG:|general protection fault|Oops" "$1"
}

check() {
	[ "$1" = 0 ] && return 0
	[ "${DEMO:-0}" = 1 ] && { echo "  NOTE: $2"; return 0; }
	fail "$2"
}

gt_wait_boot() {
	for _ in $(seq 200); do
		grep -q GUEST-READY "$1" 2>/dev/null && break
		guest_crashed "$1" 2>/dev/null && fail "the guest crashed while booting"
		sleep 0.1
	done
	grep -q GUEST-READY "$1" || fail "the guest did not boot: $(tail -n 5 "$1" 2>&1)"
	tb_wait_ping router "$QM_IP" || fail "router cannot reach the guest"
}

# The TCP sender in the router: SECS seconds of random bytes, paced; prints
# "<bytes> <md5>" once the guest closed its side.
gt__tcp_send() {
	ip netns exec "$TB_ROUTER" python3 - "$QM_IP" "$SECS" <<'PY'
import hashlib, os, socket, sys, time
s = socket.create_connection((sys.argv[1], 5001), timeout=30)
h = hashlib.md5(); n = 0; end = time.time() + float(sys.argv[2])
while time.time() < end:
    b = os.urandom(16384); s.sendall(b); h.update(b); n += len(b); time.sleep(0.02)
s.shutdown(socket.SHUT_WR)
while s.recv(4096):
    pass
print(n, h.hexdigest())
PY
}

# TCP segments the router retransmitted so far (its namespace's counter).
gt__retrans() {
	ip netns exec "$TB_ROUTER" awk '/^Tcp:/ { if (!c) { for (i = 1; i <= NF; i++)
		if ($i == "RetransSegs") c = i } else print $c }' /proc/net/snmp
}

gt_start() {
	GT_RETRANS0=$(gt__retrans)
	# Both neighbour entries fresh first: the guest's reflections of the
	# first datagrams must not wait on its ARP for the router.
	ip netns exec "$TB_ROUTER" ping -n -c 1 -W 2 "$QM_IP" >/dev/null 2>&1 || true
	t_bg "$T_TMP/probe.json" "$T_TMP/probe.err" "$NETMOVE" -n "$TB_ROUTER" --json probe recv \
		--port 7870 --timeout 60 --idle 4000 --max-lost 100000000 --lost-ranges 4
	GT_RECV=$T_BG
	t_wait_ready "$T_TMP/probe.err" || fail "probe recv did not start"
	nm "$TB_ROUTER" --json probe send --to "$QM_IP" --port 7869 --rate "$RATE" \
		--duration "$SECS" >"$T_TMP/send.json" &
	GT_SEND=$!
	ip netns exec "$TB_ROUTER" ping -n -i 0.01 -c $((SECS * 100)) -W 2 "$QM_IP" >"$T_TMP/ping.txt" 2>&1 &
	GT_PING=$!
	gt__tcp_send >"$T_TMP/tcp.txt" 2>"$T_TMP/tcp.err" &
	GT_TCP=$!
	sleep 1
}

gt_finish() {
	local console=$1 r=$T_TMP/probe.json s=$T_TMP/send.json st tsum
	wait "$GT_SEND" || fail "probe send failed"
	wait "$GT_PING" || true
	wait "$GT_TCP" || true
	RETRANS=$(($(gt__retrans) - GT_RETRANS0))
	t_wait "$GT_RECV" || true
	if guest_crashed "$console"; then
		tail -30 "$console"
		fail "the GUEST CRASHED after the migration (QEMU 7.2 TCG, see FIELD-NOTES); this is not network loss"
	fi
	SENT=$(jget "$s" sent)
	LOST=$((SENT - $(jget "$r" received) + $(jget "$r" duplicated)))
	DUP=$(jget "$r" duplicated) REO=$(jget "$r" reordered) GAP=$(jget "$r" max_gap_ms)
	PING_TX=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$T_TMP/ping.txt")
	local rx
	rx=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T_TMP/ping.txt")
	PING_DUP=$(sed -n 's/.*+\([0-9]*\) duplicates.*/\1/p' "$T_TMP/ping.txt")
	PING_LOST=$((${PING_TX:-0} - ${rx:-0}))
	TBYTES=0 tsum=
	read -r TBYTES tsum <"$T_TMP/tcp.txt" || true
	TCP=broken
	for _ in $(seq 100); do
		st=$(tr -d '\r' <"$console" | grep "^TCP-MD5" | tail -1 | awk '{print $2}')
		[ -n "$st" ] && [ "$st" = "${tsum:-}" ] && { TCP=exact; break; }
		sleep 0.05
	done
	# What reached the guest, as it counted (tells the way in from the way back).
	GUEST_RX=$(tr -d '\r' <"$console" | grep "^REFLECT-RX $(jq -r '.run // 0' "$s") " | tail -1 |
		awk '{print $3}')
}

gt_line() { # N MODE MOVE
	echo "measured: migration $1 $2 $3: UDP lost $LOST of $SENT (the guest got ${GUEST_RX:-?}; lost $(jq -c '[.lost_ranges[] | "\(.first)-\(.last)"]' "$T_TMP/probe.json"), dup $DUP, reordered $REO, max gap $GAP ms ending at seq $(jget "$T_TMP/probe.json" max_gap_before_seq); ping lost $PING_LOST of ${PING_TX:-?}${PING_DUP:+, $PING_DUP duplicates}; TCP $TCP (${TBYTES:-0} bytes, $RETRANS retransmitted segments)"
}

gt_check_clean() { # N
	[ "$LOST" = 0 ]; check $? "migration $1 with netmove: $LOST UDP datagrams lost (the guest got ${GUEST_RX:-?})"
	[ "$PING_LOST" = 0 ]; check $? "migration $1 with netmove: $PING_LOST pings lost"
	[ "$DUP" = 0 ]; check $? "migration $1 with netmove: $DUP duplicated"
	[ "$REO" = 0 ]; check $? "migration $1 with netmove: $REO reordered"
	[ -z "$PING_DUP" ]; check $? "migration $1 with netmove: $PING_DUP duplicate pings"
	[ "$TCP" = exact ]; check $? "migration $1 with netmove: the TCP stream is not byte-exact"
}

gt_check_reader() { # N SOURCE_JOURNAL
	local what sent
	what=$(jq -r '.tap_queue.reader_kept // "nothing said"' <<<"$2")
	sent=$(jq -r '.tap_queue.reader_lost_sent_on // 0' <<<"$2")
	echo "measured: migration $1: frames QEMU took from the tap and lost while stopping, sent on: $sent ($what)"
	case $what in
	"none: the guest got"* | "recovered "*": the reader took"*) ;;
	*) check 1 "migration $1: the guest's last frame did not tell what QEMU lost: $what" ;;
	esac
}

# After both series: netmove must have lost less than QEMU alone; the
# summary line says what is not met.
gt_summary() {
	echo
	cat "$T_TMP/table"
	echo "measured: with netmove $NM_LOST datagrams and pings lost over $MIGRATIONS migrations, without netmove $PLAIN_LOST"
	[ "$NM_LOST" -lt "$PLAIN_LOST" ]; check $? "netmove lost $NM_LOST, no fewer than QEMU alone ($PLAIN_LOST)"
}

gt_series() { # MODE COUNT
	local i there
	[ "$1" = netmove ] && NM_LOST=0 || PLAIN_LOST=0
	for ((i = 1; i <= $2; i++)); do
		there=$(mig_other "$GT_HERE")
		step "migration $i $([ "$1" = netmove ] && echo with || echo without) netmove: $GT_HERE -> $there"
		cycle "$i" "$1" "$GT_HERE" "$there"
		if [ "$1" = netmove ]; then
			gt_check_clean "$i"
			NM_LOST=$((NM_LOST + LOST + PING_LOST))
		else
			PLAIN_LOST=$((PLAIN_LOST + LOST + PING_LOST))
		fi
		GT_HERE=$there
	done
}
