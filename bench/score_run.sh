#!/usr/bin/env bash
# bench/score_run.sh - score one paper-lines output of `clinner tag -o OUT`,
# finished or not, with the paper's protocol, and print one table row:
#
#   | NAME | units scored (N of TOTAL) | average P/R/F1 | misaligned | tagger summary |
#
#   bench/score_run.sh NAME OUT.lines [LOG] [GOLD.csv]
#
# The gold is the paper's test CSV (default $CLINNER_SHARED/data/paper/
# test_combined_IOB_data.csv) cut to the first N sentence units, N being the
# units OUT holds: the runner writes documents in input order, so a stopped
# run holds a prefix.  An unfinished run has no OUT yet; its finished
# documents are in OUT.clinner-run/output.part, up to the size its journal's
# last D line gives.  LOG (the tagger's stderr) gives the misaligned count
# of a finished run; the raw answers beside OUT (OUT without .lines, plus
# .answers.jsonl, from `clinner tag --answers`), when there, split it into
# answers too short and too long.  Writes NAME.json (the eval report)
# beside OUT.
# Env: CLINNER_BIN (default build/clinner), CLINNER_SHARED (default ../shared).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CLINNER_BIN:-$root/build/clinner}
shared=${CLINNER_SHARED:-$root/../shared}
name=${1:?usage: score_run.sh NAME OUT.lines [LOG] [GOLD.csv]}
lines=${2:?usage: score_run.sh NAME OUT.lines [LOG] [GOLD.csv]}
log=${3:-}
gold=${4:-$shared/data/paper/test_combined_IOB_data.csv}
dir=$(dirname "$lines")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$lines" ]; then
    run="$lines.clinner-run"
    size=$(awk '$1 == "D" { s = $3 } END { print s + 0 }' "$run/journal" 2>/dev/null || echo 0)
    head -c "${size:-0}" "$run/output.part" >"$tmp/partial.lines" 2>/dev/null || true
    lines=$tmp/partial.lines
fi
n=$(grep -c '^######' "$lines" || true)
total=$(awk -F, 'NR > 1 { print $(NF-1) }' "$gold" | uniq | wc -l)
if [ "${n:-0}" -eq 0 ]; then
    echo "| $name | 0 of $total | | | |"
    exit 0
fi
awk -F, -v n="$n" 'NR == 1 { print; next }
    { if ($(NF-1) != last) { k++; last = $(NF-1) } if (k <= n) print }' "$gold" >"$tmp/gold.csv"
"$bin" eval --gold "$tmp/gold.csv" --gold-format paper-csv --pred "$lines" --pred-format paper-lines \
    --json >"$dir/.$name.json.tmp" || { rm -f "$dir/.$name.json.tmp"; exit 1; }
mv "$dir/.$name.json.tmp" "$dir/$name.json" # same folder: the report appears whole or not at all
prf=$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["average"]; print("%.4f / %.4f / %.4f" % (a["precision"], a["recall"], a["f1"]))' "$dir/$name.json")
mis=?
summary=
if [ -n "$log" ] && [ -f "$log" ]; then
    mis=$(sed -n 's/.*misaligned sentences \([0-9]*\).*/\1/p' "$log" | tail -n 1)
    summary=$(grep 'clinner tag: tagged' "$log" | tail -n 1 | tr '|' '/' || true)
    # a resumed run whose checkpoint lacked the counters counts one session
    case $summary in *"this session only"*) mis="${mis:-?} (last session only)" ;; esac
fi
answers=${2%.lines}.answers.jsonl
if [ -f "$answers" ]; then
    mis="${mis:-?} ($(python3 -c 'import json, sys
short = long = 0
for l in open(sys.argv[1], encoding="utf-8"):
    a = json.loads(l)
    if a["misaligned"] and a["answer"] is not None:
        short += a["lines"] < len(a["tokens"])
        long += a["lines"] > len(a["tokens"])
print("%d short, %d long" % (short, long))' "$answers"))"
fi
echo "| $name | $n of $total | $prf | ${mis:-?} | $summary |"
