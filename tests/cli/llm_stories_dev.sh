#!/usr/bin/env bash
# The llama backend with the tiny stories260K model on RareDis dev sentences:
# grammar and forced decoding give aligned output (one line per input token,
# the token's own text, in order: compared with the gold conversion of the
# same input), BIO-valid labels, and forced gives exactly grammar's labels.
# By default the first 5 dev documents (about 40 sentences) keep the test
# short on a small CPU; CLINNER_LLM_FULL=1 runs every dev sentence (894).
# The raw answers (--answers) of grammar and forced decoding spell out the
# labels written, and a free run's answers flag as many misaligned sentences
# as its summary counts.
# Also: a missing or corrupt model file is a clear error, never a crash.
set -u
shared=${CLINNER_SHARED:-}
dev="$shared/data/raredis/dev"
[ -d "$dev" ] || { echo "SKIP: $dev not found (set CLINNER_SHARED)"; exit 77; }
. "$(dirname "$0")/../cli_stories.sh" python3

in="$dev"
if [ "${CLINNER_LLM_FULL:-0}" != 1 ]; then
    in="$tmp/in"
    mkdir -p "$in"
    for t in $(ls "$dev"/*.txt | head -5); do
        cp "$t" "${t%.txt}.ann" "$in/"
    done
fi
"$CLINNER_BIN" convert --from brat --to paper-lines --tokenizer paper "$in" -o "$tmp/gold.lines" ||
    fail "convert exited $?"
for mode in grammar forced; do
    "$CLINNER_BIN" tag --backend llama --model "$model" --strategy zero-shot --decode "$mode" \
        --speculate off --threads 1 --progress off --from brat --to paper-lines --tokenizer paper \
        --answers "$tmp/$mode.answers" "$in" -o "$tmp/$mode.lines" 2>"$tmp/$mode.err" ||
        { cat "$tmp/$mode.err"; fail "$mode exited $?"; }
    # stories260K has no chat template: the run says which layout it used, once
    [ "$(grep -c "has no chat template llama.cpp can apply; prompts use a plain" \
        "$tmp/$mode.err")" = 1 ] || { cat "$tmp/$mode.err"; fail "$mode: no chat-template note"; }
done
first=$(ls "$in"/*.txt | head -1)
mkdir "$tmp/one" && cp "$first" "$tmp/one/"
"$CLINNER_BIN" tag --backend llama --model "$model" --strategy zero-shot --decode free \
    --threads 1 --progress lines --from brat --to paper-lines --tokenizer paper \
    --answers "$tmp/free.answers" "$tmp/one" -o "$tmp/free.lines" 2>"$tmp/free.err" ||
    { cat "$tmp/free.err"; fail "free exited $?"; }
free_mis=$(sed -n 's/.*misaligned sentences \([0-9]*\).*/\1/p' "$tmp/free.err")
[ -n "$free_mis" ] || { cat "$tmp/free.err"; fail "no misaligned count in the summary"; }
"$CLINNER_BIN" tag --backend llama --model "$model" --strategy zero-shot --decode forced \
    --speculate on --threads 1 --progress off --from brat --to paper-lines --tokenizer paper \
    "$in" -o "$tmp/spec.lines" 2>"$tmp/spec.err" || { cat "$tmp/spec.err"; fail "speculate exited $?"; }
cmp -s "$tmp/spec.lines" "$tmp/forced.lines" || fail "--speculate on changed forced decoding's output"
python3 - "$tmp/gold.lines" "$tmp/grammar.lines" "$tmp/forced.lines" "$tmp/grammar.answers" \
    "$tmp/forced.answers" "$tmp/free.answers" "$free_mis" <<'PY' || exit 1
import json
import sys
def read(p):
    blocks, cur = [], None
    for line in open(p, encoding="utf-8").read().split("\n"):
        if line == "######":
            cur = []
            blocks.append(cur)
        elif line:
            tok, sep, lab = line.rpartition(" : ")
            assert sep, f"{p}: no label in {line!r}"
            cur.append((tok, lab))
    return blocks
gold, gram, forc = (read(p) for p in sys.argv[1:4])
types = {"DISEASE", "RAREDISEASE", "SKINRAREDISEASE", "SIGN", "SYMPTOM"}
for name, pred in (("grammar", gram), ("forced", forc)):
    assert len(pred) == len(gold), f"{name}: {len(pred)} sentences, gold {len(gold)}"
    for i, (g, p) in enumerate(zip(gold, pred)):
        assert [t for t, _ in g] == [t for t, _ in p], f"{name}: sentence {i} tokens differ"
        prev = "O"
        for _, lab in p:
            assert lab == "O" or (lab[:2] in ("B-", "I-") and lab[2:] in types), f"{name}: label {lab}"
            assert not lab.startswith("I-") or prev[2:] == lab[2:], f"{name}: {prev} -> {lab}"
            prev = lab
assert gram == forc, "forced labels differ from greedy grammar labels"
for name, pred, path in (("grammar", gram, sys.argv[4]), ("forced", forc, sys.argv[5])):
    answers = [json.loads(l) for l in open(path, encoding="utf-8")]
    assert len(answers) == len(pred), f"{name}: {len(answers)} answers for {len(pred)} sentences"
    for a, p in zip(answers, pred):
        assert a["tokens"] == [t for t, _ in p] and not a["misaligned"], f"{name}: {a}"
        assert a["answer"] == "".join(f"{t} : {l}\n" for t, l in p), f"{name}: answer {a['answer']!r}"
free = [json.loads(l) for l in open(sys.argv[6], encoding="utf-8")]
assert free and sum(a["misaligned"] for a in free) == int(sys.argv[7]), "free: misaligned answers"
assert all(isinstance(a["answer"], str) for a in free), "free: a sentence without an answer"
assert all(a["misaligned"] == (a["lines"] != len(a["tokens"])) for a in free), "free: lines read"
n = len(gold); t = sum(len(b) for b in gold)
print(f"stories260K: {n} sentences, {t} tokens: grammar and forced aligned, BIO-valid, identical")
PY

# bad model files: a clear error naming the file, exit status 1
"$CLINNER_BIN" tag --backend llama --model "$tmp/none.gguf" --from text - </dev/null \
    >/dev/null 2>"$tmp/e1" && fail "missing model accepted"
grep -q "none.gguf: cannot open model file" "$tmp/e1" || fail "missing model: $(cat "$tmp/e1")"
printf 'GGUF\003\000\000\000garbage garbage garbage' >"$tmp/bad.gguf"
echo "Fever ." | "$CLINNER_BIN" tag --backend llama --model "$tmp/bad.gguf" >/dev/null 2>"$tmp/e2" &&
    fail "corrupt model accepted"
grep -q "bad.gguf: llama.cpp could not load the model" "$tmp/e2" || fail "corrupt: $(cat "$tmp/e2")"
echo "not a model" >"$tmp/txt.gguf"
echo "Fever ." | "$CLINNER_BIN" tag --backend llama --model "$tmp/txt.gguf" >/dev/null 2>"$tmp/e3" &&
    fail "text file accepted as a model"
grep -q "txt.gguf: not a GGUF model" "$tmp/e3" || fail "text model: $(cat "$tmp/e3")"
echo "bad model files: clear errors"

# a bad --speculate value is refused before anything is written
echo "Fever ." | "$CLINNER_BIN" tag --backend llama --model "$model" --decode forced \
    --speculate maybe -o "$tmp/spec-bad.jsonl" 2>"$tmp/e4" && fail "--speculate maybe accepted"
grep -q -- "--speculate: 'maybe' is not auto, on or off" "$tmp/e4" || fail "speculate: $(cat "$tmp/e4")"
ls "$tmp"/spec-bad.jsonl* >/dev/null 2>&1 && fail "a refused run left output"
echo "bad --speculate: clear error"

# --chat-template: a name llama.cpp knows replaces the plain layout (and the
# note); an unknown one, or another backend, is refused before any output
echo "Fever and rash ." | "$CLINNER_BIN" tag --backend llama --model "$model" --threads 1 \
    --chat-template chatml --to paper-lines -o "$tmp/chatml.lines" 2>"$tmp/e5" ||
    { cat "$tmp/e5"; fail "--chat-template chatml exited $?"; }
grep -q "no chat template" "$tmp/e5" && fail "chat-template note with --chat-template chatml"
[ "$(grep -c ' : ' "$tmp/chatml.lines")" = 4 ] || fail "--chat-template chatml: not 4 lines"
echo "Fever ." | "$CLINNER_BIN" tag --backend llama --model "$model" --threads 1 \
    --chat-template no-such -o "$tmp/ct-bad.jsonl" 2>"$tmp/e6" && fail "unknown template accepted"
grep -q "chat template 'no-such' is not one llama.cpp can apply; known: .*chatml" "$tmp/e6" ||
    { cat "$tmp/e6"; fail "unknown template: unclear error"; }
ls "$tmp"/ct-bad.jsonl* >/dev/null 2>&1 && fail "a refused run left output"
echo "Fever ." | "$CLINNER_BIN" tag --backend crf --chat-template chatml >/dev/null 2>"$tmp/e7" &&
    fail "--chat-template accepted for crf"
grep -q "chat-template is for the llama backend" "$tmp/e7" ||
    { cat "$tmp/e7"; fail "crf: unclear error"; }
echo "--chat-template: used, unknown names and other backends refused"

# --ctx decides which sentences are skipped as too long, so a checkpoint made
# with another --ctx (or --threads) is refused; resumed as it was made, the output is the
# uninterrupted one.  --ctx means nothing to the other backends: refused.
out="$tmp/ctx.lines"
ctxrun=(tag --backend llama --model "$model" --strategy zero-shot --decode forced --speculate off
        --progress off --from brat --to paper-lines --tokenizer paper "$in" -o "$out")
"$CLINNER_BIN" "${ctxrun[@]}" --threads 1 --ctx 2048 2>/dev/null &
pid=$!
# run it in 5 ms slices and look at the journal only while it is stopped, so
# the kill lands after its first sentence and before its last (a sentence
# takes longer than a slice)
kill -STOP "$pid" 2>/dev/null
for _ in $(seq 4000); do
    grep -q '^S ' "$out.clinner-run/journal" 2>/dev/null && break
    kill -CONT "$pid" 2>/dev/null || break
    sleep 0.005
    kill -STOP "$pid" 2>/dev/null || break
done
kill -9 "$pid" 2>/dev/null
{ wait "$pid"; } 2>/dev/null
[ -d "$out.clinner-run" ] && [ ! -e "$out" ] || fail "--ctx: no checkpoint after kill -9"
"$CLINNER_BIN" "${ctxrun[@]}" --threads 1 --resume 2>"$tmp/e8" &&
    fail "resumed without the --ctx it was made with"
grep -q "other options" "$tmp/e8" || { cat "$tmp/e8"; fail "--ctx: no 'other options' message"; }
# so does the thread count (llama.cpp's CPU sums depend on it)
"$CLINNER_BIN" "${ctxrun[@]}" --ctx 2048 --threads 2 --resume 2>"$tmp/e8" &&
    fail "resumed with --threads 2"
grep -q "other options" "$tmp/e8" || { cat "$tmp/e8"; fail "--threads: no 'other options' message"; }
"$CLINNER_BIN" "${ctxrun[@]}" --threads 1 --ctx 2048 --resume 2>"$tmp/e9" ||
    { cat "$tmp/e9"; fail "--ctx 2048 --resume exited $?"; }
cmp -s "$out" "$tmp/forced.lines" || fail "--ctx 2048, resumed: output differs from forced"
echo "Fever ." | "$CLINNER_BIN" tag --backend crf --ctx 512 >/dev/null 2>"$tmp/e10" &&
    fail "--ctx accepted for crf"
grep -q -- "--ctx is for the llama backend" "$tmp/e10" || { cat "$tmp/e10"; fail "--ctx: crf message"; }
echo "--ctx and --threads: in the resume fingerprint; --ctx refused for other backends"
