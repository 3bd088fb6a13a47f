/*
 * pool.c - the tagging workers of `clinner serve` and their bounded queue.
 *
 * A connection thread admits its request body as a job (or is refused when
 * `queue` jobs are already admitted: the server answers 503), then waits.
 * A worker parses the body (cl_tag_request_parse) and puts the job's
 * documents at the head of the queue; workers then take documents one at a
 * time from the oldest job that still has some, so a request with many
 * documents is tagged by all workers at once while other requests'
 * documents queue behind it in arrival order.  Parsing here rather than in
 * the connection threads keeps the allocations that depend on the input in
 * the few worker threads: with one thread per connection, glibc's
 * per-thread caches of freed blocks would otherwise fill in every
 * connection thread, and the resident size would climb for thousands of
 * requests before it settled.  Each document is tagged through the session
 * (serialised by a mutex when the session is not reentrant) and written as
 * its JSONL line with the corpus writer (cl_doc_write), the very bytes
 * `clinner tag --to jsonl` writes.
 *
 * A job is freed by whoever drops the last reference: the connection
 * (cl__serve_job_finish), the pending list (when its last document is taken)
 * or a worker still busy with one of its documents.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clinner/corpus.h"
#include "clinner/tokenize.h"
#include "serve/serve_internal.h"

static void job_free(serve_job *j)
{
    free(j->body);
    for (int32_t i = 0; i < j->ndocs; i++)
        free(j->lines[i]);
    free(j->lines);
    free(j->lens);
    cl_tag_request_free(&j->req);
    pthread_cond_destroy(&j->cv);
    free(j);
}

/* Drop one reference (srv->mu held). */
static void job_unref_locked(serve_job *j)
{
    if (--j->refs == 0)
        job_free(j);
}

/* Tag document i of j and write its line (no lock held). */
static cl_status tag_document(cl_server *srv, serve_job *j, int32_t i, char **line, size_t *len,
                              int64_t *ntokens, cl_error *err)
{
    cl_doc *doc = j->req.docs->docs[i];
    cl_status st = CL_OK;
    if (j->req.has_tokenizer && doc->ntokens == 0)
        st = cl_tokenize_doc(doc, j->req.tokenizer, err);
    if (st == CL_OK) {
        if (!srv->reentrant)
            pthread_mutex_lock(&srv->session_mu);
        st = cl_tag_session_tag_doc(srv->session, doc, err);
        if (!srv->reentrant)
            pthread_mutex_unlock(&srv->session_mu);
    }
    if (st != CL_OK)
        return cl_error_prefix(err, "document %s: ", doc->id);
    *ntokens = doc->ntokens;
    FILE *fp = open_memstream(line, len);
    if (!fp)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    st = cl_doc_write(doc, CL_FORMAT_JSONL, fp, NULL, err);
    if (fclose(fp) != 0 && st == CL_OK)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory writing document %s", doc->id);
    if (st != CL_OK) {
        free(*line);
        *line = NULL;
    }
    /* the document is freed here, by the thread that filled it: a block
     * freed by another thread stays in that thread's cache, and the
     * connection threads would keep them by the thousand */
    cl_doc_free(doc);
    j->req.docs->docs[i] = NULL;
    return st;
}

/* Take j (unparsed, at the head of the pending list) off the list, parse
 * its body, and put it back at the head with its documents, or mark it
 * refused (srv->mu held on entry and exit). */
static void parse_job(cl_server *srv, serve_job *j)
{
    srv->pending_head = j->next; /* the list's reference is the worker's now */
    if (!srv->pending_head)
        srv->pending_tail = NULL;
    j->next = NULL;
    char *body = j->body;
    size_t len = j->body_len;
    j->body = NULL;
    bool cancelled = j->cancelled;
    pthread_mutex_unlock(&srv->mu);

    cl_tag_request req;
    memset(&req, 0, sizeof req);
    cl_error err;
    cl_error_clear(&err);
    cl_status st = cancelled ? cl_error_set(&err, CL_ERR_ARG, "cancelled")
                             : cl_tag_request_parse(body ? body : "", len, srv->cfg.max_docs,
                                                    &req, &err);
    free(body);
    char **lines = NULL;
    size_t *lens = NULL;
    if (st == CL_OK) {
        lines = calloc((size_t)req.docs->ndocs, sizeof *lines);
        lens = calloc((size_t)req.docs->ndocs, sizeof *lens);
        if (!lines || !lens)
            st = cl_error_set(&err, CL_ERR_NOMEM, "out of memory");
    }

    pthread_mutex_lock(&srv->mu);
    j->parsed = true;
    if (st != CL_OK) {
        cl_tag_request_free(&req);
        free(lines);
        free(lens);
        j->bad_request = st != CL_ERR_NOMEM;
        j->st = st;
        j->err = err;
        pthread_cond_broadcast(&j->cv);
        job_unref_locked(j);
        return;
    }
    j->req = req;
    j->ndocs = req.docs->ndocs;
    j->lines = lines;
    j->lens = lens;
    srv->m.queue_documents += j->ndocs;
    j->next = srv->pending_head; /* first in line: it has waited its turn */
    srv->pending_head = j;
    if (!srv->pending_tail)
        srv->pending_tail = j;
    pthread_cond_broadcast(&srv->work_cv);
    pthread_cond_broadcast(&j->cv);
}

static void *worker_main(void *arg)
{
    cl_server *srv = arg;
    pthread_mutex_lock(&srv->mu);
    for (;;) {
        while (!srv->stopping && !srv->pending_head)
            pthread_cond_wait(&srv->work_cv, &srv->mu);
        if (srv->stopping)
            break;
        serve_job *j = srv->pending_head;
        if (!j->parsed) {
            parse_job(srv, j);
            continue;
        }
        int32_t i = j->next_doc++;
        srv->m.queue_documents--;
        j->refs++;
        if (j->next_doc == j->ndocs) { /* off the list, and so its reference */
            srv->pending_head = j->next;
            if (!srv->pending_head)
                srv->pending_tail = NULL;
            j->next = NULL;
            job_unref_locked(j);
        }
        bool skip = j->cancelled || j->st != CL_OK;
        pthread_mutex_unlock(&srv->mu);

        char *line = NULL;
        size_t len = 0;
        int64_t ntok = 0;
        cl_error err;
        cl_error_clear(&err);
        cl_status st = CL_OK;
        if (!skip) {
            st = tag_document(srv, j, i, &line, &len, &ntok, &err);
        } else {
            cl_doc_free(j->req.docs->docs[i]); /* see tag_document */
            j->req.docs->docs[i] = NULL;
        }

        pthread_mutex_lock(&srv->mu);
        if (!skip && st == CL_OK) {
            j->lines[i] = line;
            j->lens[i] = len;
            srv->m.documents++;
            srv->m.tokens += ntok;
        } else if (!skip && j->st == CL_OK) {
            j->st = st;
            j->err = err;
        }
        j->ndone++;
        pthread_cond_broadcast(&j->cv);
        job_unref_locked(j);
    }
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

cl_status cl__serve_pool_start(cl_server *srv, cl_error *err)
{
    int32_t n = srv->reentrant ? srv->cfg.workers : 1;
    srv->threads = calloc((size_t)n, sizeof *srv->threads);
    if (!srv->threads)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < n; i++) {
        int rc = pthread_create(&srv->threads[i], NULL, worker_main, srv);
        if (rc != 0) {
            cl__serve_pool_stop(srv);
            return cl_error_set(err, CL_ERR_INTERNAL, "workers: cannot start thread %d: %s",
                                i + 1, strerror(rc));
        }
        srv->nthreads++;
    }
    srv->m.workers = n;
    return CL_OK;
}

void cl__serve_pool_stop(cl_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    srv->stopping = true;
    pthread_cond_broadcast(&srv->work_cv);
    pthread_mutex_unlock(&srv->mu);
    for (int32_t i = 0; i < srv->nthreads; i++)
        pthread_join(srv->threads[i], NULL);
    srv->nthreads = 0;
    free(srv->threads);
    srv->threads = NULL;
    /* documents still pending belong to connections that are gone too */
    pthread_mutex_lock(&srv->mu);
    while (srv->pending_head) {
        serve_job *j = srv->pending_head;
        srv->pending_head = j->next;
        srv->m.queue_documents -= j->ndocs - j->next_doc;
        j->next_doc = j->ndocs;
        j->next = NULL;
        job_unref_locked(j);
    }
    srv->pending_tail = NULL;
    pthread_mutex_unlock(&srv->mu);
}

static serve_job *job_new(char *body, size_t len)
{
    serve_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_condattr_t ca;
    bool cv_ok = pthread_condattr_init(&ca) == 0;
    if (cv_ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        cv_ok = pthread_cond_init(&j->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cv_ok) {
        free(j);
        return NULL;
    }
    j->body = body;
    j->body_len = len;
    j->refs = 2; /* the connection's and the pending list's */
    return j;
}

serve_job *cl__serve_job_submit(cl_server *srv, char *body, size_t len, bool *busy)
{
    *busy = false;
    pthread_mutex_lock(&srv->mu);
    if (srv->m.queue_requests >= srv->cfg.queue || srv->aborting) {
        *busy = true;
        srv->m.rejected_busy++;
        pthread_mutex_unlock(&srv->mu);
        free(body);
        return NULL;
    }
    serve_job *j = job_new(body, len);
    if (j) {
        srv->m.queue_requests++;
        if (srv->pending_tail)
            srv->pending_tail->next = j;
        else
            srv->pending_head = j;
        srv->pending_tail = j;
        pthread_cond_broadcast(&srv->work_cv);
    } else {
        free(body);
    }
    pthread_mutex_unlock(&srv->mu);
    return j;
}

/* Whether j is parsed and documents [0, upto) are done (-1: all), or it
 * failed (srv->mu held). */
static bool job_ready(const serve_job *j, int32_t upto)
{
    if (j->st != CL_OK)
        return true;
    if (!j->parsed)
        return false;
    if (upto < 0 || upto > j->ndocs || j->ndone == j->ndocs)
        return j->ndone == j->ndocs;
    for (int32_t i = 0; i < upto; i++)
        if (!j->lines[i])
            return false;
    return true;
}

serve_wait cl__serve_job_wait(cl_server *srv, serve_job *j, int32_t upto, double deadline)
{
    serve_wait w = SERVE_DONE;
    pthread_mutex_lock(&srv->mu);
    while (!job_ready(j, upto)) {
        if (srv->aborting) {
            w = SERVE_ABORTED;
            break;
        }
        /* wake at least every 250 ms to see a shutdown without grace */
        double now = cl_now(), until = now + 0.25;
        if (deadline > 0 && now >= deadline) {
            w = SERVE_TIMEOUT;
            break;
        }
        if (deadline > 0 && deadline < until)
            until = deadline;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double add = until - now;
        ts.tv_sec += (time_t)add;
        ts.tv_nsec += (long)((add - (double)(time_t)add) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&j->cv, &srv->mu, &ts);
    }
    pthread_mutex_unlock(&srv->mu);
    return w;
}

cl_status cl__serve_job_state(cl_server *srv, serve_job *j, bool *bad_request, cl_error *err)
{
    pthread_mutex_lock(&srv->mu);
    cl_status st = j->st;
    *bad_request = j->bad_request;
    if (st != CL_OK)
        *err = j->err;
    pthread_mutex_unlock(&srv->mu);
    return st;
}

void cl__serve_job_finish(cl_server *srv, serve_job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&srv->mu);
    j->cancelled = true;
    srv->m.queue_requests--;
    job_unref_locked(j);
    pthread_mutex_unlock(&srv->mu);
}
