#!/usr/bin/env bash
# Peak memory and time of `clinner eval` on a large CoNLL pair (issue 21:
# under 150 MB for a 1-million-line file).  The gold file is the CoNLL
# conversion of the RareDis train split repeated (documents renamed) until it
# has LINES lines (ANAPHOR read as O: the paper's five types); the prediction is the same with a deterministic
# perturbation (every 7th entity token changes type, every 11th B- becomes
# I-, every 13th O becomes B-SIGN), so all five types, boundary errors and
# spurious entities occur.  Both live in a temporary folder (they hold the
# corpus's text: never commit them).
#
#   bench/eval_memory.sh [BUILD_DIR] [LINES] [RUNS]
set -eu
build=${1:-build}
lines=${2:-1000000}
runs=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
B=${CLINNER_BIN:-$root/$build/clinner}
data="${CLINNER_SHARED:-$root/../shared}/data/raredis"
[ -d "$data/train" ] || { echo "no $data/train (set CLINNER_SHARED)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$B" convert --from brat --to conll "$data/train" -o "$tmp/one.conll"
awk -v want="$lines" '
    { a[n++] = $0 }
    END {
        for (r = 0; out < want; r++)
            for (i = 0; i < n && out < want; i++) {
                l = a[i]
                if (l ~ /^# doc: /) l = l "-" r
                else sub(/\t[BI]-ANAPHOR$/, "\tO", l)
                print l; out++
            }
    }' "$tmp/one.conll" >"$tmp/gold.conll"
# a document cut by the line limit in the middle of a sentence is fine: both
# files are cut at the same line
awk -F'\t' 'BEGIN { OFS = "\t"; split("DISEASE RAREDISEASE SKINRAREDISEASE SIGN SYMPTOM", T, " ") }
    NF == 2 && $2 != "O" { e++; if (e % 7 == 0) { p = substr($2, 1, 2); $2 = p T[e % 5 + 1] }
                           else if (e % 11 == 0 && $2 ~ /^B-/) $2 = "I-" substr($2, 3) }
    NF == 2 && $2 == "O" { o++; if (o % 13 == 0) $2 = "B-SIGN" }
    { print }' "$tmp/gold.conll" >"$tmp/pred.conll"
echo "# $(date -u +%FT%TZ) $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(wc -l <"$tmp/gold.conll") lines"
for r in $(seq "$runs"); do
    /usr/bin/time -f "run $r: wall %e s, user %U s, sys %S s, peak %M KiB" \
        "$B" eval --gold "$tmp/gold.conll" --gold-format conll --pred "$tmp/pred.conll" \
        --pred-format conll >"$tmp/out" 2>"$tmp/time" || { cat "$tmp/time"; exit 1; }
    tail -1 "$tmp/time"
done
echo "# scores of the last run (sha256 $(sha256sum <"$tmp/out" | cut -c1-16)):"
cat "$tmp/out"
