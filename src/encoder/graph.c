/*
 * graph.c - the BERT forward pass as a ggml graph, for a batch of B
 * sequences padded to T pieces: embeddings (word + position + type 0) and
 * LayerNorm, then per layer multi-head self-attention (padding keys masked
 * with -inf) + residual + LayerNorm and a GELU feed-forward + residual +
 * LayerNorm.  The output is either every piece's hidden state or, gathered at
 * the given positions (each word's first piece), the classifier's logits.
 * MPNet differs in three places: no token-type embedding, positions counted
 * from pad_token_id + 1, and a bias per head and bucket of relative distance
 * added to every layer's attention scores.
 *
 * ggml has no backward pass for GGML_OP_NORM or GELU, so for training the
 * graph writes LayerNorm as rms_norm(x - sum_rows(x)/n) * g + b (the same function)
 * and GELU in its tanh form through exp and softplus (within 1e-3 of the erf
 * form; a tagger trained with it is run with it).  Inference of a base model
 * uses ggml_norm and erf GELU.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/enc_internal.h"

struct ggml_tensor *cl__enc_layer_norm(struct ggml_context *ctx, struct ggml_tensor *x,
                                   struct ggml_tensor *g, struct ggml_tensor *b, float eps,
                                   bool train_ops)
{
    struct ggml_tensor *y;
    if (train_ops) {
        /* ggml_mean's backward handles a whole-tensor mean only: rows via sum_rows */
        struct ggml_tensor *mu = ggml_scale(ctx, ggml_sum_rows(ctx, x), 1.0f / (float)x->ne[0]);
        y = ggml_rms_norm(ctx, ggml_sub(ctx, x, ggml_repeat(ctx, mu, x)), eps);
    } else {
        y = ggml_norm(ctx, x, eps);
    }
    return ggml_add(ctx, ggml_mul(ctx, y, g), b);
}

/* GELU: erf form (BERT's own), or the tanh form written with ops that have
 * a backward pass: 0.5 x (1 + tanh(u)) = x sigmoid(2u) = x exp(-softplus(-2u)),
 * u = sqrt(2/pi) (x + 0.044715 x^3). */
struct ggml_tensor *cl__enc_gelu(struct ggml_context *ctx, struct ggml_tensor *x,
                             const enc_graph_opts *o)
{
    if (!o->train_ops && o->exact_gelu)
        return ggml_gelu_erf(ctx, x);
    const float c = 0.7978845608028654f; /* sqrt(2/pi) */
    struct ggml_tensor *x3 = ggml_mul(ctx, x, ggml_sqr(ctx, x));
    struct ggml_tensor *u2 = ggml_add(ctx, ggml_scale(ctx, x, -2.0f * c),
                                      ggml_scale(ctx, x3, -2.0f * c * 0.044715f)); /* -2u */
    struct ggml_tensor *sig = ggml_exp(ctx, ggml_scale(ctx, ggml_softplus(ctx, u2), -1.0f));
    return ggml_mul(ctx, x, sig);
}

static struct ggml_tensor *linear(struct ggml_context *ctx, struct ggml_tensor *w,
                                  struct ggml_tensor *b, struct ggml_tensor *x)
{
    return ggml_add(ctx, ggml_mul_mat(ctx, w, x), b);
}

static struct ggml_tensor *attention(struct ggml_context *ctx, const cl_encoder *e,
                                     const enc_layer *L, struct ggml_tensor *x,
                                     struct ggml_tensor *mask, struct ggml_tensor *pos_bias,
                                     int32_t T, int32_t B)
{
    const int64_t d = e->cfg.hidden, H = e->cfg.heads, dh = d / H;
    struct ggml_tensor *q = ggml_reshape_4d(ctx, linear(ctx, L->q_w, L->q_b, x), dh, H, T, B);
    struct ggml_tensor *k = ggml_reshape_4d(ctx, linear(ctx, L->k_w, L->k_b, x), dh, H, T, B);
    struct ggml_tensor *v = ggml_reshape_4d(ctx, linear(ctx, L->v_w, L->v_b, x), dh, H, T, B);
    q = ggml_cont(ctx, ggml_permute(ctx, q, 0, 2, 1, 3)); /* [dh, T, H, B] */
    k = ggml_cont(ctx, ggml_permute(ctx, k, 0, 2, 1, 3));
    v = ggml_cont(ctx, ggml_permute(ctx, v, 1, 2, 0, 3)); /* [T, dh, H, B] */
    struct ggml_tensor *kq = ggml_mul_mat(ctx, k, q);       /* [Tk, Tq, H, B] */
    kq = ggml_scale(ctx, kq, 1.0f / sqrtf((float)dh));
    if (pos_bias)
        kq = ggml_add(ctx, kq, pos_bias); /* [Tk, Tq, H] over the batch */
    kq = ggml_add(ctx, kq, mask);
    kq = ggml_soft_max(ctx, kq);
    struct ggml_tensor *kqv = ggml_mul_mat(ctx, v, kq);     /* [dh, Tq, H, B] */
    kqv = ggml_cont(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3)); /* [dh, H, Tq, B] */
    return linear(ctx, L->o_w, L->o_b, ggml_reshape_2d(ctx, kqv, d, (int64_t)T * B));
}

struct ggml_tensor *cl__enc_build(struct ggml_context *ctx, const cl_encoder *e, int32_t T,
                              int32_t B, int32_t ngather, const enc_graph_opts *o,
                              enc_inputs *in)
{
    const cl_encoder_config *c = &e->cfg;
    in->ids = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, (int64_t)T * B);
    in->pos = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, (int64_t)T * B);
    in->mask = ggml_new_tensor_4d(ctx, GGML_TYPE_F32, T, 1, 1, B);
    ggml_set_name(in->ids, "ids");
    ggml_set_name(in->pos, "pos");
    ggml_set_name(in->mask, "mask");
    ggml_set_input(in->ids);
    ggml_set_input(in->pos);
    ggml_set_input(in->mask);
    in->gather = NULL;
    in->rel = NULL;
    in->marks = NULL;

    struct ggml_tensor *x = ggml_add(ctx, ggml_get_rows(ctx, e->wemb, in->ids),
                                     ggml_get_rows(ctx, e->pemb, in->pos));
    if (e->mark_w) {
        in->marks = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, e->nmarks, (int64_t)T * B);
        ggml_set_name(in->marks, "marks");
        ggml_set_input(in->marks);
        x = ggml_add(ctx, x, ggml_mul_mat(ctx, e->mark_w, in->marks));
    }
    if (e->temb)
        x = ggml_add(ctx, x, ggml_view_1d(ctx, e->temb, c->hidden, 0));
    x = cl__enc_layer_norm(ctx, x, e->eln_g, e->eln_b, c->eps, o->train_ops);
    struct ggml_tensor *pos_bias = NULL;
    if (e->rel_bias) {
        /* one row of the bias table per (key, query) pair: [H, Tk*Tq] -> [Tk, Tq, H] */
        in->rel = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, (int64_t)T * T);
        ggml_set_name(in->rel, "rel");
        ggml_set_input(in->rel);
        pos_bias = ggml_reshape_3d(ctx, ggml_get_rows(ctx, e->rel_bias, in->rel), c->heads, T, T);
        pos_bias = ggml_cont(ctx, ggml_permute(ctx, pos_bias, 2, 0, 1, 3));
    }
    for (int l = 0; l < c->layers; l++) {
        const enc_layer *L = &e->layers[l];
        struct ggml_tensor *a = attention(ctx, e, L, x, in->mask, pos_bias, T, B);
        x = cl__enc_layer_norm(ctx, ggml_add(ctx, x, a), L->ln1_g, L->ln1_b, c->eps, o->train_ops);
        struct ggml_tensor *f = cl__enc_gelu(ctx, linear(ctx, L->ff1_w, L->ff1_b, x), o);
        f = linear(ctx, L->ff2_w, L->ff2_b, f);
        x = cl__enc_layer_norm(ctx, ggml_add(ctx, x, f), L->ln2_g, L->ln2_b, c->eps, o->train_ops);
    }
    if (ngather <= 0 || !e->cls_w)
        return x;
    in->gather = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, ngather);
    ggml_set_name(in->gather, "gather");
    ggml_set_input(in->gather);
    struct ggml_tensor *h = ggml_get_rows(ctx, x, in->gather); /* [d, n] */
    return linear(ctx, e->cls_w, e->cls_b, h);
}

int32_t cl__enc_max_len(const cl_encoder *e)
{
    const cl_encoder_config *c = &e->cfg;
    return c->arch == CL_ENC_ARCH_MPNET ? c->max_pos - c->pad_token_id - 1 : c->max_pos;
}

/* MPNet's bucket of a relative distance rel = key - query (Hugging Face's
 * MPNetEncoder.relative_position_bucket, max_distance 128): exact up to a
 * quarter of the buckets each way, then logarithmic; in float as there. */
static int32_t relative_bucket(int32_t rel, int32_t buckets)
{
    int32_t half = buckets / 2, exact = half / 2, n = -rel;
    int32_t b = n < 0 ? half : 0;
    n = abs(n);
    if (n < exact)
        return b + n;
    float lg = logf((float)n / (float)exact) / (float)log(128.0 / exact) * (float)(half - exact);
    int32_t large = exact + (int32_t)lg;
    return b + (large < half - 1 ? large : half - 1);
}

/* Tensors of a context with its own memory have no backend buffer. */
static void set_data(struct ggml_tensor *t, const void *src, size_t n)
{
    if (t->buffer)
        ggml_backend_tensor_set(t, src, 0, n);
    else
        memcpy(t->data, src, n);
}

cl_status cl__enc_set_inputs(const enc_inputs *in, const cl_encoder *e, int32_t T, int32_t B,
                         const int32_t *ids, const int32_t *lens, const int32_t *gather,
                         int32_t ngather, cl_error *err)
{
    size_t n = (size_t)T * (size_t)B;
    int32_t *pos = malloc(n * sizeof *pos), *pid = malloc(n * sizeof *pid);
    float *mask = malloc(n * sizeof *mask);
    float *marks = in->marks ? calloc(n * (size_t)e->nmarks, sizeof *marks) : NULL;
    if (!pos || !pid || !mask || (in->marks && !marks)) {
        free(pos);
        free(pid);
        free(mask);
        free(marks);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    const int32_t first_pos = e->cfg.arch == CL_ENC_ARCH_MPNET ? e->cfg.pad_token_id + 1 : 0;
    for (int32_t b = 0; b < B; b++)
        for (int32_t t = 0; t < T; t++) {
            size_t i = (size_t)b * (size_t)T + (size_t)t;
            pos[i] = first_pos + t;
            uint32_t id = t < lens[b] ? (uint32_t)ids[i] : (uint32_t)e->pad_id;
            pid[i] = (int32_t)(id & ENC_ID_MASK);
            mask[i] = t < lens[b] ? 0.0f : -INFINITY;
            for (int32_t m = 0; marks && m < e->nmarks; m++) /* B of category c = bit c, I = 8 + c */
                marks[i * (size_t)e->nmarks + (size_t)m] =
                    (float)(id >> (ENC_ID_BITS + (m & 1 ? CL_VOCAB_INSIDE : 0) + m / 2) & 1u);
        }
    set_data(in->ids, pid, n * sizeof *pid);
    set_data(in->pos, pos, n * sizeof *pos);
    set_data(in->mask, mask, n * sizeof *mask);
    if (marks)
        set_data(in->marks, marks, n * (size_t)e->nmarks * sizeof *marks);
    free(marks);
    if (in->gather && ngather > 0)
        set_data(in->gather, gather, (size_t)ngather * sizeof *gather);
    if (in->rel) { /* the same distances for every sequence of the batch */
        int32_t *rel = malloc((size_t)T * (size_t)T * sizeof *rel);
        if (!rel) {
            free(pos);
            free(pid);
            free(mask);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        for (int32_t q = 0; q < T; q++)
            for (int32_t k = 0; k < T; k++)
                rel[(size_t)q * (size_t)T + (size_t)k] = relative_bucket(k - q, e->cfg.rel_buckets);
        set_data(in->rel, rel, (size_t)T * (size_t)T * sizeof *rel);
        free(rel);
    }
    free(pos);
    free(pid);
    free(mask);
    return CL_OK;
}

#define ENC_GRAPH_NODES 4096

cl_status cl__enc_forward(const cl_encoder *e, int32_t T, int32_t B, const int32_t *ids,
                      const int32_t *lens, const int32_t *gather, int32_t ngather,
                      const enc_graph_opts *o, int32_t threads, float **out, cl_error *err)
{
    *out = NULL;
    if (T < 1 || B < 1 || T > cl__enc_max_len(e))
        return cl_error_set(err, CL_ERR_ARG, "sequence length %d outside 1..%d", T,
                            cl__enc_max_len(e));
    size_t meta = ENC_GRAPH_NODES * ggml_tensor_overhead() +
                  ggml_graph_overhead_custom(ENC_GRAPH_NODES, false);
    struct ggml_init_params ip = {meta, NULL, true};
    struct ggml_context *ctx = ggml_init(ip);
    ggml_backend_t be = ggml_backend_cpu_init();
    ggml_gallocr_t ga = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
    cl_status st = ctx && be && ga ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK) {
        enc_inputs in;
        struct ggml_tensor *y = cl__enc_build(ctx, e, T, B, ngather, o, &in);
        ggml_set_output(y);
        struct ggml_cgraph *gf = ggml_new_graph_custom(ctx, ENC_GRAPH_NODES, false);
        ggml_build_forward_expand(gf, y);
        if (!ggml_gallocr_alloc_graph(ga, gf))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory (encoder compute buffer)");
        if (st == CL_OK)
            st = cl__enc_set_inputs(&in, e, T, B, ids, lens, gather, ngather, err);
        ggml_backend_cpu_set_n_threads(be, threads > 0 ? threads : 1);
        if (st == CL_OK && ggml_backend_graph_compute(be, gf) != GGML_STATUS_SUCCESS)
            st = cl_error_set(err, CL_ERR_INTERNAL, "encoder: graph computation failed");
        if (st == CL_OK && !(*out = malloc(ggml_nbytes(y))))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        if (st == CL_OK)
            ggml_backend_tensor_get(y, *out, 0, ggml_nbytes(y));
    }
    if (ga)
        ggml_gallocr_free(ga);
    if (be)
        ggml_backend_free(be);
    if (ctx)
        ggml_free(ctx);
    return st;
}

cl_status cl_encoder_hidden(const cl_encoder *e, const int32_t *ids, int32_t n, bool exact_gelu,
                            int32_t threads, float *out, cl_error *err)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= e->cfg.vocab)
            return cl_error_set(err, CL_ERR_ARG, "ids[%d] = %d outside the vocabulary", i,
                                ids[i]);
    enc_graph_opts o = {.train_ops = false, .exact_gelu = exact_gelu};
    float *h;
    cl_status st = cl__enc_forward(e, n, 1, ids, &n, NULL, 0, &o, threads, &h, err);
    if (st == CL_OK) {
        memcpy(out, h, (size_t)n * (size_t)e->cfg.hidden * sizeof *out);
        free(h);
    }
    return st;
}
