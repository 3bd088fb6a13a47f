/*
 * openai.h - the remote tagging backend: any server that speaks the OpenAI
 * chat-completions protocol (POST <api-base>/chat/completions), such as
 * llama.cpp's llama-server, vLLM or OpenAI itself.
 *
 * Each sentence becomes one request with the prompt builder's messages.  In
 * grammar mode the sentence's GBNF grammar goes along in a "grammar" field
 * (llama-server honours it), so the answer is aligned by construction; in
 * free mode the answer is read back the paper's way (cl_answer_parse) and
 * misaligned answers are counted.  Requests run concurrently (--parallel),
 * time out, and are retried with exponential back-off on 429, 5xx and
 * connection errors, a bounded number of times.
 *
 * A fleet: api_base may list several servers, "URL1,URL2,...".  Each
 * request goes to the healthy one with the fewest requests in flight; a
 * server that fails (network error, 5xx) is taken out, its request sent
 * again to another at once, and it is re-admitted once a health check
 * (GET <base>/models) answers 200.  `parallel` counts the requests in
 * flight over the whole fleet.
 *
 * The API key is read from an environment variable, sent only as a Bearer
 * header, and never appears in any message: error texts from the server are
 * scrubbed of it.
 */
#ifndef CLINNER_OPENAI_H
#define CLINNER_OPENAI_H

#include "clinner/prompt.h"
#include "clinner/tagger.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_OPENAI_DEFAULT_API_BASE "http://127.0.0.1:8080/v1"
#define CL_OPENAI_DEFAULT_KEY_ENV "OPENAI_API_KEY"

typedef struct cl_openai_params {
    const char *api_base;   /* default CL_OPENAI_DEFAULT_API_BASE; "URL1,URL2": a fleet */
    const char *model;      /* "model" field; NULL: not sent (llama-server) */
    /* Environment variable holding the API key.  NULL: OPENAI_API_KEY, and
     * no key at all when it is unset; a variable named here must be set. */
    const char *api_key_env;
    double temperature;     /* default 0 */
    int64_t seed;           /* sent when >= 0 (default -1) */
    int32_t max_tokens;     /* 0 (default): enough for a full answer (at most 4096) */
    cl_decode decode;       /* free or grammar (forced needs llama) */
    double timeout_s;       /* whole request, default 300 */
    double connect_timeout_s; /* default 10 */
    int32_t retries;        /* attempts after the first, default 5 */
    double backoff_s;       /* first wait, doubled each time (<= 30 s), default 1 */
    int32_t parallel;       /* requests in flight, default 1 */
    cl_log_fn log;          /* retries and skips are reported here (may be NULL) */
    void *log_ctx;
} cl_openai_params;

cl_openai_params cl_openai_default_params(void);

/* A tagger that sends builder's prompts to the server.  builder is borrowed
 * and must outlive the tagger.  Nothing is sent until the first sentence. */
cl_status cl_openai_tagger_new(const cl_openai_params *params, const cl_prompt_builder *builder,
                               cl_tagger *out, cl_error *err);

/* "requests per server: URL N answered[, N failed, taken out N, re-admitted N]; ..."
 * for an openai tagger (nothing for other taggers). */
cl_status cl_openai_server_summary(const cl_tagger *t, cl_buf *out);
/* The servers an openai tagger sends to (0 for other taggers). */
int32_t cl_openai_server_count(const cl_tagger *t);

#ifdef __cplusplus
}
#endif
#endif
