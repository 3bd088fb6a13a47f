/*
 * seq.c - turning one sentence of a tokenized document into a crf_seq:
 * attribute strings (features.c) become dictionary ids, the document's dense
 * rows are attached, and gold tags become label ids.  Training interns new
 * attributes and counts them; tagging only looks them up and drops unknown
 * ones.
 */
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"

typedef struct builder {
    crf_seq *s;
    int32_t cap_attr;
    int32_t cur_t;
    const crf_dict *lookup; /* tagging */
    crf_dict *intern;       /* training */
    int64_t **counts;       /* training: per attribute id, grown with the dictionary */
    int32_t *cap_counts;
    bool nomem;
} builder;

static int emit(void *ud, int32_t t, const char *attr, size_t n)
{
    builder *b = ud;
    crf_seq *s = b->s;
    int32_t id;
    if (b->intern) {
        bool added;
        id = cl__crf_dict_intern(b->intern, attr, n, &added);
        if (id < 0)
            return -1;
        if (id >= *b->cap_counts) {
            int32_t cap = *b->cap_counts ? *b->cap_counts * 2 : 4096;
            while (cap <= id)
                cap *= 2;
            int64_t *c = realloc(*b->counts, (size_t)cap * sizeof *c);
            if (!c)
                return -1;
            memset(c + *b->cap_counts, 0, (size_t)(cap - *b->cap_counts) * sizeof *c);
            *b->counts = c;
            *b->cap_counts = cap;
        }
        (*b->counts)[id]++;
    } else {
        id = cl__crf_dict_find(b->lookup, attr, n);
        if (id < 0)
            return 0;
    }
    /* token boundaries: tokens arrive in order */
    while (b->cur_t < t) {
        b->cur_t++;
        s->off[b->cur_t] = s->off[s->T]; /* off[T] tracks the running count */
    }
    int32_t k = s->off[s->T];
    if (k == b->cap_attr) {
        int32_t cap = b->cap_attr ? b->cap_attr * 2 : 256;
        int32_t *a = realloc(s->attr, (size_t)cap * sizeof *a);
        if (!a)
            return -1;
        s->attr = a;
        b->cap_attr = cap;
    }
    s->attr[k] = id;
    s->off[s->T] = k + 1;
    return 0;
}

cl_status cl__crf_seq_build(const crf_seq_src *src, const cl_doc *doc, int32_t si, crf_seq *out,
                        cl_error *err)
{
    memset(out, 0, sizeof *out);
    const cl_sentence *sen = &doc->sentences[si];
    int32_t T = sen->tok_end - sen->tok_begin;
    out->T = T;
    out->off = calloc((size_t)T + 1, sizeof *out->off);
    if (!out->off)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    builder b = {.s = out, .cur_t = 0, .lookup = src->lookup, .intern = src->intern,
                 .counts = src->counts, .cap_counts = src->cap_counts};
    cl_status st = cl__crf_sentence_attrs(src->cfg, src->gaz, src->fold, src->vocab, src->doc_ctx,
                                          doc, si, emit, &b, err);
    if (st != CL_OK) {
        cl__crf_seq_free(out);
        return st;
    }
    /* tokens after the last one that emitted anything */
    while (b.cur_t < T) {
        b.cur_t++;
        out->off[b.cur_t] = out->off[T];
    }
    if (src->dense_rows)
        out->dense = src->dense_rows + (size_t)sen->tok_begin * (size_t)src->dense_dim;
    if (src->label_of && doc->tags) {
        out->labels = malloc((size_t)(T > 0 ? T : 1) * sizeof *out->labels);
        if (!out->labels) {
            cl__crf_seq_free(out);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        for (int32_t t = 0; t < T; t++)
            out->labels[t] = src->label_of(src->label_ud, doc->tags[sen->tok_begin + t]);
    }
    return CL_OK;
}
