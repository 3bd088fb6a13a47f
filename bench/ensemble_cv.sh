#!/usr/bin/env bash
# bench/ensemble_cv.sh [BUILD] [WORK] - the ensemble's choices, cross-validated
# on the training split (docs/RESULTS.md, "How far from .60"): the dev split
# has 22 SYMPTOM and 42 SKINRAREDISEASE mentions, too few to rank
# configurations, so the 729 training documents are split in two folds (file
# names sorted, alternately, as for the cross-fitted CRF), a CRF and an
# encoder are trained on each fold with the shipped models' options, each
# fold is tagged by the other fold's models, and bench/ensemble_sweep.py
# replays the ensemble over those out-of-fold probabilities.
#
# Costs on the 2-core machine: two encoders of 7-8 min each, two CRFs of
# 20 s, 2-3 min of probabilities per fold, then seconds per configuration.
# Env: CLINNER_SHARED (default ../shared); SEED (the encoders', default 42);
# EPOCHS (the encoders', default 3 as shipped; another count names the fold
# encoders and probability files with -eN so that both can share WORK).
# Needs python3 with numpy.
set -euo pipefail
build=${1:-build}
work=${2:-/tmp/clinner-ensemble-cv}
D=${CLINNER_SHARED:-../shared}/data/raredis
seed=${SEED:-42}
epochs=${EPOCHS:-3}
tag=$([ "$epochs" = 3 ] && echo "" || echo "-e$epochs")
[ -d "$D/train" ] || { echo "ensemble_cv: no corpus at $D (set CLINNER_SHARED)" >&2; exit 2; }
D=$(cd "$D" && pwd)
# the replays need numpy: say so now, not after half an hour of training
python3 -c 'import numpy' 2>/dev/null || {
    echo "ensemble_cv: $(command -v python3) cannot import numpy (apt-get install python3-numpy, or pip install numpy for that python3)" >&2
    exit 2
}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

make -s BUILD="$build" "$build/bench/ensemble_probs"
probs="$build/bench/ensemble_probs"
mkdir -p "$work/foldA" "$work/foldB"

i=0
for s in $(ls "$D/train"/*.txt | xargs -n1 basename | sed 's/\.txt$//' | LC_ALL=C sort); do
    f=$([ $((i % 2)) -eq 0 ] && echo A || echo B)
    i=$((i + 1))
    ln -sf "$D/train/$s.txt" "$D/train/$s.ann" "$work/fold$f/"
done

for f in A B; do
    [ -f "$work/crf$f.model" ] ||
        "$build/clinner" train crf --train "$work/fold$f" --dev "$D/dev" --tokenizer clinical \
            --labels paper --c1 0.1 --c2 0.1 --doc-words 50 --threads 2 --seed 1 \
            --progress off -o "$work/crf$f.model"
    [ -f "$work/enc$f-$seed$tag.model" ] ||
        "$build/clinner" train encoder --train "$work/fold$f" --dev "$D/dev" --tokenizer paper \
            --epochs "$epochs" --batch 16 --lr 1e-4 --threads 2 --seed "$seed" --out-type q8_0 \
            --progress lines -o "$work/enc$f-$seed$tag.model"
done
# each fold tagged by the other fold's models
"$probs" "$work/crfB.model" "$work/encB-$seed$tag.model" brat "$work/foldA" clinical >"$work/oofA$tag.txt"
"$probs" "$work/crfA.model" "$work/encA-$seed$tag.model" brat "$work/foldB" clinical >"$work/oofB$tag.txt"

python3 bench/ensemble_sweep.py grid "$work/oofA$tag.txt" "$work/oofB$tag.txt"
# the stacking layer (docs/RESULTS.md, "Stacking"): cross-validated on the two
# folds, then fitted on both; models/raredis-ensemble.json's "stack" is the
# labels, weights and bias of $work/stack.json (seed 42)
python3 bench/ensemble_stack.py cv 0.1 "$work/oofA$tag.txt" "$work/oofB$tag.txt"
python3 bench/ensemble_stack.py rule 0.1 "$work/oofA$tag.txt" "$work/oofB$tag.txt"
python3 bench/ensemble_stack.py fit 0.1 "$work/stack$tag.json" "$work/oofA$tag.txt" "$work/oofB$tag.txt"
for f in A B; do python3 bench/ensemble_sweep.py repeat "$work/oof$f$tag.txt"; done
# the shipped CRF and rule on the dev CSV with each fold's encoder in place of
# the shipped one: how much dev moves with the encoder alone
P=$(dirname "$D")/paper
for f in A B; do
    "$probs" models/raredis-crf.model "$work/enc$f-$seed$tag.model" paper-csv \
        "$P/dev_combined_IOB_data.csv" clinical >"$work/dev$f$tag.txt"
    echo "dev, shipped CRF + fold $f encoder:"
    python3 bench/ensemble_sweep.py repeat "$work/dev$f$tag.txt" | sed -n 2p
done
