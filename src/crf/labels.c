/*
 * labels.c - the CRF's label sets and the entity-level F1 it uses for early
 * stopping.
 *
 * Labels are O plus B-/I- of each entity type (crf_internal.h gives the id
 * arithmetic).  The dev F1 follows conlleval / seqeval's default mode, the
 * paper's protocol: an entity is a maximal B-X I-X ... run, an I-X after O or
 * after another type starts a new entity, and a prediction counts when its
 * span and type both match a gold entity of the same sentence.
 */
#include <stdlib.h>
#include <string.h>

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

const char *cl_crf_labels_name(cl_crf_labels labels)
{
    return labels == CL_CRF_LABELS_ALL ? "all" : "paper";
}

/* Entities of a label sequence as (begin, end, type) triples; returns count. */
static int32_t chunks(const int32_t *y, int32_t T, int32_t *out)
{
    int32_t n = 0, begin = -1, type = -1;
    for (int32_t t = 0; t <= T; t++) {
        int32_t ty = t < T ? crf_label_type(y[t]) : -1;
        bool starts = ty >= 0 && (crf_label_is_b(y[t]) || ty != type);
        if (begin >= 0 && (ty < 0 || starts)) {
            out[3 * n] = begin;
            out[3 * n + 1] = t;
            out[3 * n + 2] = type;
            n++;
            begin = -1;
        }
        if (starts)
            begin = t;
        type = ty;
    }
    return n;
}

void cl__crf_f1_add(crf_f1_counts *c, const int32_t *gold, const int32_t *pred, int32_t T)
{
    int32_t stack[2 * 3 * 64]; /* sentences are short; long ones take the heap */
    int32_t *g = T <= 64 ? stack : malloc(sizeof(int32_t) * 6 * (size_t)T);
    if (!g)
        return; /* out of memory: the sentence is left out of a diagnostic score */
    int32_t *p = g + 3 * (T <= 64 ? 64 : T);
    int32_t ng = chunks(gold, T, g), np = chunks(pred, T, p);
    for (int32_t i = 0; i < ng; i++)
        if (g[3 * i + 2] < c->ntypes)
            c->ngold[g[3 * i + 2]]++;
    for (int32_t i = 0, j = 0; i < np; i++) { /* both lists are sorted by start */
        int32_t ty = p[3 * i + 2];
        if (ty >= c->ntypes)
            continue;
        c->npred[ty]++;
        while (j < ng && g[3 * j] < p[3 * i])
            j++;
        if (j < ng && memcmp(&g[3 * j], &p[3 * i], 3 * sizeof(int32_t)) == 0)
            c->tp[ty]++;
    }
    if (g != stack)
        free(g);
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
