#!/usr/bin/env bash
# Lengths of the C functions under the given paths (default: src), found as
# universal-ctags reports their starts and measured by matching braces from
# there (strings, character constants and comments skipped), so a macro or
# an odd layout cannot fool the count.  Prints "LINES FILE:LINE NAME" for
# every function longer than --max lines (default 150), longest first, and
# exits 1 when there is one that --allow FILE does not list (lines
# "FILE NAME", # comments).  --all prints every function.
#
#   scripts/func-lengths.sh [--max N] [--allow FILE] [--all] [PATH...]
set -euo pipefail
max=150
allow=
all=0
while [ $# -gt 0 ]; do
    case $1 in
    --max) max=$2; shift 2;;
    --allow) allow=$2; shift 2;;
    --all) all=1; shift;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    --) shift; break;;
    -*) echo "func-lengths: unknown option $1" >&2; exit 2;;
    *) break;;
    esac
done
[ $# -gt 0 ] || set -- src
command -v ctags >/dev/null || { echo "func-lengths: ctags not found (apt-get install universal-ctags)" >&2; exit 2; }
ctags --version 2>/dev/null | grep -q Universal || { echo "func-lengths: needs universal-ctags" >&2; exit 2; }
files=$(find "$@" -name '*.c' | sort)
[ -n "$files" ] || { echo "func-lengths: no C files under $*" >&2; exit 2; }
# shellcheck disable=SC2086
ctags --output-format=json --fields=+n --kinds-C=f --languages=C -o - $files |
python3 -c '
import json, sys
maxlen, allow_path, show_all = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "1"
allowed = set()
if allow_path:
    for line in open(allow_path):
        line = line.split("#", 1)[0].split()
        if len(line) == 2:
            allowed.add(tuple(line))
starts = {}
for line in sys.stdin:
    t = json.loads(line)
    if t.get("_type") == "tag" and t.get("kind") == "function":
        starts.setdefault(t["path"], []).append((t["line"], t["name"]))

def body_end(text, pos):
    """Index just past the brace that closes the first { at or after pos."""
    depth, i, n = 0, pos, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            i = text.index("*/", i + 2) + 2; continue
        if c == "/" and text.startswith("//", i):
            i = text.find("\n", i); i = n if i < 0 else i; continue
        if c in "\"\x27":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1; continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return -1  # a prototype, not a definition
        i += 1
    return -1

rows = []
for path, fns in starts.items():
    text = open(path, encoding="utf-8", errors="replace").read()
    line_at = [0]
    for k, ch in enumerate(text):
        if ch == "\n":
            line_at.append(k + 1)
    for line, name in fns:
        end = body_end(text, line_at[line - 1])
        if end < 0:
            continue
        last = text.count("\n", 0, end - 1) + 1
        rows.append((last - line + 1, path, line, name))
rows.sort(key=lambda r: (-r[0], r[1], r[2]))
bad = 0
for n, path, line, name in rows:
    over = n > maxlen
    if over or show_all:
        note = ""
        if over and (path, name) in allowed:
            note = "  (allowed for now)"
        elif over:
            bad += 1
        print(f"{n:5d} {path}:{line} {name}{note}")
sys.exit(1 if bad else 0)
' "$max" "$allow" "$all"
