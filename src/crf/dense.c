/*
 * dense.c - optional real-valued per-token features (word vectors, LLM
 * hidden states) read from a binary file, so they can be added to the CRF
 * without changing the trainer.  The format is documented in crf.h: a
 * header with the dimension, then one record per document (id, token
 * count, float32 rows).  The whole file is read into memory and documents
 * are found through a dictionary of their ids.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"
#include "clinner/util.h"

#define DENSE_MAGIC "CLDENSE1"

struct cl_dense_table {
    int32_t dim;
    crf_dict ids;
    int32_t *ntokens; /* per document */
    float **rows;     /* per document, ntokens * dim (owned) */
};

void cl_dense_free(cl_dense_table *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->ids.n; i++)
        free(t->rows[i]);
    free(t->rows);
    free(t->ntokens);
    crf_dict_free(&t->ids);
    free(t);
}

int32_t cl_dense_dim(const cl_dense_table *t) { return t ? t->dim : 0; }

const float *cl_dense_find(const cl_dense_table *t, const char *doc_id, int32_t *ntokens)
{
    int32_t i = crf_dict_find(&t->ids, doc_id, strlen(doc_id));
    if (i < 0)
        return NULL;
    if (ntokens)
        *ntokens = t->ntokens[i];
    return t->rows[i];
}

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

cl_status cl_dense_read(const char *path, cl_dense_table **out, cl_error *err)
{
    *out = NULL;
    char *data;
    size_t n;
    cl_status st = cl_read_file(path, &data, &n, err);
    if (st != CL_OK)
        return st;
    const unsigned char *p = (const unsigned char *)data;
    cl_dense_table *t = calloc(1, sizeof *t);
    if (!t) {
        free(data);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    crf_dict_init(&t->ids);
    if (n < 12 || memcmp(p, DENSE_MAGIC, 8) != 0) {
        st = cl_error_set(err, CL_ERR_FORMAT, "%s: not a dense feature file (bad magic bytes)",
                          path);
        goto fail;
    }
    uint32_t dim = rd_u32(p + 8);
    if (dim == 0 || dim > (1u << 20)) {
        st = cl_error_set(err, CL_ERR_FORMAT, "%s: bad dimension %u", path, dim);
        goto fail;
    }
    t->dim = (int32_t)dim;
    size_t off = 12;
    int32_t cap = 0;
    while (off < n) {
        size_t rec = off;
        if (n - off < 4)
            goto truncated;
        uint32_t idlen = rd_u32(p + off);
        off += 4;
        if (n - off < (size_t)idlen + 4)
            goto truncated;
        const char *id = data + off;
        off += idlen;
        uint32_t ntok = rd_u32(p + off);
        off += 4;
        size_t bytes = (size_t)ntok * dim * 4;
        if (ntok > (1u << 26) || n - off < bytes)
            goto truncated;
        if (t->ids.n >= cap) { /* per-document arrays grow before the id is added */
            cap = cap ? cap * 2 : 64;
            int32_t *nt = realloc(t->ntokens, (size_t)cap * sizeof *nt);
            if (nt)
                t->ntokens = nt;
            float **r = realloc(t->rows, (size_t)cap * sizeof *r);
            if (r)
                t->rows = r;
            if (!nt || !r) {
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                goto fail;
            }
        }
        bool added;
        int32_t k = crf_dict_intern(&t->ids, id, idlen, &added);
        if (k < 0) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (!added) {
            st = cl_error_set(err, CL_ERR_PARSE, "%s: byte %zu: document '%.*s' appears twice",
                              path, rec, (int)idlen, id);
            goto fail;
        }
        t->ntokens[k] = (int32_t)ntok;
        t->rows[k] = malloc(bytes ? bytes : 1);
        if (!t->rows[k]) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < (size_t)ntok * dim; i++) { /* little-endian on any host */
            uint32_t u = rd_u32(p + off + 4 * i);
            memcpy(&t->rows[k][i], &u, 4);
            if (!isfinite(t->rows[k][i])) { /* one NaN would poison every weight */
                st = cl_error_set(err, CL_ERR_PARSE,
                                  "%s: document '%.*s', token %zu, dimension %zu: %g is not "
                                  "a finite number",
                                  path, (int)idlen, id, i / dim, i % dim,
                                  (double)t->rows[k][i]);
                goto fail;
            }
        }
        off += bytes;
        continue;
    truncated:
        st = cl_error_set(err, CL_ERR_PARSE, "%s: truncated record at byte %zu", path, rec);
        goto fail;
    }
    free(data);
    *out = t;
    return CL_OK;
fail:
    free(data);
    cl_dense_free(t);
    return st;
}

static int wr_u32(FILE *fp, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v & 0xff), (unsigned char)((v >> 8) & 0xff),
                          (unsigned char)((v >> 16) & 0xff), (unsigned char)(v >> 24)};
    return fwrite(c, 1, 4, fp) == 4 ? 0 : -1;
}

cl_status cl_dense_write_header(FILE *fp, int32_t dim, cl_error *err)
{
    if (dim <= 0)
        return cl_error_set(err, CL_ERR_ARG, "dense dimension must be positive (got %d)", dim);
    if (fwrite(DENSE_MAGIC, 1, 8, fp) != 8 || wr_u32(fp, (uint32_t)dim) != 0)
        return cl_error_set(err, CL_ERR_IO, "dense features: write error: %s", strerror(errno));
    return CL_OK;
}

cl_status cl_dense_write_doc(FILE *fp, const char *doc_id, int32_t ntokens, int32_t dim,
                             const float *rows, cl_error *err)
{
    size_t idlen = strlen(doc_id);
    int bad = wr_u32(fp, (uint32_t)idlen) || fwrite(doc_id, 1, idlen, fp) != idlen ||
              wr_u32(fp, (uint32_t)ntokens);
    for (size_t i = 0; i < (size_t)ntokens * (size_t)dim && !bad; i++) {
        uint32_t u;
        memcpy(&u, &rows[i], 4);
        bad = wr_u32(fp, u);
    }
    if (bad)
        return cl_error_set(err, CL_ERR_IO, "dense features: write error for %s: %s", doc_id,
                            strerror(errno));
    return CL_OK;
}

void crf_dense_rms(const cl_dense_table *t, const cl_corpus *docs, double *rms)
{
    int64_t n = 0;
    for (int32_t k = 0; k < t->dim; k++)
        rms[k] = 0.0;
    for (int32_t i = 0; i < docs->ndocs; i++) { /* corpus order: a fixed summation order */
        int32_t nt;
        const float *r = cl_dense_find(t, docs->docs[i]->id, &nt);
        if (!r)
            continue;
        for (int32_t j = 0; j < nt; j++)
            for (int32_t k = 0; k < t->dim; k++) {
                double v = r[(size_t)j * t->dim + k];
                rms[k] += v * v;
            }
        n += nt;
    }
    for (int32_t k = 0; k < t->dim; k++)
        rms[k] = n > 0 ? sqrt(rms[k] / (double)n) : 0.0;
}

cl_status crf_dense_scaled(const cl_dense_table *t, const double *scale, cl_dense_table **out,
                           cl_error *err)
{
    *out = NULL;
    cl_dense_table *c = calloc(1, sizeof *c);
    if (!c)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    crf_dict_init(&c->ids);
    c->dim = t->dim;
    int32_t nd = t->ids.n;
    c->ntokens = malloc((size_t)(nd ? nd : 1) * sizeof *c->ntokens);
    c->rows = calloc((size_t)(nd ? nd : 1), sizeof *c->rows);
    if (!c->ntokens || !c->rows)
        goto nomem;
    for (int32_t i = 0; i < nd; i++) {
        if (crf_dict_intern(&c->ids, t->ids.keys[i], t->ids.klen[i], NULL) != i)
            goto nomem;
        size_t m = (size_t)t->ntokens[i] * (size_t)t->dim;
        c->ntokens[i] = t->ntokens[i];
        if (!(c->rows[i] = malloc(m ? m * sizeof(float) : 1)))
            goto nomem;
        for (size_t j = 0; j < m; j++)
            c->rows[i][j] = (float)(t->rows[i][j] * scale[j % (size_t)t->dim]);
    }
    *out = c;
    return CL_OK;
nomem:
    cl_dense_free(c);
    return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}
