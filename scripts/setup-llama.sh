#!/usr/bin/env bash
# scripts/setup-llama.sh - fetch + build llama.cpp (static) into clinner's cache.
#
# Source: the sdist of PyPI's llama-cpp-python (pinned + sha256-checked in
# scripts/deps.env), whose vendor/llama.cpp is built with the system cmake.
# Result (never inside the git clone):
#   $CLINNER_CACHE (default ~/.cache/clinner)/llama.cpp/<version>-<cpukey>/
#     include/llama.h llama-cpp.h ggml*.h gguf.h
#     lib/libllama.a libggml.a libggml-cpu.a libggml-base.a
#     bin/llama-server llama-quantize llama-convert-llama2c-to-ggml
#         llama-finetune (reference) clinner-llama-smoke (link/load test)
#     ldflags.txt  cflags.txt  STAMP
#   $CLINNER_CACHE/llama.env   (LLAMA_PREFIX=..., LLAMA_CFLAGS=..., LLAMA_LDFLAGS=...)
# <cpukey> = first 10 hex of sha256 of the "flags" line of /proc/cpuinfo: the
# build uses GGML_NATIVE (-march=native), so a cache made on another CPU type
# is never picked up.
#
# Linking a C11 program statically against it (this is ldflags.txt; verified
# with gcc 12 / Debian 12 by building scripts/llama-smoke.c):
#   cc -std=c11 -I$P/include prog.c \
#      -L$P/lib -lllama -lggml -lggml-cpu -lggml-base -lstdc++ -lgomp -lm -lpthread
# (order matters: llama -> ggml -> ggml-cpu -> ggml-base; -lstdc++ because the
#  libs are C++; -lgomp because ggml-cpu uses OpenMP; glibc >= 2.34 needs no -ldl.)
#
# Usage:
#   scripts/setup-llama.sh              build if needed (idempotent), print stamp
#   scripts/setup-llama.sh --prefix     print the install prefix if built, else exit 1 (fast, no build)
#   scripts/setup-llama.sh --prefix-path   print where the install prefix is or would be (no build)
#   scripts/setup-llama.sh --print-env  print LLAMA_PREFIX=... lines (builds if needed)
#   scripts/setup-llama.sh --force      rebuild even if the cache is present
#   scripts/setup-llama.sh --cuda ARCH  (combine with the above) a CUDA build for
#       compute capability ARCH (e.g. 90 for H100/H200) with nvcc, GGML_NATIVE off
#       (the GPU machine's CPU differs from the build machine's), in
#       <version>-cuda<ARCH>/. Links against libcudart/libcublas and the driver's
#       libcuda, so it runs only where a CUDA driver is installed; the link check
#       is done, the run check is skipped. CI never uses this variant.
# Env: CLINNER_CACHE, CLINNER_JOBS (default 2), CLINNER_KEEP_BUILD=1 (keep temp build dir on failure)
# Exit codes: 0 ok, 1 not built (--prefix), 2 download failed/offline,
#             3 checksum mismatch, 4 build/verify failed, 64 usage.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.env
. "$SCRIPT_DIR/deps.env"

CACHE=${CLINNER_CACHE:-$HOME/.cache/clinner}
JOBS=${CLINNER_JOBS:-2}

die() { local rc=$1; shift; echo "setup-llama: error: $*" >&2; exit "$rc"; }
log() { echo "setup-llama: $*" >&2; }

cpu_key() {
    local line
    line=$(grep -m1 -E '^(flags|Features)[[:space:]]*:' /proc/cpuinfo 2>/dev/null || true)
    [ -n "$line" ] || line=$(uname -m)
    printf '%s' "$line" | sha256sum | cut -c1-10
}

cuda_arch=""
for a in "$@"; do
    if [ "${prev:-}" = --cuda ]; then cuda_arch=$a; fi
    prev=$a
done
if [ -n "$cuda_arch" ]; then
    PREFIX="$CACHE/llama.cpp/$LLAMA_CPP_PY_VERSION-cuda$cuda_arch"
else
    PREFIX="$CACHE/llama.cpp/$LLAMA_CPP_PY_VERSION-$(cpu_key)"
fi

is_built() { [ -f "$PREFIX/STAMP" ] && [ -f "$PREFIX/ldflags.txt" ] && [ -f "$PREFIX/lib/libllama.a" ]; }

write_env() {
    [ -z "$cuda_arch" ] || return 0   # the CPU build stays the default one
    local tmp="$CACHE/.llama.env.$$"
    {
        echo "LLAMA_PREFIX=$PREFIX"
        echo "LLAMA_CFLAGS=$(cat "$PREFIX/cflags.txt")"
        echo "LLAMA_LDFLAGS=$(cat "$PREFIX/ldflags.txt")"
    } >"$tmp"
    mv -f "$tmp" "$CACHE/llama.env"
}

print_env() {
    echo "LLAMA_PREFIX=$PREFIX"
    echo "LLAMA_CFLAGS=$(cat "$PREFIX/cflags.txt")"
    echo "LLAMA_LDFLAGS=$(cat "$PREFIX/ldflags.txt")"
}

mode=build force=0
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) mode=prefix ;;
        --prefix-path) mode=prefixpath ;;
        --print-env) mode="env" ;;
        --force) force=1 ;;
        --cuda) shift; [ $# -gt 0 ] || { echo "usage: --cuda ARCH" >&2; exit 64; } ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--prefix|--prefix-path|--print-env|--force]" >&2; exit 64 ;;
    esac
    shift
done

if [ "$mode" = prefixpath ]; then echo "$PREFIX"; exit 0; fi
if [ "$mode" = prefix ]; then
    is_built && { echo "$PREFIX"; exit 0; }
    exit 1
fi

stamp_line() { echo "setup-llama: OK llama.cpp (llama-cpp-python $LLAMA_CPP_PY_VERSION) at $PREFIX [$(sed -n 's/^built=//p' "$PREFIX/STAMP")]"; }

if [ "$force" = 0 ] && is_built; then
    write_env
    if [ "$mode" = env ]; then print_env; else stamp_line; fi
    exit 0
fi

for t in cmake make gcc g++ tar sha256sum python3 nm flock; do
    command -v "$t" >/dev/null 2>&1 || die 4 "required tool '$t' not found"
done

mkdir -p "$CACHE/llama.cpp" "$CACHE/downloads"

# one builder at a time; a second caller waits, then finds the cache done
exec 9>"$CACHE/.setup-llama.lock"
if ! flock -n 9; then
    log "another setup-llama.sh is running; waiting for it..."
    flock 9
fi
if [ "$force" = 0 ] && is_built; then
    write_env
    if [ "$mode" = env ]; then print_env; else stamp_line; fi
    exit 0
fi

# leftovers of a build that was killed (we hold the lock, so none is live)
rm -rf "$CACHE"/llama.cpp/.build-* "$CACHE"/llama.cpp/.old.* "$CACHE"/downloads/.dl.*

# ---------------------------------------------------------------- download
SDIST="$CACHE/downloads/$LLAMA_CPP_PY_SDIST"
sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if [ -f "$SDIST" ] && sha_ok "$SDIST" "$LLAMA_CPP_PY_SDIST_SHA256"; then
    log "sdist cached: $SDIST"
else
    rm -f "$SDIST"
    dl=$(mktemp -d "$CACHE/downloads/.dl.XXXXXX")
    trap 'rm -rf "$dl"' EXIT
    log "downloading llama-cpp-python==$LLAMA_CPP_PY_VERSION sdist from PyPI..."
    # --no-binary only for this package: pip still needs the build backend
    # (scikit-build-core, as wheels) to read the sdist's metadata.
    if ! python3 -m pip download --disable-pip-version-check --no-deps \
            --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_PY_VERSION" \
            -d "$dl" >"$dl/pip.log" 2>&1; then
        tail -n 5 "$dl/pip.log" >&2
        die 2 "could not download llama-cpp-python==$LLAMA_CPP_PY_VERSION from PyPI (offline or PyPI unreachable?)"
    fi
    [ -f "$dl/$LLAMA_CPP_PY_SDIST" ] || die 2 "pip did not produce $LLAMA_CPP_PY_SDIST (got: $(ls "$dl"))"
    got=$(sha256sum "$dl/$LLAMA_CPP_PY_SDIST" | cut -d' ' -f1)
    [ "$got" = "$LLAMA_CPP_PY_SDIST_SHA256" ] ||
        die 3 "sha256 mismatch for $LLAMA_CPP_PY_SDIST: got $got, want $LLAMA_CPP_PY_SDIST_SHA256"
    mv -f "$dl/$LLAMA_CPP_PY_SDIST" "$SDIST"
    rm -rf "$dl"
    trap - EXIT
fi

# ---------------------------------------------------------------- build
t0=$(date +%s)
work=$(mktemp -d "$CACHE/llama.cpp/.build-$LLAMA_CPP_PY_VERSION.XXXXXX")
cleanup() {
    local rc=$?
    if [ $rc -ne 0 ] && [ "${CLINNER_KEEP_BUILD:-0}" = 1 ]; then
        log "build failed; kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
src="$work/src" bld="$work/build" stage="$work/prefix"
mkdir -p "$src" "$stage/bin" "$stage/lib" "$stage/include"

log "extracting vendor/llama.cpp..."
tar -xzf "$SDIST" -C "$src" --strip-components=3 "llama_cpp_python-$LLAMA_CPP_PY_VERSION/vendor/llama.cpp" ||
    die 4 "could not extract vendor/llama.cpp from $SDIST"
[ -f "$src/include/llama.h" ] || die 4 "vendor/llama.cpp/include/llama.h missing in sdist"
rm -f "$src/.git"   # dangling submodule gitfile from the sdist (only causes 'fatal: not a git repository' noise)

cmake_flags=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON   # so that libclinner.so can hold them
    -DGGML_NATIVE=ON
    -DGGML_CCACHE=OFF
    -DLLAMA_CURL=OFF            # (no-op in this version: curl support was removed)
    -DLLAMA_OPENSSL=OFF         # no HTTPS in the bundled http client
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_TOOLS=ON      # configured, but only the targets below are built
    -DLLAMA_BUILD_EXAMPLES=ON
    -DLLAMA_BUILD_SERVER=ON
    -DLLAMA_BUILD_APP=OFF
    -DLLAMA_BUILD_UI=OFF        # no npm
    -DLLAMA_USE_PREBUILT_UI=OFF # no web download: llama-server runs without its web UI
    -DCMAKE_INSTALL_PREFIX="$stage"
)
if [ -n "$cuda_arch" ]; then
    command -v nvcc >/dev/null 2>&1 || die 4 "--cuda needs nvcc on PATH"
    cmake_flags=("${cmake_flags[@]/-DGGML_NATIVE=ON/-DGGML_NATIVE=OFF}"
                 -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$cuda_arch" -DGGML_CUDA_NCCL=OFF
                 -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF)
fi
log "configuring (cmake $(cmake --version | sed -n '1s/cmake version //p'))..."
cmake -S "$src" -B "$bld" "${cmake_flags[@]}" >"$work/configure.log" 2>&1 ||
    { tail -n 30 "$work/configure.log" >&2; die 4 "cmake configure failed"; }

targets=(llama ggml ggml-base ggml-cpu llama-server llama-quantize llama-convert-llama2c-to-ggml)
[ -z "$cuda_arch" ] || targets=(llama ggml ggml-base ggml-cpu ggml-cuda)
cmake --build "$bld" --target help >"$work/targets.txt" 2>/dev/null || true
if [ -z "$cuda_arch" ] && grep -qw 'llama-finetune' "$work/targets.txt"; then
    targets+=(llama-finetune)
fi
log "building ${targets[*]} with -j$JOBS (takes a while on 2 cores; log: $work/build.log)..."
cmake --build "$bld" --config Release -j"$JOBS" --target "${targets[@]}" >"$work/build.log" 2>&1 ||
    { grep -E 'error|Error' "$work/build.log" | head -n 20 >&2; tail -n 20 "$work/build.log" >&2; die 4 "build failed"; }

# ---------------------------------------------------------------- install
# A full `cmake --install` of the top project would need every example/tool
# built; ggml's own install rules are used (cmake --install on its subdir),
# the rest is staged by hand.
cmake --install "$bld/ggml" --prefix "$stage" >"$work/install.log" 2>&1 ||
    { tail -n 20 "$work/install.log" >&2; die 4 "cmake --install ggml failed"; }
install -m 0644 "$src/include/llama.h" "$src/include/llama-cpp.h" "$stage/include/"
install -m 0644 "$(find "$bld" -name libllama.a -print -quit)" "$stage/lib/"
for t in "${targets[@]}"; do
    case $t in llama-*) install -m 0755 "$bld/bin/$t" "$stage/bin/" ;; esac
done
install -m 0644 "$src/LICENSE" "$stage/LICENSE-llama.cpp"

must=(bin/llama-server bin/llama-quantize bin/llama-convert-llama2c-to-ggml)
[ -z "$cuda_arch" ] || must=(lib/libggml-cuda.a)
for f in include/llama.h include/ggml.h lib/libllama.a lib/libggml.a lib/libggml-base.a lib/libggml-cpu.a \
         "${must[@]}"; do
    [ -e "$stage/$f" ] || die 4 "install incomplete: $f missing"
done

# ---------------------------------------------------------------- link flags
libs="-lllama -lggml"
for l in "$stage"/lib/libggml-*.a; do
    n=$(basename "$l" .a); n=${n#lib}
    case $n in ggml-base) ;; *) libs="$libs -l$n" ;; esac
done
libs="$libs -lggml-base -lstdc++"
nm "$stage"/lib/libggml*.a >"$work/nm.txt" 2>/dev/null || true
if grep -qE ' U (GOMP_|omp_)' "$work/nm.txt"; then libs="$libs -lgomp"; fi
if [ -n "$cuda_arch" ]; then
    cudalib=$(dirname "$(command -v nvcc)")/../lib64
    cudalib=$(cd "$cudalib" && pwd)
    libs="$libs -L$cudalib -lcudart -lcublas -lcublasLt -L$cudalib/stubs -lcuda"
fi
libs="$libs -lm -lpthread"
echo "-I$PREFIX/include" >"$stage/cflags.txt"
echo "-L$PREFIX/lib $libs" >"$stage/ldflags.txt"

# verify: a C11 program links with exactly these flags and runs
log "link check: cc -std=c11 llama-smoke.c -L<prefix>/lib $libs"
# shellcheck disable=SC2086  # $libs is a word list on purpose
gcc -std=c11 -O2 -Wall -I"$stage/include" "$SCRIPT_DIR/llama-smoke.c" -o "$stage/bin/clinner-llama-smoke" \
    -L"$stage/lib" $libs >"$work/link.log" 2>&1 ||
    { cat "$work/link.log" >&2; die 4 "test program failed to link with: $libs"; }
if [ -n "$cuda_arch" ]; then
    echo "system_info: (CUDA build: not run on the build machine)" >"$work/smoke.log"
else
    "$stage/bin/clinner-llama-smoke" >"$work/smoke.log" 2>&1 ||
        { cat "$work/smoke.log" >&2; die 4 "test program failed to run"; }
fi

t1=$(date +%s)
{
    echo "llama_cpp_python=$LLAMA_CPP_PY_VERSION"
    echo "sdist_sha256=$LLAMA_CPP_PY_SDIST_SHA256"
    echo "llama_cpp=$(sed -n 's/.*llama.cpp version: //p' "$work/configure.log" | head -n1)"
    echo "cpukey=$(cpu_key)"
    echo "compiler=$(gcc -dumpfullversion)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) in $((t1 - t0))s"
    echo "cmake_flags=${cmake_flags[*]//$stage/<prefix>}"
    echo "targets=${targets[*]}"
    sed -n 's/^system_info: /system_info=/p' "$work/smoke.log"
} >"$stage/STAMP"

# atomic publish: rename the finished tree into place
if [ -e "$PREFIX" ]; then
    old="$CACHE/llama.cpp/.old.$$"
    mv "$PREFIX" "$old"
    mv "$stage" "$PREFIX"
    rm -rf "$old"
else
    mv "$stage" "$PREFIX"
fi
write_env
log "build took $((t1 - t0))s"
if [ "$mode" = env ]; then print_env; else stamp_line; fi
