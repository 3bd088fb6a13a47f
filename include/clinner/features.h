/*
 * features.h - LLM hidden states as per-token features for the CRF: one
 * vector per word token, the hidden state of the token's last sub-word
 * piece, written in the CRF's dense feature format (crf.h, cl_dense_*), so
 * that `clinner train crf --dense FILE` and `clinner tag --dense FILE` use
 * them.
 *
 * Each sentence is run alone through the model (its own text, BOS first),
 * so a word's vector sees the words before it in the sentence.  Two layers
 * are reachable through llama.h:
 *   - the last one, after the final norm, through the embeddings output
 *     with pooling off (llama_get_embeddings_ith), the default;
 *   - any block's output (the residual stream "l_out-N" in llama.cpp's
 *     graph, N counted from 0) through the scheduler's evaluation callback
 *     (llama_context_params.cb_eval), which copies that tensor out while the
 *     graph runs.
 * Vectors are cached on disk, keyed by the model file's hash, the layer, the
 * context size and every document's id, text and token offsets.
 */
#ifndef CLINNER_FEATURES_H
#define CLINNER_FEATURES_H

#include "clinner/doc.h"
#include "clinner/tagger.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CL_FEATURES_LAST_LAYER (-1)

typedef struct cl_features_params {
    const char *model_path; /* GGUF (any type) */
    int32_t layer;          /* CL_FEATURES_LAST_LAYER (default): the final normed
                             * state; N >= 0: the output of block N ("l_out-N") */
    int32_t n_ctx;          /* model tokens per sentence (default 1024); longer
                             * sentences are cut into pieces of n_ctx */
    int32_t threads;        /* 0: all cores */
    const char *cache_dir;  /* NULL: the cache's features/ folder ($CLINNER_CACHE or
                             * ~/.cache/clinner) */
    bool no_cache;          /* neither read nor write a cached file */
    bool verbose;           /* llama.cpp's own log */
    cl_log_fn log;          /* notes (cache hit, long sentences); may be NULL */
    void *log_ctx;
    /* Called after each document (done of total); may be NULL. */
    void (*progress)(void *ctx, int32_t done, int32_t total, int64_t model_tokens);
    void *progress_ctx;
} cl_features_params;

cl_features_params cl_features_default_params(void);

typedef struct cl_features_result {
    int32_t dim;
    int32_t documents;
    int64_t tokens;       /* word tokens (rows written) */
    int64_t model_tokens; /* model tokens run */
    int64_t cut;          /* sentences longer than n_ctx, run in pieces */
    bool from_cache;
    double seconds;
} cl_features_result;

/* Compute the vectors of every token of c (tokenized) and write them to
 * out_path (atomic) in the dense feature format, one record per document. */
cl_status cl_features_export(const cl_features_params *p, const cl_corpus *c,
                             const char *out_path, cl_features_result *res, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
