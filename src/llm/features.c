/*
 * features.c - `clinner features`: per-token LLM hidden states in the CRF's
 * dense feature format (features.h).
 *
 * A sentence's text (from its first token's start to its last token's end,
 * as in the document) is tokenized by the model with BOS and run in one
 * llama_decode with every position as an output.  Each model token gets its
 * byte range from its piece (ft_tokenize), and a word token takes the
 * vector of the last model token that overlaps it: the state that has read
 * the whole word.  The last layer comes from llama_get_embeddings_ith
 * (pooling off); an inner block's output is copied from the graph by the
 * scheduler's evaluation callback when it asks for the tensor "l_out-N";
 * the callback then stops the graph, so an inner layer costs only the
 * blocks up to it (the logits the context would compute are garbage and
 * never read).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/crf.h"
#include "clinner/features.h"
#include "llm/finetune_internal.h"

cl_features_params cl_features_default_params(void)
{
    cl_features_params p;
    memset(&p, 0, sizeof p);
    p.layer = CL_FEATURES_LAST_LAYER;
    p.n_ctx = 1024;
    return p;
}

/* The evaluation callback's state: which tensor to copy and where. */
typedef struct layer_grab {
    char name[32];
    float *data; /* n_embd * ntok, grown as needed */
    size_t cap;  /* floats */
    int64_t rows, cols;
    bool got;
} layer_grab;

static bool grab_cb(struct ggml_tensor *t, bool ask, void *ud)
{
    layer_grab *g = ud;
    if (strcmp(ggml_get_name(t), g->name) != 0)
        return ask ? false : true;
    if (ask)
        return true;
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t))
        return true; /* reported as missing by the caller */
    size_t n = (size_t)ggml_nelements(t);
    if (n > g->cap) {
        float *d = realloc(g->data, n * sizeof *d);
        if (!d)
            return true;
        g->data = d;
        g->cap = n;
    }
    ggml_backend_tensor_get(t, g->data, 0, n * sizeof(float));
    g->cols = t->ne[0];
    g->rows = (int64_t)(n / (size_t)t->ne[0]);
    g->got = true;
    /* Nothing after this block is needed: false stops the graph here (the
     * scheduler leaves the rest of the split uncomputed), which saves the
     * later blocks and the logits. */
    return false;
}

static void note(const cl_features_params *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note(const cl_features_params *p, const char *fmt, ...)
{
    if (!p->log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->log(p->log_ctx, msg);
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ull;
    return h;
}

/* Cache key: model hash, layer, context, and every document's id, text and
 * token offsets. */
static uint64_t corpus_key(const char *mhash, const cl_features_params *p, const cl_corpus *c)
{
    uint64_t h = fnv(1469598103934665603ull, mhash, 16);
    int32_t v[3] = {p->layer, p->n_ctx, 1 /* format version */};
    h = fnv(h, v, sizeof v);
    for (int32_t d = 0; d < c->ndocs; d++) {
        const cl_doc *doc = c->docs[d];
        const char *id = doc->id ? doc->id : "";
        h = fnv(h, id, strlen(id) + 1);
        h = fnv(h, doc->text, doc->text_bytes);
        h = fnv(h, &doc->ntokens, sizeof doc->ntokens);
        if (doc->ntokens)
            h = fnv(h, doc->tokens, sizeof *doc->tokens * (size_t)doc->ntokens);
    }
    return h;
}

static cl_status copy_file(const char *from, const char *to, cl_error *err)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return cl_error_set(err, CL_ERR_IO, "%s: %s", from, strerror(errno));
    cl_atomic_file f;
    cl_status st = cl_atomic_open(&f, to, err);
    if (st != CL_OK) {
        fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, f.fp) != n)
            break;
    bool bad = ferror(in) || ferror(f.fp);
    fclose(in);
    if (bad) {
        cl_atomic_abort(&f);
        return cl_error_set(err, CL_ERR_IO, "copying %s to %s failed", from, to);
    }
    return cl_atomic_commit(&f, err);
}

typedef struct fx {
    const cl_features_params *p;
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    struct llama_batch batch;
    layer_grab grab;
    int32_t dim;
} fx;

/* Vectors of model tokens [0, n) of toks into out (n * dim). */
static cl_status run_tokens(fx *x, const llama_token *toks, int32_t n, float *out, cl_error *err)
{
    llama_memory_clear(llama_get_memory(x->ctx), true);
    x->batch.n_tokens = n;
    for (int32_t i = 0; i < n; i++) {
        x->batch.token[i] = toks[i];
        x->batch.pos[i] = i;
        x->batch.n_seq_id[i] = 1;
        x->batch.seq_id[i][0] = 0;
        x->batch.logits[i] = 1;
    }
    x->grab.got = false;
    if (llama_decode(x->ctx, x->batch) != 0)
        return cl_error_set(err, CL_ERR_MODEL, "llama_decode failed on %d tokens", n);
    if (x->p->layer == CL_FEATURES_LAST_LAYER) {
        for (int32_t i = 0; i < n; i++) {
            const float *e = llama_get_embeddings_ith(x->ctx, i);
            if (!e)
                return cl_error_set(err, CL_ERR_MODEL, "no embeddings output for token %d", i);
            memcpy(out + (size_t)i * (size_t)x->dim, e, sizeof(float) * (size_t)x->dim);
        }
        return CL_OK;
    }
    if (!x->grab.got || x->grab.cols != x->dim || x->grab.rows != n)
        return cl_error_set(err, CL_ERR_MODEL,
                            "the model's graph has no usable tensor %s for %d tokens (layer "
                            "out of range, or an architecture that names it otherwise)",
                            x->grab.name, n);
    memcpy(out, x->grab.data, sizeof(float) * (size_t)n * (size_t)x->dim);
    return CL_OK;
}

/* Rows of one document into rows (ntokens * dim, zeroed by the caller). */
static cl_status run_doc(fx *x, const cl_doc *doc, float *rows, cl_features_result *res,
                         cl_error *err)
{
    cl_status st = CL_OK;
    float *vec = NULL;
    size_t veccap = 0;
    for (int32_t s = 0; s < doc->nsentences && st == CL_OK; s++) {
        const cl_sentence *se = &doc->sentences[s];
        if (se->tok_end <= se->tok_begin)
            continue;
        size_t nb;
        const char *first = cl_doc_token_bytes(doc, se->tok_begin, &nb);
        const char *last = cl_doc_token_bytes(doc, se->tok_end - 1, &nb);
        size_t len = (size_t)(last + nb - first);
        llama_token *toks = NULL;
        size_t *ends = NULL;
        int32_t nt = 0;
        st = ft_tokenize_text(x->vocab, first, len, false, &toks, &nt, &ends, err);
        if (st != CL_OK)
            break;
        if ((size_t)nt > veccap) {
            float *v = realloc(vec, sizeof(float) * (size_t)nt * (size_t)x->dim);
            if (!v) {
                free(toks);
                free(ends);
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                break;
            }
            vec = v;
            veccap = (size_t)nt;
        }
        /* Pieces of n_ctx tokens; each after the first starts without BOS or
         * left context (rare: sentences are far shorter). */
        if (nt > x->p->n_ctx)
            res->cut++;
        for (int32_t b = 0; b < nt && st == CL_OK; b += x->p->n_ctx) {
            int32_t n = nt - b < x->p->n_ctx ? nt - b : x->p->n_ctx;
            st = run_tokens(x, toks + b, n, vec + (size_t)b * (size_t)x->dim, err);
            res->model_tokens += n;
        }
        /* Word token w takes the last model token overlapping its bytes. */
        int32_t k = 0;
        for (int32_t w = se->tok_begin; w < se->tok_end && st == CL_OK; w++) {
            size_t wb;
            const char *wp = cl_doc_token_bytes(doc, w, &wb);
            size_t ws = (size_t)(wp - first), we = ws + wb;
            while (k + 1 < nt && ends[k] < we)
                k++;
            (void)ws;
            memcpy(rows + (size_t)w * (size_t)x->dim, vec + (size_t)k * (size_t)x->dim,
                   sizeof(float) * (size_t)x->dim);
            res->tokens++;
        }
        free(toks);
        free(ends);
    }
    free(vec);
    return st;
}

cl_status cl_features_export(const cl_features_params *p, const cl_corpus *c,
                             const char *out_path, cl_features_result *res, cl_error *err)
{
    memset(res, 0, sizeof *res);
    double t0 = cl_now();
    if (!p->model_path || !out_path)
        return cl_error_set(err, CL_ERR_ARG, "features: a model and an output path are needed");
    if (p->n_ctx < 16 || p->n_ctx > 65536)
        return cl_error_set(err, CL_ERR_ARG, "--ctx must be in 16..65536 (got %d)", p->n_ctx);
    if (p->layer < CL_FEATURES_LAST_LAYER)
        return cl_error_set(err, CL_ERR_ARG, "--layer must be 'last' or a block number >= 0");
    for (int32_t d = 0; d < c->ndocs; d++)
        if (c->docs[d]->ntokens > 0 && !c->docs[d]->sentences)
            return cl_error_set(err, CL_ERR_ARG, "document %s has tokens but no sentences",
                                c->docs[d]->id ? c->docs[d]->id : "?");
    cl_status st = cl_gguf_check(p->model_path, err);
    if (st != CL_OK)
        return st;
    char mhash[17];
    if ((st = ft_file_hash(p->model_path, mhash, err)) != CL_OK)
        return st;
    char *cache_path = NULL;
    if (p->cache_dir) {
        char name[64];
        snprintf(name, sizeof name, "%016llx.dense",
                 (unsigned long long)corpus_key(mhash, p, c));
        if ((st = cl_mkdir_p(p->cache_dir, err)) != CL_OK)
            return st;
        cache_path = cl_path_join(p->cache_dir, name);
        if (!cache_path)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        if (access(cache_path, R_OK) == 0) {
            cl_dense_table *t = NULL;
            st = cl_dense_read(cache_path, &t, err); /* also checks the file */
            if (st == CL_OK) {
                res->dim = cl_dense_dim(t);
                cl_dense_free(t);
                st = copy_file(cache_path, out_path, err);
            }
            if (st == CL_OK) {
                res->from_cache = true;
                res->documents = c->ndocs;
                res->tokens = cl_corpus_ntokens(c);
                res->seconds = cl_now() - t0;
                note(p, "features from the cache: %s", cache_path);
                free(cache_path);
                return CL_OK;
            }
            note(p, "ignoring a bad cache file %s: %s", cache_path, err ? err->msg : "");
            cl_error_clear(err);
            st = CL_OK;
        }
    }

    fx x;
    memset(&x, 0, sizeof x);
    x.p = p;
    float *rows = NULL;
    cl_atomic_file f;
    bool open = false;
    cl_llm_init_backend(p->verbose);
    struct llama_model_params mp = llama_model_default_params();
    x.model = llama_model_load_from_file(p->model_path, mp);
    if (!x.model) {
        st = cl_error_set(err, CL_ERR_MODEL, "%s: llama.cpp could not load the model",
                          p->model_path);
        goto done;
    }
    x.vocab = llama_model_get_vocab(x.model);
    x.dim = llama_model_n_embd(x.model);
    int32_t n_layer = llama_model_n_layer(x.model);
    if (p->layer >= n_layer) {
        st = cl_error_set(err, CL_ERR_ARG, "--layer %d: the model has blocks 0..%d", p->layer,
                          n_layer - 1);
        goto done;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)p->n_ctx;
    cp.n_seq_max = 1;
    int32_t threads = p->threads > 0 ? p->threads : cl_llm_ncpu();
    cp.n_threads = cp.n_threads_batch = threads;
    cp.no_perf = true;
    if (p->layer == CL_FEATURES_LAST_LAYER) {
        cp.embeddings = true;
        cp.pooling_type = LLAMA_POOLING_TYPE_NONE;
    } else {
        snprintf(x.grab.name, sizeof x.grab.name, "l_out-%d", p->layer);
        cp.cb_eval = grab_cb;
        cp.cb_eval_user_data = &x.grab;
    }
    x.ctx = llama_init_from_model(x.model, cp);
    if (!x.ctx) {
        st = cl_error_set(err, CL_ERR_MODEL, "cannot create a context of %d tokens", p->n_ctx);
        goto done;
    }
    x.batch = llama_batch_init(p->n_ctx, 0, 1);
    res->dim = x.dim;
    if ((st = cl_atomic_open(&f, out_path, err)) != CL_OK)
        goto done;
    open = true;
    if ((st = cl_dense_write_header(f.fp, x.dim, err)) != CL_OK)
        goto done;
    for (int32_t d = 0; d < c->ndocs; d++) {
        const cl_doc *doc = c->docs[d];
        size_t n = (size_t)doc->ntokens * (size_t)x.dim;
        free(rows);
        rows = calloc(n ? n : 1, sizeof *rows);
        if (!rows) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            goto done;
        }
        if ((st = run_doc(&x, doc, rows, res, err)) != CL_OK) {
            cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
            goto done;
        }
        if ((st = cl_dense_write_doc(f.fp, doc->id ? doc->id : "", doc->ntokens, x.dim, rows,
                                     err)) != CL_OK)
            goto done;
        res->documents++;
        if (p->progress)
            p->progress(p->progress_ctx, d + 1, c->ndocs, res->model_tokens);
    }
    st = cl_atomic_commit(&f, err);
    open = false;
    if (st == CL_OK && cache_path) {
        cl_error e2;
        if (copy_file(out_path, cache_path, &e2) != CL_OK)
            note(p, "could not cache the features: %s", e2.msg);
    }
    if (res->cut)
        note(p, "%lld sentences longer than --ctx %d tokens were run in pieces",
             (long long)res->cut, p->n_ctx);
done:
    if (open)
        cl_atomic_abort(&f);
    free(rows);
    free(x.grab.data);
    if (x.batch.token)
        llama_batch_free(x.batch);
    if (x.ctx)
        llama_free(x.ctx);
    if (x.model)
        llama_model_free(x.model);
    free(cache_path);
    res->seconds = cl_now() - t0;
    return st;
}
