#!/bin/sh
# bench ingest-resize: ingest and resize to 32 x 32 of 10,000 Fashion-MNIST
# images and of the emoji set, dfmake's kinds against Python with Pillow
# doing the same work in the same run.  Pillow runs on one thread, as a
# Python script does; dfmake runs once on one thread (the like-for-like
# figure) and once on the machine's threads (THREADS, default the number of
# cores), as "dfmake" runs a stage.  Medians of REPS runs (default 5).
set -u
: "${TOP:?}" "${BUILD:=build}"
reps=${REPS:-5}
threads=${THREADS:-$(nproc)}
data=${DFMAKE_DATA:-$TOP/.data}
export OMP_NUM_THREADS=1 DFMAKE_DATA="$data"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$TOP/$BUILD/bench-ingest" "$reps" 1 >"$out/dfmake1" || exit 1
"$TOP/$BUILD/bench-ingest" "$reps" "$threads" >"$out/dfmakeN" || exit 1
/usr/bin/python3 "$TOP/tests/bench/ingest_resize_pillow.py" "$data" "$reps" >"$out/pillow" ||
	exit 1

# compare LABEL DFMAKE_FILE: per-workload lines, then the summary line.
compare() {
	awk -v label="$1" '
		NR == FNR { ms[$1] = $2; n[$1] = $3; next }
		{
			if (n[$1] != $3)
				printf "  warning: %s counts differ: dfmake %s, pillow %s\n",
					$1, n[$1], $3
			printf "  %s (%s images, %s): dfmake %.1f ms, pillow %.1f ms, ratio %.2f\n",
				$1, $3, label, ms[$1], $2, $2 / ms[$1]
			d += ms[$1]; p += $2
		}
		END { printf "bench ingest-resize%s: dfmake %.1f ms, pillow %.1f ms, ratio %.2f\n",
			label == "dfmake on 1 thread" ? " 1-thread" : "", d, p, p / d }
	' "$2" "$out/pillow"
}
compare "dfmake on 1 thread" "$out/dfmake1"
compare "dfmake on $threads threads, pillow on 1" "$out/dfmakeN"
