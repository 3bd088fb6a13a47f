/* test_run.c - the batch runner: interrupted runs (a backend failing at the
 * k-th call stands in for a crash) resumed to byte-identical output in
 * several formats, threads, a torn journal, refused checkpoints, and the
 * backend's counters summed exactly over the sessions of a resumed run. */
#include "testutil.h"

#include <pthread.h>

#include "clinner/corpus.h"
#include "clinner/retrieve.h"
#include "clinner/run.h"
#include "clinner/text.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

/* A deterministic backend: capitalised tokens are DISEASE (B then I), the
 * rest O; confidences from the token's hash.  Fails at call fail_at. */
typedef struct fake {
    int calls, fail_at;
    int64_t sentences;
    pthread_mutex_t mu;
    int64_t tokens, misaligned; /* counters: "misaligned" = sentences starting "Fever" */
} fake;

static cl_status fake_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    fake *f = self;
    pthread_mutex_lock(&f->mu);
    int call = ++f->calls;
    f->sentences += se - sb;
    pthread_mutex_unlock(&f->mu);
    if (f->fail_at && call == f->fail_at)
        return cl_error_set(err, CL_ERR_NET, "simulated crash");
    if (!doc->tag_conf && doc->ntokens > 0) {
        doc->tag_conf = malloc((size_t)doc->ntokens * sizeof *doc->tag_conf);
        for (int32_t t = 0; t < doc->ntokens; t++)
            doc->tag_conf[t] = -1;
    }
    for (int32_t s = sb; s < se; s++) {
        size_t n0;
        const char *first = cl_doc_token_bytes(doc, doc->sentences[s].tok_begin, &n0);
        pthread_mutex_lock(&f->mu);
        f->tokens += doc->sentences[s].tok_end - doc->sentences[s].tok_begin;
        f->misaligned += n0 == 5 && memcmp(first, "Fever", 5) == 0;
        pthread_mutex_unlock(&f->mu);
        bool prev = false;
        for (int32_t t = doc->sentences[s].tok_begin; t < doc->sentences[s].tok_end; t++) {
            size_t n;
            const char *p = cl_doc_token_bytes(doc, t, &n);
            bool cap = *p >= 'A' && *p <= 'Z';
            cl_status st = cl_doc_set_tag(doc, t, cap ? (prev ? "I-DISEASE" : "B-DISEASE") : "O", err);
            if (st != CL_OK)
                return st;
            doc->tag_conf[t] = (float)(cl_fnv1a64(CL_FNV64_INIT, p, n) % 100003) / 100003.0f;
            prev = cap;
        }
    }
    return CL_OK;
}

static void fake_stats(void *self, cl_tagger_stats *out)
{
    fake *f = self;
    out->sentences = f->sentences;
    out->tokens = f->tokens;
    out->misaligned = f->misaligned;
    out->model_rounds = f->calls;
    out->cached_prompt_tokens = 2 * f->tokens;
    out->model_usec = 1000 * f->calls;
}

static const cl_tagger_ops fake_ops = {
    .name = "fake", .tag = fake_tag, .stats = fake_stats, .free = NULL, .answer = NULL};

/* The same backend keeping raw answers: "<first token> : <its label>", cut
 * in the middle of a UTF-8 character and followed by a NUL and "z" for
 * sentences whose first token is "Fever" (they count as misaligned), none
 * for each document's fourth sentence (as if skipped). */
typedef struct fake_llm {
    fake f;
    cl_tagger_answers answers;
} fake_llm;

static cl_status fake_llm_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    fake_llm *fl = self;
    cl_status st = fake_tag(&fl->f, doc, sb, se, err);
    if (st == CL_OK)
        st = cl_tagger_answers_reset(&fl->answers, sb, se, err);
    for (int32_t s = sb; s < se && st == CL_OK; s++) {
        if (s == 3)
            continue;
        size_t n;
        const char *p = cl_doc_token_bytes(doc, doc->sentences[s].tok_begin, &n);
        bool fever = n == 5 && memcmp(p, "Fever", 5) == 0;
        char text[256];
        int len = snprintf(text, sizeof text, "%.*s : %s\n%s", (int)n, p,
                           doc->tags[doc->sentences[s].tok_begin], fever ? "\xC3\x89t\xC3" : "");
        if (fever) {
            memcpy(text + len, "\0z", 2);
            len += 2;
        }
        int32_t nt = doc->sentences[s].tok_end - doc->sentences[s].tok_begin;
        st = cl_tagger_answers_set(&fl->answers, s, text, (size_t)len, fever ? 2 : nt, fever,
                                   fever ? 2 : 0, err);
    }
    return st;
}

static void fake_llm_stats(void *self, cl_tagger_stats *out)
{
    fake_stats(&((fake_llm *)self)->f, out);
}

static const cl_tagger_answer *fake_llm_answer(void *self, int32_t sent)
{
    return cl_tagger_answers_get(&((fake_llm *)self)->answers, sent);
}

static const cl_tagger_ops fake_llm_ops = {.name = "fake-llm",
                                           .tag = fake_llm_tag,
                                           .stats = fake_llm_stats,
                                           .free = NULL,
                                           .answer = fake_llm_answer};

static cl_corpus *make_corpus(void)
{
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    char text[4096];
    for (int d = 0; d < 7; d++) {
        text[0] = '\0';
        for (int s = 0; s < 1 + d % 4; s++) {
            char sent[256];
            snprintf(sent, sizeof sent,
                     "Patient %d had Crohn Disease, visit %d. Fever and \xC3\x89t\xC3\xA9 rash "
                     "seen. ",
                     d, s);
            strcat(text, sent);
        }
        char id[32];
        snprintf(id, sizeof id, "doc-%d", d);
        cl_doc *doc;
        assert_int_equal(cl_doc_new(id, text, strlen(text), &doc, &err), CL_OK);
        assert_int_equal(cl_tokenize_doc(doc, CL_TOKENIZER_CLINICAL, &err), CL_OK);
        assert_int_equal(cl_corpus_add(c, doc, &err), CL_OK);
    }
    /* a document without any text */
    cl_doc *empty;
    assert_int_equal(cl_doc_new("empty", "", 0, &empty, &err), CL_OK);
    assert_int_equal(cl_tokenize_doc(empty, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, empty, &err), CL_OK);
    return c;
}

static char dir[64];

static void mk_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/clinner-run-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static cl_status run_once(cl_format fmt, const char *out, int fail_at, bool resume, int threads,
                          const char *fingerprint, cl_run_summary *sum, int64_t *tagged,
                          cl_error *err)
{
    cl_corpus *c = make_corpus();
    fake f = {0, fail_at, 0, PTHREAD_MUTEX_INITIALIZER, 0, 0};
    cl_tagger t = {&fake_ops, &f};
    cl_run_params p = cl_run_default_params();
    p.format = fmt;
    p.out_path = out;
    p.entities_from_tags = true;
    p.resume = resume;
    p.threads = threads;
    p.batch = 2;
    p.fingerprint = fingerprint;
    cl_status st = cl_run_tag(&t, c, &p, sum, err);
    if (tagged)
        *tagged = f.sentences;
    cl_corpus_free(c);
    return st;
}

static bool same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    cl_error err;
    if (cl_read_file(a, &x, &nx, &err) != CL_OK)
        return false;
    if (cl_read_file(b, &y, &ny, &err) != CL_OK) {
        free(x);
        return false;
    }
    bool same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static void resume_is_byte_identical(void **state)
{
    (void)state;
    mk_tmp();
    const cl_format fmts[] = {CL_FORMAT_JSONL, CL_FORMAT_PAPER_CSV, CL_FORMAT_CONLL,
                              CL_FORMAT_PAPER_LINES};
    cl_error err;
    cl_run_summary sum;
    for (size_t fi = 0; fi < sizeof fmts / sizeof fmts[0]; fi++) {
        char ref[128], out[128];
        snprintf(ref, sizeof ref, "%s/ref.%zu", dir, fi);
        assert_int_equal(run_once(fmts[fi], ref, 0, false, 1, "a", &sum, NULL, &err), CL_OK);
        assert_int_equal(sum.resumed_sentences, 0);
        char *wd = cl_run_work_dir(ref);
        assert_false(cl_is_dir(wd));
        free(wd);
        for (int k = 1; k <= 9; k += 2) {
            snprintf(out, sizeof out, "%s/out.%zu.%d", dir, fi, k);
            assert_int_equal(run_once(fmts[fi], out, k, false, 1, "a", &sum, NULL, &err),
                             CL_ERR_NET);
            assert_non_null(strstr(err.msg, "simulated crash"));
            assert_int_equal(access(out, F_OK), -1);
            /* crash again in the resumed run, then finish */
            if (k == 5)
                assert_int_equal(run_once(fmts[fi], out, 2, true, 1, "a", &sum, NULL, &err),
                                 CL_ERR_NET);
            int64_t tagged;
            assert_int_equal(run_once(fmts[fi], out, 0, true, 1, "a", &sum, &tagged, &err),
                             CL_OK);
            assert_true(same_file(ref, out));
            /* (k-1) calls of 2 sentences were done before the crash */
            assert_true(sum.resumed_sentences >= 2 * (k - 1));
            assert_int_equal(tagged, sum.sentences - sum.resumed_sentences);
            wd = cl_run_work_dir(out);
            assert_false(cl_is_dir(wd));
            free(wd);
        }
    }
    rm_tmp();
}

static void threads_give_the_same_output(void **state)
{
    (void)state;
    mk_tmp();
    cl_error err;
    cl_run_summary sum;
    char ref[128], out[128];
    snprintf(ref, sizeof ref, "%s/ref.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    assert_int_equal(run_once(CL_FORMAT_JSONL, ref, 0, false, 1, "a", &sum, NULL, &err), CL_OK);
    assert_int_equal(run_once(CL_FORMAT_JSONL, out, 0, false, 3, "a", &sum, NULL, &err), CL_OK);
    assert_true(same_file(ref, out));
    /* crash with threads, resume with threads */
    unlink(out);
    assert_int_equal(run_once(CL_FORMAT_JSONL, out, 4, false, 3, "a", &sum, NULL, &err),
                     CL_ERR_NET);
    assert_int_equal(run_once(CL_FORMAT_JSONL, out, 0, true, 3, "a", &sum, NULL, &err), CL_OK);
    assert_true(same_file(ref, out));
    rm_tmp();
}

static void torn_journal_and_refusals(void **state)
{
    (void)state;
    mk_tmp();
    cl_error err;
    cl_run_summary sum;
    char ref[128], out[128];
    snprintf(ref, sizeof ref, "%s/ref.conll", dir);
    snprintf(out, sizeof out, "%s/out.conll", dir);
    assert_int_equal(run_once(CL_FORMAT_CONLL, ref, 0, false, 1, "a", &sum, NULL, &err), CL_OK);
    assert_int_equal(run_once(CL_FORMAT_CONLL, out, 6, false, 1, "a", &sum, NULL, &err),
                     CL_ERR_NET);
    /* a leftover checkpoint is never silently overwritten */
    assert_int_equal(run_once(CL_FORMAT_CONLL, out, 0, false, 1, "a", &sum, NULL, &err),
                     CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "--resume"));
    /* nor resumed with other options */
    assert_int_equal(run_once(CL_FORMAT_CONLL, out, 0, true, 1, "b", &sum, NULL, &err),
                     CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "other options"));
    /* a torn last line (and junk after it) is ignored */
    char *wd = cl_run_work_dir(out);
    char *jp = cl_path_join(wd, "journal");
    FILE *fp = fopen(jp, "ab");
    fputs("S 3 0 9 O O", fp);
    fclose(fp);
    /* extra bytes in output.part past the last document are cut */
    char *pp = cl_path_join(wd, "output.part");
    fp = fopen(pp, "ab");
    fputs("garbage from a killed write", fp);
    fclose(fp);
    assert_int_equal(run_once(CL_FORMAT_CONLL, out, 0, true, 1, "a", &sum, NULL, &err), CL_OK);
    assert_true(same_file(ref, out));
    free(jp);
    free(pp);
    free(wd);
    /* --resume without a checkpoint starts from the beginning */
    unlink(out);
    assert_int_equal(run_once(CL_FORMAT_CONLL, out, 0, true, 1, "a", &sum, NULL, &err), CL_OK);
    assert_true(same_file(ref, out));
    /* --resume to stdout is refused */
    assert_int_equal(run_once(CL_FORMAT_CONLL, "-", 0, true, 1, "a", &sum, NULL, &err),
                     CL_ERR_ARG);
    rm_tmp();
}

static void brat_output_resumes(void **state)
{
    (void)state;
    mk_tmp();
    cl_error err;
    cl_run_summary sum;
    char ref[128], out[128];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    snprintf(out, sizeof out, "%s/out/", dir);
    assert_int_equal(run_once(CL_FORMAT_BRAT, ref, 0, false, 1, "a", &sum, NULL, &err), CL_OK);
    assert_int_equal(run_once(CL_FORMAT_BRAT, out, 5, false, 1, "a", &sum, NULL, &err),
                     CL_ERR_NET);
    assert_int_equal(run_once(CL_FORMAT_BRAT, out, 0, true, 1, "a", &sum, NULL, &err), CL_OK);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "diff -r %s %s >/dev/null", ref, out);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "test -s %s/doc-3.ann", ref);
    assert_int_equal(system(cmd), 0);
    /* brat to stdout is refused */
    assert_int_equal(run_once(CL_FORMAT_BRAT, "-", 0, false, 1, "a", &sum, NULL, &err),
                     CL_ERR_ARG);
    rm_tmp();
}

/* Counters of an interrupted run, summed over its sessions, equal an
 * uninterrupted run's, also when the journal lost the last T line. */
/* Rewrite a journal's counter lines ("T ... ~sum") as clinner wrote them
 * before their last `drop` counters existed: those dropped, sums redone. */
static void drop_last_counters(const char *journal, int drop)
{
    cl_error err;
    char *data;
    size_t n;
    assert_int_equal(cl_read_file(journal, &data, &n, &err), CL_OK);
    FILE *f = fopen(journal, "w");
    assert_non_null(f);
    int changed = 0;
    for (char *l = data, *nl; (nl = memchr(l, '\n', (size_t)(data + n - l))); l = nl + 1) {
        *nl = '\0';
        if (strncmp(l, "T ", 2) == 0) {
            *strrchr(l, '~') = '\0';       /* "T ... c11 c12 c13 " */
            l[strlen(l) - 1] = '\0';
            for (int k = 0; k < drop; k++)
                *strrchr(l, ' ') = '\0'; /* "T ... c11 c12", "T ... c11" */
            fprintf(f, "%s ~%016llx\n", l,
                    (unsigned long long)cl_fnv1a64(CL_FNV64_INIT, l, strlen(l)));
            changed++;
        } else {
            fprintf(f, "%s\n", l);
        }
    }
    assert_int_equal(fclose(f), 0);
    assert_true(changed > 0);
    free(data);
}

static void counters_survive_resume(void **state)
{
    (void)state;
    mk_tmp();
    cl_error err;
    cl_run_summary ref, sum;
    char rpath[128], out[128];
    snprintf(rpath, sizeof rpath, "%s/ref.jsonl", dir);
    assert_int_equal(run_once(CL_FORMAT_JSONL, rpath, 0, false, 1, "a", &ref, NULL, &err), CL_OK);
    assert_true(ref.stats.misaligned > 0 && ref.stats.sentences == ref.sentences);
    assert_false(ref.counters_partial);
    int64_t tagged0 = 0;
    for (int lose_t = 0; lose_t < 2; lose_t++) {
        snprintf(out, sizeof out, "%s/out%d.jsonl", dir, lose_t);
        assert_int_equal(run_once(CL_FORMAT_JSONL, out, 6, false, 1, "a", &sum, NULL, &err),
                         CL_ERR_NET);
        if (lose_t) {
            /* cut the journal after the last S line: its T line is lost */
            char *wd = cl_run_work_dir(out);
            char *jp = cl_path_join(wd, "journal");
            char *data;
            size_t n;
            assert_int_equal(cl_read_file(jp, &data, &n, &err), CL_OK);
            assert_true(n > 2 && data[n - 1] == '\n');
            size_t cut = n - 1;
            while (cut > 0 && data[cut - 1] != '\n')
                cut--;
            assert_int_equal(data[cut], 'T');
            assert_int_equal(truncate(jp, (off_t)cut), 0);
            free(data);
            free(jp);
            free(wd);
        }
        int64_t tagged;
        assert_int_equal(run_once(CL_FORMAT_JSONL, out, 0, true, 1, "a", &sum, &tagged, &err),
                         CL_OK);
        assert_true(same_file(rpath, out));
        assert_true(sum.resumed_sentences > 0);
        assert_false(sum.counters_partial);
        assert_int_equal(sum.stats.sentences, ref.stats.sentences);
        assert_int_equal(sum.stats.tokens, ref.stats.tokens);
        assert_int_equal(sum.stats.misaligned, ref.stats.misaligned);
        assert_int_equal(sum.stats.model_rounds, ref.stats.model_rounds);
        assert_int_equal(sum.stats.cached_prompt_tokens, ref.stats.cached_prompt_tokens);
        assert_int_equal(sum.stats.model_usec, ref.stats.model_usec);
        assert_true(sum.total_seconds >= sum.seconds);
        /* the sentences whose T line was lost were tagged again */
        if (lose_t)
            assert_true(tagged > tagged0);
        tagged0 = tagged;
    }
    /* counters written before model_usec (12) or also cached_prompt_tokens
     * (11) existed: read, those counters restarting from 0 */
    for (int drop = 1; drop <= 2; drop++) {
        snprintf(out, sizeof out, "%s/drop%d.jsonl", dir, drop);
        assert_int_equal(run_once(CL_FORMAT_JSONL, out, 6, false, 1, "a", &sum, NULL, &err),
                         CL_ERR_NET);
        char *wdd = cl_run_work_dir(out);
        char *jpd = cl_path_join(wdd, "journal");
        drop_last_counters(jpd, drop);
        free(jpd);
        free(wdd);
        assert_int_equal(run_once(CL_FORMAT_JSONL, out, 0, true, 1, "a", &sum, NULL, &err),
                         CL_OK);
        assert_true(same_file(rpath, out));
        assert_false(sum.counters_partial);
        assert_int_equal(sum.stats.tokens, ref.stats.tokens);
        assert_int_equal(sum.stats.misaligned, ref.stats.misaligned);
        assert_true(sum.stats.model_usec > 0 && sum.stats.model_usec < ref.stats.model_usec);
        if (drop == 1)
            assert_int_equal(sum.stats.cached_prompt_tokens, ref.stats.cached_prompt_tokens);
        else
            assert_true(sum.stats.cached_prompt_tokens > 0 &&
                        sum.stats.cached_prompt_tokens < ref.stats.cached_prompt_tokens);
    }
    /* a journal without counters (threaded runs', older clinner's): restored
     * at its D lines, and the summary says the counters are this session's */
    snprintf(out, sizeof out, "%s/old.jsonl", dir);
    assert_int_equal(run_once(CL_FORMAT_JSONL, out, 6, false, 1, "a", &sum, NULL, &err),
                     CL_ERR_NET);
    char *wd = cl_run_work_dir(out);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sed -i '/^T /d' %s/journal", wd);
    assert_int_equal(system(cmd), 0);
    free(wd);
    assert_int_equal(run_once(CL_FORMAT_JSONL, out, 0, true, 1, "a", &sum, NULL, &err), CL_OK);
    assert_true(same_file(rpath, out));
    assert_true(sum.resumed_sentences > 0);
    assert_true(sum.counters_partial);
    assert_true(sum.stats.sentences < ref.stats.sentences);
    cl_buf b;
    cl_buf_init(&b);
    assert_int_equal(cl_run_format_summary(&sum, &b), CL_OK);
    assert_non_null(strstr(b.data, "counters below: this session only"));
    cl_buf_free(&b);
    rm_tmp();
}

static cl_status run_answers(cl_format fmt, const char *out, const char *answers, int fail_at,
                             bool resume, cl_run_summary *sum, cl_error *err)
{
    cl_corpus *c = make_corpus();
    fake_llm fl = {{0, fail_at, 0, PTHREAD_MUTEX_INITIALIZER, 0, 0}, {0, 0, NULL}};
    cl_tagger t = {&fake_llm_ops, &fl};
    cl_run_params p = cl_run_default_params();
    p.format = fmt;
    p.out_path = out;
    p.answers_path = answers;
    p.resume = resume;
    p.batch = 2;
    p.fingerprint = "a";
    cl_status st = cl_run_tag(&t, c, &p, sum, err);
    cl_tagger_answers_free(&fl.answers);
    cl_corpus_free(c);
    return st;
}

/* --answers: one JSON line per tagged sentence, written and resumed with
 * the output; refused where it cannot work. */
static void answers_resume(void **state)
{
    (void)state;
    mk_tmp();
    cl_error err;
    cl_run_summary sum;
    char ref[128], refa[128], out[128], outa[128];
    snprintf(ref, sizeof ref, "%s/ref.conll", dir);
    snprintf(refa, sizeof refa, "%s/ref.answers", dir);
    assert_int_equal(run_answers(CL_FORMAT_CONLL, ref, refa, 0, false, &sum, &err), CL_OK);
    char *data;
    size_t n;
    assert_int_equal(cl_read_file(refa, &data, &n, &err), CL_OK);
    int lines = 0, nulls = 0, mis = 0;
    for (size_t i = 0; i < n; i++)
        lines += data[i] == '\n';
    for (const char *p = data; (p = strstr(p, "\"answer\":null")); p++)
        nulls++;
    for (const char *p = data; (p = strstr(p, "\"misaligned\":true")); p++)
        mis++;
    /* every sentence of the 7 documents (1+2+3+4+1+2+3 visits of 2 sentences),
     * some without an answer */
    assert_int_equal(lines, 32);
    assert_true(nulls > 0 && nulls < lines);
    assert_true(mis > 0);
    assert_non_null(strstr(data, "\"lines\":2,\"misaligned\":true,\"invalid_labels\":2}"));
    assert_true(cl_utf8_valid(data, n, NULL)); /* the cut character became U+FFFD */
    /* "Ét", U+FFFD for the cut character, U+FFFD for the NUL, and the rest */
    assert_non_null(strstr(data, "\xC3\x89t\xEF\xBF\xBD\xEF\xBF\xBDz\""));
    assert_non_null(strstr(data, "{\"doc\":\"doc-0\",\"sentence\":0,\"tokens\":[\"Patient\",\"0\","));
    free(data);
    for (int k = 1; k <= 7; k += 2) {
        snprintf(out, sizeof out, "%s/out%d.conll", dir, k);
        snprintf(outa, sizeof outa, "%s/out%d.answers", dir, k);
        assert_int_equal(run_answers(CL_FORMAT_CONLL, out, outa, k, false, &sum, &err),
                         CL_ERR_NET);
        assert_int_equal(access(outa, F_OK), -1);
        if (k == 5) /* resuming without --answers is another run */
            assert_int_equal(run_answers(CL_FORMAT_CONLL, out, NULL, 0, true, &sum, &err),
                             CL_ERR_ARG);
        assert_int_equal(run_answers(CL_FORMAT_CONLL, out, outa, 0, true, &sum, &err), CL_OK);
        assert_true(sum.resumed_sentences > 0 || k == 1);
        assert_true(same_file(ref, out));
        assert_true(same_file(refa, outa));
        char part[160];
        snprintf(part, sizeof part, "%s.part", outa);
        assert_int_equal(access(part, F_OK), -1);
    }
    /* an early refusal (a leftover checkpoint, no --resume) leaves no part file */
    snprintf(out, sizeof out, "%s/left.conll", dir);
    snprintf(outa, sizeof outa, "%s/left.answers", dir);
    assert_int_equal(run_answers(CL_FORMAT_CONLL, out, outa, 2, false, &sum, &err), CL_ERR_NET);
    snprintf(outa, sizeof outa, "%s/other.answers", dir);
    assert_int_equal(run_answers(CL_FORMAT_CONLL, out, outa, 0, false, &sum, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "--resume"));
    char probe[160];
    snprintf(probe, sizeof probe, "%s.part", outa);
    assert_int_equal(access(probe, F_OK), -1);
    /* brat output (a folder, written in place): the same answers */
    snprintf(out, sizeof out, "%s/brat", dir);
    snprintf(outa, sizeof outa, "%s/brat.answers", dir);
    assert_int_equal(run_answers(CL_FORMAT_BRAT, out, outa, 4, false, &sum, &err), CL_ERR_NET);
    assert_int_equal(run_answers(CL_FORMAT_BRAT, out, outa, 0, true, &sum, &err), CL_OK);
    assert_true(sum.resumed_sentences > 0);
    assert_true(same_file(refa, outa));
    /* refusals */
    cl_corpus *c = make_corpus();
    fake_llm fl = {{0, 3, 0, PTHREAD_MUTEX_INITIALIZER, 0, 0}, {0, 0, NULL}};
    cl_tagger t = {&fake_llm_ops, &fl};
    cl_run_params p = cl_run_default_params();
    p.format = CL_FORMAT_CONLL;
    p.out_path = out;
    p.answers_path = outa;
    cl_tagger plain = {&fake_ops, &fl.f};
    assert_int_equal(cl_run_tag(&plain, c, &p, &sum, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "fake backend gives no raw answers"));
    p.threads = 2;
    assert_int_equal(cl_run_tag(&t, c, &p, &sum, &err), CL_ERR_ARG);
    p.threads = 1;
    /* a folder that does not exist: refused before any work or checkpoint */
    snprintf(outa, sizeof outa, "%s/no/such/answers.jsonl", dir);
    p.answers_path = outa;
    int calls0 = fl.f.calls;
    assert_int_equal(cl_run_tag(&t, c, &p, &sum, &err), CL_ERR_IO);
    assert_non_null(strstr(err.msg, "answers.jsonl.part: cannot create"));
    assert_int_equal(fl.f.calls, calls0);
    char *wd = cl_run_work_dir(out);
    assert_false(cl_is_dir(wd));
    free(wd);
    p.answers_path = out; /* the output itself */
    assert_int_equal(cl_run_tag(&t, c, &p, &sum, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "a file of its own"));
    cl_tagger_answers_free(&fl.answers);
    cl_corpus_free(c);
    rm_tmp();
}

static void summary_line(void **state)
{
    (void)state;
    cl_run_summary s;
    memset(&s, 0, sizeof s);
    s.documents = 2;
    s.sentences = 10;
    s.tokens = 99;
    s.resumed_sentences = 4;
    s.seconds = 1.25;
    s.total_seconds = 10.5;
    s.stats.prompt_tokens = 1000;
    s.stats.generated_tokens = 300;
    s.stats.misaligned = 2;
    s.stats.retries = 3;
    cl_buf b;
    cl_buf_init(&b);
    assert_int_equal(cl_run_format_summary(&s, &b), CL_OK);
    assert_string_equal(b.data, "tagged 10 sentences (99 tokens, 2 documents; 4 sentences from "
                                "the checkpoint) in 1.2 s (10.5 s in all sessions); prompt "
                                "tokens 1000, generated tokens "
                                "300; misaligned sentences 2; retried requests 3");
    cl_buf_free(&b);
    s.stats.cached_prompt_tokens = 600;
    cl_buf_init(&b);
    assert_int_equal(cl_run_format_summary(&s, &b), CL_OK);
    assert_string_equal(b.data, "tagged 10 sentences (99 tokens, 2 documents; 4 sentences from "
                                "the checkpoint) in 1.2 s (10.5 s in all sessions); prompt "
                                "tokens 1000 (600 from the cache), generated tokens "
                                "300; misaligned sentences 2; retried requests 3");
    cl_buf_free(&b);
    s.stats.model_rounds = 40;
    s.stats.model_usec = 2345678;
    cl_buf_init(&b);
    assert_int_equal(cl_run_format_summary(&s, &b), CL_OK);
    assert_non_null(strstr(b.data, "; model rounds 40 in 2.3 s; retried"));
    cl_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resume_is_byte_identical),
        cmocka_unit_test(threads_give_the_same_output),
        cmocka_unit_test(torn_journal_and_refusals),
        cmocka_unit_test(brat_output_resumes),
        cmocka_unit_test(counters_survive_resume),
        cmocka_unit_test(answers_resume),
        cmocka_unit_test(summary_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
