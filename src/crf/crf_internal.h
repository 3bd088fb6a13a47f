/*
 * crf_internal.h - private seams between the CRF's pieces (crf.h is the
 * public face).  Unit tests include it to check the mathematics directly.
 *
 * Weight layout for L labels, A attributes and D dense dimensions:
 *   w[a * L + y]                 state weight of attribute a with label y
 *   w[A * L + i * L + j]         transition from label i to label j
 *   w[A * L + L * L + k * L + y] weight of dense dimension k with label y
 */
#ifndef CLINNER_CRF_INTERNAL_H
#define CLINNER_CRF_INTERNAL_H

#include "clinner/crf.h"
#include "clinner/tokenize.h"

/* ---- string -> id dictionary (open addressing, FNV-1a) ---- */
typedef struct crf_dict {
    char **keys;      /* id -> key (owned, NUL-terminated) */
    uint32_t *klen;   /* id -> key length */
    int32_t n, cap;   /* ids in use, capacity of keys */
    int32_t *slots;   /* hash slots: id or -1 */
    uint32_t nslots;  /* power of two */
} crf_dict;

void cl__crf_dict_init(crf_dict *d);
void cl__crf_dict_free(crf_dict *d);
/* Id of key or -1. */
int32_t cl__crf_dict_find(const crf_dict *d, const char *key, size_t n);
/* Id of key, added when absent; -1 when out of memory.  *added tells which. */
int32_t cl__crf_dict_intern(crf_dict *d, const char *key, size_t n, bool *added);


/* ---- dimensions, sequences ---- */
#define CRF_MAX_TYPES 32
#define CRF_MAX_LABELS (1 + 2 * CRF_MAX_TYPES)

typedef struct crf_dims {
    int32_t A, L, D;
} crf_dims;

static inline int64_t crf_nweights(crf_dims d)
{
    return (int64_t)d.A * d.L + (int64_t)d.L * d.L + (int64_t)d.D * d.L;
}
static inline int64_t crf_trans_off(crf_dims d) { return (int64_t)d.A * d.L; }
static inline int64_t crf_dense_off(crf_dims d) { return (int64_t)d.A * d.L + (int64_t)d.L * d.L; }

/* One sentence as the trainer and decoder see it: binary attributes per
 * token, optional dense rows, optional gold labels. */
typedef struct crf_seq {
    int32_t T;
    int32_t *off;       /* T + 1 offsets into attr */
    int32_t *attr;      /* attribute ids */
    const float *dense; /* T * D floats, or NULL (zeros) */
    int32_t *labels;    /* T gold label ids, or NULL */
} crf_seq;

void cl__crf_seq_free(crf_seq *s);

/* Scratch space of one thread (grows as needed). */
typedef struct crf_work {
    int32_t cap_T, L;
    double *S;      /* T * L state scores */
    double *alpha;  /* T * L */
    double *beta;   /* T * L */
    double *scale;  /* T */
    double *shift;  /* T */
    double *expT;   /* L * L exp(transition) */
    double *marg;   /* T * L marginals */
    int32_t *back;  /* T * L Viterbi back pointers */
} crf_work;

void cl__crf_work_init(crf_work *w, int32_t L);
int cl__crf_work_reserve(crf_work *w, int32_t T); /* 0 ok, -1 nomem */
void cl__crf_work_free(crf_work *w);

/* ---- dense rows (dense.c) ---- */
/* rms[k]: root mean square of dimension k over every token of the corpus's
 * documents that the table has (0 when there are none). */
void cl__crf_dense_rms(const cl_dense_table *t, const cl_corpus *docs, double *rms);
/* A copy of t with dimension k multiplied by scale[k] (rounded to float). */
cl_status cl__crf_dense_scaled(const cl_dense_table *t, const double *scale, cl_dense_table **out,
                           cl_error *err);

/* ---- inference (infer.c) ---- */
/* S[t*L + y] = sum of weights of token t's attributes (and dense row) for y. */
void cl__crf_state_scores(crf_dims d, const double *w, const crf_seq *s, double *S);
/* Subtract bias from the state score of O (label 0) at every position. */
static inline void crf_bias_o(crf_dims d, double *S, int32_t T, double bias)
{
    if (bias != 0.0)
        for (int32_t t = 0; t < T; t++)
            S[(size_t)t * d.L] -= bias;
}
/* Best label sequence given state scores; returns its score. */
double cl__crf_viterbi(crf_dims d, const double *w, const double *S, int32_t T, crf_work *wk,
                   int32_t *out);
/* Forward-backward over wk->S: fills wk->marg (T * L) and returns log Z. */
double cl__crf_forward_backward(crf_dims d, const double *w, int32_t T, crf_work *wk);
/* Score of a given label sequence. */
double cl__crf_path_score(crf_dims d, const double *w, const double *S, int32_t T,
                      const int32_t *y);
/* Negative log-likelihood of s (which must have labels); adds its gradient
 * to grad when grad != NULL. */
double cl__crf_seq_nll(crf_dims d, const double *w, const crf_seq *s, crf_work *wk, double *grad);

/* ---- optimiser (lbfgs.c) ---- */
/* Returns the smooth part f(x) and writes its gradient. */
typedef double (*crf_eval_fn)(void *ud, const double *x, double *g, int64_t n);
/* Called after each iteration with the objective (L1 included); non-zero stops. */
typedef int (*crf_iter_fn)(void *ud, const double *x, int64_t n, double fx, int k);

typedef struct crf_lbfgs_params {
    int m, max_iter, period, max_linesearch;
    double c1, epsilon, delta;
} crf_lbfgs_params;

/* Minimise f(x) + c1 |x|_1 from x; x holds the last iterate on return.
 * Returns 0 on convergence or a stop, -1 out of memory, 1 when the line
 * search failed (x is then the last good iterate; not an error for us). */
int cl__crf_lbfgs(int64_t n, double *x, double *fx, crf_eval_fn eval, crf_iter_fn iter, void *ud,
              const crf_lbfgs_params *p);

/* ---- labels ---- */
/* Label i: O (type -1), or B-/I- of type t.  Label ids: 0 = O, 1 + 2t = B-t,
 * 2 + 2t = I-t. */
static inline int32_t crf_label_type(int32_t y) { return y == 0 ? -1 : (y - 1) / 2; }
static inline bool crf_label_is_b(int32_t y) { return y > 0 && (y - 1) % 2 == 0; }

/* Entity counts for conlleval-style F1 (lenient: an I- after O or another
 * type starts an entity), per type. */
typedef struct crf_f1_counts {
    int32_t ntypes;
    int64_t tp[32], npred[32], ngold[32];
} crf_f1_counts;
void cl__crf_f1_add(crf_f1_counts *c, const int32_t *gold, const int32_t *pred, int32_t T);
/* Macro and micro F1 over the types. */
void cl__crf_f1_result(const crf_f1_counts *c, double *macro, double *micro);

/* ---- features (features.c) ---- */
typedef struct crf_feat_config {
    int32_t window;       /* words and shapes at +-window */
    int32_t affix;        /* prefixes and suffixes of length 1..affix */
    bool gazetteer;
    int32_t gaz_max_len;
    int32_t doc_words;    /* document keywords given to every token (0: none) */
} crf_feat_config;

/* Document-level attributes (docwords.c), computed once per document. */
typedef struct crf_doc_ctx {
    char **attrs;  /* "D=<word>" */
    size_t *lens;
    int32_t n;
} crf_doc_ctx;

cl_status cl__crf_doc_ctx_init(crf_doc_ctx *dc, const cl_doc *doc, int32_t k, cl_error *err);
void cl__crf_doc_ctx_free(crf_doc_ctx *dc);

/* Gazetteer: lower-cased token n-grams (joined by ' ') of training entities. */
typedef struct crf_gaz {
    crf_dict keys;
    uint32_t *types;    /* per entry: bit t set when seen as type t */
    uint8_t *folds;     /* training only: per entry * ntypes, fold bit mask; NULL after */
    int32_t cap;        /* capacity of types / folds (entries) */
    int32_t ntypes;     /* entity types (<= 32) */
    int32_t max_len;
} crf_gaz;

void cl__crf_gaz_init(crf_gaz *g, int32_t ntypes, int32_t max_len);
void cl__crf_gaz_free(crf_gaz *g);
/* Add an entry seen in fold `fold` (or -1) with type t. */
int cl__crf_gaz_add(crf_gaz *g, const char *key, size_t n, int32_t type, int32_t fold);

/* Vocabulary (vocab.c): lower-cased token sequences of medical terms, each
 * proper prefix a key with category mask 0 (a token trie in one hash). */
#define CRF_VOCAB_MAX_CATS 8
typedef struct crf_vocab {
    crf_dict keys;
    uint32_t *cats; /* per key: bit c set for category c; 0 for a prefix only */
    int32_t cap;
    int32_t ncats;
    char *cat_names[CRF_VOCAB_MAX_CATS];
    int32_t max_len; /* longest key in tokens */
} crf_vocab;

void cl__crf_vocab_init(crf_vocab *v);
void cl__crf_vocab_free(crf_vocab *v);
/* Add key (tokens joined by ' ') with categories mask; -1 on out of memory. */
int cl__crf_vocab_add(crf_vocab *v, const char *key, size_t n, uint32_t mask);
/* Read a "CATEGORY<TAB>term" file, tokenizing terms with tok. */
cl_status cl__crf_vocab_read(crf_vocab *v, const char *path, cl_tokenizer_kind tok, cl_error *err);
/* Token i's lower-cased text (n bytes) for the walk. */
typedef const char *(*crf_token_text_fn)(void *ud, int32_t i, size_t *n);
/* Mark the terms of tokens [0, T): from each token, walk the token trie as
 * far as some term goes on, and OR the categories of the longest term found
 * into vB (its first token) and vI (the others). */
cl_status cl__crf_vocab_walk(const crf_vocab *v, int32_t T, crf_token_text_fn text, void *ud,
                             uint32_t *vB, uint32_t *vI, cl_error *err);

/* Called for each attribute of token t; returns 0 or -1 (stop, error). */
typedef int (*crf_emit_fn)(void *ud, int32_t t, const char *attr, size_t n);

/* Emit the attributes of sentence si of doc.  fold >= 0 hides gazetteer
 * entries seen only in that fold (training documents), -1 shows all. */
cl_status cl__crf_sentence_attrs(const crf_feat_config *cfg, const crf_gaz *gaz, int32_t fold,
                                 const crf_vocab *vocab, const crf_doc_ctx *dc, const cl_doc *doc,
                                 int32_t si, crf_emit_fn emit, void *ud, cl_error *err);
/* Lower-cased text of token tok into buf (NUL-terminated); returns length. */
size_t cl__crf_token_lower(const cl_doc *doc, int32_t tok, char *buf, size_t cap);

/* ---- the model object (model.c) ---- */
struct cl_crf_model {
    crf_dims dims;
    char **labels;        /* L names: "O", "B-DISEASE", ... */
    char **types;         /* (L - 1) / 2 entity types */
    crf_dict attrs;       /* A attribute strings */
    double *w;            /* crf_nweights(dims), each exactly a float */
    double o_bias;        /* subtracted from O's state score when tagging */
    crf_feat_config cfg;
    crf_gaz gaz;
    crf_vocab vocab;      /* empty unless trained with a vocabulary */
    int32_t nmeta;
    char **meta_keys, **meta_vals;
};

/* Allocate a model with labels for the given types (dims.A/D set later). */
cl_crf_model *cl__crf_model_new(const char *const *types, int32_t ntypes, cl_error *err);
/* Label id of a tag string ("B-SIGN"), 0 when unknown or not in the set. */
int32_t cl__crf_model_label_id(const cl_crf_model *m, const char *tag);

/* ---- sentence -> crf_seq (seq.c) ---- */
typedef int32_t (*crf_label_fn)(void *ud, const char *tag);

typedef struct crf_seq_src {
    const crf_feat_config *cfg;
    const crf_gaz *gaz;
    const crf_vocab *vocab;  /* or NULL */
    int32_t fold;            /* gazetteer fold of the document, -1 for none */
    const crf_doc_ctx *doc_ctx; /* document attributes, or NULL */
    const crf_dict *lookup;  /* tagging: known attributes only ... */
    crf_dict *intern;        /* ... or training: add new ones and count them */
    int64_t **counts;
    int32_t *cap_counts;
    const float *dense_rows; /* the document's dense rows, or NULL */
    int32_t dense_dim;
    crf_label_fn label_of;   /* gold tag -> label id (when doc->tags), or NULL */
    void *label_ud;
} crf_seq_src;

cl_status cl__crf_seq_build(const crf_seq_src *src, const cl_doc *doc, int32_t si, crf_seq *out,
                        cl_error *err);

#endif
