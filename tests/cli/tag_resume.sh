#!/usr/bin/env bash
# kill -9 in the middle of `clinner tag`, then --resume: the output must be
# byte-identical to an uninterrupted run, for several output formats and
# kill points (twice in one run too).  The backend is openai against a fake
# server (tests/cli/fake_openai.py) that answers deterministically and
# slowly enough to be interrupted; one server fails every 4th request to
# show retries do not change the output.  The counters in the summary
# (answers misaligned, tokens) of a resumed run equal an uninterrupted
# run's: the server misaligns the answers of sentences holding "3".  The raw
# answers (--answers) resume the same way.
# Also: a leftover checkpoint is
# never silently overwritten, a checkpoint of other options is refused, and
# a damaged journal tail is ignored.
set -u
command -v python3 >/dev/null || { echo "SKIP: python3 needed for the fake server"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
B="$CLINNER_BIN"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

start_server() { # NAME ARGS...: starts the fake server, sets $port
    local name=$1; shift
    python3 "$here/fake_openai.py" "$tmp/$name.port" "$@" &
    pids+=($!)
    for _ in $(seq 100); do [ -f "$tmp/$name.port" ] && break; sleep 0.05; done
    [ -f "$tmp/$name.port" ] || fail "fake server did not start"
    port=$(cat "$tmp/$name.port")
}

# a synthetic corpus: 10 documents of 6 sentences
mkdir "$tmp/in"
for d in 0 1 2 3 4 5 6 7 8 9; do
    for s in 1 2 3 4 5 6; do
        printf 'Visit %s of patient %s showed Crohn Disease with arthritis and fever. ' "$s" "$d"
    done >"$tmp/in/doc$d.txt"
done

start_server slow --delay 0.01 --misalign 3
slow=$port
api=(--backend openai --api-base "http://127.0.0.1:$slow/v1" --from brat --progress off)

count_s() { local n; n=$(grep -c '^S ' "$1" 2>/dev/null); echo "${n:-0}"; }

for fmt in jsonl paper-csv conll; do
    ref="$tmp/ref.$fmt"
    "$B" tag "${api[@]}" --to "$fmt" "$tmp/in" -o "$ref" --answers "$ref.answers" \
        --progress lines 2>"$tmp/err" ||
        { cat "$tmp/err"; fail "$fmt: reference run exited $?"; }
    # "prompt tokens N, generated tokens N; misaligned sentences 15": the
    # sentences "Visit 3 ..." (10) and those of patient 3 (6, one of them both)
    counters() { sed -n 's/^clinner tag: tagged .*\(; prompt tokens.*\)$/\1/p' "$1"; }
    ref_counters=$(counters "$tmp/err")
    case $ref_counters in *"misaligned sentences 15"*) ;;
        *) cat "$tmp/err"; fail "$fmt: reference summary: '$ref_counters'" ;; esac
    [ -d "$ref.clinner-run" ] && fail "$fmt: checkpoint left after a finished run"
    # one answer line per sentence, the misaligned ones flagged, valid JSON
    [ "$(wc -l <"$ref.answers")" = 60 ] || fail "$fmt: $(wc -l <"$ref.answers") answer lines, not 60"
    [ "$(grep -c '"misaligned":true' "$ref.answers")" = 15 ] || fail "$fmt: misaligned answers"
    python3 -c 'import json,sys
for l in open(sys.argv[1]):
    a = json.loads(l)
    assert a["doc"].startswith("doc") and len(a["tokens"]) == 13 and a["answer"].count(" : ") >= 1, a
    assert a["misaligned"] == (a["lines"] != 13), a' \
        "$ref.answers" || fail "$fmt: answers file"
    grep -q '"tokens":\["Visit","1","of","patient","0",' "$ref.answers" || fail "$fmt: answer tokens"
    for k in 5 23 47; do
        out="$tmp/out.$fmt"
        rm -rf "$out" "$out.clinner-run" "$out.answers"
        "$B" tag "${api[@]}" --to "$fmt" "$tmp/in" -o "$out" --answers "$out.answers" 2>/dev/null &
        pid=$!
        for _ in $(seq 2000); do
            [ "$(count_s "$out.clinner-run/journal")" -ge "$k" ] && break
            sleep 0.005
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        [ -e "$out" ] && fail "$fmt/$k: output exists after kill -9"
        [ -e "$out.answers" ] && fail "$fmt/$k: answers exist after kill -9"
        done_s=$(count_s "$out.clinner-run/journal")
        # a second interruption, in the resumed run
        if [ "$k" = 23 ]; then
            "$B" tag "${api[@]}" --to "$fmt" "$tmp/in" -o "$out" --answers "$out.answers" \
                --resume 2>/dev/null &
            pid=$!
            for _ in $(seq 2000); do
                [ "$(count_s "$out.clinner-run/journal")" -ge $((k + 12)) ] && break
                sleep 0.005
            done
            kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null
        fi
        "$B" tag "${api[@]}" --to "$fmt" "$tmp/in" -o "$out" --answers "$out.answers" --resume \
            --progress lines 2>"$tmp/err" || { cat "$tmp/err"; fail "$fmt/$k: resume exited $?"; }
        cmp -s "$ref" "$out" || { diff "$ref" "$out" | head; fail "$fmt/$k: resumed output differs"; }
        cmp -s "$ref.answers" "$out.answers" ||
            { diff "$ref.answers" "$out.answers" | head -c 2000; fail "$fmt/$k: resumed answers differ"; }
        [ "$(counters "$tmp/err")" = "$ref_counters" ] ||
            { cat "$tmp/err"; fail "$fmt/$k: counters '$(counters "$tmp/err")', not '$ref_counters'"; }
        [ -d "$out.clinner-run" ] && fail "$fmt/$k: checkpoint left after resume"
        echo "$fmt: killed after $done_s sentences, resumed: identical"
    done
done
grep -q "resuming:" "$tmp/err" || { cat "$tmp/err"; fail "no resume note"; }
grep -q "from the checkpoint" "$tmp/err" || { cat "$tmp/err"; fail "no summary"; }

# answers with the output on stdout (no checkpoint): the same file
"$B" tag "${api[@]}" --to jsonl "$tmp/in" --answers "$tmp/stdout.answers" >"$tmp/stdout.jsonl" \
    2>"$tmp/err" || { cat "$tmp/err"; fail "answers beside stdout exited $?"; }
cmp -s "$tmp/ref.jsonl.answers" "$tmp/stdout.answers" || fail "answers beside stdout differ"
[ -e "$tmp/stdout.answers.part" ] && fail "answers part file left"
"$B" tag "${api[@]}" "$tmp/in" -o "$tmp/x.jsonl" --answers "$tmp/x.jsonl" 2>"$tmp/err" &&
    fail "answers over the output accepted"
grep -q "a file of its own" "$tmp/err" || { cat "$tmp/err"; fail "no message for --answers = -o"; }
# a run started with --answers does not resume without them (nor the reverse)
out="$tmp/out3.jsonl"
"$B" tag "${api[@]}" "$tmp/in" -o "$out" --answers "$out.answers" 2>/dev/null &
pid=$!
for _ in $(seq 2000); do [ "$(count_s "$out.clinner-run/journal")" -ge 10 ] && break; sleep 0.005; done
kill -9 "$pid" 2>/dev/null
{ wait "$pid"; } 2>/dev/null
"$B" tag "${api[@]}" "$tmp/in" -o "$out" --resume 2>"$tmp/err" && fail "resumed without --answers"
grep -q "other options" "$tmp/err" || { cat "$tmp/err"; fail "no 'other options' message (answers)"; }

# a leftover checkpoint is not overwritten without --resume
out="$tmp/out2.jsonl"
"$B" tag "${api[@]}" "$tmp/in" -o "$out" 2>/dev/null &
pid=$!
for _ in $(seq 2000); do [ "$(count_s "$out.clinner-run/journal")" -ge 10 ] && break; sleep 0.005; done
kill -9 "$pid" 2>/dev/null
{ wait "$pid"; } 2>/dev/null
"$B" tag "${api[@]}" "$tmp/in" -o "$out" 2>"$tmp/err" && fail "ran over a checkpoint"
grep -q -- "--resume" "$tmp/err" || { cat "$tmp/err"; fail "no hint at --resume"; }
# other options: refused
"$B" tag "${api[@]}" --temp 0.5 "$tmp/in" -o "$out" --resume 2>"$tmp/err" &&
    fail "resumed with other options"
grep -q "other options" "$tmp/err" || { cat "$tmp/err"; fail "no 'other options' message"; }
# a damaged tail of the journal is ignored
printf 'S 9 9 3 O O O ~0000000000000000\nS 1 2' >>"$out.clinner-run/journal"
"$B" tag "${api[@]}" "$tmp/in" -o "$out" --resume 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "resume after a damaged journal exited $?"; }
cmp -s "$tmp/ref.jsonl" "$out" || fail "output differs after a damaged journal"

# retries (every 4th request fails with 503) and --parallel do not change the output
start_server flaky --fail-every 4 --misalign 3
"$B" tag --backend openai --api-base "http://127.0.0.1:$port/v1" --from brat --progress off \
    --parallel 3 "$tmp/in" -o "$tmp/flaky.jsonl" 2>"$tmp/err" ||
    { cat "$tmp/err"; fail "flaky run exited $?"; }
cmp -s "$tmp/ref.jsonl" "$tmp/flaky.jsonl" || fail "retried output differs"
grep -q "HTTP 503" "$tmp/err" || { cat "$tmp/err"; fail "retries not logged"; }
echo "ok"
