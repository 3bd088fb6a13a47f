#!/usr/bin/env bash
# `clinner eval`'s messages when the inputs do not fit together, each on
# hand-made files (issue 20, point 5): the same sentences laid out in
# documents differently (one document not ending in . ? ! runs on into the
# next), a UTF-8 byte-order mark in one file only (skipped) and a no-break
# space (shown escaped), a directory given as a file, IOBES labels in strict
# mode (an error naming file, document, sentence, token and label, as
# seqeval raises; default mode reads them), and --help's rules.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ev() { "$CLINNER_BIN" eval "$@"; }
cd "$tmp" || exit 1

# ---- documents laid out differently: 2 sentences each, other units ----
printf '# doc: a\nFièvre\tB-SIGN\n\n# doc: b\nDouleur\tB-SYMPTOM\n.\tO' >g1.conll
printf '# doc: a\nFièvre\tB-SIGN\n\nDouleur\tB-SYMPTOM\n.\tO' >p1.conll
ev --gold g1.conll --gold-format conll --pred p1.conll --pred-format conll >/dev/null 2>e1; rc=$?
[ $rc -eq 1 ] || fail "layout: exit $rc"
grep -q 'sentences but the gold has' e1 && fail "layout: contradictory count message: $(cat e1)"
grep -q "^clinner eval: sentence 1: gold (g1.conll) has 3 tokens (document a, sentence 1 + document b, sentence 1), predictions (p1.conll) 1 (document a, sentence 1); the two split the text into documents differently" e1 ||
    fail "layout message: $(cat e1)"
grep -q 'does not end in \. ? !' e1 || fail "layout message lacks the rule: $(cat e1)"
# other sentence counts: say which side ends first
printf '# doc: a\nFièvre\tB-SIGN\n' >p1b.conll
ev --gold p1.conll --gold-format conll --pred p1b.conll --pred-format conll >/dev/null 2>e1b
grep -q "gold (p1.conll) has 2 sentences, predictions (p1b.conll) 1 .*the predictions end before gold document a, sentence 2" e1b ||
    fail "count message: $(cat e1b)"

# ---- a BOM in one file only is skipped; a no-break space is shown ----
printf '\xef\xbb\xbf# doc: a\nFièvre\tB-SIGN\n.\tO\n' >bom.conll
printf '# doc: a\nFièvre\tB-SIGN\n.\tO\n' >nobom.conll
ev --gold bom.conll --gold-format conll --pred nobom.conll --pred-format conll --json >bom.json 2>e2 ||
    fail "BOM in gold only: $(cat e2)"
grep -q '"micro":{[^}]*"f1":1' bom.json || fail "BOM: not a perfect score: $(cat bom.json)"
j='{"id":"a","text":"Fièvre.","tokens":[{"start":0,"end":6,"label":"B-SIGN"},{"start":6,"end":7,"label":"O"}]}'
printf '\xef\xbb\xbf%s' "$j" >bom.jsonl
printf '%s\n' "$j" >nobom.jsonl
ev --gold nobom.jsonl --gold-format jsonl --pred bom.jsonl --pred-format jsonl >/dev/null 2>e2b ||
    fail "BOM in jsonl predictions: $(cat e2b)"
printf 'de\xc2\xa0novo\tO\n' >nbsp.conll
printf 'de novo\tO\n' >sp.conll
ev --gold nbsp.conll --gold-format conll --pred sp.conll --pred-format conll >/dev/null 2>e3
grep -qF "token 1: gold 'de\u{00A0}novo', predictions 'de novo'" e3 || fail "no-break space: $(cat e3)"

# ---- a directory where a file is expected ----
mkdir adir
ev --gold adir --gold-format conll --pred sp.conll --pred-format conll >/dev/null 2>e4; rc=$?
[ $rc -eq 1 ] && grep -q "^clinner eval: adir: is a directory, not a file" e4 || fail "directory: exit $rc, $(cat e4)"
ev --gold sp.conll --gold-format conll --pred adir --pred-format paper-lines >/dev/null 2>e4b
grep -q "adir: is a directory, not a file" e4b || fail "directory (paper-lines): $(cat e4b)"

# ---- IOBES in strict mode: an error, as seqeval raises ----
printf '# doc: a\nFièvre\tB-SIGN\n.\tO\n\nDouleur\tS-SYMPTOM\n.\tO' >iobes.conll
printf '# doc: a\nFièvre\tB-SIGN\n.\tO\n\nDouleur\tB-SYMPTOM\n.\tO' >iob2.conll
ev --gold iob2.conll --gold-format conll --pred iobes.conll --pred-format conll --mode strict >/dev/null 2>e5; rc=$?
[ $rc -eq 1 ] || fail "strict IOBES: exit $rc"
grep -q "^clinner eval: predictions (iobes.conll), sentence 2 (document a, sentence 2), token 1 ('Douleur'): label 'S-SYMPTOM' is not IOB2" e5 ||
    fail "strict IOBES message: $(cat e5)"
ev --gold iobes.conll --gold-format conll --pred iob2.conll --pred-format conll --mode strict >/dev/null 2>e5b
grep -q "^clinner eval: gold (iobes.conll), sentence 2" e5b || fail "strict IOBES in gold: $(cat e5b)"
ev --gold iob2.conll --gold-format conll --pred iobes.conll --pred-format conll --json >def.json ||
    fail "default mode with IOBES exited $?"
grep -q '"micro":{[^}]*"f1":1' def.json || fail "default mode: S- is a one-token entity: $(cat def.json)"

# ---- --help states the rules ----
ev --help >help.txt
grep -q "does not end in '.', '?' or '!' runs on into the next" help.txt || fail "--help: unit rule"
grep -q "E-X ends the entity" help.txt && grep -q "S-X is a one-token entity" help.txt ||
    fail "--help: E-/S- in default mode"
grep -q "(E-X, S-X, anything else) is an error" help.txt || fail "--help: strict mode"
echo "eval messages: layout, BOM, no-break space, directory, strict IOBES, --help ok"
