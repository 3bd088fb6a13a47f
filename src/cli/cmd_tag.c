/*
 * cmd_tag.c - `clinner tag`: label documents with a tagging backend.
 *
 * Input and output go through cli_io.c (the same formats and tokenizers as
 * `clinner convert`); the backend is picked from a table of names, each
 * entry knowing how to build a cl_tagger (tagger.h) from the options.  A
 * new backend is one function and one row in `backends`.  Backends whose
 * tag() may run concurrently on different documents (the CRF) are marked
 * parallel and get --threads worker threads; output order is the input
 * order either way.  The run itself (sentence batches, output document by
 * document, checkpoint and --resume, progress, summary) is cl_run_tag
 * (run.h); the LLM backends share their options through tag_llm.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_io.h"
#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "cli/tag_llm.h"
#include "clinner/crf.h"
#ifdef CL_HAVE_LLAMA
#include "clinner/llm.h"
#endif
#include "clinner/openai.h"
#include "clinner/progress.h"
#include "clinner/run.h"
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
    const char *tok_name;          /* --tokenizer, or NULL */
    llm_opts llm;                  /* options of the LLM backends */
    llm_prompt prompt;             /* their prompt set-up (llm_prompt_open) */
    int32_t batch;                 /* sentences per tag() call (default 8) */
    cl_progress *bar;              /* set once the input is read */
    long threads;                  /* --threads when given, else 0 */
    long ctx_tokens;               /* --ctx (llama; 0: default) */
    bool verbose;                  /* --verbose (llama's own log) */
    const char *embed_model;       /* --embed-model (llama rag retrieval) */
    const char *chat_template;     /* --chat-template (llama; NULL: the model's) */
} tag_ctx;

/* Backends report retries and skipped sentences here. */
static void log_line(void *arg, const char *msg)
{
    tag_ctx *ctx = arg;
    if (ctx->bar)
        cl_progress_message(ctx->bar, "clinner tag: %s", msg);
    else
        fprintf(stderr, "clinner tag: %s\n", msg);
}

/* Streaming input (stdout output): each document prepared as it is read. */
static cl_status prepare_input(void *in, cl_doc *doc, cl_error *err)
{
    return cli_prepare_doc(doc, in, err);
}

/* The run's tokenizer for backends without a preference of their own. */
static cl_status llm_tokenizer(const tag_ctx *ctx, cl_tokenizer_kind *tok, cl_error *err)
{
    *tok = CL_TOKENIZER_CLINICAL;
    return ctx->tok_name ? cl_tokenizer_from_name(ctx->tok_name, tok, err) : CL_OK;
}

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

/* ---- openai ---- */

static cl_status open_openai(tag_ctx *ctx, cl_error *err)
{
    cl_tokenizer_kind tok;
    cl_status st = llm_tokenizer(ctx, &tok, err);
    if (st == CL_OK)
        st = llm_prompt_open(&ctx->llm, tok, &ctx->prompt, err);
    if (st != CL_OK)
        return st;
    cl_openai_params p = cl_openai_default_params();
    if (ctx->llm.api_base)
        p.api_base = ctx->llm.api_base;
    p.model = ctx->model_path; /* --model: the model name on the server */
    p.api_key_env = ctx->llm.api_key_env;
    p.temperature = ctx->llm.temp;
    p.seed = ctx->llm.seed;
    p.max_tokens = (int32_t)ctx->llm.max_tokens;
    p.decode = ctx->prompt.decode;
    p.timeout_s = ctx->llm.timeout;
    p.retries = (int32_t)ctx->llm.retries;
    p.parallel = ctx->llm.parallel > 0 ? (int32_t)ctx->llm.parallel : 1;
    p.log = log_line;
    p.log_ctx = ctx;
    ctx->batch = p.parallel * 2 > 8 ? p.parallel * 2 : 8;
    return cl_openai_tagger_new(&p, ctx->prompt.builder, &ctx->tagger, err);
}

/* ---- llama ---- */

#ifdef CL_HAVE_LLAMA
static cl_status make_embed_retriever(void *arg, cl_kb *kb, cl_retriever *out, cl_error *err)
{
    tag_ctx *ctx = arg;
    cl_llama_embed_params ep = cl_llama_embed_default_params();
    ep.model_path = ctx->embed_model;
    ep.n_threads = (int32_t)ctx->threads;
    ep.cache_dir = ctx->prompt.cache_dir ? ctx->prompt.cache_dir : ctx->llm.cache_dir;
    ep.verbose = ctx->verbose;
    return cl_llama_embed_retriever_new(&ep, kb, out, err);
}

static cl_status open_llama(tag_ctx *ctx, cl_error *err)
{
    cl_tokenizer_kind tok;
    if (ctx->embed_model) {
        ctx->llm.make_retriever = make_embed_retriever;
        ctx->llm.make_retriever_ctx = ctx;
    }
    cl_status st = llm_tokenizer(ctx, &tok, err);
    if (st == CL_OK)
        st = llm_prompt_open(&ctx->llm, tok, &ctx->prompt, err);
    if (st != CL_OK)
        return st;
    cl_llama_params p = cl_llama_default_params();
    p.model_path = ctx->model_path; /* NULL: the default model */
    if (ctx->ctx_tokens > 0)
        p.n_ctx = (int32_t)ctx->ctx_tokens;
    p.n_threads = (int32_t)ctx->threads;
    if (ctx->llm.seed >= 0)
        p.seed = (uint32_t)ctx->llm.seed;
    p.temperature = (float)ctx->llm.temp;
    p.decode = ctx->prompt.decode;
    if (!strcmp(ctx->llm.speculate, "on"))
        p.speculate = 1;
    else if (!strcmp(ctx->llm.speculate, "off"))
        p.speculate = 0;
    else if (strcmp(ctx->llm.speculate, "auto"))
        return cl_error_set(err, CL_ERR_ARG, "--speculate: '%s' is not auto, on or off",
                            ctx->llm.speculate);
    p.max_new_tokens = (int32_t)ctx->llm.max_tokens;
    if (ctx->llm.parallel > 0) /* 0: not given, keep the default */
        p.n_parallel = (int32_t)ctx->llm.parallel;
    p.chat_template = ctx->chat_template;
    double load;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (getloadavg(&load, 1) == 1 && cli_threads_oversubscribed(load, ncpu, p.n_threads)) {
        char note[256];
        snprintf(note, sizeof note,
                 "the CPUs are busy (load %.1f on %d): llama.cpp's threads spin while they "
                 "wait for each other, so fewer --threads (1 when all are busy) can be many "
                 "times faster",
                 load, ncpu);
        log_line(ctx, note);
    }
    p.verbose = ctx->verbose;
    p.log = log_line;
    p.log_ctx = ctx;
    ctx->batch = p.n_parallel * 4;
    return cl_llama_tagger_new(&p, ctx->prompt.builder, &ctx->tagger, err);
}
#define OPEN_LLAMA open_llama
#else
#define OPEN_LLAMA NULL
#endif

static const struct backend {
    const char *name;
    cl_status (*open)(tag_ctx *ctx, cl_error *err); /* NULL: not in this build */
    bool parallel;                                  /* tag() is reentrant */
    const char *help;
} backends[] = {
    {"crf", open_crf, true, "a CRF trained with `clinner train crf` (--model MODEL)"},
    {"llama", OPEN_LLAMA, false, "a local GGUF model through llama.cpp (default model:\n"
     "                                SmolLM2-135M-Instruct from scripts/fetch-models.sh)"},
    {"openai", open_openai, false, "an OpenAI-compatible chat-completions server"},
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

/* Options that mean nothing to a backend are refused, not ignored: a user
 * who passes --strategy to the CRF tagger has misunderstood something. */
static bool refuse_foreign_options(const char *backend, const cli_opt *opts, const bool *given,
                                   size_t nopts)
{
    static const char *const llama_only[] = {"--ctx", "--chat-template", "--speculate", NULL};
    static const char *const openai_only[] = {"--api-base", "--api-key-env", "--retries",
                                              "--timeout", NULL};
    static const char *const llm_only[] = {
        "--strategy", "--decode", "--kb",         "--train", "--shots",  "--parallel", "--max-tokens",
        "--seed",     "--rag-k",  "--temp",       "--cache-dir", "--embed-model", "--answers", NULL};
    static const char *const crf_only[] = {"--dense", NULL};
    const char *o;
    bool llama = !strcmp(backend, "llama"), openai = !strcmp(backend, "openai");
    if (strcmp(backend, "crf") != 0 && (o = cli_first_given(opts, given, nopts, crf_only))) {
        fprintf(stderr, "clinner tag: %s is for the crf backend, not %s\n", o, backend);
        return true;
    }
    if (!llama && (o = cli_first_given(opts, given, nopts, llama_only))) {
        fprintf(stderr, "clinner tag: %s is for the llama backend (the %s backend %s)\n", o,
                backend, openai ? "leaves it to the server" : "has no prompts");
        return true;
    }
    if (!openai && (o = cli_first_given(opts, given, nopts, openai_only))) {
        fprintf(stderr, "clinner tag: %s is for the openai backend, not %s\n", o, backend);
        return true;
    }
    if (!llama && !openai && (o = cli_first_given(opts, given, nopts, llm_only))) {
        fprintf(stderr, "clinner tag: %s is for the LLM backends (llama, openai), not %s\n", o,
                backend);
        return true;
    }
    return false;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: clinner tag [--backend NAME] [OPTIONS] [INPUT|-] [-o OUT]\n"
            "\n"
            "Label every token of INPUT and write the labels (and the entities they form).\n"
            "\n"
            "  --backend NAME      tagging backend (default llama):\n");
    for (size_t i = 0; i < NBACKENDS; i++)
        fprintf(fp, "                        %-7s %s%s\n", backends[i].name, backends[i].help,
                backends[i].open ? "" : " (not available in this build)");
    fprintf(fp,
            "  --model PATH        model file (crf, llama); model name (openai)\n"
            "  --dense FILE        dense features of INPUT, for a CRF trained with --dense\n"
            "  --from FORMAT       brat, paper-csv, conll, jsonl or text (default: brat for a\n"
            "                      directory, else from the extension; '-' is text)\n"
            "  --to FORMAT         jsonl (default: entities with offsets, types and\n"
            "                      confidences, plus per-token labels), brat, conll,\n"
            "                      paper-csv or paper-lines\n"
            "  --tokenizer NAME    paper or clinical (default: the one the model was trained\n"
            "                      with, else clinical)\n"
            "  --threads N         documents tagged in parallel (crf; default 1); CPU\n"
            "                      threads (llama; default: all; forced decoding gives\n"
            "                      grammar decoding's labels exactly with --threads 1;\n"
            "                      on cores busy with other work use fewer: llama.cpp's\n"
            "                      threads spin while they wait for each other)\n"
            "  --ctx N             llama: tokens a sentence may use, prompt and answer\n"
            "                      (default 4096); --parallel N: sentences decoded together\n"
            "                      (default 4)\n"
            "  --embed-model GGUF  llama, rag: rank passages by embeddings from this model\n"
            "  --chat-template T   llama: chat format to use instead of the model's own: a\n"
            "                      name llama.cpp knows (chatml, gemma, llama3, ...) or\n"
            "                      plain (### System: / ### User: / ### Assistant:, what\n"
            "                      a model without a template gets)\n"
            "  --verbose           llama: show llama.cpp's own log\n"
            "  --progress MODE     auto, tty, lines or off (default auto)\n"
            "  -o, --output OUT    output file (default stdout; a directory for brat)\n"
            "  --shard K/N         tag only shard K of N (0 <= K < N): the documents whose\n"
            "                      id's FNV-1a-64 hash mod N is K; `clinner merge` joins them\n"
            "  --on-error MODE     fail (default) or skip: a malformed input record is\n"
            "                      reported on stderr (and in --rejects FILE) and skipped\n"
            "                      (jsonl, conll, paper-csv and text input). With OUT '-'\n"
            "                      documents are read, tagged and written one at a time\n"
            "  --answers FILE      llama, openai: every sentence's raw model answer as\n"
            "                      JSONL (doc, sentence, tokens, answer, lines read,\n"
            "                      misaligned, invalid_labels), resumed with the output\n"
            "  -h, --help          show this help\n"
            "\n");
    llm_opts_usage(fp);
    fprintf(fp,
            "\n"
            "the paper's protocol on the test split:\n"
            "  clinner tag --backend crf --model raredis-paper.crf --from brat --to paper-csv \\\n"
            "      --tokenizer paper raredis/test -o pred.csv\n");
}

int cmd_tag(int argc, char **argv)
{
    const char *backend = NULL, *from = NULL, *to = "jsonl", *tok_name = NULL, *out = "-";
    const char *input = NULL, *answers = NULL, *shard = NULL, *on_error = "fail";
    const char *rejects = NULL;
    bool resume = false;
    cl_progress_mode pmode = CL_PROGRESS_AUTO;
    tag_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    llm_opts_init(&ctx.llm);
    cl_error err;
    cl_error_clear(&err);
    const cli_opt own[] = {
        CLI_STRING("--backend", &backend),
        CLI_STRING("--model", &ctx.model_path),
        CLI_STRING("--dense", &ctx.dense_path),
        CLI_STRING("--from", &from),
        CLI_STRING("--to", &to),
        CLI_STRING("--tokenizer", &tok_name),
        CLI_PARSER("--progress", &pmode, cli_opt_progress),
        CLI_STRING2("--output", "-o", &out),
        CLI_FLAG("--resume", &resume),
        CLI_STRING("--answers", &answers),
        CLI_INTEGER("--threads", CLI_OPT_LONG, &ctx.threads, 1, 64),
        CLI_INTEGER("--ctx", CLI_OPT_LONG, &ctx.ctx_tokens, 64, 1 << 20),
        CLI_FLAG("--verbose", &ctx.verbose),
        CLI_STRING("--embed-model", &ctx.embed_model),
        CLI_STRING("--chat-template", &ctx.chat_template),
        CLI_STRING("--shard", &shard),
        CLI_STRING("--on-error", &on_error),
        CLI_STRING("--rejects", &rejects),
    };
    cli_opt opts[CLI_NOPTS(own) + LLM_OPTS_MAX];
    memcpy(opts, own, sizeof own);
    size_t nopts = CLI_NOPTS(own);
    nopts += llm_opts_table(&ctx.llm, opts + nopts);
    bool given[CLI_NOPTS(own) + LLM_OPTS_MAX];
    int done = cli_parse_command_given("tag", usage, opts, nopts, &input, argc, argv, 1, given);
    if (done >= 0)
        return done;
    if (!backend)
        backend = "llama"; /* `echo TEXT | clinner tag` just works */
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
    if (refuse_foreign_options(be->name, opts, given, nopts))
        return 2;
    cl_format from_fmt = cli_guess_format(input), to_fmt;
    if ((from && cl_format_from_name(from, &from_fmt, &err) != CL_OK) ||
        cl_format_from_name(to, &to_fmt, &err) != CL_OK) {
        fprintf(stderr, "clinner tag: %s\n", err.msg);
        return 2;
    }

    int rc = 1;
    cl_corpus *c = NULL;
    cl_progress *bar = NULL;
    cl_stream_params sp = cl_stream_default_params();
    bool stream = !strcmp(out, "-") && from_fmt != CL_FORMAT_BRAT;
    FILE *fin = NULL, *frej = NULL;
    cl_doc_reader *reader = NULL;
    cl_run_summary sum;
    memset(&sum, 0, sizeof sum);
    if ((shard && cl_shard_parse(shard, &sp.shard_k, &sp.shard_n, &err) != CL_OK) ||
        cl_on_error_from_name(on_error, &sp.on_error, &err) != CL_OK) {
        fprintf(stderr, "clinner tag: %s\n", err.msg);
        return 2;
    }
    ctx.tok_name = tok_name;
    if (be->open(&ctx, &err) != CL_OK)
        goto done;
    cl_tokenizer_kind tok = CL_TOKENIZER_CLINICAL;
    if (!tok_name)
        tok_name = ctx.default_tokenizer ? ctx.default_tokenizer : "clinical";
    if (cl_tokenizer_from_name(tok_name, &tok, &err) != CL_OK)
        goto done;
    cli_input in = {.path = input, .format = from_fmt, .tokenizer = tok};
    sp.prepare = prepare_input;
    sp.prepare_ctx = &in;
    sp.log = log_line;
    sp.log_ctx = &ctx;
    if (rejects && !(frej = fopen(rejects, "w"))) {
        cl_error_set(&err, CL_ERR_IO, "%s: cannot create: %s", rejects, strerror(errno));
        goto done;
    }
    sp.rejects = frej;
    if (stream || sp.on_error == CL_ON_ERROR_SKIP) {
        if (!(fin = strcmp(input, "-") ? fopen(input, "rb") : stdin)) {
            cl_error_set(&err, CL_ERR_IO, "%s: cannot open: %s", input, strerror(errno));
            goto done;
        }
        if (cl_doc_reader_open(fin, from_fmt, strcmp(input, "-") ? input : "stdin", &reader,
                               &err) != CL_OK)
            goto done;
    }
    if (stream) { /* documents read, tagged and written one at a time */
        ctx.bar = bar = cl_progress_new(stderr, "tagging", "sentences", 0, pmode);
        sp.format = to_fmt;
        sp.entities_from_tags = true;
        sp.batch = ctx.batch > 0 ? ctx.batch : 8;
        sp.threads = be->parallel ? (ctx.threads > 0 ? (int32_t)ctx.threads : 1) : 1;
        sp.progress = bar;
        if (cl_run_stream(&ctx.tagger, reader, &sp, &sum, &err) != CL_OK)
            goto done;
        goto summary;
    }
    if (!(c = reader ? cl_corpus_new() : NULL) && reader)
        goto done;
    if (reader ? cl_run_read_all(reader, &sp, c, &sum, &err) != CL_OK
               : cli_read_corpus(&in, &c, &err) != CL_OK)
        goto done;
    bar = cl_progress_new(stderr, "tagging", "sentences", cl_corpus_nsentences(c), pmode);
    ctx.bar = bar;
    /* the options that shape the output: --resume refuses a checkpoint
     * made with others */
    cl_buf fp;
    cl_buf_init(&fp);
    cl_buf_printf(&fp, "backend=%s model=%s dense=%s from=%s to=%s tokenizer=%s",
                  be->name, ctx.model_path ? ctx.model_path : "",
                  ctx.dense_path ? ctx.dense_path : "", cl_format_name(from_fmt),
                  cl_format_name(to_fmt), cl_tokenizer_name(tok));
    if (ctx.prompt.builder)
        llm_opts_fingerprint(&ctx.llm, &fp);
    if (ctx.chat_template) /* only when given: older checkpoints still match */
        cl_buf_printf(&fp, " chat=%s", ctx.chat_template);
    if (ctx.ctx_tokens > 0) /* decides which sentences are skipped as too long; same rule */
        cl_buf_printf(&fp, " ctx=%ld", ctx.ctx_tokens);
    /* llama.cpp's CPU arithmetic depends on the thread count (decoder.c) */
    if (ctx.threads > 0 && !strcmp(be->name, "llama"))
        cl_buf_printf(&fp, " threads=%ld", ctx.threads);
    cl_run_params rp = cl_run_default_params();
    rp.format = to_fmt;
    rp.out_path = out;
    rp.entities_from_tags = true;
    rp.resume = resume;
    rp.answers_path = answers;
    rp.fingerprint = fp.data;
    rp.batch = ctx.batch > 0 ? ctx.batch : 8;
    rp.threads = be->parallel ? (ctx.threads > 0 ? (int32_t)ctx.threads : 1) : 1;
    rp.progress = bar;
    rp.log = log_line;
    rp.log_ctx = &ctx;
    rp.shard_k = sp.shard_k;
    rp.shard_n = sp.shard_n;
    cl_run_summary got = sum;
    cl_status rst = cl_run_tag(&ctx.tagger, c, &rp, &sum, &err);
    sum.rejected = reader ? got.rejected : 0;
    sum.other_shards += reader ? got.other_shards : 0;
    cl_buf_free(&fp);
    if (rst != CL_OK)
        goto done;
summary:;
    cl_buf line;
    cl_buf_init(&line);
    if (pmode != CL_PROGRESS_OFF && cl_run_format_summary(&sum, &line) == CL_OK)
        fprintf(stderr, "clinner tag: %s\n", line.data);
    cl_buf_reset(&line); /* a fleet: how many requests each server took */
    if (pmode != CL_PROGRESS_OFF && ctx.llm.api_base && strchr(ctx.llm.api_base, ',') &&
        cl_openai_server_summary(&ctx.tagger, &line) == CL_OK && line.len)
        fprintf(stderr, "clinner tag: %s\n", line.data);
    cl_buf_free(&line);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "clinner tag: %s\n", err.msg);
    ctx.bar = NULL;
    cl_progress_free(bar);
    cl_doc_reader_free(reader);
    if (fin && fin != stdin)
        fclose(fin);
    if (frej && fclose(frej) != 0 && rc == 0) {
        fprintf(stderr, "clinner tag: %s: write error\n", rejects);
        rc = 1;
    }
    cl_corpus_free(c);
    cl_tagger_free(&ctx.tagger);
    if (ctx.res_free)
        ctx.res_free(ctx.res);
    llm_prompt_close(&ctx.prompt);
    return rc;
}
