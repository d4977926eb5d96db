#!/bin/bash
# make install into a scratch DESTDIR: every program the build makes for
# users lands in sbin/ or bin/, every man page in docs/ in its section, each
# program has its man page, and each answers --help; the libvirt hook is in
# etc/libvirt/hooks/qemu.d/netmove and exits 0 at once for an operation it
# does not handle; netmoved's systemd unit is in lib/systemd/system (for
# PREFIX=/usr) and runs the installed netmoved with the arguments of
# etc/default/netmove, which a second install keeps.
set -u
cd "$(dirname "$0")/../.."
d=$(mktemp -d /tmp/netmove-install.XXXXXX)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

make --no-print-directory install DESTDIR="$d" PREFIX=/usr >"$d.log" 2>&1 ||
	fail "make install: $(tail -5 "$d.log")"
rm -f "$d.log"
progs=$(cd "$d/usr" && ls sbin/* bin/* 2>/dev/null)
[ -n "$progs" ] || fail "nothing installed"
for want in netmove netmoved nm-ovs nm-migrate nm-vmstub nm-qemu nm-libvirt nm-libvirt-hook; do
	[ -x "$d/usr/sbin/$want" ] || [ -x "$d/usr/bin/$want" ] || fail "$want not installed"
done
for m in docs/*.[1-8]; do
	[ -f "$d/usr/share/man/man${m##*.}/${m##*/}" ] || fail "$m not installed"
done
for p in $progs; do
	name=${p##*/}
	ls "$d"/usr/share/man/man*/"$name".[1-8] >/dev/null 2>&1 || fail "$name has no man page"
	"$d/usr/$p" --help >/dev/null 2>&1 || fail "$name --help failed"
	echo "installed: $p ($(cd "$d/usr/share/man" && ls man*/"$name".[1-8]))"
done
hook=$d/etc/libvirt/hooks/qemu.d/netmove
[ -x "$hook" ] || fail "the libvirt hook is not in etc/libvirt/hooks/qemu.d/netmove"
out=$("$hook" vm1 reconnect begin - </dev/null 2>&1) || fail "the hook failed for an operation it does not handle"
[ -z "$out" ] || fail "the hook printed for an operation it does not handle: $out"
echo "installed: etc/libvirt/hooks/qemu.d/netmove"
unit=$d/lib/systemd/system/netmoved.service
[ -f "$unit" ] || fail "netmoved.service is not in lib/systemd/system"
grep -qx 'ExecStart=/usr/sbin/netmoved $NETMOVED_ARGS' "$unit" || fail "the unit's ExecStart: $(grep ExecStart= "$unit")"
grep -qx 'EnvironmentFile=-/etc/default/netmove' "$unit" || fail "the unit reads no /etc/default/netmove"
grep -qx 'Restart=on-failure' "$unit" || fail "the unit does not restart on failure"
grep -Eq '^After=(.* )?openvswitch-switch\.service( |$)' "$unit" || fail "the unit is not ordered after openvswitch-switch"
grep -q '@[A-Z]*@' "$unit" && fail "the unit keeps a placeholder: $(grep '@[A-Z]*@' "$unit")"
echo "installed: lib/systemd/system/netmoved.service"
def=$d/etc/default/netmove
[ -f "$def" ] || fail "etc/default/netmove not installed"
(set -a; . "$def"; [ "${NETMOVED_ARGS-unset}" = "" ]) || fail "etc/default/netmove does not set NETMOVED_ARGS empty"
echo "# kept" >>"$def"
make --no-print-directory install DESTDIR="$d" PREFIX=/usr >"$d.log" 2>&1 ||
	fail "make install again: $(tail -5 "$d.log")"
rm -f "$d.log"
[ "$(tail -1 "$def")" = "# kept" ] || fail "a second make install overwrote etc/default/netmove"
echo "installed: etc/default/netmove (kept by a second install)"
echo "PASS"
