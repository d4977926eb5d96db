#!/bin/bash
# Bad input to the programs is a usage error: exit 2 and a message that
# names what is wrong, before anything is started or any agent is asked.
# The cases found by trying the programs as an adversary would (issue 9)
# and those of the options added since.  Prints cmocka's result lines, so
# tests/run.sh counts it among the unit tests (the build copies it to
# build/unit/test_cli_usage); runs the programs built next to this copy or
# in the tree's build directory.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/sh_cmocka.sh"
B=
for d in "$here/.." "$here/../../${O:-build}"; do
	[ -z "$B" ] && [ -x "$d/netmove" ] && B=$(cd "$d" && pwd)
done
t=$(mktemp -d /tmp/nm-cli-usage.XXXXXX)
trap 'rm -rf "$t"' EXIT
export NETMOVE_SOCKET=$t/no-netmoved.sock
printf '0123456789abcdef0123456789abcdef\n' >"$t/key"
head -c 512 /bin/ls >"$t/binary.flows"
tests=()
M=52:54:00:00:00:01

# usage NAME WANT_TEXT PROGRAM ARGS...: exit 2, WANT_TEXT on stderr, which
# is printable text.
usage() {
	local name=$1 want=$2
	shift 2
	tests+=("$name")
	eval "test_$name() { run_usage $(printf '%q ' "$want" "$@"); }"
}

run_usage() {
	local want=$1 rc
	shift
	timeout 10 "$B/$@" >"$t/out" 2>"$t/err" </dev/null
	rc=$?
	[ "$rc" = 2 ] || { echo "$*: exit $rc, expected 2: $(head -c 300 "$t/err")"; return 1; }
	grep -qF -- "$want" "$t/err" || { echo "$*: stderr lacks '$want': $(head -c 300 "$t/err")"; return 1; }
	if LC_ALL=C grep -q '[^[:print:][:space:]]' "$t/err"; then
		echo "$*: stderr holds raw bytes"
		return 1
	fi
}

usage nm_migrate_serial_path "--serial /nonexistent/dir/x: No such file" \
	nm-migrate run --serial /nonexistent/dir/x --run-ms 1
usage nm_migrate_send_no_port "--to IP:PORT (port 1..65535), not 127.0.0.1" nm-migrate send --to 127.0.0.1 --key-file "$t/key"
usage nm_migrate_send_port_0 "not 127.0.0.1:0" nm-migrate send --to 127.0.0.1:0 --key-file "$t/key"
usage nm_migrate_listen_no_port "--listen IP:PORT (port 1..65535), not 127.0.0.1" nm-migrate receive --listen 127.0.0.1 --key-file "$t/key"
usage nm_migrate_max_ram_0 "--max-ram: at least 1 MiB" \
	nm-migrate receive --listen 127.0.0.1:7999 --key-file "$t/key" --max-ram 0
usage nm_migrate_ram_0 "--ram: at least 1 MiB" nm-migrate run --ram 0
AGENT=(netmoved --name a --key-file "$t/key" --ofctl unix:/x --ovs-ctl /x --uplink lo
	--gateway 198.18.0.1 --socket "$t/a.sock" --journal "$t/j")
usage netmoved_peer_port_0 "'hostb=198.18.0.2:0' is not NAME=IP:PORT" "${AGENT[@]}" --peer hostb=198.18.0.2:0
usage netmoved_peer_no_port "'hostb=198.18.0.2' is not NAME=IP:PORT" "${AGENT[@]}" --peer hostb=198.18.0.2
usage netmoved_listen_port_0 "--listen: '198.18.0.1:0' is not IP:PORT" "${AGENT[@]}" --listen 198.18.0.1:0
usage netmoved_metrics_no_port "--metrics: '127.0.0.1' is not IP:PORT" "${AGENT[@]}" --metrics 127.0.0.1
usage netmoved_metrics_name "--metrics: 'localhost:9870' is not IP:PORT" "${AGENT[@]}" --metrics localhost:9870
usage netmoved_max_per_peer_0 "--max-per-peer: '0' is not a whole number from 1 to 1024" "${AGENT[@]}" --max-per-peer 0
usage netmoved_spill_huge "invalid value '70000'" "${AGENT[@]}" --spill-mib 70000
usage netmoved_handoff_idle_0 "invalid value '0'" "${AGENT[@]}" --handoff-idle 0
tests+=(netmoved_fault_bad)
test_netmoved_fault_bad() {
	NETMOVED_FAULT=source:nosuch:kill run_usage "NETMOVED_FAULT: 'source:nosuch:kill' is not" "${AGENT[@]}"
}
usage netmoved_uplink_missing "no interface 'nmnosuch0'" \
	netmoved --name a --key-file "$t/key" --ofctl unix:/x --ovs-ctl /x --uplink nmnosuch0 \
	--gateway 198.18.0.1 --socket "$t/a.sock" --journal "$t/j"
# TLS options (netmoved and nm-migrate share them): one mode, every part,
# files that load, a key that matches its certificate.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=a \
	-keyout "$t/a.key" -out "$t/a.crt" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=b \
	-keyout "$t/b.key" -out "$t/b.crt" 2>/dev/null
NOTLS=(netmoved --name a --ofctl unix:/x --ovs-ctl /x --uplink lo --gateway 198.18.0.1
	--socket "$t/a.sock" --journal "$t/j")
usage netmoved_tls_none "needs --key-file, --pki-dir or --tls-ca" "${NOTLS[@]}"
usage netmoved_tls_both "exclude each other" "${NOTLS[@]}" --key-file "$t/key" --pki-dir "$t"
usage netmoved_tls_part "missing --tls-key" "${NOTLS[@]}" --tls-ca "$t/a.crt" --tls-cert "$t/a.crt"
usage netmoved_tls_missing "--tls-cert $t/nope.pem: No such file" "${NOTLS[@]}" \
	--tls-ca "$t/a.crt" --tls-cert "$t/nope.pem" --tls-key "$t/a.key"
usage netmoved_tls_mismatch "--tls-key $t/b.key does not match --tls-cert $t/a.crt" \
	"${NOTLS[@]}" --tls-ca "$t/a.crt" --tls-cert "$t/a.crt" --tls-key "$t/b.key"
usage netmoved_tls_other_ca "does not verify under --tls-ca" \
	"${NOTLS[@]}" --tls-ca "$t/b.crt" --tls-cert "$t/a.crt" --tls-key "$t/a.key"
usage netmoved_psk_short "key must be 16..256 bytes" "${NOTLS[@]}" --key-file "$t/binary.flows"
usage nm_migrate_tls_none "needs --key-file, --pki-dir" nm-migrate send --to 127.0.0.1:7999
usage nm_migrate_tls_mismatch "does not match" nm-migrate receive --listen 127.0.0.1:7999 \
	--tls-ca "$t/a.crt" --tls-cert "$t/a.crt" --tls-key "$t/b.key"
usage netmove_netns_path "'../../etc' is not a namespace name" netmove -n ../../etc status
usage netmove_netns_dotdot "'..' is not a namespace name" netmove -n .. status
usage netmove_netns_missing "nmnosuchns: no such network namespace" netmove -n nmnosuchns status
usage nm_ovs_bundle_binary "line 1: not a flow (binary data" nm-ovs bundle "$t/binary.flows"
usage fdb_watch_timeout_0 "--timeout: '0' is not a whole number from 1" netmove fdb watch --mac $M --timeout 0
usage verify_vlan_4095 "--vlan: '4095' is not a whole number from 0 to 4094" netmove verify --iface lo --mac $M --ip 198.18.0.9 \
	--gateway 198.18.0.1 --vlan 4095
usage announce_max_below_step "--max (1 ms) must be at least" \
	netmove announce --iface lo --mac $M --rarp --initial 0 --step 5 --max 1
usage event_last_rx_no_len "--last-rx: '0x1234' is not HASH:LEN" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx 0x1234
usage event_last_rx_len_0 "--last-rx: '0x1234:0' is not" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx 0x1234:0
usage event_last_rx_hash_big "--last-rx: '0x123456789:60' is not" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx 0x123456789:60
usage event_last_rx_negative "--last-rx: '-1:60' is not" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx -1:60
usage event_last_rx_no_stop "go with --stopped-us" \
	netmove event blackout --mac $M --reader-keeps-one --last-rx 1:60
usage event_last_rx_no_keeps "goes with --reader-keeps-one" \
	netmove event blackout --mac $M --stopped-us 1 --last-rx 1:60
usage event_rx_after_alone "--rx-after goes with --last-rx" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --rx-after 12:60
usage event_rx_after_bad "--rx-after: '12:60,,4' is not" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx 1:60 \
	--rx-after 12:60,,4
usage event_rx_after_zero "--rx-after: '12:0' is not" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx 1:60 \
	--rx-after 12:0
usage event_last_rx_none_alone "--last-rx none needs --rx-after" \
	netmove event blackout --mac $M --stopped-us 1 --reader-keeps-one --last-rx none
usage relocate_priority "--priority: '101' is not a whole number from 0 to 100" \
	netmove relocate --mac $M --ip 198.18.0.9 --to hostb --port vnet0 --priority 101
usage relocate_window_alone "--window goes with --at" \
	netmove relocate --mac $M --ip 198.18.0.9 --to hostb --port vnet0 --window 5m
usage relocate_at_word "--at: 'tonight' is not a time" \
	netmove relocate --mac $M --ip 198.18.0.9 --to hostb --port vnet0 --at tonight
usage relocate_window_unit "--window: '5' is not a span" \
	netmove relocate --mac $M --ip 198.18.0.9 --to hostb --port vnet0 --at +1h --window 5
usage schedule_verb "'frob' is not list or cancel" netmove schedule frob
usage schedule_cancel_no_id "cancel needs the entry's id" netmove schedule cancel
usage schedule_cancel_0 "cancel: '0' is not a whole number from 1" netmove schedule cancel 0
usage schedule_stray "unexpected argument 'x'" netmove schedule list x
usage journal_since_word "--since: 'yesterday' is not a time" netmove journal --since yesterday
usage journal_until_zone "--until: '2026-12-03T08:00:00+01:00' is not a time" \
	netmove journal --until 2026-12-03T08:00:00+01:00
usage journal_since_after_until "--since is after --until" \
	netmove journal --since 2026-12-03 --until 2026-12-02
usage journal_mac "--mac" netmove journal --mac 52:54:00:00:00
usage journal_id_0 "--id: '0' is not a whole number from 1" netmove journal --id 0
usage journal_outcome_empty "--outcome: '' is not an outcome" netmove journal --outcome ''
usage journal_stray "unexpected argument 'x'" netmove journal x
usage journal_svg_no_id "--svg draws one relocation: give its --id" netmove journal --svg "$t/x.svg"
usage journal_also_alone "--also goes with --svg" netmove journal --also "$t/j"

PLAN=(netmove plan --mac $M --ip 198.18.0.9 --port vnet0)
usage plan_no_candidates "--mac, --ip, --port and --candidates are required" "${PLAN[@]}"
usage plan_candidate_empty "--candidates: '' is not a host name" "${PLAN[@]}" --candidates hostb,,hostc
usage plan_candidate_twice "--candidates: hostb is named twice" "${PLAN[@]}" --candidates hostb,hostc,hostb
usage plan_candidate_long "--candidates: 'h234567890123456789012345678901234' is not a host name" \
	"${PLAN[@]}" --candidates h234567890123456789012345678901234
usage plan_candidate_space "--candidates: a host name holds a space" "${PLAN[@]}" --candidates "hostb,host c"
usage plan_too_many "--candidates: more than 16 hosts" "${PLAN[@]}" \
	--candidates h1,h2,h3,h4,h5,h6,h7,h8,h9,h10,h11,h12,h13,h14,h15,h16,h17
usage plan_blackout_0 "--blackout-ms: '0' is not a whole number from 1 to 3600000" "${PLAN[@]}" \
	--candidates hostb --blackout-ms 0
usage plan_ip_multicast "--ip must be a unicast address" netmove plan --mac $M --ip 224.0.0.1 \
	--port vnet0 --candidates hostb
usage plan_port_slash "--port: 'a/b' is not an interface name" netmove plan --mac $M --ip 198.18.0.9 \
	--port a/b --candidates hostb

# A well-formed plan gets as far as the agent (none here: exit 3).
test_plan_accepted() {
	"$B/netmove" plan --mac $M --ip 198.18.0.9 --port vnet0 --candidates hostb,hostc \
		--blackout-ms 300 >/dev/null 2>"$t/err"
	local rc=$?
	[ "$rc" = 3 ] || { echo "exit $rc, expected 3 (agent unreachable): $(cat "$t/err")"; return 1; }
}
tests+=(plan_accepted)

# A well-formed --last-rx gets as far as the agent (none here: exit 3).
test_event_last_rx_accepted() {
	"$B/netmove" event blackout --mac $M --stopped-us 1 --reader-keeps-one \
		--last-rx 0xeab9d349:106 --rx-after 12:1536,118 >/dev/null 2>"$t/err"
	local rc=$?
	[ "$rc" = 3 ] || { echo "exit $rc, expected 3 (agent unreachable): $(cat "$t/err")"; return 1; }
}
tests+=(event_last_rx_accepted)

sh_cmocka_run "$B" "netmove is not built next to $here or in ${O:-build}/" "${tests[@]}"
