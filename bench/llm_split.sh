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
# With SHARDS=N the CSV is cut at document boundaries into N parts of about
# as many units (OUTDIR/STRATEGY-DECODE.shards/K.csv), tagged by N processes
# at once (one per core: each sentence's labels do not depend on which
# process tags it, see docs/RESULTS.md), then joined in order; a stopped
# sharded run is scored shard by shard.  Use the same SHARDS to continue.
# Free and grammar runs also keep every sentence's raw answer
# (OUTDIR/STRATEGY-DECODE.answers.jsonl, `clinner tag --answers`); forced
# answers are the labels written, so they are not kept.  ANSWERS=0 or 1
# overrides this, and must stay the same to continue a run.
# Env: CLINNER_BIN (build/clinner), CLINNER_SHARED (../shared), MODEL
# (default SmolLM2-135M-Instruct), THREADS (1), PARALLEL (4), SHARDS (1),
# ANSWERS (1 for free and grammar, 0 for forced), CHAT_TEMPLATE (a llama.cpp
# template name or plain, for `clinner tag --chat-template`; default: the
# model's own; must stay the same to continue a run).
set -euo pipefail
# Everything is in main(), read whole before it runs: bash reads a script
# as it goes, so editing this file under a run of hours would change what
# the run does next (seen on 2026-11-27).
main() {
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
keep_answers=${ANSWERS:-$([ "$decode" = forced ] && echo 0 || echo 1)}
# tag IN OUT LOG: one clinner tag process (continued when it has a checkpoint);
# its raw answers go to OUT without .lines, plus .answers.jsonl
tag() {
    local resume=() answers=() template=()
    [ -d "$2.clinner-run" ] && resume=(--resume)
    [ "$keep_answers" = 1 ] && answers=(--answers "${2%.lines}.answers.jsonl")
    [ -n "${CHAT_TEMPLATE:-}" ] && template=(--chat-template "$CHAT_TEMPLATE")
    echo "llm_split: start $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)," \
         "$(basename "$model") ${template[*]} ${resume[*]}" >>"$3"
    local timer=()
    [ -x /usr/bin/time ] && timer=(/usr/bin/time -v)
    "${timer[@]}" "$bin" tag --backend llama --model "$model" --strategy "$strategy" \
        --decode "$decode" --threads "${THREADS:-1}" --parallel "${PARALLEL:-4}" \
        --progress lines --from paper-csv --to paper-lines "$1" -o "$2" "${resume[@]}" \
        "${answers[@]}" "${template[@]}" 2>>"$3"
}
shards=${SHARDS:-1}
if [ "$shards" -le 1 ]; then
    $only_score || [ -f "$lines" ] || tag "$csv" "$lines" "$log"
    CLINNER_BIN=$bin "$root/bench/score_run.sh" "$name" "$lines" "$log" "$csv"
    exit
fi
dir=$out/$name.shards
if [ ! -f "$dir/cut" ]; then
    mkdir -p "$dir"
    # cut before the first document that starts after unit k * total / N
    awk -F, -v n="$shards" -v dir="$dir" '
        NR == FNR { if (FNR > 1 && $(NF-1) != lu) { lu = $(NF-1); total++ } next }
        FNR == 1 { head = $0; k = 1; print head > (dir "/1.csv"); next }
        { if ($(NF-1) != u) { u = $(NF-1); units++ }
          if ($NF != f) { f = $NF
            if (k < n && units > k * total / n) { k++; print head > (dir "/" k ".csv") } }
          print > (dir "/" k ".csv") }' "$csv" "$csv"
    # fewer documents than SHARDS (or one long first document) make fewer parts
    find "$dir" -maxdepth 1 -name '*.csv' | wc -l >"$dir/cut"
fi
shards=$(cat "$dir/cut")
if ! $only_score && [ ! -f "$lines" ]; then
    pids=()
    for k in $(seq "$shards"); do
        if [ ! -f "$dir/$k.lines" ]; then
            tag "$dir/$k.csv" "$dir/$k.lines" "$dir/$k.log" &
            pids+=($!)
        fi
    done
    for p in "${pids[@]}"; do wait "$p" || true; done
    all=true
    for k in $(seq "$shards"); do [ -f "$dir/$k.lines" ] || all=false; done
    if $all; then
        # the misaligned count of the whole run, for score_run.sh
        mis=0
        for k in $(seq "$shards"); do
            m=$(sed -n 's/.*misaligned sentences \([0-9]*\).*/\1/p' "$dir/$k.log" | tail -n 1)
            mis=$((mis + ${m:-0}))
            grep 'clinner tag: tagged' "$dir/$k.log" | tail -n 1 | sed "s/^/shard $k: /" >>"$log"
        done
        echo "llm_split: $shards shards joined; misaligned sentences $mis" >>"$log"
        if [ "$keep_answers" = 1 ]; then
            for k in $(seq "$shards"); do cat "$dir/$k.answers.jsonl"; done >"$out/$name.answers.tmp"
            mv "$out/$name.answers.tmp" "$out/$name.answers.jsonl"
        fi
        for k in $(seq "$shards"); do cat "$dir/$k.lines"; done >"$lines.tmp"
        mv "$lines.tmp" "$lines"
    fi
fi
if [ -f "$lines" ]; then
    CLINNER_BIN=$bin "$root/bench/score_run.sh" "$name" "$lines" "$log" "$csv"
else
    for k in $(seq "$shards"); do
        CLINNER_BIN=$bin "$root/bench/score_run.sh" "$name.shard$k" "$dir/$k.lines" "$dir/$k.log" \
            "$dir/$k.csv"
    done
fi
}
main "$@"
exit
