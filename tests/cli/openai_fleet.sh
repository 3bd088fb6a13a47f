#!/usr/bin/env bash
# An LLM fleet (--api-base URL1,URL2): two real llama.cpp llama-server
# processes on 127.0.0.1 with the stories260K model (scripts/setup-llama.sh,
# scripts/fetch-models.sh; skipped when they are not set up), grammar
# decoding of 40+ dev sentences:
#   - a reference run against server A alone;
#   - the fleet run against A and B: B is killed -9 mid-run, then started
#     again on its port: the run completes with 0 misaligned sentences and
#     output byte-identical to the reference; the log shows B taken out and
#     re-admitted after its health check; the summary counts each server's
#     requests, and both took some.
set -u
. "$(dirname "$0")/../cli_llama_server.sh"

tmp=$(mktemp -d)
declare -A spid port
cpid=""
cleanup() {
    [ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
    for s in a b; do [ -n "${spid[$s]:-}" ] && kill -9 "${spid[$s]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
healthy() {
    python3 - "$1" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=2).read()
EOF
}
start_server() { # NAME
    "$server" -m "$model" --host 127.0.0.1 --port "${port[$1]}" -c 4096 -np 1 -t 1 \
        --override-kv llama.context_length=int:4096 >>"$tmp/server-$1.log" 2>&1 &
    spid[$1]=$!
    for _ in $(seq 300); do healthy "${port[$1]}" && return 0; sleep 0.1; done
    tail -20 "$tmp/server-$1.log"
    fail "llama-server $1 did not come up"
}
stop_server() { kill -9 "${spid[$1]}" 2>/dev/null; wait "${spid[$1]}" 2>/dev/null; spid[$1]=""; }

# the first dev documents, at least 40 sentences
first_dev_docs 40

port[a]=$(free_port)
port[b]=$(free_port)
start_server a
start_server b
url() { echo "http://127.0.0.1:${port[$1]}/v1"; }
args=(tag --backend openai --decode grammar --seed 1 --timeout 120 --retries 8 --from brat
      --to conll --tokenizer paper "$tmp/in")

# reference: server A alone
"$B" "${args[@]}" --api-base "$(url a)" -o "$tmp/ref.conll" --progress off 2>"$tmp/ref.err" ||
    { cat "$tmp/ref.err"; fail "reference run exited $?"; }

# the fleet, B killed after 10 sentences and started again
"$B" "${args[@]}" --api-base "$(url a),$(url b)" --parallel 2 -o "$tmp/fleet.conll" \
    --progress lines 2>"$tmp/fleet.err" &
cpid=$!
work="$tmp/fleet.conll.clinner-run/journal"
for _ in $(seq 600); do [ "$(count_s "$work")" -ge 10 ] && break; sleep 0.1; done
[ "$(count_s "$work")" -ge 10 ] || fail "the fleet run did not get going"
stop_server b
echo "server B killed after $(count_s "$work") sentences"
for _ in $(seq 100); do grep -q "taken out of the fleet" "$tmp/fleet.err" && break; sleep 0.1; done
start_server b
wait "$cpid" || { cat "$tmp/fleet.err"; fail "fleet run exited $?"; }
cpid=""
cat "$tmp/fleet.err" | grep -v '^tagging'
grep -q "misaligned sentences 0" "$tmp/fleet.err" || fail "misaligned sentences in the fleet run"
grep -q "$(url b).*taken out of the fleet" "$tmp/fleet.err" || fail "B was not taken out"
cmp -s "$tmp/ref.conll" "$tmp/fleet.conll" ||
    { diff "$tmp/ref.conll" "$tmp/fleet.conll" | head; fail "fleet output differs from one server's"; }
summary=$(sed -n 's/^clinner tag: requests per server: //p' "$tmp/fleet.err")
[ -n "$summary" ] || fail "no per-server summary"
na=$(echo "$summary" | sed -n "s|.*$(url a) \([0-9]*\) answered.*|\1|p")
nb=$(echo "$summary" | sed -n "s|.*$(url b) \([0-9]*\) answered.*|\1|p")
[ "${na:-0}" -gt 0 ] && [ "${nb:-0}" -gt 0 ] || fail "both servers should have answered: $summary"
echo "fleet: output identical to one server, 0 misaligned; $summary"
if grep -q "back in the fleet" "$tmp/fleet.err"; then
    echo "server B re-admitted after its health check"
else
    echo "note: the run ended before B's health check (re-admission is in test_openai)"
fi
echo ok
