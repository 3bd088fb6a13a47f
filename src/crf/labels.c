/*
 * labels.c - the CRF's label sets and the entity-level F1 it uses for early
 * stopping.
 *
 * Labels are O plus B-/I- of each entity type (crf_internal.h gives the id
 * arithmetic).  The dev F1 follows conlleval / seqeval's default mode, the
 * paper's protocol: an entity is a maximal B-X I-X ... run, an I-X after O or
 * after another type starts a new entity (labels.h's cl_bio_chunks), and a
 * prediction counts when its span and type both match a gold entity of the
 * same sentence.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/labels.h"
#include "crf/crf_internal.h"

cl_status cl_crf_labels_from_name(const char *name, cl_crf_labels *out, cl_error *err)
{
    if (name && strcmp(name, "paper") == 0)
        *out = CL_CRF_LABELS_PAPER;
    else if (name && strcmp(name, "all") == 0)
        *out = CL_CRF_LABELS_ALL;
    else
        return cl_error_set(err, CL_ERR_ARG, "unknown label set '%s' (expected paper or all)",
                            name ? name : "(null)");
    return CL_OK;
}

cl_status cl_crf_dense_scale_from_name(const char *name, cl_crf_dense_scale *out, cl_error *err)
{
    if (name && !strcmp(name, "raw"))
        *out = CL_CRF_DENSE_RAW;
    else if (name && !strcmp(name, "rms"))
        *out = CL_CRF_DENSE_RMS;
    else
        return cl_error_set(err, CL_ERR_ARG, "dense scale: '%s' is not raw or rms",
                            name ? name : "(null)");
    return CL_OK;
}

const char *cl_crf_labels_name(cl_crf_labels labels)
{
    return labels == CL_CRF_LABELS_ALL ? "all" : "paper";
}

const char *const *cl_crf_labels_types(cl_crf_labels labels, int *ntypes)
{
    if (labels == CL_CRF_LABELS_ALL) {
        *ntypes = CL_NUM_ALL_TYPES;
        return cl_all_types;
    }
    *ntypes = CL_NUM_PAPER_TYPES;
    return cl_paper_types;
}

/* Entities of a label sequence (labels.h's chunker); returns count.  ty and
 * b are scratch space for T values. */
static int32_t chunks(const int32_t *y, int32_t T, int32_t *ty, bool *b, cl_bio_chunk *out)
{
    for (int32_t t = 0; t < T; t++) {
        ty[t] = crf_label_type(y[t]);
        b[t] = crf_label_is_b(y[t]);
    }
    return cl_bio_chunks(ty, b, NULL, T, out);
}

void cl__crf_f1_add(crf_f1_counts *c, const int32_t *gold, const int32_t *pred, int32_t T)
{
    enum { SHORT = 64 }; /* sentences are short; long ones take the heap */
    cl_bio_chunk stack[2 * SHORT];
    int32_t ty_stack[SHORT];
    bool b_stack[SHORT];
    bool heap = T > SHORT;
    cl_bio_chunk *g = heap ? malloc(sizeof *g * 2 * (size_t)T) : stack;
    int32_t *ty = heap ? malloc(sizeof *ty * (size_t)T) : ty_stack;
    bool *b = heap ? malloc(sizeof *b * (size_t)T) : b_stack;
    if (!g || !ty || !b) { /* out of memory: the sentence is left out of a diagnostic score */
        if (heap) {
            free(g);
            free(ty);
            free(b);
        }
        return;
    }
    cl_bio_chunk *p = g + (heap ? T : SHORT);
    int32_t ng = chunks(gold, T, ty, b, g), np = chunks(pred, T, ty, b, p);
    for (int32_t i = 0; i < ng; i++)
        if (g[i].type < c->ntypes)
            c->ngold[g[i].type]++;
    for (int32_t i = 0, j = 0; i < np; i++) { /* both lists are sorted by start */
        if (p[i].type >= c->ntypes)
            continue;
        c->npred[p[i].type]++;
        while (j < ng && g[j].begin < p[i].begin)
            j++;
        if (j < ng && g[j].begin == p[i].begin && g[j].end == p[i].end &&
            g[j].type == p[i].type)
            c->tp[p[i].type]++;
    }
    if (heap) {
        free(g);
        free(ty);
        free(b);
    }
}

void cl__crf_f1_result(const crf_f1_counts *c, double *macro, double *micro)
{
    double sum = 0.0;
    int64_t tp = 0, np = 0, ng = 0;
    for (int32_t t = 0; t < c->ntypes; t++) {
        double p = c->npred[t] ? (double)c->tp[t] / (double)c->npred[t] : 0.0;
        double r = c->ngold[t] ? (double)c->tp[t] / (double)c->ngold[t] : 0.0;
        sum += p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
        tp += c->tp[t];
        np += c->npred[t];
        ng += c->ngold[t];
    }
    *macro = c->ntypes ? sum / c->ntypes : 0.0;
    double p = np ? (double)tp / (double)np : 0.0, r = ng ? (double)tp / (double)ng : 0.0;
    *micro = p + r > 0.0 ? 2.0 * p * r / (p + r) : 0.0;
}
