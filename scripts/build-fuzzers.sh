#!/usr/bin/env bash
# Build every fuzz/fuzz_*.c as a libFuzzer binary in build-fuzz/ (clang,
# AddressSanitizer + UBSan), compiling the library sources directly (all of
# src/*/*.c except the CLI and the LLM, encoder and ensemble backends).  With --run SECONDS, also
# run each target for that long, its corpus in build-fuzz/corpus/<name>/ and
# any crash in build-fuzz/crashes/<name>/; fuzz/<name>.dict (a libFuzzer
# dictionary) and fuzz/seeds/<name>/ (seed inputs) are used when present.
#
#   scripts/build-fuzzers.sh             build only
#   scripts/build-fuzzers.sh --run 30    build, then fuzz each target 30 s
#   scripts/build-fuzzers.sh --run 30 fuzz_brat_ann   only the named targets
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
run=0
if [ "${1:-}" = "--run" ]; then
    run=${2:?--run needs a number of seconds}
    shift 2
fi
CC=${FUZZ_CC:-clang}
out=${FUZZ_BUILD:-build-fuzz}
command -v "$CC" >/dev/null || { echo "build-fuzzers: $CC not found (install clang)" >&2; exit 1; }
flags=(-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -fno-omit-frame-pointer
       -Iinclude -Isrc -pthread -fsanitize=address,undefined -fno-sanitize-recover=undefined)
libs=(-lcjson -lutf8proc -lcurl -lmicrohttpd -lm -pthread)

mkdir -p "$out/obj"
objs=()
for src in src/*/*.c; do
    case "$src" in src/cli/*|src/llm/*|src/encoder/*|src/ensemble/*) continue;; esac   # the CLI; the llama.cpp/ggml users
    obj="$out/obj/$(echo "${src%.c}" | tr / _).o"
    if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find include src -name '*.h' -newer "$obj" -print -quit)" ]; then
        "$CC" "${flags[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
    fi
    objs+=("$obj")
done

targets=()
for f in fuzz/fuzz_*.c; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .c)
    if [ $# -gt 0 ]; then
        case " $* " in *" $name "*) ;; *) continue;; esac
    fi
    "$CC" "${flags[@]}" -fsanitize=fuzzer "$f" "${objs[@]}" "${libs[@]}" -o "$out/$name"
    echo "built $out/$name"
    targets+=("$name")
done
[ ${#targets[@]} -gt 0 ] || { echo "build-fuzzers: no fuzz/fuzz_*.c targets" >&2; exit 1; }

[ "$run" != 0 ] || exit 0
status=0
for name in "${targets[@]}"; do
    mkdir -p "$out/corpus/$name" "$out/crashes/$name"
    # new inputs go to the first directory (build-fuzz/corpus), never to seeds
    dirs=("$out/corpus/$name")
    if [ -d "fuzz/seeds/$name" ]; then dirs+=("fuzz/seeds/$name"); fi
    dict=()
    if [ -f "fuzz/$name.dict" ]; then dict=(-dict="fuzz/$name.dict"); fi
    echo "== fuzzing $name for ${run}s"
    if ! "$out/$name" -max_total_time="$run" -max_len=4096 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$out/crashes/$name/" "${dict[@]}" "${dirs[@]}" \
            >"$out/$name.log" 2>&1; then
        echo "FAIL: $name (see $out/$name.log and $out/crashes/$name/)"
        tail -40 "$out/$name.log"
        status=1
    else
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/$name.log" || true
        echo "ok: $name"
    fi
done
exit $status
