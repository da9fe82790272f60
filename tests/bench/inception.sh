#!/bin/sh
# bench inception: Inception-v3 forward passes at 299 x 299 in images/s,
# batches of 8, 2 threads: dfmake (oneDNN, the converted nsfwjs weights)
# against a PyTorch model of the same (Keras) variant.  Each side times 3
# passes after a warm-up and reports its median; the two sides alternate
# over 3 rounds and the medians of the rounds are compared.
set -eu
top=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${BUILD:-build}
. "$top/tests/bench/metrics.shlib"
weights="$top/.data/inception-nsfwjs.safetensors"
if [ ! -f "$weights" ]; then
	echo "bench inception: skipped, $weights is missing (run make deps)"
	exit 0
fi
ours="" theirs=""
for round in 1 2 3; do
	set -- $(OMP_NUM_THREADS=2 "$top/$build/bench-inception" "$weights" 8 299 2 3)
	ours="$ours $2"
	set -- $(THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 \
		"$top/tests/parity/inception_fixtures.py" bench 3 8 299 keras)
	theirs="$theirs $1"
done
ours=$(median $ours) theirs=$(median $theirs)
echo "bench inception: dfmake $ours images/s, pytorch $theirs images/s," \
	"ratio $(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')"
