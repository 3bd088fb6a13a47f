/* test_retrieve.c - BM25 scores and rankings (computed by hand), the index
 * file (round trip, corruption, key), the cache, terms, knowledge-base
 * chunking and the BM25 retriever. */
#include "testutil.h"

#include <math.h>

#include "clinner/doc.h"
#include "clinner/retrieve.h"
#include "clinner/util.h"

/* d0 "a b c", d1 "a a d", d2 "e": N = 3, avgdl = 7/3.
 * idf(a) = ln(1 + 1.5/2.5) = ln 1.6; idf(e) = ln(1 + 2.5/1.5).
 * score(a, d0) = ln1.6 * 2.2 / (1 + 1.2 (0.25 + 0.75 * 9/7)) = 0.420817
 * score(a, d1) = ln1.6 * 2 * 2.2 / (2 + 1.2 (0.25 + 0.75 * 9/7)) = 0.598186
 * score(e, d2) = ln(8/3) * 2.2 / (1 + 1.2 (0.25 + 0.75 * 3/7)) = 1.280065 */
static cl_bm25 *small_index(void)
{
    cl_error err;
    cl_bm25 *ix = NULL;
    assert_int_equal(cl_bm25_new(NULL, &ix, &err), CL_OK);
    const char *d0[] = {"a", "b", "c"}, *d1[] = {"a", "a", "d"}, *d2[] = {"e"};
    assert_int_equal(cl_bm25_add(ix, d0, 3, &err), CL_OK);
    assert_int_equal(cl_bm25_add(ix, d1, 3, &err), CL_OK);
    assert_int_equal(cl_bm25_add(ix, d2, 1, &err), CL_OK);
    assert_int_equal(cl_bm25_finish(ix, &err), CL_OK);
    return ix;
}

static void check_small_scores(const cl_bm25 *ix)
{
    const char *qa[] = {"a"}, *qe[] = {"e"}, *qab[] = {"a", "b"};
    assert_float_equal(cl_bm25_score(ix, qa, 1, 0), 0.420817, 1e-6);
    assert_float_equal(cl_bm25_score(ix, qa, 1, 1), 0.598186, 1e-6);
    assert_float_equal(cl_bm25_score(ix, qa, 1, 2), 0.0, 1e-12);
    assert_float_equal(cl_bm25_score(ix, qe, 1, 2), 1.280065, 1e-6);
    assert_float_equal(cl_bm25_score(ix, qab, 2, 0), 1.299002, 1e-6);
}

static void bm25_scores_by_hand(void **state)
{
    (void)state;
    cl_bm25 *ix = small_index();
    assert_int_equal(cl_bm25_ndocs(ix), 3);
    check_small_scores(ix);
    cl_bm25_free(ix);
}

static bool exclude_one(void *ctx, int32_t doc) { return doc == *(int32_t *)ctx; }

static void bm25_ranking_ties_and_exclusion(void **state)
{
    (void)state;
    cl_error err;
    cl_bm25 *ix = small_index();
    cl_bm25_hit hits[3];
    int32_t n;
    const char *qa[] = {"a"}, *qcd[] = {"c", "d"}, *qe[] = {"e"}, *qz[] = {"zzz"};
    /* a: d1 > d0 > d2 (zero fills the list) */
    assert_int_equal(cl_bm25_query(ix, qa, 1, 3, NULL, NULL, hits, &n, &err), CL_OK);
    assert_int_equal(n, 3);
    assert_int_equal(hits[0].doc, 1);
    assert_int_equal(hits[1].doc, 0);
    assert_int_equal(hits[2].doc, 2);
    assert_float_equal(hits[0].score, 0.598186, 1e-6);
    /* c d: d0 and d1 tie (0.878184): lower number first */
    assert_int_equal(cl_bm25_query(ix, qcd, 2, 2, NULL, NULL, hits, &n, &err), CL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].doc, 0);
    assert_int_equal(hits[1].doc, 1);
    assert_float_equal(hits[0].score, 0.878184, 1e-6);
    assert_float_equal(hits[1].score, hits[0].score, 1e-12);
    /* excluding d1 from "a": d0 then d2 */
    int32_t ex = 1;
    assert_int_equal(cl_bm25_query(ix, qa, 1, 2, exclude_one, &ex, hits, &n, &err), CL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].doc, 0);
    assert_int_equal(hits[1].doc, 2);
    /* k = 1 */
    assert_int_equal(cl_bm25_query(ix, qe, 1, 1, NULL, NULL, hits, &n, &err), CL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hits[0].doc, 2);
    /* unknown term: every score 0, index order */
    assert_int_equal(cl_bm25_query(ix, qz, 1, 2, NULL, NULL, hits, &n, &err), CL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].doc, 0);
    assert_float_equal(hits[0].score, 0.0, 1e-12);
    /* adding after finish is refused */
    assert_int_equal(cl_bm25_add(ix, qa, 1, &err), CL_ERR_ARG);
    cl_bm25_free(ix);
}

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/clinner-retrieve-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return cl_strdup(d);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The small index saved with key 42 in dir; returns the file's path. */
static char *saved_small_index(const char *dir)
{
    cl_error err;
    char *path = cl_path_join(dir, "ix.bin");
    cl_bm25 *ix = small_index();
    assert_int_equal(cl_bm25_save(ix, path, 42, &err), CL_OK);
    cl_bm25_free(ix);
    return path;
}

static void bm25_file_round_trip_and_corruption(void **state)
{
    (void)state;
    cl_error err;
    char *dir = temp_dir();
    char *path = saved_small_index(dir);

    cl_bm25 *back = NULL;
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_OK);
    check_small_scores(back);
    cl_bm25_free(back);

    /* another key: refused */
    assert_int_equal(cl_bm25_load(path, 43, &back, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "key"));
    assert_null(back);

    /* one flipped byte: checksum */
    char *data;
    size_t n;
    assert_int_equal(cl_read_file(path, &data, &n, &err), CL_OK);
    data[n / 2] ^= 0x55;
    FILE *fp = fopen(path, "wb");
    fwrite(data, 1, n, fp);
    fclose(fp);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    /* truncated */
    data[n / 2] ^= 0x55;
    fp = fopen(path, "wb");
    fwrite(data, 1, n - 3, fp);
    fclose(fp);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    /* not an index */
    fp = fopen(path, "wb");
    fputs("hello", fp);
    fclose(fp);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    assert_int_equal(cl_bm25_load("/nonexistent/ix.bin", 42, &back, &err), CL_ERR_IO);
    /* an index of the first format (version 1, before the container): a
     * clear "rebuild" error, not a checksum or truncation message */
    fp = fopen(path, "wb");
    fwrite("CLBM25\n\0\x01\0\0\0\x04\x03\x02\x01", 1, 16, fp);
    fwrite(data, 1, n > 64 ? 64 : n, fp);
    fclose(fp);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "rebuild"));
    assert_non_null(strstr(err.msg, path));
    free(data);
    free(path);
    rm_rf(dir);
    free(dir);
}

/* Write an index file's bytes with its checksum recomputed (data is
 * changed in place: the header's checksum, bytes 24..31, binfile.h; a
 * little-endian host). */
static void write_forged(const char *path, char *data, size_t n)
{
    uint64_t sum = cl_fnv1a64(CL_FNV64_INIT, data + 32, n - 32);
    memcpy(data + 24, &sum, 8);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void put_i32(char *p, int32_t v) { memcpy(p, &v, 4); }

/* Files that pass the checksum but could not come from cl_bm25_save (found
 * by fuzz/fuzz_bm25.c): each is refused, since queries would return scores
 * that are negative or not numbers, count a document twice, or allocate
 * what the file cannot hold. */
static void bm25_forged_files_are_refused(void **state)
{
    (void)state;
    cl_error err;
    char *dir = temp_dir();
    char *path = saved_small_index(dir);
    char *data;
    size_t n;
    assert_int_equal(cl_read_file(path, &data, &n, &err), CL_OK);
    /* layout of the small index: container header to 32, key, k1, b,
     * counts to 72, 3 document lengths, terms a b c d e (4 + 1 bytes each)
     * from 84, 6 starts from 109, 6 posting documents from 133, 6
     * frequencies from 157 to the end, 181 */
    assert_int_equal(n, 181);
    assert_memory_equal(data + 88, "a", 1);
    assert_memory_equal(data + 93, "b", 1);
    const struct {
        size_t at;
        int32_t value;
        const char *why;
    } cases[] = {
        {80, -1, "negative document length"},
        {133, 1, "postings out of order"}, /* a: documents 1, 1 */
        {177, 2, "posting out of range"},  /* e in d2 (1 term) twice */
        {60, INT32_MAX, "truncated vocabulary"}, /* the term count */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, data, n);
        put_i32(copy + cases[i].at, cases[i].value);
        write_forged(path, copy, n);
        free(copy);
        cl_bm25 *back = NULL;
        assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
        assert_null(back);
        if (!strstr(err.msg, cases[i].why) || !strstr(err.msg, path))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
    }
    /* one-byte edits of the terms: "b" made "a" (there twice), "c" made NUL;
     * then k1 that is not a number */
    char *copy = malloc(n);
    assert_non_null(copy);
    memcpy(copy, data, n);
    copy[93] = 'a';
    write_forged(path, copy, n);
    cl_bm25 *back = NULL;
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "a vocabulary term is there twice"));
    memcpy(copy, data, n);
    copy[98] = '\0';
    write_forged(path, copy, n);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "NUL byte"));
    memcpy(copy, data, n);
    double inf = INFINITY;
    memcpy(copy + 40, &inf, 8);
    write_forged(path, copy, n);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "bad parameters"));
    /* unchanged, it still loads */
    write_forged(path, data, n);
    assert_int_equal(cl_bm25_load(path, 42, &back, &err), CL_OK);
    check_small_scores(back);
    cl_bm25_free(back);
    free(copy);
    free(data);
    free(path);
    rm_rf(dir);
    free(dir);
}

static int builds;

static cl_status build_small(void *ctx, cl_bm25 *ix, cl_error *err)
{
    (void)ctx;
    builds++;
    const char *d0[] = {"x", "y"}, *d1[] = {"y"};
    cl_status st = cl_bm25_add(ix, d0, 2, err);
    return st == CL_OK ? cl_bm25_add(ix, d1, 1, err) : st;
}

static void bm25_cache_builds_once(void **state)
{
    (void)state;
    cl_error err;
    char *dir = temp_dir();
    char *cache = cl_path_join(dir, "sub/cache");
    builds = 0;
    cl_bm25 *ix;
    assert_int_equal(cl_bm25_cached(cache, 7, NULL, build_small, NULL, &ix, &err), CL_OK);
    assert_int_equal(builds, 1);
    assert_int_equal(cl_bm25_ndocs(ix), 2);
    cl_bm25_free(ix);
    char *file = cl_path_join(cache, "bm25-0000000000000007.bin");
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(cl_bm25_cached(cache, 7, NULL, build_small, NULL, &ix, &err), CL_OK);
    assert_int_equal(builds, 1); /* loaded, not rebuilt */
    const char *q[] = {"x"};
    assert_true(cl_bm25_score(ix, q, 1, 0) > 0);
    cl_bm25_free(ix);
    /* corrupt cache: rebuilt silently */
    FILE *fp = fopen(file, "wb");
    fputs("junk", fp);
    fclose(fp);
    assert_int_equal(cl_bm25_cached(cache, 7, NULL, build_small, NULL, &ix, &err), CL_OK);
    assert_int_equal(builds, 2);
    cl_bm25_free(ix);
    /* no cache dir: always built */
    assert_int_equal(cl_bm25_cached(NULL, 7, NULL, build_small, NULL, &ix, &err), CL_OK);
    assert_int_equal(builds, 3);
    cl_bm25_free(ix);
    free(file);
    free(cache);
    rm_rf(dir);
    free(dir);
}

/* A document with tokens at the given whitespace-separated words and
 * sentences of the given token counts. */
static cl_doc *make_doc(const char *id, const char *text, const int *sent_lens, int nsent)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text, strlen(text), &d, &err), CL_OK);
    int32_t cp = 0, n = d->index.nchars;
    while (cp < n) {
        size_t b = cl_text_cp_to_byte(&d->index, cp);
        if (d->text[b] == ' ') {
            cp++;
            continue;
        }
        int32_t s = cp;
        while (cp < n && d->text[cl_text_cp_to_byte(&d->index, cp)] != ' ')
            cp++;
        assert_int_equal(cl_doc_push_token(d, s, cp, &err), CL_OK);
    }
    int32_t t = 0;
    for (int i = 0; i < nsent; i++) {
        assert_int_equal(cl_doc_push_sentence(d, t, t + sent_lens[i], &err), CL_OK);
        t += sent_lens[i];
    }
    assert_int_equal(t, d->ntokens);
    return d;
}

static void terms_lowercase_and_drop_punctuation(void **state)
{
    (void)state;
    int lens[] = {6};
    cl_doc *d = make_doc("t", "The FEVER , \xC3\x89T\xC3\x89 3 --", lens, 1);
    char **terms;
    int32_t n;
    cl_error err;
    assert_int_equal(cl_doc_terms(d, 0, 6, &terms, &n, &err), CL_OK);
    assert_int_equal(n, 4);
    assert_string_equal(terms[0], "the");
    assert_string_equal(terms[1], "fever");
    assert_string_equal(terms[2], "\xC3\xA9t\xC3\xA9");
    assert_string_equal(terms[3], "3");
    cl_terms_free(terms, n);
    assert_int_equal(cl_doc_terms(d, 0, 9, &terms, &n, &err), CL_ERR_RANGE);
    cl_doc_free(d);
}

static void kb_chunks_whole_sentences(void **state)
{
    (void)state;
    cl_error err;
    int lens[] = {3, 3, 3};
    cl_doc *d = make_doc("doc", "a b c. d e f. g h i.", lens, 3);
    cl_kb *kb = NULL;
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb, d, 5, &err), CL_OK); /* 3 + 3 > 5 */
    assert_int_equal(kb->npassages, 3);
    assert_string_equal(kb->passages[1].text, "d e f.");
    assert_string_equal(kb->passages[1].doc_id, "doc");
    cl_kb_free(kb);
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb, d, 6, &err), CL_OK);
    assert_int_equal(kb->npassages, 2);
    assert_string_equal(kb->passages[0].text, "a b c. d e f.");
    assert_string_equal(kb->passages[1].text, "g h i.");
    assert_int_equal(kb->passages[0].nterms, 6);
    cl_kb_free(kb);
    cl_doc_free(d);
    /* a sentence longer than a chunk is cut */
    int one[] = {7};
    d = make_doc("long", "1 2 3 4 5 6 7", one, 1);
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb, d, 3, &err), CL_OK);
    assert_int_equal(kb->npassages, 3);
    assert_string_equal(kb->passages[0].text, "1 2 3");
    assert_string_equal(kb->passages[1].text, "4 5 6");
    assert_string_equal(kb->passages[2].text, "7");
    assert_int_equal(cl_kb_add_doc(kb, d, 0, &err), CL_ERR_ARG);
    cl_kb_free(kb);
    cl_doc_free(d);
}

static void bm25_retriever_excludes_document(void **state)
{
    (void)state;
    cl_error err;
    int l1[] = {3}, l2[] = {3}, l3[] = {2};
    cl_doc *d1 = make_doc("one", "fever and rash", l1, 1);
    cl_doc *d2 = make_doc("two", "fever with cough", l2, 1);
    cl_doc *d3 = make_doc("three", "unrelated words", l3, 1);
    cl_kb *kb = NULL;
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb, d1, 512, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb, d2, 512, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb, d3, 512, &err), CL_OK);
    uint64_t fp1 = cl_kb_fingerprint(kb);
    char *dir = temp_dir();
    cl_retriever r;
    assert_int_equal(cl_bm25_retriever_new(kb, dir, &r, &err), CL_OK);
    const char *q[] = {"fever", "rash"};
    cl_retrieved out[3];
    int32_t n;
    assert_int_equal(cl_retriever_top_k(&r, "fever rash", q, 2, NULL, 3, out, &n, &err), CL_OK);
    assert_int_equal(n, 2); /* "three" scores 0: not returned */
    assert_string_equal(out[0].doc_id, "one");
    assert_string_equal(out[0].text, "fever and rash");
    assert_string_equal(out[1].doc_id, "two");
    assert_int_equal(cl_retriever_top_k(&r, "fever rash", q, 2, "one", 3, out, &n, &err), CL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].doc_id, "two");
    cl_retriever_free(&r);
    cl_retriever_free(&r); /* safe twice */
    /* same passages, same fingerprint: the cached index is used */
    cl_kb *kb2 = NULL;
    assert_int_equal(cl_kb_new(&kb2, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb2, d1, 512, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb2, d2, 512, &err), CL_OK);
    assert_int_equal(cl_kb_add_doc(kb2, d3, 512, &err), CL_OK);
    assert_true(cl_kb_fingerprint(kb2) == fp1);
    assert_int_equal(cl_bm25_retriever_new(kb2, dir, &r, &err), CL_OK);
    assert_int_equal(cl_retriever_top_k(&r, "", q, 2, NULL, 1, out, &n, &err), CL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].doc_id, "one");
    cl_retriever_free(&r);
    rm_rf(dir);
    free(dir);
    cl_doc_free(d1);
    cl_doc_free(d2);
    cl_doc_free(d3);
}

static void kb_reads_folder(void **state)
{
    (void)state;
    cl_error err;
    char *dir = temp_dir();
    char *a = cl_path_join(dir, "b-second.txt"), *b = cl_path_join(dir, "a-first.txt");
    char *c = cl_path_join(dir, "ignored.ann");
    FILE *fp = fopen(a, "w");
    fputs("Second article. It has two sentences.", fp);
    fclose(fp);
    fp = fopen(b, "w");
    fputs("First article about fever.", fp);
    fclose(fp);
    fp = fopen(c, "w");
    fputs("T1\tSIGN 0 1\tx\n", fp);
    fclose(fp);
    cl_kb *kb = NULL;
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    assert_int_equal(cl_kb_read_dir(kb, dir, CL_TOKENIZER_CLINICAL, 512, &err), CL_OK);
    assert_int_equal(kb->npassages, 2);
    assert_string_equal(kb->passages[0].doc_id, "a-first");
    assert_string_equal(kb->passages[0].text, "First article about fever.");
    assert_string_equal(kb->passages[1].doc_id, "b-second");
    cl_kb_free(kb);
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    assert_int_equal(cl_kb_read_dir(kb, "/nonexistent-kb", CL_TOKENIZER_CLINICAL, 512, &err),
                     CL_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-kb"));
    cl_kb_free(kb);
    free(a);
    free(b);
    free(c);
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bm25_scores_by_hand),
        cmocka_unit_test(bm25_ranking_ties_and_exclusion),
        cmocka_unit_test(bm25_file_round_trip_and_corruption),
        cmocka_unit_test(bm25_forged_files_are_refused),
        cmocka_unit_test(bm25_cache_builds_once),
        cmocka_unit_test(terms_lowercase_and_drop_punctuation),
        cmocka_unit_test(kb_chunks_whole_sentences),
        cmocka_unit_test(bm25_retriever_excludes_document),
        cmocka_unit_test(kb_reads_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
