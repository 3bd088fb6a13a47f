/*
 * run.c - the batch runner (run.h): tag a corpus with any backend and write
 * the output document by document, in input order, with a checkpoint
 * (journal.c) that survives kill -9 so that --resume ends with
 * byte-identical output: the output is produced by the same writer calls in
 * the same order whether or not the run was interrupted.
 *
 * Each batch of sentences is journaled as it is tagged, each document once
 * it is written.  With threads > 1 (reentrant backends, e.g. the CRF)
 * workers tag whole documents ahead while this thread journals and writes
 * them in order.  --answers keeps every sentence's raw answer beside the
 * output, resumed the same way.
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
#include "run/runner.h"

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

void cl_run_note(run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_vlogf(r->p.log, r->p.log_ctx, fmt, ap);
    va_end(ap);
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
                st = cl_run_journal_sentence(r, d, k, err);
                if (st != CL_OK)
                    return st;
            }
            r->done[d][k] = 2; /* tagged in this session */
            toks += doc->sentences[k].tok_end - doc->sentences[k].tok_begin;
        }
        if (journal) {
            st = cl_run_journal_stats(r, err);
            if (st == CL_OK)
                st = cl_run_journal_sync(r, false, err);
            if (st != CL_OK)
                return st;
            r->tagged += e - s;
            r->tokens_tagged += toks;
            if (r->p.progress) {
                /* backends with counters but no generation (the encoder,
                 * the ensemble) count word tokens, not "0 generated tokens/s" */
                int64_t units = r->tokens_tagged;
                bool gen = false;
                if (r->gen_units) {
                    cl_tagger_stats ts;
                    cl_tagger_get_stats(r->t, &ts);
                    gen = ts.generated_tokens > 0;
                    units = gen ? ts.generated_tokens : units;
                }
                cl_progress_update2(r->p.progress, r->tagged, units,
                                    gen ? "generated tokens" : "tokens");
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
    bool due = cl_now() - r->last_sync >= CL_RUN_SYNC_EVERY_S;
    if (due && !r->brat && fsync(fileno(r->out)) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: fsync: %s", r->part_path, strerror(errno));
    if (due && r->ans && fsync(fileno(r->ans_file)) != 0)
        return cl_error_set(err, CL_ERR_IO, "%s: fsync: %s", r->ans_part_path, strerror(errno));
    char line[160];
    int len = snprintf(line, sizeof line, "D %d %ld %lld", d, r->brat ? 0L : ftell(r->out),
                       (long long)r->sentence_global);
    if (r->ans)
        snprintf(line + len, sizeof line - (size_t)len, " %ld", ftell(r->ans_file));
    st = cl_run_journal_append(r, line, err);
    return st == CL_OK && due ? cl_run_journal_sync(r, true, err) : st;
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
                st = cl_run_journal_sentence(r, d, s, err);
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

/* Refuse parameters that cannot work together. */
static cl_status check_params(const run *r, cl_error *err)
{
    const cl_tagger *t = r->t;
    if (r->p.format == CL_FORMAT_TEXT)
        return cl_error_set(err, CL_ERR_FORMAT, "text is an input format only");
    if (r->brat && !r->checkpoint)
        return cl_error_set(err, CL_ERR_ARG, "brat output needs a directory (-o DIR)");
    if (r->p.resume && !r->checkpoint)
        return cl_error_set(err, CL_ERR_ARG, "--resume needs an output file (-o OUT)");
    if (!r->p.answers_path)
        return CL_OK;
    if (!cl_tagger_keeps_answers(t))
        return cl_error_set(err, CL_ERR_ARG, "--answers: the %s backend gives no raw answers",
                            t->ops->name ? t->ops->name : "chosen");
    if (r->p.threads > 1)
        return cl_error_set(err, CL_ERR_ARG, "--answers needs one tagging thread");
    if (strcmp(r->p.answers_path, "-") == 0 || strcmp(r->p.answers_path, r->p.out_path) == 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "--answers needs a file of its own (not stdout, not the output)");
    return CL_OK;
}

/* The per-document, per-sentence state, and the answers' part file name. */
static cl_status alloc_state(run *r, cl_error *err)
{
    const cl_corpus *c = r->c;
    r->done = calloc((size_t)c->ndocs + 1, sizeof *r->done);
    r->restored = calloc((size_t)c->ndocs + 1, sizeof *r->restored);
    r->ready = calloc((size_t)c->ndocs + 1, sizeof *r->ready);
    if (!r->done || !r->restored || !r->ready)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t d = 0; d < c->ndocs; d++)
        if (!(r->done[d] = calloc((size_t)c->docs[d]->nsentences + 1, 1)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (!r->p.answers_path)
        return CL_OK;
    if (!(r->ans = calloc((size_t)c->ndocs + 1, sizeof *r->ans)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t d = 0; d < c->ndocs; d++)
        if (!(r->ans[d] = calloc((size_t)c->docs[d]->nsentences + 1, sizeof *r->ans[d])))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_buf b;
    cl_buf_init(&b);
    if (cl_buf_printf(&b, "%s.part", r->p.answers_path) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    r->ans_part_path = cl_buf_detach(&b);
    /* a wrong folder fails now, before a checkpoint is made; the probe
     * file is removed again so that no early error leaves it behind */
    int fd = open(r->ans_part_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0 && errno != EEXIST)
        return cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", r->ans_part_path,
                            strerror(errno));
    if (fd >= 0) {
        close(fd);
        unlink(r->ans_part_path);
    }
    return CL_OK;
}

/* The checkpoint (resumed when there is one), or stdout. */
static cl_status open_output(run *r, const cl_run_summary *sum, cl_error *err)
{
    cl_status st = CL_OK;
    if (r->checkpoint) {
        st = cl_run_checkpoint_open(r, err);
        if (st == CL_OK) {
            cl_run_recount_resumed(r);
            if (r->resumed > 0)
                cl_run_note(r,
                            "resuming: %d of %d documents written, %lld of %lld sentences done",
                            r->first, r->c->ndocs, (long long)r->resumed,
                            (long long)sum->sentences);
        }
    } else if (!r->brat) {
        r->out = stdout;
        st = cl_format_write_header(r->p.format, r->out, err);
        if (st == CL_OK && r->ans && !(r->ans_file = fopen(r->ans_part_path, "wb")))
            st = cl_error_set(err, CL_ERR_IO, "%s: cannot create: %s", r->ans_part_path,
                              strerror(errno));
    }
    return st;
}

static cl_status tag_all(run *r, cl_error *err)
{
    cl_status st = CL_OK;
    if (r->p.threads > 1) {
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        st = run_threads(r, r->p.threads, err);
        pthread_cond_destroy(&r->cv);
        pthread_mutex_destroy(&r->mu);
        return st;
    }
    for (int32_t d = r->first; d < r->c->ndocs && st == CL_OK; d++) {
        st = tag_document(r, d, true, err);
        if (st == CL_OK)
            st = write_document(r, d, err);
    }
    return st;
}

static void free_state(run *r)
{
    const cl_corpus *c = r->c;
    cl_run_pending_drop(r);
    free(r->pending);
    for (int32_t d = 0; r->done && d < c->ndocs; d++)
        free(r->done[d]);
    free(r->done);
    for (int32_t d = 0; r->ans && d < c->ndocs; d++) {
        for (int32_t s = 0; r->ans[d] && s < c->docs[d]->nsentences; s++)
            free(r->ans[d][s]);
        free(r->ans[d]);
    }
    free(r->ans);
    free(r->ans_part_path);
    free(r->restored);
    free(r->ready);
    free(r->dir);
    free(r->part_path);
    free(r->journal_path);
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
    cl_status st = check_params(&r, err);
    if (st != CL_OK)
        return st;
    cl_corpus shard = {NULL, 0, 0}; /* a view: the documents of this shard */
    if (r.p.shard_n > 1) {
        if (r.p.shard_k < 0 || r.p.shard_k >= r.p.shard_n)
            return cl_error_set(err, CL_ERR_ARG, "shard_k: %d is not in 0..%d", r.p.shard_k,
                                r.p.shard_n - 1);
        if (!(shard.docs = malloc(((size_t)c->ndocs + 1) * sizeof *shard.docs)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        for (int32_t d = 0; d < c->ndocs; d++)
            if (cl_shard_of(c->docs[d]->id, r.p.shard_n) == r.p.shard_k)
                shard.docs[shard.ndocs++] = c->docs[d];
        sum->other_shards = c->ndocs - shard.ndocs;
        r.c = c = &shard;
    }
    r.gen_units = t->ops->stats != NULL;
    for (int32_t d = 0; d < c->ndocs; d++) {
        sum->documents++;
        sum->sentences += c->docs[d]->nsentences;
        sum->tokens += c->docs[d]->ntokens;
    }
    st = alloc_state(&r, err);
    if (st == CL_OK)
        st = open_output(&r, sum, err);
    if (r.p.progress)
        cl_progress_set_total(r.p.progress, sum->sentences - r.resumed);
    if (st == CL_OK)
        st = tag_all(&r, err);
    cl_status ast = finish_answers(&r, st == CL_OK, err);
    if (st == CL_OK)
        st = ast;
    if (st == CL_OK)
        st = finish_output(&r, err);
    if (r.out && r.out != stdout)
        fclose(r.out);
    if (st == CL_OK && r.checkpoint)
        cl_run_checkpoint_remove(&r);
    else if (r.jfd >= 0)
        close(r.jfd);
    if (r.p.progress && st == CL_OK)
        cl_progress_finish(r.p.progress);
    sum->resumed_sentences = r.resumed;
    sum->seconds = cl_now() - t0;
    cl_run_stats_total(&r, &sum->stats);
    sum->total_seconds = r.base_seconds + sum->seconds;
    /* restored sentences that no T line covers (journals of threaded runs) */
    sum->counters_partial = r.resumed > 0 && r.base_journaled < r.journaled - r.tagged;
    free_state(&r);
    free(shard.docs);
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
    if (!bad && s->rejected)
        bad = cl_buf_printf(out, "; skipped malformed records %lld", (long long)s->rejected);
    if (!bad && s->other_shards)
        bad = cl_buf_printf(out, "; documents of other shards %lld",
                            (long long)s->other_shards);
    return bad ? CL_ERR_NOMEM : CL_OK;
}
