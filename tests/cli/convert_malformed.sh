#!/usr/bin/env bash
# clinner convert fails cleanly: a .ann with an offset past the end of its
# text makes it exit 1 with the file and line in the message, and nothing is
# left at -o (no partial file, no temporary file).  Also option errors
# (exit 2), --help, and a malformed CSV line named in the message.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/in" "$tmp/out"
printf 'Fever and rash.' >"$tmp/in/A.txt"
printf 'T1\tSIGN 0 5\tFever\n' >"$tmp/in/A.ann"
printf 'Short.' >"$tmp/in/B.txt"
printf 'T1\tSIGN 0 5\tShort\nT2\tSYMPTOM 3 60\tnothing\n' >"$tmp/in/B.ann"

for to in paper-csv conll jsonl; do
    err=$("$CLINNER_BIN" convert --from brat --to $to "$tmp/in" -o "$tmp/out/x.$to" 2>&1); rc=$?
    [ $rc -eq 1 ] || fail "--to $to: exit $rc, want 1 ($err)"
    case "$err" in
        "clinner convert: "*"B.ann:2:"*) ;;
        *) fail "--to $to: message lacks 'B.ann:2:': $err";;
    esac
done
[ -z "$(ls -A "$tmp/out")" ] || fail "files left behind: $(ls -A "$tmp/out")"
err=$("$CLINNER_BIN" convert --from brat --to brat "$tmp/in" -o "$tmp/out/brat" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "--to brat: exit $rc, want 1"
[ ! -e "$tmp/out/brat/A.ann" ] || fail "--to brat wrote A.ann before failing"

# The good document alone converts.
rm "$tmp/in/B.txt" "$tmp/in/B.ann"
"$CLINNER_BIN" convert --from brat --to conll --tokenizer paper "$tmp/in" -o "$tmp/out/a.conll" ||
    fail "good input: exit $?"
printf '# doc: A\nFever\tB-SIGN\nand\tO\nrash\tO\n.\tO\n\n' | cmp - "$tmp/out/a.conll" ||
    fail "good input: unexpected CoNLL: $(cat "$tmp/out/a.conll")"

# A malformed CSV line is named, and an existing output is left untouched.
echo keep >"$tmp/out/keep.csv"
printf 'Token,Tag,Sentence_Num,Sentence_Num_Global,File\nA,O,1,1,a.txt\nB,O,x,1,a.txt\n' >"$tmp/bad.csv"
err=$("$CLINNER_BIN" convert --from paper-csv --to jsonl "$tmp/bad.csv" -o "$tmp/out/keep.csv" 2>&1)
[ $? -eq 1 ] || fail "bad csv: exit not 1"
case "$err" in *"bad.csv:3: field Sentence_Num"*) ;; *) fail "bad csv message: $err";; esac
[ "$(cat "$tmp/out/keep.csv")" = keep ] || fail "existing output overwritten on error"
ls "$tmp/out" | grep -q tmp && fail "temporary file left behind"

# Options.
"$CLINNER_BIN" convert --help | grep -q -- '--tokenizer' || fail "--help lacks --tokenizer"
"$CLINNER_BIN" convert --from brat "$tmp/in" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no --to: not exit 2"
"$CLINNER_BIN" convert --from xml --to conll "$tmp/in" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--from xml: not exit 2"
"$CLINNER_BIN" convert --from brat --to brat "$tmp/in" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--to brat without -o: not exit 2"
"$CLINNER_BIN" convert --from brat --to conll --labels some "$tmp/in" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--labels some: not exit 2"
echo "ok"
