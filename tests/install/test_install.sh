#!/bin/bash
# make install into a scratch DESTDIR: every program the build makes for
# users lands in sbin/ or bin/, every man page in docs/ in its section, each
# program has its man page, and each answers --help; the libvirt hook is in
# etc/libvirt/hooks/qemu.d/netmove and exits 0 at once for an operation it
# does not handle.
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
echo "PASS"
