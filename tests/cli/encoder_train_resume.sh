#!/usr/bin/env bash
# clinner train encoder on a toy paper-csv corpus written here (disease and
# symptom words in filler sentences), killed with SIGKILL after its first
# checkpoint, then --resume: the run finishes, the model tags, its labels are
# valid BIO, a Q8_0 copy (--convert) tags too, and so does the mean of two
# models (--average), which refuses a quantized one.  Needs the base encoder
# (scripts/fetch-encoder.sh) and a build with llama.cpp; skips otherwise.
set -u
fail() { echo "FAIL: $*"; exit 1; }
base=${CLINNER_CACHE:-$HOME/.cache/clinner}/models/all-minilm-l6-v2
"$CLINNER_BIN" train encoder --help >/dev/null 2>&1 || { echo "SKIP: no encoder in this build"; exit 77; }
[ -f "$base/model.safetensors" ] || { echo "SKIP: $base missing (scripts/fetch-encoder.sh)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# toy corpus: 4 documents x 6 sentences; "Fabry"/"Pompe" diseases, "fièvre"
# (UTF-8) and "pain" signs, "severe pain" a two-token sign
toy() {
    echo "Token,Tag,Sentence_Num,Sentence_Num_Global,File"
    local g=0
    for d in 1 2 3 4; do
        for s in 1 2 3 4 5 6; do
            g=$((g + 1))
            case $(((d + s) % 3)) in
                0) printf 'Patients,O\nwith,O\nFabry,B-RAREDISEASE\nhave,O\nsevere,B-SIGN\npain,I-SIGN\n.,O\n' ;;
                1) printf 'The,O\nfièvre,B-SIGN\nof,O\nPompe,B-RAREDISEASE\nis,O\nmild,O\n.,O\n' ;;
                2) printf 'No,O\npain,B-SIGN\nwas,O\nseen,O\ntoday,O\n.,O\n' ;;
            esac | sed "s/\$/,$s,$g,toy$d.txt/"
        done
    done
}
toy >"$tmp/train.csv"
toy >"$tmp/dev.csv"

train() {
    "$CLINNER_BIN" train encoder --train "$tmp/train.csv" --dev "$tmp/dev.csv" --epochs 2 \
        --batch 4 --lr 1e-4 --save-every 1 --threads 2 --progress off -o "$tmp/toy.enc" "$@"
}
train >"$tmp/log1" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [ -f "$tmp/toy.enc.ckpt" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
done
[ -f "$tmp/toy.enc.ckpt" ] || { cat "$tmp/log1"; fail "no checkpoint appeared"; }
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
# a kill -9 during a checkpoint write may leave its temporary file (that is
# what temp + rename is for); the checkpoint under its own name is whole,
# which the resume below proves by finishing from it

train --resume >"$tmp/log2" 2>&1 || { cat "$tmp/log2"; fail "--resume: exit $?"; }
grep -q "resuming from" "$tmp/log2" || fail "resume did not say where it resumed: $(cat "$tmp/log2")"
[ -f "$tmp/toy.enc" ] || fail "no model after the resumed run"

"$CLINNER_BIN" tag --backend encoder --model "$tmp/toy.enc" --from paper-csv --to paper-csv \
    --progress off "$tmp/dev.csv" -o "$tmp/pred.csv" || fail "tag: exit $?"
[ "$(wc -l <"$tmp/pred.csv")" = "$(wc -l <"$tmp/dev.csv")" ] || fail "tagged rows differ"
# valid BIO: an I-X only after B-X or I-X in the same sentence
awk -F, 'NR > 1 { if ($2 ~ /^I-/ && (prev_s != $4 || (prev != "B-" substr($2, 3) && prev != $2))) bad = 1;
                  prev = $2; prev_s = $4 } END { exit bad }' "$tmp/pred.csv" || fail "invalid BIO"
"$CLINNER_BIN" eval --gold "$tmp/dev.csv" --gold-format paper-csv --pred "$tmp/pred.csv" \
    --pred-format paper-csv >/dev/null || fail "eval of the tagged file"
# an 8-bit copy tags the same file
"$CLINNER_BIN" train encoder --convert "$tmp/toy.enc" --out-type q8_0 -o "$tmp/toy.q8" 2>/dev/null ||
    fail "--convert: exit $?"
[ "$(stat -c %s "$tmp/toy.q8")" -lt "$(stat -c %s "$tmp/toy.enc")" ] || fail "q8_0 is not smaller"
"$CLINNER_BIN" tag --backend encoder --model "$tmp/toy.q8" --from paper-csv --to paper-csv \
    --progress off "$tmp/dev.csv" -o "$tmp/pred8.csv" || fail "tag q8_0: exit $?"

# --average: the model and its last checkpoint (both F32) into one that tags
"$CLINNER_BIN" train encoder --average -o "$tmp/mean.enc" "$tmp/toy.enc" "$tmp/toy.enc.ckpt" \
    2>"$tmp/err" || fail "--average: $(cat "$tmp/err")"
"$CLINNER_BIN" tag --backend encoder --model "$tmp/mean.enc" --from paper-csv --to paper-csv \
    --progress off "$tmp/dev.csv" -o "$tmp/predm.csv" || fail "tag the mean: exit $?"
[ "$(wc -l <"$tmp/predm.csv")" = "$(wc -l <"$tmp/dev.csv")" ] || fail "the mean: tagged rows differ"
if "$CLINNER_BIN" train encoder --average -o "$tmp/bad.enc" "$tmp/toy.enc" "$tmp/toy.q8" \
    2>"$tmp/err"; then fail "--average took a Q8_0 model"; fi
grep -q "toy.q8: tensor .* is quantized" "$tmp/err" || fail "--average on Q8_0: $(cat "$tmp/err")"
[ ! -e "$tmp/bad.enc" ] || fail "--average left a file after an error"
echo "ok: resume, --convert, --average"
