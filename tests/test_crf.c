/* test_crf.c - the linear-chain CRF: gradient against finite differences,
 * Viterbi / forward-backward against brute force, training on a hand-made
 * set, model files (round trip, truncated, foreign, corrupt), determinism,
 * dense features and the progress module. */
#include "testutil.h"

#include <math.h>

#include "clinner/crf.h"
#include "clinner/progress.h"
#include "clinner/util.h"
#include "crf/crf_internal.h"

/* ---- helpers ---- */

static uint64_t rng_state = 12345;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* A random sequence over A attributes with D dense dims and L labels. */
static void random_seq(crf_seq *s, int32_t T, int32_t A, int32_t D, int32_t L, float *dense)
{
    s->T = T;
    s->off = calloc((size_t)T + 1, sizeof *s->off);
    s->attr = malloc((size_t)T * 3 * sizeof *s->attr);
    s->labels = malloc((size_t)T * sizeof *s->labels);
    int32_t k = 0;
    for (int32_t t = 0; t < T; t++) {
        s->off[t] = k;
        int32_t n = 1 + (int32_t)(urand() * 3);
        for (int32_t j = 0; j < n; j++)
            s->attr[k++] = (int32_t)(urand() * A) % A;
        s->labels[t] = (int32_t)(urand() * L) % L;
        for (int32_t d = 0; d < D; d++)
            dense[t * D + d] = (float)(urand() * 2 - 1);
    }
    s->off[T] = k;
    s->dense = D > 0 ? dense : NULL;
}

static void random_weights(double *w, int64_t n, double scale)
{
    for (int64_t i = 0; i < n; i++)
        w[i] = (urand() * 2 - 1) * scale;
}

/* ---- mathematics ---- */

static void gradient_matches_finite_differences(void **state)
{
    (void)state;
    crf_dims d = {5, 3, 2};
    int64_t n = crf_nweights(d);
    double *w = malloc((size_t)n * sizeof *w), *g = calloc((size_t)n, sizeof *g);
    float dense[2][6 * 2];
    crf_seq s[2];
    random_seq(&s[0], 6, d.A, d.D, d.L, dense[0]);
    random_seq(&s[1], 4, d.A, d.D, d.L, dense[1]);
    random_weights(w, n, 1.0);
    crf_work wk;
    cl__crf_work_init(&wk, d.L);
    assert_int_equal(cl__crf_work_reserve(&wk, 8), 0);
    for (int i = 0; i < 2; i++)
        cl__crf_seq_nll(d, w, &s[i], &wk, g);
    for (int64_t i = 0; i < n; i++) {
        double h = 1e-5, save = w[i], fp = 0, fm = 0;
        w[i] = save + h;
        for (int k = 0; k < 2; k++)
            fp += cl__crf_seq_nll(d, w, &s[k], &wk, NULL);
        w[i] = save - h;
        for (int k = 0; k < 2; k++)
            fm += cl__crf_seq_nll(d, w, &s[k], &wk, NULL);
        w[i] = save;
        double fd = (fp - fm) / (2 * h);
        if (fabs(fd - g[i]) > 1e-6 * (1 + fabs(fd)))
            fail_msg("weight %lld: analytic %.9f, finite difference %.9f", (long long)i, g[i], fd);
    }
    cl__crf_work_free(&wk);
    cl__crf_seq_free(&s[0]);
    cl__crf_seq_free(&s[1]);
    free(w);
    free(g);
}

/* Enumerate every path: best path, log Z and marginals. */
static void brute_force(crf_dims d, const double *w, const double *S, int32_t T, int32_t *best,
                        double *best_score, double *logz, double *marg)
{
    int32_t y[8] = {0};
    double mx = -INFINITY;
    int64_t npaths = 1;
    for (int32_t t = 0; t < T; t++)
        npaths *= d.L;
    double *scores = malloc((size_t)npaths * sizeof *scores);
    for (int64_t p = 0; p < npaths; p++) {
        int64_t q = p;
        for (int32_t t = 0; t < T; t++) {
            y[t] = (int32_t)(q % d.L);
            q /= d.L;
        }
        scores[p] = cl__crf_path_score(d, w, S, T, y);
        if (scores[p] > mx) {
            mx = scores[p];
            memcpy(best, y, (size_t)T * sizeof *y);
        }
    }
    double z = 0;
    for (int64_t p = 0; p < npaths; p++)
        z += exp(scores[p] - mx);
    *logz = mx + log(z);
    *best_score = mx;
    memset(marg, 0, (size_t)T * d.L * sizeof *marg);
    for (int64_t p = 0; p < npaths; p++) {
        int64_t q = p;
        double pr = exp(scores[p] - *logz);
        for (int32_t t = 0; t < T; t++) {
            marg[t * d.L + q % d.L] += pr;
            q /= d.L;
        }
    }
    free(scores);
}

static void viterbi_and_marginals_match_brute_force(void **state)
{
    (void)state;
    for (int trial = 0; trial < 40; trial++) {
        crf_dims d = {6, 2 + trial % 4, 0};
        int32_t T = 1 + trial % 5;
        int64_t n = crf_nweights(d);
        double *w = malloc((size_t)n * sizeof *w);
        random_weights(w, n, trial < 20 ? 1.0 : 30.0); /* large weights: no overflow */
        crf_seq s;
        random_seq(&s, T, d.A, 0, d.L, NULL);
        crf_work wk;
        cl__crf_work_init(&wk, d.L);
        assert_int_equal(cl__crf_work_reserve(&wk, T), 0);
        double S[64], marg[64], bscore, logz;
        int32_t path[8], bpath[8];
        cl__crf_state_scores(d, w, &s, wk.S);
        memcpy(S, wk.S, (size_t)T * d.L * sizeof(double));
        double vs = cl__crf_viterbi(d, w, wk.S, T, &wk, path);
        brute_force(d, w, S, T, bpath, &bscore, &logz, marg);
        assert_true(fabs(vs - bscore) < 1e-9 * (1 + fabs(bscore)));
        assert_true(fabs(cl__crf_path_score(d, w, S, T, path) - bscore) < 1e-9 * (1 + fabs(bscore)));
        double lz = cl__crf_forward_backward(d, w, T, &wk);
        assert_true(fabs(lz - logz) < 1e-9 * (1 + fabs(logz)));
        for (int32_t t = 0; t < T; t++) {
            double sum = 0;
            for (int32_t y = 0; y < d.L; y++) {
                sum += wk.marg[t * d.L + y];
                assert_true(fabs(wk.marg[t * d.L + y] - marg[t * d.L + y]) < 1e-9);
            }
            assert_true(fabs(sum - 1.0) < 1e-12);
        }
        cl__crf_work_free(&wk);
        cl__crf_seq_free(&s);
        free(w);
    }
}

static void f1_counts_follow_conlleval(void **state)
{
    (void)state;
    /* labels: 0 O, 1 B-A, 2 I-A, 3 B-B, 4 I-B */
    int32_t gold[] = {1, 2, 0, 3, 4, 0, 2, 2};
    int32_t pred[] = {1, 2, 0, 3, 0, 0, 2, 2}; /* I-A after O starts an entity */
    crf_f1_counts c;
    memset(&c, 0, sizeof c);
    c.ntypes = 2;
    cl__crf_f1_add(&c, gold, pred, 8);
    assert_int_equal(c.ngold[0], 2);
    assert_int_equal(c.tp[0], 2);
    assert_int_equal(c.ngold[1], 1);
    assert_int_equal(c.npred[1], 1);
    assert_int_equal(c.tp[1], 0);
    double macro, micro;
    cl__crf_f1_result(&c, &macro, &micro);
    assert_true(fabs(macro - 0.5) < 1e-12);
    assert_true(fabs(micro - 2.0 / 3.0) < 1e-12);
}

/* f = sum (x_i - i)^2 */
static double test_quad(void *ud, const double *x, double *g, int64_t n)
{
    (void)ud;
    double f = 0;
    for (int64_t i = 0; i < n; i++) {
        f += (x[i] - (double)i) * (x[i] - (double)i);
        g[i] = 2 * (x[i] - (double)i);
    }
    return f;
}

static void lbfgs_minimises_quadratic_and_l1(void **state)
{
    (void)state;
    crf_lbfgs_params p = {.m = 5, .max_iter = 100, .max_linesearch = 40, .epsilon = 1e-10};
    double x[4] = {0};
    double fx;
    assert_true(cl__crf_lbfgs(4, x, &fx, test_quad, NULL, NULL, &p) >= 0);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(x[i] - i) < 1e-5);
    /* with L1 c1 = 1: the minimiser of (x - i)^2 + |x| is i - 0.5 (0 for i = 0) */
    double y[4] = {0};
    p.c1 = 1.0;
    assert_true(cl__crf_lbfgs(4, y, &fx, test_quad, NULL, NULL, &p) >= 0);
    assert_true(y[0] == 0.0);
    for (int i = 1; i < 4; i++)
        assert_true(fabs(y[i] - (i - 0.5)) < 1e-4);
}

/* ---- hand-made corpus ---- */

/* A document from sentences of "word/TAG" items (TAG may be omitted = O);
 * tokens split on single spaces, one sentence per array entry. */
static cl_doc *make_doc(const char *id, const char *const *sents, int nsents)
{
    cl_buf text;
    cl_buf_init(&text);
    cl_error err;
    /* first pass: the text */
    for (int s = 0; s < nsents; s++) {
        const char *p = sents[s];
        while (*p) {
            const char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            const char *slash = memchr(p, '/', n);
            size_t wn = slash && slash != p ? (size_t)(slash - p) : n;
            if (text.len)
                cl_buf_putc(&text, ' ');
            cl_buf_append(&text, p, wn);
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text.data ? text.data : "", text.len, &d, &err), CL_OK);
    int32_t off = 0;
    for (int s = 0; s < nsents; s++) {
        int32_t tb = d->ntokens;
        const char *p = sents[s];
        while (*p) {
            const char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            const char *slash = memchr(p, '/', n);
            size_t wn = slash && slash != p ? (size_t)(slash - p) : n;
            int32_t len = cl_utf8_length(p, wn);
            assert_int_equal(cl_doc_push_token(d, off, off + len, &err), CL_OK);
            off += len + 1;
            p += n;
            while (*p == ' ')
                p++;
        }
        assert_int_equal(cl_doc_push_sentence(d, tb, d->ntokens, &err), CL_OK);
    }
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    int32_t k = 0;
    for (int s = 0; s < nsents; s++) {
        const char *p = sents[s];
        while (*p) {
            const char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            const char *slash = memchr(p, '/', n);
            if (slash && slash != p) {
                char tag[64];
                snprintf(tag, sizeof tag, "%.*s", (int)(n - (size_t)(slash - p) - 1), slash + 1);
                assert_int_equal(cl_doc_set_tag(d, k, tag, &err), CL_OK);
            }
            k++;
            p += n;
            while (*p == ' ')
                p++;
        }
    }
    cl_buf_free(&text);
    return d;
}

static const char *const doc_a[] = {
    "Fabry/B-RAREDISEASE disease/I-RAREDISEASE causes pain/B-SYMPTOM in the hands .",
    "Patients with diabetes/B-DISEASE may show a rash/B-SIGN on the skin .",
    "Epidermolysis/B-SKINRAREDISEASE bullosa/I-SKINRAREDISEASE is rare .",
};
static const char *const doc_b[] = {
    "Gaucher/B-RAREDISEASE disease/I-RAREDISEASE leads to fatigue/B-SYMPTOM and fever/B-SIGN .",
    "Asthma/B-DISEASE is common ( see also hypertension/B-DISEASE ) .",
    "It/B-ANAPHOR was first described in 1965 .",
};

static cl_corpus *hand_corpus(void)
{
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("a", doc_a, 3), &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("b", doc_b, 3), &err), CL_OK);
    return c;
}

static cl_crf_train_params quiet_params(void)
{
    cl_crf_train_params p = cl_crf_train_default_params();
    p.c1 = 0.0;
    p.c2 = 0.001;
    p.max_iter = 200;
    p.gazetteer_folds = 2;
    return p;
}

static char **copy_tags(const cl_doc *d)
{
    char **t = calloc((size_t)d->ntokens, sizeof *t);
    for (int32_t i = 0; i < d->ntokens; i++)
        t[i] = cl_strdup(d->tags[i]);
    return t;
}

static void free_tags(char **t, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        free(t[i]);
    free(t);
}

static void learns_hand_made_set_perfectly(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    cl_crf_model *m;
    for (int labels = 0; labels < 2; labels++) {
        cl_crf_train_params p = quiet_params();
        p.labels = labels ? CL_CRF_LABELS_ALL : CL_CRF_LABELS_PAPER;
        assert_int_equal(cl_crf_train(c, c, &p, &m, &err), CL_OK);
        cl_crf_model_info info;
        cl_crf_model_get_info(m, &info);
        assert_int_equal(info.nlabels, labels ? 13 : 11);
        for (int32_t i = 0; i < c->ndocs; i++) {
            cl_doc *d = c->docs[i];
            char **gold = copy_tags(d);
            cl_tagger tg;
            assert_int_equal(cl_crf_tagger_new(m, &tg, &err), CL_OK);
            assert_int_equal(cl_tagger_tag_doc(&tg, d, &err), CL_OK);
            cl_tagger_free(&tg);
            for (int32_t k = 0; k < d->ntokens; k++) {
                const char *want = gold[k];
                if (!labels && strstr(want, "ANAPHOR"))
                    want = "O"; /* the paper's label set has no ANAPHOR */
                assert_string_equal(d->tags[k], want);
                assert_true(d->tag_conf[k] > 0.5f && d->tag_conf[k] <= 1.0f);
            }
            /* restore the gold tags for the next label set */
            for (int32_t k = 0; k < d->ntokens; k++)
                cl_doc_set_tag(d, k, gold[k], &err);
            free_tags(gold, d->ntokens);
        }
        cl_crf_model_free(m);
    }
    cl_corpus_free(c);
}

static char *tmp_path(const char *name)
{
    char *p = malloc(256);
    snprintf(p, 256, "/tmp/clinner_test_crf_%d_%s", (int)getpid(), name);
    return p;
}

static void tag_all(const cl_crf_model *m, cl_corpus *c)
{
    cl_error err;
    for (int32_t i = 0; i < c->ndocs; i++) {
        assert_int_equal(cl_doc_reset_tags(c->docs[i], &err), CL_OK);
        assert_int_equal(cl_crf_tag(m, NULL, c->docs[i], 0, c->docs[i]->nsentences, &err),
                         CL_OK);
    }
}

static void saved_model_tags_identically(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    cl_crf_model *m, *m2;
    cl_crf_train_params p = quiet_params();
    p.max_iter = 15; /* an imperfect model: more interesting marginals */
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_OK);
    assert_int_equal(cl_crf_model_set_meta(m, "tokenizer", "paper", &err), CL_OK);
    char *path = tmp_path("model.crf");
    assert_int_equal(cl_crf_model_save(m, path, &err), CL_OK);
    assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_OK);
    assert_string_equal(cl_crf_model_get_meta(m2, "tokenizer"), "paper");
    cl_corpus *c2 = hand_corpus();
    tag_all(m, c);
    tag_all(m2, c2);
    for (int32_t i = 0; i < c->ndocs; i++)
        for (int32_t k = 0; k < c->docs[i]->ntokens; k++) {
            assert_string_equal(c->docs[i]->tags[k], c2->docs[i]->tags[k]);
            assert_true(c->docs[i]->tag_conf[k] == c2->docs[i]->tag_conf[k]);
        }
    cl_crf_model_info a, b;
    cl_crf_model_get_info(m, &a);
    cl_crf_model_get_info(m2, &b);
    assert_int_equal(a.nattrs, b.nattrs);
    assert_int_equal(a.nonzero, b.nonzero);
    assert_int_equal(a.gazetteer, b.gazetteer);
    /* a large O offset turns every token into an entity token */
    m2->o_bias = 100.0;
    tag_all(m2, c2);
    for (int32_t i = 0; i < c2->ndocs; i++)
        for (int32_t k = 0; k < c2->docs[i]->ntokens; k++)
            assert_string_not_equal(c2->docs[i]->tags[k], "O");
    unlink(path);
    free(path);
    cl_crf_model_free(m);
    cl_crf_model_free(m2);
    cl_corpus_free(c);
    cl_corpus_free(c2);
}

static void write_bytes(const char *path, const char *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* A model of the hand-made corpus after 5 iterations: enough to have every
 * kind of weight, for the file tests. */
static cl_crf_model *five_iteration_model(void)
{
    cl_corpus *c = hand_corpus();
    cl_error err;
    cl_crf_model *m;
    cl_crf_train_params p = quiet_params();
    p.max_iter = 5;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_OK);
    cl_corpus_free(c);
    return m;
}

static void bad_model_files_give_model_errors(void **state)
{
    (void)state;
    cl_error err;
    cl_crf_model *m = five_iteration_model(), *m2 = NULL;
    char *path = tmp_path("bad.crf");
    assert_int_equal(cl_crf_model_save(m, path, &err), CL_OK);
    char *data;
    size_t n;
    assert_int_equal(cl_read_file(path, &data, &n, &err), CL_OK);
    /* truncated at several points */
    size_t cuts[] = {0, 5, 20, 40, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(path, data, cuts[i]);
        assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_ERR_MODEL);
        assert_null(m2);
        assert_non_null(strstr(err.msg, path));
        if (cuts[i] >= 40)
            assert_non_null(strstr(err.msg, "truncated"));
    }
    /* foreign file */
    write_bytes(path, "{\"not\": \"a model\"}\n", 19);
    assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "not a clinner CRF model"));
    /* one flipped bit in the payload */
    data[n - 3] ^= 0x10;
    write_bytes(path, data, n);
    assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "checksum"));
    data[n - 3] ^= 0x10;
    /* another version */
    data[8] = 99;
    write_bytes(path, data, n);
    assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "version 99"));
    /* missing file */
    unlink(path);
    assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_ERR_MODEL);
    /* saving into a missing directory fails without leaving anything */
    assert_int_equal(cl_crf_model_save(m, "/nonexistent-dir/x.crf", &err), CL_ERR_IO);
    free(data);
    free(path);
    cl_crf_model_free(m);
}

/* Files a writer bug or a forger could make, checksum and all: a weight that
 * is not a number, a transition weight that exp() would overflow, type names
 * that are repeated, empty or hold a space (a NUL cannot be saved through
 * the model; fuzz_crf_model covers it).  Each is refused naming the part;
 * large finite weights elsewhere load and tag with confidences in [0, 1]. */
static void forged_weights_and_type_names_are_refused(void **state)
{
    (void)state;
    cl_error err;
    cl_crf_model *m = five_iteration_model(), *m2 = NULL;
    char *path = tmp_path("forged.crf");
    int64_t tr = crf_trans_off(m->dims);
    const struct {
        int64_t at;
        float value;
        const char *why; /* NULL: must load */
    } cases[] = {
        {0, NAN, "weight 0 is nan"},
        {tr, INFINITY, "is inf"},
        {tr + 1, 600.0f, "is 600"},
        {tr + 2, -501.0f, "is -501"},
        {tr + 3, 400.0f, NULL},
        {1, 1e30f, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float keep = m->w[cases[i].at];
        m->w[cases[i].at] = cases[i].value;
        assert_int_equal(cl_crf_model_save(m, path, &err), CL_OK);
        m->w[cases[i].at] = keep;
        cl_status st = cl_crf_model_load(path, &m2, &err);
        if (cases[i].why) {
            assert_int_equal(st, CL_ERR_MODEL);
            assert_null(m2);
            assert_non_null(strstr(err.msg, path));
            if (!strstr(err.msg, cases[i].why))
                fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].why);
            continue;
        }
        assert_int_equal(st, CL_OK);
        cl_corpus *c2 = hand_corpus();
        tag_all(m2, c2);
        for (int32_t d = 0; d < c2->ndocs; d++)
            for (int32_t k = 0; k < c2->docs[d]->ntokens; k++) {
                float conf = c2->docs[d]->tag_conf[k];
                if (!(conf >= 0.0f && conf <= 1.0f + 1e-5f))
                    fail_msg("case %zu: confidence %g", i, conf);
            }
        cl_corpus_free(c2);
        cl_crf_model_free(m2);
        m2 = NULL;
    }
    /* type names: repeated, empty, with a space */
    const char *names[] = {NULL, "", "RARE DISEASE"};
    char *first = m->types[0], *second = m->types[1];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        m->types[1] = (char *)(names[i] ? names[i] : first);
        assert_int_equal(cl_crf_model_save(m, path, &err), CL_OK);
        m->types[1] = second;
        assert_int_equal(cl_crf_model_load(path, &m2, &err), CL_ERR_MODEL);
        assert_non_null(strstr(err.msg, "entity type names"));
    }
    unlink(path);
    free(path);
    cl_crf_model_free(m);
}

static void training_is_deterministic(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    char *pa = tmp_path("det_a.crf"), *pb = tmp_path("det_b.crf");
    for (int threads = 1; threads <= 3; threads += 2) {
        cl_crf_model *a, *b;
        cl_crf_train_params p = quiet_params();
        p.threads = threads;
        p.max_iter = 30;
        p.c1 = 0.01;
        assert_int_equal(cl_crf_train(c, c, &p, &a, &err), CL_OK);
        assert_int_equal(cl_crf_train(c, c, &p, &b, &err), CL_OK);
        assert_int_equal(cl_crf_model_save(a, pa, &err), CL_OK);
        assert_int_equal(cl_crf_model_save(b, pb, &err), CL_OK);
        char *da, *db;
        size_t na, nb;
        assert_int_equal(cl_read_file(pa, &da, &na, &err), CL_OK);
        assert_int_equal(cl_read_file(pb, &db, &nb, &err), CL_OK);
        assert_int_equal(na, nb);
        assert_memory_equal(da, db, na);
        free(da);
        free(db);
        cl_crf_model_free(a);
        cl_crf_model_free(b);
    }
    unlink(pa);
    unlink(pb);
    free(pa);
    free(pb);
    cl_corpus_free(c);
}

static void l1_gives_sparse_model(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    cl_crf_model *m0, *m1;
    cl_crf_train_params p = quiet_params();
    p.max_iter = 60;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m0, &err), CL_OK);
    p.c1 = 0.5;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m1, &err), CL_OK);
    cl_crf_model_info i0, i1;
    cl_crf_model_get_info(m0, &i0);
    cl_crf_model_get_info(m1, &i1);
    assert_true(i1.nonzero < i0.nonzero / 2);
    assert_true(i1.nattrs < i0.nattrs);
    cl_crf_model_free(m0);
    cl_crf_model_free(m1);
    cl_corpus_free(c);
}

static void dense_features_round_trip_and_train(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    char *path = tmp_path("dense.bin");
    cl_dense_writer *dw;
    assert_int_equal(cl_dense_writer_open(path, 3, 77, &dw, &err), CL_OK);
    /* legacy: the first format's bytes (no container) for the same table */
    cl_buf legacy;
    cl_buf_init(&legacy);
    const uint32_t three = 3;
    cl_buf_append(&legacy, "CLDENSE1", 8);
    cl_buf_append(&legacy, (const char *)&three, 4);
    for (int32_t i = 0; i < c->ndocs; i++) {
        cl_doc *d = c->docs[i];
        float *rows = calloc((size_t)d->ntokens * 3, sizeof *rows);
        for (int32_t k = 0; k < d->ntokens; k++) { /* a feature that marks entity tokens */
            rows[k * 3] = strcmp(d->tags[k], "O") != 0 ? 1.0f : 0.0f;
            rows[k * 3 + 1] = (float)k / 10.0f;
            rows[k * 3 + 2] = -0.5f;
        }
        assert_int_equal(cl_dense_writer_add(dw, d->id, d->ntokens, rows, &err), CL_OK);
        uint32_t idlen = (uint32_t)strlen(d->id), nt = (uint32_t)d->ntokens;
        cl_buf_append(&legacy, (const char *)&idlen, 4); /* a little-endian host */
        cl_buf_append(&legacy, d->id, idlen);
        cl_buf_append(&legacy, (const char *)&nt, 4);
        cl_buf_append(&legacy, (const char *)rows, (size_t)d->ntokens * 3 * 4);
        free(rows);
    }
    assert_int_equal(cl_dense_writer_commit(dw, &err), CL_OK);
    cl_dense_table *t;
    assert_int_equal(cl_dense_read(path, &t, &err), CL_OK);
    assert_int_equal(cl_dense_dim(t), 3);
    assert_int_equal(cl_dense_key(t), 77);
    int32_t nt;
    const float *r = cl_dense_find(t, "b", &nt);
    assert_non_null(r);
    assert_int_equal(nt, c->docs[1]->ntokens);
    assert_true(r[2] == -0.5f);
    assert_null(cl_dense_find(t, "zzz", &nt));
    cl_crf_train_params p = quiet_params();
    p.dense = t;
    p.max_iter = 50;
    cl_crf_model *m;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_OK);
    cl_crf_model_info info;
    cl_crf_model_get_info(m, &info);
    assert_int_equal(info.dense_dim, 3);
    /* tagging without the dense table is an argument error */
    assert_int_equal(cl_crf_tag(m, NULL, c->docs[0], 0, 1, &err), CL_ERR_ARG);
    assert_int_equal(cl_crf_tag(m, t, c->docs[0], 0, c->docs[0]->nsentences, &err), CL_OK);
    /* save / load keeps the dense weights */
    char *mp = tmp_path("dense.crf");
    cl_crf_model *m2;
    assert_int_equal(cl_crf_model_save(m, mp, &err), CL_OK);
    assert_int_equal(cl_crf_model_load(mp, &m2, &err), CL_OK);
    cl_crf_model_get_info(m2, &info);
    assert_int_equal(info.dense_dim, 3);
    cl_crf_model_free(m2);
    unlink(mp);
    free(mp);
    /* a truncated or corrupt dense file is a format error naming the file */
    char *data;
    size_t n;
    assert_int_equal(cl_read_file(path, &data, &n, &err), CL_OK);
    write_bytes(path, data, n - 2);
    cl_dense_table *t2;
    assert_int_equal(cl_dense_read(path, &t2, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_non_null(strstr(err.msg, path));
    data[n - 5] ^= 0x20;
    write_bytes(path, data, n);
    assert_int_equal(cl_dense_read(path, &t2, &err), CL_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    free(data);
    /* a file of the first format loads to the same rows */
    write_bytes(path, legacy.data, legacy.len);
    assert_int_equal(cl_dense_read(path, &t2, &err), CL_OK);
    assert_int_equal(cl_dense_key(t2), 0);
    for (int32_t i = 0; i < c->ndocs; i++) {
        int32_t n1, n2;
        const float *r1 = cl_dense_find(t, c->docs[i]->id, &n1);
        const float *r2 = cl_dense_find(t2, c->docs[i]->id, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(r1, r2, (size_t)n1 * 3 * 4);
    }
    cl_dense_free(t2);
    /* truncated there: a parse error naming the byte */
    write_bytes(path, legacy.data, legacy.len - 2);
    assert_int_equal(cl_dense_read(path, &t2, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "truncated record"));
    /* a value that is not a finite number is named by document, token, dimension */
    n = legacy.len;
    data = cl_buf_detach(&legacy);
    const float nan_value = NAN;
    memcpy(data + n - 4, &nan_value, 4); /* the last value: last document, last token, dim 2 */
    write_bytes(path, data, n);
    assert_int_equal(cl_dense_read(path, &t2, &err), CL_ERR_PARSE);
    char want[64];
    snprintf(want, sizeof want, "document 'b', token %d, dimension 2: nan is not",
             c->docs[1]->ntokens - 1);
    assert_non_null(strstr(err.msg, want));
    free(data);
    unlink(path);
    free(path);
    cl_crf_model_free(m);
    cl_dense_free(t);
    cl_corpus_free(c);
}

/* Train on a table whose dimensions differ in scale by 10^6, once with
 * --dense-scale rms and once raw on the same table pre-divided by each
 * dimension's RMS: the same optimisation, so the weights must match once the
 * RMS model's folded factors are accounted for, and both models must tag the
 * same (each with the table it was trained on: the RMS model reads raw rows). */
static void dense_rms_scale_is_folded_into_the_weights(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    enum { D = 3 };
    double sum[D] = {0}, scale[D];
    int64_t n = 0;
    char *path[2] = {tmp_path("dense-raw.bin"), tmp_path("dense-pre.bin")};
    for (int pass = 0; pass < 3; pass++) { /* 0: sums, 1: raw file, 2: pre-scaled file */
        cl_dense_writer *dw = NULL;
        if (pass > 0)
            assert_int_equal(cl_dense_writer_open(path[pass - 1], D, 0, &dw, &err), CL_OK);
        for (int32_t i = 0; i < c->ndocs; i++) {
            cl_doc *d = c->docs[i];
            float *rows = calloc((size_t)d->ntokens * D, sizeof *rows);
            for (int32_t k = 0; k < d->ntokens; k++) {
                rows[k * D] = strcmp(d->tags[k], "O") != 0 ? 1000.0f : 0.0f;
                rows[k * D + 1] = 0.001f * (float)(k % 5);
                rows[k * D + 2] = 7.0f;
            }
            for (int32_t j = 0; j < d->ntokens * D; j++) {
                if (pass == 0)
                    sum[j % D] += (double)rows[j] * rows[j];
                else if (pass == 2)
                    rows[j] = (float)(rows[j] * scale[j % D]);
            }
            if (pass == 0)
                n += d->ntokens;
            else
                assert_int_equal(cl_dense_writer_add(dw, d->id, d->ntokens, rows, &err), CL_OK);
            free(rows);
        }
        if (pass == 0)
            for (int k = 0; k < D; k++)
                scale[k] = 1.0 / sqrt(sum[k] / (double)n);
        else
            assert_int_equal(cl_dense_writer_commit(dw, &err), CL_OK);
    }
    cl_dense_table *raw, *pre;
    assert_int_equal(cl_dense_read(path[0], &raw, &err), CL_OK);
    assert_int_equal(cl_dense_read(path[1], &pre, &err), CL_OK);
    cl_crf_train_params p = quiet_params();
    p.max_iter = 40;
    cl_crf_model *mr, *mp, *mraw;
    p.dense = raw;
    p.dense_scale = CL_CRF_DENSE_RMS;
    assert_int_equal(cl_crf_train(c, NULL, &p, &mr, &err), CL_OK);
    p.dense_scale = CL_CRF_DENSE_RAW;
    assert_int_equal(cl_crf_train(c, NULL, &p, &mraw, &err), CL_OK);
    p.dense = pre;
    assert_int_equal(cl_crf_train(c, NULL, &p, &mp, &err), CL_OK);
    assert_int_equal(mr->dims.A, mp->dims.A);
    assert_int_equal(mr->dims.D, D);
    int64_t off = crf_dense_off(mr->dims);
    for (int64_t i = 0; i < off; i++) /* attributes and transitions: the same run */
        assert_true(mr->w[i] == mp->w[i]);
    bool differs_from_raw = false;
    for (int k = 0; k < D; k++)
        for (int32_t y = 0; y < mr->dims.L; y++) {
            double a = mr->w[off + k * mr->dims.L + y];
            double b = mp->w[off + k * mr->dims.L + y] * scale[k];
            assert_true(fabs(a - b) <= 1e-6 * fabs(b) + 1e-12);
            differs_from_raw |= fabs(a - mraw->w[off + k * mr->dims.L + y]) > 1e-3 * fabs(a);
        }
    assert_true(differs_from_raw);
    for (int32_t i = 0; i < c->ndocs; i++) {
        cl_doc *d = c->docs[i];
        assert_int_equal(cl_crf_tag(mr, raw, d, 0, d->nsentences, &err), CL_OK);
        char **tr = copy_tags(d);
        assert_int_equal(cl_crf_tag(mp, pre, d, 0, d->nsentences, &err), CL_OK);
        for (int32_t k = 0; k < d->ntokens; k++)
            assert_string_equal(tr[k], d->tags[k]);
        free_tags(tr, d->ntokens);
    }
    for (int f = 0; f < 2; f++) {
        unlink(path[f]);
        free(path[f]);
    }
    cl_crf_model_free(mr);
    cl_crf_model_free(mp);
    cl_crf_model_free(mraw);
    cl_dense_free(raw);
    cl_dense_free(pre);
    cl_corpus_free(c);
}

static void document_words_are_frequent_content_words(void **state)
{
    (void)state;
    static const char *const sents[] = {
        "Skin blisters appear on the skin .", "The blisters are painful and the skin peels .",
        "With time these lesions heal .", "Lesions scar ."};
    cl_doc *d = make_doc("d", sents, 4);
    crf_doc_ctx dc;
    cl_error err;
    assert_int_equal(cl__crf_doc_ctx_init(&dc, d, 2, &err), CL_OK);
    assert_int_equal(dc.n, 2);
    assert_string_equal(dc.attrs[0], "D=skin");     /* 3 times, case folded */
    assert_string_equal(dc.attrs[1], "D=blisters"); /* 2 times, before "lesions" */
    cl__crf_doc_ctx_free(&dc);
    assert_int_equal(cl__crf_doc_ctx_init(&dc, d, 10, &err), CL_OK);
    assert_int_equal(dc.n, 3); /* "with", "these", "the" are function words; the rest once */
    cl__crf_doc_ctx_free(&dc);
    cl_doc_free(d);
}

/* Attributes of one sentence, as "t:attr" lines, for checking features. */
static int collect_attr(void *ud, int32_t t, const char *attr, size_t n)
{
    cl_buf *b = ud;
    return cl_buf_printf(b, "%d:%.*s\n", t, (int)n, attr) ? -1 : 0;
}

static uint32_t file_version(const char *path)
{
    unsigned char h[12];
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(h, 1, 12, fp), 12);
    fclose(fp);
    return (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
}

/* The public matcher (crf.h's cl_vocab, what the encoder reads): the same
 * longest-term marks as the features, as B bits and I bits per token. */
static void vocabulary_marks_of_a_sentence(void **state)
{
    (void)state;
    cl_error err;
    const char *terms = "PHENO\tburning pain\nPHENO\tpain\nORPHA\tFabry disease\n"
                        "SKIN\tEpidermolysis bullosa\nORPHA\tEpidermolysis bullosa\n";
    cl_vocab *v;
    assert_int_equal(cl_vocab_parse("t.tsv", terms, strlen(terms), CL_TOKENIZER_CLINICAL, &v, &err),
                     CL_OK);
    assert_int_equal(cl_vocab_ncats(v), 3);
    assert_string_equal(cl_vocab_cat_name(v, 1), "ORPHA");
    assert_null(cl_vocab_cat_name(v, 3));
    const char *sent[] = {"burning pain in Fabry disease , not epidermolysis bullosa"};
    cl_doc *d = make_doc("v", sent, 1);
    uint32_t marks[16] = {0};
    assert_int_equal(d->ntokens, 9);
    assert_int_equal(cl_vocab_mark_sentence(v, d, 0, marks, &err), CL_OK);
    const uint32_t I = 1u << CL_VOCAB_INSIDE;
    /* pain: inside "burning pain" and the start of "pain"; SKIN + ORPHA = 4 | 2 */
    const uint32_t want[] = {1, I | 1, 0, 2, I << 1, 0, 0, 6, (I << 1) | (I << 2)};
    for (int t = 0; t < 9; t++)
        assert_int_equal(marks[t], want[t]);
    assert_int_equal(cl_vocab_mark_sentence(v, d, 1, marks, &err), CL_ERR_RANGE);
    cl_doc_free(d);
    cl_vocab_free(v);
    assert_int_equal(cl_vocab_parse("empty.tsv", "# nothing\n", 10, CL_TOKENIZER_CLINICAL, &v, &err),
                     CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "empty.tsv: no terms"));
}

static void vocabulary_terms_become_features(void **state)
{
    (void)state;
    cl_error err;
    char *vpath = tmp_path("vocab.tsv"), *mpath = tmp_path("vocab.crf");
    const char *terms = "# category<TAB>term\nPHENO\tburning pain\nPHENO\tpain\n"
                        "ORPHA\tFabry disease\nSKIN\tEpidermolysis bullosa\nORPHA\tEpidermolysis "
                        "bullosa\nPHENO\tŒdème";
    write_bytes(vpath, terms, strlen(terms));
    cl_corpus *c = hand_corpus();
    cl_crf_model *m, *m2;
    cl_crf_train_params p = quiet_params();
    p.max_iter = 15;
    p.vocab_path = vpath;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_OK);
    /* terms and their prefixes: burning, burning pain, pain, fabry, fabry
     * disease, epidermolysis, epidermolysis bullosa, œdème */
    assert_int_equal(m->vocab.ncats, 3);
    assert_int_equal(m->vocab.keys.n, 8);
    int32_t id = cl__crf_dict_find(&m->vocab.keys, "fabry", 5);
    assert_true(id >= 0 && m->vocab.cats[id] == 0); /* a prefix only */
    id = cl__crf_dict_find(&m->vocab.keys, "epidermolysis bullosa", 21);
    assert_true(id >= 0 && m->vocab.cats[id] == 6); /* SKIN and ORPHA */
    assert_true(cl__crf_dict_find(&m->vocab.keys, "œdème", strlen("œdème")) >= 0);
    /* the longest term from each token; "Fabry syndrome" matches nothing */
    const char *sent[] = {"burning pain in Fabry disease , not in Fabry syndrome"};
    cl_doc *d = make_doc("v", sent, 1);
    cl_buf b;
    cl_buf_init(&b);
    assert_int_equal(cl__crf_sentence_attrs(&m->cfg, NULL, -1, &m->vocab, NULL, d, 0, collect_attr,
                                        &b, &err),
                     CL_OK);
    const char *want[] = {"\n0:v=B-PHENO\n", "\n1:v=I-PHENO\n", "\n1:v=B-PHENO\n",
                          "\n1:v-1=B-PHENO\n", "\n3:v=B-ORPHA\n", "\n4:v=I-ORPHA\n",
                          "\n2:v+1=B-ORPHA\n"};
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
        assert_non_null(strstr(b.data, want[k]));
    assert_null(strstr(b.data, "\n9:v="));
    assert_null(strstr(b.data, "\n10:v="));
    assert_null(strstr(b.data, "\n0:v=I-"));
    cl_buf_free(&b);
    cl_doc_free(d);
    /* a model with a vocabulary is format version 2 and tags the same after
     * loading; one without stays version 1 */
    assert_int_equal(cl_crf_model_save(m, mpath, &err), CL_OK);
    assert_int_equal(file_version(mpath), 2);
    assert_int_equal(cl_crf_model_load(mpath, &m2, &err), CL_OK);
    assert_int_equal(m2->vocab.keys.n, 8);
    cl_corpus *c2 = hand_corpus();
    tag_all(m, c);
    tag_all(m2, c2);
    for (int32_t i = 0; i < c->ndocs; i++)
        for (int32_t k = 0; k < c->docs[i]->ntokens; k++)
            assert_true(c->docs[i]->tag_conf[k] == c2->docs[i]->tag_conf[k]);
    cl_crf_model_free(m2);
    cl_crf_model_free(m);
    p.vocab_path = NULL;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_OK);
    assert_int_equal(cl_crf_model_save(m, mpath, &err), CL_OK);
    assert_int_equal(file_version(mpath), 1);
    cl_crf_model_free(m);
    /* a line without a tab names the file and line */
    write_bytes(vpath, "PHENO\tfever\nfever\n", 18);
    p.vocab_path = vpath;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, ":2: expected CATEGORY<TAB>term"));
    unlink(vpath);
    unlink(mpath);
    free(vpath);
    free(mpath);
    cl_corpus_free(c);
    cl_corpus_free(c2);
}

static void bad_training_arguments(void **state)
{
    (void)state;
    cl_corpus *c = hand_corpus();
    cl_error err;
    cl_crf_model *m;
    cl_crf_train_params p = quiet_params();
    p.threads = 0;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_ERR_ARG);
    p = quiet_params();
    p.c2 = -1;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_ERR_ARG);
    cl_corpus *empty;
    assert_int_equal(cl_corpus_new(&empty, &err), CL_OK);
    p = quiet_params();
    assert_int_equal(cl_crf_train(empty, NULL, &p, &m, &err), CL_ERR_ARG);
    cl_corpus_free(empty);
    cl_crf_labels l;
    assert_int_equal(cl_crf_labels_from_name("all", &l, &err), CL_OK);
    assert_int_equal(l, CL_CRF_LABELS_ALL);
    assert_int_equal(cl_crf_labels_from_name("six", &l, &err), CL_ERR_ARG);
    cl_corpus_free(c);
}

static void progress_lines(void **state)
{
    (void)state;
    char *path = tmp_path("progress.txt");
    FILE *fp = fopen(path, "w+");
    cl_progress *p;
    assert_int_equal(cl_progress_new(fp, "tagging", "docs", 10, CL_PROGRESS_LINES, &p, NULL),
                     CL_OK);
    cl_progress_set_interval(p, 0.0);
    cl_progress_update2(p, 5, 100, "tokens");
    cl_progress_message(p, "note %d", 7);
    cl_progress_finish(p);
    cl_progress_free(p);
    fflush(fp);
    rewind(fp);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    assert_non_null(strstr(buf, "tagging: 5/10 docs (50%)"));
    assert_non_null(strstr(buf, "note 7\n"));
    assert_non_null(strstr(buf, "tagging: 5 docs in"));
    assert_null(strchr(buf, '\r')); /* plain lines, no redraws */
    unlink(path);
    free(path);
}

/* The trainer's words: progress lines, the label sets' types, the training
 * metadata and the summary of a written model. */
static void training_report(void **state)
{
    (void)state;
    char line[512];
    cl_crf_progress pr = {.iteration = 3, .max_iter = 10, .loss = 12.5, .dev_f1 = -1,
                          .dev_micro_f1 = -1, .best_dev_f1 = -1, .active = 42,
                          .elapsed_s = 1.25, .stage = "iteration", .eval_every = 5};
    assert_false(cl_crf_progress_line(&pr, line, sizeof line)); /* thinned */
    pr.eval_every = 0;
    assert_true(cl_crf_progress_line(&pr, line, sizeof line));
    assert_string_equal(line, "iter    3  loss 12.50  active 42  1.2 s");
    pr.dev_f1 = 0.5;
    pr.dev_micro_f1 = 0.6;
    pr.best_dev_f1 = 0.5;
    pr.best_iteration = 3;
    assert_true(cl_crf_progress_line(&pr, line, sizeof line));
    assert_string_equal(line, "iter    3  loss 12.50  dev F1 0.5000 (micro 0.6000)  best 0.5000 "
                              "@3  active 42  1.2 s");
    pr.stage = "features";
    assert_true(cl_crf_progress_line(&pr, line, sizeof line));
    assert_string_equal(line, "features ready: 42 weights (1.2 s)");
    pr.stage = "done";
    pr.o_bias = 0.75;
    assert_true(cl_crf_progress_line(&pr, line, sizeof line));
    assert_string_equal(line, "done: best dev F1 0.5000 at iteration 3 (O bias 0.75), 42 "
                              "non-zero weights, 1.2 s");

    int n = 0;
    assert_ptr_equal(cl_crf_labels_types(CL_CRF_LABELS_PAPER, &n), cl_paper_types);
    assert_int_equal(n, CL_NUM_PAPER_TYPES);
    assert_ptr_equal(cl_crf_labels_types(CL_CRF_LABELS_ALL, &n), cl_all_types);
    assert_int_equal(n, CL_NUM_ALL_TYPES);

    cl_crf_model *m = five_iteration_model();
    cl_crf_train_params p = quiet_params();
    p.vocab_path = "some/dir/terms.tsv";
    cl_error err;
    assert_int_equal(cl_crf_model_set_train_meta(m, &p, CL_TOKENIZER_PAPER, CL_FORMAT_CONLL, &err),
                     CL_OK);
    assert_string_equal(cl_crf_model_get_meta(m, "tokenizer"), "paper");
    assert_string_equal(cl_crf_model_get_meta(m, "labels"), "paper");
    assert_string_equal(cl_crf_model_get_meta(m, "format"), "conll");
    assert_string_equal(cl_crf_model_get_meta(m, "vocab"), "terms.tsv");
    assert_non_null(strstr(cl_crf_model_get_meta(m, "params"), "max_iter="));
    char summary[1024];
    cl_crf_model_summary(m, "out.crf", 2.0, summary, sizeof summary);
    assert_true(strncmp(summary, "wrote out.crf (", 15) == 0);
    assert_non_null(strstr(summary, " labels, "));
    assert_non_null(strstr(summary, ") in 2.0 s"));
    cl_crf_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradient_matches_finite_differences),
        cmocka_unit_test(viterbi_and_marginals_match_brute_force),
        cmocka_unit_test(f1_counts_follow_conlleval),
        cmocka_unit_test(lbfgs_minimises_quadratic_and_l1),
        cmocka_unit_test(learns_hand_made_set_perfectly),
        cmocka_unit_test(saved_model_tags_identically),
        cmocka_unit_test(bad_model_files_give_model_errors),
        cmocka_unit_test(forged_weights_and_type_names_are_refused),
        cmocka_unit_test(training_is_deterministic),
        cmocka_unit_test(l1_gives_sparse_model),
        cmocka_unit_test(dense_features_round_trip_and_train),
        cmocka_unit_test(dense_rms_scale_is_folded_into_the_weights),
        cmocka_unit_test(document_words_are_frequent_content_words),
        cmocka_unit_test(vocabulary_terms_become_features),
        cmocka_unit_test(vocabulary_marks_of_a_sentence),
        cmocka_unit_test(bad_training_arguments),
        cmocka_unit_test(progress_lines),
        cmocka_unit_test(training_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
