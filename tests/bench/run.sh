#!/bin/sh
# Runs the benchmarks: every tests/bench/NAME.sh, or only NAME when given.
# Each prints lines "bench NAME: dfmake X UNIT, PEER Y UNIT, ratio R" where
# R above 1 means dfmake is better.  Figures are medians of several runs.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
export BUILD=${BUILD:-build} BIN=${BIN:-bin} TOP="$top"
export DFMAKE="$top/$BIN/dfmake" DFMAKE_TEST="$top/$BUILD/dfmake-test"
export DFMAKE_DATA=${DFMAKE_DATA:-$top/.data}
status=0
for b in "$top"/tests/bench/*.sh; do
	name=$(basename "$b" .sh)
	case "$name" in run | lib) continue ;; esac
	[ $# -gt 0 ] && [ -n "$1" ] && [ "$name" != "$1" ] && continue
	sh "$b" || { echo "bench $name: failed"; status=1; }
done
exit $status
