/*
 * errors.c - the error breakdown of the paper's error analysis: what each
 * predicted entity got wrong against the gold entities of its sentence (or
 * document), with a few examples of each kind marked in their context.
 *
 * A prediction is "correct" when a gold entity has its span and type, "wrong
 * type" when one has its span only, "boundary" when it overlaps a gold entity
 * of its type, "boundary and type" when it overlaps only gold entities of
 * other types, and a "false positive" when it overlaps none.  A gold entity
 * that no prediction overlaps is a "false negative".  Examples show the
 * sentence with gold entities as [[..]]TYPE and predictions as {{..}}TYPE.
 * The type confusion counts, for each classed prediction, its type against
 * the type of the gold entity its class names (none for a false positive),
 * and each false negative's type against none.
 */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

void cl__ev_errors_free(cl_eval_errors *e)
{
    for (int c = 0; c < CL_ERRC_COUNT; c++) {
        for (int i = 0; i < e->nexamples[c]; i++) {
            free(e->examples[c][i].sentence);
            free(e->examples[c][i].gold);
            free(e->examples[c][i].pred);
        }
    }
    for (int32_t i = 0; i < e->nconfusion; i++) {
        free(e->confusion[i].gold);
        free(e->confusion[i].pred);
    }
    free(e->confusion);
    memset(e, 0, sizeof *e);
}

static char *dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = cl_strdup(s);
    if (!d)
        *fail = true;
    return d;
}

cl_status cl__ev_errors_copy(cl_eval_errors *dst, const cl_eval_errors *src, cl_error *err)
{
    memset(dst, 0, sizeof *dst);
    bool fail = false;
    for (int c = 0; c < CL_ERRC_COUNT; c++) {
        dst->count[c] = src->count[c];
        for (int i = 0; i < src->nexamples[c]; i++) {
            const cl_eval_example *s = &src->examples[c][i];
            cl_eval_example *d = &dst->examples[c][i];
            d->unit = s->unit;
            d->sentence = dup_or_null(s->sentence, &fail);
            d->gold = dup_or_null(s->gold, &fail);
            d->pred = dup_or_null(s->pred, &fail);
            dst->nexamples[c] = i + 1;
        }
    }
    if (src->nconfusion > 0) {
        dst->confusion = calloc((size_t)src->nconfusion, sizeof *dst->confusion);
        fail |= dst->confusion == NULL;
        for (int32_t i = 0; dst->confusion && i < src->nconfusion; i++) {
            dst->confusion[i].gold = dup_or_null(src->confusion[i].gold, &fail);
            dst->confusion[i].pred = dup_or_null(src->confusion[i].pred, &fail);
            dst->confusion[i].count = src->confusion[i].count;
            dst->nconfusion = dst->cap_confusion = i + 1;
        }
    }
    if (fail) {
        cl__ev_errors_free(dst);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory copying error examples");
    }
    return CL_OK;
}

static bool overlaps(const ev_ent *a, const ev_ent *b)
{
    return a->start < b->end && b->start < a->end;
}

/* Text of positions [a, b): words joined by spaces, or a slice of the text. */
static int put_range(cl_buf *o, const ev_unit_view *v, int64_t a, int64_t b)
{
    if (v->words) {
        for (int64_t i = a; i < b && i < v->nwords; i++)
            if ((i > a && cl_buf_putc(o, ' ')) || cl_buf_puts(o, v->words[i] ? v->words[i] : ""))
                return -1;
        return 0;
    }
    if (v->text && v->index) {
        size_t ba = cl_text_cp_to_byte(v->index, (int32_t)a);
        size_t bb = cl_text_cp_to_byte(v->index, (int32_t)b);
        if (ba == SIZE_MAX || bb == SIZE_MAX || bb < ba)
            return cl_buf_printf(o, "%lld..%lld", (long long)a, (long long)b);
        return cl_buf_append(o, v->text + ba, bb - ba);
    }
    return cl_buf_printf(o, "%lld..%lld", (long long)a, (long long)b);
}

static char *describe(const ev_ent *e, const ev_types *types, const ev_unit_view *v)
{
    cl_buf o;
    cl_buf_init(&o);
    if (put_range(&o, v, e->start, e->end) || cl_buf_printf(&o, " (%s)", types->names[e->type])) {
        cl_buf_free(&o);
        return NULL;
    }
    return cl_buf_detach(&o);
}

/* Marks at position c: closing ones first, then opening ones. */
static int marks_at(cl_buf *o, int64_t c, const ev_ent *g, const ev_ent *p, const ev_types *types,
                    bool closes)
{
    int rc = 0;
    if (closes) {
        if (p && p->end == c)
            rc |= cl_buf_printf(o, "}}%s", types->names[p->type]);
        if (g && g->end == c)
            rc |= cl_buf_printf(o, "]]%s", types->names[g->type]);
    } else {
        if (g && g->start == c)
            rc |= cl_buf_puts(o, "[[");
        if (p && p->start == c)
            rc |= cl_buf_puts(o, "{{");
    }
    return rc;
}

/* The context with g and p marked: the whole sentence for words, some
 * characters around the entities for a text. */
static char *render(const ev_ent *g, const ev_ent *p, const ev_types *types,
                    const ev_unit_view *v)
{
    cl_buf o;
    cl_buf_init(&o);
    int rc = 0;
    if (v->words || !v->text || !v->index) {
        int64_t n = v->words ? v->nwords : 0;
        if (!v->words) { /* no words: positions only */
            n = (g && g->end > n) ? g->end : n;
            n = (p && p->end > n) ? p->end : n;
        }
        for (int64_t i = 0; i < n && rc == 0; i++) {
            if (i > 0)
                rc |= cl_buf_putc(&o, ' ');
            rc |= marks_at(&o, i, g, p, types, false);
            if (v->words)
                rc |= cl_buf_puts(&o, v->words[i] ? v->words[i] : "");
            else
                rc |= cl_buf_printf(&o, "%lld", (long long)i);
            rc |= marks_at(&o, i + 1, g, p, types, true);
        }
    } else {
        int64_t lo = g ? g->start : p->start, hi = g ? g->end : p->end;
        if (p && p->start < lo)
            lo = p->start;
        if (p && p->end > hi)
            hi = p->end;
        lo = lo > 40 ? lo - 40 : 0;
        hi = hi + 40 < v->index->nchars ? hi + 40 : v->index->nchars;
        int64_t cuts[4];
        int nc = 0;
        const ev_ent *es[2] = {g, p};
        for (int k = 0; k < 2; k++)
            if (es[k]) {
                cuts[nc++] = es[k]->start;
                cuts[nc++] = es[k]->end;
            }
        for (int i = 1; i < nc; i++)
            for (int j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
                int64_t t = cuts[j];
                cuts[j] = cuts[j - 1];
                cuts[j - 1] = t;
            }
        int64_t at = lo;
        for (int i = 0; i < nc && rc == 0; i++) {
            int64_t c = cuts[i];
            if (i > 0 && c == cuts[i - 1])
                continue;
            if (c > at)
                rc |= put_range(&o, v, at, c);
            at = c > at ? c : at;
            rc |= marks_at(&o, c, g, p, types, true);
            rc |= marks_at(&o, c, g, p, types, false);
        }
        if (rc == 0 && hi > at)
            rc |= put_range(&o, v, at, hi);
    }
    if (rc) {
        cl_buf_free(&o);
        return NULL;
    }
    return cl_buf_detach(&o);
}

/* Count one (gold type, predicted type) pair; "" for none.  -1 on out of
 * memory. */
static int add_confusion(cl_eval_errors *errs, const char *gold, const char *pred)
{
    for (int32_t i = 0; i < errs->nconfusion; i++) {
        if (!strcmp(errs->confusion[i].gold, gold) && !strcmp(errs->confusion[i].pred, pred)) {
            errs->confusion[i].count++;
            return 0;
        }
    }
    if (errs->nconfusion == errs->cap_confusion) {
        int32_t cap = errs->cap_confusion ? errs->cap_confusion * 2 : 16;
        cl_eval_confusion_cell *n = realloc(errs->confusion, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        errs->confusion = n;
        errs->cap_confusion = cap;
    }
    cl_eval_confusion_cell *c = &errs->confusion[errs->nconfusion];
    c->gold = cl_strdup(gold);
    c->pred = cl_strdup(pred);
    c->count = 1;
    if (!c->gold || !c->pred) {
        free(c->gold);
        free(c->pred);
        return -1;
    }
    errs->nconfusion++;
    return 0;
}

static int add_example(cl_eval_errors *errs, cl_err_class c, const ev_ent *g, const ev_ent *p,
                       const ev_types *types, const ev_unit_view *v, int64_t unit, int max)
{
    errs->count[c]++;
    if (add_confusion(errs, g ? types->names[g->type] : "", p ? types->names[p->type] : "") != 0)
        return -1;
    if (max > CL_EVAL_MAX_EXAMPLES)
        max = CL_EVAL_MAX_EXAMPLES;
    if (errs->nexamples[c] >= max)
        return 0;
    cl_eval_example *ex = &errs->examples[c][errs->nexamples[c]];
    memset(ex, 0, sizeof *ex);
    ex->unit = unit;
    ex->sentence = render(g, p, types, v);
    ex->gold = g ? describe(g, types, v) : NULL;
    ex->pred = p ? describe(p, types, v) : NULL;
    errs->nexamples[c]++;
    if (!ex->sentence || (g && !ex->gold) || (p && !ex->pred))
        return -1;
    return 0;
}

cl_status cl__ev_classify(const ev_ent *gold, int64_t ngold, const ev_ent *pred, int64_t npred,
                      const ev_types *types, const ev_unit_view *view, int64_t unit,
                      int max_examples, cl_eval_errors *errs, cl_error *err)
{
    int rc = 0;
    for (int64_t i = 0; i < npred && rc == 0; i++) {
        const ev_ent *p = &pred[i];
        const ev_ent *exact = NULL, *span = NULL, *ovl_same = NULL, *ovl_any = NULL;
        for (int64_t j = 0; j < ngold; j++) {
            const ev_ent *g = &gold[j];
            if (!overlaps(p, g))
                continue;
            bool same_span = g->start == p->start && g->end == p->end && g->shape == p->shape;
            if (same_span && g->type == p->type && !exact)
                exact = g;
            if (same_span && !span)
                span = g;
            if (g->type == p->type && !ovl_same)
                ovl_same = g;
            if (!ovl_any)
                ovl_any = g;
        }
        if (exact)
            rc = add_example(errs, CL_ERRC_CORRECT, exact, p, types, view, unit, max_examples);
        else if (span)
            rc = add_example(errs, CL_ERRC_TYPE, span, p, types, view, unit, max_examples);
        else if (ovl_same)
            rc = add_example(errs, CL_ERRC_BOUNDARY, ovl_same, p, types, view, unit, max_examples);
        else if (ovl_any)
            rc = add_example(errs, CL_ERRC_BOUNDARY_TYPE, ovl_any, p, types, view, unit,
                             max_examples);
        else
            rc = add_example(errs, CL_ERRC_FALSE_POSITIVE, NULL, p, types, view, unit,
                             max_examples);
    }
    for (int64_t j = 0; j < ngold && rc == 0; j++) {
        bool hit = false;
        for (int64_t i = 0; i < npred && !hit; i++)
            hit = overlaps(&pred[i], &gold[j]);
        if (!hit)
            rc = add_example(errs, CL_ERRC_FALSE_NEGATIVE, &gold[j], NULL, types, view, unit,
                             max_examples);
    }
    if (rc)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory collecting error examples");
    return CL_OK;
}
