# The hello example through the real binary: real stages, a real dataset.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE

mkdir hello && cp "$TOP/examples/hello/dfmake.yaml" hello/
check "the hello example builds" $D -C hello -j2
check_grep "all 7 instances run" '^dfmake: 7 ran, 0 cached, 0 failed$' .out
check "a second build" $D -C hello
check_grep "runs nothing" '^dfmake: 0 ran, 7 cached, 0 failed$' .out
check "the grid exports" $D -C hello export grid.grid "$T/grid.png"
check "the grid is a PNG of 10 labelled rows" $PY -c "
from PIL import Image
im = Image.open('grid.png'); w, h = im.size
assert im.format == 'PNG' and h >= 10 * 32 and w >= 8 * 32, (im.format, im.size)"
check "export a dataset to a folder" $D -C hello export small.data "$T/pngs/"
check_eq "one PNG per image" "$(find pngs -name '*.png' | wc -l)" 200
check_grep "and a labels file" '^Ankle_boot/[0-9]+\.png,9,"Ankle_boot"$' pngs/labels.csv
check "show describes the dataset" $D -C hello show small
check_grep "with counts per class" 'Ankle boot' .out
check "export a result" $D -C hello export 'diversity[seed=2].result' "$T/d.json"
check "the diversity result is JSON with a mean in (0, 1)" $PY -c "
import json; m = json.load(open('d.json'))['mean']; assert 0 < m < 1, m"
check "audit --rerun of the example" $D -C hello audit --rerun
check_grep "finds every instance identical" '^dfmake: audit --rerun: 7 identical, 0 differ, 0 not rerun$' .out
sed -i 's/limit: 20 /limit: 21 /' hello/dfmake.yaml
check "a changed parameter" $D -C hello -n
check_grep "reruns the pipeline from the ingest" "^fmnist: parameter 'limit' changed: 20 -> 21$" .out
finish
