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

#include "clinner/labels.h"
#include "eval/eval_internal.h"

/* A sentence of a document (empty ones are skipped, as the paper's CSV has
 * no rows for them); join: the paper's sentence goes on into the next one. */
typedef struct seg {
    const cl_doc *d;
    int32_t doc, sent, tb, te;
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
static seg *segments(const cl_corpus *c, int64_t *nseg)
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
                v[n++] = (seg){d, i, s, tb, te, false};
        }
        if (n > first)
            v[n - 1].join = !closes(d, v[n - 1].te - 1);
    }
    if (n > 0)
        v[n - 1].join = false;
    *nseg = n;
    return v;
}

/* ---- the token-level view of a corpus ----
 * What scoring needs and nothing more: per token a label id and its text
 * (in one arena), the sentences (segments) with their document and index
 * for messages, and the sentence units as runs of segments.  About 15 bytes
 * per token against the ~60 of a document, so `clinner eval` can drop each
 * corpus once it is reduced. */
struct cl_eval_tokens {
    int64_t ntok, nseg, nunits;
    uint16_t *label;   /* ntok label ids */
    int64_t *text_at;  /* ntok + 1 offsets into text */
    cl_buf text;       /* token texts, back to back */
    int64_t *seg_tok;  /* nseg + 1 first tokens */
    int32_t *seg_doc, *seg_sent;
    int64_t *unit_seg; /* nunits + 1 first segments */
    char **doc_ids;
    int32_t ndocs;
};

void cl_eval_tokens_free(cl_eval_tokens *t)
{
    if (!t)
        return;
    free(t->label);
    free(t->text_at);
    cl_buf_free(&t->text);
    free(t->seg_tok);
    free(t->seg_doc);
    free(t->seg_sent);
    free(t->unit_seg);
    for (int32_t i = 0; i < t->ndocs; i++)
        free(t->doc_ids[i]);
    free(t->doc_ids);
    free(t);
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

/* Room for the view of c cut into v[0..nseg). */
static int alloc_view(cl_eval_tokens *t, const cl_corpus *c, const seg *v, int64_t nseg)
{
    for (int64_t i = 0; i < nseg; i++) {
        t->ntok += v[i].te - v[i].tb;
        t->nunits += !v[i].join;
    }
    t->nseg = nseg;
    size_t nt = (size_t)t->ntok, nu = (size_t)t->nunits, ns = (size_t)nseg;
    t->label = malloc((nt ? nt : 1) * sizeof *t->label);
    t->text_at = malloc((nt + 1) * sizeof *t->text_at);
    t->seg_tok = malloc((ns + 1) * sizeof *t->seg_tok);
    t->seg_doc = malloc((ns ? ns : 1) * sizeof *t->seg_doc);
    t->seg_sent = malloc((ns ? ns : 1) * sizeof *t->seg_sent);
    t->unit_seg = malloc((nu + 1) * sizeof *t->unit_seg);
    t->doc_ids = calloc(c->ndocs ? (size_t)c->ndocs : 1, sizeof *t->doc_ids);
    if (!t->label || !t->text_at || !t->seg_tok || !t->seg_doc || !t->seg_sent ||
        !t->unit_seg || !t->doc_ids)
        return -1;
    for (int32_t i = 0; i < c->ndocs; i++, t->ndocs++)
        if (!(t->doc_ids[i] = cl_strdup(c->docs[i]->id ? c->docs[i]->id : "?")))
            return -1;
    return 0;
}

/* Fill the view from the segments; -1 out of memory, -2 too many labels. */
static int fill_view(cl_eval_tokens *t, const seg *v, int64_t nseg, cl_labels *labels)
{
    int64_t k = 0, u = 0;
    bool unit_open = false;
    for (int64_t i = 0; i < nseg; i++) {
        const cl_doc *d = v[i].d;
        if (!unit_open) {
            t->unit_seg[u] = i;
            unit_open = true;
        }
        t->seg_tok[i] = k;
        t->seg_doc[i] = v[i].doc;
        t->seg_sent[i] = v[i].sent;
        for (int32_t j = v[i].tb; j < v[i].te; j++, k++) {
            const char *tag = d->tags && d->tags[j] && d->tags[j][0] ? d->tags[j] : "O";
            int32_t id = cl_labels_intern(labels, tag, strlen(tag));
            if (id < 0)
                return -1;
            if (id > UINT16_MAX)
                return -2;
            t->label[k] = (uint16_t)id;
            size_t nb;
            const char *b = cl_doc_token_bytes(d, j, &nb);
            t->text_at[k] = (int64_t)t->text.len;
            if (cl_buf_append(&t->text, b, nb) != 0)
                return -1;
        }
        if (!v[i].join) {
            u++;
            unit_open = false;
        }
    }
    t->text_at[k] = (int64_t)t->text.len;
    t->seg_tok[nseg] = k;
    t->unit_seg[u] = nseg;
    return 0;
}

cl_status cl_eval_tokens_new(const cl_corpus *c, bool gold, cl_labels *labels,
                             cl_eval_tokens **out, cl_error *err)
{
    *out = NULL;
    if (gold && check_tags(c, err) != CL_OK)
        return err ? err->code : CL_ERR_ARG;
    int64_t nseg = 0;
    seg *v = segments(c, &nseg);
    cl_eval_tokens *t = v ? calloc(1, sizeof *t) : NULL;
    if (!t) {
        free(v);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    }
    cl_buf_init(&t->text);
    int rc = alloc_view(t, c, v, nseg);
    if (rc == 0)
        rc = fill_view(t, v, nseg, labels);
    free(v);
    if (rc != 0) {
        cl_eval_tokens_free(t);
        return rc == -2 ? cl_error_set(err, CL_ERR_ARG, "more than %d distinct labels",
                                       UINT16_MAX)
                        : cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    }
    *out = t;
    return CL_OK;
}

/* One unit of a view: tokens [t0, t0 + n), segments [s0, s1), their
 * labels as strings. */
typedef struct unit {
    int64_t t0, s0, s1;
    int32_t n, cap;
    const char **labels;
} unit;

static void unit_free(unit *u) { free(u->labels); }

/* Gather unit k; -1 on out of memory. */
static int get_unit(const cl_eval_tokens *t, const cl_labels *labels, int64_t k, unit *u)
{
    u->s0 = t->unit_seg[k];
    u->s1 = t->unit_seg[k + 1];
    u->t0 = t->seg_tok[u->s0];
    int64_t n = t->seg_tok[u->s1] - u->t0;
    if (n > INT32_MAX)
        return -1;
    if (n > u->cap) {
        const char **l = realloc(u->labels, (size_t)n * 2 * sizeof *l);
        if (!l)
            return -1;
        u->labels = l;
        u->cap = (int32_t)(n * 2 < INT32_MAX ? n * 2 : INT32_MAX);
    }
    u->n = (int32_t)n;
    for (int32_t i = 0; i < u->n; i++)
        u->labels[i] = cl_labels_name(labels, t->label[u->t0 + i]);
    return 0;
}

static const char *tok_bytes(const cl_eval_tokens *t, int64_t i, size_t *n)
{
    *n = (size_t)(t->text_at[i + 1] - t->text_at[i]);
    return t->text.data + t->text_at[i];
}

/* Token texts of a unit for error examples (owned strings). */
static char **words_of(const cl_eval_tokens *t, const unit *u)
{
    char **w = calloc((size_t)(u->n ? u->n : 1), sizeof *w);
    if (!w)
        return NULL;
    for (int32_t i = 0; i < u->n; i++) {
        size_t n;
        const char *b = tok_bytes(t, u->t0 + i, &n);
        w[i] = cl_strndup(b, n);
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

static bool same_token(const cl_eval_tokens *a, const cl_eval_tokens *b, int64_t i, int64_t j)
{
    size_t na, nb;
    const char *pa = tok_bytes(a, i, &na), *pb = tok_bytes(b, j, &nb);
    return na == nb && !memcmp(pa, pb, na);
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

static const char *seg_doc_id(const cl_eval_tokens *t, int64_t i)
{
    return t->doc_ids[t->seg_doc[i]];
}

static int32_t seg_len(const cl_eval_tokens *t, int64_t i)
{
    return (int32_t)(t->seg_tok[i + 1] - t->seg_tok[i]);
}

/* Where a unit comes from: "document a, sentence 2", and for a unit that
 * runs over documents "document a, sentence 3 + document b, sentence 1". */
static const char *unit_where(const cl_eval_tokens *t, const unit *u, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int64_t i = u->s0; i < u->s1 && len + 1 < cap; i++) {
        if (i - u->s0 == 3) {
            snprintf(buf + len, cap - len, " + ...");
            break;
        }
        int k = snprintf(buf + len, cap - len, "%sdocument %s, sentence %d", i > u->s0 ? " + " : "",
                         seg_doc_id(t, i), t->seg_sent[i] + 1);
        if (k < 0)
            break;
        len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    return buf;
}

/* The first sentence (segment) where two views differ in document or
 * length, for the message when their sentence counts differ. */
static cl_status count_mismatch(const cl_eval_params *p, const cl_eval_tokens *g,
                                const cl_eval_tokens *q, cl_error *err)
{
    char gn[512], pn[512];
    int64_t i = 0, ngs = g->nseg, nps = q->nseg;
    while (i < ngs && i < nps && seg_len(g, i) == seg_len(q, i) &&
           strcmp(seg_doc_id(g, i), seg_doc_id(q, i)) == 0)
        i++;
    char where[1024];
    if (i < ngs && i < nps)
        snprintf(where, sizeof where,
                 "the first that differs is sentence %lld: gold document %s, sentence %d (%d "
                 "tokens), predictions document %s, sentence %d (%d tokens)",
                 (long long)i + 1, seg_doc_id(g, i), g->seg_sent[i] + 1, seg_len(g, i),
                 seg_doc_id(q, i), q->seg_sent[i] + 1, seg_len(q, i));
    else if (i < ngs)
        snprintf(where, sizeof where, "the predictions end before gold document %s, sentence %d",
                 seg_doc_id(g, i), g->seg_sent[i] + 1);
    else
        snprintf(where, sizeof where, "the gold ends before predictions document %s, sentence %d",
                 seg_doc_id(q, i), q->seg_sent[i] + 1);
    return cl_error_set(err, CL_ERR_PARSE,
                        "%s has %lld sentences, %s %lld (the non-empty sentences of every "
                        "document, in order); %s",
                        side_name(p, 0, gn, sizeof gn), (long long)ngs,
                        side_name(p, 1, pn, sizeof pn), (long long)nps, where);
}

/* Two units that should be the same sentence are not: other lengths, or
 * other documents run together (the same sentences laid out in documents
 * differently, so that the paper's units differ).  k counts from 1. */
static cl_status unit_mismatch(const cl_eval_params *p, int64_t k, const cl_eval_tokens *g,
                               const unit *gu, const cl_eval_tokens *q, const unit *pu,
                               cl_error *err)
{
    char gw[512], pw[512], gn[512], pn[512];
    unit_where(g, gu, gw, sizeof gw);
    unit_where(q, pu, pw, sizeof pw);
    bool layout = gu->s1 - gu->s0 != pu->s1 - pu->s0;
    return cl_error_set(err, CL_ERR_PARSE, "sentence %lld: %s has %d tokens (%s), %s %d (%s)%s",
                        (long long)k, side_name(p, 0, gn, sizeof gn), gu->n, gw,
                        side_name(p, 1, pn, sizeof pn), pu->n, pw,
                        layout ? "; the two split the text into documents differently, and a "
                                 "document whose last sentence does not end in . ? ! runs on into "
                                 "the next document's first sentence (the paper's sentence units)"
                               : "");
}

/* Unit k (from 1) of gold and pred cover the same tokens; else the error. */
static cl_status same_unit(const cl_eval_params *p, const cl_eval_tokens *gold,
                           const cl_eval_tokens *pred, int64_t k, const unit *gu, const unit *pu,
                           cl_error *err)
{
    if (gu->n != pu->n || gu->s1 - gu->s0 != pu->s1 - pu->s0)
        return unit_mismatch(p, k, gold, gu, pred, pu, err);
    for (int32_t i = 0; i < gu->n; i++) {
        if (same_token(gold, pred, gu->t0 + i, pu->t0 + i))
            continue;
        size_t na, nb;
        const char *ba = tok_bytes(gold, gu->t0 + i, &na), *bb = tok_bytes(pred, pu->t0 + i, &nb);
        char *a = cl_strndup(ba, na), *b = cl_strndup(bb, nb);
        char va[160], vb[160];
        cl_status st = cl_error_set(err, CL_ERR_PARSE,
                                    "sentence %lld (document %s, sentence %d), token %d: gold "
                                    "'%s', predictions '%s' (the token texts must be the same)",
                                    (long long)k, seg_doc_id(gold, gu->s0),
                                    gold->seg_sent[gu->s0] + 1, i + 1,
                                    cl__ev_visible(a ? a : "?", va, sizeof va),
                                    cl__ev_visible(b ? b : "?", vb, sizeof vb));
        free(a);
        free(b);
        return st;
    }
    return CL_OK;
}

/* Strict mode: the first label of unit k (from 1), gold side first, that
 * seqeval's IOB2 scheme rejects.  t holds the tokens' texts and places (the
 * gold's for LLM answers, which pu's labels then are). */
static cl_status check_iob2(const cl_eval_params *p, int64_t k, const cl_eval_tokens *gt,
                            const unit *gu, const cl_eval_tokens *pt, const unit *pu,
                            cl_error *err)
{
    for (int side = 0; side < 2; side++) {
        const unit *u = side ? pu : gu;
        const cl_eval_tokens *t = side ? pt : gt;
        int32_t bad = cl__ev_first_not_iob2(u->labels, u->n);
        if (bad < 0)
            continue;
        int64_t tok = u->t0 + bad, s = u->s0;
        while (s + 1 < u->s1 && t->seg_tok[s + 1] <= tok)
            s++;
        size_t nb;
        const char *b = tok_bytes(t, tok, &nb);
        char *w = cl_strndup(b, nb);
        char name[512];
        /* the token's place in its own document's sentence (a unit can run
         * over two documents) */
        cl__ev_not_iob2(err, u->labels[bad], (int32_t)(tok - t->seg_tok[s]), w);
        free(w);
        return cl_error_prefix(err, "%s, sentence %lld (document %s, sentence %d), ",
                               side_name(p, side, name, sizeof name), (long long)k,
                               seg_doc_id(t, s), t->seg_sent[s] + 1);
    }
    return CL_OK;
}

cl_status cl_eval_tokens_score(const cl_eval_tokens *gold, const cl_eval_tokens *pred,
                               const cl_labels *labels, const cl_eval_params *params,
                               cl_eval_result *out, cl_error *err)
{
    cl__ev_result_init(out);
    cl_eval_params p = params ? *params : cl_eval_default_params();
    /* same count, other units: the loop below says where */
    if (gold->nseg != pred->nseg)
        return count_mismatch(&p, gold, pred, err);
    cl_scorer *sc = NULL;
    cl_status st = cl_scorer_new(&p, &sc, err);
    if (st != CL_OK)
        return st;
    unit gu = {0}, pu = {0};
    for (int64_t k = 0; st == CL_OK && k < gold->nunits && k < pred->nunits; k++) {
        if (get_unit(gold, labels, k, &gu) || get_unit(pred, labels, k, &pu)) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        if ((st = same_unit(&p, gold, pred, k + 1, &gu, &pu, err)) != CL_OK)
            break;
        if (p.mode == CL_EVAL_STRICT &&
            (st = check_iob2(&p, k + 1, gold, &gu, pred, &pu, err)) != CL_OK)
            break;
        char **w = p.errors ? words_of(gold, &gu) : NULL;
        if (p.errors && !w) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        st = cl_scorer_add(sc, gu.labels, pu.labels, gu.n, (const char *const *)w, err);
        words_free(w, gu.n);
    }
    if (st == CL_OK && gold->nunits != pred->nunits) /* (equal sentences: not reached) */
        st = cl_error_set(err, CL_ERR_PARSE, "gold has %lld sentence units, predictions %lld",
                          (long long)gold->nunits, (long long)pred->nunits);
    if (st == CL_OK)
        st = cl_scorer_result(sc, out, err);
    unit_free(&gu);
    unit_free(&pu);
    cl_scorer_free(sc);
    return st;
}

cl_status cl_eval_corpora(const cl_corpus *gold, const cl_corpus *pred,
                          const cl_eval_params *params, cl_eval_result *out, cl_error *err)
{
    cl__ev_result_init(out);
    cl_labels *labels = NULL;
    cl_eval_tokens *g = NULL, *p = NULL;
    cl_status st = cl_labels_new(&labels, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(gold, true, labels, &g, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(pred, false, labels, &p, err);
    if (st == CL_OK)
        st = cl_eval_tokens_score(g, p, labels, params, out, err);
    cl_eval_tokens_free(g);
    cl_eval_tokens_free(p);
    cl_labels_free(labels);
    return st;
}

/* Paper-lines block b against gold unit u: aligned labels into al, counts. */
typedef struct pl_counts {
    int64_t misaligned, shorter, mismatch, mismatch_tokens;
} pl_counts;

static void count_block(const cl_pl_block *b, const unit *u, char *const *w, pl_counts *c,
                        const char **al)
{
    if (cl_eval_align((const char *const *)b->labels, b->n, u->n, al)) {
        c->misaligned++;
        c->shorter += b->n < u->n;
    }
    if (b->n == u->n) {
        int64_t differ = 0;
        for (int32_t i = 0; i < b->n; i++)
            differ += !same_answer_token(b->tokens[i] ? b->tokens[i] : "", w[i]);
        c->mismatch += differ > 0;
        c->mismatch_tokens += differ;
    }
}

/* Strict mode: seqeval raises on labels that are not IOB2.  An answer's
 * label is named by the answer's line in pred_file, a gold one as for two
 * token corpora.  k counts from 1. */
static cl_status strict_block(const cl_eval_tokens *g, const unit *gu, const cl_pl_block *b,
                              const char **al, int64_t k, const char *pred_file,
                              const cl_eval_params *p, cl_error *err)
{
    int32_t bad = cl__ev_first_not_iob2(al, gu->n);
    if (bad >= 0 && cl__ev_first_not_iob2(gu->labels, gu->n) < 0) {
        cl__ev_not_iob2(err, al[bad], bad, bad < b->n ? b->tokens[bad] : NULL);
        return cl_error_prefix(err, "%s:%lld: sentence block %lld (it starts here), answer ",
                               pred_file, (long long)b->line, (long long)k);
    }
    cl_eval_params named = *p;
    named.pred_name = pred_file;
    unit pu = *gu;
    pu.labels = al;
    return check_iob2(&named, k, g, gu, g, &pu, err);
}

static cl_status score_blocks(const cl_eval_tokens *g, const cl_labels *labels,
                              const cl_paperlines *pred, const char *pred_file,
                              const cl_eval_params *p, cl_eval_result *out, cl_error *err)
{
    unit gu = {0};
    const char **al = NULL;
    int32_t alcap = 0;
    pl_counts c = {0};
    cl_scorer *sc = NULL;
    cl_status st = cl_scorer_new(p, &sc, err);
    for (int64_t k = 0; st == CL_OK && k < g->nunits; k++) {
        if (get_unit(g, labels, k, &gu)) {
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
        char **w = words_of(g, &gu);
        if (!w) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
            break;
        }
        count_block(&pred->blocks[k], &gu, w, &c, al);
        if (p->mode == CL_EVAL_STRICT)
            st = strict_block(g, &gu, &pred->blocks[k], al, k + 1, pred_file, p, err);
        if (st == CL_OK)
            st = cl_scorer_add(sc, gu.labels, al, gu.n,
                               p->errors ? (const char *const *)w : NULL, err);
        words_free(w, gu.n);
    }
    if (st == CL_OK)
        st = cl_scorer_result(sc, out, err);
    if (st == CL_OK) {
        out->misaligned = c.misaligned;
        out->misaligned_short = c.shorter;
        out->text_mismatch = c.mismatch;
        out->text_mismatch_tokens = c.mismatch_tokens;
    }
    unit_free(&gu);
    free(al);
    cl_scorer_free(sc);
    return st;
}

cl_status cl_eval_paperlines(const cl_corpus *gold, const cl_paperlines *pred,
                             const char *pred_file, const cl_eval_params *params,
                             cl_eval_result *out, cl_error *err)
{
    cl__ev_result_init(out);
    cl_eval_params p = params ? *params : cl_eval_default_params();
    if (!pred_file)
        pred_file = "<predictions>";
    cl_labels *labels = NULL;
    cl_eval_tokens *g = NULL;
    cl_status st = cl_labels_new(&labels, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(gold, true, labels, &g, err);
    if (st == CL_OK && g->nunits != pred->nblocks) {
        int64_t line = pred->nblocks > 0 ? pred->blocks[pred->nblocks - 1].line : 1;
        if (pred->nblocks > g->nunits)
            line = pred->blocks[g->nunits].line;
        st = cl_error_set(err, CL_ERR_PARSE,
                          "%s:%lld: %d sentence blocks but the gold has %lld sentences "
                          "(blocks are aligned to sentences by position)",
                          pred_file, (long long)line, pred->nblocks, (long long)g->nunits);
    }
    if (st == CL_OK)
        st = score_blocks(g, labels, pred, pred_file, &p, out, err);
    cl_eval_tokens_free(g);
    cl_labels_free(labels);
    return st;
}
