/*
 * cmd_train_encoder.c - `clinner train encoder`: fine-tune a BERT-family
 * encoder (all-MiniLM-L6-v2 by default, scripts/fetch-encoder.sh) for token
 * classification on a training split, keep the epoch with the best dev F1,
 * and write one model file that `clinner tag --backend encoder` reads.
 *
 * Documents are read and tokenized as `clinner train crf` does; the logic is
 * the library's (encoder.h); this file parses options, prints progress
 * (step, loss, learning rate, pieces/s, ETA) and turns SIGINT/SIGTERM into a
 * checkpoint and a clean stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/tokenize.h"
#include "cli/cli_opts.h"
#include "cli/cli_stop.h"
#include "cli/commands.h"
#include "clinner/progress.h"
#include "clinner/util.h"

#if CL_HAVE_LLAMA
#include "clinner/encoder.h"

/* --convert MODEL [--dev PATH]: new weight types, O's offset tuned on dev. */
static int convert_model(const char *model, const char *out, const char *dev_path,
                         const char *format, const char *tok_name,
                         const cl_encoder_train_params *p, const char *out_type, cl_error *err)
{
    if (!out)
        return cli_fail("train encoder", 2, "--convert needs -o (see --help)");
    cl_train_data data = {.train = NULL};
    double bias, before, after;
    int rc = 1;
    if (!dev_path) {
        if (cl_encoder_convert(model, out, p->out_type, err) == CL_OK) {
            fprintf(stderr, "clinner train encoder: wrote %s (%s)\n", out,
                    out_type ? out_type : "f32");
            rc = 0;
        }
    } else if (cl_train_data_init(&data, format, tok_name, cl_paper_types, CL_NUM_PAPER_TYPES,
                                  err) == CL_OK &&
               cl_train_data_load(&data, NULL, dev_path, err) == CL_OK &&
               cl_encoder_tune_o_bias(model, data.dev, p->threads, out, p->out_type, &bias,
                                      &before, &after, err) == CL_OK) {
        fprintf(stderr, "clinner train encoder: wrote %s: O offset %.2f (dev F1 %.4f -> %.4f)\n",
                out, bias, before, after);
        rc = 0;
    }
    if (rc)
        cli_fail("train encoder", rc, err->msg);
    cl_train_data_free(&data);
    return rc;
}

/* --average MODEL...: one model whose weights are the mean of theirs. */
static int average_models(const char *const *models, int n, const char *out,
                          const cl_encoder_train_params *p, const char *out_type, cl_error *err)
{
    if (!out || n < 2)
        return cli_fail("train encoder", 2,
                        out ? "--average needs two or more MODEL files (see --help)"
                            : "--average needs -o (see --help)");
    if (cl_encoder_average(models, n, out, p->out_type, err) != CL_OK)
        return cli_fail("train encoder", 1, err->msg);
    fprintf(stderr, "clinner train encoder: wrote %s (%s), the mean of %d models\n", out,
            out_type ? out_type : "f32", n);
    return 0;
}

/* argv: cmd_train's ("train", "encoder", ...), main's argv + 1. */
int cmd_train_encoder(int argc, char **argv)
{
    cl_encoder_train_params p = cl_encoder_train_default_params();
    char vars[256];
    snprintf(vars, sizeof vars,
             "epochs=%d\nbatch=%d\nlr=%g\nwarmup=%g\nweight_decay=%g\nmax_pieces=%d\nthreads=%d\n"
             "seed=%llu\nsave_every=%d",
             p.epochs, p.batch, p.lr, p.warmup, p.weight_decay, p.max_pieces, p.threads,
             (unsigned long long)p.seed, p.save_every);
    const char *train_path = NULL, *dev_path = NULL, *format = NULL, *tok_name = "clinical";
    const char *base = NULL, *out = NULL, *out_type = NULL, *convert = NULL;
    const char *models[16];
    bool average = false;
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    const cli_opt opts[] = {
        CLI_FLAG("--resume", &p.resume),
        CLI_FLAG("--no-o-bias", &p.no_o_bias),
        CLI_FLAG("--average", &average),
        CLI_FLAG("--pack", &p.pack),
        CLI_STRING("--out-type", &out_type),
        CLI_STRING("--convert", &convert),
        CLI_STRING("--train", &train_path),
        CLI_STRING("--dev", &dev_path),
        CLI_STRING("--base", &base),
        CLI_STRING("--format", &format),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_STRING("--vocab", &p.vocab_path),
        CLI_STRING2("--output", "-o", &out),
        CLI_PARSER("--progress", &pmode, cli_opt_progress),
        CLI_NUMBER("--lr", &p.lr, 0.0),
        CLI_NUMBER("--warmup", &p.warmup, 0.0),
        CLI_NUMBER("--weight-decay", &p.weight_decay, 0.0),
        CLI_INTEGER("--epochs", CLI_OPT_INT, &p.epochs, 1, 1000),
        CLI_INTEGER("--batch", CLI_OPT_INT, &p.batch, 1, 4096),
        CLI_INTEGER("--max-pieces", CLI_OPT_INT, &p.max_pieces, 8, 512),
        CLI_INTEGER("--threads", CLI_OPT_INT, &p.threads, 1, 256),
        CLI_INTEGER("--seed", CLI_OPT_UINT64, &p.seed, 0, 2147483647L),
        CLI_INTEGER("--save-every", CLI_OPT_INT, &p.save_every, 0, 10000000),
        CLI_INTEGER("--max-sentences", CLI_OPT_INT, &p.max_sentences, 0, 100000000),
    };
    cli_args a = {.cmd = "train encoder", .page = "train-encoder", .vars = vars, .opts = opts,
                  .nopts = CLI_NOPTS(opts), .positional = models,
                  .max_positional = (int)(sizeof models / sizeof *models)};
    int done = cli_parse(&a, argc, argv, 2);
    if (done >= 0)
        return done;
    cl_error err = CL_ERROR_INIT;
    if (out_type && cl_enc_wtype_from_name(out_type, &p.out_type, &err) != CL_OK)
        return cli_fail("train encoder", 2, err.msg);
    if (average)
        return average_models(models, a.npositional, out, &p, out_type, &err);
    if (a.npositional > 0)
        return cli_fail("train encoder", 2, "MODEL files are read only with --average (see --help)");
    if (convert)
        return convert_model(convert, out, dev_path, format, tok_name, &p, out_type, &err);
    if (!train_path || !out)
        return cli_fail("train encoder", 2, "--train and -o are required (see --help)");
    cl_train_data data;
    if (cl_train_data_init(&data, format, tok_name, cl_paper_types, CL_NUM_PAPER_TYPES, &err) !=
        CL_OK)
        return cli_fail("train encoder", 2, err.msg);
    char *base_path = base ? strdup(base) : cl_encoder_default_base();
    int rc = 1;
    if (cl_train_data_load(&data, train_path, dev_path, &err) != CL_OK)
        goto done;
    fprintf(stderr,
            "clinner train encoder: %d train documents (%lld sentences), %d dev documents, base "
            "%s, tokenizer %s\n",
            data.train->ndocs, (long long)cl_corpus_nsentences(data.train),
            data.dev ? data.dev->ndocs : 0, base_path, tok_name);
    cl_progress *bar; /* NULL (no bar) on no memory */
    cl_progress_new(stderr, "training", "steps", 0, pmode, &bar, NULL);
    p.base = base_path;
    p.out_path = out;
    p.tokenizer = cl_tokenizer_name(data.prepare.tokenizer);
    cli_logger log = {"train encoder", bar};
    p.progress = cl_enc_progress_report;
    p.progress_ctx = bar;
    p.log = cli_log;
    p.log_ctx = &log;
    p.stop = cli_stop_requested;
    cli_stop_catch(NULL);
    cl_encoder_train_result r;
    cl_status st = cl_encoder_train(&p, data.train, data.dev, &r, &err);
    cli_stop_release();
    cl_progress_free(bar);
    if (st != CL_OK)
        goto done;
    char summary[8192];
    cl_encoder_train_summary(&r, out, summary, sizeof summary);
    fprintf(stderr, "clinner train encoder: %s%s\n", summary,
            r.stopped ? " (continue with --resume)" : "");
    rc = r.stopped ? 128 + cli_stop_signal() : 0;
done:
    if (rc == 1)
        cli_fail("train encoder", 1, err.msg);
    free(base_path);
    cl_train_data_free(&data);
    return rc;
}
#endif
