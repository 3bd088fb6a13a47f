#!/usr/bin/env bash
# demo.sh - the main job on a built-in default: tag an example clinical text
# (written for this project) with the default local model, printing JSONL
# with entities and their character offsets.  Run by `make demo`.
# The prompt holds the five sentences most like each input sentence from
# examples/demo-train (knn-shot; three short annotated texts written for
# this project, so the demo needs no corpus): with no examples the 135M
# model labels nearly every token (zero-shot), with them it finds the
# disease, the signs and the other diseases.
set -euo pipefail
cd "$(dirname "$0")/.."
text='Fabry disease is a rare inherited disorder. Patients often report burning pain in the hands and feet, and small dark red spots (angiokeratomas) may appear on the skin. Kidney failure, heart disease and stroke can occur in adults.'
echo "clinner demo: tagging a built-in example with the default model" >&2
printf "%s\n" "$text" | ./build/clinner tag --backend llama --decode forced \
    --strategy knn-shot --train examples/demo-train "$@"
