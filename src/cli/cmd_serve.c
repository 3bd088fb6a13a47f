/*
 * cmd_serve.c - `clinner serve`: tag documents over HTTP (serve.h) with one
 * tagging session opened from the same options as `clinner tag`, and the
 * web page of web/index.html (embedded at build time).
 *
 * The command opens the session, starts the server, prints where it
 * listens, then waits for SIGTERM or SIGINT (blocked in every thread and
 * taken with sigwait, so no handler runs in a library call): it stops
 * accepting connections, lets the requests in flight finish (up to
 * --grace seconds) and exits 0.  Access log lines go to stderr with a UTC
 * time; they never hold a document's text or the API key.
 */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_opts.h"
#include "cli/commands.h"
#include "cli/web_page.h"
#include "clinner/serve.h"
#include "clinner/session.h"
#include "clinner/util.h"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: clinner serve [--host ADDR] [--port N] [TAG OPTIONS] [SERVER OPTIONS]\n"
            "\n"
            "Serve a tagger over HTTP, with a web page at /.\n"
            "\n"
            "  POST /v1/tag     {\"text\": \"...\"} or {\"documents\": [{\"id\": ..., \"text\": ...}]}\n"
            "                   (optional \"tokenizer\": \"paper\" | \"clinical\"): a JSON array of\n"
            "                   the documents `clinner tag --to jsonl` writes; with the header\n"
            "                   Accept: application/x-ndjson one document a line, streamed\n"
            "  GET  /v1/models  backend, model, tokenizer, types and labels, test scores\n"
            "  GET  /healthz    200 while serving\n"
            "  GET  /metrics    Prometheus text (requests by status, latency, tokens, queue)\n"
            "\n"
            "server:\n"
            "  --host ADDR           address to listen on (default 127.0.0.1; 0.0.0.0: all)\n"
            "  --port N              port (default 8080; 0: any free port, printed)\n"
            "  --threads N           tagging threads (crf, encoder; default: the CPUs, at\n"
            "                        most 16); llama: its CPU threads, one request at a time\n"
            "  --queue N             tagging requests admitted at once; more get 503 with\n"
            "                        Retry-After (default 64)\n"
            "  --max-body BYTES      largest request body; larger get 413 (default 10485760)\n"
            "  --max-docs N          documents per request (default 1000)\n"
            "  --request-timeout S   time limit of one tagging request; 504 after (default 60)\n"
            "  --idle-timeout S      close keep-alive connections idle this long (default 30)\n"
            "  --max-connections N   open connections at most (default 256)\n"
            "  --grace S             on SIGTERM, wait this long for requests in flight\n"
            "                        (default 30)\n"
            "  --api-key-env VAR     require 'Authorization: Bearer KEY' on /v1/, KEY being\n"
            "                        the value of $VAR (never logged)\n"
            "  --cors ORIGIN         send Access-Control-Allow-Origin: ORIGIN (default: no\n"
            "                        CORS headers)\n"
            "  --scores FILE         `clinner eval --json` output shown by /v1/models as\n"
            "                        test_scores (default: MODEL.scores.json when present)\n"
            "  -h, --help            show this help\n"
            "\n"
            "tagger (as in `clinner tag`):\n"
            "  --backend NAME        crf (default), llama or openai");
    for (int32_t i = 0; cl_tag_backend_name(i); i++)
        if (!cl_tag_backend_available(cl_tag_backend_name(i)))
            fprintf(fp, " (%s is not available in this build)", cl_tag_backend_name(i));
    fprintf(fp,
            "\n"
            "  --model PATH          model file (default for crf: the shipped\n"
            "                        raredis-crf.model); model name (openai)\n"
            "  --dense FILE          crf: dense features\n"
            "  --tokenizer NAME      paper or clinical (default: the model's own)\n"
            "  --strategy, --shots, --decode, --speculate, --train, --kb, --rag-k,\n"
            "  --embed-model, --chat-template, --ctx, --parallel, --max-tokens, --seed,\n"
            "  --temp, --cache-dir, --verbose: as in `clinner tag --help`\n"
            "  --api-base URL        openai: server URL\n"
            "  --openai-key-env VAR  openai: variable holding the backend's key (default\n"
            "                        OPENAI_API_KEY; --api-key-env is the server's own key)\n"
            "  --retries N, --timeout S: openai, as in `clinner tag`\n"
            "\n"
            "example:\n"
            "  clinner serve --port 8080 --threads 4 &\n"
            "  curl -s localhost:8080/v1/tag -d '{\"text\": \"Fabry disease causes pain.\"}'\n");
}

/* Access log and notes: one line on stderr with a UTC time. */
static void log_line(void *ctx, const char *msg)
{
    (void)ctx;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "clinner serve: %s %s\n", stamp, msg);
}

/* The scores shown by /v1/models: --scores, else MODEL.scores.json. */
static char *read_scores(const char *path, const char *model, cl_error *err, bool *failed)
{
    *failed = false;
    char *data = NULL, *guess = NULL;
    size_t n;
    if (!path && model) {
        size_t len = strlen(model) + sizeof ".scores.json";
        guess = malloc(len);
        if (guess)
            snprintf(guess, len, "%s.scores.json", model);
        if (guess && access(guess, R_OK) == 0)
            path = guess;
    }
    if (path && cl_read_file(path, &data, &n, err) != CL_OK)
        *failed = true;
    free(guess);
    return data;
}

typedef struct serve_opts {
    cl_serve_config sc;
    cl_tag_config tc;
    long threads, seed, max_body;
    double grace;
    const char *api_key_env, *scores;
} serve_opts;

static int parse_options(serve_opts *o, int argc, char **argv)
{
    const cli_opt opts[] = {
        CLI_STRING("--host", &o->sc.host),
        CLI_INTEGER("--port", CLI_OPT_INT, &o->sc.port, 0, 65535),
        CLI_INTEGER("--threads", CLI_OPT_LONG, &o->threads, 1, 256),
        CLI_INTEGER("--queue", CLI_OPT_INT32, &o->sc.queue, 1, 1000000),
        CLI_INTEGER("--max-body", CLI_OPT_LONG, &o->max_body, 2, LONG_MAX),
        CLI_INTEGER("--max-docs", CLI_OPT_INT32, &o->sc.max_docs, 1, 10000000),
        CLI_NUMBER("--request-timeout", &o->sc.request_timeout_s, 0.0),
        CLI_NUMBER("--idle-timeout", &o->sc.idle_timeout_s, 0.0),
        CLI_INTEGER("--max-connections", CLI_OPT_INT32, &o->sc.max_connections, 1, 100000),
        CLI_NUMBER("--grace", &o->grace, 0.0),
        CLI_STRING("--api-key-env", &o->api_key_env),
        CLI_STRING("--cors", &o->sc.cors_origin),
        CLI_STRING("--scores", &o->scores),
        CLI_STRING("--backend", &o->tc.backend),
        CLI_STRING("--model", &o->tc.model),
        CLI_STRING("--dense", &o->tc.dense),
        CLI_STRING("--tokenizer", &o->tc.tokenizer),
        CLI_STRING("--strategy", &o->tc.strategy),
        CLI_STRING("--decode", &o->tc.decode),
        CLI_STRING("--speculate", &o->tc.speculate),
        CLI_STRING("--train", &o->tc.train_dir),
        CLI_STRING("--kb", &o->tc.kb_dir),
        CLI_STRING("--embed-model", &o->tc.embed_model),
        CLI_STRING("--chat-template", &o->tc.chat_template),
        CLI_STRING("--api-base", &o->tc.api_base),
        CLI_STRING("--openai-key-env", &o->tc.api_key_env),
        CLI_STRING("--cache-dir", &o->tc.cache_dir),
        CLI_INTEGER("--shots", CLI_OPT_INT32, &o->tc.shots, 1, 1000),
        CLI_INTEGER("--rag-k", CLI_OPT_INT32, &o->tc.rag_k, 1, 100),
        CLI_INTEGER("--parallel", CLI_OPT_INT32, &o->tc.parallel, 1, 256),
        CLI_INTEGER("--max-tokens", CLI_OPT_INT32, &o->tc.max_tokens, 0, 1000000),
        CLI_INTEGER("--retries", CLI_OPT_INT32, &o->tc.retries, 0, 100),
        CLI_INTEGER("--ctx", CLI_OPT_INT32, &o->tc.ctx_tokens, 64, 1 << 20),
        CLI_INTEGER("--seed", CLI_OPT_LONG, &o->seed, 0, LONG_MAX),
        CLI_NUMBER("--temp", &o->tc.temperature, 0.0),
        CLI_NUMBER("--timeout", &o->tc.timeout_s, 0.001),
        CLI_FLAG("--verbose", &o->tc.verbose),
    };
    return cli_parse_command("serve", usage, opts, CLI_NOPTS(opts), NULL, argc, argv, 1);
}

/* Open the session and start the server; print where it listens. */
static int run_server(serve_opts *o, cl_tag_session **sess, cl_server **srv)
{
    cl_error err;
    cl_error_clear(&err);
    if (cl_tag_session_open(&o->tc, sess, &err) != CL_OK) {
        fprintf(stderr, "clinner serve: %s\n", err.msg);
        return 1;
    }
    bool failed;
    char *scores = read_scores(o->scores, cl_tag_session_model(*sess), &err, &failed);
    if (failed) {
        fprintf(stderr, "clinner serve: --scores: %s\n", err.msg);
        return 1;
    }
    o->sc.scores_json = scores;
    cl_status st = cl_server_start(&o->sc, *sess, srv, &err);
    free(scores);
    o->sc.scores_json = NULL;
    if (st != CL_OK) {
        if (st == CL_ERR_PARSE && scores) /* the only thing parsed: the scores */
            fprintf(stderr, "clinner serve: --scores: %s is not a JSON object\n",
                    o->scores ? o->scores : "MODEL.scores.json");
        else
            fprintf(stderr, "clinner serve: %s\n", err.msg);
        return 1;
    }
    const char *model = cl_tag_session_model(*sess);
    fprintf(stderr,
            "clinner serve: listening on http://%s%s%s:%d (backend %s, model %s, %d tagging "
            "thread%s%s)\n",
            strchr(o->sc.host, ':') ? "[" : "", o->sc.host, strchr(o->sc.host, ':') ? "]" : "",
            cl_server_port(*srv), cl_tag_session_backend(*sess), model && *model ? model : "(default)",
            cl_tag_session_reentrant(*sess) ? o->sc.workers : 1,
            (cl_tag_session_reentrant(*sess) ? o->sc.workers : 1) == 1 ? "" : "s",
            o->sc.api_key ? ", bearer key required" : "");
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o;
    memset(&o, 0, sizeof o);
    o.sc = cl_serve_config_default();
    o.tc = cl_tag_config_default();
    o.seed = -1;
    o.max_body = (long)o.sc.max_body;
    o.grace = 30;
    int done = parse_options(&o, argc, argv);
    if (done >= 0)
        return done;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o.sc.workers = (int32_t)(o.threads > 0 ? o.threads : ncpu < 1 ? 1 : ncpu > 16 ? 16 : ncpu);
    o.tc.threads = (int32_t)o.threads; /* 0: the backend's default */
    o.tc.seed = o.seed;
    o.tc.log = log_line;
    o.sc.max_body = (size_t)o.max_body;
    o.sc.page = (const char *)cl_web_page;
    o.sc.page_len = cl_web_page_len;
    o.sc.log = log_line;
    if (o.api_key_env) {
        o.sc.api_key = getenv(o.api_key_env);
        if (!o.sc.api_key || !*o.sc.api_key) {
            fprintf(stderr, "clinner serve: --api-key-env: $%s is not set or empty\n",
                    o.api_key_env);
            return 2;
        }
    }
    /* SIGTERM / SIGINT wait for sigwait below; every thread started from
     * here on inherits the mask */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    cl_tag_session *sess = NULL;
    cl_server *srv = NULL;
    int rc = run_server(&o, &sess, &srv);
    if (rc == 0) {
        int sig = 0;
        sigwait(&stop, &sig);
        fprintf(stderr, "clinner serve: %s: no new connections, finishing the requests in "
                        "flight\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
        int left = cl_server_shutdown(srv, o.grace);
        if (left > 0)
            fprintf(stderr, "clinner serve: %d request%s still in flight after %g s, cut\n", left,
                    left == 1 ? "" : "s", o.grace);
        fprintf(stderr, "clinner serve: stopped\n");
    }
    cl_server_free(srv);
    cl_tag_session_free(sess);
    return rc;
}
