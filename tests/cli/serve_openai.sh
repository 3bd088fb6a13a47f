#!/usr/bin/env bash
# `clinner serve` on a backend that is not reentrant (openai, against the
# deterministic stand-in server tests/cli/fake_openai.py): one tagging
# thread, tag calls serialised, and 8 concurrent requests all answered
# with the labels the stand-in gives (capitalised words DISEASE); the
# backend's own key comes from --openai-key-env, the server's from
# --api-key-env, neither in the log; a backend that keeps failing gives
# 502 with its message, and the server still answers.
. "$(dirname "$0")/../serve_common.sh"
here="$root/tests/cli"
pids=()
python3 "$here/fake_openai.py" "$tmp/fake.port" --delay 0.02 --key backend-key-55 &
fake=$!
for _ in $(seq 100); do [ -s "$tmp/fake.port" ] && break; sleep 0.05; done
[ -s "$tmp/fake.port" ] || fail "fake server did not start"
fport=$(cat "$tmp/fake.port")
trap 'kill $fake 2>/dev/null; cleanup' EXIT

export CLINNER_TEST_BACKEND_KEY=backend-key-55 CLINNER_TEST_SERVER_KEY=server-key-66
start_server --backend openai --api-base "http://127.0.0.1:$fport/v1" --retries 0 \
    --openai-key-env CLINNER_TEST_BACKEND_KEY --api-key-env CLINNER_TEST_SERVER_KEY --threads 4
auth=(-H "Authorization: Bearer $CLINNER_TEST_SERVER_KEY")
curl -s "${auth[@]}" "$base/v1/models" | python3 -c "
import json, sys
m = json.load(sys.stdin)['models'][0]
assert m['backend'] == 'openai' and m['reentrant'] is False, m" || fail "/v1/models"
curl -s "$base/metrics" | grep -q '^clinner_workers 1$' || fail "a non-reentrant backend should get one tagging thread"
for i in 1 2 3 4 5 6 7 8; do
    curl -s -o "$tmp/r$i.json" -w '%{http_code}' "${auth[@]}" "$base/v1/tag" \
        -d "{\"documents\": [{\"id\": \"a$i\", \"text\": \"Crohn Disease and arthritis in patient $i.\"}, {\"id\": \"b$i\", \"text\": \"No Fever here.\"}]}" \
        >"$tmp/c$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for i in 1 2 3 4 5 6 7 8; do
    [ "$(cat "$tmp/c$i")" = 200 ] || fail "request $i: $(cat "$tmp/c$i") $(cat "$tmp/r$i.json")"
    python3 - "$tmp/r$i.json" "$i" <<'PY' || fail "request $i answer"
import json, sys
a, b = json.load(open(sys.argv[1]))
assert a["id"] == "a" + sys.argv[2] and b["id"] == "b" + sys.argv[2]
ents = [(e["type"], e["text"]) for e in a["entities"]]
assert ents == [("DISEASE", "Crohn Disease"), ("SIGN", "arthritis")], ents
assert [(e["type"], e["text"]) for e in b["entities"]] == [("DISEASE", "No Fever")], b["entities"]
PY
done
grep -qE 'backend-key-55|server-key-66' "$tmp/server.log" && fail "a key is in the log"
stop_server
echo "8 concurrent requests on a serialised backend: all answered as the stand-in labels"

# a backend that fails: 502 with its message, and the server still answers
kill "$fake"; wait "$fake" 2>/dev/null
python3 "$here/fake_openai.py" "$tmp/fail.port" --fail-every 1 &
fake=$!
for _ in $(seq 100); do [ -s "$tmp/fail.port" ] && break; sleep 0.05; done
start_server --backend openai --api-base "http://127.0.0.1:$(cat "$tmp/fail.port")/v1" --retries 0
code=$(curl -s -o "$tmp/f.json" -w '%{http_code}' "$base/v1/tag" -d '{"text": "Crohn Disease."}')
[ "$code" = 502 ] || fail "failing backend: status $code $(cat "$tmp/f.json")"
grep -q '"error":"document text: ' "$tmp/f.json" || fail "502 message: $(cat "$tmp/f.json")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "not answering after a 502"
stop_server
echo "failing backend: 502 naming the document, still answering"
echo ok
