#!/usr/bin/env bash
# The medical vocabulary path on hand-made files (no download): build-vocab.py
# turns a miniature hp.obo + phenotype.hpoa into term lines (PHENO only under
# HP:0000118, obsolete terms and NOT annotations left out, ORPHA/OMIM names,
# OMIM's part before the comma, SKIN by the share of skin phenotypes), then
# `clinner train crf --vocab` stores the terms in the model (format version
# 2), `clinner tag` uses them without the list, and a bad list line is named.
set -u
fail() { echo "FAIL: $*"; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v python3 >/dev/null || { echo "SKIP: python3 needed"; exit 77; }
fx="$root/tests/fixtures/crf/train"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
B="$CLINNER_BIN"

cat >"$tmp/hp.obo" <<'OBO'
format-version: 1.2

[Term]
id: HP:0000118
name: Phenotypic abnormality

[Term]
id: HP:0000951
name: Abnormality of the skin
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0000988
name: Skin rash
synonym: "Rash" EXACT layperson []
is_a: HP:0000951 ! Abnormality of the skin

[Term]
id: HP:0012531
name: Pain
synonym: "Douleur \"aiguë\"" EXACT []
is_a: HP:0000118 ! Phenotypic abnormality

[Term]
id: HP:0000005
name: Mode of inheritance

[Term]
id: HP:0099999
name: Old fever
is_obsolete: true
is_a: HP:0000118 ! Phenotypic abnormality

[Typedef]
id: part_of
name: part of
OBO
{
    printf '#description: test\n'
    printf 'database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\tbiocuration\n'
    for i in 1 2 3; do printf 'ORPHA:79281\tEpidermolysis bullosa simplex\t\tHP:0000988\tORPHA:1\tTAS\t\t\t\t\tP\tx\n'; done
    printf 'ORPHA:79281\tEpidermolysis bullosa simplex\t\tHP:0012531\tORPHA:1\tTAS\t\t\t\t\tP\tx\n'
    printf 'ORPHA:324\tFabry disease\t\tHP:0012531\tORPHA:1\tTAS\t\t\t\t\tP\tx\n'
    printf 'ORPHA:324\tFabry disease\t\tHP:0000988\tORPHA:1\tTAS\t\t\t\t\tP\tx\n'
    printf 'OMIM:230800\tGaucher disease, type I\t\tHP:0012531\tOMIM:1\tTAS\t\t\t\t\tP\tx\n'
    printf 'OMIM:111111\tNot a disease\tNOT\tHP:0012531\tOMIM:1\tTAS\t\t\t\t\tP\tx\n'
    printf 'DECIPHER:1\tSome deletion\t\tHP:0012531\tD:1\tTAS\t\t\t\t\tP\tx\n'
} >"$tmp/phenotype.hpoa"
python3 "$root/scripts/build-vocab.py" "$tmp/hp.obo" "$tmp/phenotype.hpoa" "$tmp/terms.tsv" \
    >"$tmp/build.out" || fail "build-vocab.py exited $?"
printf 'OMIM\tGaucher disease\nOMIM\tGaucher disease, type I\nORPHA\tEpidermolysis bullosa simplex\nORPHA\tFabry disease\nPHENO\tAbnormality of the skin\nPHENO\tDouleur "aiguë"\nPHENO\tPain\nPHENO\tPhenotypic abnormality\nPHENO\tRash\nPHENO\tSkin rash\nSKIN\tEpidermolysis bullosa simplex\n' >"$tmp/want.tsv"
diff "$tmp/want.tsv" "$tmp/terms.tsv" || fail "build-vocab.py wrote other terms"
grep -q 'OMIM 2, ORPHA 2, PHENO 6, SKIN 1' "$tmp/build.out" || fail "summary: $(cat "$tmp/build.out")"

# train with the list, tag without it: the model carries the terms
"$B" train crf --train "$fx" --dev "$fx" --vocab "$tmp/terms.tsv" --c1 0 --c2 0.001 \
    --max-iter 60 --progress off -o "$tmp/v.crf" 2>"$tmp/train.err" ||
    { cat "$tmp/train.err"; fail "train --vocab exited $?"; }
version=$(od -An -tu4 -j8 -N4 "$tmp/v.crf" | tr -d ' ')
[ "$version" = 2 ] || fail "a model with a vocabulary is format version $version, not 2"
grep -q 'gaucher disease' "$tmp/v.crf" || fail "the terms (lower-cased) are not in the model"
grep -q 'terms.tsv' "$tmp/v.crf" || fail "the list's name is not in the model's metadata"
rm "$tmp/terms.tsv"
echo "Gaucher disease causes pain." | "$B" tag --backend crf --model "$tmp/v.crf" --progress off \
    >"$tmp/out.jsonl" 2>"$tmp/tag.err" || fail "tag with a vocabulary model exited $?: $(cat "$tmp/tag.err")"
grep -q '"text":"Gaucher disease"' "$tmp/out.jsonl" || fail "no Gaucher disease entity: $(cat "$tmp/out.jsonl")"
"$B" train crf --train "$fx" --max-iter 3 --progress off -o "$tmp/v1.crf" 2>/dev/null || fail "train without vocab"
version=$(od -An -tu4 -j8 -N4 "$tmp/v1.crf" | tr -d ' ')
[ "$version" = 1 ] || fail "a model without a vocabulary is format version $version, not 1"

# a bad list: the line is named, no model is written
printf 'PHENO\tpain\nno tab here\n' >"$tmp/bad.tsv"
"$B" train crf --train "$fx" --vocab "$tmp/bad.tsv" --max-iter 3 --progress off -o "$tmp/bad.crf" \
    2>"$tmp/bad.err" && fail "a bad vocabulary was accepted"
grep -q "bad.tsv:2: expected CATEGORY<TAB>term" "$tmp/bad.err" || fail "bad list message: $(cat "$tmp/bad.err")"
[ ! -e "$tmp/bad.crf" ] || fail "a model was written despite the error"
echo "vocabulary: build-vocab.py rules, train --vocab (v2 model), tag without the list, bad line ok"
