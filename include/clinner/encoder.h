/*
 * encoder.h - a BERT-family encoder in C: its safetensors weights, its
 * WordPiece tokenizer, its forward pass as a ggml graph, token-classification
 * fine-tuning with ggml's optimizer, and a tagger (tagger.h) over the result.
 *
 * Built only when llama.cpp's ggml is available (CL_HAVE_LLAMA), like llm.h.
 *
 * Models:
 *   - a base encoder: a folder (or its model.safetensors) holding the
 *     Hugging Face files model.safetensors, config.json and vocab.txt, e.g.
 *     all-MiniLM-L6-v2 fetched by scripts/fetch-encoder.sh;
 *   - a fine-tuned tagger: one safetensors file whose __metadata__ carries
 *     everything else (config, vocabulary, labels, tokenizer, training
 *     parameters), written by cl_encoder_train.
 *
 * The tokenizer is BERT's: BasicTokenizer (clean text, split CJK characters,
 * lower-case, strip accents by NFD minus combining marks, split on
 * whitespace and punctuation), then greedy longest-match-first WordPiece with
 * "##" continuations, [UNK] for a word with no split or over 100 characters.
 *
 * Library code: never prints; progress and notes go through callbacks.
 */
#ifndef CLINNER_ENCODER_H
#define CLINNER_ENCODER_H

#include "clinner/doc.h"
#include "clinner/tagger.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- safetensors ---- */

typedef struct cl_st_tensor {
    char *name;
    char dtype[8];     /* "F32", "F16", "I64", ... */
    int32_t ndim;      /* 0..4 */
    int64_t shape[4];  /* as written (outermost first, PyTorch order) */
    size_t offset;     /* bytes from the start of the data section */
    size_t nbytes;
} cl_st_tensor;

typedef struct cl_st_file cl_st_file;

/* Map path and parse its header; every tensor's byte range is checked
 * against the file size and its dtype and shape. */
cl_status cl_st_open(const char *path, cl_st_file **out, cl_error *err);
void cl_st_free(cl_st_file *f);
int32_t cl_st_count(const cl_st_file *f);
const cl_st_tensor *cl_st_at(const cl_st_file *f, int32_t i);
const cl_st_tensor *cl_st_find(const cl_st_file *f, const char *name);
const void *cl_st_data(const cl_st_file *f, const cl_st_tensor *t);
/* A string of the header's __metadata__, or NULL. */
const char *cl_st_meta(const cl_st_file *f, const char *key);

/* Writer: collect tensors (data copied by reference: must live until
 * cl_st_write) and metadata strings, then write path atomically. */
typedef struct cl_st_writer cl_st_writer;
cl_status cl_st_writer_new(cl_st_writer **out, cl_error *err);
void cl_st_writer_free(cl_st_writer *w);
cl_status cl_st_writer_add(cl_st_writer *w, const char *name, const char *dtype, int32_t ndim,
                           const int64_t *shape, const void *data, size_t nbytes, cl_error *err);
cl_status cl_st_writer_meta(cl_st_writer *w, const char *key, const char *value, cl_error *err);
cl_status cl_st_write(cl_st_writer *w, const char *path, cl_error *err);

/* ---- WordPiece tokenizer ---- */

typedef struct cl_wordpiece cl_wordpiece;

/* From vocab.txt's text (one piece a line, id = line number). */
cl_status cl_wordpiece_new(const char *vocab, size_t n, cl_wordpiece **out, cl_error *err);
cl_status cl_wordpiece_load(const char *vocab_path, cl_wordpiece **out, cl_error *err);
void cl_wordpiece_free(cl_wordpiece *wp);
int32_t cl_wordpiece_size(const cl_wordpiece *wp);
/* The id of a piece, or -1. */
int32_t cl_wordpiece_id(const cl_wordpiece *wp, const char *piece);
const char *cl_wordpiece_piece(const cl_wordpiece *wp, int32_t id);
/* The vocabulary as vocab.txt text (caller frees). */
char *cl_wordpiece_text(const cl_wordpiece *wp);

/* Pieces of text (UTF-8, n bytes), without [CLS]/[SEP]: ids appended to
 * *ids (realloc'd, *nids updated, *cap its capacity).  word_of, when not
 * NULL, gets for each piece the index of the basic-tokenizer word it came
 * from (counting on from *nwords, which is updated). */
cl_status cl_wordpiece_encode(const cl_wordpiece *wp, const char *text, size_t n, int32_t **ids,
                              int32_t **word_of, int32_t *nids, int32_t *cap, int32_t *nwords,
                              cl_error *err);

/* ---- the encoder ---- */

/* BERT: absolute positions from 0 and token-type embeddings; MPNet
 * (all-mpnet-base-v2): positions from pad_token_id + 1, no token types, and
 * a learned attention bias per bucket of relative distance, shared by all
 * layers (Hugging Face's MPNetModel). */
typedef enum cl_encoder_arch { CL_ENC_ARCH_BERT = 0, CL_ENC_ARCH_MPNET = 1 } cl_encoder_arch;

typedef struct cl_encoder_config {
    int32_t layers, hidden, heads, ffn, max_pos, vocab, type_vocab;
    float eps;
    cl_encoder_arch arch;
    int32_t rel_buckets;  /* MPNet: relative-distance buckets (32) */
    int32_t pad_token_id; /* MPNet: positions start at pad_token_id + 1 */
} cl_encoder_config;

typedef struct cl_encoder cl_encoder;

/* A base folder / model.safetensors (config.json, vocab.txt beside it), or
 * a fine-tuned tagger file. */
cl_status cl_encoder_open(const char *path, cl_encoder **out, cl_error *err);
/* Where set-up puts the default base encoder (all-MiniLM-L6-v2, from its
 * pinned PyPI package): the cache's models/all-minilm-l6-v2.  Caller frees;
 * NULL when no cache folder can be named. */
char *cl_encoder_default_base(void);
void cl_encoder_free(cl_encoder *e);
const cl_encoder_config *cl_encoder_get_config(const cl_encoder *e);
const cl_wordpiece *cl_encoder_vocab(const cl_encoder *e);
/* Token-classification labels of a fine-tuned tagger (NULL-terminated), or
 * NULL for a base encoder. */
const char *const *cl_encoder_labels(const cl_encoder *e);

/* Hidden states of the last layer for one sequence of ids (the caller adds
 * [CLS]/[SEP]): out has n * hidden floats.  exact_gelu: the erf GELU of
 * BERT (true) or the tanh form the trainer uses. */
cl_status cl_encoder_hidden(const cl_encoder *e, const int32_t *ids, int32_t n, bool exact_gelu,
                            int32_t threads, float *out, cl_error *err);

/* Weight types of a saved tagger: F32; F16 matrices (half the size); Q8_0
 * for the large matrices (word embeddings, attention, feed-forward: about a
 * quarter of the size, kept quantized in memory, so tagging multiplies in
 * 8 bits) with the other matrices F16. */
typedef enum cl_enc_wtype {
    CL_ENC_F32 = 0,
    CL_ENC_F16,
    CL_ENC_Q8_0,
} cl_enc_wtype;

/* "f32", "f16", "q8_0" -> type. */
cl_status cl_enc_wtype_from_name(const char *name, cl_enc_wtype *out, cl_error *err);

/* Rewrite an F32 / F16 tagger file with other weight types (out written
 * atomically). */
cl_status cl_encoder_convert(const char *in_path, const char *out_path, cl_enc_wtype type,
                             cl_error *err);

/* One tagger whose every weight is the mean of those of n taggers
 * fine-tuned from the same base with the same labels and tokenizer (a
 * "model soup", Wortsman et al. 2022: runs with other seeds or data orders
 * average into one model that tags as fast as each, where averaging their
 * outputs would cost n forward passes).  The inputs must hold F32 or F16
 * weights (training's checkpoints and f32 / f16 files; a Q8_0 file has lost
 * precision); the first one's O offset is kept.  out written atomically in
 * type. */
cl_status cl_encoder_average(const char *const *paths, int n, const char *out_path,
                             cl_enc_wtype type, cl_error *err);

/* ---- fine-tuning ---- */

typedef struct cl_enc_progress {
    bool train;           /* false: the dev evaluation after an epoch */
    int32_t epoch, epochs; /* 1-based */
    int64_t step, nsteps; /* optimizer steps, whole run */
    double loss;          /* mean training loss of this epoch so far */
    double lr;
    double tokens_per_s;  /* word pieces per second, this session */
    double eta_s;         /* seconds left (-1 unknown) */
    double dev_f1;        /* average F1 on dev after an epoch (-1: none) */
    double best_dev_f1;
    int32_t best_epoch;
} cl_enc_progress;

typedef void (*cl_enc_progress_fn)(void *ctx, const cl_enc_progress *p);

/* The progress as one line of text into buf (a step: step, epoch, loss,
 * rate, pieces/s, ETA, for the first step and every 50th; an epoch's end:
 * its loss and, with dev, the dev F1 and the best so far); false when the
 * step is not worth a line. */
bool cl_enc_progress_line(const cl_enc_progress *p, char *buf, size_t n);

/* A ready-made cl_enc_progress_fn: ctx is a cl_progress bar (progress.h; NULL
 * writes the lines to stderr) advanced per training step, with those lines
 * written above it. */
void cl_enc_progress_report(void *ctx, const cl_enc_progress *p);

typedef struct cl_encoder_train_params {
    const char *base;       /* base encoder (folder or safetensors); a tagger from an
                             * earlier run with the same labels trains on (its classifier
                             * kept: more epochs, another rate); NULL: the default */
    const char *out_path;   /* final model (the best dev epoch's, written when it is
                             * reached); checkpoint "<out>.ckpt" (weights + counters) */
    const char *tokenizer;  /* recorded for `clinner tag` (the word tokenizer's name) */
    const char *vocab_path; /* medical term list (crf.h's cl_vocab format): each word's
                             * marks become learned input embeddings of its pieces; the
                             * list is stored in the model (local use: HPO's terms may not
                             * be redistributed modified); needs tokenizer; NULL: none */
    const char *const *types; /* entity types (NULL: the paper's five) */
    int32_t ntypes;
    int32_t epochs;         /* default 3 */
    int32_t batch;          /* sequences per step (default 16) */
    int32_t max_pieces;     /* word pieces per sequence, [CLS]/[SEP] included (default 128);
                             * longer sentences are cut into pieces at word boundaries */
    bool pack;              /* consecutive sentences of a document share sequences of up
                             * to max_pieces, so that words see the sentences around them;
                             * the model records it and tags the same way (default off:
                             * one sentence per sequence) */
    double lr;              /* peak learning rate (default 5e-5) */
    double warmup;          /* fraction of steps warming up linearly (default 0.1) */
    double weight_decay;    /* AdamW (default 0.01) */
    uint64_t seed;          /* order of batches (default 42) */
    int32_t threads;        /* default 2 */
    int32_t save_every;     /* checkpoint every N steps as well as after each epoch
                             * (default 200; 0: after epochs only) */
    bool resume;            /* continue from out_path's checkpoint; AdamW's moments are not
                             * in it (ggml-opt keeps them private): they restart from zero
                             * and the rate warms up again over 20 steps */
    int32_t max_sentences;  /* 0: all; else the first N training sentences (tests) */
    cl_enc_wtype out_type;  /* weights of the final model (default F32; checkpoints F32) */
    bool no_o_bias;         /* do not tune O's offset on dev after training */
    cl_enc_progress_fn progress;
    void *progress_ctx;
    cl_log_fn log;
    void *log_ctx;
    bool (*stop)(void *ctx); /* asked after each step: true checkpoints and stops */
    void *stop_ctx;
} cl_encoder_train_params;

cl_encoder_train_params cl_encoder_train_default_params(void);

typedef struct cl_encoder_train_result {
    int32_t epochs_done;
    int32_t best_epoch;      /* 0: no dev */
    double best_dev_f1;      /* -1: no dev */
    int64_t steps;
    int64_t train_pieces;    /* word pieces per epoch */
    double seconds;
    int64_t mem_estimate;    /* bytes: weights + gradients + moments + compute buffer */
    bool stopped;
    double o_bias;           /* O's offset tuned on dev (0: not tuned) */
    double tuned_dev_f1;     /* dev average F1 with it (-1: not tuned) */
} cl_encoder_train_result;

/* The sentence that reports a run into buf: "wrote OUT (epoch E of N, best
 * dev F1 ...), S steps, ...", without dev "wrote OUT (N epochs, no dev
 * split), ...", and for a stopped run "stopped at step S; checkpoint
 * OUT.ckpt". */
void cl_encoder_train_summary(const cl_encoder_train_result *r, const char *out_path, char *buf,
                              size_t n);

/* Fine-tune for token classification on train (tokenized, doc->tags gold)
 * and keep the epoch with the best dev average F1 (dev may be NULL: the
 * last epoch). */
cl_status cl_encoder_train(const cl_encoder_train_params *p, const cl_corpus *train,
                           const cl_corpus *dev, cl_encoder_train_result *res, cl_error *err);

/* Tune the offset subtracted from O's log-probability before Viterbi (a
 * trade of precision for recall, as the CRF's O bias) on dev: 0, 0.25, ..., 4;
 * writes in_path's model with the best offset to out_path (may be the
 * same).  f1_before / f1_after: dev average F1 at offset 0 / the best. */
cl_status cl_encoder_tune_o_bias(const char *in_path, const cl_corpus *dev, int32_t threads,
                                 const char *out_path, cl_enc_wtype type, double *bias,
                                 double *f1_before, double *f1_after, cl_error *err);

/* ---- tagging ---- */

/* A tagger over a fine-tuned encoder file: threads CPU threads per call;
 * each call may run on its own thread (reentrant).  Labels are decoded by
 * Viterbi over BIO-valid transitions, so the output is always valid BIO;
 * confidences are the chosen labels' softmax probabilities. */
cl_status cl_encoder_tagger_open(const char *model_path, int32_t threads, cl_tagger *out,
                                 cl_error *err);
/* Each token's log-probability of each label (cl_encoder_labels order) for
 * sentences [sent_begin, sent_end) of a tokenized doc: lp holds tokens x
 * labels floats, rows from the first sentence's first token; a word with no
 * word pieces gets O.  Ensembles combine these with other taggers'. */
cl_status cl_encoder_log_probs(const cl_encoder *e, const cl_doc *doc, int32_t sent_begin,
                               int32_t sent_end, int32_t threads, float *lp, cl_error *err);

/* ---- dense features for the CRF ---- */

/* Log-probabilities below this are written as ln of it (-20.7): a word with
 * no word pieces scores O 0 and every other label the floor. */
#define CL_ENC_DENSE_FLOOR 1e-9f

/* Called after each document (done of total, word tokens written so far). */
typedef void (*cl_enc_dense_progress_fn)(void *ctx, int32_t done, int32_t total, int64_t tokens);

/* The fine-tuned encoder at model_path scores every word token of c
 * (tokenized, e.g. by cl_corpus_load): its label log-probabilities
 * (cl_encoder_log_probs, cl_encoder_labels order, floored as above) are
 * written to out_path (atomic) in the CRF's dense feature format (crf.h),
 * one record per document under its id, row i for token i.  Read and
 * tokenize c as the CRF will (same format, same word tokenizer, whatever
 * tokenizer the encoder was trained with), and `clinner train crf --dense`
 * / `clinner tag --dense` find the rows.  *dim (labels), *tokens (rows)
 * and *seconds may be NULL. */
cl_status cl_encoder_dense_export(const char *model_path, const cl_corpus *c, int32_t threads,
                                  const char *out_path, cl_enc_dense_progress_fn progress,
                                  void *progress_ctx, int32_t *dim, int64_t *tokens,
                                  double *seconds, cl_error *err);

/* The word tokenizer recorded in a tagger file ("clinical", ...), or NULL;
 * caller frees. */
char *cl_encoder_model_tokenizer(const char *model_path, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
