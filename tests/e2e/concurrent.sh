# Several dfmake processes on one cache build each instance exactly once:
# an instance another process is building is waited for, then reused.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE_TEST

rules() {
	cat > dfmake.yaml <<R
vars:
  n: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
stages:
  a:
    kind: echo
    matrix:
      i: \${n}
    params:
      text: a\${i} $1
      ms: 150
      tally: runs.txt
  b:
    kind: echo
    matrix:
      i: \${n}
    params:
      text: b\${i}
      ms: 50
      tally: runs.txt
    inputs:
      in: a.out
  t:
    kind: table
    inputs:
      rows: b.out
R
}

for procs in 2 4; do
	rules "run with $procs"
	: > runs.txt
	pids=""
	for p in $(seq $procs); do
		$D -j2 > out.$p 2> err.$p &
		pids="$pids $!"
	done
	status=0
	for pid in $pids; do wait $pid || status=1; done
	check_eq "$procs processes all succeed" $status 0
	check_eq "$procs processes: each of 20 instances ran once" \
		"$(sort runs.txt | uniq | wc -l) $(wc -l < runs.txt)" "20 20"
	ran=0
	for p in $(seq $procs); do
		n=$(sed -n 's/^dfmake: \([0-9]*\) ran.*/\1/p' err.$p)
		ran=$((ran + ${n:-100}))
	done
	check_eq "$procs processes: the summaries add up to 21 runs" $ran 21
	check "$procs processes: every process printed the table" \
		sh -c "for p in \$(seq $procs); do grep -q '^| b\[i=9\].out | b9 |' out.\$p || exit 1; done"
	cat err.* > err.all
	check_grep "$procs processes: waiting is reported" 'being built by pid [0-9]+ on ' err.all
done

# A claim left by a killed process is taken over.
rules "takeover"
: > runs.txt
$D -j2 >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -9 $pid
wait $pid 2>/dev/null
check "a build after a killed one completes" $D -j2
check_eq "its lock lists every instance" "$($PY -c "
import json; print(len(json.load(open('dfmake.lock'))['instances']))")" 21
finish
