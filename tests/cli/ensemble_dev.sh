#!/usr/bin/env bash
# The default tagger, the ensemble of models/raredis-ensemble.json (issue
# 22): on the dev split with the paper's protocol it beats the CRF it is
# built on by at least .03 average F1 (measured: .6419 against .5645), and
# tagging BRAT documents no document holds both RAREDISEASE and
# SKINRAREDISEASE (the type is decided per document).  Skipped without the
# corpus or without the LLM backends (the encoder needs ggml); the scoring
# part is skipped under the sanitizers (minutes there).
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
fail() { echo "FAIL: $*"; exit 1; }
P="${CLINNER_SHARED:-$root/../shared}/data/paper"
D="${CLINNER_SHARED:-$root/../shared}/data/raredis"
[ -f "$P/dev_combined_IOB_data.csv" ] && [ -d "$D/dev" ] ||
    { echo "SKIP: no corpus under ${CLINNER_SHARED:-$root/../shared}/data (set CLINNER_SHARED)"; exit 77; }
"$CLINNER_BIN" --version | grep -q "^default tagger: ensemble" ||
    { echo "SKIP: this build's default tagger is not the ensemble (no LLM backends)"; exit 77; }
[ -z "${CLINNER_SANITIZER:-}" ] || { echo "SKIP: whole-split tagging under the sanitizers"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

avg() { # prediction CSV -> the paper's average F1
    "$CLINNER_BIN" eval --gold "$P/dev_combined_IOB_data.csv" --gold-format paper-csv \
        --pred "$1" --pred-format paper-csv | awk '/^average \(paper\)/ { print $5 }'
}
"$CLINNER_BIN" tag --progress off --from paper-csv --to paper-csv \
    "$P/dev_combined_IOB_data.csv" -o "$tmp/ens.csv" 2>"$tmp/err" || fail "ensemble: $(cat "$tmp/err")"
"$CLINNER_BIN" tag --progress off --backend crf --model "$root/models/raredis-crf.model" \
    --from paper-csv --to paper-csv "$P/dev_combined_IOB_data.csv" -o "$tmp/crf.csv" 2>"$tmp/err" ||
    fail "crf: $(cat "$tmp/err")"
ens=$(avg "$tmp/ens.csv") crf=$(avg "$tmp/crf.csv")
echo "dev average F1 (paper protocol): ensemble $ens, CRF $crf"
[ -n "$ens" ] && [ -n "$crf" ] || fail "no average row"
awk -v e="$ens" -v c="$crf" 'BEGIN { exit !(e >= c + 0.03) }' || fail "ensemble $ens is not .03 above the CRF $crf"

"$CLINNER_BIN" tag --progress off --from brat --to brat "$D/dev" -o "$tmp/brat" 2>"$tmp/err" ||
    fail "brat: $(cat "$tmp/err")"
n=0
for a in "$tmp"/brat/*.ann; do
    n=$((n + 1))
    if grep -q $'\tRAREDISEASE ' "$a" && grep -q $'\tSKINRAREDISEASE ' "$a"; then
        fail "$(basename "$a") holds both RAREDISEASE and SKINRAREDISEASE"
    fi
done
[ "$n" -gt 0 ] || fail "no .ann written"
skin=$(grep -l $'\tSKINRAREDISEASE ' "$tmp"/brat/*.ann | wc -l)
echo "ok: $n dev documents, $skin of them typed SKINRAREDISEASE, none with both types"
