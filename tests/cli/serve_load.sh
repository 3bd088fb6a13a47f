#!/usr/bin/env bash
# A bounded load test of `clinner serve` on loopback: 16 concurrent
# keep-alive clients x 200 requests, each one sentence of the RareDis test
# split, against the CRF tagger (models/raredis-crf.model when present,
# else one trained here on the training split in a few seconds).  No
# request may fail, and the server's resident memory after the run must be
# within 10% of what it was after the first 100 answers.  Prints p50/p99
# latency and requests/s (docs/BENCHMARKS.md).  Bounded: 3,200 requests,
# 300 s at most.  Skips when the corpus is absent.
. "$(dirname "$0")/../serve_common.sh"
split="${CLINNER_SHARED:-$root/../shared}/data/raredis"
[ -d "$split/test" ] || skip "$split/test not found (set CLINNER_SHARED)"
model="$root/models/raredis-crf.model"
if [ ! -f "$model" ]; then
    [ -d "$split/train" ] || skip "no models/raredis-crf.model and no training split"
    model="$tmp/raredis.crf"
    "$B" train crf --train "$split/train" --max-iter 25 --progress off -o "$model" \
        2>"$tmp/train.err" || { cat "$tmp/train.err"; fail "training exited $?"; }
fi
clients=${SERVE_LOAD_CLIENTS:-16}
requests=${SERVE_LOAD_REQUESTS:-200}
threads=${SERVE_LOAD_THREADS:-2}
start_server --model "$model" --threads "$threads"
python3 "$root/tests/serve_load.py" "$base" "$srv_pid" "$split/test" "$clients" "$requests" 300 \
    >"$tmp/load.json" || fail "load client exited $?"
cat "$tmp/load.json"
# (AddressSanitizer keeps freed memory in quarantine: no RSS check there)
python3 - "$tmp/load.json" "$clients" "$requests" "${CLINNER_SANITIZER:-0}" <<'PY' || fail "load test"
import json, sys
r = json.load(open(sys.argv[1]))
want = int(sys.argv[2]) * int(sys.argv[3])
assert r["failures"] == 0, r["first_failures"]
assert r["requests"] == want, (r["requests"], want)
a, b = r["rss_after_100_kb"], r["rss_after_kb"]
assert sys.argv[4] == "1" or (a and b and b <= 1.10 * a), \
    f"RSS grew from {a} kB after 100 requests to {b} kB"
print(f"{want} requests, 0 failed; p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
      f"{r['requests_per_s']} requests/s; RSS {a} -> {b} kB ({100 * (b - a) / a:+.1f}%)")
PY
curl -s "$base/metrics" | grep -q "^clinner_http_requests_total{code=\"200\"} $((clients * requests))\$" ||
    fail "metrics do not count $((clients * requests)) answers"
stop_server
grep -qE '(GET|POST) [^ ]+ 5[0-9][0-9] ' "$tmp/server.log" && fail "5xx in the access log"
echo ok
