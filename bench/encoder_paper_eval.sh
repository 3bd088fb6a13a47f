#!/usr/bin/env bash
# bench/encoder_paper_eval.sh MODEL [BUILD] [SPLITS] - score a model from
# `clinner train encoder` with the paper's protocol: tag the paper's CSV of
# each split (dev, test; default both) with `clinner tag --backend encoder
# --from paper-csv --to paper-csv`, then `clinner eval` against the same
# file (5 types, seqeval default mode), and once more with SKINRAREDISEASE
# merged into RAREDISEASE in gold and prediction (the literature's 4 types;
# the 4-type average is the mean of DISEASE, RAREDISEASE, SIGN, SYMPTOM).
# Prints each eval table, the tagging time (wall, CPU, peak RSS) and tokens/s.
# Env: THREADS (default 2), CLINNER_SHARED (default ../shared).
set -euo pipefail
model=${1:?usage: $0 MODEL [BUILD] [SPLITS]}
build=${2:-build}
splits=${3:-dev test}
P=${CLINNER_SHARED:-../shared}/data/paper
threads=${THREADS:-2}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for split in $splits; do
    gold=$P/${split}_combined_IOB_data.csv
    echo "== $split ($(uptime | sed 's/.*load/load/'))"
    /usr/bin/time -f "tag: %e s wall, %U s user, %S s sys, %M KB peak" \
        "$build/clinner" tag --backend encoder --model "$model" --threads "$threads" \
        --from paper-csv --to paper-csv --progress off "$gold" -o "$tmp/pred.csv"
    tokens=$(($(wc -l <"$gold") - 1))
    echo "tokens: $tokens"
    "$build/clinner" eval --gold "$gold" --gold-format paper-csv --pred "$tmp/pred.csv" \
        --pred-format paper-csv
    sed 's/SKINRAREDISEASE/RAREDISEASE/' "$gold" >"$tmp/gold4.csv"
    sed 's/SKINRAREDISEASE/RAREDISEASE/' "$tmp/pred.csv" >"$tmp/pred4.csv"
    echo "-- 4 types (SKINRAREDISEASE merged into RAREDISEASE)"
    "$build/clinner" eval --gold "$tmp/gold4.csv" --gold-format paper-csv \
        --pred "$tmp/pred4.csv" --pred-format paper-csv |
        awk '{print} $1 ~ /^(DISEASE|RAREDISEASE|SIGN|SYMPTOM)$/ {s += $4; n++}
             END {if (n == 4) printf "4-type average F1 %.4f\n", s / 4}'
done
