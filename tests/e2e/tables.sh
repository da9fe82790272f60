# The test preset end to end through the real binary: real data, the
# offline feature network, FID, MS-SSIM and the ranking table.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE

cp "$TOP/rules/tiny.yaml" dfmake.yaml
check "the tiny preset builds its tables" $D -j2 tables
cp .out tables.txt
check_grep "every instance runs" '^dfmake: 23 ran, 0 cached, 0 failed$' .out
check_grep "the ranking table is printed" '^\| rank \| outer \| FID \| MS-SSIM \| M \|$' .out
check_grep "it says which feature network it used" 'nsfwjs weights; not comparable to published FID' .out
check "the table is consistent: M = FID x MS-SSIM, ranked by M" $PY -c "
import re
rows = [l.split('|')[1:6] for l in open('tables.txt') if re.match(r'^\| [0-9]+ \|', l)]
assert len(rows) == 3, rows
ms = []
for rank, outer, fid, ssim, m in rows:
    fid, ssim, m = float(fid.strip(' *')), float(ssim), float(m)
    assert fid > 0 and 0 < ssim < 1, (fid, ssim)
    assert abs(fid * ssim - m) <= 1e-3 * m + 1e-3, (fid, ssim, m)
    ms.append(m)
assert ms == sorted(ms), ms"
check_grep "FID figures from fewer samples than dimensions are marked" '^\* The FID results marked \* carry warnings' tables.txt
check "the chosen outer is an output" $D export rank.choice "$T/choice.json"
check "and names the lowest M" $PY -c "
import json, re
rows = [l.split('|') for l in open('tables.txt') if re.match(r'^\| 1 \|', l)]
assert json.load(open('choice.json'))['outer'] == rows[0][2].strip()"
check "a second build" $D tables
check_grep "runs nothing" '^dfmake: 0 ran, 23 cached, 0 failed$' .out
check "audit" $D audit
check_grep "finds every output intact" '^dfmake: audit: 23 instances, 33 outputs intact, 0 missing, 0 corrupt$' .out
finish
