/*
 * tagger.c - tagging with a fine-tuned encoder: each sentence's words become
 * word pieces (a word's label sits on its first piece), long sentences are
 * cut at word boundaries into sequences that fit (a model trained with
 * packing gets consecutive sentences in one sequence, as it was trained),
 * sequences of similar length are run together through the forward graph,
 * and the gathered first-piece logits become log-probabilities per word.
 * Viterbi over the label sequences that are valid BIO (I-X only after B-X or
 * I-X) picks the labels, so the output is always valid BIO; each label's
 * softmax probability is its confidence.  Also the cl_tagger backend
 * (tagger.h) over all this.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/tokenize.h"
#include "encoder/enc_internal.h"

#define ENC_TAG_MAX_PIECES 256
#define ENC_TAG_BATCH_TOKENS 2048

void cl__enc_sentence_pieces_free(enc_sentence_pieces *sp)
{
    for (int32_t i = 0; i < sp->nchunks; i++) {
        free(sp->chunks[i].ids);
        free(sp->chunks[i].first);
    }
    free(sp->chunks);
    sp->chunks = NULL;
    sp->nchunks = 0;
}

/* One sequence of the range's tokens [wb, we) (indices into ids' word
 * arrays, which start at the doc's token base). */
static cl_status add_chunk(enc_sentence_pieces *out, const cl_encoder *e, const int32_t *ids,
                           const int32_t *wstart, const int32_t *wcount, int32_t base, int32_t wb,
                           int32_t we, int32_t max_body, cl_error *err)
{
    enc_chunk *nc = realloc(out->chunks, (size_t)(out->nchunks + 1) * sizeof *nc);
    if (!nc)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    out->chunks = nc;
    enc_chunk *c = &nc[out->nchunks];
    memset(c, 0, sizeof *c);
    int32_t body = 0;
    for (int32_t w = wb; w < we; w++)
        body += wcount[w];
    if (body > max_body)
        body = max_body; /* one word longer than a sequence: its first pieces */
    c->tok_begin = base + wb;
    c->tok_end = base + we;
    c->n = body + 2;
    c->ids = malloc((size_t)c->n * sizeof *c->ids);
    c->first = malloc((size_t)(we - wb + 1) * sizeof *c->first);
    if (!c->ids || !c->first) {
        free(c->ids);
        free(c->first);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    out->nchunks++;
    c->ids[0] = e->cls_id;
    int32_t k = 1;
    for (int32_t w = wb; w < we; w++) {
        c->first[w - wb] = wcount[w] > 0 && k <= body ? k : -1;
        for (int32_t p = 0; p < wcount[w] && k <= body; p++)
            c->ids[k++] = ids[wstart[w] + p];
    }
    c->ids[k] = e->sep_id;
    return CL_OK;
}

/* Words [wb, we) of one sentence cut at word boundaries into sequences. */
static cl_status cut_sentence(enc_sentence_pieces *out, const cl_encoder *e, const int32_t *ids,
                              const int32_t *wstart, const int32_t *wcount, int32_t base,
                              int32_t wb, int32_t we, int32_t max_body, cl_error *err)
{
    cl_status st = CL_OK;
    int32_t cb = wb, body = 0;
    for (int32_t w = wb; w < we && st == CL_OK; w++) {
        if (w > cb && body + wcount[w] > max_body) {
            st = add_chunk(out, e, ids, wstart, wcount, base, cb, w, max_body, err);
            cb = w;
            body = 0;
        }
        body += wcount[w];
    }
    if (st == CL_OK && we > wb)
        st = add_chunk(out, e, ids, wstart, wcount, base, cb, we, max_body, err);
    return st;
}

/* OR each word's vocabulary marks into its pieces' ids (above ENC_ID_BITS). */
static cl_status add_marks(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                           int32_t *ids, const int32_t *wstart, const int32_t *wcount,
                           cl_error *err)
{
    const int32_t base = doc->sentences[sb].tok_begin;
    cl_status st = CL_OK;
    for (int32_t s = sb; s < se && st == CL_OK; s++) {
        int32_t wb = doc->sentences[s].tok_begin - base, we = doc->sentences[s].tok_end - base;
        if (we <= wb)
            continue;
        uint32_t *marks = calloc((size_t)(we - wb), sizeof *marks);
        if (!marks)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        st = cl_vocab_mark_sentence(e->terms, doc, s, marks, err);
        for (int32_t w = wb; w < we && st == CL_OK; w++)
            for (int32_t p = 0; p < wcount[w]; p++)
                ids[wstart[w] + p] =
                    (int32_t)((uint32_t)ids[wstart[w] + p] | marks[w - wb] << ENC_ID_BITS);
        free(marks);
    }
    return st;
}

cl_status cl__enc_pieces_of_sentences(const cl_encoder *e, const cl_doc *doc, int32_t sb,
                                      int32_t se, int32_t max_pieces, bool pack,
                                      enc_sentence_pieces *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    if (sb >= se)
        return CL_OK;
    const int32_t base = doc->sentences[sb].tok_begin;
    int32_t nw = doc->sentences[se - 1].tok_end - base;
    int32_t *ids = NULL, nids = 0, cap = 0;
    int32_t *wstart = malloc(((size_t)nw + 1) * sizeof *wstart);
    int32_t *wcount = malloc(((size_t)nw + 1) * sizeof *wcount);
    cl_status st = wstart && wcount ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t w = 0; w < nw && st == CL_OK; w++) {
        size_t nb;
        const char *b = cl_doc_token_bytes(doc, base + w, &nb);
        wstart[w] = nids;
        st = cl_wordpiece_encode(e->wp, b, nb, &ids, NULL, &nids, &cap, NULL, err);
        wcount[w] = nids - wstart[w];
    }
    if (st == CL_OK && e->terms)
        st = add_marks(e, doc, sb, se, ids, wstart, wcount, err);
    int32_t max_len = cl__enc_max_len(e);
    int32_t max_body = (max_pieces > max_len ? max_len : max_pieces) - 2;
    /* packing: [ob, oe) the open sequence's words, obody its pieces */
    int32_t ob = 0, oe = 0, obody = 0;
    for (int32_t s = sb; s < se && st == CL_OK; s++) {
        int32_t wb = doc->sentences[s].tok_begin - base, we = doc->sentences[s].tok_end - base;
        int32_t body = 0;
        for (int32_t w = wb; w < we; w++)
            body += wcount[w];
        if (pack && oe > ob && (obody + body > max_body || body > max_body || wb != oe)) {
            st = add_chunk(out, e, ids, wstart, wcount, base, ob, oe, max_body, err);
            ob = oe = obody = 0;
        }
        if (st != CL_OK || we == wb)
            continue;
        if (!pack || body > max_body) {
            st = cut_sentence(out, e, ids, wstart, wcount, base, wb, we, max_body, err);
        } else {
            if (oe == ob)
                ob = wb;
            oe = we;
            obody += body;
        }
    }
    if (st == CL_OK && oe > ob)
        st = add_chunk(out, e, ids, wstart, wcount, base, ob, oe, max_body, err);
    free(ids);
    free(wstart);
    free(wcount);
    if (st != CL_OK)
        cl__enc_sentence_pieces_free(out);
    return st;
}

typedef struct seq_ref {
    int32_t chunk, n;
} seq_ref;

static int cmp_seq(const void *a, const void *b)
{
    const seq_ref *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Run one batch of sequences and write log-softmax rows per word into lp
 * (indexed by the word's token index minus base_tok). */
static cl_status run_batch(const cl_encoder *e, const enc_sentence_pieces *sp, const seq_ref *refs,
                           int32_t B, int32_t threads, int32_t base_tok, float *lp, cl_error *err)
{
    const int32_t L = e->nlabels;
    int32_t T = 0, ng = 0;
    for (int32_t b = 0; b < B; b++) {
        const enc_chunk *c = &sp->chunks[refs[b].chunk];
        T = c->n > T ? c->n : T;
        ng += c->tok_end - c->tok_begin;
    }
    int32_t *ids = calloc((size_t)T * (size_t)B, sizeof *ids), *lens = malloc((size_t)B * 4);
    int32_t *gather = malloc(((size_t)ng + 1) * sizeof *gather);
    int32_t *dest = malloc(((size_t)ng + 1) * sizeof *dest);
    float *logits = NULL;
    cl_status st = ids && lens && gather && dest ? CL_OK
                                                 : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t k = 0;
    for (int32_t b = 0; b < B && st == CL_OK; b++) {
        const enc_chunk *c = &sp->chunks[refs[b].chunk];
        memcpy(ids + (size_t)b * T, c->ids, (size_t)c->n * sizeof *ids);
        lens[b] = c->n;
        for (int32_t w = 0; w < c->tok_end - c->tok_begin; w++)
            if (c->first[w] >= 0) {
                gather[k] = b * T + c->first[w];
                dest[k++] = c->tok_begin - base_tok + w;
            }
    }
    enc_graph_opts o = {.train_ops = false, .exact_gelu = !e->tanh_gelu};
    if (st == CL_OK && k > 0)
        st = cl__enc_forward(e, T, B, ids, lens, gather, k, &o, threads, &logits, err);
    for (int32_t i = 0; st == CL_OK && i < k; i++) {
        const float *z = logits + (size_t)i * L;
        float mx = z[0];
        for (int32_t l = 1; l < L; l++)
            mx = z[l] > mx ? z[l] : mx;
        double sum = 0;
        for (int32_t l = 0; l < L; l++)
            sum += exp((double)(z[l] - mx));
        float lse = mx + (float)log(sum);
        for (int32_t l = 0; l < L; l++)
            lp[(size_t)dest[i] * L + l] = z[l] - lse;
    }
    free(ids);
    free(lens);
    free(gather);
    free(dest);
    free(logits);
    return st;
}

/* Log-probabilities [word][label] of sentences [sb, se) of doc; a word with
 * no pieces gets O.  A packed model sees the range's sentences together, in
 * sequences as long as it was trained on. */
cl_status cl__enc_score(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                    int32_t threads, float *lp, cl_error *err)
{
    const int32_t L = e->nlabels, base = doc->sentences[sb].tok_begin;
    int32_t nw = doc->sentences[se - 1].tok_end - base;
    for (int32_t i = 0; i < nw; i++)
        for (int32_t l = 0; l < L; l++)
            lp[(size_t)i * L + l] = l == 0 ? 0.0f : -1e9f;
    enc_sentence_pieces sp;
    cl_status st = cl__enc_pieces_of_sentences(e, doc, sb, se,
                                               e->pack > 0 ? e->pack : ENC_TAG_MAX_PIECES,
                                               e->pack > 0, &sp, err);
    if (st != CL_OK)
        return st;
    seq_ref *refs = malloc(((size_t)sp.nchunks + 1) * sizeof *refs);
    if (!refs)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t c = 0; c < sp.nchunks && st == CL_OK; c++)
        refs[c] = (seq_ref){c, sp.chunks[c].n};
    if (st == CL_OK)
        qsort(refs, (size_t)sp.nchunks, sizeof *refs, cmp_seq);
    for (int32_t i = 0; i < sp.nchunks && st == CL_OK;) {
        int32_t j = i + 1; /* sorted: the last of a batch is its longest */
        while (j < sp.nchunks && (int64_t)refs[j].n * (j - i + 1) <= ENC_TAG_BATCH_TOKENS)
            j++;
        st = run_batch(e, &sp, refs + i, j - i, threads, base, lp, err);
        i = j;
    }
    cl__enc_sentence_pieces_free(&sp);
    free(refs);
    return st;
}

cl_status cl__enc_decode(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                     const float *lp, float o_bias, int32_t *labels, float *conf, cl_error *err)
{
    const int32_t L = e->nlabels, base = doc->sentences[sb].tok_begin;
    int32_t maxn = 0;
    for (int32_t s = sb; s < se; s++) {
        int32_t n = doc->sentences[s].tok_end - doc->sentences[s].tok_begin;
        maxn = n > maxn ? n : maxn;
    }
    float *tmp = malloc(((size_t)maxn + 1) * (size_t)L * sizeof *tmp);
    if (!tmp)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t s = sb; s < se; s++) {
        int32_t t0 = doc->sentences[s].tok_begin - base;
        int32_t n = doc->sentences[s].tok_end - doc->sentences[s].tok_begin;
        memcpy(tmp, lp + (size_t)t0 * L, (size_t)n * (size_t)L * sizeof *tmp);
        for (int32_t t = 0; t < n; t++)
            tmp[(size_t)t * L] -= o_bias; /* label 0 is O */
        cl_bio_viterbi((const char *const *)e->labels, L, tmp, n, labels + t0);
        for (int32_t t = t0; conf && t < t0 + n; t++)
            conf[t] = expf(lp[(size_t)t * L + labels[t]]);
    }
    free(tmp);
    return CL_OK;
}

cl_status cl__enc_predict(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                      int32_t threads, int32_t *labels, float *conf, cl_error *err)
{
    if (sb >= se)
        return CL_OK;
    const int32_t L = e->nlabels, base = doc->sentences[sb].tok_begin;
    int32_t nw = doc->sentences[se - 1].tok_end - base;
    float *lp = malloc(((size_t)nw + 1) * (size_t)L * sizeof *lp);
    if (!lp)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = cl__enc_score(e, doc, sb, se, threads, lp, err);
    if (st == CL_OK)
        st = cl__enc_decode(e, doc, sb, se, lp, e->o_bias, labels, conf, err);
    free(lp);
    return st;
}

cl_status cl_encoder_log_probs(const cl_encoder *e, const cl_doc *doc, int32_t sent_begin,
                               int32_t sent_end, int32_t threads, float *lp, cl_error *err)
{
    if (!e->labels)
        return cl_error_set(err, CL_ERR_ARG, "a base encoder has no labels to score");
    if (sent_begin < 0 || sent_end > doc->nsentences || sent_begin > sent_end)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentences [%d, %d) out of range (%d)",
                            doc->id, sent_begin, sent_end, doc->nsentences);
    if (sent_begin == sent_end)
        return CL_OK;
    return cl__enc_score(e, doc, sent_begin, sent_end, threads > 0 ? threads : 2, lp, err);
}

/* ---- the cl_tagger backend ---- */

typedef struct enc_tagger {
    cl_encoder *e;
    int32_t threads;
    cl_tagger_stats stats; /* counted under no lock: approximate when reentrant */
} enc_tagger;

static cl_status tagger_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    enc_tagger *t = self;
    cl_status st0 = cl_doc_begin_tagging(doc, sb, se, err);
    if (st0 != CL_OK || sb == se)
        return st0;
    int32_t base = doc->sentences[sb].tok_begin, nw = doc->sentences[se - 1].tok_end - base;
    int32_t *labels = malloc(((size_t)nw + 1) * sizeof *labels);
    if (!labels)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = cl__enc_predict(t->e, doc, sb, se, t->threads, labels, doc->tag_conf + base, err);
    for (int32_t i = 0; i < nw && st == CL_OK; i++)
        st = cl_doc_set_tag(doc, base + i, t->e->labels[labels[i]], err);
    free(labels);
    if (st == CL_OK) {
        t->stats.sentences += se - sb;
        t->stats.tokens += nw;
    }
    return st;
}

static void tagger_free(void *self)
{
    enc_tagger *t = self;
    if (!t)
        return;
    cl_encoder_free(t->e);
    free(t);
}

static void tagger_stats(void *self, cl_tagger_stats *out) { *out = ((enc_tagger *)self)->stats; }

static const cl_tagger_ops enc_tagger_ops = {
    .name = "encoder", .tag = tagger_tag, .free = tagger_free, .stats = tagger_stats,
};

cl_status cl_encoder_tagger_open(const char *model_path, int32_t threads, cl_tagger *out,
                                 cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    enc_tagger *t = calloc(1, sizeof *t);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = cl_encoder_open(model_path, &t->e, err);
    if (st == CL_OK && !t->e->labels)
        st = cl_error_set(err, CL_ERR_MODEL,
                          "%s: a base encoder, not a tagger (train one with `clinner train "
                          "encoder`)",
                          model_path);
    if (st != CL_OK) {
        tagger_free(t);
        return st;
    }
    t->threads = threads > 0 ? threads : 2;
    out->ops = &enc_tagger_ops;
    out->self = t;
    return CL_OK;
}

char *cl_encoder_model_tokenizer(const char *model_path, cl_error *err)
{
    cl_st_file *f;
    if (cl_st_open(model_path, &f, err) != CL_OK)
        return NULL;
    const char *tok = cl_st_meta(f, "clinner.tokenizer");
    char *r = tok ? strdup(tok) : NULL;
    cl_st_free(f);
    return r;
}
