#!/usr/bin/env bash
# clinner convert between formats on small inline inputs: text from stdin
# (tokenized, all O), --labels paper dropping ANAPHOR and the relations
# that name it, tags decoded into entities for brat/jsonl output, and a
# brat -> jsonl -> brat round trip.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/in"
printf 'It causes short stature. Rare.' >"$tmp/in/D.txt"
printf 'T1\tANAPHOR 0 2\tIt\nT2\tSIGN 10 23\tshort stature\nR1\tAnaphora Arg1:T2 Arg2:T1\t\n' \
    >"$tmp/in/D.ann"

# text from stdin: one document "stdin", every token O
out=$(printf 'Hello world.\n' | "$CLINNER_BIN" convert --from text --to conll --tokenizer paper -) ||
    fail "text: exit $?"
[ "$out" = "$(printf '# doc: stdin\nHello\tO\nworld\tO\n.\tO')" ] || fail "text: got '$out'"

# default keeps ANAPHOR (as the paper's CSVs do); --labels paper drops it
out=$("$CLINNER_BIN" convert --from brat --to paper-csv --tokenizer paper "$tmp/in") || fail "csv"
echo "$out" | grep -qx 'It,B-ANAPHOR,1,1,D.txt' || fail "ANAPHOR not kept: $out"
echo "$out" | grep -qx 'stature,I-SIGN,1,1,D.txt' || fail "SIGN: $out"
echo "$out" | grep -qx 'Rare,O,2,2,D.txt' || fail "second sentence: $out"
out=$("$CLINNER_BIN" convert --from brat --to paper-csv --tokenizer paper --labels paper "$tmp/in")
echo "$out" | grep -qx 'It,O,1,1,D.txt' || fail "--labels paper kept ANAPHOR: $out"
out=$("$CLINNER_BIN" convert --from paper-csv --to conll --labels paper - <<<"$(
    "$CLINNER_BIN" convert --from brat --to paper-csv --tokenizer paper "$tmp/in")")
echo "$out" | grep -q 'ANAPHOR' && fail "--labels paper on token input kept ANAPHOR"
# brat -> brat: relations kept, except those naming an entity --labels drops
"$CLINNER_BIN" convert --from brat --to brat "$tmp/in" -o "$tmp/all" || fail "brat->brat"
grep -q "$(printf '^R1\tAnaphora Arg1:T2 Arg2:T1')" "$tmp/all/D.ann" || fail "R1: $(cat "$tmp/all/D.ann")"
"$CLINNER_BIN" convert --from brat --to brat --labels paper "$tmp/in" -o "$tmp/five" || fail "--labels"
[ "$(cat "$tmp/five/D.ann")" = "$(printf 'T2\tSIGN 10 23\tshort stature')" ] ||
    fail "--labels paper left: $(cat "$tmp/five/D.ann")"

# brat -> jsonl -> brat keeps entities; conll -> brat decodes them from tags
"$CLINNER_BIN" convert --from brat --to jsonl "$tmp/in" -o "$tmp/d.jsonl" || fail "to jsonl"
grep -q '"fragments":\[\[10,23\]\]' "$tmp/d.jsonl" || fail "jsonl: $(cat "$tmp/d.jsonl")"
"$CLINNER_BIN" convert --from jsonl --to brat "$tmp/d.jsonl" -o "$tmp/rt" || fail "to brat"
cmp "$tmp/rt/D.txt" "$tmp/in/D.txt" || fail "brat round trip changed the text"
grep -q "$(printf 'SIGN 10 23\tshort stature')" "$tmp/rt/D.ann" || fail "ann: $(cat "$tmp/rt/D.ann")"
printf '# doc: C\nshort\tB-SIGN\nstature\tI-SIGN\nhere\tO\n\n' >"$tmp/c.conll"
"$CLINNER_BIN" convert --from conll --to brat "$tmp/c.conll" -o "$tmp/fromconll" || fail "conll->brat"
[ "$(cat "$tmp/fromconll/C.txt")" = "short stature here" ] || fail "C.txt"
grep -q "$(printf 'SIGN 0 13\tshort stature')" "$tmp/fromconll/C.ann" ||
    fail "C.ann: $(cat "$tmp/fromconll/C.ann")"
echo "ok"
