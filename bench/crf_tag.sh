#!/usr/bin/env bash
# Tagging throughput of a trained CRF on the RareDis test split (tokens/s of
# the tagging itself, as `clinner tag` reports it, and wall time including
# reading BRAT, tokenizing and writing paper-csv), with 1 and 2 threads.
#
#   bench/crf_tag.sh MODEL [BUILD_DIR] [RUNS]
set -eu
model=$1
build=${2:-build}
runs=${3:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
B="$root/$build/clinner"
data="${CLINNER_SHARED:-$root/../shared}/data/raredis"
[ -d "$data/test" ] || { echo "no $data/test (set CLINNER_SHARED)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%FT%TZ) $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
for threads in 1 2; do
    best=0
    for r in $(seq "$runs"); do
        /usr/bin/time -f "%e s wall, %M KiB peak" "$B" tag --backend crf --model "$model" \
            --from brat --to paper-csv --tokenizer paper --threads "$threads" --progress lines \
            "$data/test" -o "$tmp/pred.csv" 2>"$tmp/err"
        tps=$(sed -n 's/.*, \([0-9]*\) tokens\/s).*/\1/p' "$tmp/err")
        [ "$tps" -gt "$best" ] && best=$tps
        echo "threads=$threads run=$r tagging ${tps} tokens/s; $(tail -1 "$tmp/err")"
    done
    echo "threads=$threads best ${best} tokens/s"
done
