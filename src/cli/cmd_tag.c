/*
 * cmd_tag.c - `clinner tag`: label documents with a tagging backend.
 *
 * Input and output go through cli_io.c (the same formats and tokenizers as
 * `clinner convert`); the backend is picked from a table of names, each
 * entry knowing how to build a cl_tagger (tagger.h) from the options.  A
 * new backend is one function and one row in `backends`.  Backends whose
 * tag() may run concurrently on different documents (the CRF) are marked
 * parallel and get --threads worker threads; output order is the input
 * order either way.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_io.h"
#include "cli/commands.h"
#include "clinner/crf.h"
#include "clinner/progress.h"
#include "clinner/tagger.h"
#include "clinner/util.h"

/* Options and what the chosen backend set up. */
typedef struct tag_ctx {
    const char *model_path;
    const char *dense_path;
    cl_tagger tagger;
    const char *default_tokenizer; /* the backend's preference, or NULL */
    void *res;                     /* backend resources, freed after the tagger */
    void (*res_free)(void *res);
} tag_ctx;

/* ---- crf ---- */

typedef struct crf_res {
    cl_crf_model *model;
    cl_dense_table *dense;
} crf_res;

static void crf_res_free(void *p)
{
    crf_res *r = p;
    if (!r)
        return;
    cl_crf_model_free(r->model);
    cl_dense_free(r->dense);
    free(r);
}

static cl_status open_crf(tag_ctx *ctx, cl_error *err)
{
    if (!ctx->model_path)
        return cl_error_set(err, CL_ERR_ARG, "--backend crf needs --model MODEL");
    crf_res *r = calloc(1, sizeof *r);
    if (!r)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    ctx->res = r;
    ctx->res_free = crf_res_free;
    cl_status st = cl_crf_model_load(ctx->model_path, &r->model, err);
    if (st == CL_OK && ctx->dense_path)
        st = cl_dense_read(ctx->dense_path, &r->dense, err);
    if (st == CL_OK)
        st = cl_crf_tagger_new_dense(r->model, r->dense, &ctx->tagger, err);
    if (st == CL_OK)
        ctx->default_tokenizer = cl_crf_model_get_meta(r->model, "tokenizer");
    return st;
}

static const struct backend {
    const char *name;
    cl_status (*open)(tag_ctx *ctx, cl_error *err); /* NULL: not in this build */
    bool parallel;                                  /* tag() is reentrant */
    const char *help;
} backends[] = {
    {"crf", open_crf, true, "a CRF trained with `clinner train crf` (--model MODEL)"},
    {"llama", NULL, false, "a local GGUF model through llama.cpp"},
    {"openai", NULL, false, "an OpenAI-compatible chat-completions server"},
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: clinner tag --backend NAME [OPTIONS] [INPUT|-] [-o OUT]\n"
            "\n"
            "Label every token of INPUT and write the labels (and the entities they form).\n"
            "\n"
            "  --backend NAME      tagging backend:\n");
    for (size_t i = 0; i < NBACKENDS; i++)
        fprintf(fp, "                        %-7s %s%s\n", backends[i].name, backends[i].help,
                backends[i].open ? "" : " (not available in this build)");
    fprintf(fp,
            "  --model PATH        model file (crf)\n"
            "  --dense FILE        dense features of INPUT, for a CRF trained with --dense\n"
            "  --from FORMAT       brat, paper-csv, conll, jsonl or text (default: brat for a\n"
            "                      directory, else from the extension; '-' is text)\n"
            "  --to FORMAT         jsonl (default: entities with offsets, types and\n"
            "                      confidences, plus per-token labels), brat, conll,\n"
            "                      paper-csv or paper-lines\n"
            "  --tokenizer NAME    paper or clinical (default: the one the model was trained\n"
            "                      with, else clinical)\n"
            "  --threads N         documents tagged in parallel (crf; default 1)\n"
            "  --progress MODE     auto, tty, lines or off (default auto)\n"
            "  -o, --output OUT    output file (default stdout; a directory for brat)\n"
            "  -h, --help          show this help\n"
            "\n"
            "the paper's protocol on the test split:\n"
            "  clinner tag --backend crf --model raredis-paper.crf --from brat --to paper-csv \\\n"
            "      --tokenizer paper raredis/test -o pred.csv\n");
}

/* ---- the tagging loop ---- */

typedef struct work {
    tag_ctx *ctx;
    cl_corpus *c;
    int32_t next;
    int64_t done_docs, done_tokens;
    cl_progress *bar;
    pthread_mutex_t mu;
    cl_status st;
    cl_error err;
} work;

static void *worker(void *arg)
{
    work *w = arg;
    cl_error err;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        int32_t i = w->st == CL_OK && w->next < w->c->ndocs ? w->next++ : -1;
        pthread_mutex_unlock(&w->mu);
        if (i < 0)
            break;
        cl_doc *d = w->c->docs[i];
        cl_status st = cl_doc_reset_tags(d, &err);
        if (st == CL_OK)
            st = cl_tagger_tag_doc(&w->ctx->tagger, d, &err);
        pthread_mutex_lock(&w->mu);
        if (st != CL_OK && w->st == CL_OK) {
            w->st = st;
            w->err = err;
            cl_error_prefix(&w->err, "%s: ", d->id);
        }
        w->done_docs++;
        w->done_tokens += d->ntokens;
        cl_progress_update2(w->bar, w->done_docs, w->done_tokens, "tokens");
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static cl_status tag_corpus(tag_ctx *ctx, cl_corpus *c, int threads, cl_progress *bar,
                            cl_error *err)
{
    work w = {.ctx = ctx, .c = c, .bar = bar, .st = CL_OK};
    pthread_mutex_init(&w.mu, NULL);
    pthread_t tid[64];
    int started = 0;
    for (int k = 1; k < threads; k++) {
        if (pthread_create(&tid[started], NULL, worker, &w) != 0)
            break;
        started++;
    }
    worker(&w);
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    pthread_mutex_destroy(&w.mu);
    if (w.st != CL_OK && err)
        *err = w.err;
    return w.st;
}

int cmd_tag(int argc, char **argv)
{
    const char *backend = NULL, *from = NULL, *to = "jsonl", *tok_name = NULL, *out = "-";
    const char *input = NULL, *progress = "auto";
    long threads = 1;
    tag_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    cl_error err;
    cl_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--backend")) {
            slot = &backend;
        } else if (!strcmp(a, "--model")) {
            slot = &ctx.model_path;
        } else if (!strcmp(a, "--dense")) {
            slot = &ctx.dense_path;
        } else if (!strcmp(a, "--from")) {
            slot = &from;
        } else if (!strcmp(a, "--to")) {
            slot = &to;
        } else if (!strcmp(a, "--tokenizer")) {
            slot = &tok_name;
        } else if (!strcmp(a, "--progress")) {
            slot = &progress;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            slot = &out;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, v, 1, 64, &threads, &err) != CL_OK) {
                fprintf(stderr, "clinner tag: %s\n", err.msg);
                return 2;
            }
            i++;
            continue;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "clinner tag: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!input) {
            input = a;
            continue;
        } else {
            fprintf(stderr, "clinner tag: more than one INPUT ('%s', '%s')\n", input, a);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "clinner tag: %s needs a value\n", a);
            return 2;
        }
        *slot = v;
        i++;
    }
    if (!backend) {
        fprintf(stderr, "clinner tag: --backend is required (see --help)\n");
        return 2;
    }
    if (!input)
        input = "-";
    const struct backend *be = NULL;
    for (size_t i = 0; i < NBACKENDS; i++)
        if (!strcmp(backend, backends[i].name))
            be = &backends[i];
    if (!be) {
        fprintf(stderr, "clinner tag: unknown backend '%s' (valid:", backend);
        for (size_t i = 0; i < NBACKENDS; i++)
            fprintf(stderr, " %s", backends[i].name);
        fprintf(stderr, ")\n");
        return 2;
    }
    if (!be->open) {
        fprintf(stderr, "clinner tag: backend '%s' is not available in this build\n",
                be->name);
        return 2;
    }
    cl_format from_fmt = cli_guess_format(input), to_fmt;
    if ((from && cl_format_from_name(from, &from_fmt, &err) != CL_OK) ||
        cl_format_from_name(to, &to_fmt, &err) != CL_OK) {
        fprintf(stderr, "clinner tag: %s\n", err.msg);
        return 2;
    }
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    if (!strcmp(progress, "tty"))
        pmode = CL_PROGRESS_TTY;
    else if (!strcmp(progress, "lines"))
        pmode = CL_PROGRESS_LINES;
    else if (!strcmp(progress, "off"))
        pmode = CL_PROGRESS_OFF;
    else if (strcmp(progress, "auto") != 0) {
        fprintf(stderr, "clinner tag: --progress: expected auto, tty, lines or off\n");
        return 2;
    }

    int rc = 1;
    cl_corpus *c = NULL;
    cl_progress *bar = NULL;
    if (be->open(&ctx, &err) != CL_OK)
        goto done;
    cl_tokenizer_kind tok = CL_TOKENIZER_CLINICAL;
    if (!tok_name)
        tok_name = ctx.default_tokenizer ? ctx.default_tokenizer : "clinical";
    if (cl_tokenizer_from_name(tok_name, &tok, &err) != CL_OK)
        goto done;
    cli_input in = {.path = input, .format = from_fmt, .tokenizer = tok};
    if (cli_read_corpus(&in, &c, &err) != CL_OK)
        goto done;
    bar = cl_progress_new(stderr, "tagging", "docs", c->ndocs, pmode);
    if (tag_corpus(&ctx, c, be->parallel ? (int)threads : 1, bar, &err) != CL_OK)
        goto done;
    cl_progress_finish(bar);
    if (cli_write_corpus(c, to_fmt, out, true, &err) != CL_OK)
        goto done;
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "clinner tag: %s\n", err.msg);
    cl_progress_free(bar);
    cl_corpus_free(c);
    cl_tagger_free(&ctx.tagger);
    if (ctx.res_free)
        ctx.res_free(ctx.res);
    return rc;
}
