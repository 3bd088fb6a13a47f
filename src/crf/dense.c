/*
 * dense.c - optional real-valued per-token features (word vectors, LLM
 * hidden states) read from a binary file, so they can be added to the CRF
 * without changing the trainer.  The format is documented in crf.h:
 * binfile.h's container holding a key, the dimension, then one record per
 * document (id, token count, float32 rows); files of the first format
 * (the same records after "CLDENSE1" and the dimension) still load.  The whole file is read into memory and documents
 * are found through a dictionary of their ids.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"
#include "clinner/binfile.h"

#define DENSE_MAGIC "CLNRDNS"    /* binfile.h's container */
#define DENSE_VERSION 2u
#define DENSE_MAGIC_V1 "CLDENSE1" /* the first format (no container), still read */

struct cl_dense_table {
    int32_t dim;
    uint64_t key; /* what the file was computed from (0: not said) */
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
    cl__crf_dict_free(&t->ids);
    free(t);
}

int32_t cl_dense_dim(const cl_dense_table *t) { return t ? t->dim : 0; }

const float *cl_dense_find(const cl_dense_table *t, const char *doc_id, int32_t *ntokens)
{
    int32_t i = cl__crf_dict_find(&t->ids, doc_id, strlen(doc_id));
    if (i < 0)
        return NULL;
    if (ntokens)
        *ntokens = t->ntokens[i];
    return t->rows[i];
}

/* Grow the per-document arrays before a document is added. */
static cl_status make_room(cl_dense_table *t, int32_t *cap, cl_error *err)
{
    if (t->ids.n < *cap)
        return CL_OK;
    *cap = *cap ? *cap * 2 : 64;
    int32_t *nt = realloc(t->ntokens, (size_t)*cap * sizeof *nt);
    if (nt)
        t->ntokens = nt;
    float **r = realloc(t->rows, (size_t)*cap * sizeof *r);
    if (r)
        t->rows = r;
    return nt && r ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

/* One record: id, token count, rows (finite numbers).  pos: the record's
 * byte offset in the file, for messages. */
static cl_status read_record(cl_binr *r, cl_dense_table *t, int32_t *cap, const char *path,
                             size_t pos, cl_error *err)
{
    size_t idlen;
    const char *id = cl_binr_str(r, &idlen);
    uint32_t ntok = cl_binr_u32(r);
    size_t count = (size_t)ntok * (size_t)t->dim;
    if (r->bad || ntok > (1u << 26) || cl_binr_left(r) / 4 < count)
        return cl_error_set(err, CL_ERR_PARSE, "%s: truncated record at byte %zu", path, pos);
    if (make_room(t, cap, err) != CL_OK)
        return CL_ERR_NOMEM;
    bool added;
    int32_t k = cl__crf_dict_intern(&t->ids, id, idlen, &added);
    if (k < 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (!added)
        return cl_error_set(err, CL_ERR_PARSE, "%s: byte %zu: document '%.*s' appears twice",
                            path, pos, (int)idlen, id);
    t->ntokens[k] = (int32_t)ntok;
    t->rows[k] = malloc(count ? count * 4 : 1);
    if (!t->rows[k])
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_binr_f32s(r, t->rows[k], count);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(t->rows[k][i])) /* one NaN would poison every weight */
            return cl_error_set(err, CL_ERR_PARSE,
                                "%s: document '%.*s', token %zu, dimension %zu: %g is not a "
                                "finite number",
                                path, (int)idlen, id, i / (size_t)t->dim, i % (size_t)t->dim,
                                (double)t->rows[k][i]);
    return CL_OK;
}

/* dim, then records to the end of the payload r covers; base: the file
 * offset of r's first byte. */
static cl_status read_body(cl_binr *r, size_t base, cl_dense_table *t, const char *path,
                           cl_error *err)
{
    uint32_t dim = cl_binr_u32(r);
    if (r->bad || dim == 0 || dim > (1u << 20))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: bad dimension %u", path, dim);
    t->dim = (int32_t)dim;
    int32_t cap = 0;
    while (cl_binr_left(r) > 0) {
        cl_status st = read_record(r, t, &cap, path, base + r->at, err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

cl_status cl_dense_read(const char *path, cl_dense_table **out, cl_error *err)
{
    *out = NULL;
    char *data;
    size_t n;
    cl_status st = cl_read_file(path, &data, &n, err);
    if (st != CL_OK)
        return st;
    cl_dense_table *t = calloc(1, sizeof *t);
    if (!t) {
        free(data);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl__crf_dict_init(&t->ids);
    cl_binr r;
    size_t base = CL_BIN_HEADER_BYTES;
    if (cl_bin_has_magic(data, n, DENSE_MAGIC_V1)) {
        /* the first format, without container: magic, then dim and records */
        r = (cl_binr){(const unsigned char *)data + 8, n - 8, 0, false};
        base = 8;
    } else {
        st = cl_binr_open(&r, data, n, DENSE_MAGIC, DENSE_VERSION, DENSE_VERSION, NULL, path,
                          "dense feature file", CL_ERR_FORMAT, err);
        t->key = cl_binr_u64(&r);
    }
    if (st == CL_OK)
        st = read_body(&r, base, t, path, err);
    free(data);
    if (st != CL_OK) {
        cl_dense_free(t);
        return st;
    }
    *out = t;
    return CL_OK;
}

uint64_t cl_dense_key(const cl_dense_table *t) { return t ? t->key : 0; }

struct cl_dense_writer {
    cl_atomic_file f;
    cl_bin_stream s;
    cl_binw rec;
    int32_t dim;
};

void cl_dense_writer_free(cl_dense_writer *w)
{
    if (!w)
        return;
    cl_atomic_abort(&w->f);
    cl_binw_free(&w->rec);
    free(w);
}

cl_status cl_dense_writer_open(const char *path, int32_t dim, uint64_t key,
                               cl_dense_writer **out, cl_error *err)
{
    *out = NULL;
    if (dim <= 0)
        return cl_error_set(err, CL_ERR_ARG, "dense dimension must be positive (got %d)", dim);
    if (strcmp(path, "-") == 0)
        return cl_error_set(err, CL_ERR_ARG, "dense features need a file, not stdout");
    cl_dense_writer *w = calloc(1, sizeof *w);
    if (!w)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_binw_init(&w->rec);
    w->dim = dim;
    cl_status st = cl_atomic_open(&w->f, path, err);
    if (st != CL_OK) {
        cl_binw_free(&w->rec);
        free(w);
        return st;
    }
    st = cl_bin_stream_begin(&w->s, w->f.fp, w->f.path, DENSE_MAGIC, DENSE_VERSION, err);
    cl_binw_u64(&w->rec, key);
    cl_binw_u32(&w->rec, (uint32_t)dim);
    if (st == CL_OK)
        st = cl_bin_stream_put(&w->s, &w->rec, err);
    if (st != CL_OK) {
        cl_dense_writer_free(w);
        return st;
    }
    *out = w;
    return CL_OK;
}

cl_status cl_dense_writer_add(cl_dense_writer *w, const char *doc_id, int32_t ntokens,
                              const float *rows, cl_error *err)
{
    if (ntokens < 0)
        return cl_error_set(err, CL_ERR_ARG, "%s: negative token count", doc_id);
    cl_binw_str(&w->rec, doc_id, strlen(doc_id));
    cl_binw_u32(&w->rec, (uint32_t)ntokens);
    cl_binw_f32s(&w->rec, rows, (size_t)ntokens * (size_t)w->dim);
    return cl_bin_stream_put(&w->s, &w->rec, err);
}

cl_status cl_dense_writer_commit(cl_dense_writer *w, cl_error *err)
{
    cl_status st = cl_bin_stream_end(&w->s, err);
    if (st == CL_OK)
        st = cl_atomic_commit(&w->f, err);
    else
        cl_atomic_abort(&w->f);
    cl_binw_free(&w->rec);
    free(w);
    return st;
}

void cl__crf_dense_rms(const cl_dense_table *t, const cl_corpus *docs, double *rms)
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

cl_status cl__crf_dense_scaled(const cl_dense_table *t, const double *scale, cl_dense_table **out,
                           cl_error *err)
{
    *out = NULL;
    cl_dense_table *c = calloc(1, sizeof *c);
    if (!c)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl__crf_dict_init(&c->ids);
    c->dim = t->dim;
    int32_t nd = t->ids.n;
    c->ntokens = malloc((size_t)(nd ? nd : 1) * sizeof *c->ntokens);
    c->rows = calloc((size_t)(nd ? nd : 1), sizeof *c->rows);
    if (!c->ntokens || !c->rows)
        goto nomem;
    for (int32_t i = 0; i < nd; i++) {
        if (cl__crf_dict_intern(&c->ids, t->ids.keys[i], t->ids.klen[i], NULL) != i)
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
