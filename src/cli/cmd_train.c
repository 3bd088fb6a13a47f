/*
 * cmd_train.c - `clinner train crf`: train the supervised CRF tagger on a
 * training split, early-stopped on a dev split, and write the model.
 *
 * Documents are read and tokenized as `clinner finetune` and `train encoder`
 * do (tokenize.h: cl_train_data); the tokenizer, label set and input format
 * are recorded in the model (cl_crf_model_set_train_meta) so `clinner tag`
 * uses the same tokenizer by default.  Progress (iteration, loss, dev F1,
 * time) goes to stderr.
 */
#include <stdio.h>
#include <string.h>

#include "clinner/tokenize.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/crf.h"
#include "clinner/progress.h"
#include "clinner/util.h"

CLI_NAME_PARSER(parse_labels, cl_crf_labels_from_name, cl_crf_labels)

int cmd_train(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "encoder"))
        return cmd_train_encoder(argc, argv);
    cl_crf_train_params p = cl_crf_train_default_params();
    char vars[256];
    snprintf(vars, sizeof vars,
             "c1=%g\nc2=%g\nmax_iter=%d\nthreads=%d\nseed=%llu\nmin_count=%d\neval_every=%d\n"
             "patience=%d\ndoc_words=%d",
             p.c1, p.c2, p.max_iter, p.threads, (unsigned long long)p.seed, p.min_count,
             p.eval_every, p.patience, p.doc_words);
    bool help = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"));
    if (!help && (argc < 2 || strcmp(argv[1], "crf") != 0))
        return cli_fail("train", 2, "the trainers are 'crf' and 'encoder' (clinner train crf "
                                    "--help, clinner train encoder --help)");
    const char *train_path = NULL, *dev_path = NULL, *format = NULL, *tok_name = "clinical";
    const char *out = NULL, *dense_path = NULL, *dense_scale = NULL;
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    const cli_opt opts[] = {
        CLI_NOFLAG("--no-o-bias", &p.tune_o_bias),
        CLI_NOFLAG("--no-gazetteer", &p.gazetteer),
        CLI_REQUIRED("--train", &train_path),
        CLI_STRING("--dev", &dev_path),
        CLI_STRING("--format", &format),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_PARSER("--labels", &p.labels, parse_labels),
        CLI_OUTPUT_REQUIRED(&out),
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
    cli_args a = {.cmd = "train", .page = "train-crf", .vars = vars, .opts = opts,
                  .nopts = CLI_NOPTS(opts)};
    int done = cli_parse(&a, argc, argv, help ? 1 : 2);
    if (done >= 0)
        return done;
    if (dense_scale && !dense_path)
        return cli_fail("train", 2, "--dense-scale needs --dense");
    cl_error err = CL_ERROR_INIT;
    cl_train_data data;
    if ((dense_scale && cl_crf_dense_scale_from_name(dense_scale, &p.dense_scale, &err) != CL_OK) ||
        cl_train_data_init(&data, format, tok_name, NULL, 0, &err) != CL_OK)
        return cli_fail("train", 2, err.msg);
    data.prepare.types = cl_crf_labels_types(p.labels, &data.prepare.ntypes);
    p.vocab_tokenizer = data.prepare.tokenizer;
    cl_dense_table *dense = NULL;
    cl_crf_model *m = NULL;
    int rc = 1;
    double t0 = cl_now();
    if (cl_train_data_load(&data, train_path, dev_path, &err) != CL_OK ||
        (dense_path && cl_dense_read(dense_path, &dense, &err) != CL_OK))
        goto done;
    fprintf(stderr,
            "clinner train: %d train documents (%lld sentences, %lld tokens), %d dev "
            "documents, tokenizer %s, labels %s, read in %.1f s\n",
            data.train->ndocs, (long long)cl_corpus_nsentences(data.train),
            (long long)cl_corpus_ntokens(data.train), data.dev ? data.dev->ndocs : 0, tok_name,
            cl_crf_labels_name(p.labels), cl_now() - t0);
    p.dense = dense;
    cl_progress *bar; /* NULL (no bar) on no memory */
    cl_progress_new(stderr, "training", "iterations", p.max_iter, pmode, &bar, NULL);
    p.progress = cl_crf_progress_report;
    p.progress_ud = bar;
    cl_status st = cl_crf_train(data.train, data.dev, &p, &m, &err);
    cl_progress_free(bar);
    if (st != CL_OK ||
        cl_crf_model_set_train_meta(m, &p, data.prepare.tokenizer, data.format, &err) != CL_OK ||
        cl_crf_model_save(m, out, &err) != CL_OK)
        goto done;
    char summary[8192];
    cl_crf_model_summary(m, out, cl_now() - t0, summary, sizeof summary);
    fprintf(stderr, "clinner train: %s\n", summary);
    rc = 0;
done:
    if (rc)
        cli_fail("train", rc, err.msg);
    cl_crf_model_free(m);
    cl_dense_free(dense);
    cl_train_data_free(&data);
    return rc;
}
