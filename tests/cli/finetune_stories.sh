#!/usr/bin/env bash
# `clinner finetune` end to end with the tiny stories260K model on the
# hand-made fixture (tests/fixtures/finetune): progress lines and a memory
# estimate on stderr, the dev label choices, the loss goes down, a checkpoint after each epoch and
# every --save-every steps, --resume continues (after a finished epoch,
# after kill -9 in the middle of one, and after SIGTERM stopped one),
# --dev-every and --keep-checkpoints, a checkpoint of other options is
# refused, and the result is tagged with forced decoding when the llama
# backend of `clinner tag` is available.
set -u
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
fx="$root/tests/fixtures/finetune"
B="$CLINNER_BIN"
model="${CLINNER_CACHE:-$HOME/.cache/clinner}/models/stories260K.gguf"
if "$B" finetune --help 2>&1 | grep -q 'no llama.cpp'; then
    echo "SKIP: built without llama.cpp"; exit 77
fi
[ -r "$model" ] || { echo "SKIP: $model not found (scripts/fetch-models.sh)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--model "$model" --train "$fx/train" --dev "$fx/dev" --tokenizer paper --ctx 1024
        --lr 1e-2 --threads 2 --log-interval 0 --cache-dir "$tmp/cache" -o "$tmp/ft.gguf")

# bad options are refused before any work
"$B" finetune "${common[@]}" --ctx 1000 2>"$tmp/err" && fail "--ctx 1000 accepted"
grep -q 'multiple of 256' "$tmp/err" || fail "no clear --ctx message: $(cat "$tmp/err")"
"$B" finetune "${common[@]}" --train-tensors last:x 2>"$tmp/err" && fail "bad --train-tensors accepted"
"$B" finetune "${common[@]}" --mem-limit 0.001 2>"$tmp/err" && fail "--mem-limit 0.001 accepted"
grep -q 'training needs about' "$tmp/err" || fail "no memory message: $(cat "$tmp/err")"
[ -e "$tmp/ft.gguf" ] && fail "a refused run left an output"

# epoch 1
"$B" finetune "${common[@]}" --epochs 1 2>"$tmp/e1.err" || { cat "$tmp/e1.err"; fail "epoch 1 exited $?"; }
grep -q 'memory estimate:' "$tmp/e1.err" || fail "no memory estimate"
# masked rows would get softmax as their gradient (see finetune.h): training
# counts every token, --loss only what the dev loss counts
grep -q 'training loss: every token.*dev loss: labels' "$tmp/e1.err" ||
    fail "training is not on every token: $(grep 'training set' "$tmp/e1.err")"
grep -q '^epoch 1/1  step 1/' "$tmp/e1.err" || fail "no progress lines"
grep -q 'tokens/s' "$tmp/e1.err" || fail "no tokens/s in the progress"
grep -q 'ETA' "$tmp/e1.err" || fail "no ETA in the progress"
[ -s "$tmp/ft.gguf" ] || fail "no output model"
[ -s "$tmp/ft.gguf.ckpt.json" ] || fail "no checkpoint"
# the dev label choices cover every dev token once
choices=$(grep 'dev label choices right' "$tmp/e1.err") || fail "no dev label choices"
ntok=$("$B" convert --from brat --to paper-csv --tokenizer paper "$fx/dev" -o - | tail -n +2 | wc -l)
nch=$(echo "$choices" | grep -o '/[0-9]*' | tr -d / | awk '{ s += $1 } END { print s }')
[ "$nch" = "$ntok" ] || fail "label choices over $nch lines, dev has $ntok tokens: $choices"
echo "$choices" | grep -q 'whole label, type too: O [0-9.]*%, B- [0-9.]*%, I- [0-9.]*%$' ||
    fail "no whole-label share: $choices"
first=$(sed -n 's/.*first loss \([0-9.]*\).*/\1/p' "$tmp/e1.err")
dev1=$(sed -n 's/^epoch 1\/1  dev .* loss \([0-9.]*\) .*/\1/p' "$tmp/e1.err")

# epochs 2 and 3 by resuming: the schedule continues, the loss goes down
"$B" finetune "${common[@]}" --epochs 3 --resume 2>"$tmp/e3.err" || { cat "$tmp/e3.err"; fail "resume exited $?"; }
grep -q 'resuming after epoch 1' "$tmp/e3.err" || fail "did not resume: $(head -5 "$tmp/e3.err")"
grep -q 'learning rate warms up again over 20 steps' "$tmp/e3.err" || fail "no re-warm-up note"
grep -q '^epoch 1/3' "$tmp/e3.err" && fail "epoch 1 ran again"
grep -q '^epoch 3/3  step' "$tmp/e3.err" || fail "epoch 3 did not run"
last=$(sed -n 's/^clinner finetune: epoch 3\/3: train loss \([0-9.]*\),.*/\1/p' "$tmp/e3.err")
dev3=$(sed -n 's/^epoch 3\/3  dev .* loss \([0-9.]*\) .*/\1/p' "$tmp/e3.err")
echo "first window loss $first, epoch-3 train loss $last; dev loss $dev1 -> $dev3"
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' || fail "train loss did not go down ($first -> $last)"
awk -v a="$dev1" -v b="$dev3" 'BEGIN { exit !(b < a) }' || fail "dev loss did not go down ($dev1 -> $dev3)"
ls "$tmp"/ft.gguf.ckpt-*.gguf | wc -l | grep -qx 1 || fail "old checkpoints left: $(ls "$tmp")"

# other options: the checkpoint is refused
"$B" finetune "${common[@]}" --epochs 4 --resume --lr 1e-3 2>"$tmp/err" && fail "foreign checkpoint used"
grep -q 'checkpoint is of another run' "$tmp/err" || fail "no clear message: $(cat "$tmp/err")"
# a damaged checkpoint file: refused naming the file and the field, and the
# model is left as it was (each line: the sed edit, then what the error names)
cp "$tmp/ft.gguf.ckpt.json" "$tmp/ckpt.good"
cp "$tmp/ft.gguf" "$tmp/model.good"
while IFS='|' read -r bad what; do
    sed "$bad" "$tmp/ckpt.good" >"$tmp/ft.gguf.ckpt.json"
    cmp -s "$tmp/ft.gguf.ckpt.json" "$tmp/ckpt.good" && fail "sed '$bad' changed nothing"
    "$B" finetune "${common[@]}" --epochs 4 --resume 2>"$tmp/err" && fail "damaged checkpoint ($bad) used"
    grep -qF "ft.gguf.ckpt.json: not a clinner finetune checkpoint ($what)" "$tmp/err" ||
        fail "damaged checkpoint ($bad): $(cat "$tmp/err")"
    cmp -s "$tmp/ft.gguf" "$tmp/model.good" || fail "damaged checkpoint ($bad): the model changed"
done <<'EDITS'
s/"step":\t[0-9]*/"step":\t-3/|field step
s/"global_step":\t[0-9]*/"global_step":\t1e300/|field global_step
s/"epoch":\t[0-9]*/"epoch":\t1.5/|field epoch
s/"file":\t"[^"]*"/"file":\t".."/|field file
s/"fingerprint":\t"[^"]*"/"fingerprint":\t"abc"/|field fingerprint
s/{/[/|not JSON
EDITS
cp "$tmp/ckpt.good" "$tmp/ft.gguf.ckpt.json"
echo "damaged checkpoints: refused, naming the file and the field"

# --time-limit: stops after the first step that passes it, with a checkpoint
# and an output model; --resume (without the limit) finishes the run
rm -f "$tmp"/ft.gguf*
"$B" finetune "${common[@]}" --epochs 2 --time-limit 0.001 2>"$tmp/t.err" ||
    { cat "$tmp/t.err"; fail "--time-limit run exited $?"; }
grep -q 'time limit: stopped in epoch 1/2 after step 1 of' "$tmp/t.err" ||
    fail "no time-limit note: $(tail -3 "$tmp/t.err")"
grep -q -- '--time-limit reached after 1 of' "$tmp/t.err" || fail "no time-limit summary"
[ -s "$tmp/ft.gguf" ] || fail "no output model after --time-limit"
"$B" finetune "${common[@]}" --epochs 2 --resume 2>"$tmp/t2.err" ||
    { cat "$tmp/t2.err"; fail "resume after --time-limit exited $?"; }
grep -q 'resuming after epoch 0 step 1' "$tmp/t2.err" || fail "did not resume after the time limit"
grep -q '^clinner finetune: epoch 2/2: train loss' "$tmp/t2.err" || fail "epoch 2 did not finish"
echo "time limit: stopped after step 1, resumed to the end"

# kill -9 in the middle of an epoch, then --resume from the step checkpoint
rm -f "$tmp"/ft.gguf*
"$B" finetune "${common[@]}" --epochs 2 --save-every 2 2>"$tmp/k.err" &
pid=$!
for _ in $(seq 600); do
    grep -q '"step":	2' "$tmp/ft.gguf.ckpt.json" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
done
kill -9 $pid 2>/dev/null && killed=1 || killed=0
wait $pid 2>/dev/null
if [ "$killed" = 1 ]; then
    "$B" finetune "${common[@]}" --epochs 2 --save-every 2 --resume 2>"$tmp/r.err" ||
        { cat "$tmp/r.err"; fail "resume after kill -9 exited $?"; }
    grep -q 'resuming after epoch 0 step 2' "$tmp/r.err" || fail "did not resume mid-epoch: $(grep resum "$tmp/r.err")"
    grep -q '^epoch 1/2  step 1/' "$tmp/r.err" && fail "steps before the checkpoint ran again"
    echo "killed at step 2, resumed"
else
    echo "note: the run ended before it could be killed"
fi
[ -s "$tmp/ft.gguf" ] || fail "no output after resuming"

# SIGTERM (or Ctrl-C) stops after the current step: checkpoint, model,
# exit status 143; --resume finishes the run
rm -f "$tmp"/ft.gguf*
"$B" finetune "${common[@]}" --epochs 2 2>"$tmp/s.err" &
pid=$!
for _ in $(seq 600); do
    grep -q '^epoch 1/2  step 1/' "$tmp/s.err" && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
kill -TERM $pid 2>/dev/null && signalled=1 || signalled=0
wait $pid
rc=$?
if [ "$signalled" = 1 ] && grep -q 'stop requested: stopped' "$tmp/s.err"; then
    [ "$rc" = 143 ] || fail "stopped by SIGTERM: exit status $rc, not 143"
    grep -q 'stopped by a signal after' "$tmp/s.err" || fail "no stop summary: $(tail -3 "$tmp/s.err")"
    [ -s "$tmp/ft.gguf" ] && [ -s "$tmp/ft.gguf.ckpt.json" ] || fail "no model or checkpoint after SIGTERM"
    ls "$tmp"/ft.gguf.tmp* >/dev/null 2>&1 && fail "temporary files left after SIGTERM"
    "$B" finetune "${common[@]}" --epochs 2 --resume 2>"$tmp/s2.err" ||
        { cat "$tmp/s2.err"; fail "resume after SIGTERM exited $?"; }
    grep -q '^clinner finetune: epoch 2/2: train loss' "$tmp/s2.err" || fail "epoch 2 did not finish after SIGTERM"
    echo "SIGTERM: stopped with a checkpoint, resumed to the end"
else
    [ "$rc" = 0 ] || fail "run exited $rc: $(tail -3 "$tmp/s.err")"
    echo "note: the run ended before SIGTERM could stop it"
fi

# --dev-every validates mid-epoch, --keep-checkpoints keeps each one
rm -f "$tmp"/ft.gguf*
"$B" finetune "${common[@]}" --epochs 1 --save-every 2 --dev-every 2 --keep-checkpoints \
    2>"$tmp/d.err" || { cat "$tmp/d.err"; fail "--dev-every run exited $?"; }
nwin=$(sed -n 's/.* in \([0-9]*\) windows, .*training loss.*/\1/p' "$tmp/d.err")
[ "${nwin:-0}" -ge 5 ] || fail "the fixture has $nwin training windows, the test needs 5"
grep -q 'dev validation after step 2: loss' "$tmp/d.err" || fail "no validation after step 2"
grep -q 'dev validation after step 4: loss' "$tmp/d.err" || fail "no validation after step 4"
[ "$(grep -c 'dev label choices right' "$tmp/d.err")" -ge 3 ] || fail "label choices not at each validation"
for k in 2 4 $nwin; do
    [ -s "$tmp/ft.gguf.ckpt-$k.gguf" ] || fail "checkpoint $k not kept: $(ls "$tmp")"
done
echo "--dev-every 2: validated at steps 2 and 4, checkpoints kept"

# the result tags with forced decoding (when `clinner tag` has the llama backend)
if "$B" tag --help 2>&1 | grep -q 'llama .*not available'; then
    echo "note: clinner tag has no llama backend yet (tests/test_finetune.c tags through the library)"
else
    "$B" tag --backend llama --model "$tmp/ft.gguf" --strategy zero-shot --decode forced \
        --tokenizer paper --from brat --to conll "$fx/dev" -o "$tmp/pred.conll" 2>"$tmp/tag.err" ||
        { cat "$tmp/tag.err"; fail "tag with the fine-tuned model exited $?"; }
    "$B" convert --from brat --to conll --tokenizer paper "$fx/dev" -o "$tmp/gold.conll" || fail "convert"
    [ "$(grep -c . "$tmp/pred.conll")" = "$(grep -c . "$tmp/gold.conll")" ] || fail "token counts differ"
    echo "tagged with forced decoding"
    # the plain layout is the untemplated model's: both commands say so
    grep -q "has no chat template llama.cpp can apply" "$tmp/tag.err" ||
        { cat "$tmp/tag.err"; fail "tag: no chat-template note for an untemplated model"; }
    # --chat-template: the examples use it and the output model carries it,
    # so `clinner tag` renders the same without being told
    "$B" finetune --model "$model" --train "$fx/train" --tokenizer paper --ctx 1024 \
        --threads 1 --chat-template chatml -o "$tmp/chatml.gguf" >/dev/null 2>"$tmp/ct.err" ||
        { cat "$tmp/ct.err"; fail "finetune --chat-template chatml exited $?"; }
    grep -q "no chat template" "$tmp/ct.err" && fail "finetune: template note with chatml"
    echo "Fever and rash ." | "$B" tag --backend llama --model "$tmp/chatml.gguf" --threads 1 \
        >/dev/null 2>"$tmp/ct-tag.err" || { cat "$tmp/ct-tag.err"; fail "tag chatml model"; }
    grep -q "no chat template" "$tmp/ct-tag.err" && fail "the chatml model lost its template"
    "$B" finetune --model "$model" --train "$fx/train" --chat-template nope \
        -o "$tmp/nope.gguf" 2>"$tmp/nope.err" && fail "unknown template accepted"
    grep -q "chat template 'nope' is not one llama.cpp can apply" "$tmp/nope.err" ||
        { cat "$tmp/nope.err"; fail "unknown template: unclear error"; }
    ls "$tmp"/nope.gguf* >/dev/null 2>&1 && fail "a refused fine-tune left files"
    echo "--chat-template: trained with, written into the model, used by tag"
fi
echo "ok"
