#!/usr/bin/env bash
# A real browser on the web page and on an HTML eval report: headless
# Chromium (Debian's `chromium`) opens http://127.0.0.1:P/?text=..., the
# page tags the text on load, and the DOM Chromium dumps must hold one
# <mark data-type= data-start= data-end=> per entity fragment the API
# returns for that text, each around exactly the characters its code-point
# offsets name, with the entity's confidence for the hover (the text has an accent and an emoji, which JavaScript
# counts as two UTF-16 units).  Then the DOM of a `clinner eval --html`
# report comparing two predictions holds its charts, the paper average and
# highlighted examples.  Skips when chromium is absent.
. "$(dirname "$0")/../serve_common.sh"
chrome=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chrome" ] || skip "chromium not installed (apt-get install -y chromium)"
dump() { # URL OUT
    timeout 90 "$chrome" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --virtual-time-budget=10000 --dump-dom "$1" >"$2" 2>"$tmp/chrome.err" ||
        { tail -5 "$tmp/chrome.err"; fail "chromium exited $? on $1"; }
}
train_fixture_model
start_server --model "$tmp/fx.crf" --threads 1

text='Café 😀: Fabry disease causes pain in the hands and a rash.'
q=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$text")
dump "$base/?text=$q" "$tmp/page.html"
curl -s "$base/v1/tag" --data-binary "$(python3 -c 'import json, sys; print(json.dumps({"text": sys.argv[1]}))' "$text")" >"$tmp/api.json"
python3 - "$tmp/page.html" "$tmp/api.json" "$text" <<'PY' || fail "page DOM"
import html.parser, json, sys
dom, api, text = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))[0], sys.argv[3]

class Marks(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.marks = []; self.cur = None
    def handle_starttag(self, tag, attrs):
        if tag == "mark":
            self.cur = dict(attrs); self.cur["inner"] = ""
    def handle_data(self, data):
        if self.cur is not None: self.cur["inner"] += data
    def handle_endtag(self, tag):
        if tag == "mark" and self.cur is not None:
            self.marks.append(self.cur); self.cur = None

p = Marks(); p.feed(dom)
assert p.marks, "no <mark> in the DOM"
want = sorted((e["type"], f[0], f[1]) for e in api["entities"] for f in e["fragments"])
got = sorted((m["data-type"], int(m["data-start"]), int(m["data-end"])) for m in p.marks)
assert got == want, (got, want)
for m in p.marks:
    s, e = int(m["data-start"]), int(m["data-end"])
    assert m["inner"] == text[s:e], (m, text[s:e])
assert ("RAREDISEASE", 8, 21) in got, got      # "Fabry disease" after 8 code points
conf = {(e["type"], f[0]): "%.2f" % e["confidence"] for e in api["entities"] for f in e["fragments"]}
for m in p.marks:                              # what the hover shows
    assert m["data-confidence"] == conf[(m["data-type"], int(m["data-start"]))], m
n = len(api["entities"])
assert "1 document, %d entities" % n in dom, "no summary line for %d entities" % n
types = {m["data-type"] for m in p.marks}
for t in types:
    assert 'data-legend="%s"' % t in dom, "no legend chip for " + t
print("page:", [(m["data-type"], m["data-start"], m["data-end"], m["inner"]) for m in p.marks])
PY
stop_server

# an eval report: the paper's GPT-4 output and the served model, side by side
paper="${CLINNER_SHARED:-$root/../shared}/data/paper"
if [ -f "$paper/test_combined_IOB_data.csv" ]; then
    gold="$paper/test_combined_IOB_data.csv"
    pred1="$paper/gpt4-1106-preview-chat_all_5shot_result_test.txt"; f1=paper-lines
else # the fixture: gold projected by convert, the model's tags as the prediction
    "$B" convert --from brat --to conll --tokenizer clinical "$root/tests/fixtures/crf/train" \
        -o "$tmp/gold.conll" || fail "convert"
    gold="$tmp/gold.conll"; pred1="$gold"; f1=conll
fi
gf=$(case "$gold" in *.csv) echo paper-csv;; *) echo conll;; esac)
"$B" convert --from "$gf" --to conll "$gold" -o "$tmp/all-o.conll" 2>/dev/null || fail "convert gold"
sed -i 's/\t.*/\tO/' "$tmp/all-o.conll"   # a prediction that finds nothing
"$B" eval --gold "$gold" --gold-format "$gf" --pred "$pred1" --pred-format "$f1" \
    --pred "$tmp/all-o.conll" --pred-format conll --html "$tmp/report.html" >/dev/null ||
    fail "eval --html exited $?"
dump "file://$tmp/report.html" "$tmp/report.dom"
python3 - "$tmp/report.dom" <<'PY' || fail "report DOM"
import sys
d = open(sys.argv[1]).read()
assert d.count('<svg class="chart"') == 4, d.count('<svg class="chart"')
assert "average (paper)" in d and "F1 per type" in d
assert d.count('<table class="conf">') == 2
assert '<span class="g' in d and '<span class="p' in d or '<span class="g p">' in d
assert "all-o.conll" in d
print("report: 4 charts, 2 confusion tables, highlighted examples")
PY
echo ok
