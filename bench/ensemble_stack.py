#!/usr/bin/env python3
"""bench/ensemble_stack.py - fit the ensemble's stacking layer (docs/RESULTS.md,
"Stacking") on out-of-fold probabilities from bench/ensemble_probs, and
replay the ensemble with it.

  ensemble_stack.py cv LAMBDA PROBS_A PROBS_B     fit on A, score B and back
  ensemble_stack.py fit LAMBDA OUT.json PROBS...  fit on all, write the layer
  ensemble_stack.py eval LAYER.json PROBS...      replay with a fitted layer
  ensemble_stack.py rule LAMBDA PROBS_A PROBS_B   the document rule's skin
        share and cue density chosen again with the layer: the layer fitted
        on one fold scores the other (as cv), and the rule is chosen on one
        fold's documents and scored on the other's (both ways, pooled), then
        chosen on both (the choice to ship)
  ensemble_stack.py eval LAYER.json --rule SHARE CUES PROBS...

The layer: per token, logits = [ln p_crf, ln p_enc] W + b (probabilities
floored at 1e-9; W is 22 x 11 for the paper's 11 labels, b 11), a softmax,
then Viterbi over valid BIO, as src/ensemble/ensemble.c does.  It is fitted
by multinomial logistic regression on the gold labels, L2-regularised
towards the shipped mix (W = [0.5 I; 0.5 I], b = 0) with strength LAMBDA,
by full-batch Adam (300 steps, rate 0.05, from the shipped mix).  The
document rule keeps the arithmetic mix's skin share, as shipped.  Fitting
on probabilities that the models gave their own training documents would
teach it to trust them too much: hence out-of-fold ones.  Needs numpy.
"""
import json, sys
import numpy as np
import ensemble_sweep as es


def feats(d):
    return np.hstack([np.log(d.pc + 1e-9), np.log(d.pe + 1e-9)])


def fit(docs, labels, lam, iters=300, lr=0.05):
    L = len(labels)
    ix = {l: i for i, l in enumerate(labels)}
    X = np.vstack([feats(d) for d in docs])
    Y = np.eye(L)[np.concatenate([[ix[g] for g in d.gold] for d in docs])]
    W0 = np.vstack([0.5 * np.eye(L), 0.5 * np.eye(L)])
    W, b = W0.copy(), np.zeros(L)
    state = [[W, np.zeros_like(W), np.zeros_like(W)], [b, np.zeros_like(b), np.zeros_like(b)]]
    n = len(X)
    for t in range(1, iters + 1):
        z = X @ W + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - Y) / n
        for (P, M, V), G in zip(state, (X.T @ g + lam * (W - W0), g.sum(0))):
            M *= 0.9
            M += 0.1 * G
            V *= 0.999
            V += 0.001 * G * G
            P -= lr * (M / (1 - 0.9 ** t)) / (np.sqrt(V / (1 - 0.999 ** t)) + 1e-8)
    return W, b


def StackReplay(labels, docs, W, b, w=0.5):
    """es.Replay with the layer in place of the log-linear mix (the document
    rule still reads the arithmetic mix)."""
    def scores(d):
        z = feats(d) @ W + b
        z -= z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))
    return es.Replay(labels, docs, w, scores)


SHARES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 1.01)  # 1.01: cue words only
CUES = (0, 10, 15, 20, 25, 30)


def pooled(counts):
    tot = {t: [0, 0, 0] for t in es.TYPES}
    for c in counts:
        for t in tot:
            tot[t] = [x + y for x, y in zip(tot[t], c[t])]
    return es.f1s(tot)


def best_rule(rp):
    """The (share, cues) with the highest score on rp's documents; ties go to
    the first in grid order."""
    best = None
    for sh in SHARES:
        for cue in CUES:
            r = es.f1s(rp.counts(sh, cue))[0]
            if best is None or r > best[0]:
                best = (r, sh, cue)
    return best


def rule(lam, path_a, path_b):
    labels, A = es.load(path_a)
    _, B = es.load(path_b)
    on_b = StackReplay(labels, B, *fit(A, labels, lam))  # fold B, layer from A
    on_a = StackReplay(labels, A, *fit(B, labels, lam))
    _, sa, ca = best_rule(on_a)
    _, sb, cb = best_rule(on_b)
    print('rule chosen on fold A: share %.2f, cues %d; on fold B: share %.2f, cues %d' % (sa, ca, sb, cb))
    print('lambda %g, layer and rule cross-fitted, %d documents: %s' % (
        lam, len(A) + len(B), es.fmt(pooled([on_b.counts(sa, ca), on_a.counts(sb, cb)]))))
    both = on_b
    both.docs = on_b.docs + on_a.docs
    r, s, c = best_rule(both)
    print('rule chosen on both folds: share %.2f, cues %d (in-sample %.4f; shipped rule %s)' % (
        s, c, r, es.fmt(both.score(0.2, 25))))


def main(argv):
    if len(argv) == 5 and argv[1] == 'rule':
        return rule(float(argv[2]), argv[3], argv[4])
    if len(argv) < 4 or argv[1] not in ('cv', 'fit', 'eval'):
        sys.exit(__doc__)
    if argv[1] == 'cv':
        lam = float(argv[2])
        labels, A = es.load(argv[3])
        _, B = es.load(argv[4])
        runs = [StackReplay(labels, B, *fit(A, labels, lam)),
                StackReplay(labels, A, *fit(B, labels, lam))]
        both = runs[0]
        both.docs = runs[0].docs + runs[1].docs
        print('lambda %g, %d documents, each fold by a layer fitted on the other: %s' % (
            lam, len(both.docs), es.fmt(both.score(0.2, 25))))
    elif argv[1] == 'fit':
        labels, docs = es.load_all(argv[4:])
        W, b = fit(docs, labels, float(argv[2]))
        layer = {'labels': labels, 'lambda': float(argv[2]),
                 'weights': [[round(float(x), 6) for x in row] for row in W],
                 'bias': [round(float(x), 6) for x in b]}
        with open(argv[3], 'w') as f:
            json.dump(layer, f, indent=1)
        print('%s: fitted on %d documents' % (argv[3], len(docs)))
    else:
        layer = json.load(open(argv[2]))
        share, cues, paths = 0.2, 25, argv[3:]
        if paths[0] == '--rule':
            if len(paths) < 4:
                sys.exit(__doc__)
            share, cues, paths = float(paths[1]), float(paths[2]), paths[3:]
        labels, docs = es.load_all(paths)
        assert labels == layer['labels'], 'label order differs'
        rp = StackReplay(labels, docs, np.array(layer['weights']), np.array(layer['bias']))
        print('%d documents: %s' % (len(docs), es.fmt(rp.score(share, cues))))


if __name__ == '__main__':
    main(sys.argv)
