/*
 * dense.c - a fine-tuned encoder's label log-probabilities as the CRF's
 * dense per-token features (crf.h): one record per document, one row per
 * word token of the document as it was tokenized, so that a CRF trained or
 * tagged on the same documents read the same way finds row i at token i.
 */
#include <math.h>
#include <stdlib.h>

#include "clinner/crf.h"
#include "clinner/encoder.h"
#include "clinner/util.h"

cl_status cl_encoder_dense_export(const char *model_path, const cl_corpus *c, int32_t threads,
                                  const char *out_path, cl_enc_dense_progress_fn progress,
                                  void *progress_ctx, int32_t *dim, int64_t *tokens,
                                  double *seconds, cl_error *err)
{
    double t0 = cl_now();
    cl_encoder *e = NULL;
    cl_status st = cl_encoder_open(model_path, &e, err);
    if (st != CL_OK)
        return st;
    const char *const *labels = cl_encoder_labels(e);
    int32_t L = 0;
    while (labels && labels[L])
        L++;
    if (L == 0) {
        cl_encoder_free(e);
        return cl_error_set(err, CL_ERR_MODEL, "%s: a base encoder has no labels to score",
                            model_path);
    }
    const float floor_lp = logf(CL_ENC_DENSE_FLOOR);
    int64_t rows = 0;
    float *lp = NULL;
    size_t cap = 0;
    cl_dense_writer *w = NULL;
    st = cl_dense_writer_open(out_path, L, 0, &w, err);
    for (int32_t d = 0; d < c->ndocs && st == CL_OK; d++) {
        const cl_doc *doc = c->docs[d];
        size_t n = (size_t)doc->ntokens * (size_t)L;
        if (n + 1 > cap) {
            float *nl = realloc(lp, (n + 1) * sizeof *nl);
            if (!nl) {
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                break;
            }
            lp = nl;
            cap = n + 1;
        }
        /* tokens outside every sentence (none from cl_doc_prepare) stay O */
        for (size_t i = 0; i < n; i++)
            lp[i] = i % (size_t)L == 0 ? 0.0f : floor_lp;
        if (doc->nsentences > 0) {
            size_t off = (size_t)doc->sentences[0].tok_begin * (size_t)L;
            st = cl_encoder_log_probs(e, doc, 0, doc->nsentences, threads, lp + off, err);
            if (st != CL_OK) /* say which document */
                cl_error_prefix(err, "%s: ", doc->id ? doc->id : "(no id)");
        }
        for (size_t i = 0; i < n && st == CL_OK; i++)
            if (!(lp[i] >= floor_lp)) /* also NaN */
                lp[i] = floor_lp;
        if (st == CL_OK)
            st = cl_dense_writer_add(w, doc->id ? doc->id : "", doc->ntokens, lp, err);
        rows += doc->ntokens;
        if (st == CL_OK && progress)
            progress(progress_ctx, d + 1, c->ndocs, rows);
    }
    if (st == CL_OK) {
        st = cl_dense_writer_commit(w, err); /* frees w */
        w = NULL;
    }
    cl_dense_writer_free(w);
    free(lp);
    cl_encoder_free(e);
    if (st == CL_OK) {
        if (dim)
            *dim = L;
        if (tokens)
            *tokens = rows;
        if (seconds)
            *seconds = cl_now() - t0;
    }
    return st;
}
