/*
 * test_encoder_forward.c - the encoder's ggml forward pass against an
 * independent NumPy implementation (tests/gen_encoder_forward_fixture.py
 * wrote forward_expected.txt from the same model.safetensors, in float64):
 * every hidden value of two hand-written sentences within 1e-4.  Also: the
 * C tokenizer gives the fixture's ids, a padded batch of two gives the same
 * rows as each sentence alone (the attention mask works), and the training
 * form of LayerNorm equals ggml_norm.  Needs the base model
 * (scripts/fetch-encoder.sh); skips without it.
 */
#include "testutil.h"

#if CL_HAVE_LLAMA
#include <math.h>

#include "clinner/encoder.h"
#include "clinner/util.h"
#include "encoder/enc_internal.h"

#define TOL 1e-4

static const char *const sentences[] = {
    "Fabry disease causes burning pain in the hands and feet.",
    "Na\xc3\xafve cells, r\xc3\xa9sum\xc3\xa9 \xe2\x80\x94 \xce\xb1-thalassemia!",
};

static cl_encoder *open_base(void)
{
    const char *cache = getenv("CLINNER_CACHE"), *home = getenv("HOME");
    char dir[4096];
    if (cache && *cache)
        snprintf(dir, sizeof dir, "%s/models/all-minilm-l6-v2", cache);
    else
        snprintf(dir, sizeof dir, "%s/.cache/clinner/models/all-minilm-l6-v2",
                 home ? home : ".");
    struct stat st;
    if (stat(dir, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (run scripts/fetch-encoder.sh)\n", dir);
        return NULL;
    }
    cl_error err;
    cl_encoder *e = NULL;
    if (cl_encoder_open(dir, &e, &err) != CL_OK)
        fail_msg("%s", err.msg);
    return e;
}

typedef struct ref_sent {
    int32_t n;
    int32_t ids[64];
    float *h;
} ref_sent;

static int read_fixture(ref_sent *out, int max, int d)
{
    FILE *fp = fopen("tests/fixtures/encoder/forward_expected.txt", "r");
    assert_non_null(fp);
    int ns = 0;
    while (ns < max && fscanf(fp, " ids %d", &out[ns].n) == 1) {
        assert_true(out[ns].n <= 64);
        for (int i = 0; i < out[ns].n; i++)
            assert_int_equal(fscanf(fp, "%d", &out[ns].ids[i]), 1);
        out[ns].h = malloc((size_t)out[ns].n * (size_t)d * sizeof(float));
        for (int i = 0; i < out[ns].n * d; i++)
            assert_int_equal(fscanf(fp, "%f", &out[ns].h[i]), 1);
        ns++;
    }
    fclose(fp);
    return ns;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static void test_forward_matches_numpy(void **state)
{
    (void)state;
    cl_encoder *e = open_base();
    if (!e)
        skip();
    const int d = cl_encoder_get_config(e)->hidden;
    ref_sent ref[2];
    assert_int_equal(read_fixture(ref, 2, d), 2);
    cl_error err;
    for (int s = 0; s < 2; s++) {
        /* the C tokenizer gives the reference's ids */
        int32_t *ids = NULL, n = 0, cap = 0;
        assert_int_equal(cl_wordpiece_encode(cl_encoder_vocab(e), sentences[s],
                                             strlen(sentences[s]), &ids, NULL, &n, &cap, NULL,
                                             &err),
                         CL_OK);
        assert_int_equal(n + 2, ref[s].n);
        for (int i = 0; i < n; i++)
            assert_int_equal(ids[i], ref[s].ids[i + 1]);
        free(ids);
        float *h = malloc((size_t)ref[s].n * (size_t)d * sizeof *h);
        assert_int_equal(cl_encoder_hidden(e, ref[s].ids, ref[s].n, true, 2, h, &err), CL_OK);
        double md = max_diff(h, ref[s].h, (size_t)ref[s].n * (size_t)d);
        fprintf(stderr, "sentence %d: %d pieces, max |ggml - numpy| = %.3g (erf GELU; tolerance 1e-4)\n", s + 1,
                ref[s].n, md);
        assert_true(md < TOL);
        /* the trainer's GELU approximation: how far it moves the base model */
        assert_int_equal(cl_encoder_hidden(e, ref[s].ids, ref[s].n, false, 2, h, &err), CL_OK);
        double mt = max_diff(h, ref[s].h, (size_t)ref[s].n * (size_t)d);
        fprintf(stderr, "sentence %d: max |tanh-form GELU - numpy| = %.3g\n", s + 1, mt);
        assert_true(mt < 1e-2);
        free(h);
    }
    /* a padded batch of both equals each alone; the training graph's
     * LayerNorm form equals ggml_norm */
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
        double md = max_diff(hb + (size_t)s * T * d, ref[s].h, (size_t)ref[s].n * (size_t)d);
        fprintf(stderr, "batch row %d: max diff %.3g\n", s, md);
        assert_true(md < TOL);
    }
    assert_int_equal(cl__enc_forward(e, T, 2, ids, lens, NULL, 0, &sig, 2, &hs, &err), CL_OK);
    assert_int_equal(cl__enc_forward(e, T, 2, ids, lens, NULL, 0, &train, 2, &ht, &err), CL_OK);
    double md = 0;
    for (int s = 0; s < 2; s++)
        md = fmax(md, max_diff(hs + (size_t)s * T * d, ht + (size_t)s * T * d,
                               (size_t)lens[s] * (size_t)d));
    fprintf(stderr, "training-form LayerNorm vs ggml_norm: max diff %.3g\n", md);
    assert_true(md < TOL);
    free(hb);
    free(hs);
    free(ht);
    free(ids);
    for (int s = 0; s < 2; s++)
        free(ref[s].h);
    cl_encoder_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_numpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
TEST_MAIN_NOT_BUILT("built without llama.cpp/ggml: the encoder is left out")
#endif
