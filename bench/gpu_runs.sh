#!/usr/bin/env bash
# bench/gpu_runs.sh - the LLM runs that need more compute than a 2-core CPU:
# SmolLM2 on the whole RareDis test split (4 strategies x free/forced), the
# free/grammar/forced benchmark, and a fine-tune of SmolLM2 on the whole
# training split followed by tagging the test split with it.  Written for a
# lent GPU machine (llama.cpp built with `scripts/setup-llama.sh --cuda 90`)
# that cannot download anything, so everything arrives in ignored folders
# .dev1/, .dev2/, ... (one call carries at most 64 MiB; nothing there is
# committed), each stage copying what it finds to /tmp/dev on the machine:
#   pack.tgz (xz)  bin/clinner (CUDA build), lib/*.so (its non-glibc
#                  libraries), shared/data/{raredis,paper}, models/stories260K.gguf
#   m.part1 ...    the SmolLM2 GGUF cut in pieces
# Not part of CI or of `make test`.
#
#   bench/gpu_runs.sh prep OUTDIR    unpack, GPU checks on stories260K
#   bench/gpu_runs.sh stash OUTDIR   only keep the pieces carried this time
#   bench/gpu_runs.sh main OUTDIR    reassemble SmolLM2, then the runs; stops
#                                    itself after $BUDGET seconds (default 540)
#   bench/gpu_runs.sh ft OUTDIR      reassemble SmolLM2; the decoding benchmark
#                                    alone on the GPU (BENCH_MODES, default
#                                    "forced free"); one fine-tune per learning
#                                    rate of FT_LRS (default 3e-5), side by
#                                    side, on the whole training split for
#                                    $FT_TIME seconds (default 360), saved as
#                                    Q8_0; the one chosen on dev (FT_CHOOSE:
#                                    whole = most whole labels right, the
#                                    default, or loss = lowest dev loss)
#                                    tags the test split, then dev, until
#                                    $BUDGET.  With FT_SEND=1 that model comes
#                                    back in 15 MiB pieces: the first 3 with
#                                    this call (OUTDIR/ft.gguf.NN).  Also
#                                    FT_CTX (2048), FT_MAX_DEV (100),
#                                    FT_BASELINE (1: the untuned dev loss first),
#                                    FT_EXTRA (more finetune options),
#                                    FT_PARALLEL (32), BENCH_TIME (80): small
#                                    values let it be tried on a CPU build
#   bench/gpu_runs.sh fetch OUTDIR K the next 4 pieces (K = 1, 2, ...): call it
#                                    at once, the machine is given back when idle
# `bench/gpu_pack.sh` prepares the carried folders.  Back here:
#   cat ft.gguf.[0-9]* >ft.gguf && sha256sum -c ft.gguf.sha256
# Outputs (OUTDIR/results.tgz): every paper-lines output, tagger log, eval JSON
# and a summary table; an unfinished run is scored on the units it finished.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
stage=${1:?usage: gpu_runs.sh prep|stash|main OUTDIR}
final=${2:?usage: gpu_runs.sh prep|stash|main OUTDIR}
dev=/tmp/dev
out=$dev/work-$stage  # everything; $final gets results.tgz and the tables
mkdir -p "$final" "$dev" "$out"
export CLINNER_SHARED=$dev/shared CLINNER_CACHE=$dev/cache
# the CUDA runtime and cuBLAS of the machine's toolkit (or of its PyTorch), the driver's libcuda
cudalibs=
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 \
         /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu; do
    [ -d "$d" ] && cudalibs=$cudalibs:$d
done
if ! ls /usr/local/cuda/lib64/libcublas.so.13 >/dev/null 2>&1; then
    for f in $(find / -name 'libcublas.so.13' -not -path '/proc/*' 2>/dev/null | head -n 2); do
        cudalibs=$cudalibs:$(dirname "$f")
    done
fi
export LD_LIBRARY_PATH=$dev/lib$cudalibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
bin=$dev/bin/clinner
D=$dev/shared/data/raredis
P=$dev/shared/data/paper
t_start=$(date +%s)
budget=${BUDGET:-540}
left() { echo $((budget - ($(date +%s) - t_start))); }
# seconds left minus a margin, at least 1 (timeout 0 would mean no limit)
until_end() { local t=$(($(left) - $1)); [ "$t" -ge 1 ] || t=1; echo "$t"; }

# score a run, finished or not, on the units it holds; one summary row
score() {
    CLINNER_BIN=$bin "$root/bench/score_run.sh" "$1" "$2" "$3" "$P/test_combined_IOB_data.csv" \
        >>"$out/summary.md" 2>>"$out/score.err"
}

for f in "$root"/.dev*/m.part*; do
    [ -f "$f" ] && cp "$f" "$dev/" && echo "kept $(basename "$f") ($(stat -c %s "$f") bytes)"
done
for f in "$root"/.dev*/pack.tgz; do
    [ -f "$f" ] || continue
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$f" "$dev" ||
        { echo "cannot unpack $f"; exit 1; }
    echo "unpacked $f"
done
[ "$stage" = stash ] && { ls -la "$dev"; exit 0; }

if [ "$stage" = fetch ]; then
    k=${3:?usage: gpu_runs.sh fetch OUTDIR K}
    n=0
    for f in "$dev"/ftparts/ft.gguf.*; do
        [ -f "$f" ] || { echo "no pieces on this machine (was it given back?)"; exit 1; }
        i=$((10#${f##*.}))
        if [ "$i" -ge $((4 * k - 1)) ] && [ "$i" -le $((4 * k + 2)) ]; then
            cp "$f" "$final/" && n=$((n + 1))
        fi
    done
    echo "fetch $k: $n pieces of $(ls "$dev"/ftparts/ft.gguf.* | wc -l)"
    exit 0
fi

if [ "$stage" = prep ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    ldd "$bin" | grep -E 'not found|cuda|cublas' 
    "$bin" --help >/dev/null || exit 1
    m=$dev/models/stories260K.gguf
    echo "== stories260K forced on GPU, 3 dev files"
    mkdir -p "$dev/sdev"; ls "$D/dev" | head -6 | while read -r f; do cp "$D/dev/$f" "$dev/sdev/"; done
    # (no --verbose: llama.cpp's debug log of every CUDA graph made this
    # step run past a 300 s limit on 2026-11-27)
    time "$bin" tag --model "$m" --strategy few-shot --decode forced --threads 2 \
        --from brat --to paper-lines --tokenizer paper "$dev/sdev" -o "$out/stories-forced.lines" \
        2>"$out/stories-forced.log"
    grep -iE 'GPU|error' "$out/stories-forced.log" | head -4; tail -n 1 "$out/stories-forced.log"
    time "$bin" tag --model "$m" --strategy few-shot --decode grammar --threads 2 \
        --from brat --to paper-lines --tokenizer paper "$dev/sdev" -o "$out/stories-grammar.lines" \
        2>"$out/stories-grammar.log"
    cmp "$out/stories-forced.lines" "$out/stories-grammar.lines" && echo "forced == grammar on GPU"
    echo "== stories260K finetune on GPU"
    time "$bin" finetune --model "$m" --train "$dev/sdev" --dev "$dev/sdev" --tokenizer paper \
        --ctx 1024 --lr 1e-2 --epochs 2 --gpu-layers -1 --time-limit 3 --log-interval 0 \
        --threads 2 -o "$dev/ft-stories.gguf" 2>&1 | tail -n 6
    "$bin" tag --model "$dev/ft-stories.gguf" --strategy zero-shot --decode forced --threads 2 \
        --from brat --to paper-lines --tokenizer paper "$dev/sdev" -o "$out/ft-stories.lines" \
        2>&1 | tail -n 1
    ls -la "$dev" /usr/local/cuda/lib64/libcublas* 2>&1 | head -20
    (cd "$out" && tar czf "$final/results.tgz" .)
    exit 0
fi

# ---- main and ft
cat "$dev"/m.part* >"$dev/smollm2.gguf.tmp"
want=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
got=$(sha256sum "$dev/smollm2.gguf.tmp" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "SmolLM2 reassembly: sha256 $got, want $want"; ls -la "$dev"; exit 1; }
mv "$dev/smollm2.gguf.tmp" "$dev/smollm2.gguf"
M=$dev/smollm2.gguf
echo "| run | units | average P/R/F1 | misaligned | tagger summary |" >"$out/summary.md"
echo "|---|---|---|---|---|" >>"$out/summary.md"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader >"$out/gpu.txt"

if [ "$stage" = ft ]; then
    # 0. the decoding benchmark alone on the GPU, before anything else runs
    #    there (BENCH_MODES="" skips it)
    bench_modes=${BENCH_MODES-forced free}
    if [ -n "$bench_modes" ]; then
        echo "== bench ($bench_modes) $(date +%T)"
        CLINNER_BIN=$bin MODEL=$M DOCS=12 STRATEGY=few-shot MODES="$bench_modes" THREADS=4 \
            timeout "${BENCH_TIME:-80}" "$root/bench/llm_decode.sh" "$out/bench" >"$out/bench.md" \
            2>"$out/bench.err"
        cat "$out/bench.md"
    fi
    # the F32 conversion once (not three times at once), and the dev loss of
    # the model as it comes (--epochs 0: validation only, nothing written)
    # (FT_BASELINE=0 skips it - 0.7292 on 2026-11-28, about 20 s - and each
    # fine-tune then converts the model itself: safe, each writes its own
    # temporary file and renames it)
    if [ "${FT_BASELINE:-1}" = 1 ]; then
        echo "== dev loss before fine-tuning $(date +%T)"
        "$bin" finetune --model "$M" --train "$D/train" --dev "$D/dev" --tokenizer paper --epochs 0 \
            --ctx "${FT_CTX:-2048}" --max-dev "${FT_MAX_DEV:-100}" --gpu-layers -1 --threads 4 \
            --cache-dir "$dev/f32" -o "$dev/ft0.gguf" >"$out/finetune0.log" 2>&1
        tail -n 2 "$out/finetune0.log"
    fi
    # 1. one fine-tune per learning rate of FT_LRS, side by side (a 135M
    #    model leaves the GPU mostly idle: 8-9 k tokens/s each on an H200
    #    beside nine tagging runs on 2026-11-27); the whole epoch is about
    #    2.9 M positions, so FT_TIME stops each one part of the way
    echo "== finetune $(date +%T)"
    t0=$(date +%s) i=0
    for lr in ${FT_LRS:-3e-5}; do
        i=$((i + 1))
        (
            # shellcheck disable=SC2086 # FT_EXTRA is a word list
            "$bin" finetune --model "$M" --train "$D/train" --dev "$D/dev" --tokenizer paper \
                --ctx "${FT_CTX:-2048}" --epochs 1 --lr "$lr" --lr-min "$(awk -v x="$lr" 'BEGIN { print x / 10 }')" \
                --warmup 0.03 --train-tensors all --gpu-layers -1 --time-limit "${FT_TIME:-360}" \
                --max-dev "${FT_MAX_DEV:-100}" --threads 4 --log-interval 15 --cache-dir "$dev/f32" \
                --out-type q8_0 ${FT_EXTRA:-} -o "$dev/ft$i.gguf" >"$out/finetune$i.log" 2>&1
            echo "finetune $i (lr $lr) exited $? after $(($(date +%s) - t0)) s"
        ) &
    done
    wait
    # 2. the model chosen on dev (100 sentences) tags the test split alone;
    #    the test split chooses nothing.  FT_CHOOSE=whole (default): the
    #    highest mean share of B- and I- labels right whole, type included
    #    (the dev loss breaks ties and stands in where the share is
    #    missing); FT_CHOOSE=loss: the lowest dev loss (labels), which on
    #    2026-11-28 favoured a model that found entities and mistyped them
    best= bestkey=
    for f in "$out"/finetune[0-9]*.log; do
        grep -E 'memory estimate|time limit|dev loss|wrote|label choices|tokens/s' "$f" | tail -n 6 | sed "s|^|$(basename "$f"): |"
        l=$(sed -n 's/.*dev loss \([0-9.]*\).*/\1/p' "$f" | tail -n 1)
        w=$(sed -n 's/.*whole label, type too: O [0-9.]*%, B- \([0-9.]*\)%, I- \([0-9.]*\)%.*/\1 \2/p' "$f" |
            tail -n 1 | awk '{ print ($1 + $2) / 2 }')
        k=$(basename "$f" .log); k=${k#finetune}
        [ -n "$l" ] && [ -f "$dev/ft$k.gguf" ] || continue
        # one key, larger is better: the share first, then minus the loss
        if [ "${FT_CHOOSE:-whole}" = whole ] && [ -n "$w" ]; then
            key=$(awk -v w="$w" -v l="$l" 'BEGIN { printf "%.6f", w * 1000 - l }')
        else
            key=$(awk -v l="$l" 'BEGIN { printf "%.6f", -l }')
        fi
        echo "finetune$k: dev loss $l, whole-label share (B-, I- mean) ${w:-?}%"
        if [ -z "$best" ] || awk -v a="$key" -v b="$bestkey" 'BEGIN { exit !(a > b) }'; then
            best=$k bestkey=$key bestloss=$l bestwhole=${w:-?}
        fi
    done
    [ -n "$best" ] || { echo "no fine-tuned model"; (cd "$out" && tar czf "$final/results.tgz" .); exit 1; }
    echo "== chosen on dev (${FT_CHOOSE:-whole}): finetune$best (dev loss $bestloss, whole labels $bestwhole%); tagging the test split $(date +%T)"
    echo "$best $bestloss $bestwhole" >"$out/chosen.txt"
    timeout "$(until_end 25)" "$bin" tag --model "$dev/ft$best.gguf" --strategy zero-shot \
        --decode forced --threads 4 --parallel "${FT_PARALLEL:-32}" --progress lines --from paper-csv \
        --to paper-lines "$P/test_combined_IOB_data.csv" -o "$out/ft-zero-shot-forced.lines" \
        2>"$out/ft-zero-shot-forced.log"
    score ft-zero-shot-forced "$out/ft-zero-shot-forced.lines" "$out/ft-zero-shot-forced.log"
    # 3. with time left, the dev split too (a prefix when stopped)
    if [ "$(left)" -gt 40 ]; then
        timeout "$(until_end 20)" "$bin" tag --model "$dev/ft$best.gguf" --strategy zero-shot \
            --decode forced --threads 4 --parallel "${FT_PARALLEL:-32}" --progress lines --from paper-csv \
            --to paper-lines "$P/dev_combined_IOB_data.csv" -o "$out/ft-dev.lines" 2>"$out/ft-dev.log"
        CLINNER_BIN=$bin "$root/bench/score_run.sh" ft-dev "$out/ft-dev.lines" "$out/ft-dev.log" \
            "$P/dev_combined_IOB_data.csv" >>"$out/summary.md" 2>>"$out/score.err"
    fi
    cat "$out/summary.md"
    cp "$out/summary.md" "$final/"
    if [ "${FT_SEND:-0}" = 1 ]; then # the model back in 15 MiB pieces (see fetch)
        mkdir -p "$dev/ftparts"
        split -b 15M -d -a 2 "$dev/ft$best.gguf" "$dev/ftparts/ft.gguf."
        (cd "$dev" && sha256sum "ft$best.gguf" | sed "s/ft$best.gguf/ft.gguf/") >"$final/ft.gguf.sha256"
        cp "$dev"/ftparts/ft.gguf.0[0-2] "$final/"
    fi
    (cd "$out" && tar czf "$final/results.tgz" . && ls -la "$final")
    exit 0
fi

# 1. the fine-tune of SmolLM2 on the whole training split (time-limited),
#    then tagging the test split with it; in the background from the start
ft_time=${FT_TIME:-250}
(
    "$bin" finetune --model "$M" --train "$D/train" --dev "$D/dev" --tokenizer paper \
        --ctx 2048 --epochs 1 --lr "${FT_LR:-2e-5}" --lr-min 2e-6 --warmup 0.03 \
        --train-tensors all --gpu-layers -1 --time-limit "$ft_time" --max-dev 100 \
        --threads 2 --log-interval 15 --cache-dir "$dev/f32" -o "$dev/smollm2-ft.gguf" \
        >"$out/finetune.log" 2>&1
    timeout "$(until_end 25)" "$bin" tag --model "$dev/smollm2-ft.gguf" --strategy zero-shot \
        --decode forced --threads 2 --parallel 16 --progress lines --from paper-csv \
        --to paper-lines "$P/test_combined_IOB_data.csv" -o "$out/ft-zero-shot-forced.lines" \
        2>"$out/ft-zero-shot-forced.log"
) &

# 2. the benchmark: same 101 units, same model and prompt (beside the
#    fine-tune only: the tagging runs start after it)
echo "== bench $(date +%T)"
CLINNER_BIN=$bin MODEL=$M DOCS=12 STRATEGY=few-shot MODES="forced forced:off free grammar" THREADS=4 \
    timeout 170 "$root/bench/llm_decode.sh" "$out/bench" >"$out/bench.md" 2>"$out/bench.err"
cat "$out/bench.md"

# 3. the 8 full-split runs side by side on the GPU
# all 894 dev sentences with stories260K: grammar, forced and forced with
# speculation aligned, BIO-valid, identical (the test's CLINNER_LLM_FULL mode)
mkdir -p "$CLINNER_CACHE/models" && cp "$dev/models/stories260K.gguf" "$CLINNER_CACHE/models/"
CLINNER_LLM_FULL=1 CLINNER_BIN=$bin timeout "$(until_end 20)" \
    bash "$root/tests/cli/llm_stories_dev.sh" >"$out/stories-full-dev.txt" 2>&1 &
for s in zero-shot few-shot knn-shot rag; do
    for d in forced free; do
        timeout "$(until_end 20)" "$bin" tag --model "$M" --strategy "$s" --decode "$d" \
            --threads 1 --parallel 16 --progress lines --from paper-csv --to paper-lines \
            "$P/test_combined_IOB_data.csv" -o "$out/$s-$d.lines" 2>"$out/$s-$d.log" &
    done
done
wait
echo "== scoring $(date +%T)"
for s in zero-shot few-shot knn-shot rag; do
    for d in forced free; do score "$s-$d" "$out/$s-$d.lines" "$out/$s-$d.log"; done
done
score ft-zero-shot-forced "$out/ft-zero-shot-forced.lines" "$out/ft-zero-shot-forced.log"
grep -E 'memory estimate|time limit|epoch|wrote' "$out/finetune.log" | tail -n 8
cat "$out/summary.md"
echo "stories260K, all dev sentences:"; tail -n 3 "$out/stories-full-dev.txt"
cp "$out/summary.md" "$out/bench.md" "$final/" 2>/dev/null
(cd "$out" && tar czf "$final/results.tgz" . && ls -la "$final/results.tgz")
