#!/usr/bin/env bash
# An LLM fleet (--api-base URL1,URL2) against two fake servers
# (tests/cli/fake_openai.py; runs wherever python3 is, unlike
# openai_fleet.sh which needs llama.cpp): server B is killed -9 mid-run and
# started again on its port.  The output is byte-identical to a run against
# A alone; B is taken out, its requests go to A, a health check re-admits it
# and it answers again; the summary counts each server's requests.  A URL
# without http:// in the list is refused.
set -u
command -v python3 >/dev/null || { echo "SKIP: python3 needed for the fake server"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
B="$CLINNER_BIN"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
declare -A spid port
cleanup() {
    for s in a b; do [ -n "${spid[$s]:-}" ] && kill -9 "${spid[$s]}" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
start_server() { # NAME [PORT]
    rm -f "$tmp/$1.port"
    python3 "$here/fake_openai.py" "$tmp/$1.port" --delay 0.05 ${2:+--port $2} &
    spid[$1]=$!
    for _ in $(seq 100); do [ -f "$tmp/$1.port" ] && break; sleep 0.05; done
    [ -f "$tmp/$1.port" ] || fail "fake server $1 did not start"
    port[$1]=$(cat "$tmp/$1.port")
}
url() { echo "http://127.0.0.1:${port[$1]}/v1"; }

# 8 documents of 6 sentences, with UTF-8
mkdir "$tmp/in"
for d in 0 1 2 3 4 5 6 7; do
    for s in 1 2 3 4 5 6; do
        printf 'Visit %s of patient %s: Crohn Disease, arthritis, fièvre. ' "$s" "$d"
    done >"$tmp/in/doc$d.txt"
done
start_server a
start_server b
args=(tag --backend openai --from brat --to conll "$tmp/in")
"$B" "${args[@]}" --api-base "$(url a)" -o "$tmp/ref.conll" --progress off ||
    fail "reference run exited $?"

"$B" "${args[@]}" --api-base "$(url a),$(url b)" --parallel 2 -o "$tmp/fleet.conll" \
    --progress lines 2>"$tmp/err" &
cpid=$!
for _ in $(seq 200); do
    n=$(grep -c '^S ' "$tmp/fleet.conll.clinner-run/journal" 2>/dev/null)
    [ "${n:-0}" -ge 8 ] && break
    sleep 0.05
done
kill -9 "${spid[b]}"; wait "${spid[b]}" 2>/dev/null
echo "server B killed after ${n:-0} sentences"
for _ in $(seq 100); do grep -q "taken out of the fleet" "$tmp/err" && break; sleep 0.05; done
start_server b "${port[b]}"
wait $cpid || { cat "$tmp/err"; fail "fleet run exited $?"; }
grep -v '^tagging' "$tmp/err"
cmp -s "$tmp/ref.conll" "$tmp/fleet.conll" || fail "fleet output differs from one server's"
grep -q "$(url b): .*taken out of the fleet" "$tmp/err" || fail "B was not taken out"
summary=$(sed -n 's/^clinner tag: requests per server: //p' "$tmp/err")
echo "$summary" | grep -q "$(url a) [1-9][0-9]* answered" || fail "A answered nothing: $summary"
echo "$summary" | grep -q "$(url b) [1-9][0-9]* answered, [1-9][0-9]* failed, taken out 1" ||
    fail "B's counts: $summary"
if grep -q "back in the fleet" "$tmp/err"; then
    echo "B re-admitted after its health check"
fi
"$B" "${args[@]}" --api-base "$(url a),ftp://x" -o "$tmp/bad" 2>"$tmp/err2" &&
    fail "an ftp:// URL in the fleet was accepted"
grep -q "each URL must start with http" "$tmp/err2" || fail "message: $(cat "$tmp/err2")"
echo ok
