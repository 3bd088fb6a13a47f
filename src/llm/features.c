/*
 * features.c - `clinner features`: per-token LLM hidden states in the CRF's
 * dense feature format (features.h).
 *
 * A sentence's text (from its first token's start to its last token's end,
 * as in the document) is tokenized by the model with BOS and run as its own
 * sequence (up to 16 sentences of a document share one llama_decode, in
 * parallel sequences) with every position as an output.  Each model token gets its
 * byte range from its piece (cl__ft_tokenize), and a word token takes the
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

/* Cache key: model hash, layer, context, and every document's id, text and
 * token offsets. */
static uint64_t corpus_key(const char *mhash, const cl_features_params *p, const cl_corpus *c)
{
    uint64_t h = cl_fnv1a64(CL_FNV64_INIT, mhash, 16);
    int32_t v[3] = {p->layer, p->n_ctx, 1 /* format version */};
    h = cl_fnv1a64(h, v, sizeof v);
    for (int32_t d = 0; d < c->ndocs; d++) {
        const cl_doc *doc = c->docs[d];
        const char *id = doc->id ? doc->id : "";
        h = cl_fnv1a64(h, id, strlen(id) + 1);
        h = cl_fnv1a64(h, doc->text, doc->text_bytes);
        h = cl_fnv1a64(h, &doc->ntokens, sizeof doc->ntokens);
        if (doc->ntokens)
            h = cl_fnv1a64(h, doc->tokens, sizeof *doc->tokens * (size_t)doc->ntokens);
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

/* Run seqs[0..nseq) (model tokens, each its own sequence from position 0)
 * in one llama_decode and copy every position's vector into outs[k]. */
typedef struct fx_seq {
    const llama_token *toks;
    int32_t n;
    float *out; /* n * dim */
} fx_seq;

static cl_status run_batch(fx *x, const fx_seq *seqs, int32_t nseq, cl_error *err)
{
    llama_memory_clear(llama_get_memory(x->ctx), true);
    int32_t nb = 0;
    for (int32_t k = 0; k < nseq; k++)
        for (int32_t i = 0; i < seqs[k].n; i++, nb++) {
            x->batch.token[nb] = seqs[k].toks[i];
            x->batch.pos[nb] = i;
            x->batch.n_seq_id[nb] = 1;
            x->batch.seq_id[nb][0] = k;
            x->batch.logits[nb] = 1;
        }
    x->batch.n_tokens = nb;
    x->grab.got = false;
    if (llama_decode(x->ctx, x->batch) != 0)
        return cl_error_set(err, CL_ERR_MODEL, "llama_decode failed on %d tokens", nb);
    bool last = x->p->layer == CL_FEATURES_LAST_LAYER;
    if (!last && (!x->grab.got || x->grab.cols != x->dim || x->grab.rows != nb))
        return cl_error_set(err, CL_ERR_MODEL,
                            "the model's graph has no usable tensor %s for %d tokens (layer "
                            "out of range, or an architecture that names it otherwise)",
                            x->grab.name, nb);
    /* One ubatch with a unified cache keeps the batch order (split_simple),
     * so row j of the grabbed tensor is batch position j. */
    int32_t j = 0;
    for (int32_t k = 0; k < nseq; k++)
        for (int32_t i = 0; i < seqs[k].n; i++, j++) {
            const float *e = last ? llama_get_embeddings_ith(x->ctx, j)
                                  : x->grab.data + (size_t)j * (size_t)x->dim;
            if (!e)
                return cl_error_set(err, CL_ERR_MODEL, "no embeddings output for token %d", j);
            memcpy(seqs[k].out + (size_t)i * (size_t)x->dim, e, sizeof(float) * (size_t)x->dim);
        }
    return CL_OK;
}

#define FX_MAX_SEQ 16

/* One sentence, tokenized, with its vectors. */
typedef struct fx_sent {
    llama_token *toks;
    size_t *ends;
    int32_t n;
    float *vec;
} fx_sent;

/* Word token w of sentence s takes the last model token overlapping it. */
static void map_words(const fx *x, const cl_doc *doc, const cl_sentence *se, const fx_sent *fs,
                      float *rows)
{
    size_t nb;
    const char *first = cl_doc_token_bytes(doc, se->tok_begin, &nb);
    int32_t k = 0;
    for (int32_t w = se->tok_begin; w < se->tok_end; w++) {
        size_t wb;
        const char *wp = cl_doc_token_bytes(doc, w, &wb);
        size_t we = (size_t)(wp - first) + wb;
        while (k + 1 < fs->n && fs->ends[k] < we)
            k++;
        memcpy(rows + (size_t)w * (size_t)x->dim, fs->vec + (size_t)k * (size_t)x->dim,
               sizeof(float) * (size_t)x->dim);
    }
}

/* Rows of one document into rows (ntokens * dim, zeroed by the caller):
 * its sentences run FX_MAX_SEQ at a time in parallel sequences of one
 * batch of at most n_ctx tokens; a longer sentence runs alone, in pieces. */
static cl_status run_doc(fx *x, const cl_doc *doc, float *rows, cl_features_result *res,
                         cl_error *err)
{
    int32_t ns = doc->nsentences;
    fx_sent *fs = calloc((size_t)(ns ? ns : 1), sizeof *fs);
    if (!fs)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_status st = CL_OK;
    for (int32_t s = 0; s < ns && st == CL_OK; s++) {
        const cl_sentence *se = &doc->sentences[s];
        if (se->tok_end <= se->tok_begin)
            continue;
        size_t nb;
        const char *first = cl_doc_token_bytes(doc, se->tok_begin, &nb);
        const char *lastp = cl_doc_token_bytes(doc, se->tok_end - 1, &nb);
        st = cl__ft_tokenize_text(x->vocab, first, (size_t)(lastp + nb - first), false, &fs[s].toks,
                              &fs[s].n, &fs[s].ends, err);
        if (st == CL_OK && fs[s].n > 0 &&
            !(fs[s].vec = malloc(sizeof(float) * (size_t)fs[s].n * (size_t)x->dim)))
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    int32_t s = 0;
    while (st == CL_OK && s < ns) {
        if (fs[s].n == 0) {
            s++;
            continue;
        }
        fx_seq group[FX_MAX_SEQ];
        int32_t ng = 0;
        if (fs[s].n > x->p->n_ctx) {
            /* pieces of n_ctx tokens, each without left context (rare) */
            res->cut++;
            for (int32_t b = 0; b < fs[s].n && st == CL_OK; b += x->p->n_ctx) {
                fx_seq one = {fs[s].toks + b,
                              fs[s].n - b < x->p->n_ctx ? fs[s].n - b : x->p->n_ctx,
                              fs[s].vec + (size_t)b * (size_t)x->dim};
                st = run_batch(x, &one, 1, err);
                res->model_tokens += one.n;
            }
            s++;
            continue;
        }
        int32_t total = 0;
        while (s < ns && ng < FX_MAX_SEQ && (fs[s].n == 0 || total + fs[s].n <= x->p->n_ctx)) {
            if (fs[s].n > 0) {
                group[ng++] = (fx_seq){fs[s].toks, fs[s].n, fs[s].vec};
                total += fs[s].n;
            }
            s++;
        }
        st = run_batch(x, group, ng, err);
        res->model_tokens += total;
    }
    for (int32_t k = 0; k < ns; k++) {
        const cl_sentence *se = &doc->sentences[k];
        if (st == CL_OK && fs[k].n > 0) {
            map_words(x, doc, se, &fs[k], rows);
            res->tokens += se->tok_end - se->tok_begin;
        }
        free(fs[k].toks);
        free(fs[k].ends);
        free(fs[k].vec);
    }
    free(fs);
    return st;
}

/* The cache file of key: in p->cache_dir, else in the cache's features/
 * folder; *out NULL when caching is off or no cache folder can be named. */
static cl_status cache_file(const cl_features_params *p, uint64_t key, char **out, cl_error *err)
{
    *out = NULL;
    if (p->no_cache)
        return CL_OK;
    char *dflt = p->cache_dir ? NULL : cl_default_cache_dir("features");
    const char *dir = p->cache_dir ? p->cache_dir : dflt;
    char name[64];
    snprintf(name, sizeof name, "%016llx.dense", (unsigned long long)key);
    cl_status st = dir ? cl_mkdir_p(dir, err) : CL_OK;
    if (st == CL_OK && dir && !(*out = cl_path_join(dir, name)))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    free(dflt);
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
        return cl_error_set(err, CL_ERR_ARG, "n_ctx must be in 16..65536 (got %d)", p->n_ctx);
    if (p->layer < CL_FEATURES_LAST_LAYER)
        return cl_error_set(err, CL_ERR_ARG, "layer must be 'last' or a block number >= 0");
    for (int32_t d = 0; d < c->ndocs; d++)
        if (c->docs[d]->ntokens > 0 && !c->docs[d]->sentences)
            return cl_error_set(err, CL_ERR_ARG, "document %s has tokens but no sentences",
                                c->docs[d]->id ? c->docs[d]->id : "?");
    cl_status st = cl_gguf_check(p->model_path, err);
    if (st != CL_OK)
        return st;
    char mhash[17];
    if ((st = cl__ft_file_hash(p->model_path, mhash, err)) != CL_OK)
        return st;
    char *cache_path = NULL;
    uint64_t key = corpus_key(mhash, p, c);
    if ((st = cache_file(p, key, &cache_path, err)) != CL_OK)
        return st;
    if (cache_path) {
        if (access(cache_path, R_OK) == 0) {
            cl_dense_table *t = NULL;
            st = cl_dense_read(cache_path, &t, err); /* also checks the file */
            if (st == CL_OK && cl_dense_key(t) != key && cl_dense_key(t) != 0) {
                /* (0: a file of the first format, before keys; its name is the key) */
                st = cl_error_set(err, CL_ERR_FORMAT, "computed from other inputs (key %016llx)",
                                  (unsigned long long)cl_dense_key(t));
                cl_dense_free(t);
            } else if (st == CL_OK) {
                res->dim = cl_dense_dim(t);
                cl_dense_free(t);
                st = copy_file(cache_path, out_path, err);
            }
            if (st == CL_OK) {
                res->from_cache = true;
                res->documents = c->ndocs;
                res->tokens = cl_corpus_ntokens(c);
                res->seconds = cl_now() - t0;
                cl_logf(p->log, p->log_ctx, "features from the cache: %s", cache_path);
                free(cache_path);
                return CL_OK;
            }
            cl_logf(p->log, p->log_ctx, "ignoring a bad cache file %s: %s", cache_path, err ? err->msg : "");
            cl_error_clear(err);
            st = CL_OK;
        }
    }

    fx x;
    memset(&x, 0, sizeof x);
    x.p = p;
    float *rows = NULL;
    cl_dense_writer *dw = NULL;
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
        st = cl_error_set(err, CL_ERR_ARG, "layer %d: the model has blocks 0..%d", p->layer,
                          n_layer - 1);
        goto done;
    }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)p->n_ctx;
    cp.n_seq_max = FX_MAX_SEQ;
    cp.kv_unified = true; /* sequences share the cache; batch order kept */
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
    if ((st = cl_dense_writer_open(out_path, x.dim, key, &dw, err)) != CL_OK)
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
        if ((st = cl_dense_writer_add(dw, doc->id ? doc->id : "", doc->ntokens, rows, err)) !=
            CL_OK)
            goto done;
        res->documents++;
        if (p->progress)
            p->progress(p->progress_ctx, d + 1, c->ndocs, res->model_tokens);
    }
    st = cl_dense_writer_commit(dw, err);
    dw = NULL;
    if (st == CL_OK && cache_path) {
        cl_error e2;
        if (copy_file(out_path, cache_path, &e2) != CL_OK)
            cl_logf(p->log, p->log_ctx, "could not cache the features: %s", e2.msg);
    }
    if (res->cut)
        cl_logf(p->log, p->log_ctx, "%lld sentences longer than n_ctx %d tokens were run in pieces",
             (long long)res->cut, p->n_ctx);
done:
    cl_dense_writer_free(dw);
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
