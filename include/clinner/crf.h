/*
 * crf.h - a supervised linear-chain conditional random field tagger.
 *
 * The strong, cheap baseline every LLM strategy is measured against: trained
 * on a CPU in minutes, tagging tens of thousands of tokens a second.  The
 * pieces are separate, as in CRFsuite:
 *
 *   features  (src/crf/features.c)  token -> attribute strings (word, shape,
 *             affixes, window, gazetteer of training entities, ...)
 *   dense     (src/crf/dense.c)     optional real-valued per-token vectors
 *             from a file (word vectors, LLM hidden states)
 *   trainer   (src/crf/train.c, lbfgs.c)  L-BFGS with L2, OWL-QN with L1,
 *             gradient in parallel over sentences, early stopping on dev
 *   inference (src/crf/infer.c)     Viterbi and forward-backward marginals
 *   model     (src/crf/model.c)     versioned, checksummed, atomic file
 *   tagger    (src/crf/tagger.c)    the cl_tagger backend (tagger.h)
 *
 * The trainer sees tokenized documents with gold tags; it does not know
 * which format or tokenizer produced them (the CLI records that as model
 * metadata).  A model is immutable once trained or loaded and may be shared
 * by several taggers and threads.
 */
#ifndef CLINNER_CRF_H
#define CLINNER_CRF_H

#include <stdio.h>

#include "clinner/doc.h"
#include "clinner/tagger.h"
#include "clinner/tokenize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- label sets ---- */

typedef enum cl_crf_labels {
    CL_CRF_LABELS_PAPER = 0, /* the paper's 5 types (ANAPHOR becomes O): 11 labels */
    CL_CRF_LABELS_ALL = 1,   /* all 6 types of RareDis: 13 labels */
} cl_crf_labels;

/* "paper" / "all" -> label set; CL_ERR_ARG names a bad value. */
cl_status cl_crf_labels_from_name(const char *name, cl_crf_labels *out, cl_error *err);
const char *cl_crf_labels_name(cl_crf_labels labels);
/* The entity types a label set keeps (cl_paper_types or cl_all_types) and
 * their count, for reading a training split with it. */
const char *const *cl_crf_labels_types(cl_crf_labels labels, int *ntypes);

/* ---- dense per-token features ----
 *
 * File format: binfile.h's container (magic "CLNRDNS\0", version 2) whose
 * payload (integers little-endian) is
 *   u64 key (what the features were computed from; 0: not said), u32 dim,
 *   records: u32 id_len, id_len bytes of the document id (no NUL),
 *            u32 ntokens, ntokens * dim float32 (IEEE 754, little-endian),
 *            row i belonging to the document's token i
 * to the end of the payload.  Files of the first format (8 bytes
 * "CLDENSE1", u32 dim, the same records; no checksum) still load.  Token
 * indices are those of the tokenizer used
 * for training and tagging, so the file must be produced with the same one;
 * a document whose token count differs is an error.  A document absent from
 * the file gets zero vectors. */
typedef struct cl_dense_table cl_dense_table;

cl_status cl_dense_read(const char *path, cl_dense_table **out, cl_error *err);
void cl_dense_free(cl_dense_table *t);
int32_t cl_dense_dim(const cl_dense_table *t);
/* Rows of document id (ntokens * dim floats) or NULL when absent. */
const float *cl_dense_find(const cl_dense_table *t, const char *doc_id, int32_t *ntokens);
/* The key the file was written with (0 for the first format). */
uint64_t cl_dense_key(const cl_dense_table *t);

/* Writing such a file (clinner features): open starts it at path (written
 * atomically: nothing appears there before commit), add appends one
 * document's ntokens * dim rows, commit completes the header's length and
 * checksum, renames the file into place and frees the writer; free alone
 * abandons the file. */
typedef struct cl_dense_writer cl_dense_writer;
cl_status cl_dense_writer_open(const char *path, int32_t dim, uint64_t key,
                               cl_dense_writer **out, cl_error *err);
cl_status cl_dense_writer_add(cl_dense_writer *w, const char *doc_id, int32_t ntokens,
                              const float *rows, cl_error *err);
cl_status cl_dense_writer_commit(cl_dense_writer *w, cl_error *err);
void cl_dense_writer_free(cl_dense_writer *w);

/* ---- training ---- */

/* How dense features enter training.  RMS divides each dimension by its root
 * mean square over the training documents' tokens, so that one penalty (c1,
 * c2) suits every dimension whatever its scale (LLM hidden states carry
 * outlier dimensions thousands of times larger than the rest).  The factors
 * are folded into the saved weights: tagging reads the same raw file either
 * way. */
typedef enum { CL_CRF_DENSE_RAW = 0, CL_CRF_DENSE_RMS = 1 } cl_crf_dense_scale;
/* "raw" or "rms" -> the scale; CL_ERR_ARG otherwise. */
cl_status cl_crf_dense_scale_from_name(const char *name, cl_crf_dense_scale *out, cl_error *err);

/* ---- Medical vocabularies ----
 * A term list ("CATEGORY<TAB>term" lines: scripts/setup-vocab.sh builds
 * HPO / Orphanet / OMIM / skin-disease lists at set-up) matched over a
 * sentence's lower-cased tokens in one pass, the longest term starting at
 * each token winning: what `train crf --vocab` turns into features, and
 * what `train encoder --vocab` gives the encoder as input.  At most 8
 * categories. */
typedef struct cl_vocab cl_vocab;

/* From the list's text (name: the file, for messages); terms are tokenized
 * with tok, as the text will be. */
cl_status cl_vocab_parse(const char *name, const char *text, size_t n, cl_tokenizer_kind tok,
                         cl_vocab **out, cl_error *err);
void cl_vocab_free(cl_vocab *v);
int32_t cl_vocab_ncats(const cl_vocab *v);
const char *cl_vocab_cat_name(const cl_vocab *v, int32_t c); /* NULL when out of range */

/* Per token of sentence si (marks[0] is its first token): bit c set when a
 * term of category c begins there, bit CL_VOCAB_INSIDE + c when the token
 * continues one. */
#define CL_VOCAB_INSIDE 8
cl_status cl_vocab_mark_sentence(const cl_vocab *v, const cl_doc *doc, int32_t si,
                                 uint32_t *marks, cl_error *err);

typedef struct cl_crf_progress {
    int iteration;      /* 1-based L-BFGS iteration just finished */
    int max_iter;
    double loss;        /* objective: negative log-likelihood + penalties */
    double dev_f1;      /* macro F1 on dev at this iteration, or -1 when not evaluated */
    double dev_micro_f1;
    double best_dev_f1; /* best so far, -1 before the first evaluation */
    int best_iteration;
    int64_t active;     /* non-zero weights */
    double o_bias;      /* "done": the O offset chosen on dev (0 when none) */
    double elapsed_s;   /* since training started (feature extraction included) */
    const char *stage;  /* "features", "iteration", "done" */
    int eval_every;     /* the run's cl_crf_train_params.eval_every */
} cl_crf_progress;

typedef void (*cl_crf_progress_fn)(void *ud, const cl_crf_progress *p);

/* The progress as one line of text into buf ("features ready", an
 * iteration's loss and dev F1, "done"); iterations without a dev score are
 * thinned to the first and every 10th when p->eval_every > 0.  False when p
 * is not worth a line. */
bool cl_crf_progress_line(const cl_crf_progress *p, char *buf, size_t n);

/* A ready-made cl_crf_progress_fn: ud is a cl_progress bar (progress.h; NULL
 * writes the lines to stderr) advanced per iteration, with those lines
 * written above it. */
void cl_crf_progress_report(void *ud, const cl_crf_progress *p);

typedef struct cl_crf_train_params {
    double c1;          /* L1 coefficient (OWL-QN when > 0) */
    double c2;          /* L2 coefficient: penalty c2 * |w|^2 */
    int max_iter;       /* L-BFGS iterations */
    int threads;        /* gradient threads (>= 1) */
    uint64_t seed;      /* gazetteer fold assignment */
    int min_count;      /* keep attributes seen at least this often in training */
    int lbfgs_m;        /* L-BFGS memory */
    double epsilon;     /* stop when |grad| / max(1, |w|) < epsilon */
    int period;         /* ... or when the loss improved less than delta ... */
    double delta;       /* ... (relative) over the last period iterations */
    int eval_every;     /* evaluate dev F1 every k iterations */
    int patience;       /* stop after this many evaluations without a better dev F1 */
    cl_crf_labels labels;
    bool gazetteer;     /* gazetteer of training entities as features */
    int gazetteer_folds;/* training docs see only entries from other folds (>= 2) */
    int gazetteer_max_len; /* longest entry in tokens */
    int doc_words;      /* the document's top-k content words as features of every token */
    bool tune_o_bias;   /* with dev: pick the O-score offset with the best dev F1 */
    const char *vocab_path; /* medical term list, "CATEGORY<TAB>term" lines, as features
                             * (stored in the model); NULL: none */
    cl_tokenizer_kind vocab_tokenizer; /* how its terms are tokenized: as the text is */
    const cl_dense_table *dense; /* optional, borrowed; NULL: none */
    cl_crf_dense_scale dense_scale; /* RMS (default) or RAW, see above */
    cl_crf_progress_fn progress; /* optional; called from the calling thread */
    void *progress_ud;
} cl_crf_train_params;

cl_crf_train_params cl_crf_train_default_params(void);

typedef struct cl_crf_model cl_crf_model;

/* Train on tokenized documents whose doc->tags hold the gold labels (tags
 * outside the label set count as O).  dev (may be NULL) selects the
 * iteration with the best dev F1 (early stopping). */
cl_status cl_crf_train(const cl_corpus *train, const cl_corpus *dev,
                       const cl_crf_train_params *params, cl_crf_model **out, cl_error *err);

/* ---- model ---- */

/* Write atomically (temporary file + rename). */
cl_status cl_crf_model_save(const cl_crf_model *m, const char *path, cl_error *err);
/* Load; a missing, truncated, foreign or corrupt file gives CL_ERR_MODEL. */
cl_status cl_crf_model_load(const char *path, cl_crf_model **out, cl_error *err);
void cl_crf_model_free(cl_crf_model *m);

/* Free-form string metadata stored in the file ("tokenizer" = "paper", ...). */
cl_status cl_crf_model_set_meta(cl_crf_model *m, const char *key, const char *value,
                                cl_error *err);
const char *cl_crf_model_get_meta(const cl_crf_model *m, const char *key);
/* Record how m was trained as its metadata: "tokenizer", "labels" and
 * "format" (what `clinner tag` reads text with by default), "params" (p's
 * numbers) and "vocab" (the file name of p->vocab_path, when given). */
cl_status cl_crf_model_set_train_meta(cl_crf_model *m, const cl_crf_train_params *p,
                                      cl_tokenizer_kind tokenizer, cl_format format,
                                      cl_error *err);

typedef struct cl_crf_model_info {
    int32_t nlabels;
    int32_t nattrs;     /* attributes kept in the model */
    int32_t dense_dim;  /* 0 when the model uses no dense features */
    int64_t nweights;   /* all weights */
    int64_t nonzero;    /* non-zero weights */
    int32_t gazetteer;  /* gazetteer entries */
    double o_bias;      /* subtracted from O's score when tagging (tuned on dev) */
} cl_crf_model_info;

void cl_crf_model_get_info(const cl_crf_model *m, cl_crf_model_info *info);
/* The sentence that reports a model written to path into buf: "wrote PATH
 * (L labels, A attributes, ... O bias B) in S s" (seconds: the whole run). */
void cl_crf_model_summary(const cl_crf_model *m, const char *path, double seconds, char *buf,
                          size_t n);
const char *cl_crf_model_label(const cl_crf_model *m, int32_t i);

/* ---- tagging ---- */

/* Tag sentences [sent_begin, sent_end) of a tokenized doc: sets doc->tags and
 * doc->tag_conf (each token's marginal probability of its Viterbi label).
 * dense must be given when the model uses dense features. */
cl_status cl_crf_tag(const cl_crf_model *m, const cl_dense_table *dense, cl_doc *doc,
                     int32_t sent_begin, int32_t sent_end, cl_error *err);

/* Every token's marginal probability of every label (forward-backward,
 * with the model's O offset applied as when tagging) for sentences
 * [sent_begin, sent_end): marg holds tokens x labels floats, rows from the
 * first sentence's first token, columns in cl_crf_model_label order.
 * Ensembles combine these with other taggers' probabilities. */
cl_status cl_crf_marginals(const cl_crf_model *m, const cl_dense_table *dense, const cl_doc *doc,
                           int32_t sent_begin, int32_t sent_end, float *marg, cl_error *err);

/* A cl_tagger backed by the model (borrowed: it must outlive the tagger). */
cl_status cl_crf_tagger_new(const cl_crf_model *m, cl_tagger *out, cl_error *err);
/* The same with dense features (borrowed). */
cl_status cl_crf_tagger_new_dense(const cl_crf_model *m, const cl_dense_table *dense,
                                  cl_tagger *out, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
