#!/usr/bin/env bash
# The model shipped in models/ (issue 20, point 2): it matches the sha256
# recorded in models/SHA256SUMS, and scripts/setup.sh refuses a changed
# copy with a message naming it; it holds no
# text beyond feature strings (attribute strings without spaces, gazetteer
# entries of at most 8 tokens: annotated entity mentions), it tags piped raw
# text ("Fabry disease" is a RAREDISEASE), and, with the corpus, the test
# split scored span-level with overlap matching reaches F1 .55 over the five
# types with tagging under 30 s.  CLINNER_TEST_REBUILD_MODELS=1 also rebuilds
# it (scripts/make-models.sh --check: byte-identical, about a minute).
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
m="$root/models/raredis-crf.model"
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: python3 needed to read the model and JSON"; exit 77; }
[ -f "$m" ] || fail "no shipped model at $m"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- the recorded checksum ----
(cd "$root/models" && sha256sum --quiet -c SHA256SUMS) || fail "models/SHA256SUMS does not match"
grep -q ' raredis-crf.model$' "$root/models/SHA256SUMS" || fail "raredis-crf.model not in SHA256SUMS"
size=$(stat -c %s "$m")
[ "$size" -lt 25000000 ] || fail "model is $size bytes, over 25 MB"

# ---- setup.sh refuses a model that does not match (on a copy; packages only) ----
mkdir -p "$tmp/su/scripts" "$tmp/su/models"
cp "$root/scripts/setup.sh" "$tmp/su/scripts/"
cp "$m" "$root/models/SHA256SUMS" "$tmp/su/models/"
CLINNER_SKIP_LLAMA=1 bash "$tmp/su/scripts/setup.sh" >/dev/null 2>"$tmp/su.err" ||
    fail "setup.sh refused the shipped model: $(cat "$tmp/su.err")"
printf 'x' >>"$tmp/su/models/raredis-crf.model"
CLINNER_SKIP_LLAMA=1 bash "$tmp/su/scripts/setup.sh" >/dev/null 2>"$tmp/su.err" &&
    fail "setup.sh accepted a changed model"
grep -q "models/raredis-crf.model has sha256 .* but models/SHA256SUMS records $(cut -d' ' -f1 "$root/models/SHA256SUMS")" "$tmp/su.err" ||
    fail "setup.sh message: $(cat "$tmp/su.err")"

# ---- no text beyond feature strings (file layout: src/crf/model.c) ----
python3 - "$m" <<'PY' || fail "model strings"
import struct, sys
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'CLNRCRF\0', 'magic'
p = 32
def u32():
    global p
    v = struct.unpack_from('<I', b, p)[0]; p += 4; return v
def s():
    global p
    n = u32(); v = b[p:p + n]; p += n; return v.decode('utf-8')
types = [s() for _ in range(u32())]
assert types == ['DISEASE', 'RAREDISEASE', 'SKINRAREDISEASE', 'SIGN', 'SYMPTOM'], types
cfg = [u32() for _ in range(5)]; p += 4
meta = dict((s(), s()) for _ in range(u32()))
assert meta.get('tokenizer') == 'clinical', meta
gaz = []
for _ in range(u32()):
    gaz.append(s()); u32()
attrs = [s() for _ in range(u32())]
longest = max(len(g.split(' ')) for g in gaz)
assert longest <= 8, 'gazetteer entry of %d tokens' % longest
spaced = [a for a in attrs if ' ' in a]
assert not spaced, 'attribute strings with spaces: %r' % spaced[:3]
print('model: %d attributes (longest %d chars), %d gazetteer entries (at most %d tokens)'
      % (len(attrs), max(map(len, attrs)), len(gaz), longest))
PY

# ---- raw text piped in ----
echo "Fabry disease is a rare inherited disorder that causes burning pain in the hands and feet." |
    "$CLINNER_BIN" tag --backend crf --model "$m" --progress off >"$tmp/fabry.jsonl" 2>"$tmp/fabry.err" ||
    fail "tag exited $?: $(cat "$tmp/fabry.err")"
python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).readline())
ents = [(e["text"], e["type"]) for e in d["entities"]]
sys.exit(0 if ("Fabry disease", "RAREDISEASE") in ents else 1)' "$tmp/fabry.jsonl" ||
    fail "'Fabry disease' is not a RAREDISEASE: $(cat "$tmp/fabry.jsonl")"

# the default tagger (no option) is the shipped ensemble (this CRF and the
# encoder, models/raredis-ensemble.json), found beside the build tree; a
# build without llama.cpp has no encoder and falls back to this CRF
echo "Fabry disease is a rare inherited disorder that causes burning pain in the hands and feet." |
    CLINNER_MODELS= "$CLINNER_BIN" tag --progress off >"$tmp/default.jsonl" 2>"$tmp/default.err" ||
    fail "default tag exited $?: $(cat "$tmp/default.err")"
if "$CLINNER_BIN" --version | grep -q 'llama.cpp'; then
    echo "Fabry disease is a rare inherited disorder that causes burning pain in the hands and feet." |
        "$CLINNER_BIN" tag --backend ensemble --model "$root/models/raredis-ensemble.json" \
        --progress off >"$tmp/ens.jsonl" 2>"$tmp/ens.err" || fail "ensemble exited $?: $(cat "$tmp/ens.err")"
    cmp -s "$tmp/default.jsonl" "$tmp/ens.jsonl" ||
        fail "the default tagger is not the shipped ensemble: $(cat "$tmp/default.jsonl")"
    # the corpus files Fabry disease as SKINRAREDISEASE 4 times in 5, RAREDISEASE once
    python3 -c '
import json, sys
d = json.loads(open(sys.argv[1]).readline())
ents = [(e["text"], e["type"]) for e in d["entities"]]
ok = ("Fabry disease", "RAREDISEASE") in ents or ("Fabry disease", "SKINRAREDISEASE") in ents
sys.exit(0 if ok and ("inherited disorder", "DISEASE") in ents else 1)' "$tmp/default.jsonl" ||
        fail "the default tagger missed Fabry disease or the inherited disorder: $(cat "$tmp/default.jsonl")"
else
    cmp -s "$tmp/default.jsonl" "$tmp/fabry.jsonl" ||
        fail "the default tagger (no llama.cpp: the CRF) differs: $(cat "$tmp/default.jsonl")"
fi

# ---- the test split, with the corpus ----
data="${CLINNER_SHARED:-$root/../shared}/data/raredis"
if [ -d "$data/test" ] && [ -z "${CLINNER_SANITIZER:-}" ]; then
    t0=$(date +%s.%N)
    "$CLINNER_BIN" tag --backend crf --model "$m" --from brat --to jsonl "$data/test" \
        -o "$tmp/pred.jsonl" --progress off 2>/dev/null || fail "tagging the test split exited $?"
    wall=$(echo "$(date +%s.%N) - $t0" | bc)
    "$CLINNER_BIN" eval --gold "$data/test" --gold-format brat --pred "$tmp/pred.jsonl" \
        --pred-format jsonl --match overlap >"$tmp/eval.txt" || fail "eval exited $?"
    f1=$(awk '/^average \(paper\)/ {print $5}' "$tmp/eval.txt")
    awk -v f="$f1" 'BEGIN { exit !(f >= 0.55) }' || fail "test overlap F1 $f1 < .55"
    awk -v w="$wall" 'BEGIN { exit !(w < 30) }' || fail "tagging the test split took $wall s"
    echo "test split: overlap F1 $f1, tagged in $wall s"
else
    echo "(no corpus at $data, or sanitizers: test split not scored)"
fi
if [ "${CLINNER_TEST_REBUILD_MODELS:-0}" = 1 ]; then
    CLINNER_BIN="$CLINNER_BIN" "$root/scripts/make-models.sh" --check || fail "rebuilt model differs"
fi
echo "shipped model ok ($size bytes)"
