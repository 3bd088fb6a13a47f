/*
 * test_encoder_dense.c - cl_encoder_dense_export: the shipped fine-tuned
 * encoder's label log-probabilities as the CRF's dense feature file, on two
 * hand-made documents (one of them without a token): one record per
 * document, its token count, rows equal to cl_encoder_log_probs floored at
 * ln 1e-9, and a CRF that trains and tags with the file.
 */
#include "testutil.h"

#include <math.h>

#include "clinner/clinner.h"

#ifndef CL_HAVE_LLAMA
TEST_MAIN_NOT_BUILT("the encoder needs llama.cpp's ggml")
#else

#define ENC_MODEL "models/raredis-minilm.model"

TEST_SCRATCH_DIR("encdense")

/* Two documents, gold tags from their entities; b has no token at all. */
static cl_corpus *small_corpus(void)
{
    static const char *text_a =
        "Fabry disease is a rare inherited disorder. Patients have burning pain in the hands "
        "and angiokeratomas on the skin.";
    cl_error err;
    cl_corpus *c;
    cl_doc *a, *b;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_doc_new("a", text_a, strlen(text_a), &a, &err), CL_OK);
    const cl_span rare = {0, 13}, sign = {88, 102};
    assert_int_equal(cl_doc_add_entity(a, "T1", "RAREDISEASE", &rare, 1, "Fabry disease", &err),
                     CL_OK);
    assert_int_equal(cl_doc_add_entity(a, "T2", "SIGN", &sign, 1, "angiokeratomas", &err), CL_OK);
    assert_int_equal(cl_doc_new("b", "   ", 3, &b, &err), CL_OK);
    cl_prepare_params pp = cl_prepare_default_params();
    assert_int_equal(cl_doc_prepare(a, &pp, &err), CL_OK);
    assert_int_equal(cl_doc_prepare(b, &pp, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, a, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, b, &err), CL_OK);
    return c;
}

static int32_t calls;

static void count_progress(void *ctx, int32_t done, int32_t total, int64_t tokens)
{
    (void)ctx;
    (void)tokens;
    calls++;
    assert_true(done >= 1 && done <= total);
}

static void rows_are_the_floored_log_probs(void **state)
{
    (void)state;
    if (!test_have_file(ENC_MODEL))
        skip();
    cl_corpus *c = small_corpus();
    const cl_doc *a = c->docs[0];
    assert_true(a->ntokens > 10);
    assert_int_equal(c->docs[1]->ntokens, 0);
    char path[600];
    snprintf(path, sizeof path, "%s/enc.dense", tmpdir);
    cl_error err;
    int32_t dim = 0;
    int64_t tokens = 0;
    double secs = -1;
    calls = 0;
    assert_int_equal(cl_encoder_dense_export(ENC_MODEL, c, 1, path, count_progress, NULL, &dim,
                                             &tokens, &secs, &err),
                     CL_OK);
    assert_int_equal(calls, 2);
    assert_int_equal(tokens, a->ntokens);
    assert_true(secs >= 0);

    cl_encoder *e;
    assert_int_equal(cl_encoder_open(ENC_MODEL, &e, &err), CL_OK);
    int32_t L = 0;
    while (cl_encoder_labels(e)[L])
        L++;
    assert_int_equal(dim, L);
    float *lp = malloc((size_t)a->ntokens * (size_t)L * sizeof *lp);
    assert_int_equal(cl_encoder_log_probs(e, a, 0, a->nsentences, 1, lp, &err), CL_OK);

    cl_dense_table *t;
    assert_int_equal(cl_dense_read(path, &t, &err), CL_OK);
    assert_int_equal(cl_dense_dim(t), L);
    int32_t n = -1;
    const float *rows = cl_dense_find(t, "a", &n);
    assert_non_null(rows);
    assert_int_equal(n, a->ntokens);
    const float floor_lp = logf(CL_ENC_DENSE_FLOOR);
    for (int32_t i = 0; i < n; i++) {
        double mass = 0;
        for (int32_t l = 0; l < L; l++) {
            float want = lp[(size_t)i * L + l] < floor_lp ? floor_lp : lp[(size_t)i * L + l];
            assert_float_equal(rows[(size_t)i * L + l], want, 1e-4);
            mass += exp(rows[(size_t)i * L + l]);
        }
        assert_float_equal(mass, 1.0, 1e-3); /* a distribution (the floor adds < 1e-8) */
    }
    n = -1;
    assert_non_null(cl_dense_find(t, "b", &n) ? (void *)t : NULL); /* present, no rows */
    assert_int_equal(n, 0);

    /* a CRF trains on the features and tags with them */
    cl_crf_train_params tp = cl_crf_train_default_params();
    tp.max_iter = 5;
    tp.dense = t;
    cl_crf_model *m;
    assert_int_equal(cl_crf_train(c, NULL, &tp, &m, &err), CL_OK);
    cl_crf_model_info info;
    cl_crf_model_get_info(m, &info);
    assert_int_equal(info.dense_dim, L);
    assert_int_equal(cl_crf_tag(m, t, c->docs[0], 0, c->docs[0]->nsentences, &err), CL_OK);
    cl_crf_model_free(m);

    cl_dense_free(t);
    free(lp);
    cl_encoder_free(e);
    cl_corpus_free(c);
}

static void errors_leave_no_file(void **state)
{
    (void)state;
    cl_corpus *c = small_corpus();
    char path[600];
    snprintf(path, sizeof path, "%s/none.dense", tmpdir);
    cl_error err;
    assert_int_not_equal(cl_encoder_dense_export("/nonexistent/x.model", c, 1, path, NULL, NULL,
                                                 NULL, NULL, NULL, &err),
                         CL_OK);
    assert_true(err.msg[0] != '\0');
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);
    if (test_have_file(ENC_MODEL)) { /* stdout is no file for dense features */
        assert_int_not_equal(
            cl_encoder_dense_export(ENC_MODEL, c, 1, "-", NULL, NULL, NULL, NULL, NULL, &err),
            CL_OK);
        assert_non_null(strstr(err.msg, "file"));
    }
    cl_corpus_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_are_the_floored_log_probs),
        cmocka_unit_test(errors_leave_no_file),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
#endif
