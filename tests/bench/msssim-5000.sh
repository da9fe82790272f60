#!/bin/sh
# bench msssim-5000: exact mean MS-SSIM over all pairs of 5,000 32 x 32 RGB
# images (12,497,500 pairs), 'shrink' convention, 2 threads, median of 3
# runs, against a batched PyTorch implementation of the same convention.
# The peer would take hours on every pair, so it is timed on 4,096 random
# pairs and its time scaled to all pairs; the output says so.
set -eu
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${BUILD:-build}
. "$top/tests/bench/metrics.shlib"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
peer="$top/tests/bench/metrics_peer.py"

/usr/bin/python3 "$peer" msssim-data "$tmp/data.safetensors" 5000
ours="" theirs="" ours_cpu="" theirs_cpu=""
for run in 1 2 3; do
	set -- $("$top/$build/bench-metrics" msssim "$tmp/data.safetensors" 2 1 shrink)
	ours="$ours $2" ours_mean=$4 ours_cpu="$ours_cpu $6"
	set -- $(/usr/bin/python3 "$peer" msssim "$tmp/data.safetensors" 4096 1)
	theirs="$theirs $2" theirs_mean=$4 theirs_cpu="$theirs_cpu $6" measured=$8
done
ours=$(median $ours) theirs=$(median $theirs)
ours_cpu=$(median $ours_cpu) theirs_cpu=$(median $theirs_cpu)
echo "bench msssim-5000: dfmake $ours s, pytorch $theirs s (extrapolated from $measured random pairs), ratio $(ratio "$ours" "$theirs")"
echo "bench msssim-5000: mean over all pairs $ours_mean; pytorch mean over its $measured pairs $theirs_mean"
echo "bench msssim-5000: cpu time per run: dfmake $ours_cpu s, pytorch $theirs_cpu s, ratio $(ratio "$ours_cpu" "$theirs_cpu")"
