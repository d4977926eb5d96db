#!/bin/bash
# The buffer on the kernels users run: Debian's own kernel packages (the
# newest 6.1 and 6.12 cloud kernels; KERNELS overrides the list of package
# patterns) booted under QEMU (TCG, two vCPUs) with a
# busybox initramfs holding iproute2, netmove and the buffer's unit tests
# (build/unit/test_buffer: BUFFER, DRAIN hand-back, replay of GSO and
# checksum-partial frames, 0 lost / 0 reordered, lease, adopt, pins; and its
# modules' test_tcattach and test_macslots) on veth and tap pairs inside the
# guest.  Each kernel must load the program and
# pass every test, none skipped; the running kernel runs the same tests in
# the unit suite (tests/run.sh unit).  Prints, per kernel, a line
#   measured: kernel R: loaded yes|no, capture C, buffer tests P passed, F failed, S skipped
set -u
. "$(dirname "$0")/../net/lib.sh"
. "$(dirname "$0")/../net/common.sh"
t_need_root
t_trap

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QEMU=${QEMU:-qemu-system-x86_64}
KERNELS=${KERNELS:-'^linux-image-6\.1\.0-[0-9]+-cloud-amd64$ ^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64$'}
TIMEOUT=${KERNEL_TIMEOUT:-420}
MODULES=(veth tun sch_ingress cls_bpf)
command -v "$QEMU" >/dev/null ||
	{ echo "skip: $QEMU not installed (make deps installs qemu-system-x86)"; exit 77; }
TESTS=(test_tcattach test_macslots test_buffer)
for b in "${TESTS[@]}"; do
	[ -x "$ROOT/build/unit/$b" ] || fail "build/unit/$b not built (make)"
done
[ -x "$ROOT/build/netmove" ] || fail "build/netmove not built (make)"

# TCG: a full Linux guest under QEMU's KVM crawls on these nested machines
# (FIELD-NOTES); TCG boots one in seconds.
ACCEL=tcg

# An initramfs for kernel directory KDIR (tests/guest/kernel.sh): busybox,
# dash, ip and tc, netmove and the tests with every library they load, the
# modules, tests/kernels/init.  Prints its path.
initramfs() { # KDIR
	local r=$T_TMP/root-$(basename "$1") f lib
	rm -rf "$r"
	mkdir -p "$r"/bin "$r"/usr/sbin "$r"/lib/modules "$r"/lib64 "$r"/sys/fs/bpf
	cp /bin/busybox "$r/bin/busybox"
	# Debian's busybox shell runs its own applets before PATH (ip, tc
	# included): the tests' shell commands get dash, and iproute2.
	cp "$(readlink -f /bin/dash)" "$r/bin/sh"
	cp "$ROOT/tests/kernels/init" "$r/init"
	chmod +x "$r/init"
	cp "$1"/modules/*.ko "$1/modules/order" "$r/lib/modules/"
	for f in /bin/sh "$(command -v ip)" "$(command -v tc)" "$ROOT/build/netmove" \
		"${TESTS[@]/#/$ROOT/build/unit/}"; do
		[ "$f" = /bin/sh ] || cp "$f" "$r/usr/sbin/"
		for lib in $(ldd "$f" | awk '/=>/ {print $3} /^\t\/lib64/ {print $1}'); do
			mkdir -p "$r$(dirname "$lib")"
			cp -L "$lib" "$r$lib"
		done
	done
	(cd "$r" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$r.cpio.gz"
	rm -rf "$r"
	echo "$r.cpio.gz"
}

failed=0
for pat in $KERNELS; do
	step "kernel $pat"
	kdir=$("$ROOT/tests/guest/kernel.sh" "$pat" "${MODULES[@]}") || fail "fetching $pat"
	rel=$(cat "$kdir/release")
	img=$(initramfs "$kdir") || fail "initramfs for $rel"
	log=$T_TMP/console-$rel.log
	t0=$(date +%s.%N)
	timeout "$TIMEOUT" "$QEMU" -accel "$ACCEL" -m 1024 -smp 2 -cpu max -display none \
		-no-reboot -kernel "$kdir/vmlinuz" -initrd "$img" -nic none \
		-append "console=ttyS0 panic=-1 quiet" -serial "file:$log" -monitor none </dev/null
	st=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}')
	tr -d '\r' <"$log" >"$log.txt"
	mkdir -p "$ROOT/build/test-logs"
	cp "$log.txt" "$ROOT/build/test-logs/kernel-$rel.console"
	check=$(sed -n 's/^NM-CHECK //p' "$log.txt")
	loaded=no cap=none
	[ "$(jq -r .supported <<<"${check:-null}" 2>/dev/null)" = true ] && loaded=yes
	cap=$(jq -r '.capture // "none"' <<<"${check:-null}" 2>/dev/null)
	p=$(grep -cE '^\[ +OK +\] ' "$log.txt")
	f=$(grep -E '^\[ +FAILED +\] ' "$log.txt" | grep -v 'test(s)' | sort -u | wc -l)
	s=$(grep -E '^\[ +SKIPPED +\] ' "$log.txt" | grep -v 'test(s)' | sort -u | wc -l)
	runs=$(grep -c '^NM-RUN ' "$log.txt")
	bad=$(grep '^NM-RUN ' "$log.txt" | grep -vc ' 0$')
	echo "measured: kernel $rel: loaded $loaded, capture $cap, buffer tests $p passed, $f failed, $s skipped ($runs run(s), $ACCEL, ${secs} s)"
	grep -E '^measured: ' "$log.txt" | sed 's/^/    guest /'
	why=
	[ "$st" = 0 ] || why="QEMU exit status $st$([ "$st" = 124 ] && echo ": timed out after $TIMEOUT s")"
	grep -q '^NM-DONE' "$log.txt" || why=${why:-"the guest did not finish"}
	[ "$loaded" = yes ] || why=${why:-"the buffer cannot run: $(jq -r '.missing // "?"' <<<"${check:-null}")"}
	[ "$runs" -gt 0 ] && [ "$bad" = 0 ] && [ "$f" = 0 ] || why=${why:-"buffer tests failed"}
	[ "$s" = 0 ] || why=${why:-"$s buffer tests skipped"}
	grep -q '^NM-ERROR' "$log.txt" && why=${why:-"$(grep -m1 '^NM-ERROR' "$log.txt")"}
	if [ -n "$why" ]; then
		echo "kernel $rel: $why; the console (all of it in build/test-logs/kernel-$rel.console) ends:"
		tail -40 "$log.txt" | sed 's/^/    /'
		failed=1
	fi
done
[ "$failed" = 0 ] || fail "the buffer failed on at least one kernel"
echo PASS
