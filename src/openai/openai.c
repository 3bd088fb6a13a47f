/*
 * openai.c - the chat-completions backend (openai.h) over libcurl's multi
 * interface: up to `parallel` requests in flight on one thread, each
 * sentence its own job that is (re)sent when its back-off has passed.
 *
 * Failure policy, per response:
 *   200            parse; an answer that cannot be read is an error
 *   429, 5xx       retry after backoff_s * 2^attempt (or Retry-After), at
 *   network error  most `retries` times, each retry logged
 *   400 "context"  the sentence does not fit the server's context: logged,
 *                  left all O, counted as skipped
 *   401, 403       error: the key was refused (the key itself never shown)
 *   other          error with the server's message
 * Any error stops the range: in-flight requests are cancelled and the
 * caller gets the first error.
 *
 * A fleet (api_base "URL1,URL2,..."): each request goes to the healthy
 * server with the fewest requests in flight (ties: the fewest sent, then
 * the first).  A server whose request fails with a network error or a 5xx
 * is taken out and the request is sent again at once to another healthy
 * server (no back-off; it counts as a retry); 429 sends it elsewhere
 * without taking the server out.  A server taken out gets a health check
 * (GET <base>/models) after 1 s, then after 2, 4, ... up to 30 s, and is
 * re-admitted when it answers 200.  When no server is healthy, requests
 * wait out the usual back-off.  With one URL none of this applies: the
 * failure policy above is all.  Every message built here passes through
 * redact(), which blanks any 8-byte stretch of the API key.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "clinner/openai.h"
#include "clinner/util.h"

typedef struct job {
    int32_t sent;
    int32_t server; /* index into openai.servers of the request in flight */
    char *body;
    int attempt;
    double not_before;
    CURL *easy;
    bool active, done;
    bool too_big; /* the reply passed MAX_REPLY_BYTES and was cut off */
    cl_buf resp;
    long retry_after; /* seconds from a Retry-After header, or -1 */
    char errbuf[CURL_ERROR_SIZE];
} job;

/* One server of the fleet. */
typedef struct server {
    char *base;        /* its api base, without a final '/' */
    char *url;         /* base/chat/completions */
    int32_t inflight;
    int64_t sent, answered, failed;
    bool down;         /* taken out after a failure */
    double check_at;   /* down: when to check its health */
    double check_wait; /* down: seconds until the check after that */
    int64_t taken_out, readmitted;
} server;

typedef struct openai {
    cl_openai_params p;
    char *model, *key_env;
    server *servers;
    int32_t nservers;
    char *key; /* NULL: none */
    const cl_prompt_builder *builder;
    CURLM *multi;
    struct curl_slist *headers;
    cl_tagger_stats stats;
    cl_tagger_answers answers; /* of the last tag() call */
} openai;

cl_openai_params cl_openai_default_params(void)
{
    cl_openai_params p;
    memset(&p, 0, sizeof p);
    p.api_base = CL_OPENAI_DEFAULT_API_BASE;
    p.seed = -1;
    p.decode = CL_DECODE_FREE;
    p.timeout_s = 300;
    p.connect_timeout_s = 10;
    p.retries = 5;
    p.backoff_s = 1;
    p.parallel = 1;
    return p;
}

/* ---- secrets ---- */

/* Blank every stretch of 8 or more bytes of key that appears in msg. */
static void redact(char *msg, const char *key)
{
    if (!key || !*key)
        return;
    size_t klen = strlen(key), mlen = strlen(msg);
    size_t w = klen < 8 ? klen : 8;
    for (size_t i = 0; i + w <= klen; i++)
        for (size_t at = 0; at + w <= mlen; at++)
            if (memcmp(msg + at, key + i, w) == 0) {
                memset(msg + at, '*', w);
                at += w - 1;
            }
}

/* The log sink that the notes go through (cl_logf formats them): the API key
 * is blanked out of a message before the caller's log sees it. */
static void log_redacted(void *ctx, const char *msg)
{
    const openai *o = ctx;
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", msg);
    redact(copy, o->key);
    o->p.log(o->p.log_ctx, copy);
}

#define logf_(o, ...) cl_logf((o)->p.log ? log_redacted : NULL, (void *)(o), __VA_ARGS__)

/* ---- requests ---- */

/* A chat completion for one sentence is a few kilobytes; a server sending
 * more (a misrouted download, an endless stream) is cut off, not buffered
 * until memory runs out. */
#define MAX_REPLY_BYTES (16u << 20)

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    job *j = ctx;
    if (j->resp.len + size * n > MAX_REPLY_BYTES) {
        j->too_big = true;
        return 0; /* makes curl fail the transfer */
    }
    if (cl_buf_append(&j->resp, data, size * n) != 0)
        return 0; /* makes curl fail the transfer */
    return size * n;
}

static size_t discard_body(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    job *j = ctx;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        while (*v == ' ' || *v == '\t')
            v++;
        if (isdigit((unsigned char)*v))
            j->retry_after = strtol(v, NULL, 10);
    }
    return len;
}

static char *request_body(openai *o, const cl_doc *doc, int32_t sent, cl_error *err)
{
    cl_prompt pr;
    cl_prompt_init(&pr);
    cl_status st = cl_prompt_build(o->builder, doc, sent, &pr, err);
    if (st != CL_OK)
        return NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *msgs = cJSON_CreateArray();
    bool bad = !root || !msgs;
    if (!bad) {
        cJSON_AddItemToObject(root, "messages", msgs);
        for (int32_t i = 0; i < pr.nmessages && !bad; i++) {
            cJSON *m = cJSON_CreateObject();
            bad = !m || !cJSON_AddStringToObject(m, "role", pr.messages[i].role) ||
                  !cJSON_AddStringToObject(m, "content", pr.messages[i].content);
            if (m)
                cJSON_AddItemToArray(msgs, m);
        }
    } else {
        cJSON_Delete(msgs);
    }
    cl_prompt_free(&pr);
    const cl_sentence *se = &doc->sentences[sent];
    int32_t max_tokens = o->p.max_tokens;
    if (max_tokens <= 0) {
        /* an upper bound on the answer: every model token is at least a byte */
        const cl_label_set *ls = cl_prompt_builder_labels(o->builder);
        size_t longest = 1;
        for (int32_t l = 0; l < ls->nlabels; l++)
            if (strlen(ls->labels[l]) > longest)
                longest = strlen(ls->labels[l]);
        size_t total = 16;
        for (int32_t t = se->tok_begin; t < se->tok_end; t++) {
            size_t nb;
            cl_doc_token_bytes(doc, t, &nb);
            total += nb + strlen(CL_ANSWER_SEP) + longest + 1;
        }
        /* servers refuse limits above what their models allow */
        max_tokens = total > 4096 ? 4096 : (int32_t)total;
    }
    if (!bad && o->model)
        bad = !cJSON_AddStringToObject(root, "model", o->model);
    bad = bad || !cJSON_AddNumberToObject(root, "temperature", o->p.temperature) ||
          !cJSON_AddNumberToObject(root, "max_tokens", max_tokens) ||
          !cJSON_AddBoolToObject(root, "stream", 0);
    if (!bad && o->p.seed >= 0)
        bad = !cJSON_AddNumberToObject(root, "seed", (double)o->p.seed);
    if (!bad && o->p.decode == CL_DECODE_GRAMMAR) {
        cl_buf g;
        cl_buf_init(&g);
        st = cl_grammar_for_sentence(cl_prompt_builder_labels(o->builder), doc, sent, &g, err);
        if (st != CL_OK) {
            cl_buf_free(&g);
            cJSON_Delete(root);
            return NULL;
        }
        bad = !cJSON_AddStringToObject(root, "grammar", g.data);
        cl_buf_free(&g);
    }
    char *body = bad ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!body)
        cl_error_set(err, CL_ERR_NOMEM, "out of memory building a request");
    return body;
}

/* Check the health of servers taken out whose time has come; re-admit those
 * that answer. */
static void check_servers(openai *o)
{
    double now = cl_now();
    for (int32_t i = 0; i < o->nservers; i++) {
        server *sv = &o->servers[i];
        if (!sv->down || sv->check_at > now)
            continue;
        CURL *e = curl_easy_init();
        cl_buf url;
        cl_buf_init(&url);
        long http = 0;
        if (e && cl_buf_printf(&url, "%s/models", sv->base) == 0) {
            curl_easy_setopt(e, CURLOPT_URL, url.data);
            curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
            curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
            if (curl_easy_perform(e) == CURLE_OK)
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &http);
        }
        if (e)
            curl_easy_cleanup(e);
        cl_buf_free(&url);
        if (http == 200) {
            sv->down = false;
            sv->readmitted++;
            logf_(o, "%s: healthy again, back in the fleet", sv->base);
        } else {
            sv->check_wait = sv->check_wait * 2 > 30 ? 30 : sv->check_wait * 2;
            sv->check_at = cl_now() + sv->check_wait;
        }
    }
}

/* The healthy server with the fewest requests in flight, or -1. */
static int32_t pick_server(const openai *o)
{
    int32_t best = -1;
    for (int32_t i = 0; i < o->nservers; i++) {
        const server *sv = &o->servers[i];
        if (sv->down)
            continue;
        if (best < 0 || sv->inflight < o->servers[best].inflight ||
            (sv->inflight == o->servers[best].inflight && sv->sent < o->servers[best].sent))
            best = i;
    }
    return best;
}

/* The next health check of the servers taken out (0: none is out). */
static double next_check(const openai *o)
{
    double at = 0;
    for (int32_t i = 0; i < o->nservers; i++)
        if (o->servers[i].down && (at == 0 || o->servers[i].check_at < at))
            at = o->servers[i].check_at;
    return at;
}

/* A fleet server failed a request: take it out (never the only one). */
static void take_out(openai *o, server *sv, const char *why)
{
    sv->failed++;
    if (o->nservers < 2 || sv->down)
        return;
    sv->down = true;
    sv->taken_out++;
    sv->check_wait = 1;
    sv->check_at = cl_now() + sv->check_wait;
    logf_(o, "%s: %s; taken out of the fleet until a health check passes", sv->base, why);
}

static cl_status start_job(openai *o, job *j, cl_error *err)
{
    j->server = pick_server(o);
    if (j->server < 0) { /* every server is out: wait for the next check */
        j->not_before = next_check(o);
        return CL_OK;
    }
    server *sv = &o->servers[j->server];
    if (!j->easy && !(j->easy = curl_easy_init()))
        return cl_error_set(err, CL_ERR_NOMEM, "cannot create a curl handle");
    CURL *e = j->easy;
    curl_easy_reset(e);
    cl_buf_reset(&j->resp);
    j->retry_after = -1;
    j->too_big = false;
    j->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, sv->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, o->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->p.timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->p.connect_timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    if (curl_multi_add_handle(o->multi, e) != CURLM_OK)
        return cl_error_set(err, CL_ERR_INTERNAL, "curl: cannot start a request");
    j->active = true;
    sv->inflight++;
    sv->sent++;
    return CL_OK;
}

static void stop_job(openai *o, job *j)
{
    if (j->active) {
        curl_multi_remove_handle(o->multi, j->easy);
        o->servers[j->server].inflight--;
    }
    j->active = false;
}

/* The server's error text from a JSON error body ({"error":{"message":..}}
 * or {"error":"..."}), else the body's start; into out. */
static void server_message(const cl_buf *resp, char *out, size_t n)
{
    out[0] = '\0';
    cJSON *root = resp->data ? cJSON_Parse(resp->data) : NULL;
    cJSON *e = root ? cJSON_GetObjectItemCaseSensitive(root, "error") : NULL;
    cJSON *m = e && cJSON_IsObject(e) ? cJSON_GetObjectItemCaseSensitive(e, "message") : e;
    if (m && cJSON_IsString(m))
        snprintf(out, n, "%s", m->valuestring);
    else if (resp->data)
        snprintf(out, n, "%.200s", resp->data);
    cJSON_Delete(root);
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
}

static bool mentions_context(const char *msg)
{
    for (const char *p = msg; *p; p++)
        if (strncasecmp(p, "context", 7) == 0)
            return true;
    return false;
}

/* Read a 200 reply into the sentence's tags. */
static cl_status apply_reply(openai *o, cl_doc *doc, job *j, cl_error *err)
{
    const cl_sentence *se = &doc->sentences[j->sent];
    cJSON *root = j->resp.data ? cJSON_Parse(j->resp.data) : NULL;
    cJSON *choices = root ? cJSON_GetObjectItemCaseSensitive(root, "choices") : NULL;
    cJSON *c0 = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
    cJSON *msg = c0 ? cJSON_GetObjectItemCaseSensitive(c0, "message") : NULL;
    cJSON *content = msg ? cJSON_GetObjectItemCaseSensitive(msg, "content") : NULL;
    if (!root || !c0 || !msg || !(cJSON_IsString(content) || cJSON_IsNull(content))) {
        cJSON_Delete(root);
        return cl_error_set(err, CL_ERR_NET,
                            "%s: sentence %d: the server's reply is not a chat completion",
                            doc->id ? doc->id : "?", j->sent);
    }
    cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    if (usage) {
        cJSON *pt = cJSON_GetObjectItemCaseSensitive(usage, "prompt_tokens");
        cJSON *ct = cJSON_GetObjectItemCaseSensitive(usage, "completion_tokens");
        /* counts from the server, only summed for the summary: anything
         * but a plausible count is ignored (casting 1e300 is undefined) */
        if (cJSON_IsNumber(pt) && pt->valuedouble >= 0 && pt->valuedouble < 1e12)
            o->stats.prompt_tokens += (int64_t)pt->valuedouble;
        if (cJSON_IsNumber(ct) && ct->valuedouble >= 0 && ct->valuedouble < 1e12)
            o->stats.generated_tokens += (int64_t)ct->valuedouble;
    }
    const char *text = cJSON_IsString(content) ? content->valuestring : "";
    int32_t n = se->tok_end - se->tok_begin;
    int32_t *labels = malloc(((size_t)n + 1) * sizeof *labels);
    if (!labels) {
        cJSON_Delete(root);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_answer_info info;
    memset(&info, 0, sizeof info);
    const cl_label_set *ls = cl_prompt_builder_labels(o->builder);
    cl_status st = CL_OK;
    /* a grammar answer must be exact: anything else counts as misaligned
     * and is read the paper's way */
    bool exact = o->p.decode == CL_DECODE_GRAMMAR &&
                 cl_answer_exact(ls, text, strlen(text), doc, j->sent, labels);
    if (!exact)
        st = cl_answer_parse(ls, text, strlen(text), n, labels, &info, err);
    if (st == CL_OK && !exact && o->p.decode == CL_DECODE_GRAMMAR && !info.misaligned) {
        info.misaligned = true;
        logf_(o, "%s: sentence %d: the answer does not follow the grammar", doc->id ? doc->id : "?",
              j->sent);
    }
    for (int32_t i = 0; i < n && st == CL_OK; i++)
        st = cl_doc_set_tag(doc, se->tok_begin + i, ls->labels[labels[i]], err);
    if (st == CL_OK)
        st = cl_tagger_answers_set(&o->answers, j->sent, text, strlen(text),
                                   exact ? n : info.lines, info.misaligned, info.invalid_labels,
                                   err);
    if (st == CL_OK) {
        o->stats.sentences++;
        o->stats.tokens += n;
        o->stats.misaligned += info.misaligned;
        o->stats.invalid_labels += info.invalid_labels;
    }
    free(labels);
    cJSON_Delete(root);
    return st;
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return true;
    default:
        return false;
    }
}

/* Decide what a finished transfer means; sets j->done or schedules a retry. */
static cl_status finish_job(openai *o, cl_doc *doc, job *j, CURLcode rc, cl_error *err)
{
    stop_job(o, j);
    server *sv = &o->servers[j->server];
    const char *url = sv->url;
    long http = 0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &http);
    const char *id = doc->id ? doc->id : "?";
    char why[512];
    bool retry = false;
    if (j->too_big)
        return cl_error_set(err, CL_ERR_NET,
                            "%s: sentence %d: the server's reply passed %u MiB and was cut off "
                            "(a chat completion for one sentence is a few KiB)",
                            url, j->sent, MAX_REPLY_BYTES >> 20);
    if (rc != CURLE_OK) {
        snprintf(why, sizeof why, "%s", j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
        if (!retryable_curl(rc))
            return cl_error_set(err, CL_ERR_NET, "%s: %s", url, why);
        retry = true;
    } else if (http == 200) {
        j->done = true;
        sv->answered++;
        return apply_reply(o, doc, j, err);
    } else if (http == 429 || http >= 500) {
        char msg[256];
        server_message(&j->resp, msg, sizeof msg);
        snprintf(why, sizeof why, "HTTP %ld%s%s", http, msg[0] ? ": " : "", msg);
        retry = true;
    } else if (http == 401 || http == 403) {
        return cl_error_set(err, CL_ERR_NET,
                            "%s: HTTP %ld: the server refused the API key%s%s%s", url, http,
                            o->key ? " (from $" : " (none was sent: set $",
                            o->key_env, o->key ? ")" : ")");
    } else {
        char msg[512];
        server_message(&j->resp, msg, sizeof msg);
        if (http == 400 && mentions_context(msg)) {
            /* longer than the server's context: leave it O, say so */
            logf_(o, "%s: sentence %d skipped (left O): %s", id, j->sent, msg);
            o->stats.skipped++;
            j->done = true;
            return CL_OK;
        }
        return cl_error_set(err, CL_ERR_NET, "%s: HTTP %ld: %s", url, http,
                            msg[0] ? msg : "(no message)");
    }
    if (retry) {
        if (http != 429)
            take_out(o, sv, why);
        else
            sv->failed++;
        if (o->nservers > 1 && pick_server(o) >= 0 && j->attempt < o->p.retries) {
            /* another server is healthy: send it there now */
            j->attempt++;
            o->stats.retries++;
            j->not_before = 0;
            logf_(o, "%s: sentence %d: %s; sent to another server (retry %d of %d)", id,
                  j->sent, why, j->attempt, o->p.retries);
            return CL_OK;
        }
        if (j->attempt >= o->p.retries)
            return cl_error_set(err, CL_ERR_NET, "%s: %s (gave up after %d attempts)", url,
                                why, j->attempt + 1);
        double wait = o->p.backoff_s * pow(2.0, j->attempt);
        if (wait > 30)
            wait = 30;
        if (j->retry_after >= 0 && j->retry_after <= 60 && j->retry_after > wait)
            wait = (double)j->retry_after;
        j->attempt++;
        o->stats.retries++;
        j->not_before = cl_now() + wait;
        logf_(o, "%s: sentence %d: %s; retry %d of %d in %.1f s", id, j->sent, why, j->attempt,
              o->p.retries, wait);
    }
    return CL_OK;
}

static cl_status run_jobs(openai *o, cl_doc *doc, job *jobs, int32_t njobs, cl_error *err)
{
    int32_t active = 0;
    cl_status st = CL_OK;
    while (st == CL_OK) {
        int32_t done = 0;
        for (int32_t i = 0; i < njobs; i++)
            done += jobs[i].done;
        if (done == njobs)
            break;
        if (o->nservers > 1)
            check_servers(o);
        /* jobs waiting out a back-off hold their slot, so that a server
         * that is down is not sent every other sentence meanwhile */
        double now = cl_now(), next = 0; /* earliest back-off end of a waiting job */
        int32_t waiting = 0;
        for (int32_t i = 0; i < njobs; i++) {
            job *j = &jobs[i];
            if (!j->done && !j->active && j->not_before > now) {
                waiting++;
                if (next == 0 || j->not_before < next)
                    next = j->not_before;
            }
        }
        for (int32_t i = 0; i < njobs && st == CL_OK; i++) {
            job *j = &jobs[i];
            if (j->done || j->active || j->not_before > now)
                continue;
            if (j->attempt == 0 && active + waiting >= o->p.parallel)
                continue;
            if (active >= o->p.parallel)
                continue;
            st = start_job(o, j, err);
            active += st == CL_OK && j->active;
        }
        if (st != CL_OK)
            break;
        int running = 0;
        if (curl_multi_perform(o->multi, &running) != CURLM_OK) {
            st = cl_error_set(err, CL_ERR_NET, "curl: transfer failure");
            break;
        }
        CURLMsg *m;
        int left, finished = 0;
        while (st == CL_OK && (m = curl_multi_info_read(o->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            job *j = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            CURLcode rc = m->data.result;
            active--;
            finished++;
            st = finish_job(o, doc, j, rc, err);
        }
        if (st != CL_OK || finished > 0)
            continue;
        /* nothing finished: wait for network activity, or for the first
         * back-off to end when nothing is in flight */
        double wait_ms = 200;
        if (active == 0)
            wait_ms = next > 0 ? (next - cl_now()) * 1000 : 0;
        if (wait_ms > 1000)
            wait_ms = 1000;
        if (wait_ms >= 1)
            curl_multi_poll(o->multi, NULL, 0, (int)wait_ms, NULL);
    }
    for (int32_t i = 0; i < njobs; i++)
        stop_job(o, &jobs[i]);
    return st;
}

static cl_status openai_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    openai *o = self;
    if (sb < 0 || se > doc->nsentences || sb > se)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentences [%d, %d) out of range",
                            doc->id ? doc->id : "?", sb, se);
    cl_status st = cl_tagger_answers_reset(&o->answers, sb, se, err);
    if (st != CL_OK)
        return st;
    job *jobs = calloc((size_t)(se - sb) + 1, sizeof *jobs);
    if (!jobs)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t njobs = 0;
    for (int32_t s = sb; s < se && st == CL_OK; s++) {
        if (doc->sentences[s].tok_end <= doc->sentences[s].tok_begin) {
            logf_(o, "%s: sentence %d skipped: it has no tokens", doc->id ? doc->id : "?", s);
            o->stats.skipped++;
            continue;
        }
        job *j = &jobs[njobs];
        j->sent = s;
        cl_buf_init(&j->resp);
        if (!(j->body = request_body(o, doc, s, err)))
            st = err ? err->code : CL_ERR_NOMEM;
        else
            njobs++;
    }
    if (st == CL_OK)
        st = run_jobs(o, doc, jobs, njobs, err);
    for (int32_t i = 0; i < njobs; i++) {
        if (jobs[i].easy)
            curl_easy_cleanup(jobs[i].easy);
        free(jobs[i].body);
        cl_buf_free(&jobs[i].resp);
    }
    free(jobs);
    if (st != CL_OK && err)
        redact(err->msg, o->key);
    return st;
}

static void openai_stats(void *self, cl_tagger_stats *out)
{
    *out = ((openai *)self)->stats;
}

static const cl_tagger_answer *openai_answer(void *self, int32_t sent)
{
    return cl_tagger_answers_get(&((openai *)self)->answers, sent);
}

static void openai_free(void *self)
{
    openai *o = self;
    if (!o)
        return;
    if (o->multi)
        curl_multi_cleanup(o->multi);
    curl_slist_free_all(o->headers);
    if (o->key) {
        volatile char *k = o->key;
        for (size_t i = 0; k[i]; i++)
            k[i] = 0;
        free(o->key);
    }
    for (int32_t i = 0; i < o->nservers; i++) {
        free(o->servers[i].base);
        free(o->servers[i].url);
    }
    free(o->servers);
    free(o->model);
    free(o->key_env);
    cl_tagger_answers_free(&o->answers);
    free(o);
    curl_global_cleanup();
}

static const cl_tagger_ops openai_ops = {
    .name = "openai",
    .tag = openai_tag,
    .free = openai_free,
    .stats = openai_stats,
    .answer = openai_answer,
};

/* "URL1,URL2,..." into o->servers; -1 on out of memory. */
static int parse_servers(openai *o, const char *list)
{
    int32_t n = 1;
    for (const char *c = list; *c; c++)
        n += *c == ',';
    if (!(o->servers = calloc((size_t)n, sizeof *o->servers)))
        return -1;
    for (const char *u = list; u;) {
        const char *end = strchr(u, ',');
        size_t len = end ? (size_t)(end - u) : strlen(u);
        while (len > 0 && u[len - 1] == '/')
            len--;
        server *sv = &o->servers[o->nservers++];
        cl_buf url;
        cl_buf_init(&url);
        sv->base = cl_strndup(u, len);
        if (!sv->base || cl_buf_printf(&url, "%s/chat/completions", sv->base) != 0) {
            cl_buf_free(&url);
            return -1;
        }
        sv->url = cl_buf_detach(&url);
        u = end ? end + 1 : NULL;
    }
    return 0;
}

cl_status cl_openai_server_summary(const cl_tagger *t, cl_buf *out)
{
    if (!t || t->ops != &openai_ops)
        return CL_OK;
    const openai *o = t->self;
    int bad = cl_buf_puts(out, "requests per server:");
    for (int32_t i = 0; i < o->nservers && !bad; i++) {
        const server *sv = &o->servers[i];
        bad = cl_buf_printf(out, "%s %s %lld answered", i ? ";" : "", sv->base,
                            (long long)sv->answered);
        if (!bad && sv->failed)
            bad = cl_buf_printf(out, ", %lld failed", (long long)sv->failed);
        if (!bad && sv->taken_out)
            bad = cl_buf_printf(out, ", taken out %lld, re-admitted %lld", (long long)sv->taken_out,
                                (long long)sv->readmitted);
    }
    return bad ? CL_ERR_NOMEM : CL_OK;
}

int32_t cl_openai_server_count(const cl_tagger *t)
{
    return t && t->ops == &openai_ops ? ((const openai *)t->self)->nservers : 0;
}

cl_status cl_openai_tagger_new(const cl_openai_params *params, const cl_prompt_builder *builder,
                               cl_tagger *out, cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    cl_openai_params p = params ? *params : cl_openai_default_params();
    if (!builder)
        return cl_error_set(err, CL_ERR_ARG, "openai: no prompt builder");
    if (p.decode == CL_DECODE_FORCED)
        return cl_error_set(err, CL_ERR_ARG,
                            "openai: forced decoding needs the model's log-probabilities "
                            "in process: use the llama backend (or grammar decoding)");
    if (p.parallel < 1 || p.parallel > 256)
        return cl_error_set(err, CL_ERR_ARG, "openai: parallel must be in 1..256 (got %d)",
                            p.parallel);
    if (p.retries < 0 || p.retries > 100)
        return cl_error_set(err, CL_ERR_ARG, "openai: retries must be in 0..100 (got %d)",
                            p.retries);
    if (!(p.timeout_s > 0) || !(p.connect_timeout_s > 0) || !(p.backoff_s >= 0))
        return cl_error_set(err, CL_ERR_ARG, "openai: timeouts must be positive");
    if (!(p.temperature >= 0 && p.temperature <= 2))
        return cl_error_set(err, CL_ERR_ARG, "openai: temperature must be in [0, 2] (got %g)",
                            p.temperature);
    if (p.max_tokens < 0)
        return cl_error_set(err, CL_ERR_ARG, "openai: max_tokens must be >= 0");
    const char *base = p.api_base && *p.api_base ? p.api_base : CL_OPENAI_DEFAULT_API_BASE;
    for (const char *u = base; u; u = strchr(u, ',') ? strchr(u, ',') + 1 : NULL)
        if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
            return cl_error_set(err, CL_ERR_ARG,
                                "openai: api_base: each URL must start with http:// or "
                                "https:// (got '%s')",
                                base);
    const char *env = p.api_key_env ? p.api_key_env : CL_OPENAI_DEFAULT_KEY_ENV;
    const char *key = getenv(env);
    if (key && !*key)
        key = NULL;
    if (!key && p.api_key_env)
        return cl_error_set(err, CL_ERR_ARG,
                            "openai: the API-key variable $%s is not set (api_key_env)", env);
    if (key && strpbrk(key, "\r\n"))
        return cl_error_set(err, CL_ERR_ARG, "openai: $%s holds a line break", env);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cl_error_set(err, CL_ERR_NET, "curl: initialisation failed");
    openai *o = calloc(1, sizeof *o);
    if (!o) {
        curl_global_cleanup();
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    o->p = p;
    o->builder = builder;
    bool bad = parse_servers(o, base) != 0;
    o->model = p.model ? cl_strdup(p.model) : NULL;
    o->key_env = cl_strdup(env);
    o->key = key ? cl_strdup(key) : NULL;
    bad = bad || (p.model && !o->model) || !o->key_env || (key && !o->key);
    o->p.api_base = o->p.model = o->p.api_key_env = NULL; /* not kept: copies above */
    struct curl_slist *h = NULL;
    if (!bad) {
        h = curl_slist_append(NULL, "Content-Type: application/json");
        h = h ? curl_slist_append(h, "Expect:") : NULL;
        if (h && o->key) {
            cl_buf auth;
            cl_buf_init(&auth);
            if (cl_buf_printf(&auth, "Authorization: Bearer %s", o->key) == 0) {
                struct curl_slist *h2 = curl_slist_append(h, auth.data);
                if (!h2) {
                    curl_slist_free_all(h);
                    h = NULL;
                } else {
                    h = h2;
                }
            }
            memset(auth.data, 0, auth.len);
            cl_buf_free(&auth);
        }
        bad = !h;
    }
    o->headers = h;
    if (!bad && !(o->multi = curl_multi_init()))
        bad = true;
    if (bad) {
        openai_free(o);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    curl_multi_setopt(o->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)p.parallel);
    out->ops = &openai_ops;
    out->self = o;
    return CL_OK;
}
