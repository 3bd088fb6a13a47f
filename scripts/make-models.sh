#!/usr/bin/env bash
# make-models.sh - rebuild the model(s) shipped under models/ from the
# RareDis corpus, reproducibly, and record their sha256 in models/SHA256SUMS.
#
#   scripts/make-models.sh            rebuild models/raredis-crf.model
#   scripts/make-models.sh --check    rebuild into a temporary file and say
#                                     whether it is byte-identical to the
#                                     shipped one (exit 1 if not); writes nothing
#
# Reads ${CLINNER_SHARED:-../shared}/data/raredis/{train,dev} (BRAT) and uses
# ${CLINNER_BIN:-build/clinner} (`make` first).  The training options below
# were chosen on the dev split only (docs/RESULTS.md, "The shipped default
# model"); the trainer is deterministic for a given seed and thread count,
# so both are fixed here.  The model is written to a temporary file and
# renamed into place, SHA256SUMS likewise: an interrupted run leaves the old
# model and its checksum as they were.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${CLINNER_BIN:-$root/build/clinner}
data="${CLINNER_SHARED:-$root/../shared}/data/raredis"
models="$root/models"
name=raredis-crf.model
# the shipped model's training options (chosen on dev; see the header)
train_opts=(--tokenizer clinical --labels paper --c1 0.1 --c2 0.1 --doc-words 50 --threads 2 --seed 1)

check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "make-models: unknown option '$1' (see --help)" >&2; exit 2 ;;
esac

[ -x "$B" ] || { echo "make-models: no clinner binary at $B (run make first, or set CLINNER_BIN)" >&2; exit 1; }
for split in train dev; do
    [ -d "$data/$split" ] || {
        echo "make-models: no RareDis $split split at $data/$split" \
             "(put the corpus in ../shared/data/raredis or set CLINNER_SHARED)" >&2
        exit 1
    }
done
command -v sha256sum >/dev/null || { echo "make-models: sha256sum (coreutils) is needed" >&2; exit 1; }

mkdir -p "$models"
tmp=$(mktemp "$models/$name.tmp.XXXXXX")  # *.tmp.* is git-ignored
log=$(mktemp)
trap 'rm -f "$tmp" "$log" "$models/.SHA256SUMS.tmp.$$"' EXIT
echo "make-models: training $name on $data/train (dev: $data/dev) ..." >&2
start=$(date +%s)
if ! "$B" train crf --train "$data/train" --dev "$data/dev" "${train_opts[@]}" \
        --progress lines -o "$tmp" 2>"$log"; then
    tail -20 "$log" >&2
    echo "make-models: training failed; models/ is left as it was" >&2
    exit 1
fi
grep -E '^(features|done)' "$log" >&2 || true
echo "make-models: trained in $(( $(date +%s) - start )) s" >&2
sum=$(sha256sum "$tmp" | cut -d' ' -f1)

if [ $check = 1 ]; then
    want=$(awk -v n="$name" '$2 == n || $2 == "*" n {print $1}' "$models/SHA256SUMS" 2>/dev/null || true)
    if [ "$sum" = "$want" ]; then
        echo "make-models: $name rebuilt byte-identical (sha256 $sum)"
        exit 0
    fi
    echo "make-models: $name rebuilt with sha256 $sum, but models/SHA256SUMS records ${want:-nothing}" >&2
    exit 1
fi

# the model must load and tag before it replaces the shipped one
echo "Fabry disease is a rare inherited disorder." |
    "$B" tag --backend crf --model "$tmp" --progress off >/dev/null 2>&1 ||
    { echo "make-models: the new model does not tag; the shipped one is left as it was" >&2; exit 1; }
chmod 644 "$tmp"
mv -f "$tmp" "$models/$name"
# SHA256SUMS: this model's line replaced, the others kept
{
    [ -f "$models/SHA256SUMS" ] && awk -v n="$name" '$2 != n && $2 != "*" n' "$models/SHA256SUMS"
    echo "$sum  $name"
} | sort -k2 >"$models/.SHA256SUMS.tmp.$$"
mv -f "$models/.SHA256SUMS.tmp.$$" "$models/SHA256SUMS"
echo "make-models: wrote models/$name ($(stat -c %s "$models/$name") bytes, sha256 $sum)"
