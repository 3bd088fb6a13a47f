/*
 * cmd_train.c - `clinner train crf`: train the supervised CRF tagger on a
 * training split, early-stopped on a dev split, and write the model.
 *
 * Documents are read and tokenized as `clinner tag` and `convert` do
 * (cli_io.c); the tokenizer, label set and input format are recorded in the
 * model so `clinner tag` uses the same tokenizer by default.  Progress
 * (iteration, loss, dev F1, time) goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/tokenize.h"
#include "cli/cli_opts.h"
#include "cli/help.h"
#include "cli/commands.h"
#include "clinner/crf.h"
#include "clinner/progress.h"
#include "clinner/util.h"

static void usage(FILE *fp)
{
    cl_crf_train_params d = cl_crf_train_default_params();
    char vars[256];
    snprintf(vars, sizeof vars,
             "c1=%g\nc2=%g\nmax_iter=%d\nthreads=%d\nseed=%llu\nmin_count=%d\neval_every=%d\n"
             "patience=%d\ndoc_words=%d",
             d.c1, d.c2, d.max_iter, d.threads, (unsigned long long)d.seed, d.min_count,
             d.eval_every, d.patience, d.doc_words);
    cli_help(fp, "train-crf", vars);
}

typedef struct train_ui {
    cl_progress *bar;
    int eval_every;
} train_ui;

static void on_progress(void *ud, const cl_crf_progress *p)
{
    train_ui *ui = ud;
    if (!strcmp(p->stage, "features")) {
        cl_progress_message(ui->bar, "features ready: %lld weights (%.1f s)",
                            (long long)p->active, p->elapsed_s);
        return;
    }
    if (!strcmp(p->stage, "done")) {
        if (p->best_dev_f1 >= 0)
            cl_progress_message(ui->bar,
                                "done: best dev F1 %.4f at iteration %d (O bias %.2f), %lld "
                                "non-zero weights, %.1f s",
                                p->best_dev_f1, p->best_iteration, p->o_bias,
                                (long long)p->active, p->elapsed_s);
        else
            cl_progress_message(ui->bar, "done: %lld non-zero weights, %.1f s",
                                (long long)p->active, p->elapsed_s);
        return;
    }
    cl_progress_update(ui->bar, p->iteration);
    if (p->dev_f1 >= 0)
        cl_progress_message(ui->bar,
                            "iter %4d  loss %.2f  dev F1 %.4f (micro %.4f)  best %.4f @%d  "
                            "active %lld  %.1f s",
                            p->iteration, p->loss, p->dev_f1, p->dev_micro_f1, p->best_dev_f1,
                            p->best_iteration, (long long)p->active, p->elapsed_s);
    else if (ui->eval_every <= 0 || p->iteration % 10 == 0 || p->iteration == 1)
        cl_progress_message(ui->bar, "iter %4d  loss %.2f  active %lld  %.1f s", p->iteration,
                            p->loss, (long long)p->active, p->elapsed_s);
}

static int fail(const cl_error *err)
{
    fprintf(stderr, "clinner train: %s\n", err->msg);
    return 1;
}

int cmd_train(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "encoder"))
        return cmd_train_encoder(argc, argv);
    if (argc < 2 || strcmp(argv[1], "crf") != 0) {
        fprintf(stderr, "clinner train: the trainers are 'crf' and 'encoder' (clinner train crf "
                        "--help, clinner train encoder --help)\n");
        return 2;
    }
    cl_crf_train_params p = cl_crf_train_default_params();
    const char *train_path = NULL, *dev_path = NULL, *format = NULL, *tok_name = "clinical";
    const char *labels = "paper", *out = NULL, *dense_path = NULL, *dense_scale = NULL;
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    const cli_opt opts[] = {
        CLI_NOFLAG("--no-o-bias", &p.tune_o_bias),
        CLI_NOFLAG("--no-gazetteer", &p.gazetteer),
        CLI_STRING("--train", &train_path),
        CLI_STRING("--dev", &dev_path),
        CLI_STRING("--format", &format),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_STRING("--labels", &labels),
        CLI_STRING2("--output", "-o", &out),
        CLI_STRING("--dense", &dense_path),
        CLI_STRING("--vocab", &p.vocab_path),
        CLI_STRING("--dense-scale", &dense_scale),
        CLI_PARSER("--progress", &pmode, cli_opt_progress),
        CLI_NUMBER("--c1", &p.c1, 0.0),
        CLI_NUMBER("--c2", &p.c2, 0.0),
        CLI_INTEGER("--max-iter", CLI_OPT_INT, &p.max_iter, 1, 100000),
        CLI_INTEGER("--threads", CLI_OPT_INT, &p.threads, 1, 64),
        CLI_INTEGER("--seed", CLI_OPT_UINT64, &p.seed, 0, 2147483647L),
        CLI_INTEGER("--min-count", CLI_OPT_INT, &p.min_count, 1, 1000000),
        CLI_INTEGER("--eval-every", CLI_OPT_INT, &p.eval_every, 1, 100000),
        CLI_INTEGER("--doc-words", CLI_OPT_INT, &p.doc_words, 0, 1000),
        CLI_INTEGER("--patience", CLI_OPT_INT, &p.patience, 0, 100000),
    };
    int done = cli_parse_command("train", usage, opts, CLI_NOPTS(opts), NULL, argc, argv, 2);
    if (done >= 0)
        return done;
    if (!train_path || !out) {
        fprintf(stderr, "clinner train: --train and -o are required (see --help)\n");
        return 2;
    }
    if (dense_scale) {
        if (!dense_path) {
            fprintf(stderr, "clinner train: --dense-scale needs --dense\n");
            return 2;
        }
        if (!strcmp(dense_scale, "raw")) {
            p.dense_scale = CL_CRF_DENSE_RAW;
        } else if (strcmp(dense_scale, "rms") != 0) {
            fprintf(stderr, "clinner train: --dense-scale: '%s' is not raw or rms\n",
                    dense_scale);
            return 2;
        }
    }
    cl_error err;
    cl_error_clear(&err);
    cl_tokenizer_kind tok;
    cl_format fmt = cl_format_guess(train_path);
    if (cl_tokenizer_from_name(tok_name, &tok, &err) != CL_OK ||
        cl_crf_labels_from_name(labels, &p.labels, &err) != CL_OK ||
        (format && cl_format_from_name(format, &fmt, &err) != CL_OK)) {
        fprintf(stderr, "clinner train: %s\n", err.msg);
        return 2;
    }

    p.vocab_tokenizer = tok;
    cl_prepare_params in = cl_prepare_default_params();
    in.tokenizer = tok;
    if (p.labels == CL_CRF_LABELS_PAPER) {
        in.types = cl_paper_types;
        in.ntypes = CL_NUM_PAPER_TYPES;
    } else {
        in.types = cl_all_types;
        in.ntypes = CL_NUM_ALL_TYPES;
    }
    cl_corpus *train = NULL, *dev = NULL;
    cl_dense_table *dense = NULL;
    cl_crf_model *m = NULL;
    int rc = 1;
    double t0 = cl_now();
    if (cl_corpus_load(train_path, fmt, &in, &train, &err) != CL_OK ||
        (dev_path && cl_corpus_load(dev_path, fmt, &in, &dev, &err) != CL_OK))
        goto done;
    if (dense_path && cl_dense_read(dense_path, &dense, &err) != CL_OK)
        goto done;
    fprintf(stderr,
            "clinner train: %d train documents (%lld sentences, %lld tokens), %d dev "
            "documents, tokenizer %s, labels %s, read in %.1f s\n",
            train->ndocs, (long long)cl_corpus_nsentences(train),
            (long long)cl_corpus_ntokens(train), dev ? dev->ndocs : 0, tok_name, labels,
            cl_now() - t0);
    p.dense = dense;
    train_ui ui = {cl_progress_new(stderr, "training", "iterations", p.max_iter, pmode),
                   p.eval_every};
    p.progress = on_progress;
    p.progress_ud = &ui;
    cl_status st = cl_crf_train(train, dev, &p, &m, &err);
    cl_progress_free(ui.bar);
    if (st != CL_OK)
        goto done;
    char num[256];
    if (cl_crf_model_set_meta(m, "tokenizer", cl_tokenizer_name(tok), &err) != CL_OK ||
        cl_crf_model_set_meta(m, "labels", cl_crf_labels_name(p.labels), &err) != CL_OK ||
        cl_crf_model_set_meta(m, "format", cl_format_name(fmt), &err) != CL_OK)
        goto done;
    snprintf(num, sizeof num,
             "c1=%g c2=%g max_iter=%d threads=%d seed=%llu min_count=%d doc_words=%d "
             "gazetteer=%d",
             p.c1, p.c2, p.max_iter, p.threads, (unsigned long long)p.seed, p.min_count,
             p.doc_words, p.gazetteer ? 1 : 0);
    const char *vocab_name = p.vocab_path ? strrchr(p.vocab_path, '/') : NULL;
    vocab_name = vocab_name ? vocab_name + 1 : p.vocab_path;
    if (cl_crf_model_set_meta(m, "params", num, &err) != CL_OK ||
        (vocab_name && cl_crf_model_set_meta(m, "vocab", vocab_name, &err) != CL_OK) ||
        cl_crf_model_save(m, out, &err) != CL_OK)
        goto done;
    cl_crf_model_info info;
    cl_crf_model_get_info(m, &info);
    fprintf(stderr,
            "clinner train: wrote %s (%d labels, %d attributes, %lld non-zero weights, %d "
            "gazetteer entries, O bias %.2f) in %.1f s\n",
            out, info.nlabels, info.nattrs, (long long)info.nonzero, info.gazetteer,
            info.o_bias, cl_now() - t0);
    rc = 0;
done:
    if (rc)
        fail(&err);
    cl_crf_model_free(m);
    cl_dense_free(dense);
    cl_corpus_free(train);
    cl_corpus_free(dev);
    return rc;
}
