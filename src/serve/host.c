/*
 * host.c - what a program that serves needs around the server (serve.h):
 * the scores file /v1/models shows, the line that says where the server
 * listens, and waiting for the signal that stops it.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clinner/serve.h"
#include "clinner/util.h"
#include "serve/serve_internal.h"

cl_status cl_serve_read_scores(const char *path, const char *model, char **json, cl_error *err)
{
    *json = NULL;
    char *guess = NULL;
    const char *shown = path ? path : "MODEL.scores.json";
    if (!path && model) {
        size_t len = strlen(model) + sizeof ".scores.json";
        if ((guess = malloc(len)))
            snprintf(guess, len, "%s.scores.json", model);
        if (guess && access(guess, R_OK) == 0)
            path = guess;
    }
    size_t n;
    cl_status st = path ? cl_read_file(path, json, &n, err) : CL_OK;
    free(guess);
    if (st != CL_OK || !*json)
        return st;
    cJSON *scores = cJSON_Parse(*json);
    bool object = cJSON_IsObject(scores);
    cJSON_Delete(scores);
    if (object)
        return CL_OK;
    free(*json);
    *json = NULL;
    return cl_error_set(err, CL_ERR_PARSE, "%s is not a JSON object", shown);
}

cl_status cl_server_open(const cl_serve_config *cfg, const cl_tag_config *tag,
                         const char *scores_path, cl_server **out, cl_error *err)
{
    *out = NULL;
    cl_tag_session *s = NULL;
    char *scores = NULL;
    cl_status st = cl_tag_session_open(tag, &s, err);
    if (st == CL_OK && !cfg->scores_json &&
        (st = cl_serve_read_scores(scores_path, cl_tag_session_model(s), &scores, err)) != CL_OK)
        cl_error_prefix(err, "scores_path: ");
    cl_serve_config c = *cfg;
    if (scores)
        c.scores_json = scores;
    if (st == CL_OK)
        st = cl_server_start(&c, s, out, err);
    free(scores); /* the server keeps a copy */
    if (st != CL_OK) {
        cl_tag_session_free(s);
        return st;
    }
    (*out)->owns_session = true;
    return CL_OK;
}

cl_status cl_server_describe(const cl_server *srv, cl_buf *out)
{
    const char *host = srv->cfg.host, *model = cl_tag_session_model(srv->session);
    bool v6 = strchr(host, ':') != NULL;
    int32_t threads = srv->reentrant ? srv->cfg.workers : 1;
    return cl_buf_printf(out,
                         "listening on http://%s%s%s:%d (backend %s, model %s, %d tagging "
                         "thread%s%s)",
                         v6 ? "[" : "", host, v6 ? "]" : "", srv->port,
                         cl_tag_session_backend(srv->session), *model ? model : "(default)",
                         threads, threads == 1 ? "" : "s",
                         srv->api_key ? ", bearer key required" : "")
               ? CL_ERR_NOMEM
               : CL_OK;
}

/* SIGTERM and SIGINT. */
static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
}

void cl_serve_block_stop_signals(void)
{
    sigset_t stop;
    stop_signals(&stop);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cl_serve_wait_stop_signal(void)
{
    sigset_t stop;
    stop_signals(&stop);
    int sig = 0;
    sigwait(&stop, &sig);
    return sig;
}
