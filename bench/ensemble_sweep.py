#!/usr/bin/env python3
"""bench/ensemble_sweep.py - replay the ensemble's decoding (src/ensemble/
ensemble.c) over per-token probabilities from bench/ensemble_probs, to
compare configurations in seconds; and a bootstrap interval of a score.

  ensemble_sweep.py grid PROBS...      CRF weight x skin share x cue density grid
  ensemble_sweep.py repeat PROBS...    the shipped rule with and without
                                       repeating rare-disease mentions
  ensemble_sweep.py alone PROBS...     each model alone (its labels by Viterbi,
                                       no document rule), and their mix with it
  ensemble_sweep.py bootstrap GOLD.csv PRED.csv [PRED2.csv]
                                       95% interval over resampled documents
                                       (paper CSVs; with PRED2: the paired
                                       difference PRED2 - PRED)

The replay gives the C implementation's figures exactly on the shipped
configuration (dev .6326, without the document rule .5967).  Scores are the
paper's protocol (seqeval default mode per sentence, mean F1 of the five
types).  Needs numpy.
"""
import collections, csv, random, re, sys
import numpy as np

TYPES = ['DISEASE', 'RAREDISEASE', 'SKINRAREDISEASE', 'SIGN', 'SYMPTOM']
# models/raredis-ensemble.json's cue words
CUES = ["skin", "cutaneous", "subcutaneous", "rash", "rashes", "lesion", "lesions", "nail",
        "nails", "hair", "scalp", "derm*", "erythem*", "blister*", "pigment*", "hyperpigment*",
        "hypopigment*", "kerat*", "ichthyo*", "epiderm*", "papul*", "plaque", "plaques",
        "scaly", "scaling", "scales", "itch*", "prurit*", "eczema*", "psoria*", "telangiect*",
        "nodule", "nodules", "ulcer*", "sweat*", "alopecia", "freckl*", "mole", "moles", "nevi",
        "nevus", "wart*"]


def is_cue(w):
    return any(w.startswith(c[:-1]) if c.endswith('*') else w == c for c in CUES)


class Doc:
    def __init__(self, ident):
        self.id, self.sents, self.toks, self.gold, self.pc, self.pe = ident, [], [], [], [], []


def load(path):
    docs, labels = [], None
    for line in open(path, encoding='utf-8', errors='replace'):
        line = line.rstrip('\n')
        if line.startswith('#labels'):
            labels = line.split()[1:]
        elif line.startswith('#doc '):
            docs.append(Doc(line.split()[1]))
        elif line == '#s':
            docs[-1].sents.append(len(docs[-1].toks))
        else:
            tok, gold_and_crf, enc = line.split('\t')
            g = gold_and_crf.split()
            d = docs[-1]
            d.toks.append(tok)
            d.gold.append(g[0])
            d.pc.append([float(x) for x in g[1:]])
            d.pe.append([float(x) for x in enc.split()])
    for d in docs:
        d.pc = np.array(d.pc).reshape(-1, len(labels))
        d.pe = np.exp(np.array(d.pe).reshape(-1, len(labels)))
        d.sents.append(len(d.toks))
        words = [w.lower() for t in d.toks for w in re.findall('[A-Za-z]+', t)]
        d.cue = 1000.0 * sum(map(is_cue, words)) / len(words) if words else 0.0
    return labels, docs


def load_all(paths):
    docs = []
    for p in paths:
        labels, d = load(p)
        docs += d
    return labels, docs


def viterbi(labels, lp):
    """Best path over valid BIO (an I-X only after B-X or I-X)."""
    L = len(labels)
    ok = np.ones((L, L), bool)
    start = np.ones(L, bool)
    for j, b in enumerate(labels):
        if b.startswith('I-'):
            start[j] = False
            for i, a in enumerate(labels):
                ok[i, j] = a[2:] == b[2:]
    trans = np.where(ok, 0.0, -1e30)
    dp = np.where(start, lp[0], -1e30)
    back = np.zeros(lp.shape, int)
    for i in range(1, len(lp)):
        m = dp[:, None] + trans
        back[i] = m.argmax(0)
        dp = m.max(0) + lp[i]
    path = [int(dp.argmax())]
    for i in range(len(lp) - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return path[::-1]


def entities(seq):
    """seqeval's default-mode chunks (start, end, type) of one sentence."""
    out, prev, ptype, start = [], 'O', '', None
    for i, t in enumerate(list(seq) + ['O']):
        tag, typ = t[0], t[2:]
        end = (prev in 'BI' and tag in 'BO') or (prev != 'O' and ptype != typ)
        begin = tag == 'B' or (prev == 'O' and tag == 'I') or (tag != 'O' and ptype != typ)
        if end and start is not None:
            out.append((start, i, ptype))
            start = None
        if begin:
            start = i
        prev, ptype = tag, typ
    return out


def f1s(counts):
    f = {}
    for t in TYPES:
        tp, npred, ngold = counts[t]
        p = tp / npred if npred else 0.0
        r = tp / ngold if ngold else 0.0
        f[t] = 2 * p * r / (p + r) if p + r else 0.0
    return sum(f.values()) / len(TYPES), f


def sentence_counts(pairs):
    c = {t: [0, 0, 0] for t in TYPES}
    for gold, pred in pairs:
        g, p = set(entities(gold)), set(entities(pred))
        for e in g:
            if e[2] in c:
                c[e[2]][2] += 1
        for e in p:
            if e[2] in c:
                c[e[2]][1] += 1
                c[e[2]][0] += e in g
    return c


class Replay:
    """The ensemble's steps with the document rule left for later."""

    def __init__(self, labels, docs, w, scores=None):
        """scores(d): the log-scores Viterbi reads (default: the log-linear mix)."""
        ix = {l: i for i, l in enumerate(labels)}
        self.labels = labels
        self.skin = (ix['B-SKINRAREDISEASE'], ix['I-SKINRAREDISEASE'])
        self.base = (ix['B-RAREDISEASE'], ix['I-RAREDISEASE'])
        self.docs = []
        for d in docs:
            lp = (scores(d) if scores else
                  w * np.log(d.pc + 1e-9) + (1 - w) * np.log(d.pe + 1e-9))
            avg = w * d.pc + (1 - w) * d.pe
            path = []
            for a, b in zip(d.sents[:-1], d.sents[1:]):
                if b > a:
                    path += viterbi(labels, lp[a:b])
            path = np.array(path, int)
            m = np.isin(path, self.skin + self.base)
            s_skin = avg[m][:, list(self.skin)].sum()
            s_base = avg[m][:, list(self.base)].sum()
            share = s_skin / (s_skin + s_base) if s_skin + s_base > 0 else None
            self.docs.append((d, path, share))

    def score(self, min_share, cue_min, repeat=False):
        return f1s(self.counts(min_share, cue_min, repeat))

    def counts(self, min_share, cue_min, repeat=False):
        """Per-type [true positives, predicted, gold] under the document rule
        (summable over sets of documents, unlike F1)."""
        (sb, si), (bb, bi) = self.skin, self.base
        pairs = []
        for d, path, share in self.docs:
            p = path
            if share is not None and min_share is not None:
                if share >= min_share or (cue_min > 0 and d.cue >= cue_min):
                    p = np.where(p == bb, sb, np.where(p == bi, si, p))
                else:
                    p = np.where(p == sb, bb, np.where(p == si, bi, p))
            labs = [self.labels[k] for k in p]
            if repeat:
                labs = repeat_mentions(labs, d, ('RAREDISEASE', 'SKINRAREDISEASE'))
            pairs += [(d.gold[a:b], labs[a:b]) for a, b in zip(d.sents[:-1], d.sents[1:])]
        return sentence_counts(pairs)


def repeat_mentions(labs, d, types):
    """Label every all-O repeat of a mention's words (case-folded) with its type."""
    low = [t.lower() for t in d.toks]
    found = {}
    for a, b in zip(d.sents[:-1], d.sents[1:]):
        for s, e, t in entities(labs[a:b]):
            if t in types:
                found.setdefault(tuple(low[a + s:a + e]), t)
    labs = list(labs)
    keys = sorted(found, key=len, reverse=True)
    for a, b in zip(d.sents[:-1], d.sents[1:]):
        i = a
        while i < b:
            k = next((k for k in keys if i + len(k) <= b and tuple(low[i:i + len(k)]) == k
                      and all(x == 'O' for x in labs[i:i + len(k)])
                      and (i + len(k) == b or not labs[i + len(k)].startswith('I-'))), None)
            if k is None:
                i += 1
                continue
            labs[i:i + len(k)] = ['B-' + found[k]] + ['I-' + found[k]] * (len(k) - 1)
            i += len(k)
    return labs


def fmt(r):
    return '%.4f  %s' % (r[0], ' '.join('%s %.4f' % (t[:4], r[1][t]) for t in TYPES))


def grid(paths):
    labels, docs = load_all(paths)
    rows = []
    for w in (0.4, 0.5, 0.6, 0.7):
        rp = Replay(labels, docs, w)
        for share in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 1.01):
            for cue in (0, 20, 25, 30):
                rows.append((rp.score(share, cue), w, share, cue))
    rows.sort(key=lambda r: -r[0][0])
    print('%d documents; best 10 (weight, share, cue per 1,000 words):' % len(docs))
    for r, w, share, cue in rows[:10]:
        print('  %.1f %.2f %2d  %s' % (w, share, cue, fmt(r)))
    for r, w, share, cue in rows:
        if (w, share, cue) == (0.5, 0.2, 25):
            print('shipped (0.5, 0.20, 25): %s' % fmt(r))


def repeat(paths):
    labels, docs = load_all(paths)
    rp = Replay(labels, docs, 0.5)
    print('%d documents' % len(docs))
    print('shipped rule          %s' % fmt(rp.score(0.2, 25)))
    print('+ repeated mentions   %s' % fmt(rp.score(0.2, 25, repeat=True)))


def alone(paths):
    labels, docs = load_all(paths)
    print('%d documents' % len(docs))
    print('CRF alone             %s' % fmt(Replay(labels, docs, 1.0).score(None, 0)))
    print('encoder alone         %s' % fmt(Replay(labels, docs, 0.0).score(None, 0)))
    print('mix + document rule   %s' % fmt(Replay(labels, docs, 0.5).score(0.2, 25)))


def read_csv(path):
    docs = collections.OrderedDict()
    with open(path, newline='', encoding='utf-8') as f:
        rows = csv.reader(f)
        next(rows)
        for tok, tag, _, sent, name in rows:
            docs.setdefault(name, collections.OrderedDict()).setdefault(sent, []).append(tag)
    return docs


def bootstrap(gold_path, pred_paths, n=2000, seed=1):
    gold = read_csv(gold_path)
    names = list(gold)
    runs = []
    for p in pred_paths:
        pred = read_csv(p)
        runs.append([sentence_counts([(gold[d][s], pred[d][s]) for s in gold[d]]) for d in names])

    def avg(per_doc, idx):
        tot = {t: [sum(per_doc[i][t][k] for i in idx) for k in range(3)] for t in TYPES}
        return f1s(tot)[0]
    rng = random.Random(seed)
    draws = [[] for _ in runs]
    for _ in range(n):
        idx = [rng.randrange(len(names)) for _ in names]
        for k, r in enumerate(runs):
            draws[k].append(avg(r, idx))
    for k, p in enumerate(pred_paths):
        v = sorted(draws[k])
        print('%s: %.4f, 95%% interval %.4f-%.4f, %.1f%% of draws >= .60 (%d documents)' % (
            p, avg(runs[k], range(len(names))), v[int(.025 * n)], v[int(.975 * n)],
            100.0 * sum(x >= .6 for x in v) / n, len(names)))
    if len(runs) == 2:
        dv = sorted(b - a for a, b in zip(draws[0], draws[1]))
        print('difference (second - first): 95%% interval %.4f-%.4f' % (dv[int(.025 * n)],
                                                                     dv[int(.975 * n)]))


if __name__ == '__main__':
    if len(sys.argv) < 3 or sys.argv[1] not in ('grid', 'repeat', 'alone', 'bootstrap'):
        sys.exit(__doc__)
    if sys.argv[1] == 'bootstrap':
        bootstrap(sys.argv[2], sys.argv[3:])
    else:
        {'grid': grid, 'repeat': repeat, 'alone': alone}[sys.argv[1]](sys.argv[2:])
