/*
 * tokens.c - token-level scoring of whole corpora: gold and predicted token
 * corpora sentence by sentence, or gold against the paper's LLM output
 * aligned by position.
 *
 * Sentences are the paper's: those of every document in order (empty ones
 * skipped), except that a document's last sentence that does not end on
 * ".", "?" or "!" runs on into the next document's first, because brat2iob
 * gave both one Sentence_Num_Global and the paper grouped tokens by it
 * (1,735 test sentences, not 1,743; see corpus/papercsv.c).  seqeval's "O"
 * between sentences therefore falls between these units.  Two token corpora
 * must agree on the sentences, each one's length and its tokens, else scoring
 * would compare labels of different words; the error names the document,
 * sentence and token, shows invisible characters (a BOM, a no-break space)
 * escaped, and says when the two lay the documents out differently (same
 * sentences, other units).  In strict mode a label seqeval's IOB2 scheme
 * rejects is an error naming side, document, sentence, token and label.
 * LLM output is aligned as the paper did: block i to sentence i, cut when
 * too long, padded with O when too short, and the sentences whose length
 * differed are counted.  A block count that differs from the
 * sentence count is an error: aligning by position would then shift every
 * later sentence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/internal.h"

/* A sentence of a document (empty ones are skipped, as the paper's CSV has
 * no rows for them); join: the paper's sentence goes on into the next one. */
typedef struct seg {
    const cl_doc *d;
    int32_t sent, tb, te;
    bool join;
} seg;

static bool closes(const cl_doc *d, int32_t t)
{
    size_t nb;
    const char *tb = cl_doc_token_bytes(d, t, &nb);
    return nb == 1 && (*tb == '.' || *tb == '?' || *tb == '!');
}

/* The sentences of c in order, with brat2iob's rule for the paper's
 * sentence units: a document's last sentence that does not end on ".", "?"
 * or "!" shares its Sentence_Num_Global with the next document's first
 * sentence (see corpus/papercsv.c), and the paper grouped tokens by it. */
static seg *segments(const cl_corpus *c, int64_t *nseg, int64_t *nunits)
{
    int64_t cap = 0;
    for (int32_t i = 0; i < c->ndocs; i++)
        cap += c->docs[i]->nsentences > 0 ? c->docs[i]->nsentences : 1;
    seg *v = malloc((size_t)(cap ? cap : 1) * sizeof *v);
    if (!v)
        return NULL;
    int64_t n = 0;
    for (int32_t i = 0; i < c->ndocs; i++) {
        const cl_doc *d = c->docs[i];
        int32_t ns = d->nsentences > 0 ? d->nsentences : (d->ntokens > 0 ? 1 : 0);
        int64_t first = n;
        for (int32_t s = 0; s < ns; s++) {
            int32_t tb = d->nsentences > 0 ? d->sentences[s].tok_begin : 0;
            int32_t te = d->nsentences > 0 ? d->sentences[s].tok_end : d->ntokens;
            if (te > tb)
                v[n++] = (seg){d, s, tb, te, false};
        }
        if (n > first)
            v[n - 1].join = !closes(d, v[n - 1].te - 1);
    }
    if (n > 0)
        v[n - 1].join = false;
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        u += !v[i].join;
    *nseg = n;
    *nunits = u;
    return v;
}

/* One sentence unit: its segments [s0, s1), labels and token positions. */
typedef struct unit {
    int64_t s0, s1;
    const char **labels;
    const cl_doc **docs;
    int32_t *toks;
    int32_t n, cap;
} unit;

static void unit_free(unit *u)
{
    free(u->labels);
    free(u->docs);
    free(u->toks);
}

/* Gather the unit starting at segment *at; -1 on out of memory. */
static int next_unit(const seg *v, int64_t nseg, int64_t *at, unit *u)
{
    u->s0 = *at;
    u->n = 0;
    int64_t i = *at;
    for (; i < nseg; i++) {
        int32_t k = v[i].te - v[i].tb;
        if (u->n + k > u->cap) {
            int32_t cap = (u->n + k) * 2;
            const char **l = realloc(u->labels, (size_t)cap * sizeof *l);
            if (l)
                u->labels = l;
            const cl_doc **d = realloc(u->docs, (size_t)cap * sizeof *d);
            if (d)
                u->docs = d;
            int32_t *t = realloc(u->toks, (size_t)cap * sizeof *t);
            if (t)
                u->toks = t;
            if (!l || !d || !t)
                return -1;
            u->cap = cap;
        }
        for (int32_t t = v[i].tb; t < v[i].te; t++) {
            const cl_doc *d = v[i].d;
            u->labels[u->n] = d->tags && d->tags[t] && d->tags[t][0] ? d->tags[t] : "O";
            u->docs[u->n] = d;
            u->toks[u->n] = t;
            u->n++;
        }
        if (!v[i].join) {
            i++;
            break;
        }
    }
    u->s1 = i;
    *at = i;
    return 0;
}

/* Token texts of a unit for error examples (owned strings). */
static char **words_of(const unit *u)
{
    char **w = calloc((size_t)(u->n ? u->n : 1), sizeof *w);
    if (!w)
        return NULL;
    for (int32_t i = 0; i < u->n; i++) {
        w[i] = cl_doc_token_text(u->docs[i], u->toks[i]);
        if (!w[i]) {
            for (int32_t j = 0; j < i; j++)
                free(w[j]);
            free(w);
            return NULL;
        }
    }
    return w;
}

/* Whether a paper-lines token is the gold token w as the paper's parser
 * leaves it: without '[' and ']', stripped, and, on a line that did not
 * split into token and label (a ':' token), followed by " : ". */
static bool same_answer_token(const char *pred, const char *w)
{
    if (strcmp(pred, w) == 0)
        return true; /* nearly always: no copy needed */
    char *g = malloc(strlen(w) + 1);
    if (!g)
        return false; /* counted as differing: the count is a diagnostic */
    size_t n = 0;
    for (const char *c = w; *c; c++)
        if (*c != '[' && *c != ']')
            g[n++] = *c;
    g[n] = '\0';
    while (n > 0 && (g[n - 1] == ' ' || g[n - 1] == '\t'))
        g[--n] = '\0';
    const char *a = g;
    while (*a == ' ' || *a == '\t')
        a++;
    size_t la = strlen(a);
    bool same = strcmp(pred, a) == 0 ||
                (strncmp(pred, a, la) == 0 && strncmp(pred + la, " : ", 3) == 0);
    free(g);
    return same;
}

static void words_free(char **w, int32_t n)
{
    if (!w)
        return;
    for (int32_t i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

static bool same_token(const cl_doc *a, int32_t i, const cl_doc *b, int32_t j)
{
    size_t na, nb;
    const char *pa = cl_doc_token_bytes(a, i, &na);
    const char *pb = cl_doc_token_bytes(b, j, &nb);
    return pa && pb && na == nb && !memcmp(pa, pb, na);
}

/* "gold" or "gold (FILE)"; side 0 gold, 1 predictions. */
static const char *side_name(const cl_eval_params *p, int side, char *buf, size_t cap)
{
    const char *what = side ? "predictions" : "gold";
    const char *file = side ? p->pred_name : p->gold_name;
    if (!file)
        return what;
    snprintf(buf, cap, "%s (%s)", what, file);
    return buf;
}

/* Where a unit comes from: "document a, sentence 2", and for a unit that
 * runs over documents "document a, sentence 3 + document b, sentence 1". */
static const char *unit_where(const seg *v, const unit *u, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int64_t i = u->s0; i < u->s1 && len + 1 < cap; i++) {
        if (i - u->s0 == 3) {
            snprintf(buf + len, cap - len, " + ...");
            break;
        }
        int k = snprintf(buf + len, cap - len, "%sdocument %s, sentence %d", i > u->s0 ? " + " : "",
                         v[i].d->id ? v[i].d->id : "?", v[i].sent + 1);
        if (k < 0)
            break;
        len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    return buf;
}

/* The first sentence (segment) where two segment lists differ in document
 * or length, for the message when their counts differ. */
static cl_status count_mismatch(const cl_eval_params *p, const seg *gv, int64_t ngs,
                                const seg *pv, int64_t nps, cl_error *err)
{
    char gn[512], pn[512];
    int64_t i = 0;
    while (i < ngs && i < nps && gv[i].te - gv[i].tb == pv[i].te - pv[i].tb &&
           strcmp(gv[i].d->id ? gv[i].d->id : "", pv[i].d->id ? pv[i].d->id : "") == 0)
        i++;
    char where[1024];
    if (i < ngs && i < nps)
        snprintf(where, sizeof where,
                 "the first that differs is sentence %lld: gold document %s, sentence %d (%d "
                 "tokens), predictions document %s, sentence %d (%d tokens)",
                 (long long)i + 1, gv[i].d->id, gv[i].sent + 1, gv[i].te - gv[i].tb,
                 pv[i].d->id, pv[i].sent + 1, pv[i].te - pv[i].tb);
    else if (i < ngs)
        snprintf(where, sizeof where, "the predictions end before gold document %s, sentence %d",
                 gv[i].d->id, gv[i].sent + 1);
    else
        snprintf(where, sizeof where, "the gold ends before predictions document %s, sentence %d",
                 pv[i].d->id, pv[i].sent + 1);
    return cl_error_set(err, CL_ERR_PARSE,
                        "%s has %lld sentences, %s %lld (the non-empty sentences of every "
                        "document, in order); %s",
                        side_name(p, 0, gn, sizeof gn), (long long)ngs,
                        side_name(p, 1, pn, sizeof pn), (long long)nps, where);
}

/* Two units that should be the same sentence are not: other lengths, or
 * other documents run together (the same sentences laid out in documents
 * differently, so that the paper's units differ). */
static cl_status unit_mismatch(const cl_eval_params *p, int64_t k, const seg *gv, const unit *gu,
                               const seg *pv, const unit *pu, cl_error *err)
{
    char gw[512], pw[512], gn[512], pn[512];
    unit_where(gv, gu, gw, sizeof gw);
    unit_where(pv, pu, pw, sizeof pw);
    bool layout = gu->s1 - gu->s0 != pu->s1 - pu->s0;
    return cl_error_set(err, CL_ERR_PARSE, "sentence %lld: %s has %d tokens (%s), %s %d (%s)%s",
                        (long long)k, side_name(p, 0, gn, sizeof gn), gu->n, gw,
                        side_name(p, 1, pn, sizeof pn), pu->n, pw,
                        layout ? "; the two split the text into documents differently, and a "
                                 "document whose last sentence does not end in . ? ! runs on into "
                                 "the next document's first sentence (the paper's sentence units)"
                               : "");
}

/* Strict mode: the first label of a unit, gold side first, that seqeval's
 * IOB2 scheme rejects. */
static cl_status check_iob2(const cl_eval_params *p, int64_t k, const unit *gu, const unit *pu,
                            cl_error *err)
{
    for (int side = 0; side < 2; side++) {
        const unit *u = side ? pu : gu;
        int32_t bad = ev_first_not_iob2(u->labels, u->n);
        if (bad < 0)
            continue;
        /* the token's place in its own document's sentence (a unit can run
         * over two documents) */
        const cl_doc *d = u->docs[bad];
        int32_t sent = 0;
        while (sent + 1 < d->nsentences && d->sentences[sent + 1].tok_begin <= u->toks[bad])
            sent++;
        int32_t at = u->toks[bad] - (d->nsentences > 0 ? d->sentences[sent].tok_begin : 0);
        char *w = cl_doc_token_text(d, u->toks[bad]);
        char name[512];
        ev_not_iob2(err, u->labels[bad], at, w);
        free(w);
        return cl_error_prefix(err, "%s, sentence %lld (document %s, sentence %d), ",
                               side_name(p, side, name, sizeof name), (long long)k, d->id,
                               sent + 1);
    }
    return CL_OK;
}

static cl_status check_tags(const cl_corpus *gold, cl_error *err)
{
    for (int32_t i = 0; i < gold->ndocs; i++) {
        const cl_doc *d = gold->docs[i];
        if (d->ntokens > 0 && !d->tags)
            return cl_error_set(err, CL_ERR_ARG,
                                "gold document %s has no token labels (token-level scoring "
                                "needs a token format: paper-csv, conll or jsonl)",
                                d->id ? d->id : "?");
    }
    return CL_OK;
}

cl_status cl_eval_corpora(const cl_corpus *gold, const cl_corpus *pred,
                          const cl_eval_params *params, cl_eval_result *out, cl_error *err)
{
    ev_result_init(out);
    cl_eval_params p = params ? *params : cl_eval_default_params();
    cl_status st = check_tags(gold, err);
    if (st != CL_OK)
        return st;
    int64_t ngs = 0, nps = 0, ngu = 0, npu = 0;
    seg *gv = segments(gold, &ngs, &ngu);
    seg *pv = segments(pred, &nps, &npu);
    cl_scorer *sc = gv && pv ? cl_scorer_new(&p, err) : NULL;
    unit gu = {0}, pu = {0};
    if (!sc) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
        goto done;
    }
    if (ngs != nps) { /* (same count, other units: the loop below says where) */
        st = count_mismatch(&p, gv, ngs, pv, nps, err);
        goto done;
    }
    int64_t ga = 0, pa = 0, k = 0;
    while (st == CL_OK && ga < ngs) {
        if (next_unit(gv, ngs, &ga, &gu) || next_unit(pv, nps, &pa, &pu)) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        k++;
        const seg *g0 = &gv[gu.s0];
        if (gu.n != pu.n || gu.s1 - gu.s0 != pu.s1 - pu.s0) {
            st = unit_mismatch(&p, k, gv, &gu, pv, &pu, err);
            break;
        }
        for (int32_t i = 0; i < gu.n; i++) {
            if (!same_token(gu.docs[i], gu.toks[i], pu.docs[i], pu.toks[i])) {
                char *a = cl_doc_token_text(gu.docs[i], gu.toks[i]);
                char *b = cl_doc_token_text(pu.docs[i], pu.toks[i]);
                char va[160], vb[160];
                st = cl_error_set(err, CL_ERR_PARSE,
                                  "sentence %lld (document %s, sentence %d), token %d: gold "
                                  "'%s', predictions '%s' (the token texts must be the same)",
                                  (long long)k, g0->d->id, g0->sent + 1, i + 1,
                                  ev_visible(a ? a : "?", va, sizeof va),
                                  ev_visible(b ? b : "?", vb, sizeof vb));
                free(a);
                free(b);
                break;
            }
        }
        if (st == CL_OK && p.mode == CL_EVAL_STRICT)
            st = check_iob2(&p, k, &gu, &pu, err);
        if (st != CL_OK)
            break;
        char **w = p.errors ? words_of(&gu) : NULL;
        if (p.errors && !w) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        st = cl_scorer_add(sc, gu.labels, pu.labels, gu.n, (const char *const *)w, err);
        words_free(w, gu.n);
    }
    if (st == CL_OK)
        st = cl_scorer_result(sc, out, err);
done:
    unit_free(&gu);
    unit_free(&pu);
    free(gv);
    free(pv);
    cl_scorer_free(sc);
    return st;
}

cl_status cl_eval_paperlines(const cl_corpus *gold, const cl_paperlines *pred,
                             const char *pred_file, const cl_eval_params *params,
                             cl_eval_result *out, cl_error *err)
{
    ev_result_init(out);
    cl_eval_params p = params ? *params : cl_eval_default_params();
    if (!pred_file)
        pred_file = "<predictions>";
    cl_status st = check_tags(gold, err);
    if (st != CL_OK)
        return st;
    int64_t ngs = 0, ngu = 0;
    seg *gv = segments(gold, &ngs, &ngu);
    if (!gv)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    if (ngu != pred->nblocks) {
        int64_t line = pred->nblocks > 0 ? pred->blocks[pred->nblocks - 1].line : 1;
        if (pred->nblocks > ngu)
            line = pred->blocks[ngu].line;
        free(gv);
        return cl_error_set(err, CL_ERR_PARSE,
                            "%s:%lld: %d sentence blocks but the gold has %lld sentences "
                            "(blocks are aligned to sentences by position)",
                            pred_file, (long long)line, pred->nblocks, (long long)ngu);
    }
    unit gu = {0};
    const char **al = NULL;
    int32_t alcap = 0;
    cl_scorer *sc = cl_scorer_new(&p, err);
    if (!sc)
        st = err ? err->code : CL_ERR_NOMEM;
    int64_t at = 0, k = 0, misaligned = 0, shorter = 0, mismatch = 0, mismatch_tokens = 0;
    while (st == CL_OK && at < ngs) {
        if (next_unit(gv, ngs, &at, &gu)) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        if (gu.n > alcap) {
            const char **v = realloc(al, (size_t)gu.n * 2 * sizeof *v);
            if (!v) {
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
                break;
            }
            al = v;
            alcap = gu.n * 2;
        }
        const cl_pl_block *b = &pred->blocks[k++];
        if (cl_eval_align((const char *const *)b->labels, b->n, gu.n, al)) {
            misaligned++;
            shorter += b->n < gu.n;
        }
        char **w = words_of(&gu);
        if (!w) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        if (b->n == gu.n) {
            int64_t differ = 0;
            for (int32_t i = 0; i < b->n; i++)
                differ += !same_answer_token(b->tokens[i] ? b->tokens[i] : "", w[i]);
            mismatch += differ > 0;
            mismatch_tokens += differ;
        }
        if (p.mode == CL_EVAL_STRICT) { /* seqeval raises on labels that are not IOB2 */
            unit pu = {.labels = al, .docs = gu.docs, .toks = gu.toks, .n = gu.n};
            int32_t bad = ev_first_not_iob2(al, gu.n);
            if (bad >= 0 && ev_first_not_iob2(gu.labels, gu.n) < 0) {
                ev_not_iob2(err, al[bad], bad, bad < b->n ? b->tokens[bad] : NULL);
                st = cl_error_prefix(err, "%s:%lld: sentence block %lld (it starts here), answer ",
                                     pred_file, (long long)b->line, (long long)k);
            } else {
                p.pred_name = pred_file;
                st = check_iob2(&p, k, &gu, &pu, err);
            }
        }
        if (st == CL_OK)
            st = cl_scorer_add(sc, gu.labels, al, gu.n, p.errors ? (const char *const *)w : NULL,
                               err);
        words_free(w, gu.n);
    }
    if (st == CL_OK)
        st = cl_scorer_result(sc, out, err);
    if (st == CL_OK) {
        out->misaligned = misaligned;
        out->misaligned_short = shorter;
        out->text_mismatch = mismatch;
        out->text_mismatch_tokens = mismatch_tokens;
    }
    unit_free(&gu);
    free(al);
    free(gv);
    cl_scorer_free(sc);
    return st;
}
