#!/usr/bin/env bash
# bench/llm_decode.sh - free vs grammar vs forced decoding, same sentences,
# same model and prompt, one run: seconds per sentence, generated tokens per
# second, and the paper-protocol scores of each output.
#
#   bench/llm_decode.sh [OUTDIR]
#
# Env: CLINNER_BIN (default build/clinner), CLINNER_SHARED (default ../shared),
#      MODEL (default: SmolLM2-135M-Instruct from scripts/fetch-models.sh),
#      STRATEGY (few-shot), DOCS (12: the first 12 test documents of the
#      paper's CSV, 102 sentences), MODES ("forced free grammar"; forced:on
#      and forced:off set --speculate),
#      THREADS (1), PARALLEL (4).
# The sentences are the paper's own tokens (its test CSV, cut to the first
# DOCS files), written to OUTDIR with each mode's paper-lines output, so the
# outputs can be scored again; nothing of the corpus enters the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLINNER_BIN:-$root/build/clinner}
shared=${CLINNER_SHARED:-$root/../shared}
model=${MODEL:-$("$root/scripts/fetch-models.sh" --path smollm2)}
strategy=${STRATEGY:-few-shot}
docs=${DOCS:-12}
modes=${MODES:-forced free grammar}
threads=${THREADS:-1}
parallel=${PARALLEL:-4}
out=${1:-$(mktemp -d)}
mkdir -p "$out"
csv="$shared/data/paper/test_combined_IOB_data.csv"
[ -f "$csv" ] || { echo "llm_decode: $csv not found" >&2; exit 77; }
[ -f "$model" ] || { echo "llm_decode: model $model not found" >&2; exit 77; }
gold="$out/gold.csv"
awk -F, -v n="$docs" 'NR == 1 { print; next }
    { f = $NF; if (f != last) { k++; last = f } if (k <= n) print }' "$csv" >"$gold.tmp.$$"
mv "$gold.tmp.$$" "$gold" # atomic: another run may be reading it
nsent=$(awk -F, 'NR > 1 { print $(NF-1) }' "$gold" | sort -u | wc -l)
echo "llm_decode: $nsent sentences ($docs documents), model $(basename "$model"), $strategy," \
     "$threads thread(s), $parallel parallel sequences, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
printf '| decoding | sentences | wall s | CPU s | CPU s/sentence | generated tokens | tokens/CPU s | tokens/wall s | model rounds | model s | misaligned | avg F1 |\n'
printf '|---|---|---|---|---|---|---|---|---|---|---|---|\n'
for mode in $modes; do
    pred="$out/$strategy-${mode/:/-}.lines"
    log="$out/$strategy-${mode/:/-}.log"
    t0=$(date +%s.%N)
    c0=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
    # MODE or MODE:SPECULATE (forced:off = forced decoding without label speculation)
    spec=()
    case $mode in *:*) spec=(--speculate "${mode#*:}") ;; esac
    "$bin" tag --backend llama --model "$model" --strategy "$strategy" --decode "${mode%%:*}" "${spec[@]}" \
        --threads "$threads" --parallel "$parallel" --progress lines \
        --from paper-csv --to paper-lines "$gold" -o "$pred" 2>"$log"
    t1=$(date +%s.%N)
    # CPU time of the finished child (user + system, clock ticks): on a
    # shared machine a steadier measure than wall time
    c1=$(awk '{ print $14 + $15 + $16 + $17 }' /proc/$$/stat)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / t }')
    gen=$(sed -n 's/.*generated tokens \([0-9]*\).*/\1/p' "$log" | tail -1)
    "$bin" eval --gold "$gold" --gold-format paper-csv --pred "$pred" --pred-format paper-lines \
        --json >"$out/$strategy-${mode/:/-}.json"
    f1=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["average"]["f1"])' \
        "$out/$strategy-${mode/:/-}.json")
    # answers of the wrong length, as the tagger counted them (its output is
    # already aligned, so the scorer sees none)
    mis=$(sed -n 's/.*misaligned sentences \([0-9]*\).*/\1/p' "$log" | tail -1)
    rounds=$(sed -n 's/.*model rounds \([0-9]*\).*/\1/p' "$log" | tail -1)
    # seconds inside llama_decode (the device's work included): the rest of
    # the wall time is the host's (label choice, sampling, batching)
    model_s=$(sed -n 's/.*model rounds [0-9]* in \([0-9.]*\) s.*/\1/p' "$log" | tail -1)
    printf '| %s | %d | %.1f | %.1f | %.2f | %s | %.1f | %.1f | %s | %s | %s | %s |\n' "$mode" "$nsent" \
        "$secs" "$cpu" "$(awk -v c="$cpu" -v n="$nsent" 'BEGIN { print c / n }')" "$gen" \
        "$(awk -v g="$gen" -v c="$cpu" 'BEGIN { print (c > 0 ? g / c : 0) }')" \
        "$(awk -v g="$gen" -v w="$secs" 'BEGIN { print (w > 0 ? g / w : 0) }')" "${rounds:-?}" \
        "${model_s:-?}" "$mis" "$f1"
done
