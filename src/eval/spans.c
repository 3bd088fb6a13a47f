/*
 * spans.c - span-level scoring: predicted entities with character spans
 * (code points) against BRAT gold entities, document by document.
 *
 * Exact match: same type and the same fragments (compared as sorted lists, so
 * a discontinuous gold entity is found only by a prediction with the same
 * fragments; a contiguous prediction never matches it).  Overlap match: same
 * type and at least one shared character between any fragments; matching is
 * one-to-one, exact pairs first, then each remaining prediction in text order
 * takes the unmatched gold entity it overlaps most.  Duplicated gold entities
 * (same type and span twice) need two predictions.
 *
 * Documents are matched by id.  A gold document without a prediction counts
 * as predicting nothing (and is counted); a predicted document that the gold
 * lacks is an error.  Predictions are the document's entities, or when it has
 * none but has token labels, the entities its labels spell (read per
 * sentence by the chosen mode); their tokens are placed on the gold text,
 * directly when the texts are equal, else by finding each token in turn
 * after the previous one (whitespace between them skipped), which fits
 * formats that rebuild the text from tokens (paper-csv, conll).
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/text.h"
#include "eval/eval_internal.h"

typedef struct sp_ent {
    int32_t type;
    cl_span *frags; /* sorted by start; owned */
    int32_t nfrags;
    int64_t start, end; /* covering span */
    int32_t order;      /* index in source order */
    bool matched;
} sp_ent;

typedef struct sp_list {
    sp_ent *v;
    int32_t n, cap;
} sp_list;

static void sp_list_free(sp_list *l)
{
    for (int32_t i = 0; i < l->n; i++)
        free(l->v[i].frags);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int cmp_span(const void *a, const void *b)
{
    const cl_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int sp_push(sp_list *l, int32_t type, const cl_span *frags, int32_t nfrags)
{
    if (nfrags < 1)
        return 0;
    if (l->n == l->cap) {
        int32_t cap = l->cap ? l->cap * 2 : 32;
        sp_ent *v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    cl_span *f = malloc((size_t)nfrags * sizeof *f);
    if (!f)
        return -1;
    memcpy(f, frags, (size_t)nfrags * sizeof *f);
    qsort(f, (size_t)nfrags, sizeof *f, cmp_span);
    sp_ent *e = &l->v[l->n];
    e->type = type;
    e->frags = f;
    e->nfrags = nfrags;
    e->start = f[0].start;
    e->end = f[0].end;
    for (int32_t i = 1; i < nfrags; i++)
        if (f[i].end > e->end)
            e->end = f[i].end;
    e->order = l->n;
    e->matched = false;
    l->n++;
    return 0;
}

static bool same_frags_any_type(const sp_ent *a, const sp_ent *b)
{
    if (a->nfrags != b->nfrags)
        return false;
    for (int32_t i = 0; i < a->nfrags; i++)
        if (a->frags[i].start != b->frags[i].start || a->frags[i].end != b->frags[i].end)
            return false;
    return true;
}

static bool same_frags(const sp_ent *a, const sp_ent *b)
{
    if (a->type != b->type || a->nfrags != b->nfrags)
        return false;
    for (int32_t i = 0; i < a->nfrags; i++)
        if (a->frags[i].start != b->frags[i].start || a->frags[i].end != b->frags[i].end)
            return false;
    return true;
}

static int64_t overlap_chars(const sp_ent *a, const sp_ent *b)
{
    int64_t n = 0;
    for (int32_t i = 0; i < a->nfrags; i++)
        for (int32_t j = 0; j < b->nfrags; j++) {
            int64_t lo = a->frags[i].start > b->frags[j].start ? a->frags[i].start
                                                               : b->frags[j].start;
            int64_t hi = a->frags[i].end < b->frags[j].end ? a->frags[i].end : b->frags[j].end;
            if (hi > lo)
                n += hi - lo;
        }
    return n;
}

/* Per-type counters that grow with the type table. */
typedef struct sp_counts {
    int64_t *tp, *npred, *ntrue;
    int32_t cap;
} sp_counts;

static int counts_fit(sp_counts *c, int32_t ntypes)
{
    if (ntypes <= c->cap)
        return 0;
    int32_t cap = ntypes * 2;
    int64_t **arrs[3] = {&c->tp, &c->npred, &c->ntrue};
    for (int k = 0; k < 3; k++) {
        int64_t *v = realloc(*arrs[k], (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        memset(v + c->cap, 0, (size_t)(cap - c->cap) * sizeof *v);
        *arrs[k] = v;
    }
    c->cap = cap;
    return 0;
}

static int cmp_by_start(const void *a, const void *b)
{
    const sp_ent *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->order - y->order;
}

static void match_doc(sp_list *g, sp_list *p, cl_eval_match match)
{
    if (g->n > 1)
        qsort(g->v, (size_t)g->n, sizeof *g->v, cmp_by_start);
    if (p->n > 1)
        qsort(p->v, (size_t)p->n, sizeof *p->v, cmp_by_start);
    for (int32_t i = 0; i < p->n; i++)
        for (int32_t j = 0; j < g->n; j++)
            if (!g->v[j].matched && same_frags(&p->v[i], &g->v[j])) {
                g->v[j].matched = p->v[i].matched = true;
                break;
            }
    if (match != CL_MATCH_OVERLAP)
        return;
    for (int32_t i = 0; i < p->n; i++) {
        if (p->v[i].matched)
            continue;
        int32_t best = -1;
        int64_t best_n = 0;
        for (int32_t j = 0; j < g->n; j++) {
            if (g->v[j].matched || g->v[j].type != p->v[i].type)
                continue;
            int64_t k = overlap_chars(&p->v[i], &g->v[j]);
            if (k > best_n) {
                best_n = k;
                best = j;
            }
        }
        if (best >= 0)
            g->v[best].matched = p->v[i].matched = true;
    }
}

/* Code-point spans on gold's text of pred's tokens (see the file comment). */
static cl_status place_tokens(const cl_doc *gd, const cl_doc *pd, cl_span *out, cl_error *err)
{
    if (pd->text_bytes == gd->text_bytes && !memcmp(pd->text, gd->text, gd->text_bytes)) {
        for (int32_t i = 0; i < pd->ntokens; i++)
            out[i] = (cl_span){pd->tokens[i].start, pd->tokens[i].end};
        return CL_OK;
    }
    size_t at = 0;
    for (int32_t i = 0; i < pd->ntokens; i++) {
        size_t n;
        const char *tok = cl_doc_token_bytes(pd, i, &n);
        while (at < gd->text_bytes) {
            int32_t cp;
            int len = cl_utf8_decode(gd->text + at, gd->text_bytes - at, &cp);
            if (len < 1 || !cl_uc_is_python_space(cp))
                break;
            at += (size_t)len;
        }
        if (n == 0 || at + n > gd->text_bytes || memcmp(gd->text + at, tok, n)) {
            char *t = cl_doc_token_text(pd, i);
            cl_error_set(err, CL_ERR_PARSE,
                         "document %s: predicted token %d '%s' is not the next word of the "
                         "gold text (at character %d)",
                         gd->id, i + 1, t ? t : "?", cl_text_byte_to_cp(&gd->index, at));
            free(t);
            return err ? err->code : CL_ERR_PARSE;
        }
        out[i] = (cl_span){cl_text_byte_to_cp(&gd->index, at),
                           cl_text_byte_to_cp(&gd->index, at + n)};
        at += n;
    }
    return CL_OK;
}

/* Predicted entities of pd on gd's text. */
static cl_status pred_entities(const cl_doc *gd, const cl_doc *pd, cl_eval_mode mode,
                               ev_types *types, sp_list *out, cl_error *err)
{
    if (pd->nentities > 0 || !pd->tags) {
        for (int32_t i = 0; i < pd->nentities; i++) {
            const cl_entity *e = &pd->entities[i];
            int32_t t = cl__ev_types_intern(types, e->type, strlen(e->type));
            if (t < 0 || sp_push(out, t, e->frags, e->nfrags))
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
        }
        return CL_OK;
    }
    cl_span *pos = malloc((size_t)(pd->ntokens ? pd->ntokens : 1) * sizeof *pos);
    if (!pos)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    cl_status st = place_tokens(gd, pd, pos, err);
    int32_t ns = pd->nsentences > 0 ? pd->nsentences : (pd->ntokens > 0 ? 1 : 0);
    for (int32_t s = 0; s < ns && st == CL_OK; s++) {
        int32_t tb = pd->nsentences > 0 ? pd->sentences[s].tok_begin : 0;
        int32_t te = pd->nsentences > 0 ? pd->sentences[s].tok_end : pd->ntokens;
        cl_eval_span *ents = NULL;
        int32_t ne = 0;
        st = cl_eval_entities((const char *const *)pd->tags + tb, te - tb, mode, &ents, &ne, err);
        if (st == CL_ERR_PARSE) /* strict mode: a label that is not IOB2 */
            cl_error_prefix(err, "document %s, sentence %d, ", pd->id, s + 1);
        for (int32_t k = 0; k < ne && st == CL_OK; k++) {
            cl_span f = {pos[tb + ents[k].start].start, pos[tb + ents[k].end - 1].end};
            int32_t t = cl__ev_types_intern(types, ents[k].type, strlen(ents[k].type));
            if (t < 0 || sp_push(out, t, &f, 1))
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
        }
        cl_eval_spans_free(ents, ne);
    }
    free(pos);
    return st;
}

/* 0 for a contiguous entity, else the smallest id among the entities of
 * the document (gold ids 1.., then predictions) with the same fragments. */
static int32_t shape_of(const sp_ent *e, const sp_list *g, const sp_list *p, int32_t self)
{
    if (e->nfrags == 1)
        return 0;
    for (int32_t i = 0; i < g->n; i++)
        if (same_frags_any_type(e, &g->v[i]))
            return i + 1;
    for (int32_t i = 0; i < p->n; i++)
        if (same_frags_any_type(e, &p->v[i]))
            return g->n + i + 1;
    return self;
}

static cl_status classify_doc(const sp_list *g, const sp_list *p, const cl_doc *gd,
                              const ev_types *types, int64_t unit, int max_examples,
                              cl_eval_errors *errs, cl_error *err)
{
    ev_ent *ge = malloc((size_t)(g->n ? g->n : 1) * sizeof *ge);
    ev_ent *pe = malloc((size_t)(p->n ? p->n : 1) * sizeof *pe);
    cl_status st;
    if (!ge || !pe) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    } else {
        /* discontinuous entities: the covering span, with a shape shared
         * only by entities of the same fragments */
        for (int32_t i = 0; i < g->n; i++)
            ge[i] = (ev_ent){g->v[i].type, g->v[i].start, g->v[i].end,
                             shape_of(&g->v[i], g, p, i + 1)};
        for (int32_t i = 0; i < p->n; i++)
            pe[i] = (ev_ent){p->v[i].type, p->v[i].start, p->v[i].end,
                             shape_of(&p->v[i], g, p, g->n + i + 1)};
        ev_unit_view view = {NULL, 0, gd->text, &gd->index};
        st = cl__ev_classify(ge, g->n, pe, p->n, types, &view, unit, max_examples, errs, err);
    }
    free(ge);
    free(pe);
    return st;
}

cl_status cl_eval_span_corpora(const cl_corpus *gold, const cl_corpus *pred,
                               const cl_eval_params *params, cl_eval_result *out,
                               cl_error *err)
{
    cl__ev_result_init(out);
    cl_eval_params p = params ? *params : cl_eval_default_params();
    for (int32_t j = 0; j < pred->ndocs; j++) {
        bool found = false;
        for (int32_t i = 0; i < gold->ndocs && !found; i++)
            found = !strcmp(gold->docs[i]->id, pred->docs[j]->id);
        if (!found)
            return cl_error_set(err, CL_ERR_ARG, "predicted document '%s' is not in the gold",
                                pred->docs[j]->id);
    }
    ev_types types = {0};
    sp_counts cnt = {0};
    cl_eval_errors errs;
    memset(&errs, 0, sizeof errs);
    cl_status st = CL_OK;
    int64_t missing = 0;
    for (int32_t i = 0; i < gold->ndocs && st == CL_OK; i++) {
        const cl_doc *gd = gold->docs[i];
        const cl_doc *pd = NULL;
        for (int32_t j = 0; j < pred->ndocs && !pd; j++)
            if (!strcmp(gd->id, pred->docs[j]->id))
                pd = pred->docs[j];
        sp_list g = {0}, pl = {0};
        for (int32_t k = 0; k < gd->nentities && st == CL_OK; k++) {
            const cl_entity *e = &gd->entities[k];
            int32_t t = cl__ev_types_intern(&types, e->type, strlen(e->type));
            if (t < 0 || sp_push(&g, t, e->frags, e->nfrags))
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
        }
        if (!pd)
            missing++;
        else if (st == CL_OK)
            st = pred_entities(gd, pd, p.mode, &types, &pl, err);
        if (st == CL_OK && counts_fit(&cnt, types.n))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
        if (st == CL_OK) {
            match_doc(&g, &pl, p.match);
            for (int32_t k = 0; k < g.n; k++) {
                cnt.ntrue[g.v[k].type]++;
                cnt.tp[g.v[k].type] += g.v[k].matched;
            }
            for (int32_t k = 0; k < pl.n; k++)
                cnt.npred[pl.v[k].type]++;
            if (p.errors)
                st = classify_doc(&g, &pl, gd, &types, i, p.max_examples, &errs, err);
        }
        sp_list_free(&g);
        sp_list_free(&pl);
    }
    if (st == CL_OK && counts_fit(&cnt, types.n ? types.n : 1))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory scoring");
    if (st == CL_OK)
        st = cl__ev_build_result(&types, cnt.tp, cnt.npred, cnt.ntrue, out, err);
    if (st == CL_OK && p.errors) {
        out->errors = errs;
        memset(&errs, 0, sizeof errs);
        out->has_errors = true;
    }
    cl__ev_errors_free(&errs);
    free(cnt.tp);
    free(cnt.npred);
    free(cnt.ntrue);
    cl__ev_types_free(&types);
    if (st != CL_OK) {
        cl_eval_result_free(out);
        return st;
    }
    out->units = gold->ndocs;
    out->missing_docs = missing;
    return CL_OK;
}
