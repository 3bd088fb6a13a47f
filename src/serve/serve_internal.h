/*
 * serve_internal.h - private seam between the server (server.c) and its
 * counters (metrics.c).  The counters are plain numbers guarded by the
 * server's mutex; metrics.c only records and formats them.
 */
#ifndef CLINNER_SERVE_INTERNAL_H
#define CLINNER_SERVE_INTERNAL_H

#include <pthread.h>

#include "clinner/serve.h"
#include "clinner/util.h"

/* Upper bounds (seconds) of the latency histogram's buckets; +Inf follows. */
#define SERVE_NBUCKETS 14

typedef struct serve_metrics {
    int64_t by_status[600];          /* finished requests by HTTP status */
    int64_t latency_le[SERVE_NBUCKETS + 1]; /* cumulative when formatted; here per bucket */
    double latency_sum;
    int64_t latency_count;
    int64_t documents, tokens;       /* tagged */
    int64_t rejected_busy;           /* 503 because the queue was full */
    int64_t timeouts;                /* 504 */
    /* gauges, kept by the server */
    int64_t in_flight;               /* requests being handled */
    int64_t queue_requests;          /* tagging requests admitted, not finished */
    int64_t queue_documents;         /* documents waiting for a worker */
    int32_t workers, queue_limit;
} serve_metrics;

/* Record one finished request (status, seconds). */
void cl__serve_metrics_request(serve_metrics *m, int status, double seconds);
/* Prometheus text exposition of m, appended to out; -1 on out of memory. */
int cl__serve_metrics_format(const serve_metrics *m, cl_buf *out);

/* One admitted tagging request: its body, parsed by a worker into
 * documents, which the workers tag in any order, and each one's JSONL line
 * once done. */
typedef struct serve_job {
    struct serve_job *next; /* in the pending list while its body or documents wait */
    int refs;               /* the connection's, the pending list's, one per worker on it */
    char *body;             /* until parsed */
    size_t body_len;
    bool parsed;            /* req, ndocs, lines and lens are set */
    bool bad_request;       /* the body was refused (st, err say why) */
    cl_tag_request req;
    int32_t ndocs, next_doc, ndone;
    char **lines; /* ndocs JSONL lines (with their newline), NULL until done */
    size_t *lens;
    cl_status st; /* the first failure (CL_OK: none) */
    cl_error err;
    bool cancelled; /* the connection gave up: documents not started are dropped */
    pthread_cond_t cv; /* a document of this job is done (monotonic clock) */
} serve_job;

struct cl_server {
    cl_serve_config cfg; /* strings below are the server's own copies */
    char *host, *api_key, *cors_origin, *scores_json, *models_json;
    cl_tag_session *session;
    bool owns_session; /* cl_server_open's: freed with the server */
    bool reentrant;
    void *daemon; /* struct MHD_Daemon */
    int port;

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t work_cv; /* a document is pending, or stopping */
    serve_job *pending_head, *pending_tail;
    bool stopping; /* workers exit */
    bool aborting; /* shutdown gave up waiting: requests still waiting answer 503 */
    bool shut;
    pthread_t *threads;
    int32_t nthreads;
    serve_metrics m;

    pthread_mutex_t session_mu; /* serialises tag calls of a session that is not reentrant */
};

/* pool.c: the tagging workers and their queue. */
cl_status cl__serve_pool_start(cl_server *srv, cl_error *err);
void cl__serve_pool_stop(cl_server *srv);
/* Admit a request body (malloc'ed, taken over: freed in any case): a worker
 * parses it, then its documents are queued for the workers.  NULL when the
 * queue is full (*busy) or out of memory. */
serve_job *cl__serve_job_submit(cl_server *srv, char *body, size_t len, bool *busy);
typedef enum serve_wait { SERVE_DONE = 0, SERVE_TIMEOUT, SERVE_ABORTED } serve_wait;
/* Wait until j's body is parsed and documents [0, upto) are done (upto 0:
 * parsed only; -1: every document), or j failed, or the monotonic time
 * deadline (cl_now() seconds; 0: none) passes, or the server shuts down
 * without grace. */
serve_wait cl__serve_job_wait(cl_server *srv, serve_job *j, int32_t upto, double deadline);
/* j's state under the lock: its first failure (CL_OK: none; then *err is
 * a copy of the message) and whether that was a refused body. */
cl_status cl__serve_job_state(cl_server *srv, serve_job *j, bool *bad_request, cl_error *err);
/* The connection is done with j: documents not started are dropped and the
 * request leaves the queue. */
void cl__serve_job_finish(cl_server *srv, serve_job *j);

#endif
