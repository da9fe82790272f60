# A flipped byte in the LMDB data file is detected and the affected stage
# rebuilt: at once for a final output, and when read for an intermediate.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE_TEST

cat > dfmake.yaml <<'R'
stages:
  first:
    kind: echo
    params:
      text: first
      size: 300000
      tally: runs.txt
  second:
    kind: echo
    params:
      text: second
      size: 200000
      tally: runs.txt
    inputs:
      in: first.out
R

# flip FILE PATTERN: changes one byte inside the first match of PATTERN.
flip() {
	$PY - "$1" "$2" <<'P'
import sys
path, pat = sys.argv[1], sys.argv[2].encode()
data = bytearray(open(path, 'rb').read())
at = data.find(pat)
assert at >= 0, "pattern not found"
data[at + len(pat) + 1000] ^= 0x20
open(path, 'r+b').write(data)
P
}

check "a first build" $D
$D export second.out second.txt >/dev/null 2>&1
check "a final output is exported" test -s second.txt
check "flip a byte inside the final output" flip .dfmake/data.mdb "second
"
: > runs.txt
check "the next build succeeds" $D
check_grep "the corruption is reported" "second: output 'out' \(.*\) is corrupt in the cache; rebuilding" .out
check_eq "only the affected stage ran" "$(cat runs.txt)" "second"
$D export second.out second2.txt >/dev/null 2>&1
check "the rebuilt output equals the original" cmp second.txt second2.txt

check "flip a byte inside the intermediate output" flip .dfmake/data.mdb "first
"
: > runs.txt
check "a build that needs nothing new succeeds" $D
check_eq "an intermediate output is not read when nothing needs it" "$(cat runs.txt)" ""
sed -i 's/text: second/text: second again/' dfmake.yaml
check "a build that reads the corrupt intermediate succeeds" $D
check_grep "the corrupt input is reported" "second: input [0-9a-f]+ was corrupt in the cache; rebuilding first" .out
check_eq "the producer and the consumer ran" "$(sort runs.txt | tr '\n' ' ')" "first second "
check_grep "the summary counts both runs" '^dfmake: 2 ran, 0 cached, 0 failed$' .out
check "audit is clean afterwards" $D audit
check_fails "audit of a damaged cache fails" sh -c "
	$PY -c \"
import sys
p = '.dfmake/data.mdb'; d = bytearray(open(p, 'rb').read()); i = d.find(b'second again')
d[i + 5000] ^= 1; open(p, 'r+b').write(d)\"
	$D audit"
check_grep "and names the corrupt output" '^second.out: stored bytes do not match their digest' .out
finish
