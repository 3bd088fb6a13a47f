#!/usr/bin/env bash
# bench/ft_split.sh - instruction fine-tuning of SmolLM2 on the RareDis
# training split on this CPU (issue 5), in as many sittings as it takes:
# each call trains for at most LIMIT seconds, checkpoints, and the next call
# continues from there (`clinner finetune --resume`); the model written
# after each call is the latest checkpoint's, as Q8_0.
#
#   bench/ft_split.sh OUTDIR [LIMIT]     train (or continue); LIMIT 0: to the end
#
# Then score it on the whole test split like any other row:
#   MODEL=OUTDIR/smollm2-ft.gguf SHARDS=2 bench/llm_split.sh zero-shot forced OUTDIR
#
# Writes OUTDIR/smollm2-ft.gguf (+ .ckpt.json and F32 checkpoints) and
# OUTDIR/ft.log: every start, the progress lines and /usr/bin/time's report.
# Env: CLINNER_BIN (build/clinner), CLINNER_SHARED (../shared), MODEL
# (default SmolLM2-135M-Instruct), TENSORS (last:4: a third of the cost of
# training every tensor on this CPU, and a lower dev loss on 100 sentences,
# docs/RESULTS.md), LR (1e-4: 2e-4 diverged after 280 steps of a 1,690-step
# run; the schedule ends at a tenth of it), CTX
# (1024), MAX_EXAMPLES (0: the whole split), THREADS (2), SAVE_EVERY (50).
# Keep them the same to continue a run.  DEV_EVERY (0) and KEEP=1 may
# change between sittings: validate on dev every DEV_EVERY steps, keep every
# checkpoint (to choose one on dev: the label choices swing, RESULTS.md).
set -euo pipefail
# Everything is in main(), read whole before it runs (an edit under a run
# of hours must not change what it does next).
main() {
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: ft_split.sh OUTDIR [LIMIT]"
out=${1:?$usage}
limit=${2:-0}
bin=${CLINNER_BIN:-$root/build/clinner}
export CLINNER_SHARED=${CLINNER_SHARED:-$root/../shared}
model=${MODEL:-$("$root/scripts/fetch-models.sh" --path smollm2)}
data=$CLINNER_SHARED/data/raredis
[ -d "$data/train" ] || { echo "ft_split: $data/train not found" >&2; exit 77; }
lr=${LR:-1e-4}
lr_min=$(awk -v x="$lr" 'BEGIN { printf "%g", x / 10 }')
mkdir -p "$out"
log=$out/ft.log
resume=()
[ -f "$out/smollm2-ft.gguf.ckpt.json" ] && resume=(--resume)
keep=()
[ "${KEEP:-0}" = 1 ] && keep=(--keep-checkpoints)
echo "ft_split: start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "$(basename "$model") limit ${limit}s ${resume[*]}" >>"$log"
timer=()
[ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
rc=0
"${timer[@]}" "$bin" finetune --model "$model" --train "$data/train" --dev "$data/dev" \
    --tokenizer paper --max-dev 50 --ctx "${CTX:-1024}" --epochs 1 \
    --train-tensors "${TENSORS:-last:4}" --lr "$lr" --lr-min "$lr_min" --warmup 0.03 \
    --max-examples "${MAX_EXAMPLES:-0}" --threads "${THREADS:-2}" \
    --save-every "${SAVE_EVERY:-50}" --dev-every "${DEV_EVERY:-0}" "${keep[@]}" \
    --time-limit "$limit" --log-interval 60 \
    --out-type q8_0 -o "$out/smollm2-ft.gguf" "${resume[@]}" \
    >>"$log" 2>&1 || rc=$?
echo "ft_split: end $(date -u +%FT%TZ), rc $rc" >>"$log"
return "$rc"
}
main "$@"
