/*
 * train.c - training a CRF: gazetteer and attribute dictionary from the
 * training documents, then L-BFGS / OWL-QN (lbfgs.c) on the penalised
 * negative log-likelihood, with early stopping on dev.
 *
 * Parallelism and determinism: sentences are split once into `threads`
 * contiguous ranges of about equal cost; each gradient evaluation runs one
 * thread per range into its own gradient buffer, and the buffers and losses
 * are summed in range order.  Floating-point sums therefore happen in the
 * same order on every run: for a given seed and thread count training is
 * bit-for-bit reproducible (a different thread count may differ in the last
 * bits).  The seed only assigns training documents to gazetteer folds.
 *
 * Early stopping: every eval_every iterations the current weights decode
 * dev and its macro F1 (the paper's average) is computed; the best weights
 * are kept and training stops after `patience` evaluations without a better
 * score.  The model gets the best weights, rounded to float (the file's
 * precision), with attributes whose weights are all zero dropped.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"
#include "clinner/util.h"

cl_crf_train_params cl_crf_train_default_params(void)
{
    cl_crf_train_params p;
    memset(&p, 0, sizeof p);
    p.c1 = 0.05; /* c1, c2 tuned on RareDis dev (docs/RESULTS.md) */
    p.c2 = 0.3;
    p.max_iter = 300;
    p.threads = 1;
    p.seed = 1;
    p.min_count = 1;
    p.lbfgs_m = 6;
    p.epsilon = 1e-5;
    p.period = 10;
    p.delta = 1e-5;
    p.eval_every = 5;
    p.patience = 10;
    p.labels = CL_CRF_LABELS_PAPER;
    p.gazetteer = true;
    p.gazetteer_folds = 5;
    p.gazetteer_max_len = 8;
    p.doc_words = 50;
    p.tune_o_bias = true;
    p.vocab_path = NULL;
    p.vocab_tokenizer = CL_TOKENIZER_CLINICAL;
    p.dense_scale = CL_CRF_DENSE_RMS; /* converges sooner on LLM states (RESULTS.md) */
    return p;
}

/* splitmix64: a tiny seeded generator, local to each training run */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int32_t label_of(void *ud, const char *tag) { return cl__crf_model_label_id(ud, tag); }

typedef struct range {
    int32_t begin, end; /* sequences */
} range;

typedef struct trainer {
    const cl_crf_train_params *p;
    cl_crf_model *m;
    crf_dims dims;
    crf_seq *train;
    int32_t ntrain;
    crf_seq *dev;
    int32_t ndev;
    int nthreads;
    range *ranges;
    double **grads;   /* per thread (index 0 is the caller's g) */
    crf_work *work;   /* per thread */
    double *losses;
    bool nomem;
    /* early stopping */
    double *best;
    double best_f1;
    int best_iter;
    int since_best;
    int last_iter;
    int64_t nweights;
    double t0;
    int32_t *path;
} trainer;

typedef struct job {
    trainer *tr;
    int k;
    const double *x;
} job;

static void *eval_range(void *arg)
{
    job *j = arg;
    trainer *tr = j->tr;
    double *g = tr->grads[j->k];
    memset(g, 0, (size_t)tr->nweights * sizeof *g);
    double loss = 0.0;
    crf_work *wk = &tr->work[j->k];
    for (int32_t i = tr->ranges[j->k].begin; i < tr->ranges[j->k].end; i++) {
        if (cl__crf_work_reserve(wk, tr->train[i].T) != 0) {
            tr->nomem = true;
            break;
        }
        loss += cl__crf_seq_nll(tr->dims, j->x, &tr->train[i], wk, g);
    }
    tr->losses[j->k] = loss;
    return NULL;
}

static double evaluate(void *ud, const double *x, double *g, int64_t n)
{
    trainer *tr = ud;
    tr->grads[0] = g;
    job jobs[64];
    pthread_t tid[64];
    bool started[64] = {false};
    for (int k = 0; k < tr->nthreads; k++)
        jobs[k] = (job){tr, k, x};
    for (int k = 1; k < tr->nthreads; k++)
        started[k] = pthread_create(&tid[k], NULL, eval_range, &jobs[k]) == 0;
    eval_range(&jobs[0]);
    for (int k = 1; k < tr->nthreads; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        else
            eval_range(&jobs[k]); /* could not start a thread: do its share here */
    }
    double loss = tr->losses[0];
    for (int k = 1; k < tr->nthreads; k++) { /* fixed order: deterministic sums */
        loss += tr->losses[k];
        const double *gk = tr->grads[k];
        for (int64_t i = 0; i < n; i++)
            g[i] += gk[i];
    }
    const double c2 = tr->p->c2;
    if (c2 > 0.0) {
        for (int64_t i = 0; i < n; i++) {
            loss += c2 * x[i] * x[i];
            g[i] += 2.0 * c2 * x[i];
        }
    }
    return loss;
}

/* Decode dev with weights x; returns macro F1 (micro in *micro). */
static double dev_f1(trainer *tr, const double *x, double o_bias, double *micro)
{
    crf_f1_counts c;
    memset(&c, 0, sizeof c);
    c.ntypes = (tr->dims.L - 1) / 2;
    crf_work *wk = &tr->work[0];
    for (int32_t i = 0; i < tr->ndev; i++) {
        const crf_seq *s = &tr->dev[i];
        if (s->T == 0 || !s->labels || cl__crf_work_reserve(wk, s->T) != 0)
            continue;
        cl__crf_state_scores(tr->dims, x, s, wk->S);
        crf_bias_o(tr->dims, wk->S, s->T, o_bias);
        cl__crf_viterbi(tr->dims, x, wk->S, s->T, wk, tr->path);
        cl__crf_f1_add(&c, s->labels, tr->path, s->T);
    }
    double macro;
    cl__crf_f1_result(&c, &macro, micro);
    return macro;
}

static int64_t count_nonzero(const double *x, int64_t n)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        c += x[i] != 0.0;
    return c;
}

static int on_iteration(void *ud, const double *x, int64_t n, double fx, int k)
{
    trainer *tr = ud;
    tr->last_iter = k;
    cl_crf_progress pr = {.iteration = k, .max_iter = tr->p->max_iter, .loss = fx,
                          .dev_f1 = -1.0, .dev_micro_f1 = -1.0, .stage = "iteration",
                          .eval_every = tr->p->eval_every};
    bool stop = false;
    if (tr->ndev > 0 && tr->p->eval_every > 0 && k % tr->p->eval_every == 0) {
        pr.dev_f1 = dev_f1(tr, x, 0.0, &pr.dev_micro_f1);
        if (pr.dev_f1 > tr->best_f1) {
            tr->best_f1 = pr.dev_f1;
            tr->best_iter = k;
            tr->since_best = 0;
            memcpy(tr->best, x, (size_t)n * sizeof *x);
        } else if (++tr->since_best >= tr->p->patience && tr->p->patience > 0) {
            stop = true;
        }
    }
    pr.best_dev_f1 = tr->best_iter > 0 ? tr->best_f1 : -1.0;
    pr.best_iteration = tr->best_iter;
    pr.active = count_nonzero(x, n);
    pr.elapsed_s = cl_now() - tr->t0;
    if (tr->p->progress)
        tr->p->progress(tr->p->progress_ud, &pr);
    return stop || tr->nomem;
}

/* Gazetteer from the gold entities (B-X I-X ... runs) of the training set. */
static cl_status build_gazetteer(cl_crf_model *m, const cl_corpus *train, const int32_t *fold,
                                 cl_error *err)
{
    char *key = NULL;
    size_t cap = 0;
    char low[512];
    for (int32_t d = 0; d < train->ndocs; d++) {
        const cl_doc *doc = train->docs[d];
        if (!doc->tags)
            continue;
        for (int32_t si = 0; si < doc->nsentences; si++) {
            const cl_sentence *s = &doc->sentences[si];
            int32_t t = s->tok_begin;
            while (t < s->tok_end) {
                int32_t y = cl__crf_model_label_id(m, doc->tags[t]);
                if (y == 0) {
                    t++;
                    continue;
                }
                int32_t type = crf_label_type(y), e = t + 1;
                while (e < s->tok_end && e - t < m->gaz.max_len) {
                    int32_t z = cl__crf_model_label_id(m, doc->tags[e]);
                    if (z == 0 || crf_label_is_b(z) || crf_label_type(z) != type)
                        break;
                    e++;
                }
                bool too_long = false;
                if (e < s->tok_end) {
                    int32_t z = cl__crf_model_label_id(m, doc->tags[e]);
                    too_long = z != 0 && !crf_label_is_b(z) && crf_label_type(z) == type;
                }
                size_t len = 0;
                for (int32_t k = t; k < e && !too_long; k++) {
                    size_t n = cl__crf_token_lower(doc, k, low, sizeof low);
                    if (len + n + 2 > cap) {
                        size_t nc = (len + n + 2) * 2;
                        char *nk = realloc(key, nc);
                        if (!nk) {
                            free(key);
                            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                        }
                        key = nk;
                        cap = nc;
                    }
                    if (k > t)
                        key[len++] = ' ';
                    memcpy(key + len, low, n);
                    len += n;
                }
                if (!too_long && cl__crf_gaz_add(&m->gaz, key, len, type, fold[d]) != 0) {
                    free(key);
                    return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                }
                t = e;
                while (too_long && t < s->tok_end) { /* skip the rest of an overlong entity */
                    int32_t z = cl__crf_model_label_id(m, doc->tags[t]);
                    if (z == 0 || crf_label_is_b(z) || crf_label_type(z) != type)
                        break;
                    t++;
                }
            }
        }
    }
    free(key);
    return CL_OK;
}

static const float *doc_dense(const cl_crf_train_params *p, const cl_doc *doc, cl_error *err,
                              cl_status *st)
{
    *st = CL_OK;
    if (!p->dense)
        return NULL;
    int32_t n = 0;
    const float *rows = cl_dense_find(p->dense, doc->id, &n);
    if (rows && n != doc->ntokens) {
        *st = cl_error_set(err, CL_ERR_ARG,
                           "%s: dense features for %d tokens, the document has %d (same "
                           "tokenizer?)",
                           doc->id, n, doc->ntokens);
        return NULL;
    }
    return rows;
}

static void free_seqs(crf_seq *s, int32_t n)
{
    if (!s)
        return;
    for (int32_t i = 0; i < n; i++)
        cl__crf_seq_free(&s[i]);
    free(s);
}

static cl_status build_train_seqs(trainer *tr, const cl_corpus *train, const int32_t *fold,
                                  cl_error *err)
{
    const cl_crf_train_params *p = tr->p;
    cl_crf_model *m = tr->m;
    int64_t ns = cl_corpus_nsentences(train);
    tr->train = calloc((size_t)(ns > 0 ? ns : 1), sizeof *tr->train);
    if (!tr->train)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    crf_dict all;
    cl__crf_dict_init(&all);
    int64_t *counts = NULL;
    int32_t cap_counts = 0;
    int32_t *remap = NULL;
    cl_status st = CL_OK;
    for (int32_t d = 0; d < train->ndocs && st == CL_OK; d++) {
        const cl_doc *doc = train->docs[d];
        if (!doc->tags && doc->ntokens > 0) {
            st = cl_error_set(err, CL_ERR_ARG, "%s: training document has no gold tags", doc->id);
            break;
        }
        const float *rows = doc_dense(p, doc, err, &st);
        if (st != CL_OK)
            break;
        crf_doc_ctx dc;
        if ((st = cl__crf_doc_ctx_init(&dc, doc, m->cfg.doc_words, err)) != CL_OK)
            break;
        crf_seq_src src = {.cfg = &m->cfg, .gaz = &m->gaz, .vocab = &m->vocab, .fold = fold[d],
                           .doc_ctx = &dc,
                           .intern = &all, .counts = &counts, .cap_counts = &cap_counts,
                           .dense_rows = rows, .dense_dim = tr->dims.D, .label_of = label_of,
                           .label_ud = m};
        for (int32_t si = 0; si < doc->nsentences && st == CL_OK; si++) {
            crf_seq s;
            st = cl__crf_seq_build(&src, doc, si, &s, err);
            if (st == CL_OK && s.T > 0)
                tr->train[tr->ntrain++] = s;
            else if (st == CL_OK)
                cl__crf_seq_free(&s);
        }
        cl__crf_doc_ctx_free(&dc);
    }
    if (st == CL_OK) { /* min-count cutoff; surviving ids keep their first-seen order */
        remap = malloc((size_t)(all.n > 0 ? all.n : 1) * sizeof *remap);
        if (!remap)
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; i < all.n && st == CL_OK; i++) {
            remap[i] = -1;
            if (counts[i] >= p->min_count) {
                remap[i] = cl__crf_dict_intern(&m->attrs, all.keys[i], all.klen[i], NULL);
                if (remap[i] < 0)
                    st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            }
        }
    }
    if (st == CL_OK) {
        for (int32_t i = 0; i < tr->ntrain; i++) {
            crf_seq *s = &tr->train[i];
            int32_t k = 0;
            for (int32_t t = 0; t < s->T; t++) {
                int32_t b = s->off[t], e = s->off[t + 1];
                s->off[t] = k;
                for (int32_t j = b; j < e; j++)
                    if (remap[s->attr[j]] >= 0)
                        s->attr[k++] = remap[s->attr[j]];
            }
            s->off[s->T] = k;
        }
        m->dims.A = m->attrs.n;
    }
    free(remap);
    free(counts);
    cl__crf_dict_free(&all);
    return st;
}

static cl_status build_dev_seqs(trainer *tr, const cl_corpus *dev, cl_error *err)
{
    if (!dev)
        return CL_OK;
    int64_t ns = cl_corpus_nsentences(dev);
    tr->dev = calloc((size_t)(ns > 0 ? ns : 1), sizeof *tr->dev);
    if (!tr->dev)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = CL_OK;
    for (int32_t d = 0; d < dev->ndocs && st == CL_OK; d++) {
        const cl_doc *doc = dev->docs[d];
        if (!doc->tags)
            continue;
        const float *rows = doc_dense(tr->p, doc, err, &st);
        if (st != CL_OK)
            break;
        crf_doc_ctx dc;
        if ((st = cl__crf_doc_ctx_init(&dc, doc, tr->m->cfg.doc_words, err)) != CL_OK)
            break;
        crf_seq_src src = {.cfg = &tr->m->cfg, .gaz = &tr->m->gaz, .vocab = &tr->m->vocab,
                           .fold = -1, .doc_ctx = &dc,
                           .lookup = &tr->m->attrs, .dense_rows = rows, .dense_dim = tr->dims.D,
                           .label_of = label_of, .label_ud = tr->m};
        for (int32_t si = 0; si < doc->nsentences && st == CL_OK; si++) {
            crf_seq s;
            st = cl__crf_seq_build(&src, doc, si, &s, err);
            if (st == CL_OK && s.T > 0)
                tr->dev[tr->ndev++] = s;
            else if (st == CL_OK)
                cl__crf_seq_free(&s);
        }
        cl__crf_doc_ctx_free(&dc);
    }
    return st;
}

/* Contiguous ranges of about equal cost (attributes + T * L for the chain). */
static void partition(trainer *tr)
{
    int64_t total = 0;
    for (int32_t i = 0; i < tr->ntrain; i++)
        total += tr->train[i].off[tr->train[i].T] + (int64_t)tr->train[i].T * tr->dims.L;
    int64_t acc = 0;
    int k = 0;
    tr->ranges[0].begin = 0;
    for (int32_t i = 0; i < tr->ntrain; i++) {
        acc += tr->train[i].off[tr->train[i].T] + (int64_t)tr->train[i].T * tr->dims.L;
        if (k + 1 < tr->nthreads && acc * tr->nthreads >= total * (k + 1)) {
            tr->ranges[k].end = i + 1;
            tr->ranges[++k].begin = i + 1;
        }
    }
    tr->ranges[k].end = tr->ntrain;
    for (int j = k + 1; j < tr->nthreads; j++)
        tr->ranges[j].begin = tr->ranges[j].end = tr->ntrain;
}

/* Model weights from x: rounded to float, all-zero attributes dropped. */
static cl_status finish_model(trainer *tr, const double *x, cl_error *err)
{
    cl_crf_model *m = tr->m;
    const int32_t L = tr->dims.L;
    crf_dict kept;
    cl__crf_dict_init(&kept);
    int32_t A = 0;
    for (int32_t a = 0; a < tr->dims.A; a++) {
        bool nz = false;
        for (int32_t y = 0; y < L && !nz; y++)
            nz = (float)x[(size_t)a * L + y] != 0.0f;
        if (nz) {
            if (cl__crf_dict_intern(&kept, m->attrs.keys[a], m->attrs.klen[a], NULL) < 0) {
                cl__crf_dict_free(&kept);
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            }
            A++;
        }
    }
    crf_dims nd = {A, L, tr->dims.D};
    double *w = malloc((size_t)crf_nweights(nd) * sizeof *w);
    if (!w) {
        cl__crf_dict_free(&kept);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    int32_t j = 0;
    for (int32_t a = 0; a < tr->dims.A; a++) {
        bool nz = false;
        for (int32_t y = 0; y < L && !nz; y++)
            nz = (float)x[(size_t)a * L + y] != 0.0f;
        if (!nz)
            continue;
        for (int32_t y = 0; y < L; y++)
            w[(size_t)j * L + y] = (float)x[(size_t)a * L + y];
        j++;
    }
    int64_t rest = (int64_t)L * L + (int64_t)tr->dims.D * L;
    for (int64_t i = 0; i < rest; i++)
        w[crf_trans_off(nd) + i] = (float)x[crf_trans_off(tr->dims) + i];
    cl__crf_dict_free(&m->attrs);
    m->attrs = kept;
    free(m->w);
    m->w = w;
    m->dims = nd;
    return CL_OK;
}

static cl_status check_train_params(const cl_crf_train_params *p, const cl_corpus *train,
                                    cl_error *err)
{
    if (p->threads < 1 || p->threads > 64)
        return cl_error_set(err, CL_ERR_ARG, "threads must be 1..64 (got %d)", p->threads);
    if (p->c1 < 0 || p->c2 < 0 || !isfinite(p->c1) || !isfinite(p->c2))
        return cl_error_set(err, CL_ERR_ARG, "c1 and c2 must be >= 0");
    if (p->max_iter < 1)
        return cl_error_set(err, CL_ERR_ARG, "max_iter must be >= 1 (got %d)", p->max_iter);
    if (p->doc_words < 0 || p->doc_words > 1000)
        return cl_error_set(err, CL_ERR_ARG, "document words must be 0..1000 (got %d)",
                            p->doc_words);
    if (p->gazetteer_folds < 2 || p->gazetteer_folds > 8)
        return cl_error_set(err, CL_ERR_ARG, "gazetteer folds must be 2..8 (got %d)",
                            p->gazetteer_folds);
    if (!train || train->ndocs == 0)
        return cl_error_set(err, CL_ERR_ARG, "no training documents");
    return CL_OK;
}

/* Gazetteer folds: a seeded shuffle of the documents dealt round-robin. */
static cl_status deal_folds(const cl_corpus *train, const cl_crf_train_params *p, int32_t *fold,
                            cl_error *err)
{
    int32_t *perm = malloc((size_t)train->ndocs * sizeof *perm);
    if (!perm)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    uint64_t rs = p->seed;
    for (int32_t i = 0; i < train->ndocs; i++)
        perm[i] = i;
    for (int32_t i = train->ndocs - 1; i > 0; i--) {
        int32_t j = (int32_t)(splitmix(&rs) % (uint64_t)(i + 1));
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int32_t i = 0; i < train->ndocs; i++)
        fold[perm[i]] = i % p->gazetteer_folds;
    free(perm);
    return CL_OK;
}

/* RMS mode: train on a scaled copy of the dense table (p->dense is pointed
 * at it); *scale gets the factors, folded into the weights at the end. */
static cl_status scale_dense(trainer *tr, cl_crf_train_params *p, const cl_corpus *train,
                             double **scale, cl_dense_table **scaled, cl_error *err)
{
    if (!p->dense || p->dense_scale != CL_CRF_DENSE_RMS)
        return CL_OK;
    *scale = malloc((size_t)tr->dims.D * sizeof **scale);
    if (!*scale)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl__crf_dense_rms(p->dense, train, *scale);
    for (int32_t k = 0; k < tr->dims.D; k++)
        (*scale)[k] = (*scale)[k] > 0.0 ? 1.0 / (*scale)[k] : 1.0;
    cl_status st = cl__crf_dense_scaled(p->dense, *scale, scaled, err);
    if (st == CL_OK)
        p->dense = *scaled;
    return st;
}

/* The optimiser's state: thread ranges, gradients, work space, the weights
 * *x (zero) and the best dev weights. */
static cl_status alloc_optimiser(trainer *tr, double **x, cl_error *err)
{
    tr->nweights = crf_nweights(tr->dims);
    tr->nthreads = tr->p->threads < tr->ntrain ? tr->p->threads : tr->ntrain;
    tr->ranges = calloc((size_t)tr->nthreads, sizeof *tr->ranges);
    tr->grads = calloc((size_t)tr->nthreads, sizeof *tr->grads);
    tr->work = calloc((size_t)tr->nthreads, sizeof *tr->work);
    tr->losses = calloc((size_t)tr->nthreads, sizeof *tr->losses);
    *x = calloc((size_t)tr->nweights, sizeof **x);
    tr->best = tr->ndev > 0 ? calloc((size_t)tr->nweights, sizeof *tr->best) : NULL;
    int32_t maxT = 1;
    for (int32_t i = 0; i < tr->ndev; i++)
        if (tr->dev[i].T > maxT)
            maxT = tr->dev[i].T;
    tr->path = malloc((size_t)maxT * sizeof *tr->path);
    bool ok = tr->ranges && tr->grads && tr->work && tr->losses && *x && tr->path &&
              (tr->ndev == 0 || tr->best);
    for (int k = 0; k < tr->nthreads && ok; k++) {
        cl__crf_work_init(&tr->work[k], tr->dims.L);
        if (k > 0)
            ok = (tr->grads[k] = malloc((size_t)tr->nweights * sizeof(double))) != NULL;
    }
    if (!ok) {
        free(*x);
        *x = NULL;
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory for %lld weights",
                            (long long)tr->nweights);
    }
    partition(tr);
    return CL_OK;
}

/* After the optimiser: the last iterate is evaluated too, unless it
 * already was, and the O bias tuned on dev; returns the bias. */
static double pick_best_on_dev(trainer *tr, const double *x)
{
    double o_bias = 0.0;
    if (tr->ndev == 0)
        return o_bias;
    double micro;
    double f1 = dev_f1(tr, x, 0.0, &micro);
    if (f1 > tr->best_f1) {
        tr->best_f1 = f1;
        tr->best_iter = tr->last_iter;
        memcpy(tr->best, x, (size_t)tr->nweights * sizeof *x);
    }
    /* A CRF trained on text where most tokens are O errs towards O: it
     * misses more entities than it invents.  Lowering the score of O by a
     * constant trades precision for recall; the constant is the one with
     * the best dev F1 (0 when none beats it). */
    for (int k = 1; tr->p->tune_o_bias && k <= 12; k++) {
        double f = dev_f1(tr, tr->best, 0.25 * k, &micro);
        if (f > tr->best_f1) {
            tr->best_f1 = f;
            o_bias = 0.25 * k;
        }
    }
    return o_bias;
}

static void report_stage(const trainer *tr, const char *stage, double loss, double o_bias)
{
    const cl_crf_train_params *p = tr->p;
    if (!p->progress)
        return;
    bool done = strcmp(stage, "done") == 0;
    cl_crf_progress pr = {.max_iter = p->max_iter, .loss = loss, .dev_f1 = -1,
                          .dev_micro_f1 = -1, .best_dev_f1 = -1,
                          .elapsed_s = cl_now() - tr->t0, .o_bias = o_bias, .stage = stage,
                          .eval_every = p->eval_every};
    if (done) {
        pr.best_dev_f1 = tr->ndev > 0 ? tr->best_f1 : -1;
        pr.best_iteration = tr->best_iter;
        cl_crf_model_info info;
        cl_crf_model_get_info(tr->m, &info);
        pr.active = info.nonzero;
    } else {
        pr.active = crf_nweights(tr->dims);
    }
    p->progress(p->progress_ud, &pr);
}

static void trainer_free(trainer *tr)
{
    free_seqs(tr->train, tr->ntrain);
    free_seqs(tr->dev, tr->ndev);
    if (tr->work)
        for (int k = 0; k < tr->nthreads; k++)
            cl__crf_work_free(&tr->work[k]);
    if (tr->grads)
        for (int k = 1; k < tr->nthreads; k++)
            free(tr->grads[k]);
    free(tr->work);
    free(tr->grads);
    free(tr->ranges);
    free(tr->losses);
    free(tr->best);
    free(tr->path);
}

/* Features of train and dev as sequences, with the gazetteer and the dense
 * table they need. */
static cl_status build_features(trainer *tr, cl_crf_train_params *p, const cl_corpus *train,
                                const cl_corpus *dev, int32_t *fold, double **dense_scale,
                                cl_dense_table **scaled_dense, cl_error *err)
{
    cl_crf_model *m = tr->m;
    m->cfg = (crf_feat_config){.window = 2, .affix = 4, .gazetteer = p->gazetteer,
                               .gaz_max_len = p->gazetteer_max_len, .doc_words = p->doc_words};
    m->gaz.max_len = p->gazetteer_max_len;
    cl_status st = deal_folds(train, p, fold, err);
    if (st == CL_OK && p->gazetteer)
        st = build_gazetteer(m, train, fold, err);
    if (st == CL_OK && p->vocab_path)
        st = cl__crf_vocab_read(&m->vocab, p->vocab_path, p->vocab_tokenizer, err);
    if (st != CL_OK)
        return st;
    tr->dims.L = m->dims.L;
    tr->dims.D = p->dense ? cl_dense_dim(p->dense) : 0;
    m->dims.D = tr->dims.D;
    if ((st = scale_dense(tr, p, train, dense_scale, scaled_dense, err)) != CL_OK ||
        (st = build_train_seqs(tr, train, fold, err)) != CL_OK)
        return st;
    tr->dims.A = m->dims.A;
    if (tr->ntrain == 0)
        return cl_error_set(err, CL_ERR_ARG, "the training documents have no tokenized sentences");
    return build_dev_seqs(tr, dev, err);
}

cl_status cl_crf_train(const cl_corpus *train, const cl_corpus *dev,
                       const cl_crf_train_params *params, cl_crf_model **out, cl_error *err)
{
    *out = NULL;
    cl_crf_train_params p = params ? *params : cl_crf_train_default_params();
    cl_status st = check_train_params(&p, train, err);
    if (st != CL_OK)
        return st;
    const char *const *types = p.labels == CL_CRF_LABELS_ALL ? cl_all_types : cl_paper_types;
    int32_t ntypes = p.labels == CL_CRF_LABELS_ALL ? CL_NUM_ALL_TYPES : CL_NUM_PAPER_TYPES;

    trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.p = &p;
    tr.t0 = cl_now();
    tr.best_f1 = -1.0;
    double *dense_scale = NULL;          /* RMS mode: 1 / rms per dimension */
    cl_dense_table *scaled_dense = NULL; /* RMS mode: the table the trainer reads */
    double *x = NULL;
    int32_t *fold = calloc((size_t)train->ndocs, sizeof *fold);
    tr.m = cl__crf_model_new(types, ntypes, err);
    if (!tr.m || !fold)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = build_features(&tr, &p, train, dev, fold, &dense_scale, &scaled_dense, err);
    if (st == CL_OK) {
        report_stage(&tr, "features", 0.0, 0.0);
        st = alloc_optimiser(&tr, &x, err);
    }
    double fx = 0.0;
    if (st == CL_OK) {
        crf_lbfgs_params lp = {.m = p.lbfgs_m, .max_iter = p.max_iter, .period = p.period,
                               .max_linesearch = 40, .c1 = p.c1, .epsilon = p.epsilon,
                               .delta = p.delta};
        int rc = cl__crf_lbfgs(tr.nweights, x, &fx, evaluate, on_iteration, &tr, &lp);
        if (rc < 0 || tr.nomem)
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory during optimisation");
    }
    if (st == CL_OK) {
        double o_bias = pick_best_on_dev(&tr, x);
        double *wbest = tr.ndev > 0 ? tr.best : x;
        for (int32_t k = 0; dense_scale && k < tr.dims.D; k++) /* back to the raw scale */
            for (int32_t y = 0; y < tr.dims.L; y++)
                wbest[crf_dense_off(tr.dims) + (int64_t)k * tr.dims.L + y] *= dense_scale[k];
        st = finish_model(&tr, wbest, err);
        tr.m->o_bias = o_bias;
        if (st == CL_OK)
            report_stage(&tr, "done", fx, o_bias);
    }
    free(x);
    free(fold);
    free(dense_scale);
    cl_dense_free(scaled_dense);
    trainer_free(&tr);
    if (st != CL_OK) {
        cl_crf_model_free(tr.m);
        return st;
    }
    if (tr.m->gaz.folds) { /* fold masks are training-only */
        free(tr.m->gaz.folds);
        tr.m->gaz.folds = NULL;
    }
    *out = tr.m;
    return CL_OK;
}
