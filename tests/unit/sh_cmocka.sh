# shellcheck shell=bash
# cmocka's result lines for the shell unit tests (test_*.sh), so that
# tests/run.sh counts them as it counts the C ones.  Source it, define
# test_NAME functions, then:
#   sh_cmocka_run NEED WHY NAME...  run each test_NAME (its output is shown
#                                   only when it fails); NEED empty: fail
#                                   at once with WHY (what is not built)
# Exits 1 if a test failed.

sh_cmocka_run() {
	local need=$1 why=$2 msg n passed=0 failed=0 names=()
	shift 2
	echo "[==========] Running $# test(s)."
	if [ -z "$need" ]; then
		echo "[ RUN      ] programs_built"
		echo "    $why"
		echo "[  FAILED  ] programs_built"
		exit 1
	fi
	for n in "$@"; do
		echo "[ RUN      ] $n"
		if msg=$("test_$n" 2>&1); then
			echo "[       OK ] $n"
			passed=$((passed + 1))
		else
			echo "$msg" | sed 's/^/    /'
			echo "[  FAILED  ] $n"
			failed=$((failed + 1))
			names+=("$n")
		fi
	done
	echo "[==========] $# test(s) run."
	echo "[  PASSED  ] $passed test(s)."
	if [ "$failed" -ne 0 ]; then
		echo "[  FAILED  ] $failed test(s), listed below:"
		for n in "${names[@]}"; do
			echo "[  FAILED  ] $n"
		done
		exit 1
	fi
}
