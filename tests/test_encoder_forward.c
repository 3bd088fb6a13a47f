/*
 * test_encoder_forward.c - the encoder's ggml forward pass against an
 * independent NumPy implementation (tests/gen_encoder_forward_fixture.py
 * wrote the fixtures from the same model.safetensors, in float64): every
 * hidden value of two hand-written sentences within 1e-4, for
 * all-MiniLM-L6-v2 (BERT) and all-mpnet-base-v2 (MPNet; its first 16 values
 * a row), and of a random tiny MPNet whose files are committed.  Also: the
 * C tokenizer gives the fixture's ids, a padded batch of two gives the same
 * rows as each sentence alone (the attention mask works), and the training
 * form of LayerNorm equals ggml_norm.  The real models come from
 * scripts/fetch-encoder.sh (MPNet: --mpnet); those checks skip without them.
 */
#include "testutil.h"

#if CL_HAVE_LLAMA
#include <math.h>

#include "clinner/encoder.h"
#include "clinner/util.h"
#include "encoder/enc_internal.h"

#define TOL 1e-4
#define MPNET_TOL 1e-4
#define FIX "tests/fixtures/encoder/"

static const char *const sentences[] = {
    "Fabry disease causes burning pain in the hands and feet.",
    "Na\xc3\xafve cells, r\xc3\xa9sum\xc3\xa9 \xe2\x80\x94 \xce\xb1-thalassemia!",
};

static cl_encoder *open_dir(const char *dir)
{
    cl_error err;
    cl_encoder *e = NULL;
    if (cl_encoder_open(dir, &e, &err) != CL_OK)
        fail_msg("%s", err.msg);
    return e;
}

/* A base model in the cache's models/NAME, or NULL (the test skips). */
static cl_encoder *open_cached(const char *name)
{
    const char *cache = getenv("CLINNER_CACHE"), *home = getenv("HOME");
    char dir[4096];
    if (cache && *cache)
        snprintf(dir, sizeof dir, "%s/models/%s", cache, name);
    else
        snprintf(dir, sizeof dir, "%s/.cache/clinner/models/%s", home ? home : ".", name);
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (scripts/fetch-encoder.sh%s)\n", dir,
                strcmp(name, "all-minilm-l6-v2") ? " --mpnet" : "");
        return NULL;
    }
    return open_dir(dir);
}

typedef struct ref_sent {
    int32_t n;
    int32_t ids[256];
    float *h; /* n rows of dims values */
} ref_sent;

/* Sentences of a fixture; *dims: the values kept per row ("dims K" first
 * line), else d. */
static int read_fixture(const char *path, ref_sent *out, int max, int d, int *dims)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    *dims = d;
    if (fscanf(fp, " dims %d", dims) == 1)
        assert_true(*dims >= 1 && *dims <= d);
    int ns = 0;
    while (ns < max && fscanf(fp, " ids %d", &out[ns].n) == 1) {
        assert_true(out[ns].n <= 256);
        for (int i = 0; i < out[ns].n; i++)
            assert_int_equal(fscanf(fp, "%d", &out[ns].ids[i]), 1);
        out[ns].h = malloc((size_t)out[ns].n * (size_t)*dims * sizeof(float));
        for (int i = 0; i < out[ns].n * *dims; i++)
            assert_int_equal(fscanf(fp, "%f", &out[ns].h[i]), 1);
        ns++;
    }
    fclose(fp);
    return ns;
}

/* Largest difference over the first dims values of n rows of width d. */
static double max_diff(const float *got, int d, const float *want, int dims, int n)
{
    double m = 0;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < dims; i++)
            m = fmax(m, fabs((double)got[(size_t)r * d + i] - (double)want[(size_t)r * dims + i]));
    return m;
}

/* The C tokenizer gives the reference's ids (framed by [CLS]/[SEP] or <s>/</s>). */
static void check_tokens(const cl_encoder *e, const ref_sent *ref)
{
    cl_error err;
    for (int s = 0; s < 2; s++) {
        int32_t *ids = NULL, n = 0, cap = 0;
        assert_int_equal(cl_wordpiece_encode(cl_encoder_vocab(e), sentences[s],
                                             strlen(sentences[s]), &ids, NULL, &n, &cap, NULL,
                                             &err),
                         CL_OK);
        assert_int_equal(n + 2, ref[s].n);
        for (int i = 0; i < n; i++)
            assert_int_equal(ids[i], ref[s].ids[i + 1]);
        free(ids);
    }
}

/* Each reference sequence alone (erf GELU) within tol, the trainer's tanh
 * GELU near it; a padded batch of the two equals each alone (the mask
 * works); the training graph's LayerNorm form equals ggml_norm. */
static void check_forward(const cl_encoder *e, ref_sent *ref, int dims, double tol)
{
    const int d = cl_encoder_get_config(e)->hidden;
    cl_error err;
    for (int s = 0; s < 2; s++) {
        float *h = malloc((size_t)ref[s].n * (size_t)d * sizeof *h);
        assert_int_equal(cl_encoder_hidden(e, ref[s].ids, ref[s].n, true, 2, h, &err), CL_OK);
        double md = max_diff(h, d, ref[s].h, dims, ref[s].n);
        fprintf(stderr, "sequence %d: %d pieces, max |ggml - numpy| = %.3g (erf GELU; tolerance %g)\n",
                s + 1, ref[s].n, md, tol);
        assert_true(md < tol);
        assert_int_equal(cl_encoder_hidden(e, ref[s].ids, ref[s].n, false, 2, h, &err), CL_OK);
        double mt = max_diff(h, d, ref[s].h, dims, ref[s].n);
        fprintf(stderr, "sequence %d: max |tanh-form GELU - numpy| = %.3g\n", s + 1, mt);
        assert_true(mt < 1e-2);
        free(h);
    }
    int32_t T = ref[0].n > ref[1].n ? ref[0].n : ref[1].n;
    int32_t *ids = calloc((size_t)T * 2, sizeof *ids), lens[2] = {ref[0].n, ref[1].n};
    for (int s = 0; s < 2; s++)
        memcpy(ids + s * T, ref[s].ids, (size_t)ref[s].n * sizeof *ids);
    enc_graph_opts exact = {.train_ops = false, .exact_gelu = true};
    enc_graph_opts sig = {.train_ops = false, .exact_gelu = false};
    enc_graph_opts train = {.train_ops = true, .exact_gelu = false};
    float *hb, *hs, *ht;
    assert_int_equal(cl__enc_forward(e, T, 2, ids, lens, NULL, 0, &exact, 2, &hb, &err), CL_OK);
    for (int s = 0; s < 2; s++) {
        double md = max_diff(hb + (size_t)s * T * d, d, ref[s].h, dims, ref[s].n);
        fprintf(stderr, "batch row %d: max diff %.3g\n", s, md);
        assert_true(md < tol);
    }
    assert_int_equal(cl__enc_forward(e, T, 2, ids, lens, NULL, 0, &sig, 2, &hs, &err), CL_OK);
    assert_int_equal(cl__enc_forward(e, T, 2, ids, lens, NULL, 0, &train, 2, &ht, &err), CL_OK);
    double md = 0;
    for (int s = 0; s < 2; s++)
        md = fmax(md, max_diff(hs + (size_t)s * T * d, d, ht + (size_t)s * T * d, d, lens[s]));
    fprintf(stderr, "training-form LayerNorm vs ggml_norm: max diff %.3g\n", md);
    assert_true(md < tol);
    free(hb);
    free(hs);
    free(ht);
    free(ids);
}

static void check_model(cl_encoder *e, const char *fixture, bool tokens, double tol)
{
    ref_sent ref[2];
    int dims;
    assert_int_equal(read_fixture(fixture, ref, 2, cl_encoder_get_config(e)->hidden, &dims), 2);
    if (tokens)
        check_tokens(e, ref);
    check_forward(e, ref, dims, tol);
    for (int s = 0; s < 2; s++)
        free(ref[s].h);
    cl_encoder_free(e);
}

static void test_forward_matches_numpy(void **state)
{
    (void)state;
    cl_encoder *e = open_cached("all-minilm-l6-v2");
    if (!e)
        skip();
    check_model(e, FIX "forward_expected.txt", true, TOL);
}

/* MPNet's graph on a random 2-layer model written by the NumPy script: a
 * sequence of 140 pieces reaches every bucket of relative distance. */
static void test_forward_tiny_mpnet(void **state)
{
    (void)state;
    cl_encoder *e = open_dir(FIX "mpnet-tiny");
    assert_int_equal(cl_encoder_get_config(e)->arch, CL_ENC_ARCH_MPNET);
    check_model(e, FIX "mpnet-tiny/forward_expected.txt", false, TOL);
}

/* all-mpnet-base-v2 itself (12 layers x 768), when fetched: the fixture keeps
 * the first 16 values of each row. */
static void test_forward_mpnet_matches_numpy(void **state)
{
    (void)state;
    cl_encoder *e = open_cached("all-mpnet-base-v2");
    if (!e)
        skip();
    check_model(e, FIX "forward_expected_mpnet.txt", true, MPNET_TOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_numpy),
        cmocka_unit_test(test_forward_tiny_mpnet),
        cmocka_unit_test(test_forward_mpnet_matches_numpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
TEST_MAIN_NOT_BUILT("built without llama.cpp/ggml: the encoder is left out")
#endif
