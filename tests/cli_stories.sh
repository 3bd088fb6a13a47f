# tests/cli_stories.sh - sourced by the CLI tests that run the tiny
# stories260K model (tests/cli/*.sh; this file is outside that folder so the
# runner does not take it for a test).  It sets root (the repository), model
# (the GGUF file), fail, and tmp (a folder removed at exit), or skips the
# test (exit 77) when the model, llama.cpp or python3 is missing.
#   . "$(dirname "$0")/../cli_stories.sh" [python3]
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=$("$root/scripts/fetch-models.sh" --path stories 2>/dev/null) || model=
[ -n "$model" ] || { echo "SKIP: stories260K not fetched (scripts/fetch-models.sh)"; exit 77; }
"$CLINNER_BIN" tag --help | grep -q 'llama .*not available' &&
    { echo "SKIP: built without llama.cpp"; exit 77; }
if [ "${1:-}" = python3 ]; then
    command -v python3 >/dev/null || { echo "SKIP: python3 needed"; exit 77; }
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
