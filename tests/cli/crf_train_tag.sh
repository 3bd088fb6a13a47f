#!/usr/bin/env bash
# `clinner train crf` and `clinner tag --backend crf` end to end on the
# hand-made BRAT fixture (tests/fixtures/crf/train): the model learns its
# training set (tags identical to the gold projection of `clinner convert`),
# jsonl output carries entities with offsets, types and confidences, bad
# model files and unavailable backends give clear errors, and a failed
# training leaves no file behind.
set -u
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
fx="$root/tests/fixtures/crf/train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
B="$CLINNER_BIN"

for labels in paper all; do
    "$B" train crf --train "$fx" --dev "$fx" --tokenizer clinical --labels "$labels" \
        --c1 0 --c2 0.001 --max-iter 150 --progress lines -o "$tmp/m.crf" 2>"$tmp/train.err" ||
        { cat "$tmp/train.err"; fail "train --labels $labels exited $?"; }
    grep -q '^iter ' "$tmp/train.err" || fail "no progress lines on stderr"
    grep -q 'dev F1' "$tmp/train.err" || fail "no dev F1 in the progress"
    "$B" tag --backend crf --model "$tmp/m.crf" --from brat --to conll "$fx" -o "$tmp/pred.conll" \
        2>"$tmp/tag.err" || { cat "$tmp/tag.err"; fail "tag exited $?"; }
    "$B" convert --from brat --to conll --tokenizer clinical --labels "$labels" "$fx" \
        -o "$tmp/gold.conll" || fail "convert exited $?"
    cmp "$tmp/pred.conll" "$tmp/gold.conll" ||
        { diff "$tmp/pred.conll" "$tmp/gold.conll" | head; fail "--labels $labels: training set not learned"; }
    echo "labels $labels: training set learned exactly"
done

# jsonl (the default): entities with types, offsets and confidences; the model's
# tokenizer is the default
"$B" tag --backend crf --model "$tmp/m.crf" "$fx/beta.txt" >"$tmp/beta.jsonl" 2>/dev/null ||
    fail "tag text exited $?"
grep -q '"type":"SKINRAREDISEASE"' "$tmp/beta.jsonl" || fail "no SKINRAREDISEASE entity: $(cat "$tmp/beta.jsonl")"
grep -q '"confidence"' "$tmp/beta.jsonl" || fail "no confidences in jsonl"
grep -q '"label":"B-RAREDISEASE"' "$tmp/beta.jsonl" || fail "no per-token labels in jsonl"
# stdin works and gives the same
"$B" tag --backend crf --model "$tmp/m.crf" --from text - <"$fx/beta.txt" 2>/dev/null |
    sed 's/"id":"[^"]*"//' >"$tmp/stdin.jsonl"
sed 's/"id":"[^"]*"//' "$tmp/beta.jsonl" | cmp - "$tmp/stdin.jsonl" || fail "stdin output differs"

# two threads tag identically
"$B" tag --backend crf --model "$tmp/m.crf" --threads 2 --from brat --to conll "$fx" \
    -o "$tmp/pred2.conll" 2>/dev/null || fail "tag --threads 2 exited $?"
cmp "$tmp/pred.conll" "$tmp/pred2.conll" || fail "--threads 2 changed the output"

# bad model files
head -c 100 "$tmp/m.crf" >"$tmp/trunc.crf"
out=$("$B" tag --backend crf --model "$tmp/trunc.crf" "$fx" 2>&1) && fail "truncated model accepted"
echo "$out" | grep -q "truncated" || fail "truncated model: unclear error: $out"
out=$("$B" tag --backend crf --model "$fx/alpha.txt" "$fx" 2>&1) && fail "foreign model accepted"
echo "$out" | grep -q "not a clinner CRF model" || fail "foreign model: unclear error: $out"
# no --model and no shipped model where the default is looked for
mkdir -p "$tmp/nomodels"
out=$(CLINNER_MODELS="$tmp/nomodels" "$B" tag --backend crf "$fx" 2>&1) && fail "missing model accepted"
echo "$out" | grep -q -- "--model: none given, and the shipped default" ||
    fail "missing --model: unclear error: $out"

# unknown backends
out=$("$B" tag --backend nope "$fx" 2>&1) && fail "unknown backend accepted"
echo "$out" | grep -q "unknown backend" || fail "unknown backend: $out"

# options another backend's: refused with their name, nothing written
for o in "--strategy few-shot" "--temp 0.5" "--ctx 512" "--api-base http://127.0.0.1:9/v1" \
         "--answers $tmp/a.jsonl"; do
    out=$("$B" tag --backend crf --model "$tmp/m.crf" $o "$fx" -o "$tmp/foreign.jsonl" 2>&1)
    [ $? -eq 2 ] || fail "crf with $o: not a usage error"
    echo "$out" | grep -q -- "${o%% *} is for the" || fail "crf with $o: unclear error: $out"
done
[ ! -e "$tmp/foreign.jsonl" ] && [ ! -e "$tmp/a.jsonl" ] || fail "output written despite a foreign option"
out=$("$B" tag --backend llama --model "$tmp/m.crf" --retries 3 "$fx" 2>&1)
echo "$out" | grep -q -- "--retries is for the openai backend, not llama" ||
    fail "llama with --retries: $out"
out=$("$B" tag --backend openai --dense "$tmp/x.dense" "$fx" 2>&1)
echo "$out" | grep -q -- "--dense is for the crf backend, not openai" || fail "openai with --dense: $out"

# a failed training leaves nothing behind; bad options are usage errors
"$B" train crf --train "$fx" --max-iter 5 -o "$tmp/no/such/dir/m.crf" 2>/dev/null &&
    fail "training into a missing directory succeeded"
[ -z "$(ls "$tmp" | grep tmp)" ] || fail "temporary files left: $(ls "$tmp")"
"$B" train crf --train "$fx" --c2 -1 -o "$tmp/x.crf" 2>/dev/null; [ $? -eq 2 ] || fail "--c2 -1 not a usage error"
"$B" train crf --train "$fx" --labels six -o "$tmp/x.crf" 2>/dev/null; [ $? -eq 2 ] || fail "--labels six not a usage error"
[ ! -e "$tmp/x.crf" ] || fail "model written despite bad options"
echo "ok"
