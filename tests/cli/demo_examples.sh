#!/usr/bin/env bash
# `make demo`'s path with the tiny stories260K model: scripts/demo.sh tags
# its built-in text twice - with the default CRF (here one trained on
# examples/demo-train and found through CLINNER_MODELS, as the shipped one
# is found) and with knn-shot examples from examples/demo-train (no corpus
# needed) - and the JSONL it prints is whole: two records, every token
# at its code-point offsets in the text, BIO-valid labels, and entities
# that are the runs of those labels with the text they cover.  The example
# folder itself reads as BRAT (each .ann's text column is checked against
# its .txt) with all five entity types.
set -u
. "$(dirname "$0")/../cli_stories.sh" python3

"$CLINNER_BIN" stats "$root/examples/demo-train" >"$tmp/stats" 2>&1 ||
    { rc=$?; cat "$tmp/stats"; fail "stats exited $rc"; }
grep -Eq '^documents +3$' "$tmp/stats" || { cat "$tmp/stats"; fail "not 3 documents"; }
grep -Eq '^entities +20$' "$tmp/stats" || { cat "$tmp/stats"; fail "not 20 entities"; }
for t in DISEASE RAREDISEASE SKINRAREDISEASE SIGN SYMPTOM; do
    grep -Eq "^  $t +[1-9]" "$tmp/stats" || fail "no $t example"
done

# the demo script itself (it runs build/clinner: point it at the binary under test)
mkdir -p "$tmp/root/build" "$tmp/root/scripts" "$tmp/models"
cp "$root/scripts/demo.sh" "$tmp/root/scripts/"
cp -r "$root/examples" "$tmp/root/"
ln -s "$CLINNER_BIN" "$tmp/root/build/clinner"
"$CLINNER_BIN" train crf --train "$root/examples/demo-train" -o "$tmp/models/raredis-crf.model" \
    --progress off 2>"$tmp/train.err" || { rc=$?; cat "$tmp/train.err"; fail "train crf exited $rc"; }
CLINNER_MODELS="$tmp/models" "$tmp/root/scripts/demo.sh" --model "$model" --threads 1 \
    --cache-dir "$tmp/cache" >"$tmp/out.jsonl" 2>"$tmp/err" ||
    { rc=$?; cat "$tmp/err"; fail "demo exited $rc"; }
ls "$tmp/cache"/index/bm25-*.bin >/dev/null 2>&1 || fail "no BM25 index of the examples was built"
grep -q '^== clinner demo: 1. the default tagger' "$tmp/err" || fail "no CRF block: $(cat "$tmp/err")"
grep -Eq '^== 2. an LLM .*: [0-9.]+ s' "$tmp/err" || fail "no timing of the LLM block: $(cat "$tmp/err")"
python3 - "$tmp/out.jsonl" <<'PY' || exit 1
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
assert len(recs) == 2, f"{len(recs)} records"
for r in recs:
    text = r["text"]
    assert text.startswith("Fabry disease is a rare inherited disorder."), text[:40]
    toks = r["tokens"]
    assert len(toks) == 45, f"{len(toks)} tokens"
    prev_end, prev = 0, "O"
    for t in toks:
        assert text[t["start"]:t["end"]] == t["text"], t
        assert t["start"] >= prev_end and text[prev_end:t["start"]].strip() == "", t
        lab = t["label"]
        assert lab == "O" or lab[:2] in ("B-", "I-"), lab
        if lab.startswith("I-"):
            assert prev[2:] == lab[2:], f"{prev} then {lab}"
        prev_end, prev = t["end"], lab
    # entities: exactly the B/I runs, with their text
    runs, cur = [], None
    for t in toks:
        lab = t["label"]
        if lab.startswith("B-") or lab == "O":
            cur = None
        if lab.startswith("B-"):
            cur = [lab[2:], t["start"], t["end"]]
            runs.append(cur)
        elif lab.startswith("I-"):
            cur[2] = t["end"]
    ents = [(e["type"], e["fragments"][0][0], e["fragments"][-1][1]) for e in r["entities"]]
    assert ents == [tuple(x) for x in runs], (ents, runs)
    for e in r["entities"]:
        a, b = e["fragments"][0][0], e["fragments"][-1][1]
        assert e["text"] == text[a:b], e
PY
echo "ok: demo script, the default CRF and knn-shot on examples/demo-train, whole JSONL"
