/*
 * test_encoder.c - the encoder module's pure-C parts: the safetensors reader
 * and writer (round trip, hostile headers) and the WordPiece tokenizer
 * against reference tokenizations by Hugging Face `tokenizers`
 * (tests/gen_wordpiece_fixture.py wrote wordpiece_expected.txt from the
 * model's tokenizer.json; the sentences are hand-written).  The tokenizer
 * test needs the base model's vocab.txt (scripts/fetch-encoder.sh) and skips
 * without it.
 */
#include "testutil.h"

#if CL_HAVE_LLAMA
#include "clinner/encoder.h"
#include "clinner/util.h"

#define FIX "tests/fixtures/encoder/"

static const char *base_dir(char *buf, size_t n)
{
    const char *cache = getenv("CLINNER_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, n, "%s/models/all-minilm-l6-v2", cache);
    else
        snprintf(buf, n, "%s/.cache/clinner/models/all-minilm-l6-v2", home ? home : ".");
    char vocab[4200];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", buf);
    struct stat st;
    if (stat(vocab, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (run scripts/fetch-encoder.sh)\n", vocab);
        return NULL;
    }
    return buf;
}

static char *unescape(const char *s, size_t n, size_t *outn)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[++i];
            o[k++] = c == 't' ? '\t' : c == '0' ? '\0' : c;
        } else {
            o[k++] = s[i];
        }
    }
    *outn = k;
    return o;
}

static void test_wordpiece_reference(void **state)
{
    (void)state;
    char dir[4096], path[4200];
    if (!base_dir(dir, sizeof dir))
        skip();
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    cl_error err;
    cl_wordpiece *wp;
    assert_int_equal(cl_wordpiece_load(path, &wp, &err), CL_OK);
    assert_int_equal(cl_wordpiece_size(wp), 30522);
    char *sent, *exp;
    size_t ns, ne;
    assert_int_equal(cl_read_file(FIX "wordpiece_sentences.txt", &sent, &ns, &err), CL_OK);
    assert_int_equal(cl_read_file(FIX "wordpiece_expected.txt", &exp, &ne, &err), CL_OK);
    size_t si = 0, ei = 0;
    int lines = 0;
    while (si <= ns && ei < ne) {
        size_t sj = si, ej = ei;
        while (sj < ns && sent[sj] != '\n')
            sj++;
        while (ej < ne && exp[ej] != '\n')
            ej++;
        size_t tn;
        char *text = unescape(sent + si, sj - si, &tn);
        int32_t *ids = NULL, nids = 0, cap = 0, nwords = 0;
        assert_int_equal(cl_wordpiece_encode(wp, text, tn, &ids, NULL, &nids, &cap, &nwords, &err),
                         CL_OK);
        char *line = strndup(exp + ei, ej - ei), *p = line;
        int32_t k = 0;
        while (*p) {
            long want = strtol(p, &p, 10);
            if (k >= nids || ids[k] != want)
                fail_msg("sentence %d piece %d: got %d (%s), want %ld (%s)", lines + 1, k,
                         k < nids ? ids[k] : -1, k < nids ? cl_wordpiece_piece(wp, ids[k]) : "-",
                         want, cl_wordpiece_piece(wp, (int32_t)want));
            k++;
            while (*p == ' ')
                p++;
        }
        assert_int_equal(k, nids);
        free(line);
        free(ids);
        free(text);
        lines++;
        si = sj + 1;
        ei = ej + 1;
    }
    assert_int_equal(lines, 16);
    free(sent);
    free(exp);
    cl_wordpiece_free(wp);
}

/* A tiny vocabulary written here: greedy longest match, ## continuations,
 * [UNK] for a word with an unmatched rest, word indices of pieces. */
static void test_wordpiece_small_vocab(void **state)
{
    (void)state;
    const char *vocab = "[PAD]\n[UNK]\nun\n##aff\n##able\naff\n##a\n,\nrun\n##ning\n";
    cl_error err;
    cl_wordpiece *wp;
    assert_int_equal(cl_wordpiece_new(vocab, strlen(vocab), &wp, &err), CL_OK);
    const char *text = "Unaffable, RUNNING unx";
    int32_t *ids = NULL, *wo = NULL, n = 0, cap = 0, nw = 0;
    assert_int_equal(cl_wordpiece_encode(wp, text, strlen(text), &ids, &wo, &n, &cap, &nw, &err),
                     CL_OK);
    const int32_t want[] = {2, 3, 4, 7, 8, 9, 1}, want_w[] = {0, 0, 0, 1, 2, 2, 3};
    assert_int_equal(n, 7);
    assert_int_equal(nw, 4);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ids[i], want[i]);
        assert_int_equal(wo[i], want_w[i]);
    }
    free(ids);
    free(wo);
    /* invalid UTF-8 is an error */
    ids = NULL;
    n = cap = 0;
    assert_int_equal(cl_wordpiece_encode(wp, "a\xff", 2, &ids, NULL, &n, &cap, NULL, &err),
                     CL_ERR_UTF8);
    free(ids);
    cl_wordpiece_free(wp);
}

static void test_safetensors_roundtrip(void **state)
{
    (void)state;
    char path[] = "/tmp/clinner-st-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cl_error err;
    cl_st_writer *w = NULL;
    assert_int_equal(cl_st_writer_new(&w, &err), CL_OK);
    float a[6] = {1, 2, 3, 4, 5, 6.5f};
    int32_t b[3] = {7, -8, 9};
    int64_t sa[2] = {2, 3}, sb[1] = {3};
    assert_int_equal(cl_st_writer_add(w, "x.weight", "F32", 2, sa, a, sizeof a, &err), CL_OK);
    assert_int_equal(cl_st_writer_add(w, "ids", "I32", 1, sb, b, sizeof b, &err), CL_OK);
    assert_int_equal(cl_st_writer_meta(w, "clinner.labels", "O\nB-X\u00e9", &err), CL_OK);
    assert_int_equal(cl_st_write(w, path, &err), CL_OK);
    cl_st_writer_free(w);
    cl_st_file *f;
    assert_int_equal(cl_st_open(path, &f, &err), CL_OK);
    assert_int_equal(cl_st_count(f), 2);
    const cl_st_tensor *t = cl_st_find(f, "x.weight");
    assert_non_null(t);
    assert_string_equal(t->dtype, "F32");
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[1], 3);
    assert_memory_equal(cl_st_data(f, t), a, sizeof a);
    t = cl_st_find(f, "ids");
    assert_memory_equal(cl_st_data(f, t), b, sizeof b);
    assert_string_equal(cl_st_meta(f, "clinner.labels"), "O\nB-X\u00e9");
    assert_null(cl_st_meta(f, "nope"));
    assert_null(cl_st_find(f, "nope"));
    cl_st_free(f);
    unlink(path);
}

static void write_raw(const char *path, const char *hdr, size_t data_bytes)
{
    FILE *fp = fopen(path, "wb");
    uint64_t n = strlen(hdr);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(n >> (8 * i));
    fwrite(len8, 1, 8, fp);
    fwrite(hdr, 1, n, fp);
    for (size_t i = 0; i < data_bytes; i++)
        fputc(0, fp);
    fclose(fp);
}

static void test_safetensors_hostile(void **state)
{
    (void)state;
    char path[] = "/tmp/clinner-st-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    cl_error err;
    cl_st_file *f;
    static const char *bad[] = {
        "[1,2]",                                                             /* not an object */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,32]}}", /* past the end */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", /* size mismatch */
        "{\"a\":{\"dtype\":\"Q9\",\"shape\":[4],\"data_offsets\":[0,16]}}",  /* unknown dtype */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}",                          /* no offsets */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,4]}}",  /* reversed */
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,4],\"data_offsets\":[0,16]}}",
        "{\"__metadata__\":{\"k\":1}}", /* metadata not a string */
        "{\"a\":",                       /* truncated JSON */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_raw(path, bad[i], 16);
        assert_int_equal(cl_st_open(path, &f, &err), CL_ERR_FORMAT);
        assert_non_null(strstr(err.msg, path));
    }
    /* a header length beyond the file */
    FILE *fp = fopen(path, "wb");
    fwrite("\xff\xff\xff\x00\x00\x00\x00\x00{}", 1, 10, fp);
    fclose(fp);
    assert_int_equal(cl_st_open(path, &f, &err), CL_ERR_FORMAT);
    /* the good one */
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16);
    assert_int_equal(cl_st_open(path, &f, &err), CL_OK);
    cl_st_free(f);
    unlink(path);
    assert_int_equal(cl_st_open("/nonexistent/x.safetensors", &f, &err), CL_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_safetensors_roundtrip),
        cmocka_unit_test(test_safetensors_hostile),
        cmocka_unit_test(test_wordpiece_small_vocab),
        cmocka_unit_test(test_wordpiece_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
TEST_MAIN_NOT_BUILT("built without llama.cpp/ggml: the encoder is left out")
#endif
