#!/usr/bin/env bash
# bench/gpu_pack.sh - lay out what bench/gpu_runs.sh needs on a lent GPU
# machine (which cannot download anything) in the ignored folders .dev1/,
# .dev2/, ... of this clone, one per device call (each call carries at most
# 64 MiB, the working tree included):
#   .dev1/pack.tgz   (xz) bin/clinner built against the CUDA llama.cpp
#                    (scripts/setup-llama.sh --cuda 90), lib/ (its shared
#                    libraries that are neither glibc's nor CUDA's),
#                    shared/data/{raredis,paper}, models/stories260K.gguf
#   .devK/m.partK    SmolLM2-135M-Instruct cut to fill each call
# (2026-11-27: pack.tgz 46 MiB, so 3 calls).  Then, on the device machine:
#   calls 1..N-1: carry .devK   bench/gpu_runs.sh stash OUT
#   call N: carry .devN         bench/gpu_runs.sh ft OUT   (or main)
#   then, no carry:             bench/gpu_runs.sh fetch OUT K   (K = 1, 2, ...)
# Not part of CI or of `make test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shared=${CLINNER_SHARED:-$root/../shared}
prefix=$(scripts/setup-llama.sh --cuda 90 --prefix 2>/dev/null) ||
    { echo "gpu_pack: no CUDA llama.cpp build: run scripts/setup-llama.sh --cuda 90" >&2; exit 1; }
rm -rf .dev[0-9]*
make -s BUILD=build-cuda LLAMA_PREFIX="$prefix" build-cuda/clinner
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/shared/data" "$stage/models"
cp build-cuda/clinner "$stage/bin/"
# the libraries the machine may lack; glibc's and CUDA's are there
ldd build-cuda/clinner | awk '$3 ~ /^\// { print $3 }' |
    grep -vE '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libcuda|libcudart|libcublas|libcublasLt)\.so' |
    while read -r lib; do cp -L "$lib" "$stage/lib/"; done
cp -r "$shared/data/raredis" "$shared/data/paper" "$stage/shared/data/"
cp "$(scripts/fetch-models.sh --path stories)" "$stage/models/stories260K.gguf"
strip "$stage/bin/clinner" # debug info is half the binary
mkdir .dev1
grep -qx "/.dev1/" .git/info/exclude 2>/dev/null || echo "/.dev1/" >>.git/info/exclude
tar -C "$stage" -cJf .dev1/pack.tgz .
m=$(scripts/fetch-models.sh --path smollm2)
# each call: 60 MiB (a margin under 64) less the tracked files, less the pack in the first
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -n 1 | cut -f1)
size=$(stat -c %s "$m")
at=0 k=1
while [ "$at" -lt "$size" ]; do
    room=$((60 * 1024 * 1024 - tree))
    [ "$k" = 1 ] && room=$((room - $(stat -c %s .dev1/pack.tgz)))
    mkdir -p ".dev$k"
    grep -qx "/.dev$k/" .git/info/exclude || echo "/.dev$k/" >>.git/info/exclude
    dd if="$m" of=".dev$k/m.part$k" bs=1M iflag=skip_bytes,count_bytes skip="$at" \
        count="$room" status=none
    at=$((at + room)) k=$((k + 1))
done
ls -la .dev[0-9]*
echo "gpu_pack: $((k - 1)) calls; SmolLM2 $size bytes, sha256 $(sha256sum "$m" | cut -d' ' -f1)"
