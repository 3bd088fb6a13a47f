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

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: clinner eval --gold GOLD --gold-format FORMAT --pred PRED --pred-format FORMAT\n"
            "                    [--mode default|strict] [--match exact|overlap] [--errors] [--json]\n"
            "\n"
            "Score predicted entities against gold ones.\n"
            "\n"
            "  --gold PATH          gold corpus (a directory or file for brat)\n"
            "  --gold-format F      brat, paper-csv, conll or jsonl\n"
            "  --pred PATH          predictions ('-' reads stdin, except for brat)\n"
            "  --pred-format F      paper-lines (LLM output, aligned to the gold sentences by\n"
            "                       position as in the paper), paper-csv, conll, jsonl or brat\n"
            "  --mode M             token level: default (seqeval's default, lenient: I- after\n"
            "                       O starts an entity) or strict (seqeval IOB2 strict)\n"
            "  --match M            span level (brat gold): exact (same type and fragments,\n"
            "                       default) or overlap (same type, any shared character)\n"
            "  --errors             add the error breakdown (boundary, type, missed, spurious)\n"
            "                       with examples\n"
            "  --json               print one JSON object (per_type, average, micro, macro,\n"
            "                       weighted, misaligned_sentences, errors)\n"
            "  -h, --help           show this help\n"
            "\n"
            "Token level needs a token format for gold; two token formats must have the\n"
            "same sentences and tokens.  'average' is the paper's: the mean over DISEASE,\n"
            "RAREDISEASE, SKINRAREDISEASE, SIGN and SYMPTOM.\n"
            "\n"
            "example (the paper's few-shot GPT-4 row):\n"
            "  clinner eval --gold test_combined_IOB_data.csv --gold-format paper-csv \\\n"
            "      --pred gpt4-1106-preview-chat_all_5shot_result_test.txt --pred-format paper-lines\n");
}

/* Token-level scoring of two token files: the gold corpus *g is reduced to
 * its token-level view and freed, then the predictions are read and
 * reduced, so that only one whole corpus is in memory at a time.
 * *scoring: the error came from scoring (not from reading predictions). */
static cl_status score_token_files(cl_corpus **g, cl_format pf, const char *pred,
                                   const cl_eval_params *params, cl_eval_result *res,
                                   bool *scoring, cl_error *err)
{
    cl_labels *labels = NULL;
    cl_eval_tokens *gv = NULL, *pv = NULL;
    cl_corpus *p = NULL;
    *scoring = true;
    cl_status st = cl_labels_new(&labels, err);
    if (st == CL_OK)
        st = cl_eval_tokens_new(*g, true, labels, &gv, err);
    cl_corpus_free(*g);
    *g = NULL;
    if (st == CL_OK && !(p = cl_corpus_new()))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK && (st = cl_corpus_read(p, pf, pred, err)) != CL_OK)
        *scoring = false;
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
    const cli_opt opts[] = {
        CLI_FLAG("--json", &json),
        CLI_FLAG("--errors", &errors),
        CLI_STRING("--gold", &gold),
        CLI_STRING("--gold-format", &gold_fmt),
        CLI_STRING("--pred", &pred),
        CLI_STRING("--pred-format", &pred_fmt),
        CLI_STRING("--mode", &mode),
        CLI_STRING("--match", &match),
    };
    int done = cli_parse_command("eval", usage, opts, CLI_NOPTS(opts), NULL, argc, argv, 1);
    if (done >= 0)
        return done;
    if (!gold || !gold_fmt || !pred || !pred_fmt) {
        fprintf(stderr, "clinner eval: --gold, --gold-format, --pred and --pred-format are "
                        "required\n\n");
        usage(stderr);
        return 2;
    }

    cl_error err;
    cl_error_clear(&err);
    cl_eval_params params = cl_eval_default_params();
    params.errors = errors;
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
    if (!span_level && pf != CL_FORMAT_PAPER_LINES) {
        /* token level, token against token: each corpus is reduced to what
         * scoring needs and freed before the next is read (peak memory) */
        bool scoring = false;
        if (score_token_files(&g, pf, pred, &params, &res, &scoring, &err) != CL_OK) {
            if (scoring)
                cl_error_prefix(&err, "%s: ", pred);
            goto fail;
        }
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
            cl_error_prefix(&err, "%s: ", pred);
            goto fail;
        }
    }
    if ((json ? cl_eval_format_json(&res, &out, &err) : cl_eval_format_table(&res, &out, &err)) !=
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
    cl_paperlines_free(&pl);
    cl_corpus_free(p);
    cl_corpus_free(g);
    return rc;
}
