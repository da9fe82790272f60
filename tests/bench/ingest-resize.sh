#!/bin/sh
# bench ingest-resize: ingest and resize to 32 x 32 of 10,000 Fashion-MNIST
# images and of the emoji set, dfmake's kinds against Python with Pillow
# doing the same work, one thread each, in the same run.  Prints a line per
# workload and the total, medians of REPS runs (default 5).
set -u
: "${TOP:?}" "${BUILD:=build}"
reps=${REPS:-5}
data=${DFMAKE_DATA:-$TOP/.data}
export OMP_NUM_THREADS=1 DFMAKE_DATA="$data"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$TOP/$BUILD/bench-ingest" "$reps" >"$out/dfmake" || exit 1
/usr/bin/python3 "$TOP/tests/bench/ingest_resize_pillow.py" "$data" "$reps" >"$out/pillow" ||
	exit 1
awk '
	NR == FNR { ms[$1] = $2; n[$1] = $3; next }
	{
		if (n[$1] != $3)
			printf "  warning: %s counts differ: dfmake %s, pillow %s\n", $1, n[$1], $3
		printf "  %s (%s images): dfmake %.1f ms, pillow %.1f ms, ratio %.2f\n",
			$1, $3, ms[$1], $2, $2 / ms[$1]
		d += ms[$1]; p += $2
	}
	END { printf "bench ingest-resize: dfmake %.1f ms, pillow %.1f ms, ratio %.2f\n",
		d, p, p / d }
' "$out/dfmake" "$out/pillow"
