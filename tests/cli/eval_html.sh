#!/usr/bin/env bash
# `clinner eval --html` on the paper's released GPT-4 few-shot output: the
# report holds the per-type charts (inline SVG) with a bar for each of the
# five types and the paper average .3214 (the paper's Table 3), the same
# per-type F1 as --json, the error breakdown and a confusion table; no
# script and nothing loaded from elsewhere.  Option errors: several --pred
# need --html, --pred-format once or once each; a failed run leaves no
# report behind.
set -u
fail() { echo "FAIL: $*"; exit 1; }
data="${CLINNER_SHARED:-}/data/paper"
gold="$data/test_combined_IOB_data.csv"
pred="$data/gpt4-1106-preview-chat_all_5shot_result_test.txt"
if [ ! -f "$gold" ] || [ ! -f "$pred" ]; then
    echo "SKIP: $data not found (set CLINNER_SHARED)"
    exit 77
fi
command -v python3 >/dev/null || { echo "SKIP: python3 needed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
B="$CLINNER_BIN"
args=(--gold "$gold" --gold-format paper-csv --pred "$pred" --pred-format paper-lines)

"$B" eval "${args[@]}" --html "$tmp/r.html" >"$tmp/table.txt" || fail "eval --html exited $?"
grep -q 'average (paper)     0.2974    0.4165    0.3214' "$tmp/table.txt" || fail "the table changed"
grep -q 'errors:' "$tmp/table.txt" && fail "--html printed the errors without --errors"
"$B" eval "${args[@]}" --json >"$tmp/r.json" || fail "eval --json exited $?"
python3 - "$tmp/r.html" "$tmp/r.json" <<'PY' || fail "report"
import json, re, sys
h, j = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
assert "<title>F1 per type</title>" in h
f1_chart = h[h.index("<title>F1 per type</title>"):]
f1_chart = f1_chart[:f1_chart.index("</svg>")]
for t in ["DISEASE", "RAREDISEASE", "SKINRAREDISEASE", "SIGN", "SYMPTOM", "average (paper)"]:
    assert ">%s</text>" % t in f1_chart, t
assert ">.3214</text>" in f1_chart, "the paper average bar"
assert "<td>0.3214</td>" in h, "the paper average in the summary"
for t, v in j["per_type"].items():
    row = re.search(r"<tr><th>%s</th>((?:<td>[^<]*</td>){4})" % re.escape(t), h)
    assert row, t
    cells = re.findall(r"<td>([^<]*)</td>", row.group(1))
    assert abs(float(cells[2]) - v["f1"]) < 5e-5, (t, cells, v)
assert "Entities by error class" in h and '<table class="conf">' in h
assert "<script" not in h and "http://" not in h.replace('xmlns="http://www.w3.org/2000/svg"', "")
print("report: per-type chart with the paper average .3214, F1s as --json")
PY

# option errors
"$B" eval "${args[@]}" --pred "$pred" 2>"$tmp/e1" && fail "two --pred without --html accepted"
grep -q 'several --pred are compared only with --html' "$tmp/e1" || fail "message: $(cat "$tmp/e1")"
"$B" eval "${args[@]}" --pred "$pred" --pred "$pred" --pred-format paper-lines --html "$tmp/x.html" \
    2>"$tmp/e2" && fail "two --pred-format for three --pred accepted"
grep -q 'one --pred-format for all --pred, or one each' "$tmp/e2" || fail "message: $(cat "$tmp/e2")"
"$B" eval "${args[@]}" --pred "$tmp/missing.txt" --html "$tmp/y.html" 2>/dev/null &&
    fail "a missing second prediction accepted"
[ -e "$tmp/y.html" ] && fail "a failed run left a report"
ls "$tmp" | grep -q 'y.html.tmp' && fail "a failed run left a temporary file"
echo ok
