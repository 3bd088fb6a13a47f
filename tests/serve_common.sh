# Sourced by tests/cli/serve_*.sh: a temporary folder, fail/skip, a CRF
# model trained on the hand-made fixture (tests/fixtures/crf/train, a few
# seconds), and a `clinner serve` started on a free loopback port (--port 0:
# the server picks one and prints it) and stopped with SIGTERM.
set -u
fail() {
    echo "FAIL: $*"
    if [ -n "${tmp:-}" ] && [ -f "$tmp/server.log" ]; then
        echo "--- server log (last lines)"; tail -15 "$tmp/server.log"
    fi
    exit 1
}
skip() { echo "SKIP: $*"; exit 77; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B="${CLINNER_BIN:-$root/build/clinner}"
command -v curl >/dev/null || skip "curl not installed"
command -v python3 >/dev/null || skip "python3 needed to check the answers"
tmp=$(mktemp -d)
srv_pid=
cleanup() {
    if [ -n "$srv_pid" ]; then kill -KILL "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# $tmp/fx.crf: learns the fixture's sentences (Fabry disease, pain, rash...)
train_fixture_model() {
    "$B" train crf --train "$root/tests/fixtures/crf/train" --tokenizer clinical --c1 0 \
        --c2 0.001 --max-iter 150 --progress off -o "$tmp/fx.crf" 2>"$tmp/train.err" ||
        { cat "$tmp/train.err"; fail "training the fixture model exited $?"; }
}

# start_server OPTIONS...: sets srv_pid, port, base (http://127.0.0.1:PORT)
start_server() {
    : >"$tmp/server.log"
    "$B" serve --host 127.0.0.1 --port 0 "$@" 2>"$tmp/server.log" &
    srv_pid=$!
    port=
    for _ in $(seq 300); do
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/server.log")
        [ -n "$port" ] && break
        kill -0 "$srv_pid" 2>/dev/null || { srv_pid=; fail "serve $* exited: $(cat "$tmp/server.log")"; }
        sleep 0.1
    done
    [ -n "$port" ] || fail "serve did not say where it listens"
    base="http://127.0.0.1:$port"
}

# stop_server: SIGTERM, then the exit status must be 0
stop_server() {
    kill -TERM "$srv_pid" || fail "cannot signal the server"
    local rc=0
    wait "$srv_pid" || rc=$?
    srv_pid=
    [ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
}
