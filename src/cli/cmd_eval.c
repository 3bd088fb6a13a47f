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
#include "cli/help.h"
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

/* --html: the report of the first prediction (already scored, with errors)
 * and of every other --pred, side by side, written atomically to path. */
static cl_status write_html(const char *path, const cl_corpus *g, const char *gold,
                            const cl_eval_result *first, const path_list *preds,
                            const path_list *fmts, const cl_eval_params *params,
                            bool span_level, cl_error *err)
{
    cl_eval_result res[MAX_PREDS];
    const cl_eval_result *rs[MAX_PREDS] = {first};
    const char *names[MAX_PREDS];
    memset(res, 0, sizeof res);
    cl_eval_params one = *params;
    cl_status st = CL_OK;
    for (int i = 1; i < preds->n && st == CL_OK; i++) {
        cl_format pf;
        one.pred_name = preds->v[i]; /* messages name this file */
        if ((st = cl_format_from_name(fmts->v[fmts->n == 1 ? 0 : i], &pf, err)) == CL_OK)
            st = cl_eval_file(g, preds->v[i], pf, span_level, &one, &res[i], err);
        rs[i] = &res[i];
    }
    for (int i = 0; i < preds->n; i++) { /* the file name names the column */
        const char *slash = strrchr(preds->v[i], '/');
        names[i] = slash && slash[1] ? slash + 1 : preds->v[i];
    }
    cl_buf html;
    cl_buf_init(&html);
    if (st == CL_OK)
        st = cl_eval_format_html(rs, names, preds->n, "clinner evaluation", gold, &html, err);
    if (st == CL_OK)
        st = cl_atomic_write(path, html.data, html.len, err);
    for (int i = 1; i < preds->n; i++)
        cl_eval_result_free(&res[i]);
    cl_buf_free(&html);
    return st;
}

static void usage(FILE *fp)
{
    cli_help(fp, "eval", NULL);
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
        CLI_STRING("--gold", &gold),
        CLI_STRING("--gold-format", &gold_fmt),
        CLI_PARSER("--pred", &preds, opt_append),
        CLI_PARSER("--pred-format", &pred_fmts, opt_append),
        CLI_STRING("--html", &html),
        CLI_STRING("--mode", &mode),
        CLI_STRING("--match", &match),
    };
    int done = cli_parse_command("eval", usage, opts, CLI_NOPTS(opts), NULL, argc, argv, 1);
    if (done >= 0)
        return done;
    pred = preds.n ? preds.v[0] : NULL;
    pred_fmt = pred_fmts.n ? pred_fmts.v[0] : NULL;
    if ((preds.n > 1 && !html) || (pred_fmts.n > 1 && pred_fmts.n != preds.n)) {
        fprintf(stderr, "clinner eval: %s\n",
                preds.n > 1 && !html ? "several --pred are compared only with --html"
                                     : "give one --pred-format for all --pred, or one each");
        return 2;
    }
    if (!gold || !gold_fmt || !pred || !pred_fmt) {
        fprintf(stderr, "clinner eval: --gold, --gold-format, --pred and --pred-format are "
                        "required\n\n");
        usage(stderr);
        return 2;
    }

    cl_error err;
    cl_error_clear(&err);
    cl_eval_params params = cl_eval_default_params();
    params.errors = errors || html;
    params.gold_name = gold;
    params.pred_name = strcmp(pred, "-") ? pred : "stdin";
    cl_format gf, pf;
    if (cl_format_from_name(gold_fmt, &gf, &err) != CL_OK ||
        cl_format_from_name(pred_fmt, &pf, &err) != CL_OK ||
        (mode && cl_eval_mode_from_name(mode, &params.mode, &err) != CL_OK) ||
        (match && cl_eval_match_from_name(match, &params.match, &err) != CL_OK)) {
        fprintf(stderr, "clinner eval: %s\n", err.msg);
        return 2;
    }
    bool span_level;
    if (cl_eval_scoring_check(gf, pf, match != NULL, &span_level, &err) != CL_OK) {
        fprintf(stderr, "clinner eval: %s\n", err.msg);
        return 2;
    }

    int rc = 1;
    cl_corpus *g = NULL;
    cl_eval_result res;
    memset(&res, 0, sizeof res);
    cl_buf out;
    cl_buf_init(&out);
    if (!span_level && pf != CL_FORMAT_PAPER_LINES && !html) {
        /* token against token: one corpus in memory at a time (peak
         * memory); --html keeps the gold to score every --pred against it */
        if (cl_eval_token_files(gold, gf, pred, pf, &params, &res, &err) != CL_OK)
            goto fail;
    } else if (!(g = cl_corpus_new())) {
        cl_error_set(&err, CL_ERR_NOMEM, "out of memory");
        goto fail;
    } else if (cl_corpus_read(g, gf, gold, &err) != CL_OK ||
               cl_eval_file(g, pred, pf, span_level, &params, &res, &err) != CL_OK) {
        goto fail;
    }
    bool had_errors = res.has_errors; /* --html collects them; print them on --errors only */
    res.has_errors = had_errors && errors;
    if ((json ? cl_eval_format_json(&res, &out, &err) : cl_eval_format_table(&res, &out, &err)) !=
        CL_OK)
        goto fail;
    res.has_errors = had_errors;
    if (html && write_html(html, g, gold, &res, &preds, &pred_fmts, &params, span_level, &err) !=
                    CL_OK)
        goto fail;
    fwrite(out.data, 1, out.len, stdout);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "clinner eval: error writing the report\n");
        goto done;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "clinner eval: %s\n", err.msg);
done:
    cl_buf_free(&out);
    cl_eval_result_free(&res);
    cl_corpus_free(g);
    return rc;
}
