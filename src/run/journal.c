/*
 * journal.c - the checkpoint of the batch runner (run.h, runner.h): the work
 * folder "<out>.clinner-run", its append-only journal and resuming from it.
 *
 * Invariants:
 *   - a journal line is appended with one write(2) after the work it
 *     records is in memory; every line carries an FNV-1a checksum, and a
 *     resumed run reads the journal only up to the first damaged line;
 *   - output.part is flushed before the D line that records its new size
 *     is written, so after kill -9 output.part holds at least the bytes the
 *     last valid D line names; both are fsync'd (output first) at most once
 *     a second, so an OS crash can lose up to a second of work;
 *   - restored sentences get back exactly their labels and confidences
 *     (hex floats), so a resumed run's output bytes are an uninterrupted
 *     run's;
 *   - a batch's S lines are followed by a T line holding the backend's
 *     counters (misaligned answers, tokens, ...) summed over every session
 *     so far, and S lines count only once a T or D line follows them, so a
 *     resumed run's summary covers the whole run exactly: sentences whose
 *     counters were lost are tagged again.
 * The record formats are described in run.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clinner/retrieve.h"
#include "run/runner.h"

#define JOURNAL_MAGIC "clinner-run v1"

#define NSTATS 13
/* The counters in a fixed order, for T lines and sums.  The last two came
 * later: a checkpoint written before them has 11 or 12 counters. */
#define NSTATS_OLDEST 11

cl_status cl_run_journal_append(run *r, const char *payload, cl_error *err)
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

cl_status cl_run_journal_sync(run *r, bool force, cl_error *err)
{
    if (r->jfd < 0)
        return CL_OK;
    double now = cl_now();
    if (!force && now - r->last_sync < CL_RUN_SYNC_EVERY_S)
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
cl_status cl_run_journal_sentence(run *r, int32_t d, int32_t s, cl_error *err)
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
                       : cl_run_journal_append(r, b.data, err);
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
                 : cl_run_journal_append(r, a.data, err);
        cl_buf_free(&a);
    }
    return st;
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
void cl_run_stats_total(run *r, cl_tagger_stats *out)
{
    cl_tagger_get_stats(r->t, out);
    for (int i = 0; i < NSTATS; i++)
        *stats_field(out, i) += *stats_field(&r->base, i);
}

/* "T journaled seconds counters..." after a batch's S lines */
cl_status cl_run_journal_stats(run *r, cl_error *err)
{
    if (r->jfd < 0)
        return CL_OK;
    cl_tagger_stats st;
    cl_run_stats_total(r, &st);
    cl_buf b;
    cl_buf_init(&b);
    int bad = cl_buf_printf(&b, "T %lld %a", (long long)r->journaled,
                            r->base_seconds + (cl_now() - r->t0));
    for (int i = 0; i < NSTATS && !bad; i++)
        bad = cl_buf_printf(&b, " %lld", (long long)*stats_field(&st, i));
    cl_status s = bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory")
                      : cl_run_journal_append(r, b.data, err);
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

void cl_run_pending_drop(run *r)
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
    cl_run_pending_drop(r);
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
    cl_run_pending_drop(r);
    if (st == CL_OK && line == 0)
        *valid = 0; /* not even a header: start over */
    free(expect);
    return st;
}

/* Sentences restored for documents before `first` were counted while the
 * D lines were still to come; count only those still needed. */
void cl_run_recount_resumed(run *r)
{
    r->resumed = 0;
    for (int32_t d = r->first; d < r->c->ndocs; d++)
        for (int32_t s = 0; s < r->c->docs[d]->nsentences; s++)
            r->resumed += r->done[d][s];
    for (int32_t d = 0; d < r->first; d++)
        r->resumed += r->c->docs[d]->nsentences;
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
cl_status cl_run_checkpoint_open(run *r, cl_error *err)
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
            cl_run_note(r, "no checkpoint at %s: starting from the beginning", r->dir);
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
        cl_status st = cl_run_journal_append(r, h, err);
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
        return cl_run_journal_sync(r, true, err);
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
            st = cl_run_journal_append(r, line, err);
        }
        if (st != CL_OK)
            return st;
    }
    return cl_run_journal_sync(r, true, err);
}

void cl_run_checkpoint_remove(run *r)
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

