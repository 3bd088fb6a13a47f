#!/usr/bin/env bash
# The paper's token CSVs, reproduced: `clinner convert --from brat --to
# paper-csv --tokenizer paper` on RareDis dev and test must give the released
# dev_combined_IOB_data.csv (18,041 rows) and test_combined_IOB_data.csv
# (36,973 rows) byte for byte: same rows, quoting, document order (names
# sorted by code point, as Python's sorted() does) and global sentence
# counter.  Then the same corpus through conll and jsonl and back, and the
# paper-lines layout of the paper's GPT-4 output (1,735 test blocks).
set -u
data="${CLINNER_SHARED:-}/data"
if [ ! -d "$data/raredis/dev" ] || [ ! -f "$data/paper/test_combined_IOB_data.csv" ]; then
    echo "SKIP: $data/raredis or $data/paper not found (set CLINNER_SHARED)"
    exit 77
fi
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for split in dev test; do
    want="$data/paper/${split}_combined_IOB_data.csv"
    "$CLINNER_BIN" convert --from brat --to paper-csv --tokenizer paper \
        "$data/raredis/$split" -o "$tmp/$split.csv" || fail "$split: convert exited $?"
    if ! cmp "$tmp/$split.csv" "$want"; then
        diff "$tmp/$split.csv" "$want" | head -20
        fail "$split: output differs from $want"
    fi
    echo "$split: $(($(wc -l <"$tmp/$split.csv") - 1)) rows, byte-identical"
done

# Through the other token formats and back, still byte-identical.
t="$data/paper/test_combined_IOB_data.csv"
"$CLINNER_BIN" convert --from paper-csv --to conll "$t" -o "$tmp/t.conll" || fail "to conll"
"$CLINNER_BIN" convert --from conll --to paper-csv "$tmp/t.conll" | cmp - "$t" ||
    fail "paper-csv -> conll -> paper-csv changed the file"
"$CLINNER_BIN" convert --from brat --to jsonl --tokenizer paper "$data/raredis/test" \
    -o "$tmp/t.jsonl" || fail "to jsonl"
"$CLINNER_BIN" convert --from jsonl --to paper-csv - <"$tmp/t.jsonl" | cmp - "$t" ||
    fail "brat -> jsonl -> paper-csv differs from the paper's CSV"

# paper-lines: one block per paper sentence, like their GPT-4 output file.
blocks=$("$CLINNER_BIN" convert --from paper-csv --to paper-lines "$t" | grep -c '^######$')
[ "$blocks" -eq 1735 ] || fail "paper-lines: $blocks blocks, want 1735"
first=$("$CLINNER_BIN" convert --from paper-csv --to paper-lines "$t" | head -2 | tr '\n' '|')
[ "$first" = "######|AEC : B-RAREDISEASE|" ] || fail "paper-lines starts with '$first'"
theirs=$(head -2 "$data/paper/gpt4-1106-preview-chat_all_5shot_result_test.txt" | tr '\n' '|')
[ "${theirs%%|*}" = "######" ] && [ "${theirs#*|}" != "${theirs#*|AEC : }" ] ||
    fail "their GPT-4 file no longer opens like ours: '$theirs'"
echo "ok"
