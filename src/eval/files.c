/*
 * files.c - scoring a prediction file against gold, the way `clinner eval`
 * and its --html comparison both need it: which scoring the two formats
 * call for, reading the predictions, and the memory-lean path for two large
 * token files.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/eval.h"

cl_status cl_eval_scoring_check(cl_format gf, cl_format pf, bool match_given, bool *span_level,
                                cl_error *err)
{
    if (gf == CL_FORMAT_PAPER_LINES || gf == CL_FORMAT_TEXT)
        return cl_error_set(err, CL_ERR_ARG, "gold cannot be %s", cl_format_name(gf));
    if (pf == CL_FORMAT_TEXT)
        return cl_error_set(err, CL_ERR_ARG, "predictions cannot be text");
    *span_level = gf == CL_FORMAT_BRAT || (match_given && pf != CL_FORMAT_PAPER_LINES);
    if (*span_level && pf == CL_FORMAT_PAPER_LINES)
        return cl_error_set(err, CL_ERR_ARG, "paper-lines predictions need token-level gold "
                                             "(paper-csv, conll or jsonl)");
    return CL_OK;
}

cl_status cl_eval_file(const cl_corpus *g, const char *pred, cl_format pf, bool span_level,
                       const cl_eval_params *params, cl_eval_result *res, cl_error *err)
{
    cl_status st;
    if (pf == CL_FORMAT_PAPER_LINES) {
        cl_paperlines pl;
        memset(&pl, 0, sizeof pl);
        if ((st = cl_paperlines_read(pred, &pl, err)) == CL_OK)
            st = cl_eval_paperlines(g, &pl, pred, params, res, err);
        cl_paperlines_free(&pl);
        return st;
    }
    cl_corpus *p;
    if ((st = cl_corpus_new(&p, err)) != CL_OK)
        return st;
    st = cl_corpus_read(p, pf, pred, err);
    if (st == CL_OK) {
        st = span_level ? cl_eval_span_corpora(g, p, params, res, err)
                        : cl_eval_corpora(g, p, params, res, err);
        if (st != CL_OK && span_level) /* (token-level messages name both files) */
            cl_error_prefix(err, "%s: ", pred);
    }
    cl_corpus_free(p);
    return st;
}

cl_status cl_eval_token_files(const char *gold, cl_format gf, const char *pred, cl_format pf,
                              const cl_eval_params *params, cl_eval_result *res, cl_error *err)
{
    cl_labels *labels = NULL;
    cl_eval_tokens *gv = NULL, *pv = NULL;
    cl_corpus *g, *p = NULL;
    cl_status st = cl_corpus_new(&g, err);
    if (st == CL_OK)
        st = cl_labels_new(&labels, err);
    if (st == CL_OK)
        st = cl_corpus_read(g, gf, gold, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(g, true, labels, &gv, err);
    cl_corpus_free(g);
    if (st == CL_OK)
        st = cl_corpus_new(&p, err);
    if (st == CL_OK)
        st = cl_corpus_read(p, pf, pred, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(p, false, labels, &pv, err);
    cl_corpus_free(p);
    if (st == CL_OK)
        st = cl_eval_tokens_score(gv, pv, labels, params, res, err);
    cl_eval_tokens_free(gv);
    cl_eval_tokens_free(pv);
    cl_labels_free(labels);
    return st;
}

/* The report: out (the first prediction's, scored) and every other
 * prediction scored against gold, side by side. */
static cl_status write_report(const cl_eval_files_params *p, const cl_corpus *gold,
                              bool span_level, const cl_eval_result *first, cl_error *err)
{
    int n = p->npreds;
    cl_eval_result *res = calloc((size_t)n, sizeof *res);
    const cl_eval_result **rs = calloc((size_t)n, sizeof *rs);
    const char **names = calloc((size_t)n, sizeof *names);
    cl_buf html;
    cl_buf_init(&html);
    cl_status st = res && rs && names ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_eval_params one = p->eval;
    one.errors = true;
    for (int i = 0; i < n && st == CL_OK; i++) {
        const char *slash = strrchr(p->pred_paths[i], '/');
        names[i] = slash && slash[1] ? slash + 1 : p->pred_paths[i]; /* the column's name */
        rs[i] = i == 0 ? first : &res[i];
        one.pred_name = p->pred_paths[i]; /* messages name this file */
        if (i > 0)
            st = cl_eval_file(gold, p->pred_paths[i], p->pred_fmts[p->nfmts == 1 ? 0 : i],
                              span_level, &one, &res[i], err);
    }
    if (st == CL_OK)
        st = cl_eval_format_html(rs, names, n, "clinner evaluation", p->gold_path, &html, err);
    if (st == CL_OK)
        st = cl_atomic_write(p->html_path, html.data, html.len, err);
    for (int i = 1; res && i < n; i++)
        cl_eval_result_free(&res[i]);
    free(res);
    free(rs);
    free(names);
    cl_buf_free(&html);
    return st;
}

cl_status cl_eval_files(const cl_eval_files_params *p, cl_eval_result *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    if (p->npreds < 1 || (p->nfmts != 1 && p->nfmts != p->npreds))
        return cl_error_set(err, CL_ERR_ARG, "pred_fmts: one format for all predictions, or "
                                             "one each");
    if (p->npreds > 1 && !p->html_path)
        return cl_error_set(err, CL_ERR_ARG, "pred_paths: several predictions are compared only "
                                             "in a report (html_path)");
    bool span_level;
    cl_format pf = p->pred_fmts[0];
    cl_status st = cl_eval_scoring_check(p->gold_fmt, pf, p->match_given, &span_level, err);
    cl_eval_params params = p->eval;
    params.errors = params.errors || p->html_path;
    if (st != CL_OK)
        return st;
    if (!span_level && pf != CL_FORMAT_PAPER_LINES && !p->html_path) /* (peak memory) */
        return cl_eval_token_files(p->gold_path, p->gold_fmt, p->pred_paths[0], pf, &params, out,
                                   err);
    cl_corpus *gold;
    st = cl_corpus_new(&gold, err);
    if (st == CL_OK)
        st = cl_corpus_read(gold, p->gold_fmt, p->gold_path, err);
    if (st == CL_OK)
        st = cl_eval_file(gold, p->pred_paths[0], pf, span_level, &params, out, err);
    if (st == CL_OK && p->html_path)
        st = write_report(p, gold, span_level, out, err);
    cl_corpus_free(gold);
    return st;
}
