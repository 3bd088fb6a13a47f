/*
 * scorer.c - token-level scoring: sentences of gold and predicted labels go
 * in, seqeval's classification_report numbers come out.
 *
 * Both label streams are read into entities with positions counted over all
 * sentences, one extra position per sentence for the "O" seqeval puts after
 * each sentence; an entity is correct when the other stream has an entity of
 * the same type at the same positions (seqeval compares sets of
 * (type, start, end) the same way).
 */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

struct cl_scorer {
    cl_eval_params p;
    ev_types types;
    ev_ents gold, pred;
    ev_chunker gch, pch;
    int64_t pos; /* positions used so far, separators included */
    int64_t units;
    cl_eval_errors errs;
};

cl_status cl_scorer_new(const cl_eval_params *params, cl_scorer **out, cl_error *err)
{
    cl_scorer *s = *out = calloc(1, sizeof *s);
    if (!s)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory creating a scorer");
    s->p = params ? *params : cl_eval_default_params();
    cl__ev_chunker_init(&s->gch);
    cl__ev_chunker_init(&s->pch);
    return CL_OK;
}

void cl_scorer_free(cl_scorer *s)
{
    if (!s)
        return;
    cl__ev_types_free(&s->types);
    cl__ev_ents_free(&s->gold);
    cl__ev_ents_free(&s->pred);
    cl__ev_errors_free(&s->errs);
    free(s);
}

/* Entities [from, e->n) of a stream, clipped to the sentence at base of n
 * tokens and shifted to sentence positions (into a fresh array). */
static ev_ent *local_ents(const ev_ents *e, int64_t from, int64_t base, int32_t n, int64_t *count)
{
    int64_t k = e->n - from;
    ev_ent *v = malloc((size_t)(k > 0 ? k : 1) * sizeof *v);
    if (!v)
        return NULL;
    int64_t m = 0;
    for (int64_t i = from; i < e->n; i++) {
        int64_t a = e->v[i].start - base, b = e->v[i].end - base;
        a = a < 0 ? 0 : a;
        b = b > n ? n : b;
        if (a < b)
            v[m++] = (ev_ent){e->v[i].type, a, b, 0};
    }
    *count = m;
    return v;
}

cl_status cl_scorer_add(cl_scorer *s, const char *const *gold, const char *const *pred,
                        int32_t n, const char *const *tokens, cl_error *err)
{
    if (n < 0 || (n > 0 && (!gold || !pred)))
        return cl_error_set(err, CL_ERR_ARG, "cl_scorer_add: bad label arrays");
    int64_t base = s->pos, g0 = s->gold.n, p0 = s->pred.n;
    int rc = 0;
    if (s->p.mode == CL_EVAL_STRICT) {
        /* seqeval raises on a label that is not IOB2: check both sides
         * first, so that a rejected sentence adds nothing */
        for (int side = 0; side < 2; side++) {
            const char *const *labels = side ? pred : gold;
            int32_t bad = cl__ev_first_not_iob2(labels, n);
            if (bad >= 0) {
                cl__ev_not_iob2(err, labels[bad], bad, tokens ? tokens[bad] : NULL);
                return cl_error_prefix(err, "%s ", side ? "predictions" : "gold");
            }
        }
        int32_t bad;
        rc = cl__ev_strict_sentence(gold, n, base, &s->types, &s->gold, &bad);
        if (rc == 0)
            rc = cl__ev_strict_sentence(pred, n, base, &s->types, &s->pred, &bad);
    } else {
        for (int32_t i = 0; i < n && rc == 0; i++) {
            rc = cl__ev_chunker_feed(&s->gch, gold[i], &s->types, &s->gold);
            if (rc == 0)
                rc = cl__ev_chunker_feed(&s->pch, pred[i], &s->types, &s->pred);
        }
        /* seqeval's "O" after every sentence */
        if (rc == 0)
            rc = cl__ev_chunker_feed(&s->gch, "O", &s->types, &s->gold);
        if (rc == 0)
            rc = cl__ev_chunker_feed(&s->pch, "O", &s->types, &s->pred);
    }
    if (rc)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    s->pos += (int64_t)n + 1;
    if (s->p.errors) {
        int64_t ng = 0, np = 0;
        ev_ent *lg = local_ents(&s->gold, g0, base, n, &ng);
        ev_ent *lp = local_ents(&s->pred, p0, base, n, &np);
        cl_status st = CL_OK;
        if (!lg || !lp) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
        } else {
            ev_unit_view view = {tokens, n, NULL, NULL};
            st = cl__ev_classify(lg, ng, lp, np, &s->types, &view, s->units, s->p.max_examples,
                             &s->errs, err);
        }
        free(lg);
        free(lp);
        if (st != CL_OK)
            return st;
    }
    s->units++;
    return CL_OK;
}

static int cmp_ent(const void *a, const void *b)
{
    const ev_ent *x = a, *y = b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sort a copy of each side and count, per type, entities and the matches
 * between the two (one-to-one, so duplicates are counted once each). */
static cl_status count_matches(const ev_ents *gold, const ev_ents *pred, int32_t ntypes,
                               int64_t *tp, int64_t *npred, int64_t *ntrue, cl_error *err)
{
    ev_ent *g = malloc((size_t)(gold->n ? gold->n : 1) * sizeof *g);
    ev_ent *p = malloc((size_t)(pred->n ? pred->n : 1) * sizeof *p);
    if (!g || !p) {
        free(g);
        free(p);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    }
    if (gold->n)
        memcpy(g, gold->v, (size_t)gold->n * sizeof *g);
    if (pred->n)
        memcpy(p, pred->v, (size_t)pred->n * sizeof *p);
    if (gold->n > 1)
        qsort(g, (size_t)gold->n, sizeof *g, cmp_ent);
    if (pred->n > 1)
        qsort(p, (size_t)pred->n, sizeof *p, cmp_ent);
    memset(tp, 0, (size_t)ntypes * sizeof *tp);
    memset(npred, 0, (size_t)ntypes * sizeof *npred);
    memset(ntrue, 0, (size_t)ntypes * sizeof *ntrue);
    for (int64_t i = 0; i < gold->n; i++)
        ntrue[g[i].type]++;
    for (int64_t i = 0; i < pred->n; i++)
        npred[p[i].type]++;
    int64_t i = 0, j = 0;
    while (i < gold->n && j < pred->n) {
        int c = cmp_ent(&g[i], &p[j]);
        if (c == 0) {
            tp[g[i].type]++;
            i++;
            j++;
        } else if (c < 0) {
            i++;
        } else {
            j++;
        }
    }
    free(g);
    free(p);
    return CL_OK;
}

cl_status cl_scorer_result(cl_scorer *s, cl_eval_result *out, cl_error *err)
{
    cl__ev_result_init(out);
    int32_t nt = s->types.n ? s->types.n : 1;
    int64_t *tp = calloc((size_t)nt * 3, sizeof *tp);
    if (!tp)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    cl_status st = count_matches(&s->gold, &s->pred, s->types.n, tp, tp + nt, tp + 2 * nt, err);
    if (st == CL_OK)
        st = cl__ev_build_result(&s->types, tp, tp + nt, tp + 2 * nt, out, err);
    free(tp);
    if (st == CL_OK && s->p.errors) {
        st = cl__ev_errors_copy(&out->errors, &s->errs, err);
        out->has_errors = st == CL_OK;
    }
    if (st != CL_OK) {
        cl_eval_result_free(out);
        return st;
    }
    out->units = s->units;
    return CL_OK;
}
