#!/usr/bin/env bash
# Training time and peak memory of the CRF on the full RareDis training set
# (paper tokenizer, early-stopped on dev), with 1 and 2 gradient threads.
#
#   bench/crf_train.sh [BUILD_DIR] [EXTRA TRAIN OPTIONS...]
#
# Prints one line per thread count: wall time, CPU time (user + system: on a
# busy machine closer to what an idle one would take with 1 thread), peak
# RSS, the iteration kept and its dev F1.  Reports the load average before each run: the numbers mean little
# on a busy machine.  Models go to a temporary directory.
set -eu
build=${1:-build}
shift || true
root=$(cd "$(dirname "$0")/.." && pwd)
B="$root/$build/clinner"
data="${CLINNER_SHARED:-$root/../shared}/data/raredis"
[ -d "$data/train" ] || { echo "no $data/train (set CLINNER_SHARED)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
for threads in 1 2; do
    echo "# load before run: $(cut -d' ' -f1-3 /proc/loadavg)"
    /usr/bin/time -v "$B" train crf --train "$data/train" --dev "$data/dev" --tokenizer paper \
        --threads "$threads" --progress lines "$@" -o "$tmp/m$threads.crf" 2>"$tmp/log$threads"
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tmp/log$threads")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tmp/log$threads")
    cpu=$(sed -n 's/.*Percent of CPU this job got: //p' "$tmp/log$threads")
    usr=$(sed -n 's/.*User time (seconds): //p' "$tmp/log$threads")
    sys=$(sed -n 's/.*System time (seconds): //p' "$tmp/log$threads")
    done_line=$(grep '^done' "$tmp/log$threads")
    echo "threads=$threads wall=$wall cpu_time=$(echo "$usr + $sys" | bc)s (${cpu}) peak_rss=$((rss / 1024))MiB | $done_line"
    echo "# load after run: $(cut -d' ' -f1-3 /proc/loadavg)"
done
