#!/usr/bin/env bash
# bench/ft_choose.sh - compare fine-tuned checkpoints on dev, to choose the
# one to score on the test split (a run's label choices swing between
# checkpoints: docs/RESULTS.md, "What the loss hides").  For each model, one
# table row of:
#   - the dev loss and label choices of `clinner finetune --epochs 0` on the
#     run's own validation set (50 dev sentences, seed 42);
#   - forced zero-shot tagging of the first 12 documents of the paper's dev
#     CSV (106 sentences), scored with the paper's protocol, and the labels
#     it wrote.
#
#   bench/ft_choose.sh OUTDIR MODEL.gguf...
#
# Keep checkpoints with `clinner finetune --keep-checkpoints` (KEEP=1 for
# bench/ft_split.sh); F32 checkpoints work as they are.  About 3 + 3
# minutes per model on one thread.  Writes OUTDIR/NAME.{lines,log,json}.
# Env: CLINNER_BIN (build/clinner), CLINNER_SHARED (../shared), THREADS (1).
set -euo pipefail
main() {
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: ft_choose.sh OUTDIR MODEL.gguf..."
out=${1:?$usage}
shift
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
bin=${CLINNER_BIN:-$root/build/clinner}
shared=${CLINNER_SHARED:-$root/../shared}
data=$shared/data/raredis
csv=$shared/data/paper/dev_combined_IOB_data.csv
for f in "$data/train" "$data/dev" "$csv"; do
    [ -e "$f" ] || { echo "ft_choose: $f not found" >&2; exit 77; }
done
mkdir -p "$out"
dev12=$out/dev12.csv
awk -F, 'NR == 1 { print; next } !($NF in s) { s[$NF] = 1; n++ } n <= 12' "$csv" >"$dev12"
echo "| model | dev loss | label choices right (O, B-, I-) | 12 dev documents: P / R / F1 | labels written B / I / O |"
echo "|---|---|---|---|---|"
for m in "$@"; do
    name=$(basename "$m" .gguf)
    val=$("$bin" finetune --model "$m" --train "$data/train" --dev "$data/dev" \
        --tokenizer paper --max-examples 1 --max-dev 50 --ctx 1024 --epochs 0 \
        --threads "${THREADS:-1}" -o "$out/unused.gguf" 2>&1) ||
        { echo "$val" >&2; echo "ft_choose: validation of $m failed" >&2; exit 1; }
    loss=$(echo "$val" | sed -n 's/.*dev loss of .*: \([0-9.]*\) (.*/\1/p')
    choices=$(echo "$val" | sed -n 's/.*after the gold lines): //p')
    "$bin" tag --backend llama --model "$m" --strategy zero-shot --decode forced \
        --threads "${THREADS:-1}" --from paper-csv --to paper-lines "$dev12" \
        -o "$out/$name.lines" 2>"$out/$name.log" ||
        { tail -3 "$out/$name.log" >&2; echo "ft_choose: tagging with $m failed" >&2; exit 1; }
    row=$(CLINNER_BIN=$bin CLINNER_SHARED=$shared "$root/bench/score_run.sh" "$name" \
        "$out/$name.lines" "$out/$name.log" "$dev12")
    prf=$(echo "$row" | cut -d'|' -f4 | xargs)
    labels=$(awk -F' : ' 'NF > 1 { n[substr($NF, 1, 1)]++ }
        END { printf "%d / %d / %d", n["B"], n["I"], n["O"] }' "$out/$name.lines")
    echo "| $name | $loss | $choices | $prf | $labels |"
done
}
main "$@"
