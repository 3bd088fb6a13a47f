/*
 * cmd_eval.c - `clinner eval`: score predictions against gold.
 *
 * Which scoring applies follows from the formats: LLM output (paper-lines)
 * is aligned to the gold sentences by position as the paper did; two token
 * formats are compared sentence by sentence (seqeval, token level); BRAT
 * gold, or --match, gives span-level scoring of entities (documents matched
 * by id).  The table is seqeval's classification_report plus the paper's
 * average row; --json prints one JSON object instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/corpus.h"
#include "clinner/eval.h"
#include "clinner/util.h"

/* --pred and --pred-format may be repeated (--html compares the files) */
#define MAX_PREDS 8
typedef struct path_list {
    const char *v[MAX_PREDS];
    int n;
} path_list;

static cl_status opt_append(const char *name, const char *value, void *dst, cl_error *err)
{
    path_list *l = dst;
    if (l->n == MAX_PREDS)
        return cl_error_set(err, CL_ERR_ARG, "%s: given more than %d times", name, MAX_PREDS);
    l->v[l->n++] = value;
    return CL_OK;
}

int cmd_eval(int argc, char **argv)
{
    const char *gold = NULL, *gold_fmt = NULL, *pred = NULL, *pred_fmt = NULL;
    const char *mode = NULL, *match = NULL;
    bool json = false, errors = false;
    const char *html = NULL;
    path_list preds = {{0}, 0}, pred_fmts = {{0}, 0};
    const cli_opt opts[] = {
        CLI_FLAG("--json", &json),
        CLI_FLAG("--errors", &errors),
        CLI_REQUIRED("--gold", &gold),
        CLI_REQUIRED("--gold-format", &gold_fmt),
        CLI_PARSER("--pred", &preds, opt_append),
        CLI_PARSER("--pred-format", &pred_fmts, opt_append),
        CLI_STRING("--html", &html),
        CLI_STRING("--mode", &mode),
        CLI_STRING("--match", &match),
    };
    cli_args a = {.cmd = "eval", .page = "eval", .opts = opts, .nopts = CLI_NOPTS(opts)};
    int done = cli_parse(&a, argc, argv, 1);
    if (done >= 0)
        return done;
    pred = preds.n ? preds.v[0] : NULL;
    pred_fmt = pred_fmts.n ? pred_fmts.v[0] : NULL;
    if (!pred || !pred_fmt)
        return cli_fail("eval", 2, "--pred and --pred-format are required (see --help)");
    if (preds.n > 1 && !html)
        return cli_fail("eval", 2, "several --pred are compared only with --html");
    if (pred_fmts.n > 1 && pred_fmts.n != preds.n)
        return cli_fail("eval", 2, "give one --pred-format for all --pred, or one each");
    cl_error err = CL_ERROR_INIT;
    cl_format pfs[MAX_PREDS];
    cl_eval_files_params p = {.gold_path = gold, .pred_paths = preds.v, .npreds = preds.n,
                              .pred_fmts = pfs, .nfmts = pred_fmts.n, .match_given = match != NULL,
                              .html_path = html, .eval = cl_eval_default_params()};
    p.eval.errors = errors;
    p.eval.gold_name = gold;
    p.eval.pred_name = strcmp(pred, "-") ? pred : "stdin";
    bool span_level;
    cl_status st = cl_format_from_name(gold_fmt, &p.gold_fmt, &err);
    for (int i = 0; i < pred_fmts.n && st == CL_OK; i++)
        st = cl_format_from_name(pred_fmts.v[i], &pfs[i], &err);
    if (st != CL_OK || (mode && cl_eval_mode_from_name(mode, &p.eval.mode, &err) != CL_OK) ||
        (match && cl_eval_match_from_name(match, &p.eval.match, &err) != CL_OK) ||
        cl_eval_scoring_check(p.gold_fmt, pfs[0], match != NULL, &span_level, &err) != CL_OK)
        return cli_fail("eval", 2, err.msg);
    cl_eval_result res;
    cl_buf out;
    cl_buf_init(&out);
    int rc = 1;
    if (cl_eval_files(&p, &res, &err) == CL_OK) {
        res.has_errors = res.has_errors && errors; /* collected for --html; shown on --errors */
        st = json ? cl_eval_format_json(&res, &out, &err) : cl_eval_format_table(&res, &out, &err);
        if (st == CL_OK && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout)))
            fprintf(stderr, "clinner eval: error writing the report\n");
        else if (st == CL_OK)
            rc = 0;
    }
    if (rc && err.msg[0])
        fprintf(stderr, "clinner eval: %s\n", err.msg);
    cl_buf_free(&out);
    cl_eval_result_free(&res);
    return rc;
}
