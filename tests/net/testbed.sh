#!/bin/bash
# Command-line front end of the network testbed (tests/net/lib.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/net/lib.sh
. "$here/lib.sh"

usage() {
	cat <<EOF
usage: testbed.sh COMMAND [options]

  up [--ageing S] [--prefix P]  build a testbed and leave it running; prints
                                its prefix, state dir and namespace names as
                                shell assignments (TB_P=... TB_TOR=...)
  down --prefix P               tear the testbed down (idempotent)
  vm-attach --prefix P a|b      move the VM's port to host a or b
  vm-host --prefix P            print the host (a or b) the VM is on
  list                          list the testbeds found in $TB_STATE_ROOT
  --help                        this text

Everything is recovered from the prefix (state in $TB_STATE_ROOT/PREFIX).
Namespaces: PREFIXtor PREFIXrouter PREFIXhosta PREFIXhostb PREFIXvm.
Run a command in one:  ip netns exec PREFIXvm ping 198.18.0.1
OVS of host a:         ovs-vsctl --db=unix:$TB_STATE_ROOT/PREFIX/hosta/db.sock show
Needs root.
EOF
}

die() {
	echo "testbed.sh: $*" >&2
	exit 1
}

cmd=${1:-}
[ $# -gt 0 ] && shift
prefix=
ageing=
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--prefix)
		[ $# -ge 2 ] || die "--prefix needs a value"
		prefix=$2
		shift 2
		;;
	--prefix=*)
		prefix=${1#--prefix=}
		shift
		;;
	--ageing)
		[ $# -ge 2 ] || die "--ageing needs a value"
		ageing=$2
		shift 2
		;;
	--ageing=*)
		ageing=${1#--ageing=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		args+=("$1")
		shift
		;;
	esac
done

need_prefix() {
	[ -n "$prefix" ] || die "$cmd needs --prefix P"
}

case "$cmd" in
up)
	[ ${#args[@]} -eq 0 ] || die "up: unexpected argument '${args[0]}'"
	if [ -n "$prefix" ]; then
		export TB_PREFIX=$prefix
	fi
	t0=$(date +%s%N)
	tb_up ${ageing:+--ageing "$ageing"} || exit 1
	echo "testbed.sh: up in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
	cat <<-EOF
		TB_P=$TB_P
		TB_DIR=$TB_DIR
		TB_TOR=$TB_TOR
		TB_ROUTER=$TB_ROUTER
		TB_HOSTA=$TB_HOSTA
		TB_HOSTB=$TB_HOSTB
		TB_VM=$TB_VM
	EOF
	;;
down)
	need_prefix
	[ ${#args[@]} -eq 0 ] || die "down: unexpected argument '${args[0]}'"
	tb_down "$prefix"
	;;
vm-attach)
	need_prefix
	[ ${#args[@]} -eq 1 ] || die "usage: testbed.sh vm-attach --prefix P a|b"
	tb_use "$prefix" || exit 1
	tb_vm_attach "${args[0]}" || exit 1
	;;
vm-host)
	need_prefix
	tb_use "$prefix" || exit 1
	tb_vm_host
	;;
list)
	for env in "$TB_STATE_ROOT"/*/env; do
		[ -f "$env" ] || continue
		p=$(basename "$(dirname "$env")")
		state=
		[ -e "$TB_STATE_ROOT/$p/vm_detached" ] && state=" (detached)"
		printf '%s\tvm on host %s%s\n' "$p" \
			"$(cat "$TB_STATE_ROOT/$p/vm_host" 2>/dev/null || echo '?')" "$state"
	done
	;;
-h | --help | help)
	usage
	;;
"")
	usage >&2
	exit 2
	;;
*)
	echo "testbed.sh: unknown command '$cmd'" >&2
	usage >&2
	exit 2
	;;
esac
