/*
 * files.c - scoring a prediction file against gold, the way `clinner eval`
 * and its --html comparison both need it: which scoring the two formats
 * call for, reading the predictions, and the memory-lean path for two large
 * token files.
 */
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
    cl_corpus *p = cl_corpus_new();
    if (!p)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
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
    cl_corpus *g = cl_corpus_new(), *p = NULL;
    cl_status st = g ? cl_labels_new(&labels, err) : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = cl_corpus_read(g, gf, gold, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(g, true, labels, &gv, err);
    cl_corpus_free(g);
    if (st == CL_OK && !(p = cl_corpus_new()))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
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
