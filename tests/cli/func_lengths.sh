#!/usr/bin/env bash
# No function in src/ is longer than 150 lines (issue 21): a brace-matching
# count from universal-ctags' function starts (scripts/func-lengths.sh).
# Skipped (77) where universal-ctags or python3 is missing.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v ctags >/dev/null || ! ctags --version 2>/dev/null | grep -q Universal ||
    ! command -v python3 >/dev/null; then
    echo "skipped: needs universal-ctags and python3 (apt-get install universal-ctags)"
    exit 77
fi
cd "$root"
if ! out=$(scripts/func-lengths.sh --max 150 src); then
    echo "FAIL: functions over 150 lines:"
    echo "$out"
    exit 1
fi
# the checker itself: a function of 151 lines is found, one of 150 is not
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
    echo 'int long_one(void)'
    echo '{'
    echo '    int x = 0; /* { not a brace */'
    for i in $(seq 146); do echo "    x += '}' + $i; // }"; done
    echo '    return x;'
    echo '}'
    echo 'static int short_one(void) { const char *s = "}"; return s[0]; }'
} >"$tmp/f.c"
out=$(scripts/func-lengths.sh --max 150 "$tmp") && { echo "FAIL: 151 lines not found"; exit 1; }
echo "$out" | grep -q "^  151 .*long_one" || { echo "FAIL: checker said: $out"; exit 1; }
scripts/func-lengths.sh --max 151 "$tmp" >/dev/null || { echo "FAIL: 151 <= 151 flagged"; exit 1; }
echo "no function in src/ over 150 lines; checker checked"
