#!/usr/bin/env bash
# Runs every unit-test binary in BUILD/tests and every CLI test script in
# tests/cli/, then prints one closing line "N passed, N failed, N skipped".
# Exit status is non-zero when anything failed.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CLINNER_BIN="$root/$build/clinner"
export CLINNER_BUILD="$root/$build"
: "${CLINNER_SHARED:=$root/../shared}"
export CLINNER_SHARED
passed=0 failed=0 skipped=0
failures=()
log=$(mktemp)
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    t0=$SECONDS
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    echo "-- $t: $((SECONDS - t0)) s"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
    [ $rc -ne 0 ] && failures+=("$t")
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    echo "== $t"
    t0=$SECONDS
    bash "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    echo "-- $t: $((SECONDS - t0)) s"
    case $rc in
        0) passed=$((passed + 1));;
        77) skipped=$((skipped + 1));;
        *) failed=$((failed + 1)); failures+=("$t");;
    esac
done
rm -f "$log"
[ ${#failures[@]} -gt 0 ] && printf 'FAILED: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
