# The inspection and maintenance commands: status, dag, show, export, log,
# gc, audit --rerun, and the refusal of a network filesystem.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE_TEST

cat > dfmake.yaml <<'R'
vars:
  xs: [1, 2]
stages:
  a:
    kind: echo
    matrix:
      x: ${xs}
    params:
      text: a${x}
      seed: 7
  b:
    kind: echo
    params:
      text: b
      ms: 100
    inputs:
      in: [a.out]
  t:
    kind: table
    inputs:
      rows:
        - b.out
        - a[x=2].out
targets:
  everything: [t]
R

$D status > st.txt 2>&1
check_grep "status before a build: never built" "^stale   a\[x=1\]: not in cache \(no earlier build recorded\)$" st.txt
check_grep "status: dependents wait for their inputs" "^stale   t: input from b will change" st.txt
check "a build" $D everything
$D status > st.txt 2>&1
check_eq "status after a build: all cached" "$(grep -c '^cached ' st.txt)" 4

$D dag > dag.dot 2>&1
check_grep "dag is DOT" '^digraph dfmake \{$' dag.dot
check_grep "dag has the edges with slots" '^	"a\[x=2\]" -> "t" \[label="out -> rows"\];$' dag.dot
check_eq "dag has every edge" "$(grep -c -- '->' dag.dot)" 4

check "show an instance" $D show 'a[x=1]'
check_grep "show gives the kind" '^  kind: echo \(version 1\)$' .out
check_grep "show gives the key" '^  key: [0-9a-f]{32}$' .out
check_grep "show gives the parameters" '^  param text: "a1"$' .out
check_grep "show gives the record" '"seed":7' .out
check_grep "show prints a text output" '^a1$' .out
digest=$(sed -n 's/^  a\[x=1\]\.out: \([0-9a-f]*\) .*/\1/p' .out)
check "show a digest" $D show "$digest"
check_grep "show names the producing key" "^  output 'out' of instance key [0-9a-f]{32}$" .out
check_fails "show of an unknown instance fails" $D show 'a[x=9]'
check_grep "and says why" "no instance named 'a\[x=9\]'" .out

check "export an output" $D export 't.table' table.md
check_grep "the exported table" '^\| a\[x=2\]\.out \| a2 \|$' table.md
check_fails "export of an unknown output fails" $D export t.nothing x
check_grep "and says why" "has no output 'nothing'" .out

check "log of an instance" $D log b
check_grep "the log has the stage's notes" '^wrote [0-9]+ bytes$' .out
check_grep "and its captured output" '^echo b says hello on stdout$' .out

check "audit --rerun" $D audit --rerun
check_grep "audit --rerun finds every instance identical" '^dfmake: audit --rerun: 4 identical, 0 differ, 0 not rerun$' .out

# gc keeps what the lock references and drops the rest.
cp dfmake.lock keep.lock
sed -i 's/text: b$/text: bee/' dfmake.yaml
check "a build after a change" $D everything
check "gc with both lock files drops nothing" $D gc dfmake.lock keep.lock
check_grep "gc reports it" '^dfmake: gc dropped 0 artifacts \(0 bytes\) and 0 actions$' .out
check "gc -n with the new lock" $D -n gc
check_grep "gc -n counts the stale entries" '^dfmake: gc would drop 2 artifacts \([0-9]+ bytes\) and 2 actions$' .out
check "gc with the new lock" $D gc
check_grep "gc drops the old b and t" '^dfmake: gc dropped 2 artifacts \([0-9]+ bytes\) and 2 actions$' .out
check "the current build is still cached" $D everything
check_grep "nothing ran after gc" '^dfmake: 0 ran, 4 cached, 0 failed$' .out
check "audit after gc" $D audit

cat > big.yaml <<'R'
stages:
  big:
    kind: echo
    params:
      text: big
      size: 20000000
R
check "a cache that starts at 1 MiB grows for a 20 MB artifact" \
	env DFMAKE_MAPSIZE=1048576 $D -f big.yaml --cache small-cache
check "and reads it back intact" env DFMAKE_MAPSIZE=1048576 $D -f big.yaml --cache small-cache audit

check_fails "a cache on a network filesystem is refused" env DFMAKE_FAKE_FSTYPE=nfs $D --cache nfs-cache
check_grep "with a reason" "cannot open the cache 'nfs-cache': it is on a network filesystem" .out

# Progress: plain lines when stderr is not a terminal; a live display on one.
cat > slow.yaml <<'R'
stages:
  slow:
    kind: echo
    params:
      text: slow
      ms: 1500
R
if command -v script >/dev/null; then
	TERM=xterm script -qec "$D -f slow.yaml" /dev/null > tty.txt 2>&1
	check_grep "a terminal shows elapsed time, fraction and ETA" '[0-9]+\.[0-9]s +[0-9]+% eta [0-9]+s  slow' tty.txt
else
	skip "no script(1) for a terminal test"
fi
finish
