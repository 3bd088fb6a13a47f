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
static int write_html(const char *path, const cl_corpus *g, const char *gold, cl_format gf,
                      const cl_eval_result *first, const path_list *preds,
                      const path_list *fmts, const cl_eval_params *params, bool match,
                      cl_error *err)
{
    cl_eval_result res[MAX_PREDS];
    const cl_eval_result *rs[MAX_PREDS];
    const char *names[MAX_PREDS];
    memset(res, 0, sizeof res);
    cl_buf html;
    cl_buf_init(&html);
    cl_status st = CL_OK;
    int done = 1;
    cl_eval_params one = *params;
    rs[0] = first;
    for (int i = 1; i < preds->n && st == CL_OK; i++, done++) {
        const char *fname = fmts->v[fmts->n == 1 ? 0 : i];
        one.pred_name = preds->v[i]; /* messages name this file */
        cl_format pf;
        cl_paperlines pl;
        memset(&pl, 0, sizeof pl);
        cl_corpus *p = NULL;
        st = cl_format_from_name(fname, &pf, err);
        if (st == CL_OK && pf == CL_FORMAT_PAPER_LINES) {
            st = cl_paperlines_read(preds->v[i], &pl, err);
            if (st == CL_OK)
                st = cl_eval_paperlines(g, &pl, preds->v[i], &one, &res[i], err);
        } else if (st == CL_OK && !(p = cl_corpus_new())) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        } else if (st == CL_OK) {
            bool span_level = gf == CL_FORMAT_BRAT || match;
            st = cl_corpus_read(p, pf, preds->v[i], err);
            if (st == CL_OK)
                st = span_level ? cl_eval_span_corpora(g, p, &one, &res[i], err)
                                : cl_eval_corpora(g, p, &one, &res[i], err);
            if (st != CL_OK)
                cl_error_prefix(err, "%s: ", preds->v[i]);
        }
        cl_paperlines_free(&pl);
        cl_corpus_free(p);
        rs[i] = &res[i];
    }
    for (int i = 0; i < preds->n; i++) { /* the file name names the column */
        const char *slash = strrchr(preds->v[i], '/');
        names[i] = slash && slash[1] ? slash + 1 : preds->v[i];
    }
    if (st == CL_OK)
        st = cl_eval_format_html(rs, names, preds->n, "clinner evaluation", gold, &html, err);
    cl_atomic_file f;
    if (st == CL_OK && (st = cl_atomic_open(&f, path, err)) == CL_OK) {
        if (fwrite(html.data, 1, html.len, f.fp) != html.len) {
            cl_atomic_abort(&f);
            st = cl_error_set(err, CL_ERR_IO, "%s: write error", path);
        } else {
            st = cl_atomic_commit(&f, err);
        }
    }
    for (int i = 1; i < done; i++)
        cl_eval_result_free(&res[i]);
    cl_buf_free(&html);
    return st == CL_OK ? 0 : 1;
}

static void usage(FILE *fp)
{
    cli_help(fp, "eval", NULL);
}

/* Token-level scoring of two token files: the gold corpus *g is reduced to
 * its token-level view and freed, then the predictions are read and
 * reduced, so that only one whole corpus is in memory at a time.  (The
 * scorer's messages name both files.) */
static cl_status score_token_files(cl_corpus **g, cl_format pf, const char *pred,
                                   const cl_eval_params *params, cl_eval_result *res,
                                   cl_error *err)
{
    cl_labels *labels = NULL;
    cl_eval_tokens *gv = NULL, *pv = NULL;
    cl_corpus *p = NULL;
    cl_status st = cl_labels_new(&labels, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(*g, true, labels, &gv, err);
    cl_corpus_free(*g);
    *g = NULL;
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
    if (gf == CL_FORMAT_PAPER_LINES || gf == CL_FORMAT_TEXT || pf == CL_FORMAT_TEXT) {
        fprintf(stderr, "clinner eval: %s cannot be %s here\n",
                gf == CL_FORMAT_PAPER_LINES || gf == CL_FORMAT_TEXT ? gold_fmt : pred_fmt,
                gf == CL_FORMAT_PAPER_LINES || gf == CL_FORMAT_TEXT ? "gold" : "predictions");
        return 2;
    }
    bool span_level = gf == CL_FORMAT_BRAT || (match && pf != CL_FORMAT_PAPER_LINES);
    if (span_level && pf == CL_FORMAT_PAPER_LINES) {
        fprintf(stderr, "clinner eval: paper-lines predictions need token-level gold "
                        "(paper-csv, conll or jsonl)\n");
        return 2;
    }

    int rc = 1;
    cl_corpus *g = cl_corpus_new(), *p = NULL;
    cl_paperlines pl;
    memset(&pl, 0, sizeof pl);
    cl_eval_result res;
    memset(&res, 0, sizeof res);
    cl_buf out;
    cl_buf_init(&out);
    if (!g) {
        fprintf(stderr, "clinner eval: out of memory\n");
        return 1;
    }
    if (cl_corpus_read(g, gf, gold, &err) != CL_OK)
        goto fail;
    if (!span_level && pf != CL_FORMAT_PAPER_LINES && !html) {
        /* token level, token against token: each corpus is reduced to what
         * scoring needs and freed before the next is read (peak memory);
         * --html keeps the gold to score every --pred against it */
        if (score_token_files(&g, pf, pred, &params, &res, &err) != CL_OK)
            goto fail;
    } else if (pf == CL_FORMAT_PAPER_LINES) {
        if (cl_paperlines_read(pred, &pl, &err) != CL_OK ||
            cl_eval_paperlines(g, &pl, pred, &params, &res, &err) != CL_OK)
            goto fail;
    } else {
        p = cl_corpus_new();
        if (!p) {
            cl_error_set(&err, CL_ERR_NOMEM, "out of memory");
            goto fail;
        }
        if (cl_corpus_read(p, pf, pred, &err) != CL_OK)
            goto fail;
        cl_status st = span_level ? cl_eval_span_corpora(g, p, &params, &res, &err)
                                  : cl_eval_corpora(g, p, &params, &res, &err);
        if (st != CL_OK) {
            if (span_level) /* (token-level messages name both files) */
                cl_error_prefix(&err, "%s: ", pred);
            goto fail;
        }
    }
    bool had_errors = res.has_errors; /* --html collects them; print them on --errors only */
    res.has_errors = had_errors && errors;
    if ((json ? cl_eval_format_json(&res, &out, &err) : cl_eval_format_table(&res, &out, &err)) !=
        CL_OK)
        goto fail;
    res.has_errors = had_errors;
    if (html && write_html(html, g, gold, gf, &res, &preds, &pred_fmts, &params, match != NULL,
                           &err) != 0)
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
    cl_paperlines_free(&pl);
    cl_corpus_free(p);
    cl_corpus_free(g);
    return rc;
}
