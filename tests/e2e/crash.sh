# Failures: a failing or crashing stage is reported with its log, -k builds
# the rest, and kill -9 of dfmake at random moments never leaves a partial
# or corrupt artifact behind.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE_TEST

cat > dfmake.yaml <<'R'
vars:
  modes: [none, error, crash, abort]
stages:
  s:
    kind: echo
    matrix:
      mode: ${modes}
    params:
      text: ${mode}
      fail: ${mode}
  after:
    kind: echo
    matrix:
      mode: ${modes}
    inputs:
      in: s.out
  solo:
    kind: echo
    params:
      text: independent
      ms: 200
R

check_fails "a build with failing stages fails" $D -j2 -k
check_grep "a failing stage is reported" '^dfmake: s\[mode=error\] failed$' .out
check_grep "with its message" 'error: asked to fail' .out
check_grep "and its captured output" 'echo s\[mode=error\] says hello on stdout' .out
check_grep "a crash is reported with the signal" '^dfmake: s\[mode=crash\] crashed: Segmentation fault \(signal 11\)$' .out
check_grep "an abort is reported" '^dfmake: s\[mode=abort\] crashed: Aborted \(signal 6\)$' .out
check_grep "-k builds everything else" '^dfmake: 3 ran, 0 cached, 3 failed$' .out
check_grep "dependents of failures are skipped" '^dfmake: 3 skipped because an input failed$' .out

check "log shows a failed run" $D log 's[mode=error]'
check_grep "with a note that it failed" "^\(the last run of s\[mode=error\] with these inputs and parameters failed\)$" .out
check_grep "and the failure" "error: asked to fail" .out
check_fails "without -k the build stops at the first failure" $D -j1
check_grep "and reports it" 'failed|crashed' .out
check "the good instances are cached" $D -k 'after[mode=none]' solo
check_grep "nothing good ran twice" '^dfmake: 0 ran, 3 cached, 0 failed$' .out
check "the lock leaves out failed instances" $PY -c "
import json
i = json.load(open('dfmake.lock'))['instances']
assert 's[mode=error]' not in i and 's[mode=none]' in i, list(i)"

# An interrupt stops the workers and says so once.
cat > dfmake.yaml <<'R'
vars:
  n: [1, 2, 3, 4]
stages:
  slow:
    kind: echo
    matrix:
      i: ${n}
    params:
      text: slow ${i}
      ms: 3000
R
$D -j2 > int.txt 2>&1 &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
check_eq "an interrupted build exits non-zero" "$?" 1
check_grep "it says it stops the running instances" '^dfmake: interrupted; stopping 2 running instances$' int.txt
check_grep "the summary counts no failure" '^dfmake: 0 ran, 0 cached, 0 failed$' int.txt
check_eq "no worker is reported as crashed" "$(grep -c crashed int.txt)" 0
check "no worker outlives the interrupt" sh -c "! pgrep -f 'dfmake-tes[t] -j2' >/dev/null"

# kill -9 at random moments.  Each trial builds new work (its salt changes
# every key): stages take 250 ms and write up to 3 MB, so kills land in the
# middle of runs and of commits.  Afterwards, rebuilding the rules of some
# killed trials in the battered cache must give exactly what a clean cache
# gives.
rules() {
	cat > dfmake.yaml <<R
vars:
  n: [0, 1, 2, 3, 4, 5, 6, 7]
stages:
  a:
    kind: echo
    matrix:
      i: \${n}
    params:
      text: a\${i} salt $1
      size: 3000000
      ms: 250
  b:
    kind: echo
    matrix:
      i: \${n}
    params:
      text: b\${i}
      size: 1000000
    inputs:
      in: a.out
  t:
    kind: table
    inputs:
      rows: b.out
R
}
trials=0 killed=0
while [ $trials -lt 24 ]; do
	trials=$((trials + 1))
	rules $trials
	$D -q -j2 >/dev/null 2>&1 &
	pid=$!
	sleep "0.$(od -An -N2 -tu2 /dev/urandom | tr -d ' ' | cut -c1-2)"
	kill -9 $pid 2>/dev/null && killed=$((killed + 1))
	wait $pid 2>/dev/null
done
check_eq "dfmake was killed mid-build in most trials" "$([ $killed -ge 16 ] && echo yes)" yes
for salt in 3 11 24; do
	rules $salt
	rm -f dfmake.lock
	DFMAKE_CACHE=clean-$salt $D -q -j2 >/dev/null 2>&1 || bad "clean build of trial $salt"
	mv dfmake.lock clean.lock
	check "the build of trial $salt after the kills completes" $D -j2
	check "trial $salt gives the clean build's outputs" $PY -c "
import json
a = json.load(open('clean.lock'))['instances']; b = json.load(open('dfmake.lock'))['instances']
assert a.keys() == b.keys()
for k in a:
    assert a[k]['outputs'] == b[k]['outputs'], k
    assert a[k]['key'] == b[k]['key'], k"
	check "audit of trial $salt finds every artifact intact" $D audit
	check_grep "audit of trial $salt counts them" '^dfmake: audit: 17 instances, 17 outputs intact, 0 missing, 0 corrupt$' .out
done
check "no worker outlived its dfmake" sh -c "! pgrep -f 'dfmake-tes[t] -q -j2' >/dev/null"
finish
