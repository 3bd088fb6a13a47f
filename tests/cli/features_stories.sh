#!/usr/bin/env bash
# `clinner features` with stories260K on the hand-made fixture: a dense
# feature file the CRF reads (train crf --dense, tag --dense), the cache
# (second run identical, without running the model), a chosen layer, and
# clear errors for a layer out of range or a missing model.
set -u
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
fx="$root/tests/fixtures/finetune"
B="$CLINNER_BIN"
model="${CLINNER_CACHE:-$HOME/.cache/clinner}/models/stories260K.gguf"
if "$B" features --help 2>&1 | grep -q 'no llama.cpp'; then
    echo "SKIP: built without llama.cpp"; exit 77
fi
[ -r "$model" ] || { echo "SKIP: $model not found (scripts/fetch-models.sh)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
f=(--model "$model" --tokenizer paper --threads 1 --cache-dir "$tmp/cache")

"$B" features "${f[@]}" "$fx/train" -o "$tmp/train.dense" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "features exited $?"; }
[ "$(head -c 7 "$tmp/train.dense")" = CLNRDNS ] || fail "not a dense feature file"
grep -q 'x 64 dims' "$tmp/err" || fail "stories260K has 64 dims: $(cat "$tmp/err")"
"$B" features "${f[@]}" "$fx/train" -o "$tmp/again.dense" 2>"$tmp/err" || fail "second run exited $?"
grep -q 'from the cache' "$tmp/err" || fail "cache not used: $(cat "$tmp/err")"
cmp -s "$tmp/train.dense" "$tmp/again.dense" || fail "cached file differs"
"$B" features "${f[@]}" --layer 2 "$fx/train" -o "$tmp/l2.dense" 2>/dev/null || fail "--layer 2 exited $?"
cmp -s "$tmp/train.dense" "$tmp/l2.dense" && fail "--layer 2 gave the last layer's vectors"
"$B" features "${f[@]}" --layer 40 "$fx/train" -o "$tmp/x.dense" 2>"$tmp/err" && fail "--layer 40 accepted"
grep -q 'blocks 0..4' "$tmp/err" || fail "no clear layer message: $(cat "$tmp/err")"
"$B" features --model "$tmp/none.gguf" "$fx/train" -o "$tmp/x.dense" 2>"$tmp/err" && fail "missing model accepted"
[ -e "$tmp/x.dense" ] && fail "a failed run left an output"
"$B" features "${f[@]}" "$fx/dev" -o "$tmp/dev.dense" 2>/dev/null || fail "dev features exited $?"

# the CRF trains and tags with them
"$B" train crf --train "$fx/train" --tokenizer paper --dense "$tmp/train.dense" --max-iter 30 \
    --progress off -o "$tmp/m.crf" 2>"$tmp/err" || { cat "$tmp/err"; fail "train crf --dense exited $?"; }
"$B" tag --backend crf --model "$tmp/m.crf" --dense "$tmp/dev.dense" --tokenizer paper --from brat \
    --to conll "$fx/dev" -o "$tmp/pred.conll" 2>"$tmp/err" || { cat "$tmp/err"; fail "tag --dense exited $?"; }
[ -s "$tmp/pred.conll" ] || fail "no tags"
# --dense-scale raw (the default is rms): another model from the same file,
# tagged from the same file
"$B" train crf --train "$fx/train" --tokenizer paper --dense "$tmp/train.dense" --max-iter 30 \
    --dense-scale raw --progress off -o "$tmp/raw.crf" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "--dense-scale raw exited $?"; }
cmp -s "$tmp/m.crf" "$tmp/raw.crf" && fail "--dense-scale raw gave the default (rms) model"
"$B" train crf --train "$fx/train" --tokenizer paper --dense "$tmp/train.dense" --max-iter 30 \
    --dense-scale rms --progress off -o "$tmp/rms2.crf" 2>/dev/null || fail "--dense-scale rms exited $?"
cmp -s "$tmp/m.crf" "$tmp/rms2.crf" || fail "--dense-scale rms is not the default"
"$B" tag --backend crf --model "$tmp/raw.crf" --dense "$tmp/dev.dense" --tokenizer paper --from brat \
    --to conll "$fx/dev" -o "$tmp/raw.conll" 2>"$tmp/err" || { cat "$tmp/err"; fail "tag (raw) exited $?"; }
[ "$(grep -c . "$tmp/raw.conll")" = "$(grep -c . "$tmp/pred.conll")" ] || fail "raw: token count differs"
"$B" train crf --train "$fx/train" --dense "$tmp/train.dense" --dense-scale log -o "$tmp/x.crf" \
    2>"$tmp/err" && fail "--dense-scale log accepted"
grep -q "'log' is not raw or rms" "$tmp/err" || { cat "$tmp/err"; fail "--dense-scale: unclear error"; }
"$B" train crf --train "$fx/train" --dense-scale rms -o "$tmp/x.crf" 2>"$tmp/err" &&
    fail "--dense-scale without --dense accepted"
grep -q -- "--dense-scale needs --dense" "$tmp/err" || { cat "$tmp/err"; fail "no --dense: unclear error"; }
[ -e "$tmp/x.crf" ] && fail "a refused run left a model"
echo "ok"
