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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/tokenize.h"
#include "cli/cli_opts.h"
#include "cli/help.h"
#include "cli/commands.h"
#include "clinner/progress.h"
#include "clinner/util.h"

#if CL_HAVE_LLAMA
#include "clinner/encoder.h"

static void usage(FILE *fp)
{
    cl_encoder_train_params d = cl_encoder_train_default_params();
    char vars[256];
    snprintf(vars, sizeof vars,
             "epochs=%d\nbatch=%d\nlr=%g\nwarmup=%g\nweight_decay=%g\nmax_pieces=%d\nthreads=%d\n"
             "seed=%llu\nsave_every=%d",
             d.epochs, d.batch, d.lr, d.warmup, d.weight_decay, d.max_pieces, d.threads,
             (unsigned long long)d.seed, d.save_every);
    cli_help(fp, "train-encoder", vars);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    if (stop_signal) /* second signal: quit at once */
        _exit(128 + sig);
    stop_signal = sig;
}

static bool stop_requested(void *ctx)
{
    (void)ctx;
    return stop_signal != 0;
}

typedef struct ui {
    cl_progress *bar;
} ui;

static void on_progress(void *ctx, const cl_enc_progress *p)
{
    ui *u = ctx;
    if (!p->train && p->dev_f1 < 0) { /* no --dev */
        cl_progress_message(u->bar, "epoch %d/%d done: loss %.4f", p->epoch, p->epochs, p->loss);
        return;
    }
    if (!p->train) {
        cl_progress_message(u->bar, "epoch %d/%d done: loss %.4f, dev F1 %.4f (best %.4f at epoch %d)",
                            p->epoch, p->epochs, p->loss, p->dev_f1, p->best_dev_f1,
                            p->best_epoch);
        return;
    }
    cl_progress_update(u->bar, p->step);
    if (p->step % 50 == 0 || p->step == 1)
        cl_progress_message(u->bar,
                            "step %lld/%lld  epoch %d  loss %.4f  lr %.2e  %.0f pieces/s  ETA %.0f "
                            "min",
                            (long long)p->step, (long long)p->nsteps, p->epoch, p->loss, p->lr,
                            p->tokens_per_s, p->eta_s / 60.0);
}

static void on_log(void *ctx, const char *msg)
{
    ui *u = ctx;
    cl_progress_message(u->bar, "%s", msg);
}

/* --convert MODEL [--dev PATH]: new weight types, O's offset tuned on dev. */
static int convert_model(const char *model, const char *out, const char *dev_path,
                         const char *format, const char *tok_name,
                         const cl_encoder_train_params *p, const char *out_type)
{
    cl_error err;
    cl_error_clear(&err);
    if (!out) {
        fprintf(stderr, "clinner train encoder: --convert needs -o (see --help)\n");
        return 2;
    }
    if (!dev_path) {
        if (cl_encoder_convert(model, out, p->out_type, &err) != CL_OK) {
            fprintf(stderr, "clinner train encoder: %s\n", err.msg);
            return 1;
        }
        fprintf(stderr, "clinner train encoder: wrote %s (%s)\n", out, out_type ? out_type : "f32");
        return 0;
    }
    cl_tokenizer_kind tok;
    cl_format fmt = cl_format_guess(dev_path);
    cl_corpus *dev = NULL;
    int rc = 1;
    if (cl_tokenizer_from_name(tok_name, &tok, &err) == CL_OK &&
        (!format || cl_format_from_name(format, &fmt, &err) == CL_OK)) {
        cl_prepare_params in = cl_prepare_default_params();
        in.tokenizer = tok;
        in.types = cl_paper_types;
        in.ntypes = CL_NUM_PAPER_TYPES;
        double bias, before, after;
        if (cl_corpus_load(dev_path, fmt, &in, &dev, &err) == CL_OK &&
            cl_encoder_tune_o_bias(model, dev, p->threads, out, p->out_type, &bias, &before,
                                   &after, &err) == CL_OK) {
            fprintf(stderr, "clinner train encoder: wrote %s: O offset %.2f (dev F1 %.4f -> %.4f)\n",
                    out, bias, before, after);
            rc = 0;
        }
    }
    if (rc)
        fprintf(stderr, "clinner train encoder: %s\n", err.msg);
    cl_corpus_free(dev);
    return rc;
}

/* argv: cmd_train's ("train", "encoder", ...), main's argv + 1. */
int cmd_train_encoder(int argc, char **argv)
{
    cl_encoder_train_params p = cl_encoder_train_default_params();
    const char *train_path = NULL, *dev_path = NULL, *format = NULL, *tok_name = "clinical";
    const char *base = NULL, *out = NULL, *out_type = NULL, *convert = NULL;
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    const cli_opt opts[] = {
        CLI_FLAG("--resume", &p.resume),
        CLI_FLAG("--no-o-bias", &p.no_o_bias),
        CLI_STRING("--out-type", &out_type),
        CLI_STRING("--convert", &convert),
        CLI_STRING("--train", &train_path),
        CLI_STRING("--dev", &dev_path),
        CLI_STRING("--base", &base),
        CLI_STRING("--format", &format),
        CLI_STRING("--tokenizer", &tok_name),
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
    int done = cli_parse_command("train encoder", usage, opts, CLI_NOPTS(opts), NULL, argc, argv,
                                 2);
    if (done >= 0)
        return done;
    cl_error err;
    cl_error_clear(&err);
    if (out_type && cl_enc_wtype_from_name(out_type, &p.out_type, &err) != CL_OK) {
        fprintf(stderr, "clinner train encoder: --out-type: %s\n", err.msg);
        return 2;
    }
    if (convert)
        return convert_model(convert, out, dev_path, format, tok_name, &p, out_type);
    if (!train_path || !out) {
        fprintf(stderr, "clinner train encoder: --train and -o are required (see --help)\n");
        return 2;
    }
    cl_tokenizer_kind tok;
    cl_format fmt = cl_format_guess(train_path);
    if (cl_tokenizer_from_name(tok_name, &tok, &err) != CL_OK ||
        (format && cl_format_from_name(format, &fmt, &err) != CL_OK)) {
        fprintf(stderr, "clinner train encoder: %s\n", err.msg);
        return 2;
    }
    char *base_path = base ? strdup(base) : cl_encoder_default_base();
    cl_prepare_params in = cl_prepare_default_params();
    in.tokenizer = tok;
    in.types = cl_paper_types;
    in.ntypes = CL_NUM_PAPER_TYPES;
    cl_corpus *train = NULL, *dev = NULL;
    int rc = 1;
    if (cl_corpus_load(train_path, fmt, &in, &train, &err) != CL_OK ||
        (dev_path && cl_corpus_load(dev_path, fmt, &in, &dev, &err) != CL_OK))
        goto done;
    fprintf(stderr,
            "clinner train encoder: %d train documents (%lld sentences), %d dev documents, base "
            "%s, tokenizer %s\n",
            train->ndocs, (long long)cl_corpus_nsentences(train), dev ? dev->ndocs : 0,
            base_path, tok_name);
    ui u = {cl_progress_new(stderr, "training", "steps", 0, pmode)};
    p.base = base_path;
    p.out_path = out;
    p.tokenizer = cl_tokenizer_name(tok);
    p.progress = on_progress;
    p.progress_ctx = &u;
    p.log = on_log;
    p.log_ctx = &u;
    p.stop = stop_requested;
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cl_encoder_train_result r;
    cl_status st = cl_encoder_train(&p, train, dev, &r, &err);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cl_progress_free(u.bar);
    if (st != CL_OK)
        goto done;
    if (r.stopped) {
        fprintf(stderr, "clinner train encoder: stopped at step %lld; checkpoint %s.ckpt "
                        "(continue with --resume)\n",
                (long long)r.steps, out);
        rc = 128 + (int)stop_signal;
        goto done;
    }
    if (r.best_dev_f1 < 0)
        fprintf(stderr, "clinner train encoder: wrote %s (%d epoch%s, no dev split), %lld steps, %.1f s\n",
                out, r.epochs_done, r.epochs_done == 1 ? "" : "s", (long long)r.steps, r.seconds);
    else
        fprintf(stderr,
            "clinner train encoder: wrote %s (epoch %d of %d, best dev F1 %.4f; O offset %.2f: "
            "%.4f), %lld steps, %lld pieces an epoch, %.1f s, memory estimate %.0f MB\n",
            out, r.best_epoch, r.epochs_done, r.best_dev_f1, r.o_bias, r.tuned_dev_f1,
            (long long)r.steps, (long long)r.train_pieces, r.seconds,
            r.mem_estimate / 1048576.0);
    rc = 0;
done:
    if (rc == 1)
        fprintf(stderr, "clinner train encoder: %s\n", err.msg);
    free(base_path);
    cl_corpus_free(train);
    cl_corpus_free(dev);
    return rc;
}
#else
int cmd_train_encoder(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "clinner train encoder: this build has no llama.cpp/ggml (make setup, then "
                    "rebuild)\n");
    return 2;
}
#endif
