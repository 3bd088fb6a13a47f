/*
 * enc_internal.h - what the encoder's files share: the model's weights as
 * ggml tensors, the graph builder used by both inference and training, and
 * the word/piece alignment of a sentence.
 */
#ifndef CLINNER_ENC_INTERNAL_H
#define CLINNER_ENC_INTERNAL_H

#include <ggml-alloc.h>
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

#include "clinner/crf.h"
#include "clinner/encoder.h"

#define ENC_MAX_LAYERS 48

typedef struct enc_layer {
    struct ggml_tensor *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    struct ggml_tensor *ln1_g, *ln1_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b, *ln2_g, *ln2_b;
} enc_layer;

struct cl_encoder {
    cl_encoder_config cfg;
    struct ggml_context *ctx; /* weights (no_alloc; data in buf) */
    ggml_backend_buffer_t buf;
    struct ggml_context *head_ctx; /* classifier (may be NULL) */
    ggml_backend_buffer_t head_buf;
    struct ggml_tensor *wemb, *pemb, *temb, *eln_g, *eln_b; /* temb: BERT only */
    struct ggml_tensor *rel_bias; /* MPNet: [heads, buckets] attention bias, else NULL */
    enc_layer layers[ENC_MAX_LAYERS];
    struct ggml_tensor *cls_w, *cls_b; /* [hidden, nlabels], [nlabels] or NULL */
    cl_wordpiece *wp;
    char **labels; /* NULL-terminated, or NULL */
    int32_t nlabels;
    char *tokenizer; /* word tokenizer recorded at training, or NULL */
    bool tanh_gelu; /* trained with the tanh form of GELU */
    float o_bias;   /* subtracted from O's log-probability before Viterbi (tuned on dev) */
    int32_t pack;   /* > 0: consecutive sentences share sequences of up to this many pieces
                     * (trained so: the words see their neighbours); 0: one per sentence */
    int32_t cls_id, sep_id, pad_id;
    /* A medical term list given at training (`--vocab`): each word's marks
     * (cl_vocab_mark_sentence: B and I of up to 8 categories) select rows of
     * mark_w [nmarks, hidden] that are added to its pieces' input
     * embeddings.  The list's text is kept in the model file, so tagging
     * needs no list (and such a model holds the terms: local use only). */
    cl_vocab *terms;
    char *terms_text;
    int32_t nmarks; /* 2 x categories, or 0 */
    struct ggml_tensor *mark_w;
};

/* Piece ids of sequences carry their word's vocabulary marks above bit 16
 * (enc_chunk.ids, train and tagging batches); cl__enc_set_inputs splits
 * them.  Hence models with a term list need vocabularies under 65,536. */
#define ENC_ID_BITS 16
#define ENC_ID_MASK ((1u << ENC_ID_BITS) - 1u)

/* Inputs of one graph: fill after allocation. */
typedef struct enc_inputs {
    struct ggml_tensor *ids;    /* I32 [T*B] */
    struct ggml_tensor *pos;    /* I32 [T*B] */
    struct ggml_tensor *mask;   /* F32 [T,1,1,B]: 0 or -inf per key */
    struct ggml_tensor *rel;    /* MPNet: I32 [T*T], bucket of key - query; else NULL */
    struct ggml_tensor *gather; /* I32 [n] or NULL */
    struct ggml_tensor *marks;  /* F32 [nmarks, T*B] 0/1 when the model has a term list */
} enc_inputs;

typedef struct enc_graph_opts {
    bool train_ops;  /* LayerNorm and GELU in forms ggml can differentiate */
    bool exact_gelu; /* erf GELU (else the tanh form); ignored with train_ops */
} enc_graph_opts;

/* The graph's LayerNorm and GELU (exposed for the gradient tests). */
struct ggml_tensor *cl__enc_layer_norm(struct ggml_context *ctx, struct ggml_tensor *x,
                                   struct ggml_tensor *g, struct ggml_tensor *b, float eps,
                                   bool train_ops);
struct ggml_tensor *cl__enc_gelu(struct ggml_context *ctx, struct ggml_tensor *x,
                             const enc_graph_opts *o);

/* Output: logits [nlabels, ngather] when ngather > 0 (needs the head), else
 * hidden states [hidden, T*B]. */
struct ggml_tensor *cl__enc_build(struct ggml_context *ctx, const cl_encoder *e, int32_t T,
                              int32_t B, int32_t ngather, const enc_graph_opts *o,
                              enc_inputs *in);

/* Longest sequence (pieces with [CLS]/[SEP]) the position table holds. */
int32_t cl__enc_max_len(const cl_encoder *e);

/* Fill in's tensors from host arrays (ids / lens per sequence; positions
 * and mask follow; pad ids are 0). */
cl_status cl__enc_set_inputs(const enc_inputs *in, const cl_encoder *e, int32_t T, int32_t B,
                         const int32_t *ids, const int32_t *lens, const int32_t *gather,
                         int32_t ngather, cl_error *err);

/* Make (or remake) the classifier for labels, initialised N(0, 0.02) from
 * seed, bias 0. */
cl_status cl__enc_new_head(cl_encoder *e, const char *const *labels, int32_t nlabels, uint64_t seed,
                       cl_error *err);

/* Give e the term list text (name: for messages), tokenized with e's
 * recorded word tokenizer; the head made next gets mark_w. */
cl_status cl__enc_set_terms(cl_encoder *e, const char *name, const char *text, size_t n,
                            cl_error *err);

/* Save every weight, the head and metadata (extra: key/value pairs,
 * NULL-terminated) as one safetensors file. */
cl_status cl__enc_save(const cl_encoder *e, const char *path, cl_enc_wtype type, const char *const *extra,
                   cl_error *err);

/* Word pieces of sentences [sb, se) of a doc, each word's label on its
 * first piece ([CLS] = 0, so positions start at 1), as sequences of at most
 * max_pieces (with [CLS]/[SEP]).  Without packing every sentence is its own
 * sequence; with it, whole consecutive sentences share one while they fit.
 * A sentence too long for one sequence is cut at word boundaries. */
typedef struct enc_chunk {
    int32_t tok_begin, tok_end; /* the doc's tokens [begin, end) */
    int32_t n;                  /* pieces with [CLS]/[SEP] */
    int32_t *ids;               /* n ids */
    int32_t *first;             /* per token: its first piece's position, or -1 (no pieces) */
} enc_chunk;

typedef struct enc_sentence_pieces {
    enc_chunk *chunks;
    int32_t nchunks;
} enc_sentence_pieces;

cl_status cl__enc_pieces_of_sentences(const cl_encoder *e, const cl_doc *doc, int32_t sb,
                                      int32_t se, int32_t max_pieces, bool pack,
                                      enc_sentence_pieces *out, cl_error *err);
void cl__enc_sentence_pieces_free(enc_sentence_pieces *sp);

/* Log-probabilities [token][label] of sentences [sb, se) (indexed from the
 * first sentence's first token); a word without pieces gets O. */
cl_status cl__enc_score(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                    int32_t threads, float *lp, cl_error *err);
/* Viterbi labels of those sentences from lp with O's score lowered by
 * o_bias; conf (may be NULL) from the unbiased probabilities. */
cl_status cl__enc_decode(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                     const float *lp, float o_bias, int32_t *labels, float *conf, cl_error *err);
/* Average F1 over the label set's types on dev (gold doc->tags), from
 * each document's log-probabilities lps[d] (NULL: computed here). */
cl_status cl__enc_dev_f1(const cl_encoder *e, const cl_corpus *dev, float *const *lps, float o_bias,
                     int32_t threads, double *f1, cl_error *err);

/* Labels (indices into e->labels) and their probabilities (conf may be
 * NULL) of every token of sentences [sb, se), indexed from the first
 * sentence's first token. */
cl_status cl__enc_predict(const cl_encoder *e, const cl_doc *doc, int32_t sb, int32_t se,
                      int32_t threads, int32_t *labels, float *conf, cl_error *err);

/* Run a forward graph on the CPU (threads) and return the output's floats
 * (caller frees). */
cl_status cl__enc_forward(const cl_encoder *e, int32_t T, int32_t B, const int32_t *ids,
                      const int32_t *lens, const int32_t *gather, int32_t ngather,
                      const enc_graph_opts *o, int32_t threads, float **out, cl_error *err);

#endif
