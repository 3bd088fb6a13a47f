#!/usr/bin/env bash
# `clinner serve` on 127.0.0.1, for real, with curl: POST /v1/tag answers the
# documents `clinner tag --to jsonl` writes (same bytes but the id), with
# code-point offsets (checked in Python, whose str indexes code points, on
# a text with an accent, an em dash and an emoji); JSON array and NDJSON
# stream; /healthz, /v1/models, /metrics; 400 naming the problem for
# invalid JSON, invalid UTF-8 and wrong fields; 413 for a 20 MB body, with
# and without Content-Length, and the server still answers; keep-alive;
# 405/404; an access log line per request without document text; bearer
# key (401 without, never logged); CORS off by default, on with --cors;
# a full queue gives 503 with Retry-After; the time limit gives 504;
# SIGTERM finishes the request in flight and exits 0.
. "$(dirname "$0")/../serve_common.sh"
train_fixture_model

fabry='Fabry disease causes burning pain in the hands.'
utf='Café 😀 — Fabry disease causes pain in the hands and a rash.'
start_server --model "$tmp/fx.crf" --threads 2

# ---- the must-show requests ----
code=$(curl -s -o "$tmp/fabry.json" -w '%{http_code}' "$base/v1/tag" \
    -H 'Content-Type: application/json' -d "{\"text\": \"$fabry\"}")
[ "$code" = 200 ] || fail "Fabry sentence: status $code: $(cat "$tmp/fabry.json")"
python3 - "$tmp/fabry.json" "$fabry" <<'PY' || fail "Fabry answer"
import json, sys
docs = json.load(open(sys.argv[1]))
assert isinstance(docs, list) and len(docs) == 1, docs
d = docs[0]
assert d["id"] == "text" and d["text"] == sys.argv[2], d
assert d["entities"], "no entity found in the Fabry sentence"
types = {e["type"] for e in d["entities"]}
assert "RAREDISEASE" in types, types
for e in d["entities"]:
    for s, t in e["fragments"]:
        assert 0 <= s < t <= len(d["text"]), (s, t)
    if len(e["fragments"]) == 1:
        s, t = e["fragments"][0]
        assert d["text"][s:t] == e["text"], (e, d["text"][s:t])
    assert 0 <= e["confidence"] <= 1
for tk in d["tokens"]:
    assert d["text"][tk["start"]:tk["end"]] == tk["text"], tk
print("Fabry:", [(e["type"], e["text"], e["fragments"]) for e in d["entities"]])
PY
code=$(curl -s -o "$tmp/h" -w '%{http_code}' "$base/healthz")
[ "$code" = 200 ] || fail "/healthz: $code"
code=$(curl -s -o "$tmp/bad.json" -w '%{http_code}' "$base/v1/tag" -d '{"text": "unfinished')
[ "$code" = 400 ] || fail "invalid JSON: status $code"
grep -q '"error":"invalid JSON near byte' "$tmp/bad.json" || fail "invalid JSON message: $(cat "$tmp/bad.json")"
python3 -c "
import json; open('$tmp/big.json','w').write(json.dumps({'text': 'a' * (20 << 20)}))"
code=$(curl -s -o "$tmp/big.out" -w '%{http_code}' "$base/v1/tag" --data-binary @"$tmp/big.json")
[ "$code" = 413 ] || fail "20 MB body: status $code"
grep -q 'larger than the limit of 10485760 bytes' "$tmp/big.out" || fail "413 message: $(cat "$tmp/big.out")"
# without Content-Length (chunked), cut off while reading
code=$(curl -s -o "$tmp/big.out" -w '%{http_code}' "$base/v1/tag" -H 'Transfer-Encoding: chunked' \
    --data-binary @"$tmp/big.json")
[ "$code" = 413 ] || fail "20 MB chunked body: status $code"
code=$(curl -s -o "$tmp/again.json" -w '%{http_code}' "$base/v1/tag" -d "{\"text\": \"$fabry\"}")
[ "$code" = 200 ] || fail "after the 413s: status $code"
cmp -s "$tmp/again.json" "$tmp/fabry.json" || fail "after the 413s: a different answer"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "healthz after the 413s"
echo "must-show: 200 Fabry, healthz 200, invalid JSON 400, 20 MB 413, still answering"

# ---- the same documents as `clinner tag --to jsonl` ----
printf '%s' "$utf" >"$tmp/utf.txt"
"$B" tag --backend crf --model "$tmp/fx.crf" --from text "$tmp/utf.txt" >"$tmp/tag.jsonl" 2>/dev/null ||
    fail "clinner tag exited $?"
python3 -c "import json; print(json.dumps({'documents': [{'id': 'utf', 'text': open('$tmp/utf.txt').read()}]}))" >"$tmp/utf.req"
curl -s "$base/v1/tag" --data-binary @"$tmp/utf.req" >"$tmp/utf.json" || fail "curl utf"
python3 - "$tmp/utf.json" "$tmp/tag.jsonl" <<'PY' || fail "server and clinner tag differ"
import json, sys
served = json.load(open(sys.argv[1]))[0]
tagged = json.loads(open(sys.argv[2]).read())
served.pop("id"); tagged.pop("id")
assert served == tagged, (served, tagged)
t = served["text"]
assert served["entities"], "no entities in the UTF-8 text"
for e in served["entities"]:
    s, u = e["fragments"][0]
    assert t[s:u] == e["text"], (e, t[s:u])
print("UTF-8 text: same document as clinner tag;", [(e["type"], e["fragments"]) for e in served["entities"]])
PY

# ---- NDJSON stream ----
curl -s -D "$tmp/nd.h" -H 'Accept: application/x-ndjson' "$base/v1/tag" \
    -d '{"documents": [{"id": "a", "text": "Fabry disease."}, {"id": "b", "text": "A rash and pain."}, {"id": 3, "text": ""}]}' >"$tmp/nd.out"
grep -qi '^content-type: application/x-ndjson' "$tmp/nd.h" || fail "NDJSON content type: $(cat "$tmp/nd.h")"
python3 - "$tmp/nd.out" <<'PY' || fail "NDJSON answer"
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "" and len(lines) == 4, lines
ids = [json.loads(l)["id"] for l in lines[:3]]
assert ids == ["a", "b", "3"], ids
PY

# ---- 400s naming the problem ----
bad() { # body expected-fragment
    local c
    c=$(printf '%s' "$1" | curl -s -o "$tmp/e.json" -w '%{http_code}' "$base/v1/tag" --data-binary @-)
    [ "$c" = 400 ] || fail "body $1: status $c"
    grep -qF "$2" "$tmp/e.json" || fail "body $1: message $(cat "$tmp/e.json"), want $2"
}
bad $'{"text": "caf\xc3"}' 'invalid UTF-8 at byte 13'
bad '{"documents": [{"id": "a", "txt": "x"}]}' 'field documents[0].txt: unknown'
bad '{"documents": [{"id": "a", "text": 5}]}' 'field documents[0].text: expected a string'
bad '{"text": "a", "tokenizer": "bpe"}' 'field tokenizer'
bad '[]' 'expected a JSON object'
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tag")" = 405 ] || fail "GET /v1/tag not 405"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/nope")" = 404 ] || fail "/nope not 404"

# ---- models, metrics, page, keep-alive, CORS off ----
curl -s "$base/v1/models" | python3 -c "
import json, sys
m = json.load(sys.stdin)['models'][0]
assert m['backend'] == 'crf' and m['model'].endswith('fx.crf'), m
assert 'B-RAREDISEASE' in m['labels'] and 'O' in m['labels'] and 'RAREDISEASE' in m['types'], m
assert 'test_scores' in m" || fail "/v1/models"
curl -s "$base/metrics" >"$tmp/metrics"
grep -q '^clinner_http_requests_total{code="413"} 2$' "$tmp/metrics" || fail "metrics: $(grep code= "$tmp/metrics")"
grep -q '^clinner_http_requests_total{code="400"} 6$' "$tmp/metrics" || fail "metrics 400: $(grep code= "$tmp/metrics")"
grep -q '^clinner_http_request_duration_seconds_bucket{le="+Inf"} ' "$tmp/metrics" || fail "no histogram"
grep -q '^clinner_tokens_tagged_total [1-9]' "$tmp/metrics" || fail "no tokens counted"
grep -q '^clinner_queue_requests 0$' "$tmp/metrics" || fail "queue gauge"
curl -s -D "$tmp/page.h" "$base/" -o "$tmp/page.html"
grep -qi '^content-type: text/html' "$tmp/page.h" || fail "page content type"
grep -q 'v1/tag' "$tmp/page.html" || fail "the page does not call the API"
grep -q 'src="http\|href="http' "$tmp/page.html" && fail "the page loads something from outside"
grep -qi 'access-control-allow-origin' "$tmp/page.h" && fail "CORS header without --cors"
curl -sv "$base/healthz" "$base/healthz" -o /dev/null -o /dev/null 2>"$tmp/ka.err"
grep -qi 're-using existing connection' "$tmp/ka.err" || fail "no keep-alive: $(grep -i connect "$tmp/ka.err")"

# ---- access log: one line per request, no text ----
grep -q 'POST /v1/tag 200 [0-9]* bytes [0-9.]* ms' "$tmp/server.log" || fail "no access log line"
grep -q 'POST /v1/tag 413 ' "$tmp/server.log" || fail "413 not logged"
grep -qE 'burning|Fabry|rash|Caf' "$tmp/server.log" && fail "document text in the log"
stop_server
grep -q 'stopped' "$tmp/server.log" || fail "no stop line"

# ---- key, CORS, queue (503), SIGTERM with a request in flight ----
export CLINNER_TEST_SERVE_KEY='k3y-never-logged-71'
python3 - "$root/tests/fixtures/crf/train/alpha.txt" >"$tmp/slow.json" <<'PY'
import json, sys
s = open(sys.argv[1]).read().replace("\n", " ")
print(json.dumps({"documents": [{"id": str(i), "text": (s * 40)[:5000]} for i in range(200)]}))
PY
start_server --model "$tmp/fx.crf" --threads 1 --queue 1 --api-key-env CLINNER_TEST_SERVE_KEY \
    --cors https://example.org
auth=(-H "Authorization: Bearer $CLINNER_TEST_SERVE_KEY")
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tag" -d '{"text": "x"}')" = 401 ] || fail "no key: not 401"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer nope' "$base/v1/tag" -d '{"text": "x"}')" = 401 ] ||
    fail "wrong key: not 401"
[ "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$base/v1/tag" -d '{"text": "x"}')" = 200 ] || fail "key: not 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] || fail "healthz needs no key"
curl -s -D "$tmp/cors.h" -o /dev/null "${auth[@]}" "$base/v1/models"
grep -qi '^access-control-allow-origin: https://example.org' "$tmp/cors.h" || fail "no CORS header with --cors"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X OPTIONS "$base/v1/tag")" = 204 ] || fail "preflight not 204"
t0=$(date +%s.%N)
curl -s -o "$tmp/slow.out" -w '%{http_code}' "${auth[@]}" "$base/v1/tag" --data-binary @"$tmp/slow.json" >"$tmp/slow.code" &
slow=$!
# Wait until the server has admitted the slow request (a fixed sleep raced
# with a fast machine that finished it first), then ask again.
for _ in $(seq 200); do
    curl -s "${auth[@]}" "$base/metrics" | grep -q '^clinner_queue_requests 1' && break
    sleep 0.01
done
code=$(curl -s -D "$tmp/busy.h" -o "$tmp/busy.json" -w '%{http_code}' "${auth[@]}" "$base/v1/tag" -d '{"text": "x"}')
[ "$code" = 503 ] || fail "full queue: status $code (the slow request took $(python3 -c "import time; print(round(time.time() - $t0, 2))") s)"
grep -qi '^retry-after: 1' "$tmp/busy.h" || fail "503 without Retry-After"
kill -TERM "$srv_pid"   # while the slow request is in flight
wait "$slow"
[ "$(cat "$tmp/slow.code")" = 200 ] || fail "request in flight at SIGTERM: status $(cat "$tmp/slow.code")"
python3 -c "import json; assert len(json.load(open('$tmp/slow.out'))) == 200" || fail "in-flight answer cut"
rc=0; wait "$srv_pid" || rc=$?; srv_pid=
[ "$rc" = 0 ] || fail "exit $rc after SIGTERM with a request in flight"
grep -q 'SIGTERM: no new connections' "$tmp/server.log" || fail "no SIGTERM line"
grep -qF "$CLINNER_TEST_SERVE_KEY" "$tmp/server.log" && fail "the key is in the log"
curl -s -o /dev/null --max-time 2 "$base/healthz" && fail "still accepting after SIGTERM"
echo "key 401/200, CORS, 503 + Retry-After, SIGTERM finished the request in flight, exit 0"

# ---- test scores shown by /v1/models: --scores, else MODEL.scores.json ----
printf '{"average": {"f1": 0.25}}' >"$tmp/fx.crf.scores.json"
start_server --model "$tmp/fx.crf"
curl -s "$base/v1/models" | python3 -c "
import json, sys
assert json.load(sys.stdin)['models'][0]['test_scores'] == {'average': {'f1': 0.25}}" ||
    fail "MODEL.scores.json not shown"
stop_server
printf '[1]' >"$tmp/bad-scores.json"
"$B" serve --port 0 --model "$tmp/fx.crf" --scores "$tmp/bad-scores.json" 2>"$tmp/bs.err" &&
    fail "a --scores file that is not an object accepted"
grep -q -- '--scores: .*bad-scores.json is not a JSON object' "$tmp/bs.err" || fail "message: $(cat "$tmp/bs.err")"
rm "$tmp/fx.crf.scores.json"

# ---- the time limit ----
start_server --model "$tmp/fx.crf" --threads 1 --request-timeout 0.2
code=$(curl -s -o "$tmp/to.json" -w '%{http_code}' "$base/v1/tag" --data-binary @"$tmp/slow.json")
[ "$code" = 504 ] || fail "time limit: status $code"
grep -q 'time limit of 0.2 s' "$tmp/to.json" || fail "504 message: $(cat "$tmp/to.json")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/tag" -d '{"text": "Fabry disease."}')" = 200 ] ||
    fail "not answering after a 504"
curl -s "$base/metrics" | grep -q '^clinner_timeouts_total 1$' || fail "timeout not counted"
stop_server
echo "504 after the time limit, still answering"
echo "ok"
