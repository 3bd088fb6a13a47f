#!/usr/bin/env bash
# The openai backend against a real llama.cpp llama-server, started here on
# 127.0.0.1 with the stories260K model (scripts/setup-llama.sh,
# scripts/fetch-models.sh; skipped when they are not set up):
#   1. 20+ dev sentences in grammar mode (the GBNF grammar goes to the
#      server): every answer aligned, the token column equal to the input's;
#   2. the server is stopped mid-run and restarted: the client logs its
#      retries and finishes with the same tokens (nothing lost or duplicated);
#   3. the server is stopped mid-run, the client is killed -9 while it waits,
#      the server restarts and --resume completes the output.
set -u
. "$(dirname "$0")/../cli_llama_server.sh"

tmp=$(mktemp -d)
spid=""
cpid=""
cleanup() {
    [ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
healthy() {
    python3 - "$port" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/health" % sys.argv[1], timeout=2).read()
EOF
}
start_server() {
    # stories260K was trained on 128-token windows: let the slot hold our
    # prompts; one thread keeps it quick on a busy machine
    "$server" -m "$model" --host 127.0.0.1 --port "$port" -c 4096 -np 1 -t 1 \
        --override-kv llama.context_length=int:4096 >>"$tmp/server.log" 2>&1 &
    spid=$!
    for _ in $(seq 300); do healthy && return 0; sleep 0.1; done
    tail -20 "$tmp/server.log"
    fail "llama-server did not come up"
}
# stopped hard: a gracefully stopping llama-server waits for the request in
# flight, which waits for the server
stop_server() { kill -9 "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; spid=""; }

# the first dev documents, at least 20 sentences
first_dev_docs 20
nsent=$(grep -c '^$' "$tmp/gold.conll")
tokens() { grep -v '^#' "$1" | cut -f1; }

start_server
args=(tag --backend openai --api-base "http://127.0.0.1:$port/v1" --decode grammar --seed 1
      --timeout 120 --from brat --to conll --tokenizer paper --progress off "$tmp/in")

# 1. all aligned
"$B" "${args[@]}" -o "$tmp/ref.conll" --progress lines 2>"$tmp/ref.err" ||
    { cat "$tmp/ref.err"; fail "tag exited $?"; }
cat "$tmp/ref.err"
grep -q "misaligned sentences 0" "$tmp/ref.err" || fail "misaligned answers in grammar mode"
cmp -s <(tokens "$tmp/gold.conll") <(tokens "$tmp/ref.conll") || fail "token column differs from the input"
echo "grammar mode: $nsent sentences, all aligned"

# 2. server stopped mid-run: retries, then the run completes
"$B" "${args[@]}" -o "$tmp/b.conll" --retries 10 2>"$tmp/b.err" &
cpid=$!
for _ in $(seq 600); do [ "$(count_s "$tmp/b.conll.clinner-run/journal")" -ge 5 ] && break; sleep 0.05; done
stop_server
for _ in $(seq 200); do grep -q "retry" "$tmp/b.err" && break; sleep 0.05; done
grep -q "retry" "$tmp/b.err" || { cat "$tmp/b.err"; fail "no retry logged while the server was down"; }
start_server
wait "$cpid" || { cat "$tmp/b.err"; fail "run across a server restart exited $?"; }
cpid=""
grep "retry" "$tmp/b.err" | head -3
cmp -s <(tokens "$tmp/ref.conll") <(tokens "$tmp/b.conll") || fail "tokens lost or duplicated across the restart"
cmp -s "$tmp/ref.conll" "$tmp/b.conll" && echo "server restart: output identical to the uninterrupted run" ||
    echo "server restart: same tokens (labels differ from the uninterrupted run after the cold cache)"

# 3. server stopped, client killed -9 while it retries, server back, --resume
"$B" "${args[@]}" -o "$tmp/c.conll" --retries 10 2>"$tmp/c.err" &
cpid=$!
for _ in $(seq 600); do [ "$(count_s "$tmp/c.conll.clinner-run/journal")" -ge 7 ] && break; sleep 0.05; done
stop_server
for _ in $(seq 200); do grep -q "retry" "$tmp/c.err" && break; sleep 0.05; done
kill -9 "$cpid" 2>/dev/null
wait "$cpid" 2>/dev/null
cpid=""
[ -e "$tmp/c.conll" ] && fail "output exists after kill -9"
done_s=$(count_s "$tmp/c.conll.clinner-run/journal")
start_server
"$B" "${args[@]}" -o "$tmp/c.conll" --resume --progress lines 2>"$tmp/c2.err" ||
    { cat "$tmp/c2.err"; fail "resume exited $?"; }
grep -q "resuming:" "$tmp/c2.err" || { cat "$tmp/c2.err"; fail "no resume note"; }
cmp -s <(tokens "$tmp/ref.conll") <(tokens "$tmp/c.conll") || fail "tokens lost or duplicated after resume"
[ -d "$tmp/c.conll.clinner-run" ] && fail "checkpoint left after resume"
echo "killed while the server was down after $done_s of $nsent sentences; resumed: complete"
echo "ok"
