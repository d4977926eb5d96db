#!/bin/bash
# netmove test runner: unit tests (plain and ASan+UBSan), short fuzz runs,
# the install check and the network tests on the namespace testbed.  Ends
# with the summary line
#   tests: N passed, N failed, N skipped
# Usage: tests/run.sh [unit|fuzz|install|kernels|net|qemu]...   (default:
# all six; kernels: the buffer's tests on Debian's 6.1 and 6.12 kernels
# under QEMU; qemu: Linux guests under real QEMU and libvirt, each migrated
# MIGRATIONS times each way with netmove and as many without)
set -u
cd "$(dirname "$0")/.."

O=${O:-build}
FUZZ_QUICK=${FUZZ_QUICK:-5}
pass=0 fail=0 skip=0
failures=()
logdir=$O/test-logs
mkdir -p "$logdir"

count_cmocka() {
	# $1: name, $2: log, $3: exit status
	local p f s
	p=$(grep -cE '^\[ +OK +\] ' "$2")
	# cmocka names a failed or skipped test twice (as it runs, in the summary).
	f=$(grep -E '^\[ +FAILED +\] ' "$2" | grep -v 'test(s)' | sort -u | wc -l)
	s=$(grep -E '^\[ +SKIPPED +\] ' "$2" | grep -v 'test(s)' | sort -u | wc -l)
	if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or sanitizer abort outside an assertion
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	printf '%-34s %3d passed, %d failed, %d skipped\n' "$1" "$p" "$f" "$s"
	if [ "$f" -ne 0 ]; then
		failures+=("$1")
		sed 's/^/    /' "$2" | tail -40
	fi
	if [ "$s" -ne 0 ]; then
		grep -iE '^skip' "$2" | sed 's/^/    /'
	fi
}

run_unit() {
	local t name log st
	echo "== unit tests (build/unit, build/unit-san: ASan + UBSan)"
	for t in "$O"/unit/test_* "$O"/unit-san/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$(dirname "$t")")/$(basename "$t")
		log=$logdir/${name//\//_}.log
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$t" >"$log" 2>&1
		st=$?
		count_cmocka "$name" "$log" "$st"
	done
	# The buffer program's other build (buffer.h), on this kernel too.
	if [ -x "$O/unit/test_buffer" ]; then
		log=$logdir/unit_test_buffer_copy.log
		NETMOVE_BPF_CAPTURE=copy "$O/unit/test_buffer" >"$log" 2>&1
		count_cmocka "unit/test_buffer (copy capture)" "$log" $?
	fi
}

run_fuzz() {
	local f name out
	echo "== fuzz (each harness ${FUZZ_QUICK}s)"
	for f in "$O"/fuzz/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f")
		if out=$(FUZZ_CORPUS=$O/fuzz-corpus tests/fuzz/run.sh "$FUZZ_QUICK" "$f"); then
			pass=$((pass + 1))
			echo "$out"
		else
			fail=$((fail + 1))
			failures+=("$name")
			echo "$out"
		fi
	done
}

# Scripts tests/PART/test_*.sh: 0 passed, 77 skipped (last line: why).
run_scripts() { # PART TITLE
	local t name log st t0 t1
	echo "== $2"
	for t in tests/"$1"/test_*.sh; do
		[ -f "$t" ] || continue
		name=$1/$(basename "$t" .sh)
		log=$logdir/${name//\//_}.log
		t0=$(date +%s.%N)
		bash "$t" >"$log" 2>&1
		st=$?
		t1=$(date +%s.%N)
		case $st in
		0)
			pass=$((pass + 1))
			printf '%-34s passed (%.1fs)\n' "$name" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
			grep -E '^(figure|measured):' "$log" | sed 's/^/    /'
			;;
		77)
			skip=$((skip + 1))
			printf '%-34s SKIPPED: %s\n' "$name" "$(tail -1 "$log")"
			;;
		*)
			fail=$((fail + 1))
			failures+=("$name")
			printf '%-34s FAILED (exit %d)\n' "$name" "$st"
			sed 's/^/    /' "$log" | tail -60
			;;
		esac
	done
}

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(unit fuzz install kernels net qemu)
for p in "${parts[@]}"; do
	case $p in
	unit) run_unit ;;
	fuzz) run_fuzz ;;
	install) run_scripts install "install (make install into a scratch DESTDIR; the Debian package on a scratch root)" ;;
	kernels) run_scripts kernels "the buffer on Debian's kernels (QEMU, TCG)" ;;
	net) run_scripts net "network tests (namespaces, Open vSwitch, tc/eBPF)" ;;
	qemu)
		MIGRATIONS=${MIGRATIONS:-5} run_scripts qemu "Linux guests under real QEMU (TCG) and libvirt, their own migration" ;;
	*) echo "tests/run.sh: unknown part '$p' (unit, fuzz, install, kernels, net, qemu)" >&2; exit 2 ;;
	esac
done

echo
[ ${#failures[@]} -ne 0 ] && echo "failed: ${failures[*]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
