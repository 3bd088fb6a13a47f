#!/usr/bin/env bash
# `clinner eval` on the hand-made fixtures in tests/fixtures/eval: span level
# against BRAT gold (exact vs overlap, a discontinuous gold entity, UTF-8
# text without a final newline), token level between two CoNLL files
# (default vs strict: a lone I- is an entity only in default mode), LLM
# output aligned by position (cut, padded, a line without a label), the
# error breakdown, and the command's errors (usage: exit 2, data: exit 1
# with "clinner eval: FILE:LINE: ..." on stderr).
set -u
fx="$(cd "$(dirname "$0")/../fixtures/eval" && pwd)"
command -v python3 >/dev/null || { echo "SKIP: python3 needed to read the JSON"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ev() { "$CLINNER_BIN" eval "$@"; }

# jq-like check: python3 expression over the JSON in file $1 must be true
want() {
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$1" "$2" || fail "$3: expected $2 in $(cat "$1")"
}

# ---- span level: BRAT gold, jsonl entities ----
ev --gold "$fx/gold" --gold-format brat --pred "$fx/pred.jsonl" --pred-format jsonl --json \
    >"$tmp/exact.json" || fail "span exact exited $?"
# SIGN: Fièvre exact, the discontinuous skin..rash matched by the same
# fragments listed in another order, "pain" as SIGN spurious
want "$tmp/exact.json" 'r["per_type"]["SIGN"]["correct"] == 2 and r["per_type"]["SIGN"]["predicted"] == 3' "exact SIGN"
want "$tmp/exact.json" 'r["per_type"]["SKINRAREDISEASE"]["correct"] == 0' "exact SKINRAREDISEASE"
want "$tmp/exact.json" 'abs(r["micro"]["f1"] - 0.5) < 1e-9 and r["micro"]["support"] == 4' "exact micro"
want "$tmp/exact.json" '"misaligned_sentences" not in r' "no misaligned key at span level"
ev --gold "$fx/gold" --gold-format brat --pred "$fx/pred.jsonl" --pred-format jsonl \
    --match overlap --json >"$tmp/overlap.json" || fail "span overlap exited $?"
want "$tmp/overlap.json" 'r["per_type"]["SKINRAREDISEASE"]["correct"] == 1' "overlap SKINRAREDISEASE"
want "$tmp/overlap.json" 'abs(r["micro"]["precision"] - 0.75) < 1e-9' "overlap micro"
ev --gold "$fx/gold" --gold-format brat --pred "$fx/pred.jsonl" --pred-format jsonl \
    --errors >"$tmp/errors.txt" || fail "--errors exited $?"
grep -q 'Fièvre and skin rash; \[\[{{pain}}SIGN\]\]SYMPTOM\.' "$tmp/errors.txt" ||
    fail "wrong-type example missing: $(cat "$tmp/errors.txt")"

# ---- token level: CoNLL against CoNLL ----
ev --gold "$fx/gold.conll" --gold-format conll --pred "$fx/pred.conll" --pred-format conll \
    --json >"$tmp/def.json" || fail "conll default exited $?"
want "$tmp/def.json" 'r["per_type"]["SIGN"]["correct"] == 1' "default: I-SIGN after nothing is SIGN"
want "$tmp/def.json" 'r["micro"]["f1"] == 1 and r["units"] == 2' "default micro"
ev --gold "$fx/gold.conll" --gold-format conll --pred "$fx/pred.conll" --pred-format conll \
    --mode strict --json >"$tmp/strict.json" || fail "conll strict exited $?"
want "$tmp/strict.json" 'r["per_type"]["SIGN"]["predicted"] == 0 and r["per_type"]["SIGN"]["recall"] == 0' "strict: lone I- is nothing"
want "$tmp/strict.json" 'abs(r["micro"]["recall"] - 2/3) < 1e-9' "strict micro"

# ---- LLM output (paper-lines) against CoNLL gold ----
ev --gold "$fx/gold.conll" --gold-format conll --pred "$fx/pred.lines" --pred-format paper-lines \
    --json >"$tmp/lines.json" || fail "paper-lines exited $?"
want "$tmp/lines.json" 'r["misaligned_sentences"] == 2' "misaligned count"
# "rash" has no label: O, so skin..rash is cut short; "extra" is cut off
want "$tmp/lines.json" 'r["per_type"]["SKINRAREDISEASE"]["correct"] == 0 and r["per_type"]["SIGN"]["predicted"] == 1' "paper-lines alignment"

# ---- errors ----
ev --help | grep -q 'usage: clinner eval' || fail "--help"
ev --gold "$fx/gold.conll" --gold-format conll 2>"$tmp/e1"; rc=$?
[ $rc -eq 2 ] || fail "missing --pred: exit $rc"
ev --gold "$fx/gold.conll" --gold-format nope --pred x --pred-format conll 2>"$tmp/e2"; rc=$?
[ $rc -eq 2 ] && grep -q '^clinner eval: ' "$tmp/e2" || fail "bad format: exit $rc, $(cat "$tmp/e2")"
printf '######\na : O\n######\nb : O\n######\nc : O\n' >"$tmp/three.lines"
ev --gold "$fx/gold.conll" --gold-format conll --pred "$tmp/three.lines" --pred-format paper-lines \
    >/dev/null 2>"$tmp/e3"; rc=$?
[ $rc -eq 1 ] || fail "too many blocks: exit $rc"
grep -q "^clinner eval: $tmp/three.lines:5: 3 sentence blocks but the gold has 2 sentences" "$tmp/e3" ||
    fail "too many blocks message: $(cat "$tmp/e3")"
ev --gold "$tmp/none.conll" --gold-format conll --pred "$fx/pred.conll" --pred-format conll \
    >/dev/null 2>"$tmp/e4"; rc=$?
[ $rc -eq 1 ] && grep -q 'none.conll' "$tmp/e4" || fail "missing gold: exit $rc, $(cat "$tmp/e4")"
printf '# doc: a\nFever\tB-SIGN\nand\tO\n' >"$tmp/short.conll"
ev --gold "$fx/gold.conll" --gold-format conll --pred "$tmp/short.conll" --pred-format conll \
    >/dev/null 2>"$tmp/e5"; rc=$?
[ $rc -eq 1 ] && grep -q 'sentences' "$tmp/e5" || fail "sentence mismatch: exit $rc, $(cat "$tmp/e5")"
echo "eval CLI: span exact/overlap, conll default/strict, paper-lines, errors ok"
