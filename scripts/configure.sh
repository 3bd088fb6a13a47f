#!/usr/bin/env bash
# configure.sh - write what the set-up found into the build folder's
# config.mk, which the Makefile includes: the llama.cpp prefix (a build of
# scripts/setup-llama.sh), its link flags, whether it is a CUDA build, and a
# one-line description for `clinner --version`, and whether its static
# libraries are position-independent (then libclinner.so can hold them).
#
# make runs this on every invocation (it costs a few milliseconds): the file
# is rewritten only when its content changes, so make re-reads itself exactly
# when the set-up changed something (a llama.cpp build appeared, was removed,
# or LLAMA_PREFIX was given), and the flags stamp then rebuilds what depends
# on it.  Nothing here builds or downloads anything.
#
# usage: scripts/configure.sh OUT.mk                    find llama.cpp in the cache
#        scripts/configure.sh OUT.mk --llama-prefix DIR  use DIR (empty: without llama.cpp)
# Env: CLINNER_CACHE (where setup-llama.sh looks).  Exit: 0 ok, 1 DIR is not
# a llama.cpp build, 64 usage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

[ $# -ge 1 ] || { echo "usage: $0 OUT.mk [--llama-prefix DIR]" >&2; exit 64; }
out=$1; shift
if [ $# -eq 0 ]; then
    prefix=$("$here/setup-llama.sh" --prefix 2>/dev/null) || prefix=
elif [ $# -eq 2 ] && [ "$1" = --llama-prefix ]; then
    prefix=$2
else
    echo "usage: $0 OUT.mk [--llama-prefix DIR]" >&2; exit 64
fi

ldflags= info="without llama.cpp" cuda=no pic=no
if [ -n "$prefix" ]; then
    if [ ! -f "$prefix/ldflags.txt" ] || [ ! -f "$prefix/include/llama.h" ]; then
        echo "configure: LLAMA_PREFIX=$prefix has no ldflags.txt or include/llama.h:" \
             "not a llama.cpp build of scripts/setup-llama.sh (LLAMA_PREFIX= builds without it)" >&2
        exit 1
    fi
    ldflags=$(cat "$prefix/ldflags.txt")
    stamp_field() { sed -n "s/^$1=//p" "$prefix/STAMP" 2>/dev/null | head -n1; }
    version=$(stamp_field llama_cpp) pyver=$(stamp_field llama_cpp_python)
    case "$(stamp_field cmake_flags) $prefix" in
        *GGML_CUDA=ON*|*-cuda[0-9]*) cuda=yes ;;
    esac
    pic=no
    case "$(stamp_field cmake_flags)" in *POSITION_INDEPENDENT_CODE=ON*) pic=yes ;; esac
    arch=CPU
    if [ $cuda = yes ]; then
        arch="CUDA $(sed -n 's/.*CMAKE_CUDA_ARCHITECTURES=\([0-9]*\).*/sm_\1/p' "$prefix/STAMP" 2>/dev/null)"
    fi
    info="llama.cpp ${version:-unknown version}${pyver:+ (llama-cpp-python $pyver)}, $arch"
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
{
    echo "# Written by scripts/configure.sh from what the set-up found; rewritten by"
    echo "# every make (LLAMA_PREFIX=DIR on the command line overrides the search)."
    echo "CFG_LLAMA_PREFIX := $prefix"
    echo "CFG_LLAMA_LDFLAGS := $ldflags"
    echo "CFG_LLAMA_CUDA := $cuda"
    echo "CFG_LLAMA_PIC := $pic"
    echo "CFG_LLAMA_INFO := ${info//\"/}"
} >"$tmp"
if cmp -s "$tmp" "$out"; then rm -f "$tmp"; else mv -f "$tmp" "$out"; fi
