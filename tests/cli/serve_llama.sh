#!/usr/bin/env bash
# `clinner serve --backend llama` with the tiny stories260K model: the
# backend is not reentrant, so concurrent requests are tagged one at a
# time; 4 at once all answer 200, and each document is the one `clinner
# tag --backend llama` writes for the same text (forced decoding is
# deterministic).  Skips without llama.cpp or the model.
. "$(dirname "$0")/../serve_common.sh"
model=$("$root/scripts/fetch-models.sh" --path stories 2>/dev/null) || model=
[ -n "$model" ] || skip "stories260K not fetched (scripts/fetch-models.sh)"
"$B" serve --help | grep -q 'llama is not available' && skip "built without llama.cpp"
opts=(--backend llama --model "$model" --chat-template plain --threads 1)
text='Fabry disease causes pain and fever.'
printf '%s' "$text" >"$tmp/t.txt"
"$B" tag "${opts[@]}" --from text --progress off "$tmp/t.txt" >"$tmp/tag.jsonl" 2>"$tmp/tag.err" ||
    { cat "$tmp/tag.err"; fail "clinner tag exited $?"; }
start_server "${opts[@]}"
pids=()
for i in 1 2 3 4; do
    curl -s -o "$tmp/r$i.json" -w '%{http_code}' "$base/v1/tag" \
        -d "{\"documents\": [{\"id\": \"t\", \"text\": \"$text\"}]}" >"$tmp/c$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4; do
    [ "$(cat "$tmp/c$i")" = 200 ] || fail "request $i: $(cat "$tmp/c$i")"
    python3 - "$tmp/r$i.json" "$tmp/tag.jsonl" <<'PY' || fail "request $i differs from clinner tag"
import json, sys
a = json.load(open(sys.argv[1]))[0]; b = json.loads(open(sys.argv[2]).read())
a.pop("id"); b.pop("id")
assert a == b, (a, b)
PY
done
stop_server
echo ok
