/*
 * train.c - fine-tuning an encoder for token classification with ggml's
 * optimizer (ggml-opt.h), end to end on the CPU.
 *
 * Data: every sentence's words become word pieces; each word's first piece
 * carries its BIO label, the other pieces none.  The labelled positions are
 * gathered with ggml_get_rows before the classifier, so the cross-entropy
 * sees only them (ggml's cross-entropy backward is softmax - label, which an
 * all-zero "ignored" row would get wrong).  Sequences are sorted by length
 * and cut into batches of similar length (buckets), whose order is shuffled
 * per epoch from the seed: a run is deterministic for a seed and a thread
 * count.
 *
 * Steps: a new graph per batch (shapes vary), driven through
 * ggml_opt_prepare_alloc / ggml_opt_alloc / ggml_opt_eval; AdamW, learning
 * rate from get_opt_pars: linear warm-up, then linear decay to 0.
 *
 * Epochs end with the dev split tagged (Viterbi over valid BIO, as the
 * tagger does) and scored with the library's seqeval-equal scorer; the
 * epoch with the best average F1 over the types is written to out_path.
 * A checkpoint (weights + counters in the safetensors metadata) is written
 * temp+rename every save_every steps and after each epoch; resume continues
 * from its step.  AdamW's moments live inside ggml's optimizer and cannot be
 * saved, so a resumed run restarts them and warms its learning rate up
 * again over ENC_REWARM_STEPS steps.
 */
#include <ggml-opt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "clinner/eval.h"
#include "clinner/util.h"
#include "encoder/enc_internal.h"

#define ENC_GRAPH_SIZE 16384
#define ENC_REWARM_STEPS 20

cl_encoder_train_params cl_encoder_train_default_params(void)
{
    cl_encoder_train_params p;
    memset(&p, 0, sizeof p);
    p.epochs = 3;
    p.batch = 16;
    p.max_pieces = 128;
    p.lr = 5e-5;
    p.warmup = 0.1;
    p.weight_decay = 0.01;
    p.seed = 42;
    p.threads = 2;
    p.save_every = 200;
    return p;
}

typedef struct train_ex {
    int32_t n;     /* pieces with [CLS]/[SEP] */
    int32_t *ids;
    int32_t npos;  /* labelled positions */
    int32_t *pos, *lab;
} train_ex;

typedef struct trainer {
    const cl_encoder_train_params *p;
    cl_encoder *e;
    train_ex *ex;
    int32_t nex;
    int32_t *order; /* examples sorted by length */
    int32_t nbatch;
    int64_t total_steps, global_step, session_steps;
    double lr_now;
} trainer;


static int32_t label_index(const cl_encoder *e, const char *tag)
{
    for (int32_t l = 0; tag && l < e->nlabels; l++)
        if (!strcmp(e->labels[l], tag))
            return l;
    return 0;
}

static cl_status add_examples(trainer *t, const cl_doc *doc, int32_t *cap, cl_error *err)
{
    if (doc->nsentences == 0)
        return CL_OK;
    enc_sentence_pieces sp;
    cl_status st = cl__enc_pieces_of_sentences(t->e, doc, 0, doc->nsentences, t->p->max_pieces,
                                               t->p->pack, &sp, err);
    if (st != CL_OK)
        return st;
    for (int32_t c = 0; c < sp.nchunks && st == CL_OK; c++) {
        if (t->p->max_sentences > 0 && t->nex >= t->p->max_sentences)
            break;
        enc_chunk *ch = &sp.chunks[c];
        if (t->nex == *cap) {
            *cap = *cap ? *cap * 2 : 1024;
            train_ex *n = realloc(t->ex, (size_t)*cap * sizeof *n);
            if (!n) {
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                break;
            }
            t->ex = n;
        }
        train_ex *x = &t->ex[t->nex];
        int32_t nw = ch->tok_end - ch->tok_begin;
        *x = (train_ex){.n = ch->n, .ids = ch->ids};
        x->pos = malloc(((size_t)nw + 1) * sizeof *x->pos);
        x->lab = malloc(((size_t)nw + 1) * sizeof *x->lab);
        ch->ids = NULL;
        t->nex++;
        if (!x->pos || !x->lab) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        for (int32_t w = 0; w < nw; w++)
            if (ch->first[w] >= 0) {
                x->pos[x->npos] = ch->first[w];
                x->lab[x->npos++] =
                    label_index(t->e, doc->tags ? doc->tags[ch->tok_begin + w] : NULL);
            }
    }
    cl__enc_sentence_pieces_free(&sp);
    return st;
}

static int cmp_len(const void *a, const void *b, void *ud)
{
    const train_ex *ex = ud;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (ex[x].n != ex[y].n)
        return ex[x].n < ex[y].n ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* insertion-merge sort by (length, index): qsort_r is not C11 */
static void sort_by_length(int32_t *a, int32_t n, const train_ex *ex)
{
    int32_t *tmp = malloc((size_t)n * sizeof *tmp);
    if (!tmp) { /* fallback: insertion sort */
        for (int32_t i = 1; i < n; i++)
            for (int32_t j = i; j > 0 && cmp_len(&a[j - 1], &a[j], (void *)ex) > 0; j--) {
                int32_t v = a[j];
                a[j] = a[j - 1];
                a[j - 1] = v;
            }
        return;
    }
    for (int32_t w = 1; w < n; w *= 2) {
        for (int32_t lo = 0; lo < n; lo += 2 * w) {
            int32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int32_t i = lo, j = mid, k = lo;
            while (i < mid || j < hi)
                tmp[k++] = (j >= hi || (i < mid && cmp_len(&a[i], &a[j], (void *)ex) <= 0))
                               ? a[i++]
                               : a[j++];
        }
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
    free(tmp);
}

static uint64_t mix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The order of batches in epoch (0-based): a seeded Fisher-Yates shuffle. */
static void epoch_order(int32_t *perm, int32_t n, uint64_t seed, int32_t epoch)
{
    uint64_t s = seed * 0x100000001b3ull + (uint64_t)epoch;
    for (int32_t i = 0; i < n; i++)
        perm[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)(mix64(&s) % (uint64_t)(i + 1));
        int32_t v = perm[i];
        perm[i] = perm[j];
        perm[j] = v;
    }
}

static double lr_at(const trainer *t)
{
    const cl_encoder_train_params *p = t->p;
    int64_t warm = (int64_t)llround(p->warmup * (double)t->total_steps), s = t->global_step;
    double f;
    if (s < warm)
        f = (double)(s + 1) / (double)warm;
    else
        f = t->total_steps > warm ? (double)(t->total_steps - s) / (double)(t->total_steps - warm)
                                  : 1.0;
    if (p->resume && t->session_steps < ENC_REWARM_STEPS)
        f *= (double)(t->session_steps + 1) / ENC_REWARM_STEPS;
    return p->lr * (f > 1e-3 ? f : 1e-3);
}

static struct ggml_opt_optimizer_params opt_pars(void *ud)
{
    trainer *t = ud;
    struct ggml_opt_optimizer_params r = ggml_opt_get_default_optimizer_params(NULL);
    t->lr_now = lr_at(t);
    r.adamw.alpha = (float)t->lr_now;
    r.adamw.beta1 = 0.9f;
    r.adamw.beta2 = 0.999f;
    r.adamw.eps = 1e-8f;
    r.adamw.wd = (float)t->p->weight_decay;
    return r;
}

static void set_params(cl_encoder *e)
{
    for (struct ggml_tensor *x = ggml_get_first_tensor(e->ctx); x;
         x = ggml_get_next_tensor(e->ctx, x))
        ggml_set_param(x);
    ggml_set_param(e->cls_w);
    ggml_set_param(e->cls_b);
    if (e->mark_w)
        ggml_set_param(e->mark_w);
}

static size_t compute_meta(void)
{
    return 3 * ENC_GRAPH_SIZE * ggml_tensor_overhead() +
           3 * ggml_graph_overhead_custom(ENC_GRAPH_SIZE, true);
}

/* Batch b's ids/lens/gather/one-hot labels. */
typedef struct batch_buf {
    int32_t T, B, ng;
    int32_t *ids, *lens, *gather;
    float *onehot;
    int64_t pieces;
} batch_buf;

static cl_status make_batch(const trainer *t, int32_t b, batch_buf *bb, cl_error *err)
{
    int32_t i0 = b * t->p->batch, i1 = i0 + t->p->batch < t->nex ? i0 + t->p->batch : t->nex;
    bb->B = i1 - i0;
    bb->T = 0;
    bb->ng = 0;
    bb->pieces = 0;
    for (int32_t i = i0; i < i1; i++) {
        const train_ex *x = &t->ex[t->order[i]];
        bb->T = x->n > bb->T ? x->n : bb->T;
        bb->ng += x->npos;
        bb->pieces += x->n;
    }
    const int32_t L = t->e->nlabels;
    free(bb->ids);
    free(bb->lens);
    free(bb->gather);
    free(bb->onehot);
    bb->ids = calloc((size_t)bb->T * (size_t)bb->B, sizeof *bb->ids);
    bb->lens = malloc((size_t)bb->B * sizeof *bb->lens);
    bb->gather = malloc(((size_t)bb->ng + 1) * sizeof *bb->gather);
    bb->onehot = calloc(((size_t)bb->ng + 1) * (size_t)L, sizeof *bb->onehot);
    if (!bb->ids || !bb->lens || !bb->gather || !bb->onehot)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t k = 0;
    for (int32_t i = i0; i < i1; i++) {
        const train_ex *x = &t->ex[t->order[i]];
        int32_t row = i - i0;
        memcpy(bb->ids + (size_t)row * bb->T, x->ids, (size_t)x->n * sizeof *x->ids);
        bb->lens[row] = x->n;
        for (int32_t j = 0; j < x->npos; j++, k++) {
            bb->gather[k] = row * bb->T + x->pos[j];
            bb->onehot[(size_t)k * L + x->lab[j]] = 1.0f;
        }
    }
    return CL_OK;
}

static void batch_free(batch_buf *bb)
{
    free(bb->ids);
    free(bb->lens);
    free(bb->gather);
    free(bb->onehot);
}

/* One optimizer step on bb; returns the batch's mean loss. */
static cl_status train_step(trainer *t, ggml_opt_context_t opt, const batch_buf *bb,
                            double *loss, cl_error *err)
{
    struct ggml_init_params ip = {compute_meta(), NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    if (!ctx)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory (graph)");
    enc_graph_opts o = {.train_ops = true};
    enc_inputs in;
    struct ggml_tensor *logits = cl__enc_build(ctx, t->e, bb->T, bb->B, bb->ng, &o, &in);
    struct ggml_cgraph *gf = ggml_new_graph_custom(ctx, ENC_GRAPH_SIZE, true);
    ggml_build_forward_expand(gf, logits);
    ggml_opt_prepare_alloc(opt, ctx, gf, in.ids, logits);
    ggml_opt_alloc(opt, true);
    /* Non-static graphs accumulate gradients in place even with opt_period 1,
     * and ggml_opt resets them only for opt_period > 1: zero them here. */
    ggml_opt_reset(opt, false);
    cl_status st = cl__enc_set_inputs(&in, t->e, bb->T, bb->B, bb->ids, bb->lens, bb->gather,
                                  bb->ng, err);
    if (st != CL_OK) {
        ggml_free(ctx);
        return st;
    }
    struct ggml_tensor *labels = ggml_opt_labels(opt);
    ggml_backend_tensor_set(labels, bb->onehot, 0, ggml_nbytes(labels));
    struct ggml_tensor *lt = ggml_opt_loss(opt);
    ggml_opt_eval(opt, NULL);
    float l = 0;
    ggml_backend_tensor_get(lt, &l, 0, sizeof l);
    ggml_free(ctx);
    *loss = l;
    if (!isfinite(l))
        return cl_error_set(err, CL_ERR_INTERNAL,
                            "training loss is not finite at step %" PRId64 " (lower lr?)",
                            t->global_step + 1);
    return CL_OK;
}

/* Mean F1 over the model's types (the paper's average when they are its
 * five) of a scorer's result. */
static double types_f1(const cl_encoder *e, const cl_eval_result *r)
{
    double sum = 0;
    int32_t n = 0;
    for (int32_t l = 1; l < e->nlabels; l++)
        if (!strncmp(e->labels[l], "B-", 2)) {
            const cl_type_score *ts = cl_eval_result_type(r, e->labels[l] + 2);
            sum += ts ? ts->prf.f1 : 0.0;
            n++;
        }
    return n ? sum / n : 0.0;
}

static cl_status score_doc(const cl_encoder *e, const cl_doc *doc, const float *lp, float o_bias,
                           cl_scorer *sc, cl_error *err)
{
    int32_t *lab = malloc(((size_t)doc->ntokens + 1) * sizeof *lab);
    const char **pred = malloc(((size_t)doc->ntokens + 1) * sizeof *pred);
    cl_status st = lab && pred ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = cl__enc_decode(e, doc, 0, doc->nsentences, lp, o_bias, lab, NULL, err);
    int32_t base = doc->sentences[0].tok_begin;
    for (int32_t s = 0; s < doc->nsentences && st == CL_OK; s++) {
        const cl_sentence *se = &doc->sentences[s];
        for (int32_t i = se->tok_begin; i < se->tok_end; i++)
            pred[i - base] = e->labels[lab[i - base]];
        st = cl_scorer_add(sc, (const char *const *)doc->tags + se->tok_begin,
                           pred + (se->tok_begin - base), se->tok_end - se->tok_begin, NULL, err);
    }
    free(lab);
    free(pred);
    return st;
}

static float *doc_scores(const cl_encoder *e, const cl_doc *doc, int32_t threads, cl_error *err)
{
    int32_t nw = doc->sentences[doc->nsentences - 1].tok_end - doc->sentences[0].tok_begin;
    float *lp = malloc(((size_t)nw + 1) * (size_t)e->nlabels * sizeof *lp);
    if (!lp) {
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (cl__enc_score(e, doc, 0, doc->nsentences, threads, lp, err) != CL_OK) {
        free(lp);
        return NULL;
    }
    return lp;
}

cl_status cl__enc_dev_f1(const cl_encoder *e, const cl_corpus *dev, float *const *lps, float o_bias,
                     int32_t threads, double *f1, cl_error *err)
{
    cl_eval_params ep = cl_eval_default_params();
    cl_scorer *sc = NULL;
    cl_status st = cl_scorer_new(&ep, &sc, err);
    if (st != CL_OK)
        return st;
    for (int32_t d = 0; d < dev->ndocs && st == CL_OK; d++) {
        const cl_doc *doc = dev->docs[d];
        if (doc->nsentences == 0 || !doc->tags)
            continue;
        float *own = lps ? NULL : doc_scores(e, doc, threads, err);
        const float *lp = lps ? lps[d] : own;
        st = lp ? score_doc(e, doc, lp, o_bias, sc, err) : (err ? err->code : CL_ERR_NOMEM);
        free(own);
    }
    cl_eval_result r;
    memset(&r, 0, sizeof r);
    if (st == CL_OK && (st = cl_scorer_result(sc, &r, err)) == CL_OK) {
        *f1 = types_f1(e, &r);
        cl_eval_result_free(&r);
    }
    cl_scorer_free(sc);
    return st;
}

static cl_status dev_f1(const trainer *t, const cl_corpus *dev, double *f1, cl_error *err)
{
    return cl__enc_dev_f1(t->e, dev, NULL, 0.0f, t->p->threads, f1, err);
}

cl_status cl_encoder_tune_o_bias(const char *in_path, const cl_corpus *dev, int32_t threads,
                                 const char *out_path, cl_enc_wtype type, double *bias,
                                 double *f1_before, double *f1_after, cl_error *err)
{
    cl_encoder *e;
    cl_status st = cl_encoder_open(in_path, &e, err);
    if (st != CL_OK)
        return st;
    float **lps = calloc((size_t)dev->ndocs + 1, sizeof *lps);
    if (!e->labels)
        st = cl_error_set(err, CL_ERR_MODEL, "%s: a base encoder, not a tagger", in_path);
    else if (!lps)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t d = 0; d < dev->ndocs && st == CL_OK; d++)
        if (dev->docs[d]->nsentences > 0 && dev->docs[d]->tags &&
            !(lps[d] = doc_scores(e, dev->docs[d], threads, err)))
            st = err ? err->code : CL_ERR_NOMEM;
    double best = -1, best_b = 0;
    for (int i = 0; i <= 16 && st == CL_OK; i++) { /* O's offset 0, 0.25, ..., 4 */
        double f1;
        if ((st = cl__enc_dev_f1(e, dev, lps, 0.25f * (float)i, threads, &f1, err)) != CL_OK)
            break;
        if (i == 0)
            *f1_before = f1;
        if (f1 > best + 1e-9) {
            best = f1;
            best_b = 0.25 * i;
        }
    }
    if (st == CL_OK) {
        e->o_bias = (float)best_b;
        *bias = best_b;
        *f1_after = best;
        st = cl__enc_save(e, out_path, type, NULL, err);
    }
    for (int32_t d = 0; lps && d < dev->ndocs; d++)
        free(lps[d]);
    free(lps);
    cl_encoder_free(e);
    return st;
}

/* What a resumed run must share with the run that wrote the checkpoint. */
static void fingerprint(const trainer *t, char *buf, size_t n)
{
    const cl_encoder_train_params *p = t->p;
    snprintf(buf, n,
             "examples=%d batch=%d max_pieces=%d epochs=%d lr=%g warmup=%g wd=%g seed=%" PRIu64
             " labels=%d",
             t->nex, p->batch, p->max_pieces, p->epochs, p->lr, p->warmup, p->weight_decay,
             p->seed, t->e->nlabels);
    size_t k = strlen(buf);
    if (p->pack && k < n) /* only when on: checkpoints from before packing still resume */
        snprintf(buf + k, n - k, " pack=1");
    k = strlen(buf);
    if (t->e->terms_text && k < n) { /* FNV-1a of the term list */
        uint64_t h = 1469598103934665603ull;
        for (const char *c = t->e->terms_text; *c; c++)
            h = (h ^ (uint8_t)*c) * 1099511628211ull;
        snprintf(buf + k, n - k, " terms=%016" PRIx64, h);
    }
}

typedef struct run_state {
    int32_t epoch;       /* 0-based epoch in progress */
    int32_t batch_done;  /* batches of it done */
    double best_f1;
    int32_t best_epoch;
    double epoch_loss_sum;
    int64_t epoch_loss_n;
} run_state;

static cl_status save_checkpoint(const trainer *t, const run_state *rs, const char *path,
                                 cl_error *err)
{
    char fp[512], ep[32], bd[32], gs[32], bf[32], be[32];
    fingerprint(t, fp, sizeof fp);
    snprintf(ep, sizeof ep, "%d", rs->epoch);
    snprintf(bd, sizeof bd, "%d", rs->batch_done);
    snprintf(gs, sizeof gs, "%" PRId64, t->global_step);
    snprintf(bf, sizeof bf, "%.17g", rs->best_f1);
    snprintf(be, sizeof be, "%d", rs->best_epoch);
    const char *extra[] = {"clinner.ckpt.fingerprint", fp, "clinner.ckpt.epoch", ep,
                           "clinner.ckpt.batch_done", bd, "clinner.ckpt.global_step", gs,
                           "clinner.ckpt.best_f1", bf, "clinner.ckpt.best_epoch", be, NULL};
    return cl__enc_save(t->e, path, CL_ENC_F32, extra, err);
}

static cl_status load_checkpoint(trainer *t, run_state *rs, const char *path, cl_error *err)
{
    cl_st_file *f;
    cl_status st = cl_st_open(path, &f, err);
    if (st != CL_OK)
        return cl_error_prefix(err, "resume: ");
    char fp[512];
    fingerprint(t, fp, sizeof fp);
    const char *ofp = cl_st_meta(f, "clinner.ckpt.fingerprint");
    const char *ep = cl_st_meta(f, "clinner.ckpt.epoch"), *bd = cl_st_meta(f, "clinner.ckpt.batch_done");
    const char *gs = cl_st_meta(f, "clinner.ckpt.global_step");
    const char *bf = cl_st_meta(f, "clinner.ckpt.best_f1"), *be = cl_st_meta(f, "clinner.ckpt.best_epoch");
    if (!ofp || !ep || !bd || !gs || !bf || !be)
        st = cl_error_set(err, CL_ERR_MODEL, "%s: not a training checkpoint", path);
    else if (strcmp(ofp, fp) != 0)
        st = cl_error_set(err, CL_ERR_ARG,
                          "resume: %s was written by a run with other settings (%s; this run: "
                          "%s)",
                          path, ofp, fp);
    if (st == CL_OK) {
        rs->epoch = atoi(ep);
        rs->batch_done = atoi(bd);
        t->global_step = strtoll(gs, NULL, 10);
        rs->best_f1 = strtod(bf, NULL);
        rs->best_epoch = atoi(be);
    }
    cl_st_free(f);
    if (st != CL_OK)
        return st;
    /* the weights: open the checkpoint as a model and copy its tensors over */
    cl_encoder *ck;
    if ((st = cl_encoder_open(path, &ck, err)) != CL_OK)
        return st;
    struct ggml_tensor *a = ggml_get_first_tensor(t->e->ctx), *b = ggml_get_first_tensor(ck->ctx);
    for (; a && b; a = ggml_get_next_tensor(t->e->ctx, a), b = ggml_get_next_tensor(ck->ctx, b))
        ggml_backend_tensor_copy(b, a);
    ggml_backend_tensor_copy(ck->cls_w, t->e->cls_w);
    ggml_backend_tensor_copy(ck->cls_b, t->e->cls_b);
    if (t->e->mark_w && ck->mark_w)
        ggml_backend_tensor_copy(ck->mark_w, t->e->mark_w);
    cl_encoder_free(ck);
    return CL_OK;
}

/* Bytes for the largest batch's forward + backward graph. */
static int64_t compute_estimate(trainer *t)
{
    batch_buf bb = {0};
    int32_t big = 0;
    int64_t most = -1;
    for (int32_t b = 0; b < t->nbatch; b++) { /* the batch with the most padded pieces */
        int32_t i1 = (b + 1) * t->p->batch < t->nex ? (b + 1) * t->p->batch : t->nex;
        int64_t padded = (int64_t)t->ex[t->order[i1 - 1]].n * (i1 - b * t->p->batch);
        if (padded > most) {
            most = padded;
            big = b;
        }
    }
    cl_error err;
    if (make_batch(t, big, &bb, &err) != CL_OK) {
        batch_free(&bb);
        return -1;
    }
    struct ggml_init_params ip = {compute_meta(), NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    ggml_gallocr_t ga = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
    int64_t bytes = -1;
    if (ctx && ga) {
        enc_graph_opts o = {.train_ops = true};
        enc_inputs in;
        struct ggml_tensor *logits = cl__enc_build(ctx, t->e, bb.T, bb.B, bb.ng, &o, &in);
        struct ggml_tensor *lab = ggml_dup_tensor(ctx, logits);
        ggml_set_input(lab);
        struct ggml_tensor *loss = ggml_cross_entropy_loss(ctx, logits, lab);
        ggml_set_loss(loss);
        ggml_set_output(loss);
        struct ggml_cgraph *gf = ggml_new_graph_custom(ctx, ENC_GRAPH_SIZE, true);
        ggml_build_forward_expand(gf, loss);
        struct ggml_cgraph *gb = ggml_graph_dup(ctx, gf, true);
        ggml_build_backward_expand(ctx, gb, NULL);
        if (ggml_gallocr_reserve(ga, gb))
            bytes = (int64_t)ggml_gallocr_get_buffer_size(ga, 0);
    }
    if (ga)
        ggml_gallocr_free(ga);
    if (ctx)
        ggml_free(ctx);
    batch_free(&bb);
    return bytes;
}

static int64_t param_bytes(const cl_encoder *e)
{
    return (int64_t)ggml_backend_buffer_get_size(e->buf) +
           (int64_t)ggml_backend_buffer_get_size(e->head_buf);
}

static void report(const trainer *t, const run_state *rs, bool train, double t0,
                   int64_t pieces, double dev, cl_enc_progress *pr)
{
    const cl_encoder_train_params *p = t->p;
    double el = cl_now() - t0;
    memset(pr, 0, sizeof *pr);
    pr->train = train;
    pr->epoch = rs->epoch + 1;
    pr->epochs = p->epochs;
    pr->step = t->global_step;
    pr->nsteps = t->total_steps;
    pr->loss = rs->epoch_loss_n ? rs->epoch_loss_sum / (double)rs->epoch_loss_n : 0;
    pr->lr = t->lr_now;
    pr->tokens_per_s = el > 0 ? (double)pieces / el : 0;
    pr->eta_s = t->session_steps > 0
                    ? el / (double)t->session_steps * (double)(t->total_steps - t->global_step)
                    : -1;
    pr->dev_f1 = dev;
    pr->best_dev_f1 = rs->best_f1;
    pr->best_epoch = rs->best_epoch;
    if (p->progress)
        p->progress(p->progress_ctx, pr);
}

static cl_status end_epoch(trainer *t, run_state *rs, const cl_corpus *dev, double t0,
                           int64_t pieces, cl_encoder_train_result *res, cl_error *err)
{
    const cl_encoder_train_params *p = t->p;
    double f1 = -1;
    cl_status st = CL_OK;
    if (dev) {
        if ((st = dev_f1(t, dev, &f1, err)) != CL_OK)
            return st;
        if (f1 > rs->best_f1) {
            rs->best_f1 = f1;
            rs->best_epoch = rs->epoch + 1;
            st = cl__enc_save(t->e, p->out_path, p->out_type, NULL, err);
        }
    } else {
        rs->best_epoch = rs->epoch + 1;
        st = cl__enc_save(t->e, p->out_path, p->out_type, NULL, err);
    }
    cl_enc_progress pr;
    report(t, rs, false, t0, pieces, f1, &pr);
    res->epochs_done = rs->epoch + 1;
    return st;
}

static cl_status run_epochs(trainer *t, ggml_opt_context_t opt, run_state *rs,
                            const cl_corpus *dev, const char *ckpt, cl_encoder_train_result *res,
                            cl_error *err)
{
    const cl_encoder_train_params *p = t->p;
    int32_t *perm = malloc((size_t)t->nbatch * sizeof *perm);
    batch_buf bb = {0};
    if (!perm)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = CL_OK;
    double t0 = cl_now();
    int64_t pieces = 0;
    for (; rs->epoch < p->epochs && st == CL_OK; rs->epoch++, rs->batch_done = 0) {
        epoch_order(perm, t->nbatch, p->seed, rs->epoch);
        rs->epoch_loss_sum = 0;
        rs->epoch_loss_n = 0;
        for (; rs->batch_done < t->nbatch && st == CL_OK; rs->batch_done++) {
            double loss = 0;
            if ((st = make_batch(t, perm[rs->batch_done], &bb, err)) != CL_OK ||
                (st = train_step(t, opt, &bb, &loss, err)) != CL_OK)
                break;
            t->global_step++;
            t->session_steps++;
            pieces += bb.pieces;
            rs->epoch_loss_sum += loss;
            rs->epoch_loss_n++;
            cl_enc_progress pr;
            report(t, rs, true, t0, pieces, -1, &pr);
            bool stop = p->stop && p->stop(p->stop_ctx);
            bool save = p->save_every > 0 && t->global_step % p->save_every == 0;
            if (stop || save) {
                run_state at = *rs;
                at.batch_done++;
                if ((st = save_checkpoint(t, &at, ckpt, err)) != CL_OK)
                    break;
            }
            if (stop) {
                res->stopped = true;
                rs->batch_done++;
                free(perm);
                batch_free(&bb);
                return CL_OK;
            }
        }
        if (st == CL_OK)
            st = end_epoch(t, rs, dev, t0, pieces, res, err);
        if (st == CL_OK) {
            run_state next = *rs;
            next.epoch++;
            next.batch_done = 0;
            st = save_checkpoint(t, &next, ckpt, err);
        }
    }
    res->train_pieces = 0;
    for (int32_t i = 0; i < t->nex; i++)
        res->train_pieces += t->ex[i].n;
    free(perm);
    batch_free(&bb);
    return st;
}

/* The term list of `--vocab`, for a new classifier over a base encoder. */
static cl_status read_terms(cl_encoder *e, const char *path, cl_error *err)
{
    if (e->labels)
        return cl_error_set(err, CL_ERR_ARG, "%s: a term list can be given only with a base "
                            "encoder, not a tagger (a tagger keeps its own)", path);
    char *text = NULL;
    size_t n;
    cl_status st = cl_read_file(path, &text, &n, err);
    if (st == CL_OK)
        st = cl__enc_set_terms(e, path, text, n, err);
    free(text);
    return st;
}

static cl_status prepare(trainer *t, const cl_corpus *train, cl_error *err)
{
    const cl_encoder_train_params *p = t->p;
    const char *const *types = p->types ? p->types : cl_paper_types;
    int32_t ntypes = p->types ? p->ntypes : CL_NUM_PAPER_TYPES;
    char **labels = calloc((size_t)(2 * ntypes + 2), sizeof *labels);
    cl_status st = labels ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        labels[0] = strdup("O");
    for (int32_t i = 0; i < ntypes && st == CL_OK; i++) {
        size_t n = strlen(types[i]) + 3;
        labels[1 + 2 * i] = malloc(n);
        labels[2 + 2 * i] = malloc(n);
        if (!labels[1 + 2 * i] || !labels[2 + 2 * i])
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        else {
            snprintf(labels[1 + 2 * i], n, "B-%s", types[i]);
            snprintf(labels[2 + 2 * i], n, "I-%s", types[i]);
        }
    }
    if (st == CL_OK && p->tokenizer) {
        free(t->e->tokenizer);
        if (!(t->e->tokenizer = strdup(p->tokenizer)))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (st == CL_OK && p->vocab_path)
        st = read_terms(t->e, p->vocab_path, err);
    /* a fine-tuned tagger with these labels as the base: train on from its
     * classifier; otherwise a new one */
    bool same = st == CL_OK && t->e->labels && t->e->nlabels == 2 * ntypes + 1;
    for (int32_t i = 0; same && i < t->e->nlabels; i++)
        same = !strcmp(t->e->labels[i], labels[i]);
    if (st == CL_OK && !same)
        st = cl__enc_new_head(t->e, (const char *const *)labels, 2 * ntypes + 1, p->seed, err);
    else if (same)
        cl_logf(p->log, p->log_ctx, "the base is a tagger with these labels: training on from its classifier");
    for (int32_t i = 0; labels && i < 2 * ntypes + 1; i++)
        free(labels[i]);
    free(labels);
    t->e->o_bias = 0;
    if (st == CL_OK)
        t->e->pack = p->pack ? p->max_pieces : 0;
    t->e->tanh_gelu = true;
    int32_t cap = 0;
    for (int32_t d = 0; d < train->ndocs && st == CL_OK; d++)
        st = add_examples(t, train->docs[d], &cap, err);
    if (st == CL_OK && t->nex == 0)
        st = cl_error_set(err, CL_ERR_ARG, "train: no sentences with words");
    if (st == CL_OK && !(t->order = malloc((size_t)t->nex * sizeof *t->order)))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st != CL_OK)
        return st;
    for (int32_t i = 0; i < t->nex; i++)
        t->order[i] = i;
    sort_by_length(t->order, t->nex, t->ex);
    t->nbatch = (t->nex + p->batch - 1) / p->batch;
    t->total_steps = (int64_t)t->nbatch * p->epochs;
    return CL_OK;
}

static cl_status check_params(const cl_encoder_train_params *p, cl_error *err)
{
    if (p->out_type < CL_ENC_F32 || p->out_type > CL_ENC_Q8_0)
        return cl_error_set(err, CL_ERR_ARG, "out_type: unknown weight type");
    if (!p->out_path)
        return cl_error_set(err, CL_ERR_ARG, "out_path is required");
    if (p->epochs < 1 || p->batch < 1 || p->max_pieces < 8 || p->threads < 1 || p->lr <= 0 ||
        p->warmup < 0 || p->warmup > 1 || p->weight_decay < 0 || p->weight_decay > 1)
        return cl_error_set(err, CL_ERR_ARG,
                            "epochs, batch, threads >= 1, max_pieces >= 8, lr > 0, warmup and "
                            "weight_decay in [0, 1]");
    return CL_OK;
}

cl_status cl_encoder_train(const cl_encoder_train_params *p, const cl_corpus *train,
                           const cl_corpus *dev, cl_encoder_train_result *res, cl_error *err)
{
    memset(res, 0, sizeof *res);
    res->best_dev_f1 = -1;
    cl_status st = check_params(p, err);
    if (st != CL_OK)
        return st;
    double t0 = cl_now();
    trainer t = {.p = p};
    run_state rs = {.best_f1 = -1};
    char *ckpt = malloc(strlen(p->out_path) + 8), *base = p->base ? NULL : cl_encoder_default_base();
    ggml_backend_t be = NULL;
    ggml_backend_sched_t sched = NULL;
    ggml_opt_context_t opt = NULL;
    if (!ckpt || (!p->base && !base)) {
        free(ckpt);
        free(base);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory (or no cache folder: set CLINNER_CACHE)");
    }
    sprintf(ckpt, "%s.ckpt", p->out_path);
    if ((st = cl_encoder_open(p->base ? p->base : base, &t.e, err)) == CL_OK)
        st = prepare(&t, train, err);
    if (st == CL_OK && p->resume)
        st = load_checkpoint(&t, &rs, ckpt, err);
    if (st == CL_OK) {
        set_params(t.e);
        if (p->resume)
            cl_logf(p->log, p->log_ctx, "resuming from %s: epoch %d, batch %d of %d, step %" PRId64, ckpt,
                    rs.epoch + 1, rs.batch_done, t.nbatch, t.global_step);
        int64_t pb = param_bytes(t.e), cb = compute_estimate(&t);
        res->mem_estimate = 4 * pb + (cb > 0 ? cb : 0);
        cl_logf(p->log, p->log_ctx,
                "%d sequences in %d batches a epoch, %" PRId64 " steps; memory estimate %.0f MB "
                "(weights %.0f MB x 4 for gradients and AdamW moments, compute %.0f MB)",
                t.nex, t.nbatch, t.total_steps, res->mem_estimate / 1048576.0, pb / 1048576.0,
                cb / 1048576.0);
        be = ggml_backend_cpu_init();
        if (be)
            ggml_backend_cpu_set_n_threads(be, p->threads);
        sched = be ? ggml_backend_sched_new(&be, NULL, 1, ENC_GRAPH_SIZE, false, false) : NULL;
        if (!sched)
            st = cl_error_set(err, CL_ERR_NOMEM, "cannot create the CPU backend");
    }
    if (st == CL_OK) {
        struct ggml_opt_params op = ggml_opt_default_params(sched, GGML_OPT_LOSS_TYPE_CROSS_ENTROPY);
        op.get_opt_pars = opt_pars;
        op.get_opt_pars_ud = &t;
        op.optimizer = GGML_OPT_OPTIMIZER_TYPE_ADAMW;
        if (!(opt = ggml_opt_init(op)))
            st = cl_error_set(err, CL_ERR_NOMEM, "cannot create the optimizer");
    }
    if (st == CL_OK)
        st = run_epochs(&t, opt, &rs, dev, ckpt, res, err);
    res->tuned_dev_f1 = -1;
    if (st == CL_OK && dev && !res->stopped && !p->no_o_bias) {
        double before;
        st = cl_encoder_tune_o_bias(p->out_path, dev, p->threads, p->out_path, p->out_type,
                                    &res->o_bias, &before, &res->tuned_dev_f1, err);
        if (st == CL_OK)
            cl_logf(p->log, p->log_ctx, "O offset tuned on dev: %.2f (dev F1 %.4f -> %.4f)", res->o_bias, before,
                    res->tuned_dev_f1);
    }
    res->best_epoch = rs.best_epoch;
    res->best_dev_f1 = dev ? rs.best_f1 : -1;
    res->steps = t.global_step;
    res->seconds = cl_now() - t0;
    if (opt)
        ggml_opt_free(opt);
    if (sched)
        ggml_backend_sched_free(sched);
    if (be)
        ggml_backend_free(be);
    for (int32_t i = 0; i < t.nex; i++) {
        free(t.ex[i].ids);
        free(t.ex[i].pos);
        free(t.ex[i].lab);
    }
    free(t.ex);
    free(t.order);
    cl_encoder_free(t.e);
    free(ckpt);
    free(base);
    return st;
}
