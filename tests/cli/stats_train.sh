#!/usr/bin/env bash
# clinner stats --json on the RareDis train split gives the raw BRAT counts of
# shared/docs/paper-facts.md (729 documents, 10,426 T lines).
set -u
train="${CLINNER_SHARED:-}/data/raredis/train"
if [ ! -d "$train" ]; then
    echo "SKIP: $train not found (set CLINNER_SHARED)"
    exit 77
fi
out=$("$CLINNER_BIN" stats --json "$train") || { echo "FAIL: clinner stats exited $?"; exit 1; }
flat=$(printf '%s' "$out" | tr -d ' \t\n')
fail=0
for want in '"documents":729' '"entities":10426' '"DISEASE":1647' '"RAREDISEASE":3157' \
            '"SKINRAREDISEASE":451' '"SIGN":3744' '"SYMPTOM":319' '"ANAPHOR":1108' \
            '"discontinuous":664'; do
    case "$flat" in
        *"$want"[,}]*) ;;
        *) echo "FAIL: $want not in output"; fail=1;;
    esac
done
[ $fail -eq 0 ] || { echo "$out"; exit 1; }
echo "ok"
