/*
 * serve.h - clinner as an HTTP service: one tagging session (session.h)
 * behind a small JSON API and a web page, built on libmicrohttpd.
 *
 *   POST /v1/tag     {"text": "..."} or {"documents": [{"id": ..., "text": ...}, ...]},
 *                    optionally "tokenizer": "paper" | "clinical"; the answer is a
 *                    JSON array of the document objects `clinner tag --to jsonl`
 *                    writes (the same writer), or, with Accept: application/x-ndjson,
 *                    one document a line, each sent as soon as it and those before
 *                    it are tagged
 *   GET  /v1/models  what is loaded: backend, model, tokenizer, types, labels, scores
 *   GET  /healthz    200 while the server runs
 *   GET  /metrics    Prometheus text: requests by status, latency histogram, tokens
 *                    and documents tagged, queue length
 *   GET  /           the web page given in the config (cfg.page)
 *
 * Pressure: a body larger than max_body gets 413 (before it is read when it
 * says its length); at most `queue` tagging requests are admitted at once
 * (being tagged or waiting for a worker), more get 503 with Retry-After; a
 * request that takes longer than request_timeout_s gets 504 (its remaining
 * documents are dropped).  Documents are tagged by `workers` threads (one
 * when the session is not reentrant, and then tag calls are serialised).
 * Connections are kept alive (HTTP/1.1) and closed after idle_timeout_s.
 *
 * Bad requests get 400 and {"error": "..."} naming the problem: invalid
 * JSON (with the byte offset), invalid UTF-8 (with the byte offset), a
 * missing or mistyped field (with its path, "documents[3].text").
 *
 * The access log (cfg.log) gets one line per request: method, path, status,
 * bytes sent, milliseconds; never a document's text, never a key.
 */
#ifndef CLINNER_SERVE_H
#define CLINNER_SERVE_H

#include "clinner/doc.h"
#include "clinner/session.h"
#include "clinner/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the request body ---- */

typedef struct cl_tag_request {
    cl_corpus *docs;          /* the documents, in request order (ids filled) */
    bool has_tokenizer;       /* "tokenizer" was given */
    cl_tokenizer_kind tokenizer;
} cl_tag_request;

/* Parse a POST /v1/tag body (n bytes, need not be NUL-terminated).  At most
 * max_docs documents (and at least one).  Errors (CL_ERR_PARSE, CL_ERR_UTF8,
 * CL_ERR_ARG, CL_ERR_RANGE for too many documents) name the problem:
 * "invalid JSON near byte 17", "field documents[2].text: expected a string".
 * A document without "id" gets its 1-based position ("1", "2", ...); the
 * single-text form gets the id "text". */
cl_status cl_tag_request_parse(const char *body, size_t n, int32_t max_docs,
                               cl_tag_request *out, cl_error *err);
void cl_tag_request_free(cl_tag_request *r);

/* ---- the server ---- */

typedef struct cl_serve_config {
    const char *host;          /* address to listen on (default "127.0.0.1") */
    int port;                  /* 0: any free port (see cl_server_port) */
    int32_t workers;           /* tagging threads (default 1; 0: one per CPU, at most 16) */
    int32_t queue;             /* tagging requests admitted at once (default 64) */
    int32_t max_docs;          /* documents per request (default 1000) */
    int32_t max_connections;   /* open connections (default 256) */
    size_t max_body;           /* request body bytes (default 10 MiB) */
    double request_timeout_s;  /* time to tag one request (default 60; 0: none) */
    double idle_timeout_s;     /* keep-alive connections idle this long are closed
                                * (default 30) */
    double retry_after_s;      /* Retry-After sent with 503 (default 1) */
    const char *api_key;       /* bearer token required on /v1/ (NULL: none); the value,
                                * not a variable name; never logged */
    const char *cors_origin;   /* Access-Control-Allow-Origin (NULL: no CORS headers) */
    const char *page;          /* GET / (HTML), page_len bytes; NULL: 404 */
    size_t page_len;
    const char *scores_json;   /* a JSON object (`clinner eval --json`) shown by /v1/models
                                * as "test_scores" (NULL: null) */
    cl_log_fn log;             /* access log lines and notes (may be NULL) */
    void *log_ctx;
} cl_serve_config;

cl_serve_config cl_serve_config_default(void);

typedef struct cl_server cl_server;

/* Start listening and serving with session s (borrowed: it must outlive the
 * server).  Fails with a message naming the field at fault ("port: ..."). */
cl_status cl_server_start(const cl_serve_config *cfg, cl_tag_session *s, cl_server **out,
                          cl_error *err);
/* Open a tagging session from tag (cl_tag_session_open) and start a server
 * on it that owns it (cl_server_free frees it).  With cfg->scores_json
 * NULL the scores shown are read by cl_serve_read_scores(scores_path, the
 * session's model).  Errors name the field at fault: the session's
 * ("model: ..."), "scores_path: ...", or the server's ("port: ..."). */
cl_status cl_server_open(const cl_serve_config *cfg, const cl_tag_config *tag,
                         const char *scores_path, cl_server **out, cl_error *err);
/* The port actually bound (the chosen one when cfg.port was 0). */
int cl_server_port(const cl_server *srv);
/* Stop accepting connections, wait up to grace_s for the requests in flight
 * to finish, then close everything.  Returns the requests still in flight
 * when it gave up (0: all finished).  Safe to call twice. */
int cl_server_shutdown(cl_server *srv, double grace_s);
/* Shut down (no grace) if still running, and free. */
void cl_server_free(cl_server *srv);

/* The Prometheus text of the server's counters so far (what /metrics
 * answers); appended to out. */
cl_status cl_server_metrics(cl_server *srv, cl_buf *out, cl_error *err);

/* "listening on http://HOST:PORT (backend B, model M, N tagging threads[,
 * bearer key required])", appended to out. */
cl_status cl_server_describe(const cl_server *srv, cl_buf *out);

/* ---- around the server ---- */

/* The scores /v1/models shows (cl_serve_config.scores_json) for a session
 * with this model: the file at path, else MODEL.scores.json beside the
 * model when it is readable.  *json: the text, a JSON object (caller
 * frees), or NULL when there is none.  CL_ERR_PARSE when it is not an
 * object. */
cl_status cl_serve_read_scores(const char *path, const char *model, char **json, cl_error *err);
/* For a program that serves until told to stop: block SIGTERM and SIGINT
 * in the calling thread, and so in the threads it starts afterwards (call
 * it before cl_server_start), and ignore SIGPIPE (a client hanging up). */
void cl_serve_block_stop_signals(void);
/* Wait for SIGTERM or SIGINT (blocked as above) and return which. */
int cl_serve_wait_stop_signal(void);

#ifdef __cplusplus
}
#endif
#endif
