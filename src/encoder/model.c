/*
 * model.c - loading and saving a BERT-family encoder: its config (config.json
 * beside a base model, or the __metadata__ of a fine-tuned tagger file), its
 * vocabulary, and its weights copied from safetensors (F32 or F16 on disk)
 * into ggml tensors in a CPU backend buffer, always F32 in memory so that the
 * same tensors serve inference and training.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/util.h"
#include "encoder/enc_internal.h"

#define META_KIND "clinner.kind"
#define KIND_TAGGER "encoder-tagger"
#define MARK_WEIGHT "clinner.mark_weight"

static int json_int(const cJSON *o, const char *k, int def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valueint : def;
}

static cl_status parse_config(const char *json, const char *where, cl_encoder_config *c,
                              cl_error *err)
{
    cJSON *o = cJSON_Parse(json);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return cl_error_set(err, CL_ERR_MODEL, "%s: config is not a JSON object", where);
    }
    c->layers = json_int(o, "num_hidden_layers", 0);
    c->hidden = json_int(o, "hidden_size", 0);
    c->heads = json_int(o, "num_attention_heads", 0);
    c->ffn = json_int(o, "intermediate_size", 0);
    c->max_pos = json_int(o, "max_position_embeddings", 512);
    c->vocab = json_int(o, "vocab_size", 0);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(o, "model_type");
    c->arch = cJSON_IsString(mt) && !strcmp(mt->valuestring, "mpnet") ? CL_ENC_ARCH_MPNET
                                                                      : CL_ENC_ARCH_BERT;
    bool mpnet = c->arch == CL_ENC_ARCH_MPNET;
    c->type_vocab = mpnet ? 0 : json_int(o, "type_vocab_size", 2);
    c->rel_buckets = mpnet ? json_int(o, "relative_attention_num_buckets", 32) : 0;
    c->pad_token_id = mpnet ? json_int(o, "pad_token_id", 1) : 0;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(o, "layer_norm_eps");
    c->eps = cJSON_IsNumber(eps) ? (float)eps->valuedouble : 1e-12f;
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
    bool gelu = !act || (cJSON_IsString(act) && !strcmp(act->valuestring, "gelu"));
    cJSON_Delete(o);
    if (!gelu)
        return cl_error_set(err, CL_ERR_MODEL, "%s: hidden_act is not gelu", where);
    if (c->layers < 1 || c->layers > ENC_MAX_LAYERS || c->hidden < 1 || c->heads < 1 ||
        c->hidden % c->heads || c->ffn < 1 || c->vocab < 1 || c->max_pos < 3 ||
        (mpnet && (c->rel_buckets < 4 || c->rel_buckets % 4 || c->pad_token_id < 0 ||
                   c->pad_token_id + 4 > c->max_pos)))
        return cl_error_set(err, CL_ERR_MODEL,
                            "%s: config needs num_hidden_layers (1..%d), hidden_size divisible "
                            "by num_attention_heads, intermediate_size, vocab_size (MPNet: "
                            "relative_attention_num_buckets a multiple of 4, pad_token_id "
                            "inside max_position_embeddings)",
                            where, ENC_MAX_LAYERS);
    return CL_OK;
}

/* BERT's keys as they always were (a tagger file saved again is the same
 * file); MPNet adds its own. */
static char *config_json(const cl_encoder_config *c)
{
    char buf[640], mpnet[160] = "";
    if (c->arch == CL_ENC_ARCH_MPNET)
        snprintf(mpnet, sizeof mpnet,
                 ",\"model_type\":\"mpnet\",\"relative_attention_num_buckets\":%d,"
                 "\"pad_token_id\":%d",
                 c->rel_buckets, c->pad_token_id);
    snprintf(buf, sizeof buf,
             "{\"num_hidden_layers\":%d,\"hidden_size\":%d,\"num_attention_heads\":%d,"
             "\"intermediate_size\":%d,\"max_position_embeddings\":%d,\"vocab_size\":%d,"
             "\"type_vocab_size\":%d,\"layer_norm_eps\":%.9g,\"hidden_act\":\"gelu\"%s}",
             c->layers, c->hidden, c->heads, c->ffn, c->max_pos, c->vocab, c->type_vocab,
             (double)c->eps, mpnet);
    return strdup(buf);
}

typedef struct tensor_spec {
    struct ggml_tensor **slot;
    char name[128];
    int64_t ne0, ne1; /* ggml order; ne1 = 1 for vectors */
    bool big;         /* a large matrix: Q8_0 in a q8_0 file */
} tensor_spec;

static int specs_of(cl_encoder *e, tensor_spec *s)
{
    const cl_encoder_config *c = &e->cfg;
    int n = 0;
#define SPEC(slot_, ne0_, ne1_, ...)                                \
    do {                                                            \
        s[n].slot = (slot_);                                        \
        snprintf(s[n].name, sizeof s[n].name, __VA_ARGS__);         \
        s[n].ne0 = (ne0_);                                          \
        s[n].ne1 = (ne1_);                                          \
        s[n].big = (ne1_) > 512 || ((ne1_) > 1 && (slot_) != &e->pemb && \
                                    (slot_) != &e->temb && (slot_) != &e->rel_bias); \
        n++;                                                        \
    } while (0)
    SPEC(&e->wemb, c->hidden, c->vocab, "embeddings.word_embeddings.weight");
    SPEC(&e->pemb, c->hidden, c->max_pos, "embeddings.position_embeddings.weight");
    if (c->arch == CL_ENC_ARCH_BERT)
        SPEC(&e->temb, c->hidden, c->type_vocab, "embeddings.token_type_embeddings.weight");
    SPEC(&e->eln_g, c->hidden, 1, "embeddings.LayerNorm.weight");
    SPEC(&e->eln_b, c->hidden, 1, "embeddings.LayerNorm.bias");
    if (c->arch == CL_ENC_ARCH_MPNET)
        SPEC(&e->rel_bias, c->heads, c->rel_buckets, "encoder.relative_attention_bias.weight");
    /* the attention's names: BERT's, or MPNet's attn.{q,k,v,o} */
    bool bert = c->arch == CL_ENC_ARCH_BERT;
    const char *aq = bert ? "self.query" : "attn.q", *ak = bert ? "self.key" : "attn.k";
    const char *av = bert ? "self.value" : "attn.v", *ao = bert ? "output.dense" : "attn.o";
    const char *aln = bert ? "output.LayerNorm" : "LayerNorm";
    for (int l = 0; l < c->layers; l++) {
        enc_layer *L = &e->layers[l];
        const char *p = "encoder.layer";
        SPEC(&L->q_w, c->hidden, c->hidden, "%s.%d.attention.%s.weight", p, l, aq);
        SPEC(&L->q_b, c->hidden, 1, "%s.%d.attention.%s.bias", p, l, aq);
        SPEC(&L->k_w, c->hidden, c->hidden, "%s.%d.attention.%s.weight", p, l, ak);
        SPEC(&L->k_b, c->hidden, 1, "%s.%d.attention.%s.bias", p, l, ak);
        SPEC(&L->v_w, c->hidden, c->hidden, "%s.%d.attention.%s.weight", p, l, av);
        SPEC(&L->v_b, c->hidden, 1, "%s.%d.attention.%s.bias", p, l, av);
        SPEC(&L->o_w, c->hidden, c->hidden, "%s.%d.attention.%s.weight", p, l, ao);
        SPEC(&L->o_b, c->hidden, 1, "%s.%d.attention.%s.bias", p, l, ao);
        SPEC(&L->ln1_g, c->hidden, 1, "%s.%d.attention.%s.weight", p, l, aln);
        SPEC(&L->ln1_b, c->hidden, 1, "%s.%d.attention.%s.bias", p, l, aln);
        SPEC(&L->ff1_w, c->hidden, c->ffn, "%s.%d.intermediate.dense.weight", p, l);
        SPEC(&L->ff1_b, c->ffn, 1, "%s.%d.intermediate.dense.bias", p, l);
        SPEC(&L->ff2_w, c->ffn, c->hidden, "%s.%d.output.dense.weight", p, l);
        SPEC(&L->ff2_b, c->hidden, 1, "%s.%d.output.dense.bias", p, l);
        SPEC(&L->ln2_g, c->hidden, 1, "%s.%d.output.LayerNorm.weight", p, l);
        SPEC(&L->ln2_b, c->hidden, 1, "%s.%d.output.LayerNorm.bias", p, l);
    }
#undef SPEC
    return n;
}

static const cl_st_tensor *find_st(const cl_st_file *f, const char *name)
{
    const cl_st_tensor *st = cl_st_find(f, name);
    char alt[160];
    if (!st) { /* BertForX / MPNetForX checkpoints prefix the encoder's names */
        snprintf(alt, sizeof alt, "bert.%s", name);
        st = cl_st_find(f, alt);
    }
    if (!st) {
        snprintf(alt, sizeof alt, "mpnet.%s", name);
        st = cl_st_find(f, alt);
    }
    return st;
}

/* Copy a safetensors tensor (F32 or F16, shape [ne1, ne0] or [ne0]; U8:
 * Q8_0 blocks of a [ne1, ne0] matrix) into t. */
static cl_status load_tensor(const cl_st_file *f, const char *path, const char *name,
                             struct ggml_tensor *t, cl_error *err)
{
    const cl_st_tensor *st = find_st(f, name);
    if (!st)
        return cl_error_set(err, CL_ERR_MODEL, "%s: no tensor '%s'", path, name);
    if (t->type == GGML_TYPE_Q8_0) {
        if (st->nbytes != ggml_nbytes(t))
            return cl_error_set(err, CL_ERR_MODEL, "%s: tensor '%s': %zu bytes, Q8_0 needs %zu",
                                path, name, st->nbytes, ggml_nbytes(t));
        ggml_backend_tensor_set(t, cl_st_data(f, st), 0, st->nbytes);
        return CL_OK;
    }
    int64_t want = ggml_nelements(t), have = 1;
    for (int i = 0; i < st->ndim; i++)
        have *= st->shape[i];
    int64_t inner = st->ndim ? st->shape[st->ndim - 1] : 1;
    if (have != want || inner != t->ne[0])
        return cl_error_set(err, CL_ERR_MODEL,
                            "%s: tensor '%s' has %lld values (rows of %lld), want %lld (rows of "
                            "%lld)",
                            path, name, (long long)have, (long long)inner, (long long)want,
                            (long long)t->ne[0]);
    if (!strcmp(st->dtype, "F32")) {
        ggml_backend_tensor_set(t, cl_st_data(f, st), 0, st->nbytes);
    } else if (!strcmp(st->dtype, "F16")) {
        float *tmp = malloc((size_t)want * sizeof *tmp);
        if (!tmp)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        ggml_fp16_to_fp32_row(cl_st_data(f, st), tmp, want);
        ggml_backend_tensor_set(t, tmp, 0, (size_t)want * sizeof *tmp);
        free(tmp);
    } else {
        return cl_error_set(err, CL_ERR_MODEL, "%s: tensor '%s' is %s (F32 or F16 only)", path,
                            name, st->dtype);
    }
    return CL_OK;
}

static cl_status alloc_weights(cl_encoder *e, tensor_spec *specs, int n, const cl_st_file *f,
                               cl_error *err)
{
    struct ggml_init_params ip = {(size_t)(n + 8) * ggml_tensor_overhead(), NULL, true};
    if (!(e->ctx = ggml_init(ip)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory (ggml context)");
    for (int i = 0; i < n; i++) {
        const cl_st_tensor *st = find_st(f, specs[i].name);
        bool q8 = st && !strcmp(st->dtype, "U8") && specs[i].ne1 > 1 && specs[i].ne0 % 32 == 0;
        *specs[i].slot = specs[i].ne1 == 1
                             ? ggml_new_tensor_1d(e->ctx, GGML_TYPE_F32, specs[i].ne0)
                             : ggml_new_tensor_2d(e->ctx, q8 ? GGML_TYPE_Q8_0 : GGML_TYPE_F32,
                                                  specs[i].ne0, specs[i].ne1);
        ggml_set_name(*specs[i].slot, specs[i].name);
    }
    e->buf = ggml_backend_alloc_ctx_tensors_from_buft(e->ctx, ggml_backend_cpu_buffer_type());
    if (!e->buf)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory (encoder weights)");
    return CL_OK;
}

static cl_status split_labels(cl_encoder *e, const char *text, cl_error *err)
{
    int32_t n = 0;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    e->labels = calloc((size_t)n + 2, sizeof *e->labels);
    if (!e->labels)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    const char *p = text;
    while (*p) {
        const char *q = strchr(p, '\n');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len && !(e->labels[e->nlabels++] = strndup(p, len)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        p += len + (q ? 1 : 0);
    }
    return e->nlabels >= 1 ? CL_OK : cl_error_set(err, CL_ERR_MODEL, "no labels in the model");
}

/* A fine-tuned tagger: config, vocabulary, labels from __metadata__. */
static cl_status open_tagger_meta(cl_encoder *e, const cl_st_file *f, const char *path,
                                  cl_error *err)
{
    const char *cfg = cl_st_meta(f, "clinner.config"), *vocab = cl_st_meta(f, "clinner.vocab");
    const char *labels = cl_st_meta(f, "clinner.labels"), *tok = cl_st_meta(f, "clinner.tokenizer");
    const char *gelu = cl_st_meta(f, "clinner.gelu");
    if (!cfg || !vocab || !labels)
        return cl_error_set(err, CL_ERR_MODEL,
                            "%s: metadata lacks clinner.config, clinner.vocab or clinner.labels",
                            path);
    cl_status st = parse_config(cfg, path, &e->cfg, err);
    if (st == CL_OK && (st = cl_wordpiece_new(vocab, strlen(vocab), &e->wp, err)) != CL_OK)
        cl_error_prefix(err, "%s: vocabulary: ", path);
    if (st == CL_OK)
        st = split_labels(e, labels, err);
    if (st == CL_OK && tok && !(e->tokenizer = strdup(tok)))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    e->tanh_gelu = gelu && !strcmp(gelu, "tanh");
    const char *ob = cl_st_meta(f, "clinner.o_bias");
    e->o_bias = ob ? strtof(ob, NULL) : 0.0f;
    const char *pack = cl_st_meta(f, "clinner.pack");
    char *end = NULL;
    long pk = pack ? strtol(pack, &end, 10) : 0;
    e->pack = pk >= 8 && pk <= 1 << 20 ? (int32_t)pk : 0;
    if (st == CL_OK && pack && (end == pack || *end || e->pack == 0))
        st = cl_error_set(err, CL_ERR_MODEL,
                          "%s: metadata clinner.pack '%s' is not a sequence length of 8 or more",
                          path, pack);
    const char *terms = cl_st_meta(f, "clinner.terms");
    if (st == CL_OK && terms)
        st = cl__enc_set_terms(e, path, terms, strlen(terms), err);
    return st;
}

cl_status cl__enc_set_terms(cl_encoder *e, const char *name, const char *text, size_t n,
                            cl_error *err)
{
    cl_tokenizer_kind tok;
    cl_status st = cl_tokenizer_from_name(e->tokenizer ? e->tokenizer : "", &tok, err);
    if (st != CL_OK)
        return cl_error_prefix(err, "%s: a term list needs the model's word tokenizer: ", name);
    if (cl_wordpiece_size(e->wp) > (int32_t)ENC_ID_MASK + 1)
        return cl_error_set(err, CL_ERR_MODEL, "%s: a term list needs a vocabulary of at most "
                            "%u pieces", name, ENC_ID_MASK + 1);
    cl_vocab *v;
    if ((st = cl_vocab_parse(name, text, n, tok, &v, err)) != CL_OK)
        return st;
    char *copy = cl_strndup(text, n);
    if (!copy) {
        cl_vocab_free(v);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_vocab_free(e->terms);
    free(e->terms_text);
    e->terms = v;
    e->terms_text = copy;
    e->nmarks = 2 * cl_vocab_ncats(v);
    return CL_OK;
}

/* A base model: config.json and vocab.txt in dir. */
static cl_status open_base_files(cl_encoder *e, const char *dir, cl_error *err)
{
    char *cpath = cl_path_join(dir, "config.json"), *vpath = cl_path_join(dir, "vocab.txt");
    char *json = NULL;
    size_t n;
    cl_status st = cpath && vpath ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = cl_read_file(cpath, &json, &n, err);
    if (st == CL_OK)
        st = parse_config(json, cpath, &e->cfg, err);
    if (st == CL_OK)
        st = cl_wordpiece_load(vpath, &e->wp, err);
    free(json);
    free(cpath);
    free(vpath);
    return st;
}

static cl_status load_all(cl_encoder *e, const cl_st_file *f, const char *path, cl_error *err)
{
    tensor_spec *specs = calloc(8 + 16 * ENC_MAX_LAYERS, sizeof *specs);
    if (!specs)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int n = specs_of(e, specs);
    cl_status st = alloc_weights(e, specs, n, f, err);
    for (int i = 0; i < n && st == CL_OK; i++)
        st = load_tensor(f, path, specs[i].name, *specs[i].slot, err);
    free(specs);
    if (st != CL_OK || !e->labels)
        return st;
    if ((st = cl__enc_new_head(e, (const char *const *)e->labels, e->nlabels, 0, err)) != CL_OK)
        return st;
    st = load_tensor(f, path, "classifier.weight", e->cls_w, err);
    if (st == CL_OK && e->mark_w)
        st = load_tensor(f, path, MARK_WEIGHT, e->mark_w, err);
    return st == CL_OK ? load_tensor(f, path, "classifier.bias", e->cls_b, err) : st;
}

char *cl_encoder_default_base(void)
{
    return cl_default_cache_dir("models/all-minilm-l6-v2");
}

cl_status cl_encoder_open(const char *path, cl_encoder **out, cl_error *err)
{
    *out = NULL;
    cl_encoder *e = calloc(1, sizeof *e);
    if (!e)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    bool is_dir = cl_is_dir(path);
    char *file = is_dir ? cl_path_join(path, "model.safetensors") : strdup(path);
    char *dir = NULL;
    if (!is_dir && file) {
        const char *slash = strrchr(file, '/');
        dir = slash ? strndup(file, (size_t)(slash - file)) : strdup(".");
    }
    cl_st_file *f = NULL;
    cl_status st = file && (is_dir || dir) ? cl_st_open(file, &f, err)
                                           : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK) {
        const char *kind = cl_st_meta(f, META_KIND);
        if (kind && !strcmp(kind, KIND_TAGGER))
            st = open_tagger_meta(e, f, file, err);
        else
            st = open_base_files(e, is_dir ? path : dir, err);
    }
    if (st == CL_OK)
        st = load_all(e, f, file, err);
    if (st == CL_OK) {
        /* MPNet's vocabulary keeps BERT's [CLS]/[SEP] but frames with <s> </s> */
        bool mpnet = e->cfg.arch == CL_ENC_ARCH_MPNET;
        e->cls_id = cl_wordpiece_id(e->wp, mpnet ? "<s>" : "[CLS]");
        e->sep_id = cl_wordpiece_id(e->wp, mpnet ? "</s>" : "[SEP]");
        e->pad_id = cl_wordpiece_id(e->wp, mpnet ? "<pad>" : "[PAD]");
        if (e->cls_id < 0 || e->sep_id < 0 || cl_wordpiece_size(e->wp) > e->cfg.vocab)
            st = cl_error_set(err, CL_ERR_MODEL, "%s: vocabulary lacks %s or exceeds vocab_size",
                              file, mpnet ? "<s>/</s>" : "[CLS]/[SEP]");
        if (e->pad_id < 0)
            e->pad_id = 0;
    }
    cl_st_free(f);
    free(file);
    free(dir);
    if (st != CL_OK) {
        cl_encoder_free(e);
        return st;
    }
    *out = e;
    return CL_OK;
}

void cl_encoder_free(cl_encoder *e)
{
    if (!e)
        return;
    if (e->buf)
        ggml_backend_buffer_free(e->buf);
    if (e->ctx)
        ggml_free(e->ctx);
    if (e->head_buf)
        ggml_backend_buffer_free(e->head_buf);
    if (e->head_ctx)
        ggml_free(e->head_ctx);
    cl_wordpiece_free(e->wp);
    for (int32_t i = 0; e->labels && i < e->nlabels; i++)
        free(e->labels[i]);
    free(e->labels);
    free(e->tokenizer);
    cl_vocab_free(e->terms);
    free(e->terms_text);
    free(e);
}

const cl_encoder_config *cl_encoder_get_config(const cl_encoder *e) { return &e->cfg; }
const cl_wordpiece *cl_encoder_vocab(const cl_encoder *e) { return e->wp; }
const char *const *cl_encoder_labels(const cl_encoder *e)
{
    return (const char *const *)e->labels;
}

/* splitmix64: the head's initial weights, reproducible from the seed. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

cl_status cl__enc_new_head(cl_encoder *e, const char *const *labels, int32_t nlabels, uint64_t seed,
                       cl_error *err)
{
    if (labels != (const char *const *)e->labels) {
        for (int32_t i = 0; e->labels && i < e->nlabels; i++)
            free(e->labels[i]);
        free(e->labels);
        e->nlabels = 0;
        if (!(e->labels = calloc((size_t)nlabels + 1, sizeof *e->labels)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; i < nlabels; i++, e->nlabels++)
            if (!(e->labels[i] = strdup(labels[i])))
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (e->head_buf)
        ggml_backend_buffer_free(e->head_buf);
    if (e->head_ctx)
        ggml_free(e->head_ctx);
    struct ggml_init_params ip = {4 * ggml_tensor_overhead(), NULL, true};
    if (!(e->head_ctx = ggml_init(ip)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    e->cls_w = ggml_new_tensor_2d(e->head_ctx, GGML_TYPE_F32, e->cfg.hidden, nlabels);
    e->cls_b = ggml_new_tensor_1d(e->head_ctx, GGML_TYPE_F32, nlabels);
    ggml_set_name(e->cls_w, "classifier.weight");
    ggml_set_name(e->cls_b, "classifier.bias");
    e->mark_w = NULL;
    if (e->nmarks > 0) { /* the term marks' embeddings start at zero: the base model unchanged */
        e->mark_w = ggml_new_tensor_2d(e->head_ctx, GGML_TYPE_F32, e->nmarks, e->cfg.hidden);
        ggml_set_name(e->mark_w, MARK_WEIGHT);
    }
    e->head_buf = ggml_backend_alloc_ctx_tensors_from_buft(e->head_ctx,
                                                           ggml_backend_cpu_buffer_type());
    if (!e->head_buf)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (e->mark_w)
        ggml_backend_tensor_memset(e->mark_w, 0, 0, ggml_nbytes(e->mark_w));
    size_t nw = (size_t)e->cfg.hidden * (size_t)nlabels;
    float *w = calloc(nw + (size_t)nlabels, sizeof *w);
    if (!w)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    uint64_t s = seed;
    for (size_t i = 0; i < nw; i++) { /* Box-Muller, std 0.02 */
        double u1 = ((double)(splitmix(&s) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (double)(splitmix(&s) >> 11) / 9007199254740992.0;
        w[i] = (float)(0.02 * sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
    }
    ggml_backend_tensor_set(e->cls_w, w, 0, nw * sizeof *w);
    ggml_backend_tensor_set(e->cls_b, w + nw, 0, (size_t)nlabels * sizeof *w);
    free(w);
    return CL_OK;
}

/* Metadata of a saved tagger: config, vocabulary, labels, tokenizer. */
static cl_status save_meta(const cl_encoder *e, cl_st_writer *w, const char *const *extra,
                           cl_error *err)
{
    char *cfg = config_json(&e->cfg), *vocab = cl_wordpiece_text(e->wp);
    cl_buf lb;
    cl_buf_init(&lb);
    for (int32_t i = 0; i < e->nlabels; i++)
        if (cl_buf_puts(&lb, e->labels[i]) || cl_buf_putc(&lb, '\n'))
            break;
    cl_status st = cfg && vocab && lb.data ? CL_OK
                                           : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = cl_st_writer_meta(w, META_KIND, KIND_TAGGER, err);
    if (st == CL_OK)
        st = cl_st_writer_meta(w, "clinner.config", cfg, err);
    if (st == CL_OK)
        st = cl_st_writer_meta(w, "clinner.vocab", vocab, err);
    if (st == CL_OK)
        st = cl_st_writer_meta(w, "clinner.labels", lb.data, err);
    if (st == CL_OK)
        st = cl_st_writer_meta(w, "clinner.gelu", e->tanh_gelu ? "tanh" : "erf", err);
    if (st == CL_OK && e->tokenizer)
        st = cl_st_writer_meta(w, "clinner.tokenizer", e->tokenizer, err);
    char ob[32];
    snprintf(ob, sizeof ob, "%.9g", (double)e->o_bias);
    if (st == CL_OK)
        st = cl_st_writer_meta(w, "clinner.o_bias", ob, err);
    char pk[16];
    snprintf(pk, sizeof pk, "%d", e->pack);
    if (st == CL_OK && e->pack > 0) /* absent: one sentence per sequence, as before packing */
        st = cl_st_writer_meta(w, "clinner.pack", pk, err);
    if (st == CL_OK && e->terms_text)
        st = cl_st_writer_meta(w, "clinner.terms", e->terms_text, err);
    for (int i = 0; extra && extra[i] && extra[i + 1] && st == CL_OK; i += 2)
        st = cl_st_writer_meta(w, extra[i], extra[i + 1], err);
    free(cfg);
    free(vocab);
    cl_buf_free(&lb);
    return st;
}

/* One tensor in the file's type: kept Q8_0 as it is; big matrices to Q8_0
 * (q8_0), other matrices to F16 (f16, q8_0); vectors F32. */
static cl_status save_tensor(cl_st_writer *w, const tensor_spec *sp, cl_enc_wtype type,
                             void **buf, cl_error *err)
{
    struct ggml_tensor *t = *sp->slot;
    int64_t ne = ggml_nelements(t), shape[2] = {sp->ne1, sp->ne0};
    if (sp->ne1 == 1) {
        float *f = *buf = malloc((size_t)ne * sizeof *f);
        if (!f)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        ggml_backend_tensor_get(t, f, 0, (size_t)ne * sizeof *f);
        return cl_st_writer_add(w, sp->name, "F32", 1, shape + 1, f, (size_t)ne * 4, err);
    }
    if (t->type == GGML_TYPE_Q8_0 && type != CL_ENC_Q8_0)
        return cl_error_set(err, CL_ERR_ARG, "tensor '%s' is Q8_0: convert from an F32 model",
                            sp->name);
    bool q8 = type == CL_ENC_Q8_0 && sp->big && sp->ne0 % 32 == 0;
    size_t qbytes = ggml_row_size(GGML_TYPE_Q8_0, sp->ne0) * (size_t)sp->ne1;
    if (t->type == GGML_TYPE_Q8_0) {
        if (!(*buf = malloc(ggml_nbytes(t))))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        ggml_backend_tensor_get(t, *buf, 0, ggml_nbytes(t));
        int64_t n1 = (int64_t)ggml_nbytes(t);
        return cl_st_writer_add(w, sp->name, "U8", 1, &n1, *buf, ggml_nbytes(t), err);
    }
    float *f = malloc((size_t)ne * sizeof *f);
    if (!f)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    ggml_backend_tensor_get(t, f, 0, (size_t)ne * sizeof *f);
    if (type == CL_ENC_F32) {
        *buf = f;
        return cl_st_writer_add(w, sp->name, "F32", 2, shape, f, (size_t)ne * 4, err);
    }
    *buf = malloc(q8 ? qbytes : (size_t)ne * sizeof(ggml_fp16_t));
    if (!*buf) {
        free(f);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_status st;
    if (q8) {
        ggml_quantize_chunk(GGML_TYPE_Q8_0, f, *buf, 0, sp->ne1, sp->ne0, NULL);
        int64_t n1 = (int64_t)qbytes;
        st = cl_st_writer_add(w, sp->name, "U8", 1, &n1, *buf, qbytes, err);
    } else {
        ggml_fp32_to_fp16_row(f, *buf, ne);
        st = cl_st_writer_add(w, sp->name, "F16", 2, shape, *buf, (size_t)ne * 2, err);
    }
    free(f);
    return st;
}

cl_status cl_enc_wtype_from_name(const char *name, cl_enc_wtype *out, cl_error *err)
{
    static const char *const names[] = {"f32", "f16", "q8_0"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, names[i])) {
            *out = (cl_enc_wtype)i;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG, "weight type '%s' is not f32, f16 or q8_0", name);
}

cl_status cl_encoder_convert(const char *in_path, const char *out_path, cl_enc_wtype type,
                             cl_error *err)
{
    cl_encoder *e;
    cl_status st = cl_encoder_open(in_path, &e, err);
    if (st != CL_OK)
        return st;
    if (!e->labels)
        st = cl_error_set(err, CL_ERR_MODEL, "%s: a base encoder, not a tagger", in_path);
    if (st == CL_OK)
        st = cl__enc_save(e, out_path, type, NULL, err);
    cl_encoder_free(e);
    return st;
}

/* The tensors a tagger file holds: the encoder's, then the classifier's. */
static int tagger_specs(const cl_encoder *e, tensor_spec *specs)
{
    int n = specs_of((cl_encoder *)e, specs);
    specs[n].slot = (struct ggml_tensor **)&e->cls_w;
    strcpy(specs[n].name, "classifier.weight");
    specs[n].ne0 = e->cfg.hidden;
    specs[n++].ne1 = e->nlabels;
    specs[n].slot = (struct ggml_tensor **)&e->cls_b;
    strcpy(specs[n].name, "classifier.bias");
    specs[n].ne0 = e->nlabels;
    specs[n++].ne1 = 1;
    if (e->mark_w) {
        specs[n].slot = (struct ggml_tensor **)&e->mark_w;
        strcpy(specs[n].name, MARK_WEIGHT);
        specs[n].ne0 = e->nmarks;
        specs[n].ne1 = e->cfg.hidden;
        specs[n++].big = false;
    }
    return n;
}

/* Whether b can be averaged into a: same shapes, labels and tokenizer, and
 * weights that are not quantized (specs: room for b's tensors). */
static cl_status same_tagger(const cl_encoder *a, const cl_encoder *b, const char *path,
                             tensor_spec *specs, cl_error *err)
{
    if (!b->labels)
        return cl_error_set(err, CL_ERR_MODEL, "%s: a base encoder, not a tagger", path);
    int nt = tagger_specs(b, specs);
    for (int t = 0; t < nt; t++)
        if ((*specs[t].slot)->type != GGML_TYPE_F32)
            return cl_error_set(err, CL_ERR_MODEL,
                                "%s: tensor '%s' is quantized (Q8_0): average F32 or F16 models",
                                path, specs[t].name);
    const cl_encoder_config *x = &a->cfg, *y = &b->cfg;
    if (x->layers != y->layers || x->hidden != y->hidden || x->heads != y->heads ||
        x->ffn != y->ffn || x->max_pos != y->max_pos || x->vocab != y->vocab ||
        x->type_vocab != y->type_vocab || x->arch != y->arch ||
        x->rel_buckets != y->rel_buckets || a->tanh_gelu != b->tanh_gelu)
        return cl_error_set(err, CL_ERR_MODEL, "%s: another model shape than the first model",
                            path);
    bool same = a->nlabels == b->nlabels && a->nmarks == b->nmarks &&
                !strcmp(a->terms_text ? a->terms_text : "", b->terms_text ? b->terms_text : "") &&
                !strcmp(a->tokenizer ? a->tokenizer : "", b->tokenizer ? b->tokenizer : "");
    for (int32_t i = 0; same && i < a->nlabels; i++)
        same = !strcmp(a->labels[i], b->labels[i]);
    return same ? CL_OK
                : cl_error_set(err, CL_ERR_MODEL,
                               "%s: other labels, tokenizer or term list than the first model",
                               path);
}

/* to += from, or to *= scale when from is to (F32 tensors of one shape). */
static void add_tensor(struct ggml_tensor *to, const struct ggml_tensor *from, float scale,
                       float *acc, float *one)
{
    size_t ne = (size_t)ggml_nelements(to);
    ggml_backend_tensor_get(to, acc, 0, ne * sizeof *acc);
    ggml_backend_tensor_get(from, one, 0, ne * sizeof *one);
    for (size_t k = 0; k < ne; k++)
        acc[k] = to == from ? scale * acc[k] : acc[k] + one[k];
    ggml_backend_tensor_set(to, acc, 0, ne * sizeof *acc);
}

cl_status cl_encoder_average(const char *const *paths, int n, const char *out_path,
                             cl_enc_wtype type, cl_error *err)
{
    if (n < 1)
        return cl_error_set(err, CL_ERR_ARG, "no model to average");
    const size_t maxt = 10 + 16 * ENC_MAX_LAYERS;
    cl_encoder **es = calloc((size_t)n, sizeof *es);
    tensor_spec *s0 = calloc(maxt, sizeof *s0), *si = calloc(maxt, sizeof *si);
    cl_status st = es && s0 && si ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == CL_OK; i++)
        if ((st = cl_encoder_open(paths[i], &es[i], err)) == CL_OK)
            st = same_tagger(es[0], es[i], paths[i], si, err);
    int nt = st == CL_OK ? tagger_specs(es[0], s0) : 0;
    size_t most = 0;
    for (int t = 0; t < nt; t++)
        most = (size_t)ggml_nelements(*s0[t].slot) > most ? (size_t)ggml_nelements(*s0[t].slot)
                                                          : most;
    float *acc = malloc(most * sizeof *acc), *one = malloc(most * sizeof *one);
    if (st == CL_OK && (!acc || !one))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    /* the first model's tensors become the sum of all, then the mean */
    for (int i = 1; i < n && st == CL_OK; i++) {
        tagger_specs(es[i], si);
        for (int t = 0; t < nt; t++)
            add_tensor(*s0[t].slot, *si[t].slot, 1.0f, acc, one);
    }
    for (int t = 0; t < nt && st == CL_OK; t++)
        add_tensor(*s0[t].slot, *s0[t].slot, 1.0f / (float)n, acc, one);
    if (st == CL_OK)
        st = cl__enc_save(es[0], out_path, type, NULL, err);
    for (int i = 0; es && i < n; i++)
        cl_encoder_free(es[i]);
    free(es);
    free(s0);
    free(si);
    free(acc);
    free(one);
    return st;
}

cl_status cl__enc_save(const cl_encoder *e, const char *path, cl_enc_wtype type,
                   const char *const *extra, cl_error *err)
{
    if (!e->cls_w)
        return cl_error_set(err, CL_ERR_INTERNAL, "encoder: no classifier to save");
    tensor_spec *specs = calloc(10 + 16 * ENC_MAX_LAYERS, sizeof *specs);
    void **bufs = calloc(10 + 16 * ENC_MAX_LAYERS, sizeof *bufs);
    cl_st_writer *w = NULL;
    cl_status st = specs && bufs ? cl_st_writer_new(&w, err)
                                 : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int n = 0;
    if (st == CL_OK)
        n = tagger_specs(e, specs);
    for (int i = 0; i < n && st == CL_OK; i++)
        st = save_tensor(w, &specs[i], type, &bufs[i], err);
    if (st == CL_OK)
        st = save_meta(e, w, extra, err);
    if (st == CL_OK)
        st = cl_st_write(w, path, err);
    for (int i = 0; bufs && i < n; i++)
        free(bufs[i]);
    free(bufs);
    free(specs);
    cl_st_writer_free(w);
    return st;
}
