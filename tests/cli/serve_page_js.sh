#!/usr/bin/env bash
# The web page's own functions, run by node on hand-made documents: the
# <mark> rendering (code-point offsets over an emoji and an accent, each
# fragment of a discontinuous entity its own mark, a fragment overlapping
# one already placed left out, text HTML-escaped) and the BRAT .ann of the
# download (fragments "s e;s e", the text of each fragment joined by a
# space, ids kept).  The browser test covers the page as a whole; this one
# the cases a CRF answer seldom has.  Skips without node.
set -u
fail() { echo "FAIL: $*"; exit 1; }
command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 needed"; exit 77; }
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$root/web/index.html" >"$tmp/fns.js" <<'PY' || fail "cannot find the page's functions"
import re, sys
js = re.search(r"<script>(.*)</script>", open(sys.argv[1]).read(), re.S).group(1)
out = [re.search(r"^const COLORS = .*?;$", js, re.S | re.M).group(0)]
for name in ["color", "esc", "renderText", "bratAnn"]:
    out.append(re.search(r"^function %s\(.*?^}$" % name, js, re.S | re.M).group(0))
print("\n".join(out))
print("module.exports = { renderText, bratAnn };")
PY
cat >"$tmp/check.js" <<'JS'
const assert = require("assert");
const { renderText, bratAnn } = require(process.argv[2]);
// "😀 é <fever> and pain in the left hand": 😀 is one code point, two UTF-16 units
const text = "😀 é <fever> and pain in the left hand";
const doc = { id: "d", text, entities: [
  { id: "T1", type: "SIGN", fragments: [[4, 11]], confidence: 0.91 },                // <fever>
  { id: "T7", type: "SYMPTOM", fragments: [[16, 20], [28, 37]], confidence: 0.5 },  // pain ... left hand
  { id: "T3", type: "DISEASE", fragments: [[5, 9]] },                               // overlaps T1: left out
] };
const html = renderText(doc);
const marks = [...html.matchAll(/<mark data-type="(\w+)" data-start="(\d+)" data-end="(\d+)" data-confidence="([^"]*)"[^>]*>(.*?)<\/mark>/g)]
  .map((m) => [m[1], +m[2], +m[3], m[4], m[5]]);
assert.deepStrictEqual(marks, [
  ["SIGN", 4, 11, "0.91", "&lt;fever&gt;"],
  ["SYMPTOM", 16, 20, "0.50", "pain"],
  ["SYMPTOM", 28, 37, "0.50", "left hand"],
]);
assert.ok(html.startsWith("😀 é "), html);
assert.ok(!html.includes("<fever>"), "unescaped text");
assert.strictEqual(bratAnn(doc),
  "T1\tSIGN 4 11\t<fever>\n" +
  "T7\tSYMPTOM 16 20;28 37\tpain left hand\n" +
  "T3\tDISEASE 5 9\tfeve\n");
// an entity without an id gets T<position>; newlines in its text become spaces
assert.strictEqual(bratAnn({ text: "a\nb", entities: [{ type: "X", fragments: [[0, 3]] }] }),
  "T1\tX 0 3\ta b\n");
console.log("page functions: marks at code-point offsets, discontinuous, overlap, escaping, BRAT");
JS
node "$tmp/check.js" "$tmp/fns.js" || fail "page functions"
echo ok
