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
 * would compare labels of different words; the error names the document and
 * sentence.  LLM output is aligned as the paper did: block i to sentence i,
 * cut when too long, padded with O when too short, and the sentences whose
 * length differed are counted.  A block count that differs from the
 * sentence count is an error: aligning by position would then shift every
 * later sentence.
 */
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
    if (ngs != nps || ngu != npu) {
        st = cl_error_set(err, CL_ERR_PARSE,
                          "predictions have %lld sentences but the gold has %lld", (long long)nps,
                          (long long)ngs);
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
            st = cl_error_set(err, CL_ERR_PARSE,
                              "sentence %lld (document %s, sentence %d): gold has %d tokens, "
                              "predictions %d",
                              (long long)k, g0->d->id, g0->sent + 1, gu.n, pu.n);
            break;
        }
        for (int32_t i = 0; i < gu.n; i++) {
            if (!same_token(gu.docs[i], gu.toks[i], pu.docs[i], pu.toks[i])) {
                char *a = cl_doc_token_text(gu.docs[i], gu.toks[i]);
                char *b = cl_doc_token_text(pu.docs[i], pu.toks[i]);
                st = cl_error_set(err, CL_ERR_PARSE,
                                  "sentence %lld (document %s, sentence %d), token %d: gold "
                                  "'%s', predictions '%s'",
                                  (long long)k, g0->d->id, g0->sent + 1, i + 1, a ? a : "?",
                                  b ? b : "?");
                free(a);
                free(b);
                break;
            }
        }
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
        st = cl_scorer_add(sc, gu.labels, al, gu.n, p.errors ? (const char *const *)w : NULL, err);
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
