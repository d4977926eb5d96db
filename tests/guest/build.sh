#!/bin/bash
# Build the QEMU test guest: Debian's newest 6.1 cloud kernel (downloaded with
# apt-get, unpacked once into the cache) and a busybox initramfs holding
# tests/guest/init, the virtio-net modules and udp-reflect.  Prints the
# directory with vmlinuz and initrd.gz; rebuilds the initramfs when init or
# udp-reflect change.
#   tests/guest/build.sh UDP_REFLECT_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reflect=$1
cache=${NETMOVE_CACHE:-/var/cache/netmove}
[ -x "$reflect" ] || { echo "guest: $reflect not built" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "guest: /bin/busybox missing (busybox-static)" >&2; exit 1; }
pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' |
	awk '{print $1}' | sort -V | tail -1)
[ -n "$pkg" ] || { echo "guest: no linux-image-6.1.0-*-cloud-amd64 in the apt lists" >&2; exit 1; }
kdir=$cache/kernel-$pkg
if [ ! -f "$kdir/.done" ]; then
	echo "guest: fetching $pkg" >&2
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2)
	rm -rf "$kdir"
	mkdir -p "$kdir"
	dpkg -x "$tmp"/*.deb "$kdir/x"
	cp "$kdir"/x/boot/vmlinuz-* "$kdir/vmlinuz"
	mkdir -p "$kdir/modules"
	for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci \
		failover net_failover virtio_net; do
		f=$(find "$kdir/x/lib/modules" -name "$m.ko" | head -1)
		[ -n "$f" ] || { echo "guest: module $m not in $pkg" >&2; exit 1; }
		cp "$f" "$kdir/modules/"
	done
	rm -rf "$kdir/x"
	touch "$kdir/.done"
fi
key=$(cat "$here/init" "$reflect" "$kdir/vmlinuz" | sha256sum | cut -c1-16)
gdir=$cache/guest-$key
if [ ! -f "$gdir/.done" ]; then
	rm -rf "$gdir"
	mkdir -p "$gdir/root/bin" "$gdir/root/lib/modules"
	cp /bin/busybox "$gdir/root/bin/busybox"
	ln -s busybox "$gdir/root/bin/sh"
	cp "$here/init" "$gdir/root/init"
	chmod +x "$gdir/root/init"
	cp "$reflect" "$gdir/root/bin/udp-reflect"
	cp "$kdir"/modules/*.ko "$gdir/root/lib/modules/"
	(cd "$gdir/root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$gdir/initrd.gz"
	cp "$kdir/vmlinuz" "$gdir/vmlinuz"
	rm -rf "$gdir/root"
	touch "$gdir/.done"
fi
echo "$gdir"
