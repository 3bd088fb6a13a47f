#!/usr/bin/env bash
# bench/crf_llm.sh - the CRF with LLM hidden states as dense features
# (issue 5, part 2), on the RareDis splits with the paper's tokenizer, scored
# on the test split with the paper's protocol:
#
#   bench/crf_llm.sh OUTDIR LAYER SCALE      LAYER: last or N; SCALE: raw, rms or none
#
# SCALE none trains the CRF alone (LAYER is then ignored).  Features come
# from `clinner features` (cached, so a second run with the same LAYER costs
# nothing); train and dev vectors go in one file, since the trainer looks them
# up by document id.  Prints one table row:
#
#   | LAYER SCALE | average P / R / F1 | micro F1 | best dev F1 | train s |
#
# and leaves OUTDIR/NAME.crf, NAME.csv (test predictions), NAME.json (eval)
# and NAME.log (the trainer's report).
# Env: CLINNER_BIN (build/clinner), CLINNER_SHARED (../shared), MODEL
# (default SmolLM2-135M-Instruct), THREADS (2: the trainer's threads; the
# feature extraction uses one per split, two splits at a time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: crf_llm.sh OUTDIR LAYER SCALE"
out=${1:?$usage}
layer=${2:?$usage}
scale=${3:?$usage}
bin=${CLINNER_BIN:-$root/build/clinner}
shared=${CLINNER_SHARED:-$root/../shared}
data=$shared/data/raredis
gold=$shared/data/paper/test_combined_IOB_data.csv
[ -d "$data/train" ] && [ -f "$gold" ] ||
    { echo "crf_llm: $data or $gold not found (set CLINNER_SHARED)" >&2; exit 77; }
case $scale in raw|rms|none) ;; *) echo "$usage" >&2; exit 2 ;; esac
mkdir -p "$out"
name=$([ "$scale" = none ] && echo crf || echo "layer$layer-$scale")
dense_train=() dense_tag=()
if [ "$scale" != none ]; then
    model=${MODEL:-$("$root/scripts/fetch-models.sh" --path smollm2)}
    feat() { # split -> $out/features-LAYER-split.dense (cached by clinner features)
        local f="$out/features-$layer-$1.dense"
        [ -f "$f" ] || "$bin" features --model "$model" --layer "$layer" --tokenizer paper \
            --threads 1 "$data/$1" -o "$f" 2>"$out/features-$layer-$1.log"
    }
    feat train & p1=$!
    { feat dev && feat test; } & p2=$!
    wait "$p1" && wait "$p2" || { echo "crf_llm: feature extraction failed (see $out/features-$layer-*.log)" >&2; exit 1; }
    td="$out/features-$layer-traindev.dense"
    # the dev file's 12-byte header (magic, dimension) is dropped
    [ -f "$td" ] || { cat "$out/features-$layer-train.dense" <(tail -c +13 "$out/features-$layer-dev.dense") >"$td.tmp" && mv "$td.tmp" "$td"; }
    dense_train=(--dense "$td" --dense-scale "$scale")
    dense_tag=(--dense "$out/features-$layer-test.dense")
fi
t0=$(date +%s)
"$bin" train crf --train "$data/train" --dev "$data/dev" --tokenizer paper \
    --threads "${THREADS:-2}" "${dense_train[@]}" --progress lines -o "$out/$name.crf" \
    2>"$out/$name.log"
t1=$(date +%s)
"$bin" tag --backend crf --model "$out/$name.crf" "${dense_tag[@]}" --from brat \
    --to paper-csv --tokenizer paper "$data/test" -o "$out/$name.csv" 2>>"$out/$name.log"
"$bin" eval --gold "$gold" --gold-format paper-csv --pred "$out/$name.csv" \
    --pred-format paper-csv --json >"$out/$name.json"
best=$(grep -o 'best dev F1 [0-9.]*[^,;]*' "$out/$name.log" | tail -1)
python3 - "$out/$name.json" "$layer $scale" "$best" "$((t1 - t0))" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
a, m = r["average"], r["micro"]
name = sys.argv[2] if not sys.argv[2].endswith("none") else "CRF alone"
print(f"| {name} | {a['precision']:.4f} / {a['recall']:.4f} / {a['f1']:.4f} | "
      f"{m['f1']:.4f} | {sys.argv[3]} | {float(sys.argv[4]):.0f} |")
EOF
