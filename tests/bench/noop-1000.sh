# bench noop-1000: a no-op build of a generated 1,000-instance graph (10
# stages of 10 x 10 instances, each stage reading the one before) against
# Snakemake's dry run of the same DAG after a full run.
. "$TOP/tests/bench/lib.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/dfm-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W" || exit 1

$PY - <<'P'
n = 10
ax = ", ".join(str(k) for k in range(n))
r = ["vars:", f"  i: [{ax}]", f"  j: [{ax}]", "stages:"]
s = []
for k in range(n):
    r += [f"  s{k}:", "    kind: echo", "    matrix:", "      i: ${i}", "      j: ${j}",
          "    params:", f"      text: s{k} ${{i}} ${{j}}"]
    if k:
        r += ["    inputs:", f"      in: s{k - 1}.out"]
    inp = f'input: "s{k - 1}/{{i}}_{{j}}.txt"\n    ' if k else ""
    s.append(f'rule s{k}:\n    {inp}output: "s{k}/{{i}}_{{j}}.txt"\n'
             f'    shell: "echo s{k} {{wildcards.i}} {{wildcards.j}} > {{output}}"\n')
s.insert(0, "rule all:\n    input: expand('s%d/{i}_{j}.txt', i=range(%d), j=range(%d))\n" % (n - 1, n, n))
open("dfmake.yaml", "w").write("\n".join(r) + "\n")
open("Snakefile", "w").write("\n".join(s))
P

"$DFMAKE_TEST" -q -j2 >/dev/null 2>&1 || { echo "bench noop-1000: dfmake build failed"; exit 1; }
snakemake --cores 2 --quiet >/dev/null 2>&1 || { echo "bench noop-1000: snakemake run failed"; exit 1; }
ours=$(median_ms 7 "$DFMAKE_TEST" -q)
peer=$(median_ms 5 snakemake -n --cores 1 --quiet)
echo "bench noop-1000: dfmake $ours ms, snakemake $peer ms, ratio $(ratio "$ours" "$peer")"
