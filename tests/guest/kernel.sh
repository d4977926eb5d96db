#!/bin/bash
# Fetch the newest Debian kernel package whose name matches PATTERN (an
# extended regular expression over apt's package names), unpacked once into
# the cache, and the modules MODULE... with every module they depend on.
# Prints the directory, which holds
#   vmlinuz        the kernel
#   release        its uname -r
#   modules/*.ko   the modules, uncompressed
#   modules/order  their names in load order (dependencies first)
#   tests/guest/kernel.sh PATTERN MODULE...
set -euo pipefail
pattern=$1
shift
cache=${NETMOVE_CACHE:-/var/cache/netmove}
pkg=$(apt-cache search --names-only "$pattern" | awk '{print $1}' | grep -E "$pattern" |
	sort -V | tail -1)
[ -n "$pkg" ] || { echo "kernel: no package matching '$pattern' in the apt lists" >&2; exit 1; }
key=$(echo "$pkg $*" | sha256sum | cut -c1-12)
kdir=$cache/kernel-$pkg-$key
if [ -f "$kdir/.done" ]; then
	echo "$kdir"
	exit 0
fi
echo "kernel: fetching $pkg" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2)
dpkg -x "$tmp"/*.deb "$tmp/x"
mods=$(echo "$tmp"/x/lib/modules/*)
# The package ships no modules.dep: its postinst runs depmod.
depmod -b "$tmp/x" "$(basename "$mods")" ||
	{ echo "kernel: depmod failed on $pkg (kmod installed?)" >&2; exit 1; }
rm -rf "$kdir"
mkdir -p "$kdir/modules"
cp "$tmp"/x/boot/vmlinuz-* "$kdir/vmlinuz"
basename "$mods" >"$kdir/release"
# name -> path (relative to $mods) and its dependencies, from modules.dep.
declare -A path deps done
while IFS=: read -r m d; do
	n=$(basename "$m")
	n=${n%%.ko*}
	path[$n]=$m
	deps[$n]=$d
done <"$mods/modules.dep"
order=()
add() { # NAME
	local d n
	[ -z "${done[$1]:-}" ] || return 0
	done[$1]=1
	[ -n "${path[$1]:-}" ] || { echo "kernel: module $1 not in $pkg" >&2; exit 1; }
	# modules.dep lists what a module needs; modprobe loads it last first.
	for d in $(echo "${deps[$1]}" | tr ' ' '\n' | tac); do
		n=$(basename "$d")
		add "${n%%.ko*}"
	done
	order+=("$1")
}
for m in "$@"; do
	add "$m"
done
for m in "${order[@]}"; do
	f=$mods/${path[$m]}
	case $f in
	*.ko.xz) xz -dc "$f" >"$kdir/modules/$m.ko" ;;
	*.ko.zst) zstd -qdc "$f" >"$kdir/modules/$m.ko" ;;
	*.ko.gz) gzip -dc "$f" >"$kdir/modules/$m.ko" ;;
	*) cp "$f" "$kdir/modules/$m.ko" ;;
	esac
done
printf '%s\n' "${order[@]}" >"$kdir/modules/order"
touch "$kdir/.done"
echo "$kdir"
