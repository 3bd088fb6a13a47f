/*
 * metrics.c - the server's counters in the Prometheus text format (what
 * GET /metrics answers): requests by status, a latency histogram, documents
 * and tokens tagged, requests refused as busy or timed out, and the gauges
 * an operator watches under load (requests in flight, the queue's length in
 * requests and documents, its limit, the worker count).
 */
#include <string.h>

#include "serve/serve_internal.h"

static const double bucket_le[SERVE_NBUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,  0.1,    0.25,  0.5,  1.0,
                                                 2.5,   5.0,    10.0,  30.0};

void cl__serve_metrics_request(serve_metrics *m, int status, double seconds)
{
    if (status >= 100 && status < 600)
        m->by_status[status]++;
    int b = 0;
    while (b < SERVE_NBUCKETS && seconds > bucket_le[b])
        b++;
    m->latency_le[b]++;
    m->latency_sum += seconds;
    m->latency_count++;
}

static int counter(cl_buf *out, const char *name, const char *help, const char *type,
                   int64_t v)
{
    return cl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type,
                         name, (long long)v);
}

int cl__serve_metrics_format(const serve_metrics *m, cl_buf *out)
{
    int rc = cl_buf_puts(out, "# HELP clinner_http_requests_total HTTP requests answered, by "
                              "status code.\n# TYPE clinner_http_requests_total counter\n");
    for (int s = 100; s < 600 && rc == 0; s++)
        if (m->by_status[s])
            rc = cl_buf_printf(out, "clinner_http_requests_total{code=\"%d\"} %lld\n", s,
                               (long long)m->by_status[s]);
    if (rc == 0)
        rc = cl_buf_puts(out, "# HELP clinner_http_request_duration_seconds Time from a "
                              "request's first byte to its last answer byte.\n"
                              "# TYPE clinner_http_request_duration_seconds histogram\n");
    int64_t cum = 0;
    for (int b = 0; b < SERVE_NBUCKETS && rc == 0; b++) {
        cum += m->latency_le[b];
        rc = cl_buf_printf(out, "clinner_http_request_duration_seconds_bucket{le=\"%g\"} %lld\n",
                           bucket_le[b], (long long)cum);
    }
    if (rc == 0)
        rc = cl_buf_printf(out,
                           "clinner_http_request_duration_seconds_bucket{le=\"+Inf\"} %lld\n"
                           "clinner_http_request_duration_seconds_sum %.6f\n"
                           "clinner_http_request_duration_seconds_count %lld\n",
                           (long long)m->latency_count, m->latency_sum,
                           (long long)m->latency_count);
    if (rc == 0)
        rc = counter(out, "clinner_documents_tagged_total", "Documents tagged.", "counter",
                     m->documents);
    if (rc == 0)
        rc = counter(out, "clinner_tokens_tagged_total", "Word tokens tagged.", "counter",
                     m->tokens);
    if (rc == 0)
        rc = counter(out, "clinner_rejected_busy_total",
                     "Tagging requests refused with 503 because the queue was full.", "counter",
                     m->rejected_busy);
    if (rc == 0)
        rc = counter(out, "clinner_timeouts_total",
                     "Tagging requests that ran past the time limit (504).", "counter",
                     m->timeouts);
    if (rc == 0)
        rc = counter(out, "clinner_requests_in_flight", "Requests being handled.", "gauge",
                     m->in_flight);
    if (rc == 0)
        rc = counter(out, "clinner_queue_requests",
                     "Tagging requests admitted and not finished (being tagged or waiting).",
                     "gauge", m->queue_requests);
    if (rc == 0)
        rc = counter(out, "clinner_queue_documents", "Documents waiting for a worker.", "gauge",
                     m->queue_documents);
    if (rc == 0)
        rc = counter(out, "clinner_queue_limit", "Tagging requests admitted at most.", "gauge",
                     m->queue_limit);
    if (rc == 0)
        rc = counter(out, "clinner_workers", "Tagging threads.", "gauge", m->workers);
    return rc;
}
