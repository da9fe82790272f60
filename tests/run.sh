#!/bin/sh
# Runs every test: the C unit tests, then each end-to-end script under
# tests/e2e/ against the real binary.  Each part ends with its own
# "N passed, N failed" line; this script sums them into the last line.
# Usage: tests/run.sh [PATTERN]   (only e2e scripts whose name has PATTERN)
set -u
BUILD=${BUILD:-build}
BIN=${BIN:-bin}
top=$(cd "$(dirname "$0")/.." && pwd)
export DFMAKE="$top/$BIN/dfmake" DFMAKE_TEST="$top/$BUILD/dfmake-test" TOP="$top"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# The offline data "make deps" installed, wherever the binary under test is.
export DFMAKE_DATA=${DFMAKE_DATA:-$top/.data}
passed=0 failed=0 skipped=0

tally() {
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "FAIL $2: ended without a summary line"
		failed=$((failed + 1))
		return
	fi
	set -- $line
	passed=$((passed + $1)) failed=$((failed + $3))
	case "$line" in *skipped*) skipped=$((skipped + $5)) ;; esac
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT

if [ $# -eq 0 ]; then
	echo "== unit"
	"$top/$BUILD/unit" 2>&1 | tee "$out"
	tally "$out" unit
fi

for t in "$top"/tests/e2e/*.sh; do
	name=$(basename "$t" .sh)
	[ "$name" = lib ] && continue
	[ $# -gt 0 ] && case "$name" in *"$1"*) ;; *) continue ;; esac
	echo "== $name"
	sh "$t" 2>&1 | tee "$out"
	tally "$out" "$name"
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
