#!/usr/bin/env bash
# Tagging throughput of a trained CRF on the RareDis test split, with 1 and 2
# threads: tokens/s of the tagging itself as `clinner tag` reports it, and
# the whole command's wall time (reading BRAT, tokenizing, writing
# paper-csv).  Two output modes: stdout (no checkpoint) and -o FILE, where
# the batch runner (run.h) keeps a resumable checkpoint (fsync at most once
# a second).
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
for out in stdout file; do
    for threads in 1 2; do
        best=0
        for r in $(seq "$runs"); do
            if [ $out = stdout ]; then o=-; else o="$tmp/pred.csv"; fi
            /usr/bin/time -f "wall %e s, peak %M KiB" "$B" tag --backend crf --model "$model" \
                --from brat --to paper-csv --tokenizer paper --threads "$threads" \
                --progress lines "$data/test" -o "$o" >"$tmp/stdout.csv" 2>"$tmp/err"
            tps=$(sed -n 's/.*, \([0-9]*\) tokens\/s).*/\1/p' "$tmp/err" | tail -1)
            [ "${tps:-0}" -gt "$best" ] && best=$tps
        done
        echo "output=$out threads=$threads best of $runs: ${best} tokens/s; last run $(tail -1 "$tmp/err")"
    done
done
