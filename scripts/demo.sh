#!/usr/bin/env bash
# demo.sh - the main job on a built-in default, run by `make demo`: tag an
# example clinical text (written for this project) both ways the study
# compares, printing JSONL (tokens with labels, entities with code-point
# offsets and confidences) and the time each took:
#   1. clinner's default tagger: the ensemble shipped in models/ (a CRF
#      trained by `make models` and a MiniLM encoder fine-tuned by `clinner
#      train encoder`, both on the RareDis training split), no LLM loaded;
#   2. the LLM path: SmolLM2-135M-Instruct through llama.cpp, forced decoding,
#      with the five sentences most like each input sentence from
#      examples/demo-train as examples (knn-shot; three short annotated texts
#      written for this project, so the demo needs no corpus).
# Options after the script's name go to the LLM's `clinner tag` call.
set -euo pipefail
cd "$(dirname "$0")/.."
text='Fabry disease is a rare inherited disorder. Patients often report burning pain in the hands and feet, and small dark red spots (angiokeratomas) may appear on the skin. Kidney failure, heart disease and stroke can occur in adults.'

block() { # title, then clinner tag's options
    local title=$1; shift
    echo "== clinner demo: $title" >&2
    local t0 t1
    t0=$(date +%s.%N)
    printf "%s\n" "$text" | ./build/clinner tag --progress off "$@"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v t="$title" \
        'BEGIN { printf "== %s: %.2f s (whole command, model loading included)\n\n", t, b - a }' >&2
}

block "1. the default tagger (CRF + encoder ensemble, models/raredis-ensemble.json)"
block "2. an LLM (SmolLM2-135M-Instruct, knn-shot examples, forced decoding)" \
    --backend llama --strategy knn-shot --train examples/demo-train "$@"
