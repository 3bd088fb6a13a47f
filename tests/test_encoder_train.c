/*
 * test_encoder_train.c - the encoder trainer on a tiny random BERT written
 * here (2 layers x 32, a 30-piece vocabulary; an MPNet of the same size for
 * the gradient and the toy task):
 *   - finite-difference gradients of the ops the graph writes for training
 *     (LayerNorm as rms_norm of the centred input, GELU in tanh form through
 *     exp/softplus) and of the whole model's loss (masked attention over a
 *     padded batch, gathered first pieces, cross-entropy) w.r.t. weights;
 *   - the tiny model learns a toy tagging task (dev F1 > 0.9) and tags it
 *     with valid BIO;
 *   - the same seed and thread count give the same model, byte for byte;
 *   - a run stopped mid-epoch and resumed finishes with a model that tags.
 * The toy task: sentences of filler words, disease names (one split into
 * two pieces) and optionally "mild"/"severe" + symptom, all hand-chosen.
 */
#include "testutil.h"

#if CL_HAVE_LLAMA
#include <math.h>

#include "clinner/encoder.h"
#include "clinner/util.h"
#include "encoder/enc_internal.h"

static const char *const VOCAB[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "the",    "patient",
                                    "had",   "and",   "with",  "a",     "mild",   "severe",
                                    "fab",   "##ry",  "gaucher", "pompe", "pain", "fever",
                                    "rash",  ".",     "was",   "seen",  "today", "for",
                                    "of",    "signs", "no",    "é",     "##s",   "ok"};
#define NVOCAB ((int)(sizeof VOCAB / sizeof VOCAB[0]))

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static float rng_normal(uint64_t *s)
{
    double u1 = ((double)(rng_next(s) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(rng_next(s) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* MPNet frames with these; its vocabulary starts with them */
static const char *const MPNET_SPECIALS[] = {"<s>", "<pad>", "</s>", "<unk>"};

/* A random tiny BERT, or MPNet, in dir (config.json, vocab.txt,
 * model.safetensors). */
static void write_tiny_model(const char *dir, bool mpnet)
{
    const int d = 32, ffn = 64, layers = 2, maxpos = mpnet ? 66 : 64, nvocab = NVOCAB + (mpnet ? 4 : 0);
    char path[512], buf[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(buf, sizeof buf,
             "{\"hidden_act\": \"gelu\", \"hidden_size\": %d, \"intermediate_size\": %d, "
             "\"num_attention_heads\": 4, \"num_hidden_layers\": %d, "
             "\"max_position_embeddings\": %d, \"vocab_size\": %d, \"type_vocab_size\": 2, "
             "\"layer_norm_eps\": 1e-12%s}",
             d, ffn, layers, maxpos, nvocab,
             mpnet ? ", \"model_type\": \"mpnet\", \"pad_token_id\": 1, "
                     "\"relative_attention_num_buckets\": 32"
                   : "");
    write_text(path, buf);
    cl_buf v;
    cl_buf_init(&v);
    for (int i = 0; mpnet && i < 4; i++)
        cl_buf_printf(&v, "%s\n", MPNET_SPECIALS[i]);
    for (int i = 0; i < NVOCAB; i++)
        cl_buf_printf(&v, "%s\n", VOCAB[i]);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    write_text(path, v.data);
    cl_buf_free(&v);

    cl_st_writer *w = NULL;
    cl_error err;
    assert_int_equal(cl_st_writer_new(&w, &err), CL_OK);
    uint64_t seed = 12345;
    float *bufs[64];
    int nb = 0;
#define ADD(name, rows, cols, kind)                                                       \
    do {                                                                                  \
        int64_t sh[2] = {(rows), (cols)};                                                 \
        size_t cnt_ = (size_t)(rows) * (size_t)(cols);                                    \
        float *x = bufs[nb++] = malloc(cnt_ * sizeof *x);                                  \
        for (size_t i = 0; i < cnt_; i++)                                                  \
            x[i] = (kind) == 0 ? 0.2f * rng_normal(&seed) : (kind) == 1 ? 1.0f : 0.0f;  \
        if ((rows) == 1)                                                                  \
            assert_int_equal(cl_st_writer_add(w, name, "F32", 1, sh + 1, x, cnt_ * 4, &err), \
                             CL_OK);                                                      \
        else                                                                              \
            assert_int_equal(cl_st_writer_add(w, name, "F32", 2, sh, x, cnt_ * 4, &err),     \
                             CL_OK);                                                      \
    } while (0)
    ADD("embeddings.word_embeddings.weight", nvocab, d, 0);
    ADD("embeddings.position_embeddings.weight", maxpos, d, 0);
    if (mpnet)
        ADD("encoder.relative_attention_bias.weight", 32, 4, 0);
    else
        ADD("embeddings.token_type_embeddings.weight", 2, d, 0);
    ADD("embeddings.LayerNorm.weight", 1, d, 1);
    ADD("embeddings.LayerNorm.bias", 1, d, 2);
    for (int l = 0; l < layers; l++) {
        char lname[128];
#define LN(suffix, r, c, k)                                          \
    snprintf(lname, sizeof lname, "encoder.layer.%d.%s", l, suffix);       \
    ADD(lname, r, c, k)
        LN(mpnet ? "attention.attn.q.weight" : "attention.self.query.weight", d, d, 0);
        LN(mpnet ? "attention.attn.q.bias" : "attention.self.query.bias", 1, d, 0);
        LN(mpnet ? "attention.attn.k.weight" : "attention.self.key.weight", d, d, 0);
        LN(mpnet ? "attention.attn.k.bias" : "attention.self.key.bias", 1, d, 0);
        LN(mpnet ? "attention.attn.v.weight" : "attention.self.value.weight", d, d, 0);
        LN(mpnet ? "attention.attn.v.bias" : "attention.self.value.bias", 1, d, 0);
        LN(mpnet ? "attention.attn.o.weight" : "attention.output.dense.weight", d, d, 0);
        LN(mpnet ? "attention.attn.o.bias" : "attention.output.dense.bias", 1, d, 0);
        LN(mpnet ? "attention.LayerNorm.weight" : "attention.output.LayerNorm.weight", 1, d, 1);
        LN(mpnet ? "attention.LayerNorm.bias" : "attention.output.LayerNorm.bias", 1, d, 2);
        LN("intermediate.dense.weight", ffn, d, 0);
        LN("intermediate.dense.bias", 1, ffn, 0);
        LN("output.dense.weight", d, ffn, 0);
        LN("output.dense.bias", 1, d, 0);
        LN("output.LayerNorm.weight", 1, d, 1);
        LN("output.LayerNorm.bias", 1, d, 2);
#undef LN
    }
#undef ADD
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(cl_st_write(w, path, &err), CL_OK);
    cl_st_writer_free(w);
    for (int i = 0; i < nb; i++)
        free(bufs[i]);
}

/* ---- finite differences ---- */

typedef struct fd_case {
    struct ggml_context *ctx;
    struct ggml_tensor *loss;
    struct ggml_cgraph *gf, *gb;
} fd_case;

static void fd_prepare(fd_case *c)
{
    ggml_set_loss(c->loss);
    c->gf = ggml_new_graph_custom(c->ctx, 8192, true);
    ggml_build_forward_expand(c->gf, c->loss);
    c->gb = ggml_graph_dup(c->ctx, c->gf, true);
    ggml_build_backward_expand(c->ctx, c->gb, NULL);
    ggml_graph_reset(c->gb);
    assert_int_equal(ggml_graph_compute_with_ctx(c->ctx, c->gb, 1), GGML_STATUS_SUCCESS);
}

static double fd_loss(fd_case *c)
{
    assert_int_equal(ggml_graph_compute_with_ctx(c->ctx, c->gf, 1), GGML_STATUS_SUCCESS);
    return (double)ggml_get_f32_1d(c->loss, 0);
}

/* Compare the analytic gradient of param p (host memory) at k entries with
 * central differences; returns the worst relative error. */
static double fd_check(fd_case *c, struct ggml_tensor *p, int k, uint64_t *seed, double h)
{
    struct ggml_tensor *g = ggml_graph_get_grad(c->gb, p);
    assert_non_null(g);
    float *x = p->data;
    int64_t n = ggml_nelements(p);
    double worst = 0;
    for (int j = 0; j < k; j++) {
        int64_t i = (int64_t)(rng_next(seed) % (uint64_t)n);
        float orig = x[i];
        x[i] = orig + (float)h;
        double lp = fd_loss(c);
        x[i] = orig - (float)h;
        double lm = fd_loss(c);
        x[i] = orig;
        double num = (lp - lm) / (2 * h), ana = ((float *)g->data)[i];
        double rel = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 1e-2);
        worst = fmax(worst, rel);
    }
    return worst;
}

static struct ggml_tensor *rand_tensor(struct ggml_context *ctx, int64_t a, int64_t b,
                                       uint64_t *seed, float scale, float offset)
{
    struct ggml_tensor *t = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, a, b);
    for (int64_t i = 0; i < a * b; i++)
        ((float *)t->data)[i] = offset + scale * rng_normal(seed);
    return t;
}

static void test_grad_layer_norm_and_gelu(void **state)
{
    (void)state;
    uint64_t seed = 99;
    struct ggml_init_params ip = {64 << 20, NULL, false};
    fd_case c = {.ctx = ggml_init(ip)};
    struct ggml_tensor *x = rand_tensor(c.ctx, 16, 5, &seed, 1.5f, 0.3f);
    struct ggml_tensor *g = rand_tensor(c.ctx, 16, 1, &seed, 0.3f, 1.0f);
    struct ggml_tensor *b = rand_tensor(c.ctx, 16, 1, &seed, 0.3f, 0.0f);
    ggml_set_param(x);
    ggml_set_param(g);
    ggml_set_param(b);
    enc_graph_opts o = {.train_ops = true};
    struct ggml_tensor *y = cl__enc_layer_norm(c.ctx, x, g, b, 1e-12f, true);
    y = cl__enc_gelu(c.ctx, ggml_scale(c.ctx, y, 2.0f), &o); /* reach GELU's curved range */
    struct ggml_tensor *r = rand_tensor(c.ctx, 16, 5, &seed, 1.0f, 0.0f);
    c.loss = ggml_sum(c.ctx, ggml_mul(c.ctx, y, r));
    fd_prepare(&c);
    double wx = fd_check(&c, x, 40, &seed, 1e-2), wg = fd_check(&c, g, 16, &seed, 1e-2),
           wb = fd_check(&c, b, 16, &seed, 1e-2);
    fprintf(stderr, "LayerNorm+GELU: worst relative gradient error x %.2g, g %.2g, b %.2g\n",
            wx, wg, wb);
    assert_true(wx < 0.03 && wg < 0.03 && wb < 0.03);
    ggml_free(c.ctx);
}

static char tmpdir_buf[256], mpnet_buf[300];

/* The scratch folder, with the tiny BERT; its mpnet/ holds the tiny MPNet. */
static const char *tmpdir(void)
{
    if (!tmpdir_buf[0]) {
        strcpy(tmpdir_buf, "/tmp/clinner-enc-XXXXXX");
        assert_non_null(mkdtemp(tmpdir_buf));
        write_tiny_model(tmpdir_buf, false);
        snprintf(mpnet_buf, sizeof mpnet_buf, "%s/mpnet", tmpdir_buf);
        assert_int_equal(mkdir(mpnet_buf, 0755), 0);
        write_tiny_model(mpnet_buf, true);
    }
    return tmpdir_buf;
}

static const char *mpnet_dir(void)
{
    tmpdir();
    return mpnet_buf;
}

static void grad_whole_model(const char *dir)
{
    cl_error err;
    cl_encoder *e;
    assert_int_equal(cl_encoder_open(dir, &e, &err), CL_OK);
    const char *labels[] = {"O", "B-X", "I-X"};
    assert_int_equal(cl__enc_new_head(e, labels, 3, 7, &err), CL_OK);
    uint64_t seed = 5;
    struct ggml_init_params ip = {256 << 20, NULL, false};
    fd_case c = {.ctx = ggml_init(ip)};
    for (struct ggml_tensor *x = ggml_get_first_tensor(e->ctx); x;
         x = ggml_get_next_tensor(e->ctx, x))
        ggml_set_param(x);
    ggml_set_param(e->cls_w);
    ggml_set_param(e->cls_b);
    /* two sequences, 7 and 5 pieces, padded to 7 */
    const int32_t T = 7, B = 2, ids[] = {2, 4, 5, 12, 13, 19, 3, 2, 16, 7, 17, 3, 0, 0};
    const int32_t lens[] = {7, 5}, gather[] = {1, 2, 3, 5, 8, 9, 10};
    enc_graph_opts o = {.train_ops = true};
    enc_inputs in;
    struct ggml_tensor *logits = cl__enc_build(c.ctx, e, T, B, 7, &o, &in);
    assert_int_equal(cl__enc_set_inputs(&in, e, T, B, ids, lens, gather, 7, &err), CL_OK);
    struct ggml_tensor *lab = ggml_new_tensor_2d(c.ctx, GGML_TYPE_F32, 3, 7);
    const int gold[] = {0, 0, 1, 0, 1, 2, 0};
    memset(lab->data, 0, ggml_nbytes(lab));
    for (int i = 0; i < 7; i++)
        ((float *)lab->data)[i * 3 + gold[i]] = 1.0f;
    c.loss = ggml_cross_entropy_loss(c.ctx, logits, lab);
    fd_prepare(&c);
    struct ggml_tensor *ps[] = {e->layers[0].q_w, e->layers[0].k_b, e->layers[1].v_w,
                                e->layers[0].ln1_g, e->layers[1].ff1_w, e->layers[1].ln2_b,
                                e->eln_g, e->cls_w, e->cls_b, e->pemb, e->rel_bias};
    double worst = 0;
    for (size_t i = 0; i < sizeof ps / sizeof ps[0] && ps[i]; i++) {
        double w = fd_check(&c, ps[i], 8, &seed, 5e-3);
        fprintf(stderr, "whole model: %-45s worst relative error %.2g\n", ps[i]->name, w);
        worst = fmax(worst, w);
    }
    /* the padded key positions get no gradient through the mask: the
     * padding id's embedding row stays out of the loss */
    assert_true(worst < 0.05);
    ggml_free(c.ctx);
    cl_encoder_free(e);
}

static void test_grad_whole_model(void **state)
{
    (void)state;
    grad_whole_model(tmpdir());
}

/* MPNet's graph: its relative-distance bias table gets the right gradient */
static void test_grad_whole_model_mpnet(void **state)
{
    (void)state;
    grad_whole_model(mpnet_dir());
}

/* ---- toy tagging task ---- */

static cl_doc *toy_doc(int id, int nsent, uint64_t *seed)
{
    static const char *const fill[] = {"the", "patient", "had", "and", "with", "a",
                                       "was", "seen", "today", "for", "of", "no"};
    static const char *const dis[] = {"fabry", "gaucher", "pompe"};
    static const char *const sym[] = {"pain", "fever", "rash"};
    cl_buf text;
    cl_buf_init(&text);
    typedef struct {
        int32_t s, e;
        const char *tag;
    } tk;
    tk toks[2048];
    int nt = 0, sent_start[256], sent_end[256];
    for (int s = 0; s < nsent; s++) {
        sent_start[s] = nt;
        int len = 4 + (int)(rng_next(seed) % 8);
        for (int w = 0; w < len; w++) {
            uint64_t r = rng_next(seed) % 10;
            const char *words[2];
            const char *tags[2];
            int nw = 1;
            if (r < 2) {
                words[0] = dis[rng_next(seed) % 3];
                tags[0] = "B-RAREDISEASE";
            } else if (r < 3) {
                words[0] = rng_next(seed) % 2 ? "mild" : "severe";
                words[1] = sym[rng_next(seed) % 3];
                tags[0] = "B-SIGN";
                tags[1] = "I-SIGN";
                nw = 2;
            } else if (r < 4) {
                words[0] = sym[rng_next(seed) % 3];
                tags[0] = "B-SIGN";
            } else {
                words[0] = fill[rng_next(seed) % 12];
                tags[0] = "O";
            }
            for (int k = 0; k < nw; k++) {
                if (text.len)
                    cl_buf_putc(&text, ' ');
                toks[nt].s = (int32_t)text.len; /* ASCII: bytes = code points */
                cl_buf_puts(&text, words[k]);
                toks[nt].e = (int32_t)text.len;
                toks[nt++].tag = tags[k];
            }
        }
        cl_buf_puts(&text, " .");
        toks[nt].s = (int32_t)text.len - 1;
        toks[nt].e = (int32_t)text.len;
        toks[nt++].tag = "O";
        sent_end[s] = nt;
    }
    char name[32];
    snprintf(name, sizeof name, "toy%d", id);
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(name, text.data, text.len, &d, &err), CL_OK);
    for (int i = 0; i < nt; i++)
        assert_int_equal(cl_doc_push_token(d, toks[i].s, toks[i].e, &err), CL_OK);
    for (int s = 0; s < nsent; s++)
        assert_int_equal(cl_doc_push_sentence(d, sent_start[s], sent_end[s], &err), CL_OK);
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    for (int i = 0; i < nt; i++)
        assert_int_equal(cl_doc_set_tag(d, i, toks[i].tag, &err), CL_OK);
    cl_buf_free(&text);
    return d;
}

static cl_corpus *toy_corpus(int ndocs, uint64_t seed)
{
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    for (int i = 0; i < ndocs; i++)
        assert_int_equal(cl_corpus_add(c, toy_doc(i, 10, &seed), &err), CL_OK);
    return c;
}

static const char *const toy_types[] = {"RAREDISEASE", "SIGN"};

static cl_encoder_train_params toy_params(const char *out)
{
    cl_encoder_train_params p = cl_encoder_train_default_params();
    p.base = tmpdir();
    p.out_path = out;
    p.types = toy_types;
    p.ntypes = 2;
    p.epochs = 12;
    p.batch = 8;
    p.lr = 5e-3;
    p.warmup = 0.1;
    p.threads = 2;
    p.save_every = 0;
    p.tokenizer = "clinical";
    return p;
}

/* Train with p; a failure fails the test with the trainer's message. */
static cl_encoder_train_result train_ok(const cl_encoder_train_params *p, const cl_corpus *train,
                                        const cl_corpus *dev)
{
    cl_encoder_train_result r;
    cl_error err;
    if (cl_encoder_train(p, train, dev, &r, &err) != CL_OK)
        fail_msg("%s", err.msg);
    return r;
}

/* A copy of gold's text, tokens and sentences (no tags), tagged by tg. */
static cl_doc *tagged_copy(cl_tagger *tg, const cl_doc *g)
{
    cl_error err;
    cl_doc *x;
    assert_int_equal(cl_doc_new(g->id, g->text, g->text_bytes, &x, &err), CL_OK);
    for (int32_t i = 0; i < g->ntokens; i++)
        assert_int_equal(cl_doc_push_token(x, g->tokens[i].start, g->tokens[i].end, &err), CL_OK);
    for (int32_t s = 0; s < g->nsentences; s++)
        assert_int_equal(
            cl_doc_push_sentence(x, g->sentences[s].tok_begin, g->sentences[s].tok_end, &err),
            CL_OK);
    assert_int_equal(cl_tagger_tag_doc(tg, x, &err), CL_OK);
    return x;
}

/* Tag every doc of c with the model at path; fraction of tokens (with
 * entities_only, of the gold entities' tokens) whose tag is the gold one,
 * and check every sequence is valid BIO with confidences in (0, 1]. */
static double tagged_right(const char *path, const cl_corpus *gold, bool entities_only)
{
    cl_error err;
    cl_tagger tg;
    if (cl_encoder_tagger_open(path, 2, &tg, &err) != CL_OK)
        fail_msg("%s", err.msg);
    int64_t right = 0, all = 0;
    for (int32_t d = 0; d < gold->ndocs; d++) {
        cl_doc *g = gold->docs[d];
        cl_doc *x = tagged_copy(&tg, g);
        for (int32_t s = 0; s < x->nsentences; s++)
            for (int32_t i = x->sentences[s].tok_begin; i < x->sentences[s].tok_end; i++) {
                const char *t = x->tags[i];
                if (!strncmp(t, "I-", 2)) { /* valid BIO: follows B-/I- of its type */
                    assert_true(i > x->sentences[s].tok_begin);
                    assert_string_equal(x->tags[i - 1] + 2, t + 2);
                }
                assert_true(x->tag_conf[i] > 0 && x->tag_conf[i] <= 1.0f);
                if (entities_only && !strcmp(g->tags[i], "O"))
                    continue;
                right += !strcmp(t, g->tags[i]);
                all++;
            }
        cl_doc_free(x);
    }
    cl_tagger_free(&tg);
    assert_true(all > 0); /* a gold set with nothing to score proves nothing */
    return (double)right / (double)all;
}

static double tag_accuracy(const char *path, const cl_corpus *gold)
{
    return tagged_right(path, gold, false);
}

/* Fraction of the gold entities' tokens tagged right by the model at path. */
static double entity_accuracy(const char *path, const cl_corpus *gold)
{
    return tagged_right(path, gold, true);
}

/* Weight averaging: a model averaged with itself is the same file; two runs
 * average into a model that still tags; quantized inputs are refused. */
static void check_average(const char *a, const char *b, const char *q8, const cl_corpus *dev)
{
    cl_error err;
    char same[600], mean[600];
    snprintf(same, sizeof same, "%s.same", a);
    snprintf(mean, sizeof mean, "%s.mean", a);
    const char *aa[] = {a, a}, *ab[] = {a, b}, *aq[] = {a, q8};
    assert_int_equal(cl_encoder_average(aa, 2, same, CL_ENC_F32, &err), CL_OK);
    char *x, *y;
    size_t nx, ny;
    assert_int_equal(cl_read_file(a, &x, &nx, &err), CL_OK);
    assert_int_equal(cl_read_file(same, &y, &ny, &err), CL_OK);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(y);
    assert_int_equal(cl_encoder_average(ab, 2, mean, CL_ENC_F32, &err), CL_OK);
    assert_int_equal(cl_read_file(mean, &y, &ny, &err), CL_OK);
    assert_int_equal(nx, ny);
    assert_true(memcmp(x, y, nx) != 0);
    free(x);
    free(y);
    double acc = tag_accuracy(mean, dev);
    fprintf(stderr, "toy task: the mean of two models, token accuracy %.4f\n", acc);
    assert_true(acc > 0.95);
    assert_int_equal(cl_encoder_average(aq, 2, same, CL_ENC_F32, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "quantized"));
}

static void test_toy_task_learns(void **state)
{
    (void)state;
    cl_corpus *train = toy_corpus(12, 1), *dev = toy_corpus(4, 2);
    char out[512], out2[512];
    snprintf(out, sizeof out, "%s/toy.model", tmpdir());
    snprintf(out2, sizeof out2, "%s/toy2.model", tmpdir());
    cl_encoder_train_params p = toy_params(out);
    cl_encoder_train_result r = train_ok(&p, train, dev);
    cl_error err;
    fprintf(stderr, "toy task: best dev F1 %.4f at epoch %d of %d, %lld steps, %.1f s\n",
            r.best_dev_f1, r.best_epoch, r.epochs_done, (long long)r.steps, r.seconds);
    assert_true(r.best_dev_f1 > 0.9);
    /* O's offset is tuned on dev after training: never worse there */
    fprintf(stderr, "toy task: O offset %.2f, dev F1 %.4f\n", r.o_bias, r.tuned_dev_f1);
    assert_true(r.tuned_dev_f1 >= r.best_dev_f1 - 1e-9);
    double acc = tag_accuracy(out, dev);
    fprintf(stderr, "toy task: dev token accuracy of the saved model %.4f\n", acc);
    assert_true(acc > 0.95);
    /* F16 and Q8_0 copies: smaller, and tag (nearly) as well */
    const char *types[] = {"f16", "q8_0"};
    struct stat s32, sq;
    assert_int_equal(stat(out, &s32), 0);
    for (int i = 0; i < 2; i++) {
        char conv[600];
        cl_enc_wtype wt;
        snprintf(conv, sizeof conv, "%s.%s", out, types[i]);
        assert_int_equal(cl_enc_wtype_from_name(types[i], &wt, &err), CL_OK);
        assert_int_equal(cl_encoder_convert(out, conv, wt, &err), CL_OK);
        assert_int_equal(stat(conv, &sq), 0);
        double qa = tag_accuracy(conv, dev);
        fprintf(stderr, "toy task: %s model %lld bytes (F32 %lld), token accuracy %.4f\n",
                types[i], (long long)sq.st_size, (long long)s32.st_size, qa);
        assert_true(sq.st_size < s32.st_size);
        assert_true(qa > acc - 0.02);
    }
    /* a Q8_0 model cannot be turned back into F32 */
    char back[600];
    snprintf(back, sizeof back, "%s.back", out);
    char q8[600];
    snprintf(q8, sizeof q8, "%s.q8_0", out);
    assert_int_equal(cl_encoder_convert(q8, back, CL_ENC_F32, &err), CL_ERR_ARG);
    /* training on from the tagger keeps its classifier: good from the first epoch */
    char more[600];
    snprintf(more, sizeof more, "%s.more", out);
    cl_encoder_train_params pm = toy_params(more);
    pm.base = out;
    pm.epochs = 1;
    pm.lr = 1e-4;
    assert_int_equal(cl_encoder_train(&pm, train, dev, &r, &err), CL_OK);
    fprintf(stderr, "toy task: one more epoch from the tagger: dev F1 %.4f\n", r.best_dev_f1);
    assert_true(r.best_dev_f1 > 0.85);
    check_average(out, more, q8, dev);
    /* the same seed and threads: the same model, byte for byte */
    p.out_path = out2;
    assert_int_equal(cl_encoder_train(&p, train, dev, &r, &err), CL_OK);
    char *a, *b;
    size_t na, nb;
    assert_int_equal(cl_read_file(out, &a, &na, &err), CL_OK);
    assert_int_equal(cl_read_file(out2, &b, &nb, &err), CL_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    free(a);
    free(b);
    cl_corpus_free(train);
    cl_corpus_free(dev);
}

static bool stop_after(void *ctx)
{
    int *n = ctx;
    return --*n <= 0;
}

/* The tiny MPNet learns the toy task too, and its saved tagger (MPNet's
 * config in the file's metadata) opens and tags. */
static void test_toy_task_learns_mpnet(void **state)
{
    (void)state;
    cl_corpus *train = toy_corpus(12, 1), *dev = toy_corpus(4, 2);
    char out[512];
    snprintf(out, sizeof out, "%s/toy-mpnet.model", tmpdir());
    cl_encoder_train_params p = toy_params(out);
    p.base = mpnet_dir();
    cl_encoder_train_result r = train_ok(&p, train, dev);
    cl_error err;
    fprintf(stderr, "toy task, MPNet: best dev F1 %.4f at epoch %d, %.1f s\n", r.best_dev_f1,
            r.best_epoch, r.seconds);
    assert_true(r.best_dev_f1 > 0.9);
    cl_encoder *e;
    assert_int_equal(cl_encoder_open(out, &e, &err), CL_OK);
    assert_int_equal(cl_encoder_get_config(e)->arch, CL_ENC_ARCH_MPNET);
    assert_int_equal(cl_encoder_get_config(e)->rel_buckets, 32);
    cl_encoder_free(e);
    double acc = tag_accuracy(out, dev);
    fprintf(stderr, "toy task, MPNet: dev token accuracy of the saved model %.4f\n", acc);
    assert_true(acc > 0.95);
    cl_corpus_free(train);
    cl_corpus_free(dev);
}

static void test_stop_and_resume(void **state)
{
    (void)state;
    cl_corpus *train = toy_corpus(12, 1), *dev = toy_corpus(4, 2);
    char out[512], ckpt[600];
    snprintf(out, sizeof out, "%s/resumed.model", tmpdir());
    snprintf(ckpt, sizeof ckpt, "%s.ckpt", out);
    cl_encoder_train_params p = toy_params(out);
    int left = 20; /* mid-way through the second epoch (15 batches an epoch) */
    p.stop = stop_after;
    p.stop_ctx = &left;
    cl_encoder_train_result r;
    cl_error err;
    assert_int_equal(cl_encoder_train(&p, train, dev, &r, &err), CL_OK);
    assert_true(r.stopped);
    assert_int_equal(r.steps, 20);
    struct stat st;
    assert_int_equal(stat(ckpt, &st), 0);
    /* a resumed run with other settings is refused */
    p.stop = NULL;
    p.resume = true;
    p.batch = 4;
    assert_int_equal(cl_encoder_train(&p, train, dev, &r, &err), CL_ERR_ARG);
    p.batch = 8;
    assert_int_equal(cl_encoder_train(&p, train, dev, &r, &err), CL_OK);
    assert_false(r.stopped);
    assert_int_equal(r.epochs_done, 12);
    assert_int_equal(r.steps, 12 * 15);
    double acc = tag_accuracy(out, dev);
    fprintf(stderr, "resumed: best dev F1 %.4f, token accuracy %.4f\n", r.best_dev_f1, acc);
    assert_true(acc > 0.9);
    cl_corpus_free(train);
    cl_corpus_free(dev);
}

/* A doc of space-separated words, one sentence per '|'-separated group
 * ("the patient . | fabry ."), tags all O. */
static cl_doc *words_doc(const char *id, const char *spec)
{
    cl_error err;
    cl_buf text;
    cl_buf_init(&text);
    int32_t starts[512], ends[512], sent_end[64], nt = 0, ns = 0;
    char *copy = strdup(spec), *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (!strcmp(w, "|")) {
            sent_end[ns++] = nt;
            continue;
        }
        if (text.len)
            cl_buf_putc(&text, ' ');
        starts[nt] = (int32_t)text.len;
        cl_buf_puts(&text, w);
        ends[nt++] = (int32_t)text.len;
    }
    sent_end[ns++] = nt;
    free(copy);
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text.data, text.len, &d, &err), CL_OK);
    for (int32_t i = 0; i < nt; i++)
        assert_int_equal(cl_doc_push_token(d, starts[i], ends[i], &err), CL_OK);
    for (int32_t s = 0, b = 0; s < ns; b = sent_end[s++])
        assert_int_equal(cl_doc_push_sentence(d, b, sent_end[s], &err), CL_OK);
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    cl_buf_free(&text);
    return d;
}

/* Sequences of a doc, one sentence each or packed: packing joins whole
 * sentences while they fit, cuts a sentence too long for one sequence at
 * word boundaries as before, and every word's first piece is where it says. */
static void test_pieces_packing(void **state)
{
    (void)state;
    cl_error err;
    cl_encoder *e;
    assert_int_equal(cl_encoder_open(tmpdir(), &e, &err), CL_OK);
    cl_buf spec;
    cl_buf_init(&spec);
    cl_buf_puts(&spec, "the patient . | fabry . |");
    for (int i = 0; i < 20; i++)
        cl_buf_puts(&spec, " the");
    cl_buf_puts(&spec, " | ok . | no fabry .");
    cl_doc *d = words_doc("packing", spec.data);
    cl_buf_free(&spec);
    assert_int_equal(d->nsentences, 5);
    /* max_pieces 10: 8 pieces of body; "fabry" is two pieces */
    enc_sentence_pieces one, packed;
    assert_int_equal(cl__enc_pieces_of_sentences(e, d, 0, 5, 10, false, &one, &err), CL_OK);
    assert_int_equal(cl__enc_pieces_of_sentences(e, d, 0, 5, 10, true, &packed, &err), CL_OK);
    /* one per sentence: [0,3) [3,5) the 20 "the" as 8+8+4, [25,27) [27,30) */
    static const int32_t one_tok[][2] = {{0, 3}, {3, 5}, {5, 13}, {13, 21}, {21, 25},
                                         {25, 27}, {27, 30}};
    static const int32_t one_n[] = {5, 5, 10, 10, 6, 4, 6};
    assert_int_equal(one.nchunks, 7);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(one.chunks[i].tok_begin, one_tok[i][0]);
        assert_int_equal(one.chunks[i].tok_end, one_tok[i][1]);
        assert_int_equal(one.chunks[i].n, one_n[i]);
    }
    /* packed: sentences 0+1 (6 pieces), the long one cut alike, 3+4 (6) */
    static const int32_t pk_tok[][2] = {{0, 5}, {5, 13}, {13, 21}, {21, 25}, {25, 30}};
    static const int32_t pk_n[] = {8, 10, 10, 6, 8};
    assert_int_equal(packed.nchunks, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(packed.chunks[i].tok_begin, pk_tok[i][0]);
        assert_int_equal(packed.chunks[i].tok_end, pk_tok[i][1]);
        assert_int_equal(packed.chunks[i].n, pk_n[i]);
    }
    /* [CLS] the patient . fab ##ry . [SEP]: "fabry" at 4, its "." at 6 */
    const enc_chunk *c = &packed.chunks[0];
    static const int32_t first0[] = {1, 2, 3, 4, 6};
    for (int w = 0; w < 5; w++)
        assert_int_equal(c->first[w], first0[w]);
    assert_int_equal(c->ids[0], cl_wordpiece_id(cl_encoder_vocab(e), "[CLS]"));
    assert_int_equal(c->ids[4], cl_wordpiece_id(cl_encoder_vocab(e), "fab"));
    assert_int_equal(c->ids[5], cl_wordpiece_id(cl_encoder_vocab(e), "##ry"));
    assert_int_equal(c->ids[7], cl_wordpiece_id(cl_encoder_vocab(e), "[SEP]"));
    /* a range inside the doc: only its sentences */
    cl__enc_sentence_pieces_free(&packed);
    assert_int_equal(cl__enc_pieces_of_sentences(e, d, 1, 2, 10, true, &packed, &err), CL_OK);
    assert_int_equal(packed.nchunks, 1);
    assert_int_equal(packed.chunks[0].tok_begin, 3);
    assert_int_equal(packed.chunks[0].tok_end, 5);
    cl__enc_sentence_pieces_free(&one);
    cl__enc_sentence_pieces_free(&packed);
    cl_doc_free(d);
    cl_encoder_free(e);
}

/* A task only context solves: the first sentence says "signs" or "ok", and
 * "gaucher" in each later sentence is a SIGN or a RAREDISEASE after it.  A
 * model of single sentences cannot do better than half of them (the
 * sentences are identical); a packed one sees the first sentence, in
 * training and when it tags (which it must do packed as well: the model
 * file says so). */
static cl_corpus *context_corpus(int ndocs)
{
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    for (int i = 0; i < ndocs; i++) {
        bool sign = i % 2 == 0;
        char id[16];
        snprintf(id, sizeof id, "ctx%d", i);
        cl_doc *d = words_doc(id, sign ? "signs . | the patient had gaucher . | a gaucher . | "
                                         "the gaucher . | no gaucher ."
                                       : "ok . | the patient had gaucher . | a gaucher . | "
                                         "the gaucher . | no gaucher .");
        for (int32_t t = 0; t < d->ntokens; t++) {
            size_t nb;
            const char *b = cl_doc_token_bytes(d, t, &nb);
            bool g = nb == 7 && !memcmp(b, "gaucher", 7);
            assert_int_equal(cl_doc_set_tag(d, t, g ? (sign ? "B-SIGN" : "B-RAREDISEASE") : "O",
                                            &err),
                             CL_OK);
        }
        assert_int_equal(cl_corpus_add(c, d, &err), CL_OK);
    }
    return c;
}

/* Replace the first occurrence of from by to (same length) in the file. */
static void edit_in_place(const char *path, const char *from, const char *to)
{
    cl_error err;
    char *bytes;
    size_t n, k = strlen(from);
    assert_int_equal(strlen(to), k);
    assert_int_equal(cl_read_file(path, &bytes, &n, &err), CL_OK);
    char *v = NULL; /* the 8-byte length before the header holds NULs: no strstr */
    for (size_t i = 0; !v && i + k <= n; i++)
        if (!memcmp(bytes + i, from, k))
            v = bytes + i;
    assert_non_null(v);
    memcpy(v, to, k);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    free(bytes);
}

static void test_packing_sees_context(void **state)
{
    (void)state;
    cl_corpus *train = context_corpus(16), *dev = context_corpus(6);
    char out[512], out1[512];
    snprintf(out, sizeof out, "%s/packed.model", tmpdir());
    snprintf(out1, sizeof out1, "%s/unpacked.model", tmpdir());
    cl_encoder_train_params p = toy_params(out);
    p.pack = true;
    p.batch = 2;
    p.epochs = 20;
    train_ok(&p, train, dev);
    double packed = entity_accuracy(out, dev);
    p = toy_params(out1);
    p.epochs = 20;
    train_ok(&p, train, dev);
    double single = entity_accuracy(out1, dev);
    cl_error err;
    fprintf(stderr, "context task: gaucher right %.4f packed, %.4f one sentence each\n", packed,
            single);
    assert_true(packed > 0.95);
    assert_true(single <= 0.5);
    /* a packing length that is not a number is refused, naming the field
     * (edited in place: the header keeps its length) */
    edit_in_place(out, "\"clinner.pack\":\"128\"", "\"clinner.pack\":\"12x\"");
    cl_encoder *e;
    assert_int_equal(cl_encoder_open(out, &e, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "clinner.pack '12x'"));
    cl_corpus_free(train);
    cl_corpus_free(dev);
}

/* Sentences in which only the word says the type: "the patient had W ."
 * and the like, W a disease (B-RAREDISEASE) or a sign (B-SIGN) from words. */
static cl_corpus *term_corpus(const char *const *dis, const char *const *sign, int nwords,
                              int ndocs)
{
    static const char *const frame[][2] = {{"the patient had", "."}, {"a", "was seen today ."},
                                           {"no", "."}, {"signs of", "and a"}};
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    for (int i = 0; i < ndocs; i++) {
        char spec[512], id[16];
        size_t k = 0;
        for (int s = 0; s < 4; s++) {
            const char *w = (i + s) % 2 ? dis[(i + s) / 2 % nwords] : sign[(i + s) / 2 % nwords];
            k += (size_t)snprintf(spec + k, sizeof spec - k, "%s%s %s %s", s ? " | " : "",
                                  frame[s][0], w, frame[s][1]);
        }
        snprintf(id, sizeof id, "term%d", i);
        cl_doc *d = words_doc(id, spec);
        for (int32_t t = 0; t < d->ntokens; t++) {
            size_t nb;
            const char *b = cl_doc_token_bytes(d, t, &nb);
            const char *tag = "O";
            for (int j = 0; j < nwords; j++) {
                if (strlen(dis[j]) == nb && !memcmp(b, dis[j], nb))
                    tag = "B-RAREDISEASE";
                if (strlen(sign[j]) == nb && !memcmp(b, sign[j], nb))
                    tag = "B-SIGN";
            }
            assert_int_equal(cl_doc_set_tag(d, t, tag, &err), CL_OK);
        }
        assert_int_equal(cl_corpus_add(c, d, &err), CL_OK);
    }
    return c;
}

/* A term list (--vocab) generalises to words the training never showed:
 * trained on four diseases (gaucher, pompe, ...) and four signs, tested on
 * fabry and rash, which only the list calls a disease and a sign.  The list
 * travels in the model file, and it is what decides: the same model with
 * the two unseen words' categories swapped in its stored list tags them the
 * other way.  A tagger base cannot take a new list; a bad line is refused
 * with its file and line. */
static void test_vocab_marks_generalise(void **state)
{
    (void)state;
    static const char *const dis_train[] = {"gaucher", "pompe", "mild", "with"};
    static const char *const sign_train[] = {"pain", "fever", "severe", "for"};
    static const char *const dis_test[] = {"fabry"}, *const sign_test[] = {"rash"};
    cl_corpus *train = term_corpus(dis_train, sign_train, 4, 32);
    cl_corpus *dev = term_corpus(dis_test, sign_test, 1, 4);
    char out[512], swapped[600], terms[512], bad[512];
    snprintf(out, sizeof out, "%s/terms.model", tmpdir());
    snprintf(swapped, sizeof swapped, "%s.swapped", out);
    snprintf(terms, sizeof terms, "%s/terms.tsv", tmpdir());
    snprintf(bad, sizeof bad, "%s/bad-terms.tsv", tmpdir());
    write_text(terms, "# signs and diseases\nORPHA\tGaucher\nORPHA\tpompe\nORPHA\tmild\n"
                      "ORPHA\twith\nORPHA\tfabry\nPHENO\tpain\nPHENO\tfever\nPHENO\tsevere\n"
                      "PHENO\tfor\nPHENO\trash\n");
    write_text(bad, "ORPHA\tgaucher\nPHENO pain\n");
    cl_encoder_train_params p = toy_params(out);
    p.vocab_path = terms;
    p.epochs = 20;
    p.batch = 4;
    train_ok(&p, train, NULL);
    cl_encoder_train_result r;
    cl_error err;
    double with = entity_accuracy(out, dev);
    char *bytes;
    size_t n;
    assert_int_equal(cl_read_file(out, &bytes, &n, &err), CL_OK);
    FILE *f = fopen(swapped, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    free(bytes);
    edit_in_place(swapped, "ORPHA\\tfabry", "PHENO\\tfabry"); /* JSON-escaped tabs */
    edit_in_place(swapped, "PHENO\\trash", "ORPHA\\trash");
    double other = entity_accuracy(swapped, dev);
    fprintf(stderr, "unseen terms: entity tokens right %.4f with the list, %.4f with their "
                    "categories swapped\n", with, other);
    assert_true(with > 0.8); /* 14 of 16 here */
    assert_true(other < 0.2);
    /* the same model as a base cannot take another list */
    p = toy_params(swapped);
    p.base = out;
    p.vocab_path = terms;
    assert_int_equal(cl_encoder_train(&p, train, NULL, &r, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "only with a base encoder"));
    p = toy_params(swapped);
    p.vocab_path = bad;
    assert_int_equal(cl_encoder_train(&p, train, NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "bad-terms.tsv:2: expected CATEGORY<TAB>term"));
    cl_corpus_free(train);
    cl_corpus_free(dev);
}

static int cleanup(void **state)
{
    (void)state;
    if (tmpdir_buf[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir_buf);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir_buf);
    }
    return 0;
}

/* Training in words: the progress lines and the summary of a run. */
static void test_report_lines(void **state)
{
    (void)state;
    char line[512];
    cl_enc_progress pr = {.train = true, .epoch = 1, .epochs = 3, .step = 2, .nsteps = 300,
                          .loss = 0.5, .lr = 5e-5, .tokens_per_s = 1234, .eta_s = 120,
                          .dev_f1 = -1, .best_dev_f1 = -1};
    assert_false(cl_enc_progress_line(&pr, line, sizeof line)); /* not step 1 or a 50th */
    pr.step = 50;
    assert_true(cl_enc_progress_line(&pr, line, sizeof line));
    assert_string_equal(line, "step 50/300  epoch 1  loss 0.5000  lr 5.00e-05  1234 pieces/s  "
                              "ETA 2 min");
    pr.train = false;
    assert_true(cl_enc_progress_line(&pr, line, sizeof line));
    assert_string_equal(line, "epoch 1/3 done: loss 0.5000");
    pr.dev_f1 = 0.25;
    pr.best_dev_f1 = 0.25;
    pr.best_epoch = 1;
    assert_true(cl_enc_progress_line(&pr, line, sizeof line));
    assert_string_equal(line,
                        "epoch 1/3 done: loss 0.5000, dev F1 0.2500 (best 0.2500 at epoch 1)");

    cl_encoder_train_result r = {.epochs_done = 1, .best_dev_f1 = -1, .steps = 7, .seconds = 1.5};
    cl_encoder_train_summary(&r, "m.enc", line, sizeof line);
    assert_string_equal(line, "wrote m.enc (1 epoch, no dev split), 7 steps, 1.5 s");
    r.epochs_done = 2;
    r.best_epoch = 2;
    r.best_dev_f1 = 0.5;
    r.o_bias = 1.25;
    r.tuned_dev_f1 = 0.55;
    r.train_pieces = 1000;
    r.mem_estimate = 3 * 1048576;
    cl_encoder_train_summary(&r, "m.enc", line, sizeof line);
    assert_string_equal(line, "wrote m.enc (epoch 2 of 2, best dev F1 0.5000; O offset 1.25: "
                              "0.5500), 7 steps, 1000 pieces an epoch, 1.5 s, memory estimate "
                              "3 MB");
    r.stopped = true;
    cl_encoder_train_summary(&r, "m.enc", line, sizeof line);
    assert_string_equal(line, "stopped at step 7; checkpoint m.enc.ckpt");
}

int main(int argc, char **argv)
{
    (void)argc;
    /* ggml's OpenMP threads busy-wait by default, which on a loaded 2-core
     * machine slows training 20x; libgomp reads the policy at load time */
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_layer_norm_and_gelu),
        cmocka_unit_test(test_grad_whole_model),
        cmocka_unit_test(test_grad_whole_model_mpnet),
        cmocka_unit_test(test_toy_task_learns),
        cmocka_unit_test(test_toy_task_learns_mpnet),
        cmocka_unit_test(test_stop_and_resume),
        cmocka_unit_test(test_pieces_packing),
        cmocka_unit_test(test_packing_sees_context),
        cmocka_unit_test(test_vocab_marks_generalise),
        cmocka_unit_test(test_report_lines),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
#else
TEST_MAIN_NOT_BUILT("built without llama.cpp/ggml: the encoder is left out")
#endif
