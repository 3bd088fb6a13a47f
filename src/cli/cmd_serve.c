/*
 * cmd_serve.c - `clinner serve`: tag documents over HTTP (serve.h) with one
 * tagging session opened from the same options as `clinner tag`, and the
 * web page of web/index.html (embedded at build time).
 *
 * The command opens the session, starts the server, prints where it
 * listens, then waits for SIGTERM or SIGINT (blocked in every thread and
 * taken with sigwait, so no handler runs in a library call; serve.h): it
 * stops accepting connections, lets the requests in flight finish (up to
 * --grace seconds) and exits 0.  Access log lines go to stderr with a UTC
 * time; they never hold a document's text or the API key.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_opts.h"
#include "cli/cli_session.h"
#include "cli/commands.h"
#include "cli/web_page.h"
#include "clinner/serve.h"
#include "clinner/session.h"
#include "clinner/util.h"

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

typedef struct serve_opts {
    cl_serve_config sc;
    cli_session_opts so;
    long max_body;
    double grace;
    const char *api_key_env, *scores;
} serve_opts;

/* Open the session and start the server; print where it listens. */
static int run_server(serve_opts *o, cl_server **srv)
{
    cl_error err = CL_ERROR_INIT;
    cl_buf line;
    cl_buf_init(&line);
    cl_status st = cl_server_open(&o->sc, &o->so.cfg, o->scores, srv, &err);
    if (st == CL_OK && cl_server_describe(*srv, &line) != CL_OK)
        st = cl_error_set(&err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        fprintf(stderr, "clinner serve: %s\n", line.data);
    else
        cli_session_error(&o->so, "serve", err.msg);
    cl_buf_free(&line);
    return st == CL_OK ? 0 : 1;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o;
    memset(&o, 0, sizeof o);
    o.sc = cl_serve_config_default();
    o.max_body = (long)o.sc.max_body;
    o.grace = 30;
    const cli_opt own[] = {
        CLI_STRING("--host", &o.sc.host),
        CLI_INTEGER("--port", CLI_OPT_INT, &o.sc.port, 0, 65535),
        CLI_INTEGER("--threads", CLI_OPT_LONG, &o.so.threads, 1, 256),
        CLI_INTEGER("--queue", CLI_OPT_INT32, &o.sc.queue, 1, 1000000),
        CLI_INTEGER("--max-body", CLI_OPT_LONG, &o.max_body, 2, LONG_MAX),
        CLI_INTEGER("--max-docs", CLI_OPT_INT32, &o.sc.max_docs, 1, 10000000),
        CLI_NUMBER("--request-timeout", &o.sc.request_timeout_s, 0.0),
        CLI_NUMBER("--idle-timeout", &o.sc.idle_timeout_s, 0.0),
        CLI_INTEGER("--max-connections", CLI_OPT_INT32, &o.sc.max_connections, 1, 100000),
        CLI_NUMBER("--grace", &o.grace, 0.0),
        CLI_STRING("--api-key-env", &o.api_key_env),
        CLI_STRING("--cors", &o.sc.cors_origin),
        {.name = "--scores", .kind = CLI_OPT_STR, .dst = &o.scores, .field = "scores_path"},
    };
    int done = cli_session_parse(&o.so, "serve", "serve", "--openai-key-env", own,
                                 CLI_NOPTS(own), NULL, argc, argv);
    if (done >= 0)
        return done;
    o.sc.workers = (int32_t)o.so.threads; /* 0: one per CPU, at most 16; the backend's too */
    o.so.cfg.log = log_line;
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
    /* SIGTERM / SIGINT wait for cl_serve_wait_stop_signal below; every
     * thread started from here on inherits the mask */
    cl_serve_block_stop_signals();
    cl_server *srv = NULL; /* and the session it owns */
    int rc = run_server(&o, &srv);
    if (rc == 0) {
        int sig = cl_serve_wait_stop_signal();
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
    return rc;
}
