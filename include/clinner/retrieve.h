/*
 * retrieve.h - lexical retrieval for the LLM prompts: an Okapi BM25 index
 * (kNN-shot example selection, RAG passage search), a knowledge base of
 * passages (text chunks with their lower-cased terms), and a small
 * retriever interface so that other retrievers (the llama.cpp embedding
 * retriever behind --embed-model) plug into the prompt builder the same way.
 *
 * Terms are the lower-cased texts of a document's word tokens; tokens with
 * no letter or digit (punctuation) are left out.  Indexes are deterministic:
 * equal scores rank by insertion order.  A built index can be saved to and
 * loaded from a versioned, checksummed file keyed by a fingerprint of its
 * input, so a cache never serves an index built from other data.
 */
#ifndef CLINNER_RETRIEVE_H
#define CLINNER_RETRIEVE_H

#include "clinner/doc.h"
#include "clinner/tokenize.h"
#include "clinner/util.h" /* cl_fnv1a64, the index cache keys' hash */

#ifdef __cplusplus
extern "C" {
#endif

/* ---- terms ---- */

/* Lower-cased texts of tokens [tok_begin, tok_end) of doc that contain a
 * letter or digit; *terms (and each string) is newly allocated, free with
 * cl_terms_free.  *n may be 0. */
cl_status cl_doc_terms(const cl_doc *doc, int32_t tok_begin, int32_t tok_end, char ***terms,
                       int32_t *n, cl_error *err);
void cl_terms_free(char **terms, int32_t n);

/* ---- BM25 index ---- */

typedef struct cl_bm25 cl_bm25;

typedef struct cl_bm25_params {
    double k1; /* term-frequency saturation, default 1.2; 0 to 1000 */
    double b;  /* length normalisation, default 0.75; 0 to 1 */
} cl_bm25_params;

cl_bm25_params cl_bm25_default_params(void);

/* A new empty index (NULL and CL_ERR_ARG for parameters out of range); add
 * documents with cl_bm25_add, then cl_bm25_finish. */
cl_status cl_bm25_new(const cl_bm25_params *params, cl_bm25 **out, cl_error *err);
void cl_bm25_free(cl_bm25 *ix);

/* Add one document (its terms, any order, repeats count); documents are
 * numbered 0, 1, ... in the order added. */
cl_status cl_bm25_add(cl_bm25 *ix, const char *const *terms, int32_t nterms, cl_error *err);
/* Freeze the index (build postings); no cl_bm25_add after this. */
cl_status cl_bm25_finish(cl_bm25 *ix, cl_error *err);
int32_t cl_bm25_ndocs(const cl_bm25 *ix);

/* Score of document doc for the query: the sum over query terms (repeats
 * count) of idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl)), with
 * idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)), which is never negative. */
double cl_bm25_score(const cl_bm25 *ix, const char *const *terms, int32_t nterms, int32_t doc);

typedef struct cl_bm25_hit {
    int32_t doc;
    double score;
} cl_bm25_hit;

/* Return true to leave document doc out of the results. */
typedef bool (*cl_bm25_exclude_fn)(void *ctx, int32_t doc);

/* The k best documents for the query, by score (highest first; ties by
 * document number), skipping those exclude() rejects (exclude may be NULL).
 * Documents scoring 0 fill the list when fewer than k documents match;
 * *nout < k only when fewer than k documents are left after exclusion.
 * out has room for k hits.  The index is read-only here: concurrent queries
 * are safe. */
cl_status cl_bm25_query(const cl_bm25 *ix, const char *const *terms, int32_t nterms, int32_t k,
                        cl_bm25_exclude_fn exclude, void *ctx, cl_bm25_hit *out, int32_t *nout,
                        cl_error *err);

/* Save a finished index to path (atomically) tagged with key, a fingerprint
 * of the data it was built from. */
cl_status cl_bm25_save(const cl_bm25 *ix, const char *path, uint64_t key, cl_error *err);
/* Load an index saved by cl_bm25_save.  CL_ERR_FORMAT when the file is not
 * an index of this version, is truncated or corrupt (checksum), or was built
 * with another key. */
cl_status cl_bm25_load(const char *path, uint64_t key, cl_bm25 **out, cl_error *err);

/* Load "<cache_dir>/bm25-<key hex>.bin" when present and valid; otherwise
 * call build(ctx, ix) on a new index, finish it and save it there (cache
 * write failures are ignored: the index is still returned).  cache_dir NULL
 * means no cache. */
typedef cl_status (*cl_bm25_build_fn)(void *ctx, cl_bm25 *ix, cl_error *err);
cl_status cl_bm25_cached(const char *cache_dir, uint64_t key, const cl_bm25_params *params,
                         cl_bm25_build_fn build, void *ctx, cl_bm25 **out, cl_error *err);

/* ---- knowledge base: passages to retrieve ---- */

typedef struct cl_kb_passage {
    char *doc_id; /* the document the passage comes from */
    char *text;   /* the passage as it stands in the document */
    char **terms; /* lower-cased terms (see cl_doc_terms) */
    int32_t nterms;
} cl_kb_passage;

typedef struct cl_kb {
    cl_kb_passage *passages;
    int32_t npassages, cap;
} cl_kb;

cl_status cl_kb_new(cl_kb **out, cl_error *err);
void cl_kb_free(cl_kb *kb);

/* Cut a tokenized document into passages of whole sentences, at most
 * chunk_tokens tokens each (a longer sentence is cut at chunk_tokens), and
 * add them. */
cl_status cl_kb_add_doc(cl_kb *kb, const cl_doc *doc, int32_t chunk_tokens, cl_error *err);
/* Add every *.txt file of dir (sorted by name), tokenized with kind and
 * chunked as by cl_kb_add_doc; the document id is the file stem. */
cl_status cl_kb_read_dir(cl_kb *kb, const char *dir, cl_tokenizer_kind kind,
                         int32_t chunk_tokens, cl_error *err);
/* Fingerprint of the passages (ids, texts, terms): the index cache key. */
uint64_t cl_kb_fingerprint(const cl_kb *kb);

/* ---- retriever interface ---- */

typedef struct cl_retrieved {
    int32_t index;      /* passage number in the retriever's knowledge base */
    double score;       /* retriever-specific, higher is better */
    const char *doc_id; /* owned by the retriever */
    const char *text;   /* owned by the retriever */
} cl_retrieved;

typedef struct cl_retriever_ops {
    const char *name;
    /* Up to k passages for the query (its text, and its terms as by
     * cl_doc_terms), best first, never from document exclude_doc_id (may be
     * NULL).  Retrievers may return fewer than k, e.g. when nothing matches. */
    cl_status (*top_k)(void *self, const char *query_text, const char *const *query_terms,
                       int32_t nterms, const char *exclude_doc_id, int32_t k, cl_retrieved *out,
                       int32_t *nout, cl_error *err);
    void (*free)(void *self);
} cl_retriever_ops;

typedef struct cl_retriever {
    const cl_retriever_ops *ops;
    void *self;
} cl_retriever;

cl_status cl_retriever_top_k(cl_retriever *r, const char *query_text,
                             const char *const *query_terms, int32_t nterms,
                             const char *exclude_doc_id, int32_t k, cl_retrieved *out,
                             int32_t *nout, cl_error *err);
/* Free the retriever and reset r (safe on a zeroed r). */
void cl_retriever_free(cl_retriever *r);

/* BM25 retriever over kb (takes ownership of kb, also on failure); the index
 * is cached in cache_dir (NULL: not cached).  Passages scoring 0 are never
 * returned. */
cl_status cl_bm25_retriever_new(cl_kb *kb, const char *cache_dir, cl_retriever *out,
                                cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
