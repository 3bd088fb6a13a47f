/*
 * stream.c - the streaming runner (run.h, cl_run_stream) and shards.
 *
 * A document goes reader -> shard filter -> prepare -> tag -> write ->
 * free, and the output is flushed after each one, so a consumer at the
 * other end of a pipe (Spark's RDD.pipe, a FIFO, `head`) sees results
 * while the input is still coming, and memory holds one document whatever
 * the input's size.  With threads > 1 a window of 4 x threads documents is
 * read, tagged by the threads and written in input order before the next
 * window is read.  The writer calls are the batch runner's, in the same
 * order, so the bytes equal a file-to-file run's.
 *
 * A malformed record (a bad jsonl line, a bad conll document, a document
 * the preparation refuses) ends the run with its error, which names the
 * line; with CL_ON_ERROR_SKIP it is reported through log, its raw text is
 * appended to the rejects file, and the run goes on.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/retrieve.h"
#include "clinner/run.h"
#include "clinner/tokenize.h"

typedef struct streamer {
    cl_tagger *t;
    cl_doc_reader *in;
    cl_stream_params p;
    cl_run_summary *sum;
    int64_t sentence_global; /* writer state across documents */
    /* threads: the window being tagged */
    cl_doc **win;
    int32_t nwin, next;
    cl_status wst;
    cl_error werr;
    pthread_mutex_t mu;
} streamer;

cl_stream_params cl_stream_default_params(void)
{
    cl_stream_params p;
    memset(&p, 0, sizeof p);
    p.format = CL_FORMAT_JSONL;
    p.out = stdout;
    p.batch = 8;
    p.threads = 1;
    return p;
}

cl_status cl_on_error_from_name(const char *name, cl_on_error *out, cl_error *err)
{
    if (name && !strcmp(name, "fail"))
        *out = CL_ON_ERROR_FAIL;
    else if (name && !strcmp(name, "skip"))
        *out = CL_ON_ERROR_SKIP;
    else
        return cl_error_set(err, CL_ERR_ARG, "on_error: '%s' is not fail or skip",
                            name ? name : "");
    return CL_OK;
}

int32_t cl_shard_of(const char *id, int32_t n)
{
    if (n <= 1)
        return 0;
    const char *s = id ? id : "";
    return (int32_t)(cl_fnv1a64(CL_FNV64_INIT, s, strlen(s)) % (uint64_t)n);
}

cl_status cl_shard_parse(const char *spec, int32_t *k, int32_t *n, cl_error *err)
{
    char *end;
    long kk = spec ? strtol(spec, &end, 10) : -1;
    long nn = spec && end != spec && *end == '/' ? strtol(end + 1, &end, 10) : -1;
    if (!spec || *end != '\0' || kk < 0 || nn < 1 || nn > 65536 || kk >= nn)
        return cl_error_set(err, CL_ERR_ARG,
                            "shard: expected K/N with 0 <= K < N <= 65536 (got '%s')",
                            spec ? spec : "");
    *k = (int32_t)kk;
    *n = (int32_t)nn;
    return CL_OK;
}

/* The reader's filter: documents of this shard only (judged before
 * parsing for jsonl). */
static bool in_shard(void *ctx, const char *id)
{
    const streamer *s = ctx;
    return cl_shard_of(id, s->p.shard_n) == s->p.shard_k;
}

static void set_shard_filter(streamer *s, bool on)
{
    if (s->p.shard_n > 1)
        cl_doc_reader_set_filter(s->in, on ? in_shard : NULL, on ? s : NULL);
}

static void say(streamer *s, const char *msg)
{
    if (s->p.log)
        s->p.log(s->p.log_ctx, msg);
}

/* Report a skipped record and keep its raw text (or the document as jsonl). */
static cl_status reject(streamer *s, const char *why, const char *raw, size_t n,
                        const cl_doc *doc, cl_error *err)
{
    char msg[CL_ERROR_MSG_MAX + 32];
    snprintf(msg, sizeof msg, "skipped: %s", why);
    say(s, msg);
    s->sum->rejected++;
    if (!s->p.rejects)
        return CL_OK;
    cl_status st = CL_OK;
    if (raw) {
        if (n && fwrite(raw, 1, n, s->p.rejects) != n)
            st = CL_ERR_IO;
        else if (n && raw[n - 1] != '\n' && fputc('\n', s->p.rejects) == EOF)
            st = CL_ERR_IO;
    } else if (doc) {
        st = cl_doc_write(doc, CL_FORMAT_JSONL, s->p.rejects, NULL, err);
    }
    if (st == CL_OK && fflush(s->p.rejects) != 0)
        st = CL_ERR_IO;
    return st == CL_OK ? CL_OK : cl_error_set(err, CL_ERR_IO, "rejects: write error");
}

/* The next document of this shard, prepared; *out NULL at the end. */
static cl_status next_doc(streamer *s, cl_doc **out, cl_error *err)
{
    *out = NULL;
    for (;;) {
        cl_doc *doc = NULL;
        cl_status st = cl_doc_reader_next(s->in, &doc, err);
        if (st != CL_OK) {
            size_t n;
            const char *raw = cl_doc_reader_rejected(s->in, &n);
            if (!raw || s->p.on_error != CL_ON_ERROR_SKIP)
                return st;
            if ((st = reject(s, err ? err->msg : "malformed record", raw, n, NULL, err)) != CL_OK)
                return st;
            continue;
        }
        if (!doc)
            return CL_OK;
        st = s->p.prepare(s->p.prepare_ctx, doc, err);
        if (st == CL_OK) {
            *out = doc;
            return CL_OK;
        }
        cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
        if (s->p.on_error == CL_ON_ERROR_SKIP)
            st = reject(s, err ? err->msg : "document refused", NULL, 0, doc, err);
        cl_doc_free(doc);
        if (st != CL_OK || s->p.on_error != CL_ON_ERROR_SKIP)
            return st == CL_OK ? CL_ERR_PARSE : st;
    }
}

/* Every sentence of doc, batch by batch. */
static cl_status tag_doc(streamer *s, cl_doc *doc, cl_error *err)
{
    cl_status st = cl_doc_reset_tags(doc, err);
    int32_t batch = s->p.batch > 0 ? s->p.batch : 8;
    for (int32_t b = 0; st == CL_OK && doc->tags && b < doc->nsentences; b += batch) {
        int32_t e = b + batch < doc->nsentences ? b + batch : doc->nsentences;
        st = s->t->ops->tag(s->t->self, doc, b, e, err);
        if (st != CL_OK)
            cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
    }
    return st;
}

static cl_status write_doc(streamer *s, cl_doc *doc, cl_error *err)
{
    cl_status st = CL_OK;
    if (s->p.entities_from_tags && doc->tags && s->p.format == CL_FORMAT_JSONL &&
        (st = cl_bio_to_entities(doc, err)) != CL_OK)
        return cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
    st = cl_doc_write(doc, s->p.format, s->p.out, &s->sentence_global, err);
    if (st == CL_OK && fflush(s->p.out) != 0)
        st = cl_error_set(err, CL_ERR_IO, "output: write error");
    cl_run_summary *sum = s->sum;
    sum->documents++;
    sum->sentences += doc->nsentences;
    sum->tokens += doc->ntokens;
    if (s->p.progress)
        cl_progress_update2(s->p.progress, sum->sentences, sum->tokens, "tokens");
    return st;
}

static void *window_worker(void *arg)
{
    streamer *s = arg;
    cl_error err;
    cl_error_clear(&err);
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int32_t i = s->wst == CL_OK && s->next < s->nwin ? s->next++ : -1;
        pthread_mutex_unlock(&s->mu);
        if (i < 0)
            return NULL;
        cl_status st = tag_doc(s, s->win[i], &err);
        if (st != CL_OK) {
            pthread_mutex_lock(&s->mu);
            if (s->wst == CL_OK) {
                s->wst = st;
                s->werr = err;
            }
            pthread_mutex_unlock(&s->mu);
        }
    }
}

/* threads > 1: read a window, tag it on the threads, write it in order. */
static cl_status stream_windows(streamer *s, cl_error *err)
{
    int32_t cap = 4 * s->p.threads, nthreads = s->p.threads > 64 ? 64 : s->p.threads;
    if (!(s->win = calloc((size_t)cap, sizeof *s->win)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    cl_status st = CL_OK;
    bool end = false;
    while (st == CL_OK && !end) {
        s->nwin = s->next = 0;
        while (s->nwin < cap && st == CL_OK) {
            cl_doc *doc;
            st = next_doc(s, &doc, err);
            if (st == CL_OK && !doc)
                end = true;
            if (st != CL_OK || !doc)
                break;
            s->win[s->nwin++] = doc;
        }
        pthread_t tid[64];
        int started = 0;
        for (int k = 0; k < nthreads && k < s->nwin; k++)
            started += pthread_create(&tid[started], NULL, window_worker, s) == 0;
        if (s->nwin > 0 && started == 0)
            window_worker(s); /* no threads to be had: tag here */
        for (int k = 0; k < started; k++)
            pthread_join(tid[k], NULL);
        if (st == CL_OK && s->wst != CL_OK) {
            st = s->wst;
            if (err)
                *err = s->werr;
        }
        for (int32_t i = 0; i < s->nwin; i++) {
            if (st == CL_OK)
                st = write_doc(s, s->win[i], err);
            cl_doc_free(s->win[i]);
            s->win[i] = NULL;
        }
    }
    pthread_mutex_destroy(&s->mu);
    free(s->win);
    return st;
}

cl_status cl_run_stream(cl_tagger *t, cl_doc_reader *in, const cl_stream_params *params,
                        cl_run_summary *sum, cl_error *err)
{
    double t0 = cl_now();
    memset(sum, 0, sizeof *sum);
    streamer s;
    memset(&s, 0, sizeof s);
    s.t = t;
    s.in = in;
    s.p = params ? *params : cl_stream_default_params();
    s.sum = sum;
    if (!t || !t->ops || !in)
        return cl_error_set(err, CL_ERR_ARG, "t, in: a tagger and a reader are needed");
    if (!s.p.out || !s.p.prepare)
        return cl_error_set(err, CL_ERR_ARG, "out, prepare: both are needed");
    if (s.p.format == CL_FORMAT_BRAT || s.p.format == CL_FORMAT_TEXT)
        return cl_error_set(err, CL_ERR_FORMAT, "format: %s cannot be streamed (jsonl, conll, "
                                                "paper-csv and paper-lines can)",
                            cl_format_name(s.p.format));
    if (s.p.shard_n < 0 || (s.p.shard_n > 0 && (s.p.shard_k < 0 || s.p.shard_k >= s.p.shard_n)))
        return cl_error_set(err, CL_ERR_ARG, "shard_k: %d is not in 0..%d", s.p.shard_k,
                            s.p.shard_n - 1);
    int64_t filtered0 = cl_doc_reader_filtered(in);
    set_shard_filter(&s, true);
    cl_status st = cl_format_write_header(s.p.format, s.p.out, err);
    if (st == CL_OK && s.p.threads > 1) {
        st = stream_windows(&s, err);
    } else {
        while (st == CL_OK) {
            cl_doc *doc;
            st = next_doc(&s, &doc, err);
            if (st != CL_OK || !doc)
                break;
            st = tag_doc(&s, doc, err);
            if (st == CL_OK)
                st = write_doc(&s, doc, err);
            cl_doc_free(doc);
        }
    }
    set_shard_filter(&s, false);
    sum->other_shards = cl_doc_reader_filtered(in) - filtered0;
    if (st == CL_OK && fflush(s.p.out) != 0)
        st = cl_error_set(err, CL_ERR_IO, "output: write error");
    if (st == CL_OK && s.p.progress)
        cl_progress_finish(s.p.progress);
    cl_tagger_get_stats(t, &sum->stats);
    sum->seconds = sum->total_seconds = cl_now() - t0;
    return st;
}

cl_status cl_run_read_all(cl_doc_reader *in, const cl_stream_params *params, cl_corpus *c,
                          cl_run_summary *sum, cl_error *err)
{
    memset(sum, 0, sizeof *sum);
    streamer s;
    memset(&s, 0, sizeof s);
    s.in = in;
    s.p = params ? *params : cl_stream_default_params();
    s.sum = sum;
    if (!s.p.prepare)
        return cl_error_set(err, CL_ERR_ARG, "prepare: needed");
    int64_t filtered0 = cl_doc_reader_filtered(in);
    set_shard_filter(&s, true);
    cl_status st;
    for (;;) {
        cl_doc *doc;
        st = next_doc(&s, &doc, err);
        if (st != CL_OK || !doc)
            break;
        if ((st = cl_corpus_add(c, doc, err)) != CL_OK)
            break;
    }
    set_shard_filter(&s, false);
    sum->other_shards = cl_doc_reader_filtered(in) - filtered0;
    return st;
}
