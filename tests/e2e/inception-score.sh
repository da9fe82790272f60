# The offline Inception Score through the real binary: a classifier trained
# on the target's training set scores the target's test images.
. "$TOP/tests/e2e/lib.sh"
D=$DFMAKE

cat > dfmake.yaml <<'R'
stages:
  train-raw:
    kind: ingest
    params:
      source: fmnist
      limit: 40
  train:
    kind: resize
    inputs:
      data: train-raw.data
  test-raw:
    kind: ingest
    params:
      source: fmnist
      split: test
      limit: 20
  test:
    kind: resize
    inputs:
      data: test-raw.data
  classifier:
    kind: is-classifier
    params:
      width: 4
      epochs: 4
      batch: 40
    inputs:
      data: train.data
  logits:
    kind: classify
    inputs:
      weights: classifier.weights
      data: test.data
  score:
    kind: inception-score
    inputs:
      features: logits.features
R
check "the scoring pipeline builds" $D -j2 score
check "the score exports" $D export score.result "$T/is.json"
check "the score is between 1 and the class count, labelled" $PY -c "
import json
r = json.load(open('is.json'))
assert 1 < r['mean'] <= 10, r['mean']
assert r['n'] == 200 and r['classes'] == 10, r
assert 'not comparable to published Inception Scores' in r['network'], r['network']"
check "the classifier's log tells its training" $D log classifier
check_grep "epoch by epoch" '^epoch 4: loss [0-9.]+, training accuracy [0-9.]+$' .out
finish
