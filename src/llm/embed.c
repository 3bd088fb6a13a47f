/*
 * embed.c - text embeddings from a GGUF model through llama.cpp, and the
 * embedding retriever that rag prompts use with --embed-model.
 *
 * The model's own pooling is used (CLS for BERT-style embedding models,
 * mean for others); a model that names none (a chat model such as
 * SmolLM2, which then serves as a weak embedder) gets mean pooling.
 * Vectors are L2-normalised, so ranking by dot product is ranking by
 * cosine similarity.  Embedding a knowledge base is slow on a CPU, so the
 * passage vectors are cached on disk in binfile.h's container (checksummed),
 * keyed by the knowledge base's fingerprint and the model file (path, size,
 * mtime).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clinner/binfile.h"
#include "llm/llm_internal.h"

struct cl_llama_embedder {
    cl_llama_model *m;
    struct llama_context *ctx;
    struct llama_batch batch;
    int32_t n_ctx;
    int32_t dim;
    uint64_t model_key;
};

cl_llama_embed_params cl_llama_embed_default_params(void)
{
    cl_llama_embed_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 512;
    return p;
}

static struct llama_context *embed_context(cl_llama_model *m, int32_t n_ctx, int32_t threads,
                                           enum llama_pooling_type pooling)
{
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)n_ctx;
    cp.n_batch = (uint32_t)n_ctx;
    cp.n_ubatch = (uint32_t)n_ctx; /* non-causal models need the whole text at once */
    cp.n_seq_max = 1;
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.embeddings = true;
    cp.pooling_type = pooling;
    cp.no_perf = true;
    return llama_init_from_model(m->model, cp);
}

cl_status cl_llama_embedder_new(const cl_llama_embed_params *params, cl_llama_embedder **out,
                                cl_error *err)
{
    *out = NULL;
    cl_llama_embed_params p = params ? *params : cl_llama_embed_default_params();
    if (!p.model_path)
        return cl_error_set(err, CL_ERR_ARG, "embeddings: no model given (model_path)");
    if (p.n_ctx < 8 || p.n_ctx > 1 << 16)
        return cl_error_set(err, CL_ERR_ARG, "embeddings: context must be in 8..65536 (got %d)",
                            p.n_ctx);
    int32_t threads = p.n_threads > 0 ? p.n_threads : cl_llm_ncpu();
    cl_llama_embedder *e = calloc(1, sizeof *e);
    if (!e)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    e->n_ctx = p.n_ctx;
    cl_status st = cl_llama_model_load(p.model_path, p.verbose, &e->m, err);
    if (st != CL_OK) {
        free(e);
        return st;
    }
    e->ctx = embed_context(e->m, e->n_ctx, threads, LLAMA_POOLING_TYPE_UNSPECIFIED);
    if (e->ctx && llama_pooling_type(e->ctx) == LLAMA_POOLING_TYPE_NONE) {
        llama_free(e->ctx);
        e->ctx = embed_context(e->m, e->n_ctx, threads, LLAMA_POOLING_TYPE_MEAN);
    }
    if (!e->ctx) {
        cl_llama_embedder_free(e);
        return cl_error_set(err, CL_ERR_MODEL,
                            "%s: llama.cpp could not create an embedding context", p.model_path);
    }
    e->dim = llama_model_n_embd(e->m->model);
    e->batch = llama_batch_init(e->n_ctx, 0, 1);
    struct stat sb;
    uint64_t h = cl_fnv1a64(CL_FNV64_INIT, p.model_path, strlen(p.model_path));
    if (stat(p.model_path, &sb) == 0) {
        int64_t meta[2] = {(int64_t)sb.st_size, (int64_t)sb.st_mtime};
        h = cl_fnv1a64(h, meta, sizeof meta);
    }
    h = cl_fnv1a64(h, &e->n_ctx, sizeof e->n_ctx);
    e->model_key = h;
    *out = e;
    return CL_OK;
}

void cl_llama_embedder_free(cl_llama_embedder *e)
{
    if (!e)
        return;
    if (e->batch.token)
        llama_batch_free(e->batch);
    if (e->ctx)
        llama_free(e->ctx);
    cl_llama_model_free(e->m);
    free(e);
}

int32_t cl_llama_embedder_dim(const cl_llama_embedder *e) { return e->dim; }

static cl_status embed_one(cl_llama_embedder *e, const char *text, float *out, cl_error *err)
{
    llama_token *t;
    int32_t n;
    cl_status st = cl_llm_tokenize(e->m, text, strlen(text), true, false, &t, &n, err);
    if (st != CL_OK)
        return st;
    if (n > e->n_ctx)
        n = e->n_ctx; /* long passages are cut */
    if (n == 0) {
        free(t);
        memset(out, 0, (size_t)e->dim * sizeof *out);
        return CL_OK;
    }
    llama_memory_clear(llama_get_memory(e->ctx), true);
    e->batch.n_tokens = 0;
    for (int32_t i = 0; i < n; i++) {
        e->batch.token[i] = t[i];
        e->batch.pos[i] = i;
        e->batch.n_seq_id[i] = 1;
        e->batch.seq_id[i][0] = 0;
        e->batch.logits[i] = true;
        e->batch.n_tokens++;
    }
    free(t);
    int32_t rc = llama_decode(e->ctx, e->batch);
    const float *v = rc == 0 ? llama_get_embeddings_seq(e->ctx, 0) : NULL;
    if (!v)
        return cl_error_set(err, CL_ERR_MODEL, "embeddings: llama.cpp failed (%d)", rc);
    double norm = 0;
    for (int32_t i = 0; i < e->dim; i++)
        norm += (double)v[i] * v[i];
    norm = norm > 0 ? sqrt(norm) : 1;
    for (int32_t i = 0; i < e->dim; i++)
        out[i] = (float)(v[i] / norm);
    return CL_OK;
}

cl_status cl_llama_embed(cl_llama_embedder *e, const char *const *texts, int32_t n, float *out,
                         cl_error *err)
{
    for (int32_t i = 0; i < n; i++) {
        cl_status st = embed_one(e, texts[i], out + (size_t)i * (size_t)e->dim, err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

/* ---- the retriever ---- */

typedef struct embed_retriever {
    cl_llama_embedder *e;
    cl_kb *kb;
    float *vecs; /* npassages x dim */
    float *query;
} embed_retriever;

#define CACHE_MAGIC "CLNREMB"   /* binfile.h's container */
#define CACHE_VERSION 2u        /* 1 ("CLEMB001", no container): ignored, rebuilt */

static char *cache_path(const char *dir, uint64_t key)
{
    char name[64];
    snprintf(name, sizeof name, "emb-%016llx.bin", (unsigned long long)key);
    return cl_path_join(dir, name);
}

/* Load cached vectors; false when absent or not valid (then they are
 * computed again and the file replaced). */
static bool cache_load(const char *path, uint64_t key, int32_t n, int32_t dim, float *vecs)
{
    char *data;
    size_t size;
    if (cl_read_file(path, &data, &size, NULL) != CL_OK)
        return false;
    cl_binr r;
    bool ok = cl_binr_open(&r, data, size, CACHE_MAGIC, CACHE_VERSION, CACHE_VERSION, NULL, path,
                           "embedding cache", CL_ERR_FORMAT, NULL) == CL_OK &&
              cl_binr_u64(&r) == key && cl_binr_i32(&r) == n && cl_binr_i32(&r) == dim &&
              cl_binr_f32s(&r, vecs, (size_t)n * (size_t)dim) && cl_binr_done(&r);
    free(data);
    return ok;
}

static void cache_save(const char *dir, const char *path, uint64_t key, int32_t n, int32_t dim,
                       const float *vecs)
{
    if (cl_mkdir_p(dir, NULL) != CL_OK)
        return;
    cl_binw w;
    cl_binw_init(&w);
    cl_binw_u64(&w, key);
    cl_binw_i32(&w, n);
    cl_binw_i32(&w, dim);
    cl_binw_f32s(&w, vecs, (size_t)n * (size_t)dim);
    cl_binw_save(&w, path, CACHE_MAGIC, CACHE_VERSION, NULL); /* a cache that cannot be
                                                               * written is not an error */
    cl_binw_free(&w);
}

static cl_status er_top_k(void *self, const char *query_text, const char *const *query_terms,
                          int32_t nterms, const char *exclude_doc_id, int32_t k,
                          cl_retrieved *out, int32_t *nout, cl_error *err)
{
    (void)query_terms;
    (void)nterms;
    embed_retriever *r = self;
    *nout = 0;
    int32_t dim = r->e->dim;
    cl_status st = embed_one(r->e, query_text ? query_text : "", r->query, err);
    if (st != CL_OK)
        return st;
    for (int32_t p = 0; p < r->kb->npassages; p++) {
        const cl_kb_passage *ps = &r->kb->passages[p];
        if (exclude_doc_id && ps->doc_id && strcmp(ps->doc_id, exclude_doc_id) == 0)
            continue;
        double s = 0;
        const float *v = r->vecs + (size_t)p * (size_t)dim;
        for (int32_t i = 0; i < dim; i++)
            s += (double)v[i] * r->query[i];
        /* insert into the sorted top list; ties keep passage order */
        int32_t at;
        if (*nout < k)
            at = (*nout)++;
        else if (k > 0 && s > out[k - 1].score)
            at = k - 1;
        else
            continue;
        while (at > 0 && out[at - 1].score < s) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = (cl_retrieved){p, s, ps->doc_id, ps->text};
    }
    return CL_OK;
}

static void er_free(void *self)
{
    embed_retriever *r = self;
    if (!r)
        return;
    cl_llama_embedder_free(r->e);
    cl_kb_free(r->kb);
    free(r->vecs);
    free(r->query);
    free(r);
}

static const cl_retriever_ops embed_ops = {.name = "embedding", .top_k = er_top_k,
                                           .free = er_free};

cl_status cl_llama_embed_retriever_new(const cl_llama_embed_params *params, cl_kb *kb,
                                       cl_retriever *out, cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    embed_retriever *r = calloc(1, sizeof *r);
    if (!r) {
        cl_kb_free(kb);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    r->kb = kb;
    cl_status st = cl_llama_embedder_new(params, &r->e, err);
    if (st != CL_OK) {
        er_free(r);
        return st;
    }
    int32_t n = kb->npassages, dim = r->e->dim;
    r->vecs = malloc(((size_t)n + 1) * (size_t)dim * sizeof *r->vecs);
    r->query = malloc((size_t)dim * sizeof *r->query);
    if (!r->vecs || !r->query) {
        er_free(r);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    const char *dir = params ? params->cache_dir : NULL;
    uint64_t key = cl_fnv1a64(cl_kb_fingerprint(kb), &r->e->model_key, sizeof r->e->model_key);
    char *path = dir ? cache_path(dir, key) : NULL;
    if (!path || !cache_load(path, key, n, dim, r->vecs)) {
        for (int32_t p = 0; p < n; p++) {
            st = embed_one(r->e, kb->passages[p].text, r->vecs + (size_t)p * (size_t)dim, err);
            if (st != CL_OK) {
                free(path);
                er_free(r);
                return st;
            }
        }
        if (path)
            cache_save(dir, path, key, n, dim, r->vecs);
    }
    free(path);
    out->ops = &embed_ops;
    out->self = r;
    return CL_OK;
}
