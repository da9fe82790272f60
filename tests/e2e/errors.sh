# Rules with errors: each message points at file:line:col and nothing runs.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE_TEST

# expect NAME PATTERN: the rules in bad.yaml fail with a message matching
# PATTERN.
expect() {
	if $D -f bad.yaml >"$T/.out" 2>&1; then
		bad "$1: the build should fail"
	elif grep -qE -- "$2" "$T/.out"; then
		ok "$1"
	else
		bad "$1"; echo "    want /$2/, got:"; sed 's/^/    /' "$T/.out"
	fi
}

cat > bad.yaml <<'R'
stages:
  a:
    kind: nosuchkind
R
expect "unknown kind" '^dfmake: bad.yaml:3:11: unknown kind .nosuchkind.'

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    params:
      txet: hi
R
expect "unknown parameter" "^dfmake: bad.yaml:5:7: kind 'echo' has no parameter 'txet'"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    params:
      ms: soon
R
expect "ill-typed parameter" "^dfmake: bad.yaml:5:11: parameter 'ms' of kind 'echo': 'soon' is not an integer"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    params:
      fail: sometimes
R
expect "value outside the choices" "^dfmake: bad.yaml:5:13: .*'sometimes' is not one of none\|error\|crash\|abort"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    params:
      ms: -5
R
expect "number out of range" "^dfmake: bad.yaml:5:11: .*'-5' is outside \[0, 600000\]"

cat > bad.yaml <<'R'
stages:
  t:
    kind: table
R
expect "missing input" "^dfmake: bad.yaml:2:3: stage 't' is missing input 'rows' of kind 'table'"

cat > bad.yaml <<'R'
stages:
  t:
    kind: table
    inputs:
      rows: ghost.out
R
expect "reference to a stage that does not exist" "^dfmake: bad.yaml:5:13: 'ghost.out' refers to stage 'ghost', which does not exist"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
  t:
    kind: table
    inputs:
      rows: a.nothing
R
expect "reference to an output that does not exist" "^dfmake: bad.yaml:7:13: stage 'a' \(kind 'echo'\) has no output 'nothing'"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    inputs:
      in: c.out
  b:
    kind: echo
    inputs:
      in: a.out
  c:
    kind: echo
    inputs:
      in: b.out
R
expect "a cycle" "^dfmake: bad.yaml:[0-9]+:3: dependency cycle:"
check_grep "the cycle is named" "^  (a needs c|b needs a|c needs b)$" .out
n=$(grep -cE '^  [abc] needs [abc]$' .out)
check_eq "every edge of the cycle is named" "$n" 3

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
  a:
    kind: echo
R
expect "duplicate stage names" "^dfmake: bad.yaml:4:3: duplicate key 'a'"

cat > bad.yaml <<'R'
vars:
  xs: [1, 2]
stages:
  a:
    kind: echo
    matrix:
      x: ${xs}
  b:
    kind: echo
    inputs:
      in: a.out
  t:
    kind: table
    inputs:
      rows: [a.out]
  u:
    kind: echo
    matrix:
      y: ${nope}
R
expect "unknown variable" "^dfmake: bad.yaml:19:10: unknown variable 'nope'"

cat > bad.yaml <<'R'
vars:
  xs: [1, 2]
stages:
  a:
    kind: echo
    matrix:
      x: ${xs}
  b:
    kind: table
    inputs:
      rows: a[x=3].out
R
expect "a filter that matches nothing" "^dfmake: bad.yaml:11:13: 'a\[x=3\].out' matches no instance of stage 'a'"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    params: {text: [1, 2]}
R
expect "a list where a scalar belongs" "^dfmake: bad.yaml:4:20: parameter 'text' must be a scalar, not a list"

cat > bad.yaml <<'R'
stages:
  a:
    kind: echo
    colour: red
R
expect "an unknown key" "^dfmake: bad.yaml:4:5: unknown key 'colour' in stage 'a'"

cat > bad.yaml <<'R'
vars:
  xs: [1, 2]
stages:
  a:
    kind: echo
    matrix: {x: ${xs}}
R
expect "a variable in flow style gets a hint" "^dfmake: bad.yaml:6:18: .*quote values with \\$\\{...\\}, or write them in block style"

printf 'stages:\n  a: [unclosed\n' > bad.yaml
expect "YAML syntax" "^dfmake: bad.yaml:[0-9]+:[0-9]+: "

check "nothing was cached by the failed loads" sh -c '! test -e .dfmake/data.mdb'
check_fails "a missing rules file" $D -f nothere.yaml
check_grep "says which file" "cannot open rules file 'nothere.yaml'" .out
finish
