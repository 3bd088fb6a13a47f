#!/usr/bin/env bash
# setup.sh - everything clinner needs on a fresh Debian machine, idempotent:
#   1. Debian packages (installed with apt-get when missing; needs root)
#   2. llama.cpp built from the pinned llama-cpp-python sdist (scripts/setup-llama.sh)
#   3. the pinned GGUF models (scripts/fetch-models.sh) and the base encoder
#      of `train encoder`, all-MiniLM-L6-v2 (scripts/fetch-encoder.sh; its
#      tests skip without it)
#   4. the medical term list for `train crf --vocab` (scripts/setup-vocab.sh; optional)
# and checks the shipped models/*.model against models/SHA256SUMS (before 2).
# Downloads are cached in ${CLINNER_CACHE:-~/.cache/clinner}, outside the clone.
# CLINNER_SKIP_LLAMA=1 stops after step 1 (the library then builds without
# the LLM backends).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

packages=(build-essential pkg-config cmake libcjson-dev libutf8proc-dev libcurl4-openssl-dev
          libmicrohttpd-dev libcmocka-dev valgrind clang unzip python3 python3-pip)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3 may come from elsewhere (pyenv); only ask apt for it when absent.
if command -v python3 >/dev/null; then
    missing=("${missing[@]/python3}"); missing=("${missing[@]/python3-pip}")
fi
read -ra missing <<<"${missing[*]}"
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then SUDO=sudo; else
            echo "setup: need root to install: ${missing[*]} (run as root or install them)" >&2; exit 1
        fi
    else SUDO=; fi
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q "${missing[@]}" >/tmp/clinner-apt.log 2>&1; then
        $SUDO apt-get update -q >/tmp/clinner-apt.log 2>&1 || true
        $SUDO apt-get install -y -q "${missing[@]}" >>/tmp/clinner-apt.log 2>&1 || {
            echo "setup: apt-get install failed (offline?); see /tmp/clinner-apt.log" >&2; exit 1; }
    fi
fi

# The shipped models (models/*.model, *.json) must match the sha256 recorded beside
# them: a truncated checkout, a Git LFS pointer or an edited file would
# otherwise load as a corrupt or different model.
models="$here/../models"
for m in "$models"/*.model "$models"/*.json; do
    [ -e "$m" ] || continue
    n=$(basename "$m")
    want=$(awk -v n="$n" '$2 == n {print $1}' "$models/SHA256SUMS" 2>/dev/null || true)
    have=$(sha256sum "$m" | cut -d' ' -f1)
    if [ -z "$want" ] || [ "$have" != "$want" ]; then
        echo "setup: models/$n has sha256 $have but models/SHA256SUMS records ${want:-none}:" \
             "restore it (git checkout -- models/$n) or rebuild it (make models)" >&2
        exit 1
    fi
done

[ "${CLINNER_SKIP_LLAMA:-0}" = 1 ] && exit 0
"$here/setup-llama.sh"
"$here/fetch-models.sh"
"$here/fetch-encoder.sh" >/dev/null
# 4. the medical term list (HPO, Orphanet, OMIM) for `clinner train crf
#    --vocab`; optional, so a failure (offline) is only a warning
"$here/setup-vocab.sh" >/dev/null ||
    echo "setup: warning: no medical term list (scripts/setup-vocab.sh failed); only 'train crf --vocab' needs it" >&2
