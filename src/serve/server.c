/*
 * server.c - the HTTP side of `clinner serve` on libmicrohttpd: routes,
 * limits, authentication, CORS, the access log, and the server's life
 * (start, graceful shutdown).
 *
 * libmicrohttpd runs one thread per connection, so a connection may block
 * while its documents are tagged (by the worker pool, pool.c) and while it
 * streams them; keep-alive connections reuse their thread.  The number of
 * connections is capped (max_connections); what bounds the work is the
 * pool's queue, which answers 503 with Retry-After when full.
 *
 * A request's life: the first call of the handler checks method, path,
 * key and declared length (413 before reading a byte of an oversized
 * body); later calls collect the body, counting bytes so that a body
 * without a declared length is cut off at the limit too; the last call
 * parses, admits and answers.  The completion callback writes the access
 * log line and the metrics.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "serve/serve_internal.h"

/* 413 (libmicrohttpd versions name it differently) */
#define HTTP_TOO_LARGE 413

/* What one request carries between the handler's calls and into its
 * streamed answer; freed when both the connection and the response are
 * done with it. */
typedef struct reqctx {
    cl_server *srv;
    int refs; /* under srv->mu */
    double t0;
    char method[12];
    char path[80];
    int status;
    uint64_t bytes;
    cl_buf body;
    bool too_large;
    /* streaming (NDJSON) */
    serve_job *job;
    int32_t next_doc;
    size_t off; /* bytes of lines[next_doc] sent */
    double deadline;
    bool ended;
} reqctx;

cl_serve_config cl_serve_config_default(void)
{
    cl_serve_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = 8080;
    c.workers = 1;
    c.queue = 64;
    c.max_docs = 1000;
    c.max_connections = 256;
    c.max_body = 10u << 20;
    c.request_timeout_s = 60;
    c.idle_timeout_s = 30;
    c.retry_after_s = 1;
    return c;
}

static void logf_srv(cl_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_srv(cl_server *srv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_vlogf(srv->cfg.log, srv->cfg.log_ctx, fmt, ap);
    va_end(ap);
}

static void reqctx_unref(reqctx *r)
{
    cl_server *srv = r->srv;
    pthread_mutex_lock(&srv->mu);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&srv->mu);
    if (!last)
        return;
    cl__serve_job_finish(srv, r->job);
    cl_buf_free(&r->body);
    free(r);
}

/* ---- responses ---- */

static void add_common_headers(cl_server *srv, struct MHD_Response *resp, const char *type)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (srv->cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", srv->cors_origin);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Origin");
    }
}

/* Queue data as the answer with status and content type: copied, or, when
 * owned, taken over (malloc'ed; freed by libmicrohttpd, also on failure). */
static enum MHD_Result answer_data(struct MHD_Connection *c, reqctx *r, int status,
                                   const char *type, const char *data, size_t n, bool owned,
                                   const char *hname, const char *hval)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        n, (void *)data, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_MUST_COPY);
    if (!resp && owned)
        free((void *)data);
    if (!resp)
        return MHD_NO;
    add_common_headers(r->srv, resp, type);
    if (hname)
        MHD_add_response_header(resp, hname, hval);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->bytes = n;
    return ok;
}

static enum MHD_Result answer(struct MHD_Connection *c, reqctx *r, int status, const char *type,
                              const char *data, size_t n, const char *hname, const char *hval)
{
    return answer_data(c, r, status, type, data, n, false, hname, hval);
}

/* {"error": msg} with status (and one extra header). */
static enum MHD_Result answer_error(struct MHD_Connection *c, reqctx *r, int status,
                                    const char *msg, const char *hname, const char *hval)
{
    cJSON *o = cJSON_CreateObject();
    char *s = o && cJSON_AddStringToObject(o, "error", msg) ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    cl_buf b;
    cl_buf_init(&b);
    if (!s || cl_buf_puts(&b, s) != 0 || cl_buf_putc(&b, '\n') != 0) {
        cJSON_free(s);
        cl_buf_free(&b);
        return MHD_NO;
    }
    cJSON_free(s);
    enum MHD_Result ok =
        answer(c, r, status, "application/json", b.data, b.len, hname, hval);
    cl_buf_free(&b);
    return ok;
}

/* ---- POST /v1/tag ---- */

static int status_of_tag_error(cl_status st)
{
    switch (st) {
    case CL_ERR_NET:
        return MHD_HTTP_BAD_GATEWAY;
    case CL_ERR_NOMEM:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* The whole answer as one JSON array: the documents' lines joined. */
static enum MHD_Result answer_array(struct MHD_Connection *c, reqctx *r, serve_job *j)
{
    cl_buf b;
    cl_buf_init(&b);
    int rc = cl_buf_putc(&b, '[');
    for (int32_t i = 0; i < j->ndocs && rc == 0; i++) {
        size_t n = j->lens[i];
        while (n > 0 && (j->lines[i][n - 1] == '\n' || j->lines[i][n - 1] == '\r'))
            n--;
        if (i > 0)
            rc = cl_buf_putc(&b, ',');
        if (rc == 0)
            rc = cl_buf_append(&b, j->lines[i], n);
    }
    if (rc == 0)
        rc = cl_buf_puts(&b, "]\n");
    if (rc != 0) {
        cl_buf_free(&b);
        return answer_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL, NULL);
    }
    size_t n = b.len;
    return answer_data(c, r, MHD_HTTP_OK, "application/json", cl_buf_detach(&b), n, true, NULL,
                       NULL);
}

/* Content reader of an NDJSON answer: each document's line once it and
 * those before it are tagged; an error line ends a stream cut short. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    reqctx *r = cls;
    serve_job *j = r->job;
    if (r->ended || r->next_doc >= j->ndocs)
        return MHD_CONTENT_READER_END_OF_STREAM;
    serve_wait w = cl__serve_job_wait(r->srv, j, r->next_doc + 1, r->deadline);
    const char *line = NULL;
    size_t len = 0;
    char msg[CL_ERROR_MSG_MAX + 64];
    bool bad;
    cl_error jerr;
    cl_status jst = cl__serve_job_state(r->srv, j, &bad, &jerr);
    if (w == SERVE_DONE && jst == CL_OK) {
        line = j->lines[r->next_doc];
        len = j->lens[r->next_doc];
    } else {
        /* headers are gone: the error goes in the stream, in JSON */
        cJSON *o = cJSON_CreateObject();
        const char *why = w == SERVE_TIMEOUT   ? "the request ran past the time limit"
                          : w == SERVE_ABORTED ? "the server is shutting down"
                                               : jerr.msg;
        char *s = o && cJSON_AddStringToObject(o, "error", why) ? cJSON_PrintUnformatted(o)
                                                                : NULL;
        snprintf(msg, sizeof msg, "%s\n", s ? s : "{\"error\":\"out of memory\"}");
        cJSON_free(s);
        cJSON_Delete(o);
        line = msg;
        len = strlen(msg);
        r->ended = true;
        r->off = 0;
        if (w == SERVE_TIMEOUT) {
            pthread_mutex_lock(&r->srv->mu);
            r->srv->m.timeouts++;
            pthread_mutex_unlock(&r->srv->mu);
        }
    }
    size_t n = len - r->off < max ? len - r->off : max; /* an error line always fits */
    memcpy(buf, line + r->off, n);
    r->off += n;
    r->bytes += n;
    if (r->off == len && !r->ended) {
        r->next_doc++;
        r->off = 0;
    }
    return (ssize_t)n;
}

static void stream_free(void *cls) { reqctx_unref(cls); }

static bool wants_ndjson(struct MHD_Connection *c)
{
    const char *acc = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    return acc && strstr(acc, "application/x-ndjson") != NULL;
}

static enum MHD_Result answer_stream(struct MHD_Connection *c, reqctx *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_read, r, stream_free);
    if (!resp)
        return answer_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory", NULL, NULL);
    pthread_mutex_lock(&r->srv->mu);
    r->refs++; /* the response's */
    pthread_mutex_unlock(&r->srv->mu);
    add_common_headers(r->srv, resp, "application/x-ndjson");
    enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->status = MHD_HTTP_OK;
    return ok;
}

static enum MHD_Result handle_tag(struct MHD_Connection *c, reqctx *r)
{
    cl_server *srv = r->srv;
    if (r->too_large) {
        char msg[128];
        snprintf(msg, sizeof msg, "the body is larger than the limit of %zu bytes",
                 srv->cfg.max_body);
        return answer_error(c, r, HTTP_TOO_LARGE, msg, NULL, NULL);
    }
    size_t len = r->body.len;
    char *body = cl_buf_detach(&r->body); /* the job's now; a worker parses it */
    bool busy;
    r->job = cl__serve_job_submit(srv, body, len, &busy);
    if (!r->job) {
        char after[32];
        snprintf(after, sizeof after, "%.0f", ceil(srv->cfg.retry_after_s));
        return answer_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
                            busy ? "busy: the tagging queue is full, retry later"
                                 : "out of memory",
                            busy ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, busy ? after : NULL);
    }
    r->deadline = srv->cfg.request_timeout_s > 0 ? r->t0 + srv->cfg.request_timeout_s : 0;
    serve_wait w = cl__serve_job_wait(srv, r->job, 0, r->deadline); /* parsed */
    bool bad = false;
    cl_error jerr;
    cl_status jst = cl__serve_job_state(srv, r->job, &bad, &jerr);
    if (w == SERVE_DONE && bad)
        return answer_error(c, r, jst == CL_ERR_RANGE ? HTTP_TOO_LARGE : MHD_HTTP_BAD_REQUEST,
                            jerr.msg, NULL, NULL);
    if (w == SERVE_DONE && jst == CL_OK && wants_ndjson(c))
        return answer_stream(c, r);
    if (w == SERVE_DONE)
        w = cl__serve_job_wait(srv, r->job, -1, r->deadline);
    if (w == SERVE_TIMEOUT) {
        pthread_mutex_lock(&srv->mu);
        srv->m.timeouts++;
        pthread_mutex_unlock(&srv->mu);
        char msg[128];
        snprintf(msg, sizeof msg, "the request ran past the time limit of %g s",
                 srv->cfg.request_timeout_s);
        return answer_error(c, r, MHD_HTTP_GATEWAY_TIMEOUT, msg, NULL, NULL);
    }
    if (w == SERVE_ABORTED)
        return answer_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is shutting down",
                            NULL, NULL);
    if ((jst = cl__serve_job_state(srv, r->job, &bad, &jerr)) != CL_OK)
        return answer_error(c, r, status_of_tag_error(jst), jerr.msg, NULL, NULL);
    return answer_array(c, r, r->job);
}

/* ---- the other routes ---- */

static enum MHD_Result handle_metrics(struct MHD_Connection *c, reqctx *r)
{
    cl_buf b;
    cl_buf_init(&b);
    cl_error err;
    enum MHD_Result ok;
    if (cl_server_metrics(r->srv, &b, &err) == CL_OK)
        ok = answer(c, r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
                    NULL, NULL);
    else
        ok = answer_error(c, r, MHD_HTTP_SERVICE_UNAVAILABLE, err.msg, NULL, NULL);
    cl_buf_free(&b);
    return ok;
}

/* Constant-time comparison of the bearer token with the key. */
static bool authorized(const cl_server *srv, struct MHD_Connection *c)
{
    if (!srv->api_key)
        return true;
    const char *h =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return false;
    const char *tok = h + 7;
    size_t n = strlen(tok), k = strlen(srv->api_key);
    unsigned diff = (unsigned)(n != k);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)tok[i] ^ (unsigned char)srv->api_key[i < k ? i : 0];
    return diff == 0;
}

/* The first call of a request: a tagging request that cannot succeed is
 * refused before its body is read (the connection is then closed). */
static enum MHD_Result route_first(struct MHD_Connection *c, reqctx *r)
{
    cl_server *srv = r->srv;
    if (strcmp(r->path, "/v1/tag") || strcmp(r->method, "POST"))
        return MHD_YES;
    if (!authorized(srv, c))
        return answer_error(c, r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required",
                            MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"clinner\"");
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > srv->cfg.max_body) {
        r->too_large = true;
        return handle_tag(c, r);
    }
    return MHD_YES;
}

/* The last call of a request, its body read: answer it.  (Answering GETs
 * here rather than on the first call keeps their connections alive.) */
static enum MHD_Result route(struct MHD_Connection *c, reqctx *r)
{
    cl_server *srv = r->srv;
    const char *m = r->method, *p = r->path;
    bool get = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!strcmp(m, "OPTIONS") && srv->cors_origin) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        add_common_headers(srv, resp, "text/plain");
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization, Accept");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, resp);
        MHD_destroy_response(resp);
        r->status = MHD_HTTP_NO_CONTENT;
        return ok;
    }
    if (!strncmp(p, "/v1/", 4) && !authorized(srv, c))
        return answer_error(c, r, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required",
                            MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"clinner\"");
    if (!strcmp(p, "/v1/tag")) {
        if (strcmp(m, "POST"))
            return answer_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST on /v1/tag",
                                MHD_HTTP_HEADER_ALLOW, "POST");
        return handle_tag(c, r);
    }
    bool known = !strcmp(p, "/") || !strcmp(p, "/index.html") || !strcmp(p, "/healthz") ||
                 !strcmp(p, "/metrics") || !strcmp(p, "/v1/models");
    if (known && !get)
        return answer_error(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET here", MHD_HTTP_HEADER_ALLOW,
                            "GET, HEAD");
    if ((!strcmp(p, "/") || !strcmp(p, "/index.html")) && srv->cfg.page)
        return answer(c, r, MHD_HTTP_OK, "text/html; charset=utf-8", srv->cfg.page,
                      srv->cfg.page_len, NULL, NULL);
    if (!strcmp(p, "/healthz"))
        return answer(c, r, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}\n", 16, NULL,
                      NULL);
    if (!strcmp(p, "/metrics"))
        return handle_metrics(c, r);
    if (!strcmp(p, "/v1/models"))
        return answer(c, r, MHD_HTTP_OK, "application/json", srv->models_json,
                      strlen(srv->models_json), NULL, NULL);
    return answer_error(c, r, MHD_HTTP_NOT_FOUND, "no such path", NULL, NULL);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)version;
    cl_server *srv = cls;
    reqctx *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        r->srv = srv;
        r->refs = 1;
        r->t0 = cl_now();
        cl_buf_init(&r->body);
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url); /* no query string: MHD keeps it apart */
        *con_cls = r;
        pthread_mutex_lock(&srv->mu);
        srv->m.in_flight++;
        pthread_mutex_unlock(&srv->mu);
        return route_first(c, r);
    }
    if (*upload_size > 0) {
        if (strcmp(r->path, "/v1/tag")) { /* a body nobody reads: skip it */
            *upload_size = 0;
            return MHD_YES;
        }
        if (!r->too_large && r->body.len + *upload_size > srv->cfg.max_body) {
            r->too_large = true;
            cl_buf_free(&r->body);
        }
        if (!r->too_large && cl_buf_append(&r->body, upload, *upload_size) != 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->status != 0) /* answered on the first call */
        return MHD_YES;
    return route(c, r);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c;
    cl_server *srv = cls;
    reqctx *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    double secs = cl_now() - r->t0;
    int status = r->status ? r->status : 499; /* the client went away before an answer */
    const char *how = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection cut)";
    logf_srv(srv, "%s %s %d %llu bytes %.1f ms%s", r->method, r->path, status,
             (unsigned long long)r->bytes, secs * 1000.0, how);
    pthread_mutex_lock(&srv->mu);
    cl__serve_metrics_request(&srv->m, status, secs);
    srv->m.in_flight--;
    pthread_mutex_unlock(&srv->mu);
    reqctx_unref(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    cl_server *srv = cls;
    if (!srv->cfg.log)
        return;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char full[600];
    snprintf(full, sizeof full, "libmicrohttpd: %s", line);
    srv->cfg.log(srv->cfg.log_ctx, full);
}

/* ---- life ---- */

static char *models_json(const cl_server *srv, cl_error *err)
{
    cl_tag_session *s = srv->session;
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "models");
    cJSON *m = cJSON_CreateObject();
    bool ok = root && arr && m && cJSON_AddItemToArray(arr, m);
    if (!ok)
        cJSON_Delete(m);
    const char *model = cl_tag_session_model(s);
    ok = ok && cJSON_AddStringToObject(m, "backend", cl_tag_session_backend(s)) &&
         (model ? cJSON_AddStringToObject(m, "model", model) != NULL
                : cJSON_AddNullToObject(m, "model") != NULL) &&
         cJSON_AddStringToObject(m, "tokenizer",
                                 cl_tokenizer_name(cl_tag_session_tokenizer(s))) &&
         cJSON_AddBoolToObject(m, "reentrant", srv->reentrant) &&
         cJSON_AddStringToObject(m, "fingerprint", cl_tag_session_fingerprint(s));
    cJSON *types = ok ? cJSON_AddArrayToObject(m, "types") : NULL;
    cJSON *labels = types ? cJSON_AddArrayToObject(m, "labels") : NULL;
    ok = labels && cJSON_AddItemToArray(labels, cJSON_CreateString("O"));
    const char *const *ty = cl_tag_session_types(s);
    for (int i = 0; ok && ty && ty[i]; i++) {
        char b[96], in[96];
        snprintf(b, sizeof b, "B-%s", ty[i]);
        snprintf(in, sizeof in, "I-%s", ty[i]);
        ok = cJSON_AddItemToArray(types, cJSON_CreateString(ty[i])) &&
             cJSON_AddItemToArray(labels, cJSON_CreateString(b)) &&
             cJSON_AddItemToArray(labels, cJSON_CreateString(in));
    }
    cJSON *scores = srv->scores_json ? cJSON_Parse(srv->scores_json) : cJSON_CreateNull();
    if (ok && srv->scores_json && !cJSON_IsObject(scores)) {
        cJSON_Delete(scores);
        cJSON_Delete(root);
        return cl_error_set(err, CL_ERR_PARSE, "scores_json: not a JSON object"), NULL;
    }
    ok = ok && scores && cJSON_AddItemToObject(m, "test_scores", scores);
    if (!ok && scores && !cJSON_IsNull(scores))
        cJSON_Delete(scores);
    char *s_out = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!s_out) {
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    char *copy = malloc(strlen(s_out) + 2);
    if (copy)
        sprintf(copy, "%s\n", s_out);
    cJSON_free(s_out);
    if (!copy)
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return copy;
}

static cl_status check_config(const cl_serve_config *cfg, cl_error *err)
{
    if (cfg->port < 0 || cfg->port > 65535)
        return cl_error_set(err, CL_ERR_ARG, "port: %d is not in [0, 65535]", cfg->port);
    if (cfg->workers < 0 || cfg->workers > 256)
        return cl_error_set(err, CL_ERR_ARG, "workers: %d is not in [0, 256]", cfg->workers);
    if (cfg->queue < 1)
        return cl_error_set(err, CL_ERR_ARG, "queue: %d is not at least 1", cfg->queue);
    if (cfg->max_docs < 1)
        return cl_error_set(err, CL_ERR_ARG, "max_docs: %d is not at least 1", cfg->max_docs);
    if (cfg->max_connections < 1)
        return cl_error_set(err, CL_ERR_ARG, "max_connections: %d is not at least 1",
                            cfg->max_connections);
    if (cfg->max_body < 2)
        return cl_error_set(err, CL_ERR_ARG, "max_body: %zu bytes is too small", cfg->max_body);
    if (!(cfg->request_timeout_s >= 0) || !(cfg->idle_timeout_s >= 0) ||
        !(cfg->retry_after_s >= 0))
        return cl_error_set(err, CL_ERR_ARG, "timeouts: must be numbers >= 0");
    if (cfg->api_key && !cfg->api_key[0])
        return cl_error_set(err, CL_ERR_ARG, "api_key: empty");
    return CL_OK;
}

/* Resolve host:port into an address for MHD_OPTION_SOCK_ADDR. */
static cl_status resolve(const cl_serve_config *cfg, struct sockaddr_storage *ss, bool *v6,
                         cl_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &res);
    if (rc != 0 || !res)
        return cl_error_set(err, CL_ERR_ARG, "host: cannot resolve '%s': %s", cfg->host,
                            gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return CL_OK;
}

static cl_status copy_strings(cl_server *srv, const cl_serve_config *cfg, cl_error *err)
{
    srv->host = cl_strdup(cfg->host);
    srv->api_key = cfg->api_key ? cl_strdup(cfg->api_key) : NULL;
    srv->cors_origin = cfg->cors_origin ? cl_strdup(cfg->cors_origin) : NULL;
    srv->scores_json = cfg->scores_json ? cl_strdup(cfg->scores_json) : NULL;
    if (!srv->host || (cfg->api_key && !srv->api_key) ||
        (cfg->cors_origin && !srv->cors_origin) || (cfg->scores_json && !srv->scores_json))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    srv->cfg.host = srv->host;
    srv->cfg.api_key = srv->api_key;
    srv->cfg.cors_origin = srv->cors_origin;
    srv->cfg.scores_json = srv->scores_json;
    return CL_OK;
}

static cl_status start_daemon(cl_server *srv, cl_error *err)
{
    struct sockaddr_storage ss;
    bool v6 = false;
    cl_status st = resolve(&srv->cfg, &ss, &v6, err);
    if (st != CL_OK)
        return st;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)srv->cfg.port, NULL, NULL, handler, srv, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)srv->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)ceil(srv->cfg.idle_timeout_s), MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
        MHD_OPTION_END);
    if (!d)
        return cl_error_set(err, CL_ERR_IO, "port: cannot listen on %s:%d (in use?)",
                            srv->cfg.host, srv->cfg.port);
    srv->daemon = d;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info && info->port ? info->port : srv->cfg.port;
    return CL_OK;
}

cl_status cl_server_start(const cl_serve_config *cfg, cl_tag_session *s, cl_server **out,
                          cl_error *err)
{
    *out = NULL;
    cl_status st = check_config(cfg, err);
    if (st != CL_OK)
        return st;
    if (!s)
        return cl_error_set(err, CL_ERR_ARG, "session: none given");
    cl_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    srv->cfg = *cfg;
    if (srv->cfg.workers == 0) { /* one per CPU, at most 16 */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        srv->cfg.workers = (int32_t)(ncpu < 1 ? 1 : ncpu > 16 ? 16 : ncpu);
    }
    srv->session = s;
    srv->reentrant = cl_tag_session_reentrant(s);
    srv->m.queue_limit = cfg->queue;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_mutex_init(&srv->session_mu, NULL);
    pthread_cond_init(&srv->work_cv, NULL);
    st = copy_strings(srv, cfg, err);
    if (st == CL_OK && !(srv->models_json = models_json(srv, err)))
        st = err->code;
    if (st == CL_OK)
        st = cl__serve_pool_start(srv, err);
    if (st == CL_OK)
        st = start_daemon(srv, err);
    if (st != CL_OK) {
        cl_server_free(srv);
        return st;
    }
    *out = srv;
    return CL_OK;
}

int cl_server_port(const cl_server *srv) { return srv->port; }

int cl_server_shutdown(cl_server *srv, double grace_s)
{
    if (!srv || srv->shut)
        return 0;
    struct MHD_Daemon *d = srv->daemon;
    MHD_socket listen_fd = d ? MHD_quiesce_daemon(d) : MHD_INVALID_SOCKET; /* no new ones */
    double until = cl_now() + grace_s;
    pthread_mutex_lock(&srv->mu);
    while (srv->m.in_flight > 0 && cl_now() < until) {
        pthread_mutex_unlock(&srv->mu);
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&srv->mu);
    }
    int left = (int)srv->m.in_flight;
    srv->aborting = true; /* whoever still waits answers 503 */
    pthread_mutex_unlock(&srv->mu);
    if (d)
        MHD_stop_daemon(d); /* closes idle keep-alive connections, joins their threads */
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd); /* ours after quiescing, closed only after the stop */
    srv->daemon = NULL;
    cl__serve_pool_stop(srv);
    srv->shut = true;
    return left;
}

void cl_server_free(cl_server *srv)
{
    if (!srv)
        return;
    cl_server_shutdown(srv, 0);
    pthread_mutex_destroy(&srv->mu);
    pthread_mutex_destroy(&srv->session_mu);
    pthread_cond_destroy(&srv->work_cv);
    free(srv->host);
    free(srv->api_key);
    free(srv->cors_origin);
    free(srv->scores_json);
    free(srv->models_json);
    if (srv->owns_session)
        cl_tag_session_free(srv->session);
    free(srv);
}

cl_status cl_server_metrics(cl_server *srv, cl_buf *out, cl_error *err)
{
    pthread_mutex_lock(&srv->mu);
    int rc = cl__serve_metrics_format(&srv->m, out);
    pthread_mutex_unlock(&srv->mu);
    return rc == 0 ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}
