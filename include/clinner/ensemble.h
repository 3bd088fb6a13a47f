/*
 * ensemble.h - one tagger from two: a feature CRF (crf.h) and a fine-tuned
 * encoder (encoder.h) tag the same tokens; their per-token label
 * probabilities are combined log-linearly (or through a fitted stacking
 * layer) and decoded with Viterbi over valid BIO, so the output is always
 * valid BIO.
 *
 * The two make different mistakes (the CRF is precise and sees the whole
 * article through its document words; the encoder reads each sentence in
 * context and finds more), so the combination beats both on the RareDis
 * dev split (docs/RESULTS.md).
 *
 * One type may be decided per document: in RareDis whether a rare disease
 * is SKINRAREDISEASE or RAREDISEASE is a property of the article (the
 * articles about skin diseases label nearly all their rare-disease mentions
 * SKINRAREDISEASE), so after decoding, every mention of either type in a
 * document takes the type that holds at least doc_min_share of the two
 * types' probability over those mentions' tokens.  That needs a whole
 * document per tag() call: give tag() all of a document's sentences (the
 * tagging session does); given part of one, it decides over that part.
 * The models miss many skin articles (their evidence is spread thin), so
 * the document also takes doc_type when its text is dense in cue words
 * (doc_cue_words: "skin", "derm*", ...; at least doc_cue_min per 1,000
 * words): a document-level signal no sentence-level score carries.
 *
 * An ensemble is usually opened from a manifest, a small JSON file beside
 * the two model files:
 *
 *     {"format": "clinner-ensemble", "version": 1, "tokenizer": "clinical",
 *      "crf": "raredis-crf.model", "encoder": "raredis-minilm.model",
 *      "crf_weight": 0.5,
 *      "document_type": {"type": "SKINRAREDISEASE", "base": "RAREDISEASE",
 *                        "min_share": 0.2, "cue_words": ["skin", "derm*"],
 *                        "cue_min_per_1000": 25}}
 *
 * (paths relative to the manifest's folder; document_type optional, and
 * its cue words too; a cue word ending in '*' matches any word it begins;
 * words are runs of ASCII letters, lower-cased).  An optional "stack"
 * object, {"labels": [n names], "weights": [2n arrays of n numbers],
 * "bias": [n numbers]} (what bench/ensemble_stack.py writes), replaces the
 * log-linear mix with a stacking layer (cl_ensemble_params below).
 */
#ifndef CLINNER_ENSEMBLE_H
#define CLINNER_ENSEMBLE_H

#include "clinner/tagger.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_ensemble_params {
    const char *crf_path;     /* a CRF model file (`clinner train crf`) */
    const char *encoder_path; /* a fine-tuned encoder file (`clinner train encoder`) with the
                               * same labels */
    double crf_weight;        /* weight of the CRF's log-marginals; the encoder's
                               * log-probabilities get 1 - crf_weight (default 0.5) */
    const char *doc_type;     /* a type decided per document ("SKINRAREDISEASE"); NULL: none */
    const char *doc_base;     /* the type it is told apart from ("RAREDISEASE") */
    double doc_min_share;     /* doc_type's share needed (default 0.2) */
    const char *const *doc_cue_words; /* cue words of doc_type ("derm*": a prefix), or NULL */
    int32_t doc_ncue_words;
    double doc_cue_min;       /* cue words per 1,000 words that make a doc_type document
                               * (0: cue words unused) */
    int32_t threads;          /* the encoder's CPU threads (0: 2) */
    /* A stacking layer in place of the log-linear mix (all NULL: the mix):
     * per token, logits z = [ln p_crf, ln p_enc] W + b over stack_labels
     * (each model's probabilities floored at 1e-9, in stack_labels order),
     * then a softmax.  stack_weights: 2n x n, row-major (rows: the CRF's n
     * labels, then the encoder's; columns: the output labels); stack_bias:
     * n.  Fitted on out-of-fold probabilities (bench/ensemble_stack.py).
     * The document-level type still reads the arithmetic mix. */
    const char *const *stack_labels;
    int32_t stack_nlabels;
    const double *stack_weights;
    const double *stack_bias;
} cl_ensemble_params;

cl_ensemble_params cl_ensemble_default_params(void);

/* Open both models.  The tagger is not reentrant (the encoder's graph runs
 * on `threads` threads per call). */
cl_status cl_ensemble_tagger_new(const cl_ensemble_params *p, cl_tagger *out, cl_error *err);

/* The same from a manifest file (format above); threads as in the params.
 * *tokenizer (may be NULL) receives the manifest's tokenizer name or NULL;
 * caller frees. */
cl_status cl_ensemble_tagger_open(const char *manifest_path, int32_t threads, cl_tagger *out,
                                  char **tokenizer, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
