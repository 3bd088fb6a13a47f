#!/usr/bin/env bash
# Streaming, shards and merge (issue 24) with the CRF backend on the RareDis
# test split (read from $CLINNER_SHARED, skipped when absent; nothing of it
# is written outside a temporary folder):
#   - `cat test.jsonl | clinner tag --from jsonl --to FMT -` is byte-identical
#     to the file-to-file run, for jsonl, conll, paper-csv and paper-lines,
#     with 1 and 2 threads;
#   - a FIFO: the first result line is out before the input is closed;
#   - peak RSS for 20x the test split (new ids) within 20% of 1x;
#   - --shard 0/4 .. 3/4 then `clinner merge` is byte-identical to the
#     unsharded output (jsonl and conll, file and stream runs); a missing,
#     repeated or misordered shard is refused and leaves no output;
#   - a malformed line fails naming its line; --on-error skip reports it,
#     writes it to --rejects and tags the rest.
# The model: $CLINNER_SHARED/../models/raredis-crf.model-like shipped model
# when there is one (models/raredis-crf.model), else one trained here for a
# few iterations (the output's quality does not matter here).
set -u
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
B="$CLINNER_BIN"
test_split="${CLINNER_SHARED:-$root/../shared}/data/raredis/test"
train_split="${CLINNER_SHARED:-$root/../shared}/data/raredis/train"
[ -d "$test_split" ] || { echo "SKIP: no RareDis test split at $test_split"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 needed to measure peak RSS"; exit 77; }
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

model="$root/models/raredis-crf.model"
if [ ! -f "$model" ]; then
    model="$tmp/crf.model"
    "$B" train crf --train "$train_split" --max-iter 15 --progress off -o "$model" \
        >/dev/null 2>"$tmp/train.err" || { cat "$tmp/train.err"; fail "train exited $?"; }
fi
tag=("$B" tag --backend crf --model "$model" --progress off)
"$B" convert --from brat --to jsonl "$test_split" -o "$tmp/test.jsonl" || fail "convert exited $?"
ndocs=$(wc -l <"$tmp/test.jsonl")

# 1. stdin -> stdout equals the file-to-file run
for fmt in jsonl conll paper-csv paper-lines; do
    "${tag[@]}" --from jsonl --to "$fmt" "$tmp/test.jsonl" -o "$tmp/ref.$fmt" ||
        fail "$fmt: file run exited $?"
    for th in 1 2; do
        cat "$tmp/test.jsonl" | "${tag[@]}" --from jsonl --to "$fmt" --threads $th - \
            >"$tmp/stream.$fmt" || fail "$fmt: stream exited $?"
        cmp -s "$tmp/ref.$fmt" "$tmp/stream.$fmt" ||
            fail "$fmt, $th threads: streamed output differs from the file run"
    done
    echo "$fmt: stdin to stdout equals the file-to-file run (1 and 2 threads)"
done
# conll input streams too: the conll output read back and tagged again
"${tag[@]}" --from conll --to conll "$tmp/ref.conll" -o "$tmp/ref2.conll" || fail "conll file run"
"${tag[@]}" --from conll --to conll - <"$tmp/ref.conll" >"$tmp/stream2.conll" || fail "conll stream"
cmp -s "$tmp/ref2.conll" "$tmp/stream2.conll" || fail "conll input: stream differs from file run"
echo "conll input: stream equals file run"

# 2. FIFO: the first result before the input is closed
mkfifo "$tmp/fifo"
"${tag[@]}" --from jsonl --to jsonl - <"$tmp/fifo" >"$tmp/fifo.out" &
pids+=($!)
exec 3>"$tmp/fifo"
head -1 "$tmp/test.jsonl" >&3
seen=0
for _ in $(seq 200); do
    [ -s "$tmp/fifo.out" ] && { seen=1; break; }
    sleep 0.05
done
[ $seen = 1 ] || fail "no result within 10 s while the input was still open"
[ "$(wc -l <"$tmp/fifo.out")" -eq 1 ] || fail "expected exactly the first document's line"
tail -n +2 "$tmp/test.jsonl" >&3
exec 3>&-
wait "${pids[-1]}" || fail "FIFO run exited $?"
cmp -s "$tmp/fifo.out" "$tmp/ref.jsonl" || fail "FIFO run's output differs"
echo "FIFO: first result line out before the input was closed; whole output identical"

# 3. peak RSS: 1x vs 20x the test split (ids made new for each copy)
python3 - "$tmp/test.jsonl" "$tmp/x20.jsonl" <<'EOF'
import json, sys
docs = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for k in range(20):
        for d in docs:
            d2 = dict(d, id="%s~%d" % (d["id"], k))
            out.write(json.dumps(d2, ensure_ascii=False) + "\n")
EOF
peak() { # peak RSS (KiB) of: clinner tag ... - <INPUT >/dev/null
    python3 -c '
import resource, subprocess, sys
with open(sys.argv[1], "rb") as f:
    rc = subprocess.call(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL)
if rc: sys.exit(rc)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$1" "${tag[@]}" --from jsonl --to jsonl -
}
if [ -n "${CLINNER_SANITIZER:-}" ]; then
    # ASan keeps freed memory in quarantine (up to 256 MB): RSS says nothing
    echo "peak RSS: not measured under the sanitizers"
else
    r1=$(peak "$tmp/test.jsonl") || fail "1x run failed"
    r20=$(peak "$tmp/x20.jsonl") || fail "20x run failed"
    echo "peak RSS: 1x ($ndocs documents) ${r1} KiB, 20x ${r20} KiB"
    [ $((r20 * 100)) -le $((r1 * 120)) ] ||
        fail "20x input peaked at ${r20} KiB, over 120% of ${r1} KiB"
fi

# 4. shards, then merge: byte-identical to the unsharded run
for fmt in jsonl conll; do
    parts=()
    for k in 0 1 2 3; do
        if [ $k = 2 ]; then # one shard from a stream, the others from files
            "${tag[@]}" --from jsonl --to $fmt --shard $k/4 - <"$tmp/test.jsonl" >"$tmp/p$k.$fmt"
        else
            "${tag[@]}" --from jsonl --to $fmt --shard $k/4 "$tmp/test.jsonl" -o "$tmp/p$k.$fmt"
        fi || fail "shard $k/4 exited $?"
        parts+=("$tmp/p$k.$fmt")
    done
    n=$(cat "${parts[@]}" | grep -c '"id"\|^# doc:')
    [ "$n" -eq "$ndocs" ] || fail "$fmt: the shards hold $n documents, the input $ndocs"
    "$B" merge --input "$tmp/test.jsonl" --to $fmt "${parts[@]}" -o "$tmp/merged.$fmt" \
        2>/dev/null || fail "$fmt: merge exited $?"
    cmp -s "$tmp/merged.$fmt" "$tmp/ref.$fmt" || fail "$fmt: merged shards differ from the unsharded run"
    echo "$fmt: shards 0..3 of 4 merged are byte-identical to the unsharded run"
done
p=("$tmp/p0.jsonl" "$tmp/p1.jsonl" "$tmp/p2.jsonl" "$tmp/p3.jsonl")
! "$B" merge --input "$tmp/test.jsonl" "${p[0]}" "${p[1]}" "${p[3]}" "${p[2]}" -o "$tmp/bad" \
    2>"$tmp/err" || fail "misordered shards accepted"
grep -q "found document" "$tmp/err" || fail "misorder message: $(cat "$tmp/err")"
[ ! -e "$tmp/bad" ] || fail "a failed merge left output"
(cat "${p[1]}"; head -1 "${p[1]}") >"$tmp/dup.jsonl"
! "$B" merge --input "$tmp/test.jsonl" "${p[0]}" "$tmp/dup.jsonl" "${p[2]}" "${p[3]}" -o "$tmp/bad" \
    2>"$tmp/err" || fail "a repeated document was accepted"
grep -q "not in the input (or not once)" "$tmp/err" || fail "repeat message: $(cat "$tmp/err")"
sed 1d "${p[3]}" >"$tmp/short.jsonl"
! "$B" merge --input "$tmp/test.jsonl" "${p[0]}" "${p[1]}" "${p[2]}" "$tmp/short.jsonl" \
    -o "$tmp/bad" 2>"$tmp/err" || fail "a missing document was accepted"
echo "merge refuses misordered shards, repeated and missing documents"
"${tag[@]}" --shard 4/4 "$tmp/test.jsonl" 2>"$tmp/err" && fail "--shard 4/4 accepted"
grep -q "K/N" "$tmp/err" || fail "bad --shard message: $(cat "$tmp/err")"

# 5. malformed lines
{ head -2 "$tmp/test.jsonl"; echo '{"id":"x","text":12}'; echo 'not json'
  sed -n 3,4p "$tmp/test.jsonl"; } >"$tmp/mal.jsonl"
"${tag[@]}" --from jsonl - <"$tmp/mal.jsonl" >"$tmp/mal.out" 2>"$tmp/err" &&
    fail "a malformed line was accepted"
grep -q "stdin:3: field text" "$tmp/err" || fail "error does not name line 3: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/mal.out")" -eq 2 ] || fail "the two documents before the bad line were not written"
"${tag[@]}" --from jsonl --on-error skip --rejects "$tmp/rej" - <"$tmp/mal.jsonl" \
    >"$tmp/skip.out" 2>"$tmp/err" || fail "--on-error skip exited $?"
grep -q "skipped: stdin:3" "$tmp/err" && grep -q "skipped: stdin:4: invalid JSON" "$tmp/err" ||
    fail "skipped lines not reported: $(cat "$tmp/err")"
[ "$(sed -n 3,4p "$tmp/mal.jsonl")" = "$(cat "$tmp/rej")" ] || fail "rejects file: $(cat "$tmp/rej")"
head -4 "$tmp/ref.jsonl" | cmp -s - "$tmp/skip.out" || fail "--on-error skip: output differs"
# the file path (checkpointed run) skips the same way
"${tag[@]}" --from jsonl --on-error skip "$tmp/mal.jsonl" -o "$tmp/skip2.out" 2>/dev/null ||
    fail "file run with --on-error skip exited $?"
cmp -s "$tmp/skip.out" "$tmp/skip2.out" || fail "file run with --on-error skip differs"
echo "malformed lines: error names the line; --on-error skip reports, rejects and goes on"
echo ok
