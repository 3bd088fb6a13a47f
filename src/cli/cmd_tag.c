/*
 * cmd_tag.c - `clinner tag`: options -> cl_tag_config -> a tagging session
 * (session.h) -> the batch runner (run.h).
 *
 * Everything a backend needs (models, examples, retrievers, default files,
 * the resume fingerprint) is the library's; this file parses options,
 * refuses those that mean nothing to the chosen backend, reads the input
 * and prints the summary.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "clinner/openai.h"
#include "clinner/progress.h"
#include "clinner/session.h"
#include "clinner/util.h"

/* Notes from the backends go above the progress bar. */
static void log_line(void *arg, const char *msg)
{
    cl_progress **bar = arg;
    if (*bar)
        cl_progress_message(*bar, "clinner tag: %s", msg);
    else
        fprintf(stderr, "clinner tag: %s\n", msg);
}

/* Options that mean nothing to a backend are refused, not ignored: a user
 * who passes --strategy to the CRF tagger has misunderstood something. */
static bool refuse_foreign_options(const char *backend, const cli_opt *opts, const bool *given,
                                   size_t nopts)
{
    static const char *const llama_only[] = {"--ctx", "--chat-template", "--speculate",
                                             "--embed-model", "--verbose", NULL};
    static const char *const openai_only[] = {"--api-base", "--api-key-env", "--retries",
                                              "--timeout", NULL};
    static const char *const llm_only[] = {
        "--strategy", "--decode", "--kb",   "--train",     "--shots",     "--parallel",
        "--max-tokens", "--seed", "--rag-k", "--temp", "--cache-dir", "--answers", NULL};
    static const char *const crf_only[] = {"--dense", NULL};
    const char *o;
    bool llama = !strcmp(backend, "llama"), openai = !strcmp(backend, "openai");
    if (strcmp(backend, "crf") != 0 && (o = cli_first_given(opts, given, nopts, crf_only)))
        fprintf(stderr, "clinner tag: %s is for the crf backend, not %s\n", o, backend);
    else if (!llama && (o = cli_first_given(opts, given, nopts, llama_only)))
        fprintf(stderr, "clinner tag: %s is for the llama backend (the %s backend %s)\n", o,
                backend, openai ? "leaves it to the server" : "has no prompts");
    else if (!openai && (o = cli_first_given(opts, given, nopts, openai_only)))
        fprintf(stderr, "clinner tag: %s is for the openai backend, not %s\n", o, backend);
    else if (!llama && !openai && (o = cli_first_given(opts, given, nopts, llm_only)))
        fprintf(stderr, "clinner tag: %s is for the LLM backends (llama, openai), not %s\n", o,
                backend);
    else
        return false;
    return true;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: clinner tag [--backend NAME] [OPTIONS] [INPUT|-] [-o OUT]\n"
            "\n"
            "Label every token of INPUT and write the labels (and the entities they form).\n"
            "With no option, text on stdin is tagged by the shipped CRF model.\n"
            "\n"
            "  --backend NAME      crf (default: the shipped model, " CL_DEFAULT_CRF_MODEL "),\n"
            "                      llama (a local GGUF model; default SmolLM2-135M-Instruct),\n"
            "                      openai (an OpenAI-compatible server)");
    for (int32_t i = 0; cl_tag_backend_name(i); i++)
        if (!cl_tag_backend_available(cl_tag_backend_name(i)))
            fprintf(fp, " (%s is not available in this build)", cl_tag_backend_name(i));
    fprintf(fp,
            "\n"
            "  --model PATH        model file (crf, llama); model name (openai)\n"
            "  --dense FILE        crf: dense features of INPUT, for a model trained with them\n"
            "  --from FORMAT       brat, paper-csv, conll, jsonl or text (default: brat for a\n"
            "                      directory, else from the extension; '-' is text)\n"
            "  --to FORMAT         jsonl (default: entities with code-point offsets, types\n"
            "                      and confidences, plus per-token labels), brat, conll,\n"
            "                      paper-csv or paper-lines\n"
            "  --tokenizer NAME    paper or clinical (default: the model's, else clinical)\n"
            "  --threads N         documents tagged in parallel (crf; default 1); CPU threads\n"
            "                      (llama; default all; with 1, forced decoding gives grammar\n"
            "                      decoding's labels exactly; on busy cores use fewer)\n"
            "  -o, --output OUT    output file (default stdout; a directory for brat)\n"
            "  --resume            continue an interrupted run of the same command (-o OUT;\n"
            "                      a checkpoint made with other options is refused)\n"
            "  --progress MODE     auto, tty, lines or off (default auto)\n"
            "  -h, --help          show this help\n"
            "LLM backends (llama, openai):\n"
            "  --strategy NAME     zero-shot (default), few-shot (the paper's 5 examples),\n"
            "                      knn-shot (the most similar training sentences, BM25) or\n"
            "                      rag (knowledge-base passages, BM25)\n"
            "  --decode MODE       forced (llama's default: feed the tokens, choose only the\n"
            "                      labels; never misaligned), grammar (GBNF: one line per\n"
            "                      token) or free (the paper's: parse the answer, align by\n"
            "                      position; openai's default)\n"
            "  --shots K           examples for few-shot / knn-shot (default 5)\n"
            "  --train DIR         training split for examples (default\n"
            "                      $CLINNER_SHARED/data/raredis/train)\n"
            "  --kb DIR            folder of .txt articles for rag (default: the training texts)\n"
            "  --rag-k N           passages per prompt (default 2)\n"
            "  --temp T, --seed N  sampling temperature (default 0) and seed\n"
            "  --max-tokens N      answer length limit (default: enough for every line)\n"
            "  --parallel N        sentences decoded together (llama, default 4); requests in\n"
            "                      flight (openai, default 1)\n"
            "  --cache-dir DIR     index cache (default $CLINNER_CACHE or ~/.cache/clinner)\n"
            "  --answers FILE      every sentence's raw model answer as JSONL, resumed with\n"
            "                      the output\n"
            "llama: --ctx N (tokens a sentence may use, default 4096), --speculate\n"
            "  auto|on|off (forced: guess labels, checked in the same batch; auto: on a GPU),\n"
            "  --embed-model GGUF (rag: rank passages by its embeddings), --chat-template T\n"
            "  (a template name llama.cpp knows, or plain), --verbose (llama.cpp's log)\n"
            "openai: --api-base URL (default " CL_OPENAI_DEFAULT_API_BASE "), --api-key-env\n"
            "  VAR (default OPENAI_API_KEY; never printed), --retries N (5), --timeout S (300)\n"
            "\n"
            "the paper's protocol on the test split:\n"
            "  clinner tag --tokenizer paper --from brat --to paper-csv raredis/test -o pred.csv\n");
}

/* The command's options, writing into cfg and the run's own fields. */
typedef struct tag_args {
    cl_tag_config cfg;
    const char *from, *to, *out, *input, *answers;
    long threads, ctx, seed, shots, parallel, max_tokens, retries, rag_k;
    bool resume;
    cl_progress_mode pmode;
} tag_args;

#define TAG_NOPTS 31
static size_t tag_options(tag_args *a, cli_opt *out)
{
    cl_tag_config *c = &a->cfg;
    const cli_opt t[] = {
        CLI_STRING("--backend", &c->backend), CLI_STRING("--model", &c->model),
        CLI_STRING("--dense", &c->dense), CLI_STRING("--from", &a->from),
        CLI_STRING("--to", &a->to), CLI_STRING("--tokenizer", &c->tokenizer),
        CLI_PARSER("--progress", &a->pmode, cli_opt_progress),
        CLI_STRING2("--output", "-o", &a->out), CLI_FLAG("--resume", &a->resume),
        CLI_STRING("--answers", &a->answers),
        CLI_INTEGER("--threads", CLI_OPT_LONG, &a->threads, 1, 64),
        CLI_INTEGER("--ctx", CLI_OPT_LONG, &a->ctx, 64, 1 << 20),
        CLI_FLAG("--verbose", &c->verbose), CLI_STRING("--embed-model", &c->embed_model),
        CLI_STRING("--chat-template", &c->chat_template),
        CLI_STRING("--strategy", &c->strategy), CLI_STRING("--decode", &c->decode),
        CLI_STRING("--speculate", &c->speculate), CLI_STRING("--kb", &c->kb_dir),
        CLI_STRING("--train", &c->train_dir), CLI_STRING("--api-base", &c->api_base),
        CLI_STRING("--api-key-env", &c->api_key_env), CLI_STRING("--cache-dir", &c->cache_dir),
        CLI_INTEGER("--shots", CLI_OPT_LONG, &a->shots, 1, 1000),
        CLI_INTEGER("--parallel", CLI_OPT_LONG, &a->parallel, 1, 256),
        CLI_INTEGER("--max-tokens", CLI_OPT_LONG, &a->max_tokens, 0, 1000000),
        CLI_INTEGER("--seed", CLI_OPT_LONG, &a->seed, 0, LONG_MAX),
        CLI_INTEGER("--retries", CLI_OPT_LONG, &a->retries, 0, 100),
        CLI_INTEGER("--rag-k", CLI_OPT_LONG, &a->rag_k, 1, 100),
        CLI_NUMBER("--temp", &c->temperature, 0.0), CLI_NUMBER("--timeout", &c->timeout_s, 0.001),
    };
    _Static_assert(CLI_NOPTS(t) == TAG_NOPTS, "TAG_NOPTS");
    memcpy(out, t, sizeof t);
    return CLI_NOPTS(t);
}

/* Integer options are parsed as long; the config holds narrower fields. */
static void finish_config(tag_args *a, cl_progress **bar)
{
    cl_tag_config *c = &a->cfg;
    c->threads = (int32_t)a->threads;
    c->ctx_tokens = (int32_t)a->ctx;
    c->seed = a->seed;
    c->shots = (int32_t)a->shots;
    c->parallel = (int32_t)a->parallel;
    c->max_tokens = (int32_t)a->max_tokens;
    c->retries = (int32_t)a->retries;
    c->rag_k = (int32_t)a->rag_k;
    c->log = log_line;
    c->log_ctx = bar;
}

static int tag_run(tag_args *a, cl_error *err)
{
    cl_progress *bar = NULL;
    finish_config(a, &bar);
    cl_format from_fmt = cl_format_guess(a->input), to_fmt;
    if ((a->from && cl_format_from_name(a->from, &from_fmt, err) != CL_OK) ||
        cl_format_from_name(a->to, &to_fmt, err) != CL_OK)
        return 2;
    cl_tag_session *s = NULL;
    cl_corpus *c = NULL;
    cl_buf fp;
    cl_buf_init(&fp);
    int rc = 1;
    if (cl_tag_session_open(&a->cfg, &s, err) != CL_OK)
        goto done;
    cl_prepare_params pp = cl_prepare_default_params();
    pp.tokenizer = cl_tag_session_tokenizer(s);
    pp.gold_tags = false;
    if (cl_corpus_load(a->input, from_fmt, &pp, &c, err) != CL_OK)
        goto done;
    bar = cl_progress_new(stderr, "tagging", "sentences", cl_corpus_nsentences(c), a->pmode);
    /* the input and output formats shape the output too */
    cl_buf_printf(&fp, "%s from=%s to=%s", cl_tag_session_fingerprint(s),
                  cl_format_name(from_fmt), cl_format_name(to_fmt));
    cl_run_params rp = cl_run_default_params();
    rp.format = to_fmt;
    rp.out_path = a->out;
    rp.entities_from_tags = true;
    rp.resume = a->resume;
    rp.answers_path = a->answers;
    rp.fingerprint = fp.data;
    rp.progress = bar;
    cl_run_summary sum;
    if (cl_tag_session_run(s, c, &rp, &sum, err) != CL_OK)
        goto done;
    cl_buf line;
    cl_buf_init(&line);
    if (a->pmode != CL_PROGRESS_OFF && cl_run_format_summary(&sum, &line) == CL_OK)
        fprintf(stderr, "clinner tag: %s\n", line.data);
    cl_buf_free(&line);
    rc = 0;
done:
    cl_buf_free(&fp);
    cl_progress *b = bar;
    bar = NULL; /* the log callback must not see a freed bar */
    cl_progress_free(b);
    cl_corpus_free(c);
    cl_tag_session_free(s);
    return rc;
}

/* Library messages name the config field ("decode: ..."); a user of this
 * command knows it as an option. */
static void print_error(const char *msg)
{
    static const char *const fields[][2] = {
        {"backend", "--backend"}, {"model", "--model"},       {"tokenizer", "--tokenizer"},
        {"strategy", "--strategy"}, {"decode", "--decode"},   {"speculate", "--speculate"},
        {"train_dir", "--train"}, {"kb_dir", "--kb"},         {"dense", "--dense"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t n = strlen(fields[i][0]);
        if (!strncmp(msg, fields[i][0], n) && msg[n] == ':') {
            fprintf(stderr, "clinner tag: %s%s\n", fields[i][1], msg + n);
            return;
        }
    }
    fprintf(stderr, "clinner tag: %s\n", msg);
}

int cmd_tag(int argc, char **argv)
{
    tag_args a;
    memset(&a, 0, sizeof a);
    a.cfg = cl_tag_config_default();
    a.to = "jsonl";
    a.out = "-";
    a.seed = -1;
    a.shots = a.cfg.shots;
    a.retries = a.cfg.retries;
    a.rag_k = a.cfg.rag_k;
    a.pmode = CL_PROGRESS_AUTO;
    a.cfg.strategy = NULL; /* NULL: the session's default, and a way to see if given */
    cli_opt opts[TAG_NOPTS];
    bool given[TAG_NOPTS];
    size_t nopts = tag_options(&a, opts);
    int done = cli_parse_command_given("tag", usage, opts, nopts, &a.input, argc, argv, 1, given);
    if (done >= 0)
        return done;
    if (!a.input)
        a.input = "-";
    if (refuse_foreign_options(a.cfg.backend, opts, given, nopts))
        return 2;
    cl_error err;
    cl_error_clear(&err);
    int rc = tag_run(&a, &err);
    if (rc)
        print_error(err.msg);
    return rc;
}
