# The features kind through the real binary: the FID-weights converter on a
# state dict shaped like pytorch-fid's (random weights), features of a small
# Fashion-MNIST set with those and with the default nsfwjs weights, and the
# metrics downstream carrying each network's label.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE
NSFWJS="Inception-v3, nsfwjs weights; not comparable to published FID"

check "a random FID-variant state dict" \
	$PY "$TOP/tests/parity/inception_fixtures.py" state "$T/pt_inception-2015-12-05-00000000.pth"
check "the converter takes it" $PY "$TOP/stages/nn/convert_fid_weights.py" \
	"$T/pt_inception-2015-12-05-00000000.pth" "$T/fid.safetensors"
check_grep "and labels it as not the standard network (digest differs)" \
	'not the standard FID network' .out

mkdir p && cat > p/dfmake.yaml <<YAML
stages:
  fmnist:
    kind: ingest
    params: {source: fmnist, limit: 2}
  small:
    kind: resize
    params: {size: 32, channels: 3}
    inputs: {data: fmnist.data}
  feats_fid:
    kind: features
    params: {weights: $T/fid.safetensors, size: 75, batch: 8}
    inputs: {data: small.data}
  feats_default:
    kind: features
    params: {batch: 10}
    inputs: {data: small.data}
  is_fid:
    kind: inception-score
    params: {splits: 2}
    inputs: {features: feats_fid.features}
  fid_self:
    kind: fid
    inputs: {a: feats_default.features, b: feats_default.features}
default: [is_fid, fid_self]
YAML
check "the pipeline builds (1 thread per stage)" $D -C p -j2 --threads 1
check "show describes the default features" $D -C p show feats_default
check_grep "with their count and network label" "^network: $NSFWJS$" .out
check_grep "and their size" '^20 images: 2048 features, 5 logits each$' .out
check "the features export" $D -C p export feats_fid.features "$T/f.safetensors"
check "they hold 20 rows of 2048 features and 1008 logits, with the labels" $PY -c "
import json, struct
b = open('f.safetensors', 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
assert h['features']['shape'] == [20, 2048], h['features']
assert h['logits']['shape'] == [20, 1008] and h['labels']['shape'] == [20], h
assert h['__metadata__']['variant'] == 'fid', h['__metadata__']"
check "the inception score exports" $D -C p export is_fid.result "$T/is.json"
check "and carries the converted weights' label" $PY -c "
import json; r = json.load(open('is.json'))
assert 'not the standard FID network' in r['network'], r"
check "the default-weights FID exports" $D -C p export fid_self.result "$T/fid.json"
check "and says it is the nsfwjs network, with FID 0 of a set to itself" $PY -c "
import json; r = json.load(open('fid.json'))
assert r['network'] == '$NSFWJS', r
assert abs(r['fid']) < 1e-6, r"
check "a second build" $D -C p
check_grep "runs nothing" '^dfmake: 0 ran, 6 cached, 0 failed$' .out
check "features on 2 threads" $D -C p --threads 2 --cache "$T/c2" feats_fid
check "export" $D -C p --cache "$T/c2" export feats_fid.features "$T/f2.safetensors"
check "are the same bytes as on 1 thread" cmp "$T/f.safetensors" "$T/f2.safetensors"
printf ' ' >> "$T/fid.safetensors"
check "changed weights" $D -C p -n
check_grep "rerun the features that read them" '^feats_fid: source files changed' .out
rm "$T/fid.safetensors"
check_fails "missing weights" $D -C p
check_grep "are reported with the path" "fid.safetensors" .out
finish
