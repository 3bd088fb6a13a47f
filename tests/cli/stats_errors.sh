#!/usr/bin/env bash
# clinner stats: --help, a table on the hand-made fixtures, and errors that
# name the file and line (exit 1) or the bad option (exit 2).
set -u
fix="$(dirname "$0")/../fixtures/brat"
fail() { echo "FAIL: $*"; exit 1; }

"$CLINNER_BIN" stats --help | grep -q -- '--tokenizer' || fail "--help lacks --tokenizer"

out=$("$CLINNER_BIN" stats "$fix/good") || fail "stats on fixtures exited $?"
echo "$out" | grep -Eq '^documents +5$' || fail "documents != 5: $out"
echo "$out" | grep -Eq '^discontinuous +1$' || fail "discontinuous != 1: $out"

err=$("$CLINNER_BIN" stats "$fix/bad/past_end.txt" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] || fail "bad .ann: exit $rc, want 1"
case "$err" in
    *"past_end.ann:2: offsets 12-900 outside the text (12 characters)"*) ;;
    *) fail "message: $err";;
esac

err=$("$CLINNER_BIN" stats --format xml "$fix/good" 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] || fail "--format xml: exit $rc, want 2"
case "$err" in *"unknown format 'xml'"*) ;; *) fail "message: $err";; esac

"$CLINNER_BIN" stats >/dev/null 2>&1 && fail "no PATH accepted"
"$CLINNER_BIN" stats --bogus "$fix/good" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--bogus not exit 2"
echo "ok"
