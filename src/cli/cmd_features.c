/*
 * cmd_features.c - `clinner features`: export an LLM's hidden states as one
 * vector per word token (features.h) in the CRF's dense feature format, for
 * `clinner train crf --dense FILE` and `clinner tag --dense FILE`.
 *
 * Documents are read and tokenized as `clinner train crf` reads them
 * (cli_io.c), so token i of a document here is token i there: use the same
 * --from and --tokenizer.  Without llama.cpp at build time the command says
 * so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/tokenize.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/progress.h"
#include "clinner/util.h"

#if CL_HAVE_LLAMA
#include "clinner/encoder.h"
#include "clinner/features.h"

static void on_progress(void *ctx, int32_t done, int32_t total, int64_t model_tokens)
{
    cl_progress_set_total(ctx, total);
    cl_progress_update2(ctx, done, model_tokens, "model tokens");
}

/* --layer N or "last" */
static cl_status parse_layer(const char *name, const char *value, void *dst, cl_error *err)
{
    long n;
    if (!strcmp(value, "last")) {
        *(int32_t *)dst = CL_FEATURES_LAST_LAYER;
        return CL_OK;
    }
    if (cli_parse_int(name, value, 0, 100000, &n, err) != CL_OK)
        return cl_error_set(err, CL_ERR_ARG, "%s: expected 'last' or a block number, got '%s'",
                            name, value);
    *(int32_t *)dst = (int32_t)n;
    return CL_OK;
}

int cmd_features(int argc, char **argv)
{
    cl_features_params p = cl_features_default_params();
    char vars[64];
    snprintf(vars, sizeof vars, "ctx=%d", p.n_ctx);
    const char *input = NULL, *from = NULL, *tok_name = "clinical", *out = NULL, *backend = "llama";
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    const cli_opt opts[] = {
        CLI_FLAG("--no-cache", &p.no_cache),
        CLI_FLAG("--verbose", &p.verbose),
        CLI_REQUIRED("--model", &p.model_path),
        CLI_STRING("--backend", &backend),
        CLI_STRING2("--from", "--format", &from),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_OUTPUT_REQUIRED(&out),
        CLI_STRING("--cache-dir", &p.cache_dir),
        CLI_PARSER("--layer", &p.layer, parse_layer),
        CLI_INTEGER("--ctx", CLI_OPT_INT32, &p.n_ctx, 16, 65536),
        CLI_INTEGER("--threads", CLI_OPT_INT32, &p.threads, 1, 256),
        CLI_PARSER("--progress", &pmode, cli_opt_progress),
    };
    cli_args a = {.cmd = "features", .page = "features", .vars = vars, .opts = opts,
                  .nopts = CLI_NOPTS(opts), .positional = &input, .max_positional = 1,
                  .required_positional = "INPUT"};
    int done = cli_parse(&a, argc, argv, 1);
    if (done >= 0)
        return done;
    cl_error err = CL_ERROR_INIT;
    bool enc = !strcmp(backend, "encoder");
    if (!enc && strcmp(backend, "llama"))
        return cli_fail("features", 2, "--backend: expected llama or encoder");
    cl_format fmt = cl_format_guess(input);
    cl_prepare_params in = cl_prepare_default_params();
    if (cl_tokenizer_from_name(tok_name, &in.tokenizer, &err) != CL_OK ||
        (from && cl_format_from_name(from, &fmt, &err) != CL_OK))
        return cli_fail("features", 2, err.msg);
    cl_progress *bar; /* NULL (no bar) on no memory */
    cl_progress_new(stderr, "features", "documents", 0, pmode, &bar, NULL);
    cli_logger log = {"features", bar};
    p.log = cli_log;
    p.log_ctx = &log;
    p.progress_ctx = bar;
    p.progress = on_progress;
    int rc = 1;
    cl_corpus *c = NULL;
    cl_features_result r = {0};
    if (cl_corpus_load(input, fmt, &in, &c, &err) != CL_OK ||
        (enc ? cl_encoder_dense_export(p.model_path, c, p.threads, out, on_progress, bar, &r.dim,
                                       &r.tokens, &r.seconds, &err)
             : cl_features_export(&p, c, out, &r, &err)) != CL_OK) {
        cl_progress_message(bar, "clinner features: %s", err.msg);
    } else {
        cl_progress_finish(bar);
        r.documents = c->ndocs;
        fprintf(stderr,
                "clinner features: wrote %s: %d documents, %lld tokens x %d dims (%lld model "
                "tokens, %.1f s%s)\n",
                out, r.documents, (long long)r.tokens, r.dim, (long long)r.model_tokens,
                r.seconds, r.from_cache ? ", from the cache" : "");
        rc = 0;
    }
    cl_corpus_free(c);
    cl_progress_free(bar);
    return rc;
}

#endif
