/*
 * kb.c - terms of token ranges, the knowledge base of passages that RAG
 * retrieves from, and the BM25 retriever over it.
 *
 * A passage is a run of whole sentences of one document, at most
 * chunk_tokens tokens (the paper's LlamaIndex set-up used chunks of 512),
 * kept as its original text so the prompt shows what the article says.
 * Retrieval never returns passages of the document being tagged (the
 * default knowledge base is the training split, which would otherwise leak
 * gold text when training data is tagged).
 */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "clinner/retrieve.h"
#include "clinner/util.h"

void cl_terms_free(char **terms, int32_t n)
{
    if (!terms)
        return;
    for (int32_t i = 0; i < n; i++)
        free(terms[i]);
    free(terms);
}

/* Lower-cased copy of s[0..n) (valid UTF-8), or NULL when it has no letter
 * or digit (*keep false) or on allocation failure (*keep true). */
static char *lower_term(const char *s, size_t n, bool *keep)
{
    cl_buf b;
    cl_buf_init(&b);
    bool any = false;
    size_t at = 0;
    while (at < n) {
        int32_t cp;
        int len = cl_utf8_decode(s + at, n - at, &cp);
        if (len < 0) {
            cp = 0xFFFD;
            len = 1;
        }
        at += (size_t)len;
        if (cl_uc_is_alpha(cp) || cl_uc_is_digit(cp))
            any = true;
        char enc[4];
        int elen = cl_utf8_encode(utf8proc_tolower(cp), enc);
        if (cl_buf_append(&b, enc, (size_t)elen) != 0) {
            cl_buf_free(&b);
            *keep = true;
            return NULL;
        }
    }
    *keep = any;
    if (!any) {
        cl_buf_free(&b);
        return NULL;
    }
    if (!b.data && cl_buf_append(&b, "", 0) != 0)
        return NULL;
    return cl_buf_detach(&b);
}

cl_status cl_doc_terms(const cl_doc *doc, int32_t tok_begin, int32_t tok_end, char ***terms,
                       int32_t *n, cl_error *err)
{
    *terms = NULL;
    *n = 0;
    if (tok_begin < 0 || tok_end > doc->ntokens || tok_begin > tok_end)
        return cl_error_set(err, CL_ERR_RANGE, "%s: token range [%d, %d) out of range",
                            doc->id ? doc->id : "?", tok_begin, tok_end);
    char **out = malloc(((size_t)(tok_end - tok_begin) + 1) * sizeof *out);
    if (!out)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t m = 0;
    for (int32_t t = tok_begin; t < tok_end; t++) {
        size_t nb;
        const char *p = cl_doc_token_bytes(doc, t, &nb);
        bool keep;
        char *term = p ? lower_term(p, nb, &keep) : NULL;
        if (!term) {
            if (p && !keep)
                continue;
            cl_terms_free(out, m);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        out[m++] = term;
    }
    *terms = out;
    *n = m;
    return CL_OK;
}

/* ---- knowledge base ---- */

cl_status cl_kb_new(cl_kb **out, cl_error *err)
{
    *out = calloc(1, sizeof(cl_kb));
    return *out ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

void cl_kb_free(cl_kb *kb)
{
    if (!kb)
        return;
    for (int32_t i = 0; i < kb->npassages; i++) {
        free(kb->passages[i].doc_id);
        free(kb->passages[i].text);
        cl_terms_free(kb->passages[i].terms, kb->passages[i].nterms);
    }
    free(kb->passages);
    free(kb);
}

static cl_status add_passage(cl_kb *kb, const cl_doc *doc, int32_t tb, int32_t te, cl_error *err)
{
    if (te <= tb)
        return CL_OK;
    if (kb->npassages == kb->cap) {
        int32_t cap = kb->cap ? kb->cap * 2 : 64;
        cl_kb_passage *p = realloc(kb->passages, (size_t)cap * sizeof *p);
        if (!p)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        kb->passages = p;
        kb->cap = cap;
    }
    cl_kb_passage *p = &kb->passages[kb->npassages];
    memset(p, 0, sizeof *p);
    p->doc_id = cl_strdup(doc->id ? doc->id : "");
    p->text = cl_doc_span_text(doc, doc->tokens[tb].start, doc->tokens[te - 1].end);
    if (!p->doc_id || !p->text) {
        free(p->doc_id);
        free(p->text);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_status st = cl_doc_terms(doc, tb, te, &p->terms, &p->nterms, err);
    if (st != CL_OK) {
        free(p->doc_id);
        free(p->text);
        return st;
    }
    kb->npassages++;
    return CL_OK;
}

cl_status cl_kb_add_doc(cl_kb *kb, const cl_doc *doc, int32_t chunk_tokens, cl_error *err)
{
    if (chunk_tokens <= 0)
        return cl_error_set(err, CL_ERR_ARG, "chunk size must be positive (got %d)", chunk_tokens);
    int32_t cb = -1, ce = -1; /* current chunk's tokens */
    for (int32_t s = 0; s < doc->nsentences; s++) {
        int32_t tb = doc->sentences[s].tok_begin, te = doc->sentences[s].tok_end;
        while (tb < te) {
            if (cb >= 0 && ce - cb + (te - tb) > chunk_tokens) {
                cl_status st = add_passage(kb, doc, cb, ce, err);
                if (st != CL_OK)
                    return st;
                cb = -1;
            }
            if (cb < 0)
                cb = ce = tb;
            /* a sentence longer than a chunk is cut */
            int32_t take = te - tb;
            if (take > chunk_tokens - (ce - cb))
                take = chunk_tokens - (ce - cb);
            ce = tb + take;
            tb += take;
            if (tb < te) {
                cl_status st = add_passage(kb, doc, cb, ce, err);
                if (st != CL_OK)
                    return st;
                cb = -1;
            }
        }
    }
    return cb >= 0 ? add_passage(kb, doc, cb, ce, err) : CL_OK;
}

uint64_t cl_kb_fingerprint(const cl_kb *kb)
{
    uint64_t h = cl_fnv1a64(CL_FNV64_INIT, "kb-v1", 5);
    for (int32_t i = 0; i < kb->npassages; i++) {
        const cl_kb_passage *p = &kb->passages[i];
        h = cl_fnv1a64(h, p->doc_id, strlen(p->doc_id) + 1);
        h = cl_fnv1a64(h, p->text, strlen(p->text) + 1);
        for (int32_t t = 0; t < p->nterms; t++)
            h = cl_fnv1a64(h, p->terms[t], strlen(p->terms[t]) + 1);
        h = cl_fnv1a64(h, "\x1e", 1);
    }
    return h;
}

/* ---- the retriever interface and its BM25 implementation ---- */

cl_status cl_retriever_top_k(cl_retriever *r, const char *query_text,
                             const char *const *query_terms, int32_t nterms,
                             const char *exclude_doc_id, int32_t k, cl_retrieved *out,
                             int32_t *nout, cl_error *err)
{
    *nout = 0;
    if (!r || !r->ops)
        return cl_error_set(err, CL_ERR_ARG, "no retriever");
    return r->ops->top_k(r->self, query_text, query_terms, nterms, exclude_doc_id, k, out, nout,
                         err);
}

void cl_retriever_free(cl_retriever *r)
{
    if (r && r->ops && r->ops->free)
        r->ops->free(r->self);
    if (r) {
        r->ops = NULL;
        r->self = NULL;
    }
}

typedef struct bm25_retriever {
    cl_kb *kb;
    cl_bm25 *ix;
} bm25_retriever;

typedef struct exclude_ctx {
    const cl_kb *kb;
    const char *doc_id;
} exclude_ctx;

static bool exclude_doc(void *ctx, int32_t doc)
{
    exclude_ctx *x = ctx;
    return x->doc_id && strcmp(x->kb->passages[doc].doc_id, x->doc_id) == 0;
}

static cl_status bm25r_top_k(void *self, const char *query_text, const char *const *query_terms,
                             int32_t nterms, const char *exclude_doc_id, int32_t k,
                             cl_retrieved *out, int32_t *nout, cl_error *err)
{
    (void)query_text;
    bm25_retriever *r = self;
    *nout = 0;
    if (k <= 0)
        return CL_OK;
    cl_bm25_hit *hits = malloc((size_t)k * sizeof *hits);
    if (!hits)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    exclude_ctx x = {r->kb, exclude_doc_id};
    int32_t n;
    cl_status st = cl_bm25_query(r->ix, query_terms, nterms, k, exclude_doc, &x, hits, &n, err);
    if (st == CL_OK) {
        for (int32_t i = 0; i < n && hits[i].score > 0; i++) {
            const cl_kb_passage *p = &r->kb->passages[hits[i].doc];
            out[i] = (cl_retrieved){hits[i].doc, hits[i].score, p->doc_id, p->text};
            *nout = i + 1;
        }
    }
    free(hits);
    return st;
}

static void bm25r_free(void *self)
{
    bm25_retriever *r = self;
    if (!r)
        return;
    cl_bm25_free(r->ix);
    cl_kb_free(r->kb);
    free(r);
}

static const cl_retriever_ops bm25r_ops = {
    .name = "bm25",
    .top_k = bm25r_top_k,
    .free = bm25r_free,
};

static cl_status build_from_kb(void *ctx, cl_bm25 *ix, cl_error *err)
{
    const cl_kb *kb = ctx;
    for (int32_t i = 0; i < kb->npassages; i++) {
        cl_status st = cl_bm25_add(ix, (const char *const *)kb->passages[i].terms,
                                   kb->passages[i].nterms, err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

cl_status cl_bm25_retriever_new(cl_kb *kb, const char *cache_dir, cl_retriever *out,
                                cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    bm25_retriever *r = calloc(1, sizeof *r);
    if (!r) {
        cl_kb_free(kb);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    r->kb = kb;
    cl_bm25_params p = cl_bm25_default_params();
    cl_status st = cl_bm25_cached(cache_dir, cl_kb_fingerprint(kb), &p, build_from_kb, kb, &r->ix,
                                  err);
    if (st == CL_OK && cl_bm25_ndocs(r->ix) != kb->npassages)
        st = cl_error_set(err, CL_ERR_INTERNAL, "bm25 cache: passage count mismatch");
    if (st != CL_OK) {
        bm25r_free(r);
        return st;
    }
    out->ops = &bm25r_ops;
    out->self = r;
    return CL_OK;
}
