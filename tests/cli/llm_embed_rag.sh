#!/usr/bin/env bash
# rag with --embed-model: passages ranked by llama.cpp embeddings (here the
# tiny stories260K model stands in for an embedding model) over a small
# --kb folder; the run succeeds, the answer is aligned, and the passage
# vectors are cached (a second run reads them back and gives the same output).
set -u
. "$(dirname "$0")/../cli_stories.sh"
mkdir -p "$tmp/kb" "$tmp/cache"
echo "Fabry disease is a rare disorder. Patients have pain and rash." >"$tmp/kb/fabry.txt"
echo "The cat sat on the mat. The dog ran in the park." >"$tmp/kb/pets.txt"
echo "Addison disease affects the adrenal glands. Fatigue is common." >"$tmp/kb/addison.txt"
for run in 1 2; do
    echo "Fever and rash are common in Fabry disease ." |
        "$CLINNER_BIN" tag --backend llama --model "$model" --strategy rag --kb "$tmp/kb" \
            --embed-model "$model" --cache-dir "$tmp/cache" --decode forced --threads 1 \
            --tokenizer paper --progress off --to paper-lines -o "$tmp/out$run.lines" \
            2>"$tmp/err$run" || { cat "$tmp/err$run"; fail "run $run exited $?"; }
done
ls "$tmp/cache"/index/emb-*.bin >/dev/null 2>&1 || fail "no embedding cache written"
cmp -s "$tmp/out1.lines" "$tmp/out2.lines" || fail "cached run differs"
[ "$(grep -c ' : ' "$tmp/out1.lines")" -eq 9 ] || fail "expected 9 answer lines: $(cat "$tmp/out1.lines")"
cut -d' ' -f1 "$tmp/out1.lines" | grep -v '^######$' | tr '\n' ' ' |
    grep -qx 'Fever and rash are common in Fabry disease . ' || fail "tokens: $(cat "$tmp/out1.lines")"
"$CLINNER_BIN" tag --backend llama --model "$model" --strategy rag --kb "$tmp/kb" \
    --embed-model "$tmp/none.gguf" --progress off - </dev/null >/dev/null 2>"$tmp/e" &&
    fail "missing embedding model accepted"
grep -q "none.gguf: cannot open model file" "$tmp/e" || fail "missing embed model: $(cat "$tmp/e")"
echo "rag with embedding retrieval: aligned, cached"
