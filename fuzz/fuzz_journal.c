/*
 * fuzz_journal.c - libFuzzer target for resuming a tagging run from its
 * checkpoint (run.c: the journal's S, A, T and D records, the part files
 * cut back to the sizes the D lines name).  The input is a journal without
 * checksums, one record per line; the target writes it with the right
 * header first (unless the input starts with '!') and a valid checksum on
 * every line (libFuzzer cannot forge FNV-1a sums), then the bytes after the
 * first NUL as output.part and answers.part, and resumes the run with a
 * deterministic backend.  Whatever the records say, the resume must end
 * cleanly: either an error with a message and the checkpoint kept, or the
 * output in place and the checkpoint gone.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_journal
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/corpus.h"
#include "clinner/retrieve.h" /* cl_fnv1a64, the journal's checksum */
#include "clinner/run.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Capitalised tokens are DISEASE, the rest O; each sentence's answer is
 * its first token; fails at call fail_at (to leave a checkpoint). */
typedef struct fake {
    int calls, fail_at;
    cl_tagger_answers answers;
} fake;

static cl_status fake_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    fake *f = self;
    if (++f->calls == f->fail_at)
        return cl_error_set(err, CL_ERR_NET, "stop");
    cl_status st = cl_tagger_answers_reset(&f->answers, sb, se, err);
    for (int32_t s = sb; s < se && st == CL_OK; s++) {
        for (int32_t t = doc->sentences[s].tok_begin; t < doc->sentences[s].tok_end && st == CL_OK;
             t++) {
            size_t n;
            const char *p = cl_doc_token_bytes(doc, t, &n);
            st = cl_doc_set_tag(doc, t, *p >= 'A' && *p <= 'Z' ? "B-DISEASE" : "O", err);
        }
        size_t n = 0;
        const char *p = doc->sentences[s].tok_end > doc->sentences[s].tok_begin
                            ? cl_doc_token_bytes(doc, doc->sentences[s].tok_begin, &n)
                            : "";
        if (st == CL_OK)
            st = cl_tagger_answers_set(&f->answers, s, p, n, 1, n % 2, 0, err);
    }
    return st;
}

static const cl_tagger_answer *fake_answer(void *self, int32_t sent)
{
    return cl_tagger_answers_get(&((fake *)self)->answers, sent);
}

static const cl_tagger_ops fake_ops = {
    .name = "fake", .tag = fake_tag, .free = NULL, .stats = NULL, .answer = fake_answer};

static cl_corpus *make_corpus(void)
{
    static const char *texts[] = {"Crohn Disease was seen. Fever and rash.",
                                  "", "One \xC3\x89t\xC3\xA9 sentence. Then Another one. And a third."};
    cl_error err;
    cl_corpus *c;
    if (cl_corpus_new(&c, &err) != CL_OK)
        abort();
    for (int d = 0; d < 3; d++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", d);
        cl_doc *doc;
        if (cl_doc_new(id, texts[d], strlen(texts[d]), &doc, &err) != CL_OK ||
            cl_tokenize_doc(doc, CL_TOKENIZER_CLINICAL, &err) != CL_OK ||
            cl_corpus_add(c, doc, &err) != CL_OK)
            abort();
    }
    return c;
}

static cl_status run(const char *out, const char *answers, int fail_at, bool resume,
                     cl_error *err)
{
    cl_corpus *c = make_corpus();
    fake f = {0, fail_at, {0, 0, NULL}};
    cl_tagger t = {&fake_ops, &f};
    cl_run_params p = cl_run_default_params();
    p.format = CL_FORMAT_CONLL;
    p.out_path = out;
    p.answers_path = answers;
    p.resume = resume;
    p.batch = 2;
    p.fingerprint = "fuzz";
    cl_run_summary sum;
    cl_status st = cl_run_tag(&t, c, &p, &sum, err);
    cl_tagger_answers_free(&f.answers);
    cl_corpus_free(c);
    return st;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    /* tmpfs where there is one: the run fsyncs its files */
    char dir[64];
    snprintf(dir, sizeof dir, "%s/clinner-fuzz-journal-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir))
        abort();
    char out[96], answers[96], cmd[160];
    snprintf(out, sizeof out, "%s/out.conll", dir);
    snprintf(answers, sizeof answers, "%s/answers.jsonl", dir);
    bool with_answers = size > 0 && (data[0] & 1);
    const char *ans = with_answers ? answers : NULL;
    cl_error err;
    /* a genuine checkpoint first, for its header line and work folder */
    if (run(out, ans, 1, false, &err) != CL_ERR_NET)
        abort();
    char *wd = cl_run_work_dir(out);
    char *jp = cl_path_join(wd, "journal");
    char *jdata;
    size_t jn;
    if (!wd || !jp || cl_read_file(jp, &jdata, &jn, &err) != CL_OK)
        abort();
    const char *nl = memchr(jdata, '\n', jn);
    if (!nl)
        abort();
    cl_buf j;
    cl_buf_init(&j);
    size_t body = size > 0 ? 1 : 0;
    const unsigned char *zero = memchr(data + body, '\0', size - body);
    size_t jend = zero ? (size_t)(zero - data) : size;
    if (jend > body && data[body] == '!')
        body++; /* no header: the input's first line stands in for it */
    else if (cl_buf_append(&j, jdata, (size_t)(nl - jdata) + 1) != 0)
        abort();
    for (size_t at = body; at < jend;) {
        const unsigned char *e = memchr(data + at, '\n', jend - at);
        size_t len = e ? (size_t)(e - (data + at)) : jend - at;
        cl_buf line;
        cl_buf_init(&line);
        if (cl_buf_append(&line, (const char *)data + at, len) != 0)
            abort();
        uint64_t h = cl_fnv1a64(CL_FNV64_INIT, line.data, strlen(line.data));
        if (e) /* an unterminated last line stays torn, without its sum */
            cl_buf_printf(&line, " ~%016llx\n", (unsigned long long)h);
        cl_buf_append(&j, line.data, strlen(line.data));
        cl_buf_free(&line);
        at += len + (e ? 1 : 0);
    }
    write_file(jp, j.data ? j.data : "", j.len);
    /* the part files: what follows the NUL, split at the next one */
    const char *rest = zero ? (const char *)zero + 1 : "";
    size_t nrest = zero ? size - jend - 1 : 0;
    const char *z2 = memchr(rest, '\0', nrest);
    size_t npart = z2 ? (size_t)(z2 - rest) : nrest;
    char *pp = cl_path_join(wd, "output.part"), *ap = cl_path_join(dir, "answers.jsonl.part");
    write_file(pp, rest, npart);
    if (with_answers)
        write_file(ap, z2 ? z2 + 1 : "", z2 ? nrest - npart - 1 : 0);
    cl_error_clear(&err);
    cl_status st = run(out, ans, 0, true, &err);
    if (st == CL_OK) {
        if (cl_is_dir(wd) || access(out, F_OK) != 0 || (with_answers && access(answers, F_OK) != 0))
            abort();
    } else if (!err.msg[0] || !cl_is_dir(wd)) {
        abort();
    }
    cl_buf_free(&j);
    free(jdata);
    free(jp);
    free(pp);
    free(ap);
    free(wd);
    /* what a run can leave: the outputs and the work folder's files */
    const char *names[] = {"out.conll", "answers.jsonl", "answers.jsonl.part",
                           "out.conll.clinner-run/journal", "out.conll.clinner-run/output.part",
                           "out.conll.clinner-run"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s/%s", dir, names[i]);
        if (unlink(cmd) != 0)
            rmdir(cmd);
    }
    if (rmdir(dir) != 0)
        abort(); /* something unexpected was left */
    return 0;
}
