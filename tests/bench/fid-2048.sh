#!/bin/sh
# bench fid-2048: FID of two sets of 10,000 correlated 2048-d feature vectors,
# 2 threads, median of 3 runs: dfmake's fid stage (covariances by dsyrk,
# symmetric eigensolver) against the pytorch-fid route (numpy covariances,
# scipy.linalg.sqrtm of the product).  Both start from features in memory.
set -eu
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${BUILD:-build}
. "$top/tests/bench/metrics.shlib"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
peer="$top/tests/bench/metrics_peer.py"

/usr/bin/python3 "$peer" fid-data "$tmp/a.safetensors" "$tmp/b.safetensors" 10000 2048
ours="" theirs="" ours_cpu="" theirs_cpu=""
for run in 1 2 3; do
	set -- $("$top/$build/bench-metrics" fid "$tmp/a.safetensors" "$tmp/b.safetensors" 2 1)
	ours="$ours $2" ours_fid=$4 ours_cpu="$ours_cpu $6"
	set -- $(OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 "$peer" fid \
		"$tmp/a.safetensors" "$tmp/b.safetensors" 1)
	theirs="$theirs $2" theirs_fid=$4 theirs_cpu="$theirs_cpu $6"
done
ours=$(median $ours) theirs=$(median $theirs)
ours_cpu=$(median $ours_cpu) theirs_cpu=$(median $theirs_cpu)
echo "bench fid-2048: dfmake $ours s, scipy-sqrtm $theirs s, ratio $(ratio "$ours" "$theirs")"
echo "bench fid-2048: fid $ours_fid (dfmake), $theirs_fid (sqrtm)"
echo "bench fid-2048: cpu time per run: dfmake $ours_cpu s, scipy-sqrtm $theirs_cpu s, ratio $(ratio "$ours_cpu" "$theirs_cpu")"
