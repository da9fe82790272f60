# Incremental builds: caching, reruns after a parameter change, reasons,
# the lock file, -f and -C.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE_TEST

cat > dfmake.yaml <<'R'
vars:
  words: [alpha, beta, gamma]
stages:
  src:
    kind: echo
    matrix:
      w: ${words}
    params:
      text: hello ${w}
      tally: runs.txt
  mid:
    kind: echo
    matrix:
      w: ${words}
    params:
      text: mid ${w}
      tally: runs.txt
    inputs:
      in: src.out
  all:
    kind: table
    inputs:
      rows: mid.out
targets:
  tables: [all]
R

check "first build succeeds" $D -j2 tables
check_grep "first build runs all 7 instances" '^dfmake: 7 ran, 0 cached, 0 failed$' .out
check_grep "the build prints the table" '^\| mid\[w=beta\]\.out \| mid beta \|$' .out
check_eq "each instance ran once" "$(sort runs.txt | uniq -d | wc -l) $(wc -l < runs.txt)" "0 6"

check "second build succeeds" $D tables
check_grep "second build runs nothing" '^dfmake: 0 ran, 7 cached, 0 failed$' .out
check_eq "nothing ran again" "$(wc -l < runs.txt)" 6

sed 's/text: mid \${w}/text: middle ${w}/' dfmake.yaml > r2.yaml && mv r2.yaml dfmake.yaml
$D -n tables > dry.txt 2>&1
check_grep "dry run names the changed parameter" "^mid\[w=alpha\]: parameter 'text' changed: mid alpha -> middle alpha$" dry.txt
check_grep "dry run names the dependent" '^all: input from mid\[w=alpha\] will change' dry.txt
check_grep "dry run counts" '^dfmake: 4 would run, 3 cached$' dry.txt
check_eq "dry run runs nothing" "$(wc -l < runs.txt)" 6

: > runs.txt
check "build after a parameter change" $D --explain tables
check_grep "exactly the changed instances and their dependents run" '^dfmake: 4 ran, 3 cached, 0 failed$' .out
check_eq "the three mid instances ran" "$(sort runs.txt | tr '\n' ' ')" "mid[w=alpha] mid[w=beta] mid[w=gamma] "
check_grep "--explain says why" "run all: input 'rows' changed" .out

sed 's/text: hello \${w}/text: hello ${w}!/' dfmake.yaml > r2.yaml && mv r2.yaml dfmake.yaml
: > runs.txt
check "build of one instance" $D 'src[w=beta]'
check_eq "only that instance ran" "$(cat runs.txt)" "src[w=beta]"
check "a stage name builds all its instances" $D src
check_grep "the other two ran" '^dfmake: 2 ran, 1 cached, 0 failed$' .out

# The lock file: stable, sorted, complete.
check "the lock file is JSON" $PY -c "import json; json.load(open('dfmake.lock'))"
check_eq "lock instances are sorted" "$($PY -c "
import json; i = list(json.load(open('dfmake.lock'))['instances'])
print(i == sorted(i), len(i))")" "True 7"
check "the lock records params, digests and the record" $PY -c "
import json
e = json.load(open('dfmake.lock'))['instances']['mid[w=beta]']
assert e['params']['text'] == 'middle beta', e['params']
assert len(e['key']) == 32 and len(e['outputs']['out']['digest']) == 32
assert e['inputs']['in'][0]['from'] == 'src[w=beta].out'
r = e['record']
for k in ('dfmake', 'kind_version', 'onednn', 'isa', 'threads', 'seed', 'wall_s', 'cpu_s', 'host', 'git'):
    assert k in r, k
"
check "a build after the source change" $D tables
cp dfmake.lock lock1
check "a no-op build" $D tables
check_grep "a no-op build runs nothing" '^dfmake: 0 ran, 7 cached, 0 failed$' .out
check "a no-op build leaves the lock as it was" $PY -c "
import json
a = json.load(open('lock1'))['instances']; b = json.load(open('dfmake.lock'))['instances']
assert a == b"

# -C and -f, and the cache beside the rules file.
mkdir -p sub && cp dfmake.yaml sub/other.yaml
check "-C DIR -f FILE" $D -C sub -f other.yaml tables
check "the cache is made beside the rules" test -f sub/.dfmake/data.mdb
check "the lock is written beside the rules, named after them" test -f sub/other.lock
check "DFMAKE_CACHE names the cache" env DFMAKE_CACHE="$T/shared-cache" $D -C sub -f other.yaml tables
check_grep "a new cache starts empty" '^dfmake: 7 ran' .out
check "--cache names the cache" $D --cache "$T/shared-cache" tables
check_grep "--cache reuses the shared cache" '^dfmake: 0 ran, 7 cached' .out

# git state in the record.
git init -q repo && cp dfmake.yaml repo/ && (cd repo && git add dfmake.yaml &&
	git -c user.name=t -c user.email=t@t commit -qm init)
check "a build inside a git work tree" $D -C repo tables
check "the record holds the commit and a clean state" $PY -c "
import json, subprocess
head = subprocess.check_output(['git', '-C', 'repo', 'rev-parse', 'HEAD'], text=True).strip()
r = json.load(open('repo/dfmake.lock'))['instances']['all']['record']
assert r['git'] == {'commit': head, 'dirty': False}, r['git']"

check_fails "an unknown target fails" $D nosuch
check_grep "and says so" "no target, stage or instance named 'nosuch'" .out
check "--version" $D --version
check_grep "--version prints the version" '^dfmake [0-9]+\.[0-9]+\.[0-9]+$' .out
check "--help" $D --help
check_grep "--help lists every command" 'audit \[--rerun\]' .out
for cmd in status dag show export log gc audit kinds; do
	grep -q "^  $cmd" .out || bad "--help lists $cmd"
done
finish
