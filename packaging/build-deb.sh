#!/bin/bash
# Build netmove's Debian package (debian/) from a copy of this work tree in
# a temporary directory, so that nothing the build makes lands in the tree
# (dpkg-buildpackage writes beside the tree it builds), and copy the results
# into OUTDIR.  The copy holds the files git knows or would add (not build/,
# not what .gitignore names); outside git, the whole tree but build/.
#   packaging/build-deb.sh OUTDIR
# Prints the path of the .deb.  Needs dpkg-buildpackage, debhelper and
# fakeroot (mk/packages.txt) and the libopenvswitch cache of `make deps`.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
for t in dpkg-buildpackage dh fakeroot; do
	command -v "$t" >/dev/null || { echo "build-deb: $t not found: run 'make deps'" >&2; exit 1; }
done
ovs=$("$src/mk/deps.sh" --ovs-dir 2>/dev/null) || ovs=
[ -n "$ovs" ] && [ -f "$ovs/.built" ] ||
	{ echo "build-deb: no libopenvswitch cache${ovs:+ in $ovs}: run 'make deps'" >&2; exit 1; }

tmp=$(mktemp -d /tmp/netmove-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/netmove"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Files deleted in the work tree but still in the index are left out.
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && while IFS= read -r -d '' f; do
			[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
		done) | tar -C "$src" --null -T - -cf - | tar -C "$tmp/netmove" -xf -
else
	tar -C "$src" --exclude=./build -cf - . | tar -C "$tmp/netmove" -xf -
fi
echo "build-deb: building in $tmp/netmove (log: $out/build.log)" >&2
(cd "$tmp/netmove" && dpkg-buildpackage -b -us -uc -j"$(nproc)") >"$out/build.log" 2>&1 ||
	{ tail -30 "$out/build.log" >&2; echo "build-deb: dpkg-buildpackage failed" >&2; exit 1; }
shopt -s nullglob
rm -f "$out"/netmove_*.deb "$out"/netmove-dbgsym_*.*deb "$out"/netmove_*.buildinfo "$out"/netmove_*.changes
cp "$tmp"/*.deb "$tmp"/*.ddeb "$tmp"/*.buildinfo "$tmp"/*.changes "$out"/
debs=("$out"/netmove_*.deb)
[ ${#debs[@]} -eq 1 ] || { echo "build-deb: expected one netmove .deb, got ${#debs[@]}" >&2; exit 1; }
echo "${debs[0]}"
