#!/bin/bash
# nm-libvirt-hook's arguments and state file, without libvirt, QEMU or an
# agent: NETMOVE_SOCKET names a socket nobody listens on.  Prints cmocka's
# result lines, so tests/run.sh counts it among the unit tests (the build
# copies it to build/unit/test_libvirt_hook).  Needs the built hook:
# NM_LIBVIRT_HOOK, else build/nm-libvirt-hook next to this copy or the tree's.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/sh_cmocka.sh"
HOOK=${NM_LIBVIRT_HOOK:-}
for h in "$here/../nm-libvirt-hook" "$here/../../${O:-build}/nm-libvirt-hook"; do
	[ -n "$HOOK" ] && break
	[ -x "$h" ] && HOOK=$h
done
t=$(mktemp -d /tmp/nm-libvirt-hook-test.XXXXXX)
trap 'rm -rf "$t"' EXIT
export NETMOVE_HOOK_STATE_DIR=$t/run/netmove/libvirt
export NETMOVE_HOOK_LOG=$t/log/netmove/libvirt-hook.log
export NETMOVE_SOCKET=$t/no-netmoved.sock
export NETMOVE_HOOK_TIMEOUT_MS=5000
state=$NETMOVE_HOOK_STATE_DIR/vm70.incoming

cat >"$t/vm70.xml" <<'EOF'
<domain type='kvm' id='3'>
  <name>vm70</name>
  <uuid>0b1ec1c5-5b42-4d4e-9d2c-7a8f3a3c2a70</uuid>
  <metadata>
    <nm:netmove xmlns:nm="https://netmove.dev/xmlns/libvirt/1">
      <nm:interface mac="52:54:00:00:00:70" ip="198.18.0.70"/>
    </nm:netmove>
  </metadata>
  <devices>
    <interface type='bridge'>
      <mac address='52:54:00:00:00:70'/>
      <source bridge='br-int'/>
      <virtualport type='openvswitch'/>
      <target dev='vnet7'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:00:00:71'/>
      <source bridge='br-int'/>
      <virtualport type='openvswitch'/>
      <target dev='vnet8'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:00:00:72'/>
      <source network='default'/>
    </interface>
  </devices>
</domain>
EOF

# hook ARGS... < stdin: exit status in $rc, stdout in $t/out, stderr in $t/err.
hook() {
	"$HOOK" "$@" >"$t/out" 2>"$t/err"
	rc=$?
}

fail() { echo "$*"; return 1; }
no_stdout() { [ ! -s "$t/out" ] || fail "stdout not empty: $(head -c 200 "$t/out")"; }
logged() { # PATTERN: in the log file and on stderr
	grep -q -- "$1" "$NETMOVE_HOOK_LOG" 2>/dev/null ||
		fail "log file lacks '$1'"$'\n'"$(cat "$NETMOVE_HOOK_LOG" 2>/dev/null)"
	grep -q -- "$1" "$t/err" || fail "stderr lacks '$1': $(cat "$t/err")"
}

test_migrate_begin_records() {
	rm -rf "$t/run" "$t/log"
	hook vm70 migrate begin - <"$t/vm70.xml"
	[ "$rc" -eq 0 ] || fail "exit $rc"
	no_stdout || return 1
	[ -f "$state" ] || fail "no state file $state"
	grep -qx '52:54:00:00:00:70 198.18.0.70' "$state" || fail "state: $(cat "$state")"
	grep -qx '52:54:00:00:00:71 -' "$state" || fail "state: $(cat "$state")"
	! grep -q '52:54:00:00:00:72' "$state" || fail "non-OVS interface recorded"
	logged 'vm70 migrate begin: incoming migration of 2 netmove interfaces' || return 1
	# A timestamp prefix: 2026-12-01T10:00:00.123456Z
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z nm-libvirt-hook: ' \
		"$NETMOVE_HOOK_LOG" || fail "no timestamp: $(cat "$NETMOVE_HOOK_LOG")"
}

test_unhandled_op_leaves_stdin() {
	local op
	rm -rf "$t/run" "$t/log"
	for op in "prepare begin" "start begin" "stopped begin" "release begin" "reconnect begin" \
		"attach begin" "restore begin" "migrate end" "started end" "bogus x"; do
		# shellcheck disable=SC2086
		{ hook vm70 $op -; cat >"$t/rest"; } <"$t/vm70.xml"
		[ "$rc" -eq 0 ] || fail "$op: exit $rc"
		no_stdout || return 1
		cmp -s "$t/rest" "$t/vm70.xml" || fail "$op read stdin"
	done
	[ ! -e "$NETMOVE_HOOK_LOG" ] || fail "unhandled ops logged: $(cat "$NETMOVE_HOOK_LOG")"
	[ ! -e "$NETMOVE_HOOK_STATE_DIR" ] || fail "unhandled ops made the state dir"
}

test_started_without_state_is_a_plain_start() {
	rm -rf "$t/run" "$t/log"
	{ hook vm70 started begin -; cat >"$t/rest"; } <"$t/vm70.xml"
	[ "$rc" -eq 0 ] || fail "exit $rc"
	no_stdout || return 1
	cmp -s "$t/rest" "$t/vm70.xml" || fail "read stdin without a state file"
	[ ! -s "$NETMOVE_HOOK_LOG" ] || fail "logged: $(cat "$NETMOVE_HOOK_LOG")"
}

test_started_pulls_and_removes_state() {
	local t0 t1
	rm -rf "$t/run" "$t/log"
	hook vm70 migrate begin - <"$t/vm70.xml"
	[ -f "$state" ] || fail "no state file"
	t0=$(date +%s%N)
	hook vm70 started begin - <"$t/vm70.xml"
	t1=$(date +%s%N)
	[ "$rc" -eq 0 ] || fail "exit $rc"
	no_stdout || return 1
	[ ! -e "$state" ] || fail "state file left"
	logged "pull 52:54:00:00:00:70 (198.18.0.70) to vnet7 on br-int: failed: netmoved at" ||
		return 1
	logged "netmoved at $NETMOVE_SOCKET: No such file or directory" || return 1
	logged 'no netmove metadata ip for MAC 52:54:00:00:00:71: not relocated' || return 1
	logged 'incoming migration: 0 of 2 netmove interfaces prepared' || return 1
	[ $(((t1 - t0) / 1000000)) -lt 2000 ] || fail "took $(((t1 - t0) / 1000000)) ms"
}

test_release_and_stopped_remove_state() {
	local op
	for op in release stopped; do
		rm -rf "$t/run" "$t/log"
		hook vm70 migrate begin - <"$t/vm70.xml"
		[ -f "$state" ] || fail "no state file"
		hook vm70 "$op" end - </dev/null
		[ "$rc" -eq 0 ] || fail "$op end: exit $rc"
		no_stdout || return 1
		[ ! -e "$state" ] || fail "$op end left the state file"
		logged "vm70 $op end: state file $state removed" || return 1
		hook vm70 "$op" end - </dev/null
		[ "$rc" -eq 0 ] || fail "$op end without a state file: exit $rc"
	done
}

test_bad_domain_names() {
	local name
	rm -rf "$t/run" "$t/log"
	for name in "../escape" ".hidden" "a/b" "" "$(printf 'x%.0s' {1..250})"; do
		hook "$name" migrate begin - <"$t/vm70.xml"
		[ "$rc" -eq 0 ] || fail "'$name': exit $rc"
		no_stdout || return 1
	done
	[ -z "$(ls -A "$NETMOVE_HOOK_STATE_DIR" 2>/dev/null)" ] ||
		fail "state written: $(ls -A "$NETMOVE_HOOK_STATE_DIR")"
	[ ! -e "$t/run/netmove/escape.incoming" ] || fail "escaped the state dir"
	logged 'domain name not usable as a state file name: ignored' || return 1
}

test_malformed_xml() {
	rm -rf "$t/run" "$t/log"
	printf '<domain><name>vm70</name><devices>' >"$t/bad.xml"
	hook vm70 migrate begin - <"$t/bad.xml"
	[ "$rc" -eq 0 ] || fail "exit $rc"
	no_stdout || return 1
	[ ! -e "$state" ] || fail "state file for malformed XML"
	logged 'domain XML: not well-formed XML' || return 1
	logged 'incoming migration not recorded' || return 1
}

test_stale_state_is_not_used() {
	rm -rf "$t/run" "$t/log"
	hook vm70 migrate begin - <"$t/vm70.xml"
	touch -d '-20 minutes' "$state"
	{ hook vm70 started begin -; cat >"$t/rest"; } <"$t/vm70.xml"
	[ "$rc" -eq 0 ] || fail "exit $rc"
	[ ! -e "$state" ] || fail "stale state file left"
	logged 'stale state file' || return 1
	! grep -q 'pull ' "$NETMOVE_HOOK_LOG" || fail "pulled on a stale state file"
	cmp -s "$t/rest" "$t/vm70.xml" || fail "read stdin for a stale state file"
}

test_time_bound() {
	local t0 t1 ms
	rm -rf "$t/run" "$t/log"
	t0=$(date +%s%N)
	# stdin never ends: libvirt must get its answer at the time limit anyway.
	NETMOVE_HOOK_TIMEOUT_MS=400 hook vm70 migrate begin - < <(sleep 5)
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	[ "$rc" -eq 0 ] || fail "exit $rc"
	no_stdout || return 1
	[ "$ms" -lt 1500 ] || fail "took $ms ms with a 400 ms limit"
	logged 'no end of input within the time limit' || return 1
}

test_by_hand() {
	hook --help
	[ "$rc" -eq 0 ] || fail "--help: exit $rc"
	grep -q 'usage: nm-libvirt-hook' "$t/out" || fail "--help: $(cat "$t/out")"
	hook --version
	[ "$rc" -eq 0 ] || fail "--version: exit $rc"
	hook
	[ "$rc" -eq 2 ] || fail "no arguments: exit $rc (want 2)"
	hook --bogus
	[ "$rc" -eq 2 ] || fail "--bogus: exit $rc (want 2)"
}

tests=(migrate_begin_records unhandled_op_leaves_stdin started_without_state_is_a_plain_start
	started_pulls_and_removes_state release_and_stopped_remove_state bad_domain_names
	malformed_xml stale_state_is_not_used time_bound by_hand)
sh_cmocka_run "$([ -n "$HOOK" ] && [ -x "$HOOK" ] && echo y)" \
	"nm-libvirt-hook not built (make, or set NM_LIBVIRT_HOOK)" "${tests[@]}"
