# Sourced by the CLI tests that start real llama.cpp llama-server processes
# (openai_llama_server.sh, openai_fleet.sh): fail/skip, and the server
# binary, the stories260K model and the dev split, or a skip saying which
# set-up step is missing.  Sets root, B, server, model, dev.
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B="$CLINNER_BIN"
prefix=$("$root/scripts/setup-llama.sh" --prefix 2>/dev/null) || skip "llama.cpp not set up (scripts/setup-llama.sh)"
server="$prefix/bin/llama-server"
[ -x "$server" ] || skip "no llama-server in $prefix"
model=$("$root/scripts/fetch-models.sh" --path stories 2>/dev/null) || skip "stories260K.gguf not fetched (scripts/fetch-models.sh)"
dev="${CLINNER_SHARED:-$root/../shared}/data/raredis/dev"
[ -d "$dev" ] || skip "$dev not found (set CLINNER_SHARED)"
command -v python3 >/dev/null || skip "python3 needed"
[ -n "${CLINNER_SANITIZER:-}" ] && skip "slow under the sanitizers (test_openai covers the client there)"

# count_s JOURNAL: the tagged-sentence lines of a run's journal.
count_s() { local n; n=$(grep -c '^S ' "$1" 2>/dev/null); echo "${n:-0}"; }

# first_dev_docs N: copy the first dev documents into $tmp/in until they
# hold at least N sentences; their gold is $tmp/gold.conll (paper tokens).
first_dev_docs() {
    mkdir "$tmp/in"
    local txt base
    for txt in "$dev"/*.txt; do
        base=${txt%.txt}
        cp "$txt" "$tmp/in/"
        [ -f "$base.ann" ] && cp "$base.ann" "$tmp/in/"
        "$B" convert --from brat --to conll --tokenizer paper "$tmp/in" -o "$tmp/gold.conll" ||
            fail "convert exited $?"
        [ "$(grep -c '^$' "$tmp/gold.conll")" -ge "$1" ] && break
    done
}
