#!/usr/bin/env bash
# bench/llm_split.sh - one row of the LLM results table: the whole RareDis
# test split (the paper's CSV: its tokens and its 1,735 sentence units)
# tagged with one strategy and decoding, then scored with the paper's
# protocol.  Hours on a CPU, so it is made to be stopped and run again: a
# second call continues the same run (`clinner tag --resume`), and a stopped
# run can be scored on the units it has finished.
#
#   bench/llm_split.sh STRATEGY DECODE OUTDIR      tag (or continue), then score
#   bench/llm_split.sh --score STRATEGY DECODE OUTDIR   score what is there now
#
# Writes OUTDIR/STRATEGY-DECODE.{lines,log,json}; the log keeps every
# start, the tagger's progress and /usr/bin/time's report of each call.
# Env: CLINNER_BIN (build/clinner), CLINNER_SHARED (../shared), MODEL
# (default SmolLM2-135M-Instruct), THREADS (1), PARALLEL (4).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
only_score=false
if [ "${1:-}" = --score ]; then
    only_score=true
    shift
fi
usage="usage: llm_split.sh [--score] STRATEGY DECODE OUTDIR"
strategy=${1:?$usage}
decode=${2:?$usage}
out=${3:?$usage}
bin=${CLINNER_BIN:-$root/build/clinner}
export CLINNER_SHARED=${CLINNER_SHARED:-$root/../shared}
model=${MODEL:-$("$root/scripts/fetch-models.sh" --path smollm2)}
csv=$CLINNER_SHARED/data/paper/test_combined_IOB_data.csv
[ -f "$csv" ] || { echo "llm_split: $csv not found" >&2; exit 77; }
mkdir -p "$out"
name=$strategy-$decode
lines=$out/$name.lines
log=$out/$name.log
if ! $only_score && [ ! -f "$lines" ]; then
    resume=()
    [ -d "$lines.clinner-run" ] && resume=(--resume)
    echo "llm_split: start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)," \
         "$(basename "$model") ${resume[*]}" >>"$log"
    timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
    "${timer[@]}" "$bin" tag --backend llama --model "$model" --strategy "$strategy" \
        --decode "$decode" --threads "${THREADS:-1}" --parallel "${PARALLEL:-4}" \
        --progress lines --from paper-csv --to paper-lines "$csv" -o "$lines" "${resume[@]}" \
        2>>"$log"
fi
CLINNER_BIN=$bin "$root/bench/score_run.sh" "$name" "$lines" "$log" "$csv"
