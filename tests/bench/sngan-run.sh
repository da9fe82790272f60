#!/bin/sh
# Shared body of the SNGAN benchmarks.
#   sngan-run.sh NAME G_CH D_CH ROUNDS ITERS
# Each round runs dfmake's driver and the PyTorch peer once, one after the
# other, each timing ITERS iterations after one untimed warm-up; the figures
# are medians over rounds of each run's median.
set -eu
name=$1 gch=$2 dch=$3 rounds=$4 iters=$5
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bench="$top/${BUILD:-build}/bench-sngan"
peer="$top/tests/bench/sngan_peer.py"
threads=${OMP_NUM_THREADS:-2}
export OMP_NUM_THREADS=$threads
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for _ in $(seq "$rounds"); do
	"$bench" "$gch" "$dch" 64 5 "$iters" "$threads" >>"$out"
	/usr/bin/python3 "$peer" "$gch" "$dch" 64 5 "$iters" "$threads" >>"$out"
done

median() {
	sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}

ours=$(awk '/^dfmake/ {print $3}' "$out" | median)
theirs=$(awk '/^torch/ {print $3}' "$out" | median)
gflops=$(awk '/^dfmake/ {print $5}' "$out" | median)
rss_ours=$(awk '/^dfmake/ {print $9}' "$out" | median)
rss_theirs=$(awk '/^torch/ {print $7}' "$out" | median)
peak=$("$bench" peak "$threads" | awk '{print $2}')
echo "bench $name: dfmake $ours s/iter, torch $theirs s/iter," \
	"ratio $(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.2f", b / a}')"
echo "bench $name: dfmake $gflops GFLOP/s of a measured $peak GFLOP/s peak" \
	"($threads threads); peak RSS dfmake $rss_ours MiB, torch $rss_theirs MiB"
