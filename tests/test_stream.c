/* test_stream.c - streaming (issue 24) on hand-made inputs: the document
 * reader (jsonl, conll, text; line numbers, skipped records and their raw
 * text, no final newline, UTF-8), shard assignment against the published
 * FNV-1a test vectors, the streaming runner (same bytes as the batch
 * runner, rejects, shards) and the merge of shard outputs. */
#include "testutil.h"

#include "clinner/corpus.h"
#include "clinner/run.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

/* A backend: tokens starting with a capital are DISEASE, the rest O. */
static cl_status caps_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    (void)self;
    for (int32_t s = sb; s < se; s++) {
        bool prev = false;
        for (int32_t t = doc->sentences[s].tok_begin; t < doc->sentences[s].tok_end; t++) {
            size_t n;
            const char *p = cl_doc_token_bytes(doc, t, &n);
            bool cap = *p >= 'A' && *p <= 'Z';
            cl_status st =
                cl_doc_set_tag(doc, t, cap ? (prev ? "I-DISEASE" : "B-DISEASE") : "O", err);
            if (st != CL_OK)
                return st;
            prev = cap;
        }
    }
    return CL_OK;
}
static const cl_tagger_ops caps_ops = {.name = "caps", .tag = caps_tag};

static cl_status prepare(void *ctx, cl_doc *doc, cl_error *err)
{
    (void)ctx;
    if (doc->ntokens == 0) {
        cl_status st = cl_tokenize_doc(doc, CL_TOKENIZER_CLINICAL, err);
        if (st != CL_OK)
            return st;
    }
    if (doc->ntokens > 0 && doc->nsentences == 0)
        return cl_doc_push_sentence(doc, 0, doc->ntokens, err);
    return CL_OK;
}

/* Four documents, a blank line, a malformed line 4 and line 6, no final newline. */
static const char JSONL[] =
    "{\"id\":\"d1\",\"text\":\"Fabry disease causes Pain.\"}\n"
    "{\"id\":\"d2\",\"text\":\"Café au lait spots in Neurofibromatosis.\"}\n"
    "\n"
    "{\"id\":\"bad\",\"text\":7}\n"
    "{\"id\":\"d3\",\"text\":\"No findings.\"}\n"
    "{\"id\":\n"
    "{\"id\":\"d4\",\"text\":\"Marfan Syndrome and Ehlers Danlos.\"}";

static FILE *mem(const char *s) { return fmemopen((void *)s, strlen(s), "r"); }

static void reader_jsonl(void **state)
{
    (void)state;
    FILE *fp = mem(JSONL);
    cl_doc_reader *r;
    cl_error err;
    assert_int_equal(cl_doc_reader_open(fp, CL_FORMAT_JSONL, "in.jsonl", &r, &err), CL_OK);
    cl_doc *d;
    const char *want[] = {"d1", "d2", NULL, "d3", NULL, "d4"};
    long lines[] = {1, 2, 4, 5, 6, 7};
    for (int i = 0; i < 6; i++) {
        cl_status st = cl_doc_reader_next(r, &d, &err);
        assert_int_equal(cl_doc_reader_line(r), lines[i]);
        if (!want[i]) {
            assert_int_not_equal(st, CL_OK);
            char where[32];
            snprintf(where, sizeof where, "in.jsonl:%ld:", lines[i]);
            assert_non_null(strstr(err.msg, where));
            size_t n;
            const char *raw = cl_doc_reader_rejected(r, &n);
            assert_non_null(raw);
            assert_memory_equal(raw, i == 2 ? "{\"id\":\"bad\",\"text\":7}\n" : "{\"id\":\n", n);
            continue;
        }
        assert_int_equal(st, CL_OK);
        assert_non_null(d);
        assert_string_equal(d->id, want[i]);
        assert_null(cl_doc_reader_rejected(r, NULL));
        cl_doc_free(d);
    }
    assert_int_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_null(d);
    cl_doc_reader_free(r);
    fclose(fp);
}

/* Three documents; the second has a bad label on line 6 and is skipped whole. */
static const char CONLL[] = "# doc: a\n"
                            "Fabry\tB-RAREDISEASE\n"
                            "é\tO\n"
                            "\n"
                            "# doc: b\n"
                            "x\tNOT-A-LABEL\n"
                            "y\tO\n"
                            "# doc: c\n"
                            "Pain\tB-SIGN\n"
                            "\n"
                            "z\tO";

static void reader_conll(void **state)
{
    (void)state;
    FILE *fp = mem(CONLL);
    cl_doc_reader *r;
    cl_error err;
    assert_int_equal(cl_doc_reader_open(fp, CL_FORMAT_CONLL, "in.conll", &r, &err), CL_OK);
    cl_doc *d;
    assert_int_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_string_equal(d->id, "a");
    assert_int_equal(d->ntokens, 2);
    assert_int_equal(cl_doc_reader_line(r), 1);
    cl_doc_free(d);
    assert_int_not_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_non_null(strstr(err.msg, "in.conll:6:"));
    size_t n;
    const char *raw = cl_doc_reader_rejected(r, &n);
    const char *want = "# doc: b\nx\tNOT-A-LABEL\ny\tO\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(raw, want, n);
    assert_int_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_string_equal(d->id, "c");
    assert_int_equal(d->ntokens, 2);
    assert_int_equal(d->nsentences, 2);
    assert_int_equal(cl_doc_reader_line(r), 8);
    cl_doc_free(d);
    assert_int_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_null(d);
    cl_doc_reader_free(r);
    fclose(fp);
}

static void reader_text(void **state)
{
    (void)state;
    static const char text[] = "Line one.\nLine two, no final newline";
    FILE *fp = mem(text);
    cl_doc_reader *r;
    cl_error err;
    assert_int_equal(cl_doc_reader_open(fp, CL_FORMAT_TEXT, "dir/note.txt", &r, &err), CL_OK);
    cl_doc *d;
    assert_int_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_string_equal(d->id, "note");
    assert_int_equal(d->text_bytes, strlen(text));
    assert_memory_equal(d->text, text, strlen(text));
    cl_doc_free(d);
    assert_int_equal(cl_doc_reader_next(r, &d, &err), CL_OK);
    assert_null(d);
    cl_doc_reader_free(r);
    fclose(fp);
    assert_int_not_equal(cl_doc_reader_open(stdin, CL_FORMAT_BRAT, "x", &r, &err), CL_OK);
}

/* The filter reads a jsonl line's top-level id without parsing it: not an
 * "id" inside a string or a nested object; an id with escapes is parsed. */
static const char FILTERED[] =
    "{\"text\":\"a {\\\"id\\\":\\\"x\\\"}\",\"meta\":{\"id\":\"inner\",\"l\":[1,{\"id\":\"y\"}]},"
    "\"id\":\"d1\"}\n"
    "{\"id\":\"d\\u0032\",\"text\":\"b\"}\n"
    "{ \"id\" : \"d3\" , \"text\":\"c\"}\n"
    "{\"id\":\"d4\",\"text\":5}";

static bool keep_listed(void *ctx, const char *id) { return strstr(ctx, id) != NULL; }

static void reader_filter(void **state)
{
    (void)state;
    struct {
        const char *keep, *want;
        int64_t filtered;
    } cases[] = {{"d1 d2", "d1 d2 ", 2}, {"d3", "d3 ", 3}, {"x y inner", "", 4}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        FILE *fp = mem(FILTERED);
        cl_doc_reader *r;
        cl_error err;
        assert_int_equal(cl_doc_reader_open(fp, CL_FORMAT_JSONL, "f", &r, &err), CL_OK);
        cl_doc_reader_set_filter(r, keep_listed, (void *)cases[c].keep);
        char got[64] = "";
        cl_doc *d;
        /* d4 is malformed but left out unparsed: no error */
        while (cl_doc_reader_next(r, &d, &err) == CL_OK && d) {
            strcat(got, d->id);
            strcat(got, " ");
            cl_doc_free(d);
        }
        assert_string_equal(got, cases[c].want);
        assert_int_equal(cl_doc_reader_filtered(r), cases[c].filtered);
        cl_doc_reader_free(r);
        fclose(fp);
    }
}

/* FNV-1a 64 test vectors (Fowler/Noll/Vo): "" -> cbf29ce484222325,
 * "a" -> af63dc4c8601ec8c, "foobar" -> 85944171f73967e8. */
static void shards(void **state)
{
    (void)state;
    assert_int_equal(cl_shard_of("", 1000), (int32_t)(0xcbf29ce484222325ULL % 1000));
    assert_int_equal(cl_shard_of("a", 7), (int32_t)(0xaf63dc4c8601ec8cULL % 7));
    assert_int_equal(cl_shard_of("foobar", 65536), (int32_t)(0x85944171f73967e8ULL % 65536));
    assert_int_equal(cl_shard_of("anything", 1), 0);
    int32_t k, n;
    cl_error err;
    assert_int_equal(cl_shard_parse("3/4", &k, &n, &err), CL_OK);
    assert_int_equal(k, 3);
    assert_int_equal(n, 4);
    const char *bad[] = {"4/4", "-1/4", "1/0", "1", "1/4x", "a/b", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(cl_shard_parse(bad[i], &k, &n, &err), CL_OK);
}

/* Stream JSONL (shard k of n; n 0: all) to a string; rejects to another. */
static char *stream(int32_t k, int32_t n, int32_t threads, char **rejects, int64_t *nrej)
{
    FILE *in = mem(JSONL);
    char *out = NULL, *rej = NULL;
    size_t outn = 0, rejn = 0;
    FILE *fo = open_memstream(&out, &outn), *fr = open_memstream(&rej, &rejn);
    cl_doc_reader *r;
    cl_error err;
    assert_int_equal(cl_doc_reader_open(in, CL_FORMAT_JSONL, "stdin", &r, &err), CL_OK);
    cl_tagger t = {&caps_ops, NULL};
    cl_stream_params p = cl_stream_default_params();
    p.out = fo;
    p.entities_from_tags = true;
    p.on_error = CL_ON_ERROR_SKIP;
    p.rejects = fr;
    p.prepare = prepare;
    p.shard_k = k;
    p.shard_n = n;
    p.threads = threads;
    cl_run_summary sum;
    assert_int_equal(cl_run_stream(&t, r, &p, &sum, &err), CL_OK);
    *nrej = sum.rejected;
    cl_doc_reader_free(r);
    fclose(in);
    fclose(fo);
    fclose(fr);
    if (rejects)
        *rejects = rej;
    else
        free(rej);
    return out;
}

static void stream_equals_batch(void **state)
{
    (void)state;
    /* the batch runner over the good documents */
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    FILE *in = mem(JSONL);
    cl_doc_reader *r;
    assert_int_equal(cl_doc_reader_open(in, CL_FORMAT_JSONL, "x", &r, &err), CL_OK);
    cl_stream_params rp = cl_stream_default_params();
    rp.on_error = CL_ON_ERROR_SKIP;
    rp.prepare = prepare;
    cl_run_summary sum;
    assert_int_equal(cl_run_read_all(r, &rp, c, &sum, &err), CL_OK);
    assert_int_equal(c->ndocs, 4);
    assert_int_equal(sum.rejected, 2);
    cl_doc_reader_free(r);
    fclose(in);
    char path[] = "/tmp/clinner-test-stream-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    cl_tagger t = {&caps_ops, NULL};
    cl_run_params p = cl_run_default_params();
    p.out_path = path;
    p.entities_from_tags = true;
    assert_int_equal(cl_run_tag(&t, c, &p, &sum, &err), CL_OK);
    char *want = NULL;
    size_t wn = 0;
    assert_int_equal(cl_read_file(path, &want, &wn, &err), CL_OK);
    unlink(path);
    cl_corpus_free(c);
    assert_non_null(strstr(want, "\"type\":\"DISEASE\""));

    for (int32_t threads = 1; threads <= 3; threads += 2) {
        char *rej;
        int64_t nrej;
        char *got = stream(0, 0, threads, &rej, &nrej);
        assert_string_equal(got, want);
        assert_int_equal(nrej, 2);
        assert_string_equal(rej, "{\"id\":\"bad\",\"text\":7}\n{\"id\":\n");
        free(got);
        free(rej);
    }

    /* shards 0..2 of 3, merged in the order of the input */
    char *parts[3];
    FILE *fps[3];
    const char *names[3] = {"s0", "s1", "s2"};
    int total = 0;
    for (int k = 0; k < 3; k++) {
        int64_t nrej;
        parts[k] = stream(k, 3, 1, NULL, &nrej);
        for (const char *q = parts[k]; *q; q++)
            total += *q == '\n';
        fps[k] = mem(parts[k]);
    }
    assert_int_equal(total, 4);
    in = mem(JSONL);
    assert_int_equal(cl_doc_reader_open(in, CL_FORMAT_JSONL, "x", &r, &err), CL_OK);
    char *merged = NULL;
    size_t mn = 0;
    FILE *fo = open_memstream(&merged, &mn);
    int64_t nmerged;
    assert_int_equal(cl_run_merge(r, fps, names, 3, CL_FORMAT_JSONL, fo, &nmerged, &err), CL_OK);
    fclose(fo);
    assert_int_equal(nmerged, 4);
    assert_string_equal(merged, want);
    free(merged);

    /* the same from files, into a file written atomically */
    char dir[] = "/tmp/clinner-merge-XXXXXX", paths[4][64], out[64];
    assert_non_null(mkdtemp(dir));
    const char *shard_paths[3], *swapped[3];
    for (int k = 0; k < 4; k++) {
        snprintf(paths[k], sizeof paths[k], "%s/%d", dir, k);
        FILE *f = fopen(paths[k], "w");
        fputs(k < 3 ? parts[k] : JSONL, f);
        fclose(f);
        if (k < 3)
            shard_paths[k] = paths[k];
    }
    snprintf(out, sizeof out, "%s/out", dir);
    assert_int_equal(cl_run_merge_files(paths[3], CL_FORMAT_JSONL, shard_paths, 3,
                                        CL_FORMAT_JSONL, out, &nmerged, &err),
                     CL_OK);
    assert_int_equal(nmerged, 4);
    assert_int_equal(cl_read_file(out, &merged, &mn, &err), CL_OK);
    assert_string_equal(merged, want);
    free(merged);
    unlink(out);
    swapped[0] = paths[1], swapped[1] = paths[0], swapped[2] = paths[2];
    assert_int_not_equal(cl_run_merge_files(paths[3], CL_FORMAT_JSONL, swapped, 3,
                                            CL_FORMAT_JSONL, out, &nmerged, &err),
                         CL_OK);
    assert_int_not_equal(access(out, F_OK), 0); /* nothing left on error */
    swapped[2] = "/nonexistent/shard";
    assert_int_equal(cl_run_merge_files(paths[3], CL_FORMAT_JSONL, swapped, 3, CL_FORMAT_JSONL,
                                        out, &nmerged, &err),
                     CL_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/shard: cannot open"));
    for (int k = 0; k < 4; k++)
        unlink(paths[k]);
    rmdir(dir);
    cl_doc_reader_free(r);
    fclose(in);
    for (int k = 0; k < 3; k++) {
        fclose(fps[k]);
        free(parts[k]);
    }
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reader_jsonl),
        cmocka_unit_test(reader_conll),
        cmocka_unit_test(reader_text),
        cmocka_unit_test(reader_filter),
        cmocka_unit_test(shards),
        cmocka_unit_test(stream_equals_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
