/*
 * test_ensemble.c - the ensemble tagger (CRF marginals x encoder
 * probabilities) and the pieces it stands on: cl_bio_viterbi against brute
 * force, cl_crf_marginals as distributions, the manifest's errors, the
 * per-document type rule and the stacking layer on the shipped models.
 */
#include "testutil.h"

#include <limits.h>
#include <math.h>

#include "clinner/clinner.h"

#ifndef CL_HAVE_LLAMA
TEST_MAIN_NOT_BUILT("the ensemble needs the encoder (a build with llama.cpp's ggml)")
#else

#define CRF_MODEL "models/raredis-crf.model"
#define ENC_MODEL "models/raredis-minilm.model"

TEST_SCRATCH_DIR("ensemble")

static const char *write_tmp(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static bool shipped_models(void)
{
    return test_have_file(CRF_MODEL) && test_have_file(ENC_MODEL);
}

static cl_crf_model *shipped_crf(cl_crf_model_info *info)
{
    cl_error err;
    cl_crf_model *m;
    assert_int_equal(cl_crf_model_load(CRF_MODEL, &m, &err), CL_OK);
    cl_crf_model_get_info(m, info);
    return m;
}

/* ---- cl_bio_viterbi ---- */

static const char *const bio_labels[] = {"O", "B-A", "I-A", "B-B", "I-B"};
#define NL 5

static bool valid_bio(const int32_t *path, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        const char *l = bio_labels[path[i]];
        if (l[0] != 'I')
            continue;
        if (i == 0)
            return false;
        const char *prev = bio_labels[path[i - 1]];
        if (prev[0] == 'O' || strcmp(prev + 2, l + 2) != 0)
            return false;
    }
    return true;
}

/* The best valid sequence by enumeration (NL^n sequences). */
static double brute_best(const float *lp, int32_t n, int32_t *best)
{
    int32_t seq[8] = {0};
    double top = -INFINITY;
    for (long code = 0, total = (long)pow(NL, n); code < total; code++) {
        long c = code;
        double s = 0;
        for (int32_t i = 0; i < n; i++, c /= NL) {
            seq[i] = (int32_t)(c % NL);
            s += lp[i * NL + seq[i]];
        }
        if (valid_bio(seq, n) && s > top) {
            top = s;
            memcpy(best, seq, (size_t)n * sizeof *seq);
        }
    }
    return top;
}

static void viterbi_is_the_best_valid_sequence(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int trial = 0; trial < 200; trial++) {
        int32_t n = 1 + trial % 6;
        float lp[6 * NL];
        for (int32_t i = 0; i < n * NL; i++) {
            seed = seed * 1103515245u + 12345u;
            lp[i] = -(float)((seed >> 8) % 1000) / 100.0f;
        }
        int32_t got[6], want[6];
        cl_bio_viterbi(bio_labels, NL, lp, n, got);
        double best = brute_best(lp, n, want);
        assert_true(valid_bio(got, n));
        double s = 0;
        for (int32_t i = 0; i < n; i++)
            s += lp[i * NL + got[i]];
        assert_true(fabs(s - best) < 1e-4);
    }
    /* a sentence that starts with a confident I-A still starts validly */
    float lp2[2 * NL] = {-5, -3, -0.1f, -5, -5, -5, -5, -0.1f, -5, -5};
    int32_t got[2];
    cl_bio_viterbi(bio_labels, NL, lp2, 2, got);
    assert_string_equal(bio_labels[got[0]], "B-A");
    assert_string_equal(bio_labels[got[1]], "I-A");
}

/* ---- cl_crf_marginals ---- */

static cl_doc *prepared_doc(const char *id, const char *text)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text, strlen(text), &d, &err), CL_OK);
    cl_prepare_params pp = cl_prepare_default_params();
    pp.gold_tags = false;
    assert_int_equal(cl_doc_prepare(d, &pp, &err), CL_OK);
    return d;
}

static const char *sample_text =
    "Fabry disease is a rare inherited disorder that causes burning pain in the hands and "
    "feet. Some patients have angiokeratomas, small dark red spots on the skin. Kidney "
    "failure and strokes may follow.";

static void crf_marginals_are_distributions(void **state)
{
    (void)state;
    if (!shipped_models())
        skip();
    cl_error err;
    cl_crf_model_info info;
    cl_crf_model *m = shipped_crf(&info);
    cl_doc *d = prepared_doc("fabry", sample_text);
    assert_true(d->nsentences >= 2);
    float *marg = malloc((size_t)d->ntokens * (size_t)info.nlabels * sizeof *marg);
    assert_int_equal(cl_crf_marginals(m, NULL, d, 0, d->nsentences, marg, &err), CL_OK);
    for (int32_t i = 0; i < d->ntokens; i++) {
        double sum = 0;
        for (int32_t l = 0; l < info.nlabels; l++) {
            float p = marg[(size_t)i * (size_t)info.nlabels + (size_t)l];
            assert_true(p >= 0.0f && p <= 1.0f + 1e-5f);
            sum += p;
        }
        assert_true(fabs(sum - 1.0) < 1e-3);
    }
    /* out of range sentences are an error, not a crash */
    assert_int_equal(cl_crf_marginals(m, NULL, d, 0, d->nsentences + 1, marg, &err),
                     CL_ERR_RANGE);
    free(marg);
    cl_doc_free(d);
    cl_crf_model_free(m);
}

/* ---- the manifest ---- */

static void expect_manifest_error(const char *json, const char *needle)
{
    const char *path = write_tmp("bad.json", json);
    cl_tagger t;
    cl_error err;
    cl_status st = cl_ensemble_tagger_open(path, 1, &t, NULL, &err);
    if (st == CL_OK) {
        cl_tagger_free(&t);
        fail_msg("manifest accepted: %s", json);
    }
    if (!strstr(err.msg, needle) || !strstr(err.msg, "bad.json"))
        fail_msg("error \"%s\" does not name the file and \"%s\"", err.msg, needle);
}

static void manifest_errors_name_file_and_field(void **state)
{
    (void)state;
    expect_manifest_error("[1, 2]", "not an ensemble manifest");
    expect_manifest_error("{\"version\": 1}", "\"format\"");
    expect_manifest_error("{\"format\": \"clinner-crf\", \"version\": 1}", "\"format\"");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 2}", "\"version\"");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, "
                          "\"encoder\": \"e.model\"}",
                          "\"crf\"");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": 3, "
                          "\"encoder\": \"e.model\"}",
                          "\"crf\"");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": \"c\", "
                          "\"encoder\": \"e\", \"crf_weight\": \"half\"}",
                          "\"crf_weight\"");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": \"c\", "
                          "\"encoder\": \"e\", \"document_type\": {\"type\": \"SKIN\", "
                          "\"base\": \"RD\", \"cue_words\": \"skin\"}}",
                          "\"cue_words\"");
    /* a model file that is not there is named, with the manifest */
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, "
                          "\"crf\": \"no-such.model\", \"encoder\": \"e.model\"}",
                          "no-such.model");
    if (!shipped_models())
        return;
    char json[3 * PATH_MAX], crf[PATH_MAX], enc[PATH_MAX];
    assert_non_null(realpath(CRF_MODEL, crf));
    assert_non_null(realpath(ENC_MODEL, enc));
    snprintf(json, sizeof json,
             "{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": \"%s\", "
             "\"encoder\": \"%s\", \"crf_weight\": 1.5}",
             crf, enc);
    expect_manifest_error(json, "crf_weight");
}

/* A CRF trained on other labels than the encoder's cannot be combined. */
static void label_sets_must_match(void **state)
{
    (void)state;
    if (!shipped_models())
        skip();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/corpus", tmpdir);
    mkdir(dir, 0700);
    write_tmp("corpus/a.txt", "Asthma is common. Diabetes is common too.\n");
    write_tmp("corpus/a.ann", "T1\tDISEASE 0 6\tAsthma\nT2\tDISEASE 18 26\tDiabetes\n");
    cl_error err;
    cl_corpus *c;
    cl_prepare_params pp = cl_prepare_default_params();
    assert_int_equal(cl_corpus_load(dir, CL_FORMAT_BRAT, &pp, &c, &err), CL_OK);
    cl_crf_train_params tp = cl_crf_train_default_params();
    tp.max_iter = 10;
    tp.labels = CL_CRF_LABELS_ALL; /* 13 labels (ANAPHOR too); the encoder has 11 */
    cl_crf_model *m;
    assert_int_equal(cl_crf_train(c, NULL, &tp, &m, &err), CL_OK);
    char crf[600];
    snprintf(crf, sizeof crf, "%s/disease-only.model", tmpdir);
    assert_int_equal(cl_crf_model_save(m, crf, &err), CL_OK);
    cl_crf_model_free(m);
    cl_corpus_free(c);

    cl_ensemble_params p = cl_ensemble_default_params();
    p.crf_path = crf;
    p.encoder_path = ENC_MODEL;
    cl_tagger t;
    assert_int_equal(cl_ensemble_tagger_new(&p, &t, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "same labels"));
    assert_non_null(strstr(err.msg, "disease-only.model"));
}

/* ---- tagging ---- */

typedef struct tagged {
    int32_t n;
    int32_t start[64], end[64];
    char type[64][32];
} tagged;

static void tag_with(const cl_ensemble_params *p, const char *text, tagged *out)
{
    cl_error err;
    cl_tagger t;
    assert_int_equal(cl_ensemble_tagger_new(p, &t, &err), CL_OK);
    cl_doc *d = prepared_doc("doc", text);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    assert_int_equal(cl_bio_to_entities(d, &err), CL_OK);
    out->n = d->nentities < 64 ? d->nentities : 64;
    for (int32_t i = 0; i < out->n; i++) {
        out->start[i] = d->entities[i].frags[0].start;
        out->end[i] = d->entities[i].frags[0].end;
        snprintf(out->type[i], sizeof out->type[i], "%s", d->entities[i].type);
        assert_true(d->entities[i].confidence > 0.0f && d->entities[i].confidence <= 1.0f);
    }
    cl_doc_free(d);
    cl_tagger_free(&t);
}

/* The shipped models, mixed as the library's defaults say, one thread. */
static cl_ensemble_params shipped_params(void)
{
    cl_ensemble_params p = cl_ensemble_default_params();
    p.crf_path = CRF_MODEL;
    p.encoder_path = ENC_MODEL;
    p.threads = 1;
    return p;
}

/* a and b found the same spans (their types may differ) */
static void same_spans(const tagged *a, const tagged *b)
{
    assert_int_equal(a->n, b->n);
    for (int32_t i = 0; i < a->n; i++) {
        assert_int_equal(a->start[i], b->start[i]);
        assert_int_equal(a->end[i], b->end[i]);
    }
}

static bool is_rare(const char *type)
{
    return !strcmp(type, "RAREDISEASE") || !strcmp(type, "SKINRAREDISEASE");
}

/* The document rule retypes mentions and never moves them: with cue words
 * that every document is dense in, every rare-disease mention becomes a
 * skin one; with a share no document reaches, none stays skin unless all
 * of it is. Either way no document holds both types. */
static void document_type_rule_retypes_without_moving(void **state)
{
    (void)state;
    if (!shipped_models())
        skip();
    static tagged plain, skin, base;
    cl_ensemble_params p = shipped_params();
    tag_with(&p, sample_text, &plain);
    assert_true(plain.n >= 3);
    int32_t rare = 0;
    for (int32_t i = 0; i < plain.n; i++)
        rare += is_rare(plain.type[i]);
    assert_true(rare >= 1);

    static const char *const cues[] = {"dis*", "the"};
    p.doc_type = "SKINRAREDISEASE";
    p.doc_base = "RAREDISEASE";
    p.doc_min_share = 1.0;
    p.doc_cue_words = cues;
    p.doc_ncue_words = 2;
    p.doc_cue_min = 1;
    tag_with(&p, sample_text, &skin);
    p.doc_cue_min = 0;
    tag_with(&p, sample_text, &base);
    same_spans(&skin, &plain);
    same_spans(&base, &plain);
    for (int32_t i = 0; i < plain.n; i++) {
        if (is_rare(plain.type[i])) {
            assert_string_equal(skin.type[i], "SKINRAREDISEASE");
            assert_true(is_rare(base.type[i]));
        } else {
            assert_string_equal(skin.type[i], plain.type[i]);
            assert_string_equal(base.type[i], plain.type[i]);
        }
    }
    const char *first = NULL;
    for (int32_t i = 0; i < base.n; i++)
        if (is_rare(base.type[i]) && !first)
            first = base.type[i];
        else if (is_rare(base.type[i]))
            assert_string_equal(base.type[i], first);
}

/* The stacking layer: [0.5 I; 0.5 I] with no bias is the log-linear mix
 * (same entities); the same layer with its labels listed in another order
 * is the same layer; a large bias on O leaves nothing; a layer over other
 * labels is refused, naming the label. */
static void stacking_layer(void **state)
{
    (void)state;
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": \"c\", "
                          "\"encoder\": \"e\", \"stack\": {\"labels\": [\"O\"], "
                          "\"weights\": [[1]], \"bias\": [0]}}",
                          "weights");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": \"c\", "
                          "\"encoder\": \"e\", \"stack\": {\"labels\": [\"O\"], "
                          "\"weights\": [[1], [\"x\"]], \"bias\": [0]}}",
                          "weights row 2");
    expect_manifest_error("{\"format\": \"clinner-ensemble\", \"version\": 1, \"crf\": \"c\", "
                          "\"encoder\": \"e\", \"stack\": {\"labels\": [\"O\"], "
                          "\"weights\": [[1], [1]]}}",
                          "bias");
    if (!shipped_models())
        skip();
    cl_error err;
    cl_crf_model_info info;
    cl_crf_model *m = shipped_crf(&info);
    const int32_t L = info.nlabels;
    const char *labels[64], *rev[64];
    double w[2 * 64 * 64] = {0}, wr[2 * 64 * 64] = {0}, b[64] = {0};
    for (int32_t l = 0; l < L; l++) {
        labels[l] = cl_crf_model_label(m, l);
        rev[L - 1 - l] = labels[l];
        w[(size_t)l * L + l] = w[(size_t)(L + l) * L + l] = 0.5;
        /* in reversed order: row r, column j are labels L-1-r, L-1-j */
        wr[(size_t)(L - 1 - l) * L + (L - 1 - l)] = 0.5;
        wr[(size_t)(L + L - 1 - l) * L + (L - 1 - l)] = 0.5;
    }
    static tagged plain, stacked, reversed, none;
    cl_ensemble_params p = shipped_params();
    tag_with(&p, sample_text, &plain);
    assert_true(plain.n >= 3);
    p.stack_labels = labels;
    p.stack_nlabels = L;
    p.stack_weights = w;
    p.stack_bias = b;
    tag_with(&p, sample_text, &stacked);
    p.stack_labels = rev;
    p.stack_weights = wr;
    tag_with(&p, sample_text, &reversed);
    same_spans(&stacked, &plain);
    same_spans(&reversed, &plain);
    for (int32_t i = 0; i < plain.n; i++) {
        assert_string_equal(stacked.type[i], plain.type[i]);
        assert_string_equal(reversed.type[i], plain.type[i]);
    }
    double bo[64] = {0};
    bo[L - 1] = 50; /* rev's last label is the CRF's first, O */
    assert_string_equal(rev[L - 1], "O");
    p.stack_bias = bo;
    tag_with(&p, sample_text, &none);
    assert_int_equal(none.n, 0);
    /* labels the models do not have */
    const char *bad[64];
    memcpy(bad, labels, sizeof bad);
    bad[3] = "B-NOTATYPE";
    p.stack_labels = bad;
    cl_tagger t;
    assert_int_equal(cl_ensemble_tagger_new(&p, &t, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "B-NOTATYPE"));
    p.stack_labels = labels;
    p.stack_nlabels = L - 1;
    assert_int_equal(cl_ensemble_tagger_new(&p, &t, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "stack"));
    cl_crf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(viterbi_is_the_best_valid_sequence),
        cmocka_unit_test(crf_marginals_are_distributions),
        cmocka_unit_test(manifest_errors_name_file_and_field),
        cmocka_unit_test(label_sets_must_match),
        cmocka_unit_test(document_type_rule_retypes_without_moving),
        cmocka_unit_test(stacking_layer),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
#endif
