/*
 * run.c - the batch runner (run.h): tag a corpus with any backend, write
 * the output document by document, and keep a checkpoint that survives
 * kill -9 so that --resume ends with byte-identical output.
 *
 * Invariants:
 *   - a journal line is appended with one write(2) after the work it
 *     records is in memory; every line carries an FNV-1a checksum, and a
 *     resumed run reads the journal only up to the first damaged line;
 *   - output.part is flushed before the D line that records its new size
 *     is written, so after kill -9 output.part holds at least the bytes the
 *     last valid D line names; both are fsync'd (output first) at most once
 *     a second, so an OS crash can lose up to a second of work;
 *   - the output is produced by the same writer calls in the same order
 *     whether or not the run was interrupted, and restored sentences get
 *     back exactly their labels and confidences (hex floats), so the bytes
 *     are the same;
 *   - a batch's S lines are followed by a T line holding the backend's
 *     counters (misaligned answers, tokens, ...) summed over every session
 *     so far, and S lines count only once a T or D line follows them, so a
 *     resumed run's summary covers the whole run exactly: sentences whose
 *     counters were lost are tagged again.
 * With threads > 1 (reentrant backends, e.g. the CRF) workers tag whole
 * documents ahead while this thread journals and writes them in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clinner/retrieve.h"
#include "clinner/run.h"
#include "clinner/text.h"
#include "clinner/tokenize.h"

#define JOURNAL_MAGIC "clinner-run v1"
#define SYNC_EVERY_S 1.0

cl_run_params cl_run_default_params(void)
{
    cl_run_params p;
    memset(&p, 0, sizeof p);
    p.format = CL_FORMAT_JSONL;
    p.out_path = "-";
    p.batch = 8;
    p.threads = 1;
    return p;
}

char *cl_run_work_dir(const char *out_path)
{
    size_t n = strlen(out_path);
    while (n > 1 && out_path[n - 1] == '/')
        n--;
    cl_buf b;
    cl_buf_init(&b);
    if (cl_buf_append(&b, out_path, n) != 0 || cl_buf_puts(&b, ".clinner-run") != 0) {
        cl_buf_free(&b);
        return NULL;
    }
    return cl_buf_detach(&b);
}

typedef struct run {
    cl_tagger *t;
    cl_corpus *c;
    cl_run_params p;
    bool checkpoint, brat;
    char *dir, *part_path, *journal_path;
    FILE *out; /* output.part or stdout (not brat) */
    /* --answers: "<answers>.part", beside the answers file rather than in
     * the work folder so that the final rename never crosses filesystems */
    FILE *ans_file;
    char *ans_part_path;
    char ***ans; /* per document, per sentence: its answers line (JSON) or NULL */
    int jfd;   /* journal, -1 when not checkpointing */
    double last_sync;
    int64_t sentence_global;
    uint8_t **done;   /* per document, per sentence: tagged */
    bool *restored;   /* document has sentences restored from the journal */
    int32_t first;    /* first document not yet written */
    int64_t resumed, tagged, tokens_tagged;
    bool gen_units;   /* progress counts generated tokens (LLM backends) */
    double t0;        /* this session's start */

    /* counters of earlier sessions (the last T line) */
    cl_tagger_stats base;
    double base_seconds;
    int64_t journaled;      /* S lines committed, all sessions */
    int64_t base_journaled; /* of these, those the last T line covers */
    /* S lines read but not yet committed by a T or D line */
    char **pending;
    int32_t npending, cap_pending;
    int64_t pending_line;   /* journal line number of the first */

    /* threads */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t next_doc;  /* next document for a worker */
    bool *ready;       /* document tagged by a worker */
    cl_status wst;
    cl_error werr;
    bool stop;
} run;

/* ---- journal ---- */

static cl_status journal_append(run *r, const char *payload, cl_error *err)
{
    if (r->jfd < 0)
        return CL_OK;
    uint64_t h = cl_fnv1a64(CL_FNV64_INIT, payload, strlen(payload));
    cl_buf b;
    cl_buf_init(&b);
    if (cl_buf_printf(&b, "%s ~%016llx\n", payload, (unsigned long long)h) != 0) {
        cl_buf_free(&b);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(r->jfd, b.data + off, b.len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            cl_error_set(err, CL_ERR_IO, "%s: write error: %s", r->journal_path, strerror(errno));
            cl_buf_free(&b);
            return CL_ERR_IO;
        }
        off += (size_t)w;
    }
    cl_buf_free(&b);
    return CL_OK;
}

static cl_status journal_sync(run *r, bool force, cl_error *err)
{
    if (r->jfd < 0)
        return CL_OK;
    double now = cl_now();
    if (!force && now - r->last_sync < SYNC_EVERY_S)
        return CL_OK;
    r->last_sync = now;
    if (fsync(r->jfd) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: fsync: %s", r->journal_path, strerror(errno));
    return CL_OK;
}

static bool label_ok(const char *s)
{
    if (!s || !*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '~')
            return false;
    return true;
}

/* "S doc sent n labels... [C conf...]" */
static cl_status journal_sentence(run *r, int32_t d, int32_t s, cl_error *err)
{
    if (r->jfd < 0)
        return CL_OK;
    const cl_doc *doc = r->c->docs[d];
    const cl_sentence *se = &doc->sentences[s];
    cl_buf b;
    cl_buf_init(&b);
    int bad = cl_buf_printf(&b, "S %d %d %d", d, s, se->tok_end - se->tok_begin);
    for (int32_t t = se->tok_begin; t < se->tok_end && !bad; t++) {
        if (!label_ok(doc->tags[t])) {
            cl_buf_free(&b);
            return cl_error_set(err, CL_ERR_INTERNAL,
                                "%s: token %d: label '%s' cannot be checkpointed", doc->id, t,
                                doc->tags[t] ? doc->tags[t] : "(null)");
        }
        bad = cl_buf_printf(&b, " %s", doc->tags[t]);
    }
    if (doc->tag_conf) {
        bad = bad || cl_buf_puts(&b, " C");
        for (int32_t t = se->tok_begin; t < se->tok_end && !bad; t++)
            bad = cl_buf_printf(&b, " %a", (double)doc->tag_conf[t]);
    }
    cl_status st = bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory")
                       : journal_append(r, b.data, err);
    cl_buf_free(&b);
    if (st == CL_OK)
        r->journaled++;
    if (st == CL_OK && r->ans && r->ans[d][s]) {
        /* "A doc sent json": the JSON line has no newline; its '~' cannot
         * be taken for the checksum's, which is found from the end */
        cl_buf a;
        cl_buf_init(&a);
        st = cl_buf_printf(&a, "A %d %d %s", d, s, r->ans[d][s]) != 0
                 ? cl_error_set(err, CL_ERR_NOMEM, "out of memory")
                 : journal_append(r, a.data, err);
        cl_buf_free(&a);
    }
    return st;
}

/* ---- raw answers (--answers) ---- */

/* A JSON string of s[0..n) with invalid UTF-8 bytes (a model can stop in
 * the middle of a character) and NULs (which would cut the C string)
 * replaced by U+FFFD, so the line stays JSON and whole. */
static cJSON *json_string(const char *s, size_t n)
{
    cl_buf b;
    cl_buf_init(&b);
    int bad = cl_buf_append(&b, "", 0);
    for (size_t at = 0; at < n && !bad;) {
        int32_t cp;
        int len = s[at] == '\0'                  ? -1
                  : (unsigned char)s[at] < 0x80 ? 1
                                                : cl_utf8_decode(s + at, n - at, &cp);
        if (len < 0) {
            bad = cl_buf_puts(&b, "\xEF\xBF\xBD");
            at++;
        } else {
            bad = cl_buf_append(&b, s + at, (size_t)len);
            at += (size_t)len;
        }
    }
    cJSON *j = bad ? NULL : cJSON_CreateString(b.data);
    cl_buf_free(&b);
    return j;
}

/* Sentence s of document d and the backend's answer for it, one JSON line:
 * {"doc","sentence","tokens":[...],"answer":text|null,"lines","misaligned","invalid_labels"} */
static cl_status answer_line(run *r, int32_t d, int32_t s, cl_error *err)
{
    const cl_doc *doc = r->c->docs[d];
    const cl_sentence *se = &doc->sentences[s];
    const cl_tagger_answer *a = cl_tagger_answer_of(r->t, s);
    cJSON *o = cJSON_CreateObject(), *toks = cJSON_CreateArray();
    bool ok = o && toks && cJSON_AddStringToObject(o, "doc", doc->id ? doc->id : "") &&
              cJSON_AddNumberToObject(o, "sentence", s);
    if (ok)
        cJSON_AddItemToObject(o, "tokens", toks);
    else
        cJSON_Delete(toks);
    for (int32_t t = se->tok_begin; t < se->tok_end && ok; t++) {
        size_t n;
        const char *p = cl_doc_token_bytes(doc, t, &n);
        cJSON *js = json_string(p, n);
        ok = js && cJSON_AddItemToArray(toks, js);
    }
    cJSON *text = ok ? (a ? json_string(a->text, a->len) : cJSON_CreateNull()) : NULL;
    ok = ok && text && cJSON_AddItemToObject(o, "answer", text);
    ok = ok && cJSON_AddNumberToObject(o, "lines", a ? a->lines : 0) &&
         cJSON_AddBoolToObject(o, "misaligned", a && a->misaligned) &&
         cJSON_AddNumberToObject(o, "invalid_labels", a ? a->invalid_labels : 0);
    char *line = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!line)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    free(r->ans[d][s]);
    r->ans[d][s] = line;
    return CL_OK;
}

static uint64_t input_hash(const cl_corpus *c)
{
    uint64_t h = CL_FNV64_INIT;
    h = cl_fnv1a64(h, &c->ndocs, sizeof c->ndocs);
    for (int32_t d = 0; d < c->ndocs; d++) {
        const cl_doc *doc = c->docs[d];
        h = cl_fnv1a64(h, doc->id ? doc->id : "", doc->id ? strlen(doc->id) + 1 : 1);
        h = cl_fnv1a64(h, doc->text, doc->text_bytes);
        h = cl_fnv1a64(h, &doc->ntokens, sizeof doc->ntokens);
        if (doc->ntokens)
            h = cl_fnv1a64(h, doc->tokens, (size_t)doc->ntokens * sizeof *doc->tokens);
        h = cl_fnv1a64(h, &doc->nsentences, sizeof doc->nsentences);
        if (doc->nsentences)
            h = cl_fnv1a64(h, doc->sentences, (size_t)doc->nsentences * sizeof *doc->sentences);
    }
    return h;
}

static char *header_payload(const run *r)
{
    const char *fp = r->p.fingerprint ? r->p.fingerprint : "";
    cl_buf b;
    cl_buf_init(&b);
    if (cl_buf_printf(&b, "%s fp=%016llx in=%016llx docs=%d fmt=%s%s", JOURNAL_MAGIC,
                      (unsigned long long)cl_fnv1a64(CL_FNV64_INIT, fp, strlen(fp)),
                      (unsigned long long)input_hash(r->c), r->c->ndocs,
                      cl_format_name(r->p.format), r->p.answers_path ? " answers" : "") != 0) {
        cl_buf_free(&b);
        return NULL;
    }
    return cl_buf_detach(&b);
}

/* ---- counters across sessions ---- */

#define NSTATS 13
/* The counters in a fixed order, for T lines and sums.  The last two came
 * later: a checkpoint written before them has 11 or 12 counters. */
#define NSTATS_OLDEST 11
static int64_t *stats_field(cl_tagger_stats *s, int i)
{
    int64_t *f[NSTATS] = {&s->sentences,    &s->tokens,         &s->prompt_tokens,
                          &s->generated_tokens, &s->misaligned, &s->invalid_labels,
                          &s->skipped,      &s->retries,        &s->model_rounds,
                          &s->draft_tokens, &s->draft_rejected, &s->cached_prompt_tokens,
                          &s->model_usec};
    return f[i];
}

/* base + this session's counters */
static void run_stats(run *r, cl_tagger_stats *out)
{
    cl_tagger_get_stats(r->t, out);
    for (int i = 0; i < NSTATS; i++)
        *stats_field(out, i) += *stats_field(&r->base, i);
}

/* "T journaled seconds counters..." after a batch's S lines */
static cl_status journal_stats(run *r, cl_error *err)
{
    if (r->jfd < 0)
        return CL_OK;
    cl_tagger_stats st;
    run_stats(r, &st);
    cl_buf b;
    cl_buf_init(&b);
    int bad = cl_buf_printf(&b, "T %lld %a", (long long)r->journaled,
                            r->base_seconds + (cl_now() - r->t0));
    for (int i = 0; i < NSTATS && !bad; i++)
        bad = cl_buf_printf(&b, " %lld", (long long)*stats_field(&st, i));
    cl_status s = bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory")
                      : journal_append(r, b.data, err);
    cl_buf_free(&b);
    return s;
}

static cl_status parse_stats(run *r, const char *rest, const char *where, cl_error *err)
{
    char *end;
    long long journaled = strtoll(rest, &end, 10);
    double secs = strtod(end, &end);
    cl_tagger_stats st;
    memset(&st, 0, sizeof st);
    bool ok = journaled >= 0 && secs >= 0;
    for (int i = 0; i < NSTATS && ok; i++) {
        if (i >= NSTATS_OLDEST && *end == '\0')
            break; /* an older checkpoint */
        const char *p = end;
        *stats_field(&st, i) = strtoll(p, &end, 10);
        ok = end != p && *stats_field(&st, i) >= 0;
    }
    if (!ok || *end != '\0')
        return cl_error_set(err, CL_ERR_FORMAT, "%s: bad counters record", where);
    r->base = st;
    r->base_seconds = secs;
    r->base_journaled = journaled;
    return CL_OK;
}

/* ---- resume ---- */

static cl_status restore_sentence(run *r, char *rest, const char *where, cl_error *err)
{
    char *save = NULL;
    char *tok = strtok_r(rest, " ", &save);
    long d = tok ? strtol(tok, NULL, 10) : -1;
    tok = strtok_r(NULL, " ", &save);
    long s = tok ? strtol(tok, NULL, 10) : -1;
    tok = strtok_r(NULL, " ", &save);
    long n = tok ? strtol(tok, NULL, 10) : -1;
    if (d < 0 || d >= r->c->ndocs || s < 0 || s >= r->c->docs[d]->nsentences)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: sentence record out of range", where);
    cl_doc *doc = r->c->docs[d];
    const cl_sentence *se = &doc->sentences[s];
    if (n != se->tok_end - se->tok_begin)
        return cl_error_set(err, CL_ERR_FORMAT, "%s: sentence record does not match the input",
                            where);
    if (d < r->first)
        return CL_OK; /* its document is already written */
    if (!r->restored[d]) {
        cl_status st = cl_doc_reset_tags(doc, err);
        if (st != CL_OK)
            return st;
        r->restored[d] = true;
    }
    for (long i = 0; i < n; i++) {
        tok = strtok_r(NULL, " ", &save);
        if (!tok)
            return cl_error_set(err, CL_ERR_FORMAT, "%s: sentence record too short", where);
        cl_status st = cl_doc_set_tag(doc, se->tok_begin + (int32_t)i, tok, err);
        if (st != CL_OK)
            return st;
    }
    tok = strtok_r(NULL, " ", &save);
    if (tok && strcmp(tok, "C") == 0) {
        if (!doc->tag_conf) {
            doc->tag_conf = malloc((size_t)doc->ntokens * sizeof *doc->tag_conf);
            if (!doc->tag_conf)
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            for (int32_t t = 0; t < doc->ntokens; t++)
                doc->tag_conf[t] = -1;
        }
        for (long i = 0; i < n; i++) {
            tok = strtok_r(NULL, " ", &save);
            if (!tok)
                return cl_error_set(err, CL_ERR_FORMAT, "%s: confidences too short", where);
            doc->tag_conf[se->tok_begin + i] = (float)strtod(tok, NULL);
        }
    }
    if (!r->done[d][s]) {
        r->done[d][s] = 1;
        r->resumed++;
    }
    return CL_OK;
}

/* "A doc sent json" */
static cl_status restore_answer(run *r, const char *rest, const char *where, cl_error *err)
{
    char *end;
    long d = strtol(rest, &end, 10);
    long s = *end == ' ' ? strtol(end + 1, &end, 10) : -1;
    if (!r->ans || *end != ' ' || d < 0 || d >= r->c->ndocs || s < 0 ||
        s >= r->c->docs[d]->nsentences || end[1] != '{')
        return cl_error_set(err, CL_ERR_FORMAT, "%s: bad answer record", where);
    if (d < r->first)
        return CL_OK; /* its document is already written */
    free(r->ans[d][s]);
    if (!(r->ans[d][s] = cl_strdup(end + 1)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

static void drop_pending(run *r)
{
    for (int32_t i = 0; i < r->npending; i++)
        free(r->pending[i]);
    r->npending = 0;
}

static cl_status hold_pending(run *r, const char *payload, int64_t line, cl_error *err)
{
    if (r->npending == r->cap_pending) {
        int32_t cap = r->cap_pending ? 2 * r->cap_pending : 16;
        char **p = realloc(r->pending, (size_t)cap * sizeof *p);
        if (!p)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        r->pending = p;
        r->cap_pending = cap;
    }
    if (r->npending == 0)
        r->pending_line = line;
    if (!(r->pending[r->npending] = cl_strdup(payload)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    r->npending++;
    return CL_OK;
}

/* A T or D line follows the held S lines: they count now. */
static cl_status commit_pending(run *r, cl_error *err)
{
    cl_status st = CL_OK;
    for (int32_t i = 0; i < r->npending && st == CL_OK; i++) {
        char where[256];
        snprintf(where, sizeof where, "%s:%lld", r->journal_path,
                 (long long)(r->pending_line + i));
        char *l = r->pending[i];
        if (l[0] == 'S')
            st = restore_sentence(r, l + 2, where, err);
        else
            st = restore_answer(r, l + 2, where, err);
        if (st == CL_OK && l[0] == 'S')
            r->journaled++;
    }
    drop_pending(r);
    return st;
}

/* Read the journal; returns the byte length of its valid prefix (up to the
 * last header, T or D line) and the output and answers sizes the last D
 * line names (-1: none). */
static cl_status replay(run *r, const char *data, size_t n, size_t *valid, long long *part_size,
                        long long *ans_size, cl_error *err)
{
    *valid = 0;
    *part_size = -1;
    *ans_size = -1;
    char *expect = header_payload(r);
    if (!expect)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    size_t at = 0;
    int64_t line = 0;
    cl_status st = CL_OK;
    while (at < n && st == CL_OK) {
        const char *nl = memchr(data + at, '\n', n - at);
        if (!nl)
            break; /* torn last line */
        size_t len = (size_t)(nl - (data + at));
        char *l = cl_strndup(data + at, len);
        if (!l) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        char *sum = strrchr(l, '~');
        bool ok = sum && sum > l && sum[-1] == ' ';
        if (ok) {
            sum[-1] = '\0';
            unsigned long long h = strtoull(sum + 1, NULL, 16);
            ok = h == cl_fnv1a64(CL_FNV64_INIT, l, strlen(l));
        }
        if (!ok) {
            free(l);
            break; /* damaged: everything after it is ignored */
        }
        line++;
        char where[256];
        snprintf(where, sizeof where, "%s:%lld", r->journal_path, (long long)line);
        if (line == 1) {
            if (strcmp(l, expect) != 0)
                st = cl_error_set(err, CL_ERR_ARG,
                                  "%s: the checkpoint belongs to a run with other options or "
                                  "input; run again with the same ones, or remove %s to start "
                                  "over",
                                  r->journal_path, r->dir);
        } else if ((l[0] == 'S' || (l[0] == 'A' && r->ans)) && l[1] == ' ') {
            st = hold_pending(r, l, line, err);
        } else if (l[0] == 'T' && l[1] == ' ') {
            st = commit_pending(r, err);
            if (st == CL_OK)
                st = parse_stats(r, l + 2, where, err);
        } else if (l[0] == 'D' && l[1] == ' ') {
            st = commit_pending(r, err); /* the sentences of document d (threads) */
            long long d = -2, off = -1, sg = -1, aoff = -1;
            int want = r->ans ? 4 : 3;
            if (st != CL_OK)
                ; /* reported */
            else if (sscanf(l + 2, "%lld %lld %lld %lld", &d, &off, &sg, &aoff) != want ||
                     d < -1 || d >= r->c->ndocs || off < 0 || sg < 0 || (r->ans && aoff < 0))
                st = cl_error_set(err, CL_ERR_FORMAT, "%s: bad document record", where);
            else {
                r->first = (int32_t)d + 1;
                *part_size = off;
                *ans_size = aoff;
                r->sentence_global = sg;
            }
        } else {
            st = cl_error_set(err, CL_ERR_FORMAT, "%s: unknown record", where);
        }
        bool commits = line == 1 || (l[0] != 'S' && l[0] != 'A');
        free(l);
        if (st == CL_OK && commits)
            *valid = (size_t)(nl - data) + 1;
        at = (size_t)(nl - data) + 1;
    }
    /* S lines without their T line: their counters are lost, tag them again */
    drop_pending(r);
    if (st == CL_OK && line == 0)
        *valid = 0; /* not even a header: start over */
    free(expect);
    return st;
}

/* Sentences restored for documents before `first` were counted while the
 * D lines were still to come; count only those still needed. */
static void recount_resumed(run *r)
{
    r->resumed = 0;
    for (int32_t d = r->first; d < r->c->ndocs; d++)
        for (int32_t s = 0; s < r->c->docs[d]->nsentences; s++)
            r->resumed += r->done[d][s];
    for (int32_t d = 0; d < r->first; d++)
        r->resumed += r->c->docs[d]->nsentences;
}

static void note(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(run *r, const char *fmt, ...)
{
    if (!r->p.log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->p.log(r->p.log_ctx, msg);
}

/* Open a part file at path, cut back to size bytes (-1: empty). */
static cl_status open_part(run *r, const char *path, long long size, FILE **out, cl_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (size >= 0 && (long long)sb.st_size < size)) {
        close(fd);
        return cl_error_set(err, CL_ERR_IO,
                            "%s: shorter than the checkpoint says (%lld bytes expected): remove "
                            "%s to start over",
                            path, size, r->dir);
    }
    if (ftruncate(fd, size >= 0 ? (off_t)size : 0) != 0) {
        close(fd);
        return cl_error_set(err, CL_ERR_IO, "%s: cannot truncate: %s", path, strerror(errno));
    }
    *out = fdopen(fd, "r+b");
    if (!*out || fseek(*out, 0, SEEK_END) != 0) {
        if (!*out)
            close(fd);
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    return CL_OK;
}

/* Open (or create) the work folder; on resume restore what it holds. */
static cl_status open_checkpoint(run *r, cl_error *err)
{
    r->dir = cl_run_work_dir(r->p.out_path);
    if (!r->dir || !(r->journal_path = cl_path_join(r->dir, "journal")) ||
        !(r->part_path = cl_path_join(r->dir, "output.part")))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    bool exists = cl_is_dir(r->dir);
    if (exists && !r->p.resume)
        return cl_error_set(err, CL_ERR_ARG,
                            "%s: an unfinished run left a checkpoint here: add --resume to "
                            "continue it, or remove the folder to start over",
                            r->dir);
    char *data = NULL;
    size_t n = 0, valid = 0;
    long long part_size = -1, ans_size = -1;
    if (exists) {
        struct stat sb;
        if (stat(r->journal_path, &sb) == 0) {
            cl_status st = cl_read_file(r->journal_path, &data, &n, err);
            if (st == CL_OK)
                st = replay(r, data, n, &valid, &part_size, &ans_size, err);
            free(data);
            if (st != CL_OK)
                return st;
        }
    } else {
        if (r->p.resume)
            note(r, "no checkpoint at %s: starting from the beginning", r->dir);
        if (mkdir(r->dir, 0755) != 0)
            return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", r->dir, strerror(errno));
    }
    r->jfd = open(r->journal_path, O_WRONLY | O_CREAT, 0644);
    if (r->jfd < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot open: %s", r->journal_path,
                            strerror(errno));
    if (ftruncate(r->jfd, (off_t)valid) != 0 || lseek(r->jfd, 0, SEEK_END) < 0)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot truncate: %s", r->journal_path,
                            strerror(errno));
    if (valid == 0) {
        /* fresh start (or a journal without a valid header) */
        r->first = 0;
        r->sentence_global = 0;
        part_size = -1;
        ans_size = -1;
        char *h = header_payload(r);
        if (!h)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        cl_status st = journal_append(r, h, err);
        free(h);
        if (st != CL_OK)
            return st;
    }
    if (r->ans) {
        cl_status st = open_part(r, r->ans_part_path, ans_size, &r->ans_file, err);
        if (st != CL_OK)
            return st;
    }
    if (r->brat)
        return journal_sync(r, true, err);
    /* output.part: cut back to what the last D line covers */
    cl_status ost = open_part(r, r->part_path, part_size, &r->out, err);
    if (ost != CL_OK)
        return ost;
    if (part_size < 0) {
        /* the format's header, then a D line for it */
        cl_status st = cl_format_write_header(r->p.format, r->out, err);
        if (st == CL_OK && (fflush(r->out) != 0 || fsync(fileno(r->out)) != 0))
            st = cl_error_set(err, CL_ERR_IO, "%s: write error", r->part_path);
        if (st == CL_OK) {
            char line[96];
            snprintf(line, sizeof line, r->ans ? "D -1 %ld 0 0" : "D -1 %ld 0", ftell(r->out));
            st = journal_append(r, line, err);
        }
        if (st != CL_OK)
            return st;
    }
    return journal_sync(r, true, err);
}

/* ---- tagging ---- */

/* Tag the sentences of document d not yet done, batch by batch; with
 * journal set, each batch is journaled as it completes. */
static cl_status tag_document(run *r, int32_t d, bool journal, cl_error *err)
{
    cl_doc *doc = r->c->docs[d];
    if (!r->restored[d] || !doc->tags) {
        cl_status st = cl_doc_reset_tags(doc, err);
        if (st != CL_OK)
            return st;
    }
    int32_t ns = doc->nsentences, batch = r->p.batch > 0 ? r->p.batch : 8;
    for (int32_t s = 0; s < ns;) {
        if (r->done[d][s]) {
            s++;
            continue;
        }
        int32_t e = s;
        while (e < ns && !r->done[d][e] && e - s < batch)
            e++;
        if (!doc->tags) /* a document without tokens */
            break;
        cl_status st = r->t->ops->tag(r->t->self, doc, s, e, err);
        if (st != CL_OK)
            return cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
        int64_t toks = 0;
        for (int32_t k = s; k < e; k++) {
            if (r->ans && (st = answer_line(r, d, k, err)) != CL_OK)
                return st;
            if (journal) {
                st = journal_sentence(r, d, k, err);
                if (st != CL_OK)
                    return st;
            }
            r->done[d][k] = 2; /* tagged in this session */
            toks += doc->sentences[k].tok_end - doc->sentences[k].tok_begin;
        }
        if (journal) {
            st = journal_stats(r, err);
            if (st == CL_OK)
                st = journal_sync(r, false, err);
            if (st != CL_OK)
                return st;
            r->tagged += e - s;
            r->tokens_tagged += toks;
            if (r->p.progress) {
                int64_t units = r->tokens_tagged;
                if (r->gen_units) {
                    cl_tagger_stats ts;
                    cl_tagger_get_stats(r->t, &ts);
                    units = ts.generated_tokens;
                }
                cl_progress_update2(r->p.progress, r->tagged, units,
                                    r->gen_units ? "generated tokens" : "tokens");
            }
        }
        s = e;
    }
    return CL_OK;
}

/* Write document d and record it. */
static cl_status write_document(run *r, int32_t d, cl_error *err)
{
    cl_doc *doc = r->c->docs[d];
    cl_status st = CL_OK;
    if (r->p.entities_from_tags && doc->tags &&
        (r->p.format == CL_FORMAT_BRAT || r->p.format == CL_FORMAT_JSONL)) {
        st = cl_bio_to_entities(doc, err);
        if (st != CL_OK)
            return cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
    }
    if (r->brat) {
        cl_doc *one[1] = {doc};
        cl_corpus c1 = {one, 1, 1};
        st = cl_corpus_write(&c1, CL_FORMAT_BRAT, r->p.out_path, err);
    } else {
        st = cl_doc_write(doc, r->p.format, r->out, &r->sentence_global, err);
        if (st == CL_OK && fflush(r->out) != 0)
            st = cl_error_set(err, CL_ERR_IO, "%s: write error: %s",
                              r->checkpoint ? r->part_path : "stdout", strerror(errno));
    }
    for (int32_t s = 0; r->ans && s < doc->nsentences && st == CL_OK; s++) {
        if (r->ans[d][s] && fprintf(r->ans_file, "%s\n", r->ans[d][s]) < 0)
            st = cl_error_set(err, CL_ERR_IO, "%s: write error: %s", r->ans_part_path,
                              strerror(errno));
        free(r->ans[d][s]);
        r->ans[d][s] = NULL;
    }
    if (st == CL_OK && r->ans && fflush(r->ans_file) != 0)
        st = cl_error_set(err, CL_ERR_IO, "%s: write error: %s", r->ans_part_path,
                          strerror(errno));
    if (st != CL_OK || !r->checkpoint)
        return st;
    /* kill -9 loses nothing that was flushed, so the output and the journal
     * are fsync'd (output first) at most once a second rather than after
     * every document: per-document fsyncs cost more than CRF tagging. */
    bool due = cl_now() - r->last_sync >= SYNC_EVERY_S;
    if (due && !r->brat && fsync(fileno(r->out)) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: fsync: %s", r->part_path, strerror(errno));
    if (due && r->ans && fsync(fileno(r->ans_file)) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: fsync: %s", r->ans_part_path, strerror(errno));
    char line[160];
    int len = snprintf(line, sizeof line, "D %d %ld %lld", d, r->brat ? 0L : ftell(r->out),
                       (long long)r->sentence_global);
    if (r->ans)
        snprintf(line + len, sizeof line - (size_t)len, " %ld", ftell(r->ans_file));
    st = journal_append(r, line, err);
    return st == CL_OK && due ? journal_sync(r, true, err) : st;
}

static void *worker(void *arg)
{
    run *r = arg;
    cl_error err;
    for (;;) {
        pthread_mutex_lock(&r->mu);
        int32_t d = !r->stop && r->wst == CL_OK && r->next_doc < r->c->ndocs ? r->next_doc++ : -1;
        pthread_mutex_unlock(&r->mu);
        if (d < 0)
            break;
        cl_status st = tag_document(r, d, false, &err);
        pthread_mutex_lock(&r->mu);
        if (st != CL_OK && r->wst == CL_OK) {
            r->wst = st;
            r->werr = err;
        }
        r->ready[d] = true;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static cl_status run_threads(run *r, int nthreads, cl_error *err)
{
    pthread_t tid[64];
    int started = 0;
    r->next_doc = r->first;
    for (int k = 0; k < nthreads && k < 64; k++) {
        if (pthread_create(&tid[started], NULL, worker, r) != 0)
            break;
        started++;
    }
    cl_status st = CL_OK;
    if (started == 0)
        st = cl_error_set(err, CL_ERR_INTERNAL, "cannot start tagging threads");
    for (int32_t d = r->first; d < r->c->ndocs && st == CL_OK; d++) {
        pthread_mutex_lock(&r->mu);
        while (!r->ready[d] && r->wst == CL_OK)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->wst != CL_OK) {
            st = r->wst;
            if (err)
                *err = r->werr;
        }
        pthread_mutex_unlock(&r->mu);
        if (st != CL_OK)
            break;
        const cl_doc *doc = r->c->docs[d];
        int64_t toks = 0, sents = 0;
        for (int32_t s = 0; s < doc->nsentences && st == CL_OK; s++)
            if (r->done[d][s] == 2) {
                st = journal_sentence(r, d, s, err);
                sents++;
                toks += doc->sentences[s].tok_end - doc->sentences[s].tok_begin;
            }
        if (st == CL_OK)
            st = write_document(r, d, err);
        r->tagged += sents;
        r->tokens_tagged += toks;
        if (r->p.progress)
            cl_progress_update2(r->p.progress, r->tagged, r->tokens_tagged, "tokens");
    }
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_mutex_unlock(&r->mu);
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
    return st;
}

static cl_status finish_output(run *r, cl_error *err)
{
    if (r->brat)
        return CL_OK;
    if (!r->checkpoint)
        return fflush(r->out) == 0 ? CL_OK
                                   : cl_error_set(err, CL_ERR_IO, "stdout: write error");
    int bad = fflush(r->out) != 0 || fsync(fileno(r->out)) != 0;
    bad |= fclose(r->out) != 0;
    r->out = NULL;
    if (bad)
        return cl_error_set(err, CL_ERR_IO, "%s: write error: %s", r->part_path,
                            strerror(errno));
    if (rename(r->part_path, r->p.out_path) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot rename into place: %s", r->p.out_path,
                            strerror(errno));
    return CL_OK;
}

/* Close the answers' part file and move it into place (dropped on error). */
static cl_status finish_answers(run *r, bool ok, cl_error *err)
{
    if (!r->ans_file)
        return CL_OK;
    int bad = fflush(r->ans_file) != 0 || fsync(fileno(r->ans_file)) != 0;
    bad |= fclose(r->ans_file) != 0;
    r->ans_file = NULL;
    if (!ok) {
        if (!r->checkpoint) /* nothing to resume: leave no partial file */
            unlink(r->ans_part_path);
        return CL_OK;
    }
    if (bad)
        return cl_error_set(err, CL_ERR_IO, "%s: write error: %s", r->ans_part_path,
                            strerror(errno));
    if (rename(r->ans_part_path, r->p.answers_path) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot rename into place: %s",
                            r->p.answers_path, strerror(errno));
    return CL_OK;
}

static void remove_checkpoint(run *r)
{
    if (r->jfd >= 0) {
        close(r->jfd);
        r->jfd = -1;
    }
    if (r->journal_path)
        unlink(r->journal_path);
    if (r->part_path)
        unlink(r->part_path);
    if (r->ans_part_path)
        unlink(r->ans_part_path);
    if (r->dir)
        rmdir(r->dir);
}

cl_status cl_run_tag(cl_tagger *t, cl_corpus *c, const cl_run_params *params, cl_run_summary *sum,
                     cl_error *err)
{
    double t0 = cl_now();
    memset(sum, 0, sizeof *sum);
    run r;
    memset(&r, 0, sizeof r);
    r.t0 = t0;
    r.t = t;
    r.c = c;
    r.p = params ? *params : cl_run_default_params();
    r.jfd = -1;
    if (!t || !t->ops)
        return cl_error_set(err, CL_ERR_ARG, "no tagger");
    if (!r.p.out_path)
        r.p.out_path = "-";
    r.brat = r.p.format == CL_FORMAT_BRAT;
    r.checkpoint = strcmp(r.p.out_path, "-") != 0;
    if (r.p.format == CL_FORMAT_TEXT)
        return cl_error_set(err, CL_ERR_FORMAT, "text is an input format only");
    if (r.brat && !r.checkpoint)
        return cl_error_set(err, CL_ERR_ARG, "brat output needs a directory (-o DIR)");
    if (r.p.resume && !r.checkpoint)
        return cl_error_set(err, CL_ERR_ARG, "--resume needs an output file (-o OUT)");
    if (r.p.answers_path) {
        if (!cl_tagger_keeps_answers(t))
            return cl_error_set(err, CL_ERR_ARG, "--answers: the %s backend gives no raw answers",
                                t->ops->name ? t->ops->name : "chosen");
        if (r.p.threads > 1)
            return cl_error_set(err, CL_ERR_ARG, "--answers needs one tagging thread");
        if (strcmp(r.p.answers_path, "-") == 0 || strcmp(r.p.answers_path, r.p.out_path) == 0)
            return cl_error_set(err, CL_ERR_ARG,
                                "--answers needs a file of its own (not stdout, not the output)");
    }
    r.gen_units = t->ops->stats != NULL;
    for (int32_t d = 0; d < c->ndocs; d++) {
        sum->documents++;
        sum->sentences += c->docs[d]->nsentences;
        sum->tokens += c->docs[d]->ntokens;
    }
    cl_status st = CL_OK;
    r.done = calloc((size_t)c->ndocs + 1, sizeof *r.done);
    r.restored = calloc((size_t)c->ndocs + 1, sizeof *r.restored);
    r.ready = calloc((size_t)c->ndocs + 1, sizeof *r.ready);
    if (!r.done || !r.restored || !r.ready)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t d = 0; d < c->ndocs && st == CL_OK; d++)
        if (!(r.done[d] = calloc((size_t)c->docs[d]->nsentences + 1, 1)))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK && r.p.answers_path &&
        !(r.ans = calloc((size_t)c->ndocs + 1, sizeof *r.ans)))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t d = 0; r.ans && d < c->ndocs && st == CL_OK; d++)
        if (!(r.ans[d] = calloc((size_t)c->docs[d]->nsentences + 1, sizeof *r.ans[d])))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK && r.ans) {
        cl_buf b;
        cl_buf_init(&b);
        if (cl_buf_printf(&b, "%s.part", r.p.answers_path) != 0)
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        r.ans_part_path = cl_buf_detach(&b);
        /* a wrong folder fails now, before a checkpoint is made; the probe
         * file is removed again so that no early error leaves it behind */
        int fd = st == CL_OK ? open(r.ans_part_path, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
        if (st == CL_OK && fd < 0 && errno != EEXIST)
            st = cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", r.ans_part_path,
                              strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(r.ans_part_path);
        }
    }
    if (st == CL_OK && r.checkpoint) {
        st = open_checkpoint(&r, err);
        if (st == CL_OK) {
            recount_resumed(&r);
            if (r.resumed > 0)
                note(&r, "resuming: %d of %d documents written, %lld of %lld sentences done",
                     r.first, c->ndocs, (long long)r.resumed, (long long)sum->sentences);
        }
    } else if (st == CL_OK && !r.brat) {
        r.out = stdout;
        st = cl_format_write_header(r.p.format, r.out, err);
        if (st == CL_OK && r.ans && !(r.ans_file = fopen(r.ans_part_path, "wb")))
            st = cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", r.ans_part_path,
                              strerror(errno));
    }
    if (r.p.progress)
        cl_progress_set_total(r.p.progress, sum->sentences - r.resumed);
    if (st == CL_OK) {
        if (r.p.threads > 1) {
            pthread_mutex_init(&r.mu, NULL);
            pthread_cond_init(&r.cv, NULL);
            st = run_threads(&r, r.p.threads, err);
            pthread_cond_destroy(&r.cv);
            pthread_mutex_destroy(&r.mu);
        } else {
            for (int32_t d = r.first; d < c->ndocs && st == CL_OK; d++) {
                st = tag_document(&r, d, true, err);
                if (st == CL_OK)
                    st = write_document(&r, d, err);
            }
        }
    }
    cl_status ast = finish_answers(&r, st == CL_OK, err);
    if (st == CL_OK)
        st = ast;
    if (st == CL_OK)
        st = finish_output(&r, err);
    if (r.out && r.out != stdout)
        fclose(r.out);
    if (st == CL_OK && r.checkpoint)
        remove_checkpoint(&r);
    else if (r.jfd >= 0)
        close(r.jfd);
    if (r.p.progress && st == CL_OK)
        cl_progress_finish(r.p.progress);
    sum->resumed_sentences = r.resumed;
    sum->seconds = cl_now() - t0;
    run_stats(&r, &sum->stats);
    sum->total_seconds = r.base_seconds + sum->seconds;
    /* restored sentences that no T line covers (journals of threaded runs) */
    sum->counters_partial = r.resumed > 0 && r.base_journaled < r.journaled - r.tagged;
    drop_pending(&r);
    free(r.pending);
    for (int32_t d = 0; r.done && d < c->ndocs; d++)
        free(r.done[d]);
    free(r.done);
    for (int32_t d = 0; r.ans && d < c->ndocs; d++) {
        for (int32_t s = 0; r.ans[d] && s < c->docs[d]->nsentences; s++)
            free(r.ans[d][s]);
        free(r.ans[d]);
    }
    free(r.ans);
    free(r.ans_part_path);
    free(r.restored);
    free(r.ready);
    free(r.dir);
    free(r.part_path);
    free(r.journal_path);
    return st;
}

cl_status cl_run_format_summary(const cl_run_summary *s, cl_buf *out)
{
    int bad = cl_buf_printf(out, "tagged %lld sentences (%lld tokens, %lld documents",
                            (long long)s->sentences, (long long)s->tokens,
                            (long long)s->documents);
    if (!bad && s->resumed_sentences)
        bad = cl_buf_printf(out, "; %lld sentences from the checkpoint",
                            (long long)s->resumed_sentences);
    bad = bad || cl_buf_printf(out, ") in %.1f s", s->seconds);
    if (!bad && s->resumed_sentences && s->total_seconds > s->seconds)
        bad = cl_buf_printf(out, " (%.1f s in all sessions)", s->total_seconds);
    if (!bad && s->counters_partial)
        bad = cl_buf_puts(out, "; counters below: this session only");
    const cl_tagger_stats *t = &s->stats;
    if (!bad && (t->prompt_tokens || t->generated_tokens)) {
        bad = cl_buf_printf(out, "; prompt tokens %lld", (long long)t->prompt_tokens);
        if (!bad && t->cached_prompt_tokens)
            bad = cl_buf_printf(out, " (%lld from the cache)",
                                (long long)t->cached_prompt_tokens);
        bad = bad || cl_buf_printf(out, ", generated tokens %lld",
                                   (long long)t->generated_tokens);
    }
    if (!bad && (t->prompt_tokens || t->generated_tokens || t->misaligned))
        bad = cl_buf_printf(out, "; misaligned sentences %lld", (long long)t->misaligned);
    if (!bad && t->model_rounds)
        bad = cl_buf_printf(out, "; model rounds %lld", (long long)t->model_rounds);
    if (!bad && t->model_rounds && t->model_usec)
        bad = cl_buf_printf(out, " in %.1f s", (double)t->model_usec / 1e6);
    if (!bad && t->draft_tokens)
        bad = cl_buf_printf(out, " (guessed tokens %lld, %lld rejected)",
                            (long long)t->draft_tokens, (long long)t->draft_rejected);
    if (!bad && t->invalid_labels)
        bad = cl_buf_printf(out, "; invalid labels %lld", (long long)t->invalid_labels);
    if (!bad && t->skipped)
        bad = cl_buf_printf(out, "; skipped sentences %lld", (long long)t->skipped);
    if (!bad && t->retries)
        bad = cl_buf_printf(out, "; retried requests %lld", (long long)t->retries);
    return bad ? CL_ERR_NOMEM : CL_OK;
}
