/*
 * result.c - from per-type counts to the numbers seqeval's
 * classification_report prints, plus the paper's average.
 *
 * Division by zero gives 0 (seqeval's zero_division="warn" default): a type
 * with no predictions has precision 0, with no gold entities recall 0, and F1
 * is 0 whenever precision + recall is 0.  Micro averages pool the counts;
 * macro is the plain mean over every type seen in gold or predictions (so a
 * type only the predictions use pulls it down, as in seqeval); weighted
 * weighs by support and is all 0 when there is no gold entity.  The paper's
 * average is the plain mean over its five types, a missing type counting 0.
 */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

cl_eval_params cl_eval_default_params(void)
{
    cl_eval_params p;
    memset(&p, 0, sizeof p);
    p.mode = CL_EVAL_DEFAULT;
    p.match = CL_MATCH_EXACT;
    p.errors = false;
    p.max_examples = CL_EVAL_MAX_EXAMPLES;
    return p;
}

cl_status cl_eval_mode_from_name(const char *name, cl_eval_mode *out, cl_error *err)
{
    if (name && !strcmp(name, "default"))
        *out = CL_EVAL_DEFAULT;
    else if (name && !strcmp(name, "strict"))
        *out = CL_EVAL_STRICT;
    else
        return cl_error_set(err, CL_ERR_ARG, "unknown mode '%s' (default, strict)",
                            name ? name : "");
    return CL_OK;
}

cl_status cl_eval_match_from_name(const char *name, cl_eval_match *out, cl_error *err)
{
    if (name && !strcmp(name, "exact"))
        *out = CL_MATCH_EXACT;
    else if (name && !strcmp(name, "overlap"))
        *out = CL_MATCH_OVERLAP;
    else
        return cl_error_set(err, CL_ERR_ARG, "unknown match '%s' (exact, overlap)",
                            name ? name : "");
    return CL_OK;
}

const char *cl_err_class_name(cl_err_class c)
{
    switch (c) {
    case CL_ERRC_CORRECT: return "correct";
    case CL_ERRC_BOUNDARY: return "boundary";
    case CL_ERRC_TYPE: return "wrong_type";
    case CL_ERRC_BOUNDARY_TYPE: return "boundary_and_type";
    case CL_ERRC_FALSE_POSITIVE: return "false_positive";
    case CL_ERRC_FALSE_NEGATIVE: return "false_negative";
    case CL_ERRC_COUNT: break;
    }
    return "?";
}

void cl__ev_result_init(cl_eval_result *r)
{
    memset(r, 0, sizeof *r);
    r->misaligned = -1;
}

void cl_eval_result_free(cl_eval_result *r)
{
    if (!r)
        return;
    for (int32_t i = 0; i < r->ntypes; i++)
        free(r->types[i].type);
    free(r->types);
    cl__ev_errors_free(&r->errors);
    cl__ev_result_init(r);
}

const cl_type_score *cl_eval_result_type(const cl_eval_result *r, const char *type)
{
    for (int32_t i = 0; i < r->ntypes; i++)
        if (!strcmp(r->types[i].type, type))
            return &r->types[i];
    return NULL;
}

static double ratio(int64_t a, int64_t b) { return b > 0 ? (double)a / (double)b : 0.0; }

static double f1_of(double p, double r) { return p + r > 0 ? 2.0 * p * r / (p + r) : 0.0; }

static int cmp_score(const void *a, const void *b)
{
    return strcmp(((const cl_type_score *)a)->type, ((const cl_type_score *)b)->type);
}

cl_status cl__ev_build_result(const ev_types *types, const int64_t *tp, const int64_t *npred,
                          const int64_t *ntrue, cl_eval_result *r, cl_error *err)
{
    int32_t k = 0;
    cl_type_score *v = calloc((size_t)(types->n ? types->n : 1), sizeof *v);
    if (!v)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory building the result");
    for (int32_t t = 0; t < types->n; t++) {
        if (npred[t] == 0 && ntrue[t] == 0)
            continue;
        cl_type_score *s = &v[k++];
        s->type = cl_strdup(types->names[t]);
        if (!s->type) {
            for (int32_t i = 0; i < k - 1; i++)
                free(v[i].type);
            free(v);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory building the result");
        }
        s->tp = tp[t];
        s->predicted = npred[t];
        s->support = ntrue[t];
        s->prf.precision = ratio(tp[t], npred[t]);
        s->prf.recall = ratio(tp[t], ntrue[t]);
        s->prf.f1 = f1_of(s->prf.precision, s->prf.recall);
        s->prf.support = ntrue[t];
    }
    if (k > 1)
        qsort(v, (size_t)k, sizeof *v, cmp_score);

    int64_t stp = 0, spred = 0, strue = 0;
    double mp = 0, mr = 0, mf = 0, wp = 0, wr = 0, wf = 0;
    for (int32_t i = 0; i < k; i++) {
        stp += v[i].tp;
        spred += v[i].predicted;
        strue += v[i].support;
        mp += v[i].prf.precision;
        mr += v[i].prf.recall;
        mf += v[i].prf.f1;
        wp += v[i].prf.precision * (double)v[i].support;
        wr += v[i].prf.recall * (double)v[i].support;
        wf += v[i].prf.f1 * (double)v[i].support;
    }
    r->micro.precision = ratio(stp, spred);
    r->micro.recall = ratio(stp, strue);
    r->micro.f1 = f1_of(r->micro.precision, r->micro.recall);
    r->micro.support = strue;
    r->macro = (cl_prf){k ? mp / k : 0, k ? mr / k : 0, k ? mf / k : 0, strue};
    if (strue > 0)
        r->weighted = (cl_prf){wp / (double)strue, wr / (double)strue, wf / (double)strue, strue};
    else
        r->weighted = (cl_prf){0, 0, 0, 0};

    cl_prf avg = {0, 0, 0, 0};
    for (int i = 0; i < CL_NUM_PAPER_TYPES; i++) {
        for (int32_t j = 0; j < k; j++) {
            if (strcmp(v[j].type, cl_paper_types[i]))
                continue;
            avg.precision += v[j].prf.precision;
            avg.recall += v[j].prf.recall;
            avg.f1 += v[j].prf.f1;
            avg.support += v[j].support;
        }
    }
    avg.precision /= CL_NUM_PAPER_TYPES;
    avg.recall /= CL_NUM_PAPER_TYPES;
    avg.f1 /= CL_NUM_PAPER_TYPES;
    r->average = avg;

    for (int32_t i = 0; i < r->ntypes; i++)
        free(r->types[i].type);
    free(r->types);
    r->types = v;
    r->ntypes = k;
    return CL_OK;
}
