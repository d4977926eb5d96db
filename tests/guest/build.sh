#!/bin/bash
# Build the QEMU test guest: Debian's newest 6.1 cloud kernel (kernel.sh) and
# a busybox initramfs holding tests/guest/init, the virtio-net modules and
# udp-reflect.  Prints the directory with vmlinuz and initrd.gz; rebuilds the
# initramfs when init or udp-reflect change.
#   tests/guest/build.sh UDP_REFLECT_BINARY
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
reflect=$1
cache=${NETMOVE_CACHE:-/var/cache/netmove}
[ -x "$reflect" ] || { echo "guest: $reflect not built" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "guest: /bin/busybox missing (busybox-static)" >&2; exit 1; }
kdir=$("$here/kernel.sh" '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' virtio_pci virtio_net)
key=$(cat "$here/init" "$reflect" "$kdir/vmlinuz" "$kdir/modules/order" | sha256sum | cut -c1-16)
gdir=$cache/guest-$key
if [ ! -f "$gdir/.done" ]; then
	rm -rf "$gdir"
	mkdir -p "$gdir/root/bin" "$gdir/root/lib/modules"
	cp /bin/busybox "$gdir/root/bin/busybox"
	ln -s busybox "$gdir/root/bin/sh"
	cp "$here/init" "$gdir/root/init"
	chmod +x "$gdir/root/init"
	cp "$reflect" "$gdir/root/bin/udp-reflect"
	cp "$kdir"/modules/*.ko "$kdir/modules/order" "$gdir/root/lib/modules/"
	(cd "$gdir/root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$gdir/initrd.gz"
	cp "$kdir/vmlinuz" "$gdir/vmlinuz"
	rm -rf "$gdir/root"
	touch "$gdir/.done"
fi
echo "$gdir"
