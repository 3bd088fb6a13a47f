/*
 * tagger.c - tagging with a trained CRF, and the CRF as a cl_tagger backend
 * (tagger.h), so `clinner tag --backend crf` goes through the same
 * interface as the LLM backends.
 *
 * Each sentence is decoded with Viterbi; forward-backward then gives every
 * token's marginal probability of the label Viterbi chose, stored in
 * doc->tag_conf (cl_bio_to_entities turns those into entity confidences).
 */
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"

/* Check the range and the dense rows of doc (NULL when the model has none). */
static cl_status check_input(const cl_crf_model *m, const cl_dense_table *dense,
                             const cl_doc *doc, int32_t sent_begin, int32_t sent_end,
                             const float **rows, cl_error *err)
{
    *rows = NULL;
    if (sent_begin < 0 || sent_end > doc->nsentences || sent_begin > sent_end)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentences [%d, %d) out of range (%d)",
                            doc->id, sent_begin, sent_end, doc->nsentences);
    if (m->dims.D == 0)
        return CL_OK;
    if (!dense)
        return cl_error_set(err, CL_ERR_ARG,
                            "the CRF model uses %d-dimensional dense features: give the "
                            "dense feature file of this input",
                            m->dims.D);
    if (cl_dense_dim(dense) != m->dims.D)
        return cl_error_set(err, CL_ERR_ARG,
                            "dense features have %d dimensions, the model expects %d",
                            cl_dense_dim(dense), m->dims.D);
    int32_t n = 0;
    *rows = cl_dense_find(dense, doc->id, &n);
    if (*rows && n != doc->ntokens)
        return cl_error_set(err, CL_ERR_ARG,
                            "%s: dense features for %d tokens, the document has %d (same "
                            "tokenizer?)",
                            doc->id, n, doc->ntokens);
    return CL_OK;
}

/* Decode sentences [sent_begin, sent_end): each sentence's Viterbi path
 * (paths, may be NULL) and marginals (marg, tokens x labels, may be NULL),
 * indexed from the first sentence's first token. */
static cl_status decode_range(const cl_crf_model *m, const cl_dense_table *dense,
                              const cl_doc *doc, int32_t sent_begin, int32_t sent_end,
                              int32_t *paths, float *marg, cl_error *err)
{
    const float *rows;
    cl_status st = check_input(m, dense, doc, sent_begin, sent_end, &rows, err);
    if (st != CL_OK || sent_begin == sent_end)
        return st;
    crf_doc_ctx dc;
    if ((st = cl__crf_doc_ctx_init(&dc, doc, m->cfg.doc_words, err)) != CL_OK)
        return st;
    crf_seq_src src = {.cfg = &m->cfg, .gaz = &m->gaz, .vocab = &m->vocab, .fold = -1,
                       .doc_ctx = &dc,
                       .lookup = &m->attrs, .dense_rows = rows, .dense_dim = m->dims.D};
    crf_work wk;
    cl__crf_work_init(&wk, m->dims.L);
    const int32_t L = m->dims.L, base = doc->sentences[sent_begin].tok_begin;
    int32_t scratch = 0;
    for (int32_t si = sent_begin; si < sent_end; si++) {
        int32_t n = doc->sentences[si].tok_end - doc->sentences[si].tok_begin;
        scratch = n > scratch ? n : scratch;
    }
    int32_t *path = paths ? NULL : malloc(((size_t)scratch + 1) * sizeof *path);
    if (!paths && !path)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t si = sent_begin; si < sent_end && st == CL_OK; si++) {
        crf_seq s;
        if ((st = cl__crf_seq_build(&src, doc, si, &s, err)) != CL_OK)
            break;
        if (cl__crf_work_reserve(&wk, s.T) != 0) {
            cl__crf_seq_free(&s);
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        int32_t t0 = doc->sentences[si].tok_begin - base;
        int32_t *out = paths ? paths + t0 : path;
        cl__crf_state_scores(m->dims, m->w, &s, wk.S);
        crf_bias_o(m->dims, wk.S, s.T, m->o_bias);
        cl__crf_viterbi(m->dims, m->w, wk.S, s.T, &wk, out);
        cl__crf_forward_backward(m->dims, m->w, s.T, &wk); /* overwrites S with exp scores */
        for (size_t i = 0; marg && i < (size_t)s.T * (size_t)L; i++)
            marg[(size_t)t0 * L + i] = (float)wk.marg[i];
        cl__crf_seq_free(&s);
    }
    free(path);
    cl__crf_work_free(&wk);
    cl__crf_doc_ctx_free(&dc);
    return st;
}

cl_status cl_crf_marginals(const cl_crf_model *m, const cl_dense_table *dense, const cl_doc *doc,
                           int32_t sent_begin, int32_t sent_end, float *marg, cl_error *err)
{
    return decode_range(m, dense, doc, sent_begin, sent_end, NULL, marg, err);
}

cl_status cl_crf_tag(const cl_crf_model *m, const cl_dense_table *dense, cl_doc *doc,
                     int32_t sent_begin, int32_t sent_end, cl_error *err)
{
    const float *rows;
    cl_status st = check_input(m, dense, doc, sent_begin, sent_end, &rows, err);
    if (st != CL_OK || sent_begin == sent_end)
        return st;
    if ((st = cl_doc_begin_tagging(doc, sent_begin, sent_end, err)) != CL_OK)
        return st;
    const int32_t L = m->dims.L, base = doc->sentences[sent_begin].tok_begin;
    const int32_t n = doc->sentences[sent_end - 1].tok_end - base;
    int32_t *path = malloc(((size_t)n + 1) * sizeof *path);
    float *marg = malloc(((size_t)n + 1) * (size_t)L * sizeof *marg);
    if (!path || !marg)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = decode_range(m, dense, doc, sent_begin, sent_end, path, marg, err);
    for (int32_t t = 0; t < n && st == CL_OK; t++) {
        st = cl_doc_set_tag(doc, base + t, m->labels[path[t]], err);
        doc->tag_conf[base + t] = marg[(size_t)t * L + path[t]];
    }
    free(path);
    free(marg);
    return st;
}

typedef struct crf_backend {
    const cl_crf_model *m;
    const cl_dense_table *dense;
} crf_backend;

static cl_status backend_tag(void *self, cl_doc *doc, int32_t sent_begin, int32_t sent_end,
                             cl_error *err)
{
    crf_backend *b = self;
    return cl_crf_tag(b->m, b->dense, doc, sent_begin, sent_end, err);
}

static void backend_free(void *self) { free(self); }

static const cl_tagger_ops crf_ops = {
    .name = "crf", .tag = backend_tag, .free = backend_free, .stats = NULL, .answer = NULL};

cl_status cl_crf_tagger_new_dense(const cl_crf_model *m, const cl_dense_table *dense,
                                  cl_tagger *out, cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    if (!m)
        return cl_error_set(err, CL_ERR_ARG, "no CRF model");
    crf_backend *b = calloc(1, sizeof *b);
    if (!b)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    b->m = m;
    b->dense = dense;
    out->ops = &crf_ops;
    out->self = b;
    return CL_OK;
}

cl_status cl_crf_tagger_new(const cl_crf_model *m, cl_tagger *out, cl_error *err)
{
    return cl_crf_tagger_new_dense(m, NULL, out, err);
}
