#!/bin/bash
# Install netmove's Debian packages and build libopenvswitch from Debian's
# openvswitch-source into a cache outside the work tree.
#   mk/deps.sh           install what is missing, build the cache if needed
#   mk/deps.sh --update  the same, after `apt-get update` (what `make deps` runs)
#   mk/deps.sh --check   exit 0 when everything is in place, 1 otherwise
#   mk/deps.sh --ovs-dir print the libopenvswitch cache directory
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache_root=${NETMOVE_CACHE:-/var/cache/netmove}
pkgs=$(grep -v '^#' "$here/packages.txt" | xargs)
pkg_hash=$(sha256sum "$here/packages.txt" | cut -c1-16)
stamp="$cache_root/deps-$pkg_hash.stamp"

ovs_version() {
	dpkg-query -W -f='${Version}' openvswitch-source 2>/dev/null || true
}

ovs_dir() {
	local v
	v=$(ovs_version)
	[ -n "$v" ] || return 1
	echo "$cache_root/openvswitch-${v//[:~]/_}"
}

packages_present() {
	local missing
	missing=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $pkgs 2>/dev/null |
		awk '$2 != "ii" {print $1}' || true)
	[ -z "$missing" ] && [ "$(dpkg-query -W $pkgs 2>/dev/null | wc -l)" -eq "$(echo $pkgs | wc -w)" ]
}

check() {
	local d
	[ -f "$stamp" ] || return 1
	packages_present || return 1
	d=$(ovs_dir) || return 1
	[ -f "$d/.built" ] || return 1
	[ "$(cat "$stamp")" = "$(ovs_version)" ] || return 1
}

build_ovs() {
	local d src build tarball
	d=$(ovs_dir)
	[ -f "$d/.built" ] && return 0
	tarball=/usr/src/openvswitch/openvswitch.tar.gz
	[ -f "$tarball" ] || { echo "deps: $tarball missing" >&2; exit 1; }
	echo "deps: building libopenvswitch $(ovs_version) into $d (2-3 min)"
	rm -rf "$d"
	mkdir -p "$d/src" "$d/build"
	tar -xzf "$tarball" -C "$d/src" --strip-components=1
	# Some tarballs hold the tree directly, others one directory deep.
	if [ ! -x "$d/src/configure" ]; then
		echo "deps: no configure script in $tarball" >&2
		exit 1
	fi
	build="$d/build"
	(
		cd "$build"
		PYTHON3=/usr/bin/python3 ../src/configure --disable-libcapng \
			--disable-afxdp --enable-ssl >configure.log 2>&1 ||
			{ tail -30 configure.log >&2; exit 1; }
		printf 'print-%%:\n\t@echo $($*)\n' >print.mk
		built=$(make -s -f Makefile -f print.mk print-BUILT_SOURCES)
		make -j"$(nproc)" $built >build.log 2>&1 ||
			{ tail -30 build.log >&2; exit 1; }
		make -j"$(nproc)" lib/libopenvswitch.la >>build.log 2>&1 ||
			{ tail -30 build.log >&2; exit 1; }
	)
	[ -f "$build/lib/.libs/libopenvswitch.a" ] || { echo "deps: libopenvswitch.a not built" >&2; exit 1; }
	touch "$d/.built"
}

update=0
case "${1:-}" in
--update)
	update=1
	;;
--check)
	check
	exit $?
	;;
--ovs-dir)
	ovs_dir
	exit $?
	;;
"") ;;
*)
	echo "usage: $0 [--update|--check|--ovs-dir]" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: installing packages needs root (run as root: make deps)" >&2
	exit 1
fi
mkdir -p "$cache_root"
export DEBIAN_FRONTEND=noninteractive
if [ $update = 1 ]; then
	apt-get update
	apt-get install -y --no-install-recommends $pkgs
elif ! packages_present; then
	apt-get update
	apt-get install -y --no-install-recommends $pkgs
fi
build_ovs
ovs_version >"$stamp"
echo "deps: ready (libopenvswitch in $(ovs_dir))"
