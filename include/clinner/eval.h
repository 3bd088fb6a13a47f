/*
 * eval.h - the scorer: seqeval-compatible entity scoring of BIO label
 * sequences, the paper's parsing and alignment of LLM output ("paper-lines"),
 * span-level scoring against BRAT entities, and an error breakdown.
 *
 * Token level (what the paper reports): entities are read from each
 * sentence's labels exactly as seqeval 1.2 does, either in its default
 * conlleval-like lenient way (sentences joined with an "O" between them, as
 * seqeval's get_entities does for a list of lists) or in its strict IOB2
 * way (mode='strict', scheme=IOB2).  An entity is correct when type, first
 * and last token agree.  Per-type precision, recall, F1 and support follow
 * seqeval's classification_report with zero_division giving 0; the paper's
 * "average" is the unweighted mean over its five types (ANAPHOR left out).
 *
 * Span level: entities with character spans (code points) against BRAT gold,
 * matched exactly (same type and fragments) or by overlap (same type, any
 * shared character, each gold and each prediction matched at most once).
 */
#ifndef CLINNER_EVAL_H
#define CLINNER_EVAL_H

#include "clinner/corpus.h"
#include "clinner/doc.h"
#include "clinner/labels.h"
#include "clinner/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options ---- */

typedef enum cl_eval_mode {
    CL_EVAL_DEFAULT = 0, /* seqeval default: lenient, I- after O starts an entity */
    CL_EVAL_STRICT,      /* seqeval mode='strict', scheme=IOB2 */
} cl_eval_mode;

typedef enum cl_eval_match {
    CL_MATCH_EXACT = 0, /* span level: same type and same fragments */
    CL_MATCH_OVERLAP,   /* span level: same type and any overlap, one-to-one */
} cl_eval_match;

typedef struct cl_eval_params {
    cl_eval_mode mode;   /* default CL_EVAL_DEFAULT */
    cl_eval_match match; /* default CL_MATCH_EXACT (span level only) */
    bool errors;         /* collect the error breakdown (default false) */
    int max_examples;    /* examples kept per error class (default 3, at most 3) */
    const char *gold_name; /* file names that messages give (NULL: just "gold", */
    const char *pred_name; /* "predictions") */
} cl_eval_params;

cl_eval_params cl_eval_default_params(void);
cl_status cl_eval_mode_from_name(const char *name, cl_eval_mode *out, cl_error *err);
cl_status cl_eval_match_from_name(const char *name, cl_eval_match *out, cl_error *err);

/* ---- results ---- */

typedef struct cl_prf {
    double precision, recall, f1;
    int64_t support; /* true entities */
} cl_prf;

typedef struct cl_type_score {
    char *type;
    int64_t tp, predicted, support;
    cl_prf prf;
} cl_type_score;

/* Error classes of the breakdown.  Each predicted entity gets one class
 * (first that applies): correct (same span and type), wrong type (same span),
 * boundary (overlaps a gold entity of its type), boundary+type (overlaps a
 * gold entity of another type), false positive (overlaps none); every gold
 * entity that no prediction overlaps is a false negative. */
typedef enum cl_err_class {
    CL_ERRC_CORRECT = 0,
    CL_ERRC_BOUNDARY,
    CL_ERRC_TYPE,
    CL_ERRC_BOUNDARY_TYPE,
    CL_ERRC_FALSE_POSITIVE,
    CL_ERRC_FALSE_NEGATIVE,
    CL_ERRC_COUNT
} cl_err_class;

#define CL_EVAL_MAX_EXAMPLES 3

typedef struct cl_eval_example {
    char *sentence; /* tokens joined by spaces, gold marked [[..]]TYPE, pred {{..}}TYPE */
    char *gold;     /* "tokens (TYPE)" or NULL */
    char *pred;     /* "tokens (TYPE)" or NULL */
    int64_t unit;   /* sentence index (token level), document index (span level) */
} cl_eval_example;

/* One cell of the type confusion: how many predictions of type pred were
 * classed against a gold entity of type gold (the one their class names);
 * gold "" is a false positive, pred "" a false negative. */
typedef struct cl_eval_confusion_cell {
    char *gold, *pred;
    int64_t count;
} cl_eval_confusion_cell;

typedef struct cl_eval_errors {
    int64_t count[CL_ERRC_COUNT];
    cl_eval_example examples[CL_ERRC_COUNT][CL_EVAL_MAX_EXAMPLES];
    int nexamples[CL_ERRC_COUNT];
    cl_eval_confusion_cell *confusion; /* the non-zero cells, in order of first sight */
    int32_t nconfusion, cap_confusion;
} cl_eval_errors;

/* Short name of an error class ("boundary", "false_negative", ...). */
const char *cl_err_class_name(cl_err_class c);

typedef struct cl_eval_result {
    cl_type_score *types; /* every type seen in gold or pred, sorted by name */
    int32_t ntypes;
    cl_prf micro, macro, weighted; /* support: all true entities */
    cl_prf average;                /* the paper's: mean over cl_paper_types */
    int64_t units;                 /* sentences (token level) or documents (span level) */
    int64_t misaligned;            /* paper-lines sentences of wrong length; -1 if n/a */
    int64_t misaligned_short;      /* of these, with fewer lines than tokens (cut answers) */
    /* paper-lines sentences of the right length whose token texts are not
     * the gold's, and their differing lines: position-only alignment scores
     * them all the same, so they are the misalignments it cannot see */
    int64_t text_mismatch, text_mismatch_tokens;
    int64_t missing_docs;          /* span level: gold documents without prediction */
    bool has_errors;
    cl_eval_errors errors;
} cl_eval_result;

void cl_eval_result_free(cl_eval_result *r);
/* Score of one type in r, or NULL. */
const cl_type_score *cl_eval_result_type(const cl_eval_result *r, const char *type);

/* ---- token-level scorer: feed sentences, then take the result ---- */

typedef struct cl_scorer cl_scorer;

cl_status cl_scorer_new(const cl_eval_params *params, cl_scorer **out, cl_error *err);
void cl_scorer_free(cl_scorer *s);
/* One sentence of n gold and n predicted labels; tokens (may be NULL) are
 * used only for error examples.  An empty or NULL label reads as "O". */
cl_status cl_scorer_add(cl_scorer *s, const char *const *gold, const char *const *pred,
                        int32_t n, const char *const *tokens, cl_error *err);
/* Final scores of everything added so far (the scorer stays usable). */
cl_status cl_scorer_result(cl_scorer *s, cl_eval_result *out, cl_error *err);

/* Entities of one label sequence read on its own (as one sentence): types
 * newly allocated, [start, end) token indices.  Free with cl_eval_spans_free. */
typedef struct cl_eval_span {
    char *type;
    int32_t start, end;
} cl_eval_span;

cl_status cl_eval_entities(const char *const *labels, int32_t n, cl_eval_mode mode,
                           cl_eval_span **out, int32_t *nout, cl_error *err);
void cl_eval_spans_free(cl_eval_span *spans, int32_t n);

/* ---- the paper's LLM output ("paper-lines") ----
 * Parsed as the paper's rd_ner_eval.py does: the text, stripped, is cut at
 * every "######"; the piece before the first separator is dropped when it is
 * blank (the paper always drops it); in each block, stripped, every non-empty
 * line loses its '[' and ']' characters and is split at ": "; exactly two
 * parts give the label (second part, stripped; empty reads as O), anything
 * else (no label, a token that itself contains ": ") reads as O.  Invalid
 * UTF-8 and NUL bytes are errors naming the file (and line). */
typedef struct cl_pl_block {
    char **tokens; /* first part of each line, stripped (whole line if no label) */
    char **labels;
    int32_t n, cap;
    int64_t line; /* 1-based line where the block starts */
} cl_pl_block;

typedef struct cl_paperlines {
    cl_pl_block *blocks;
    int32_t nblocks, cap;
} cl_paperlines;

cl_status cl_paperlines_parse(const char *data, size_t n, const char *file,
                              cl_paperlines *out, cl_error *err);
cl_status cl_paperlines_read(const char *path, cl_paperlines *out, cl_error *err);
void cl_paperlines_free(cl_paperlines *pl);

/* Align predicted labels to a gold sentence of ngold tokens by position:
 * out[i] = pred[i] for i < npred, else "O" (extra predictions are cut).
 * Returns whether the lengths differed. */
bool cl_eval_align(const char *const *pred, int32_t npred, int32_t ngold, const char **out);

/* ---- whole corpora ---- */

/* Token level: gold and pred are token corpora with tags, compared sentence
 * by sentence over all documents in order; sentence counts and each
 * sentence's tokens must agree.  Sentences are the paper's units: a
 * document's last sentence not ending on ".", "?" or "!" runs on into the
 * next document's first (brat2iob's Sentence_Num_Global, which the paper
 * grouped by).  Errors name the side, document, sentence and token; in
 * strict mode a label that is not O, B-X or I-X is an error (seqeval raises). */
cl_status cl_eval_corpora(const cl_corpus *gold, const cl_corpus *pred,
                          const cl_eval_params *params, cl_eval_result *out, cl_error *err);
/* The same in steps, for large files: a token-level view keeps of a corpus
 * only labels (ids of labels, shared by gold and predictions), token texts
 * and sentence units, about 15 bytes per token, so the corpus can be freed
 * once it is reduced.  gold: the corpus must have token labels. */
typedef struct cl_eval_tokens cl_eval_tokens;
cl_status cl_eval_tokens_new(const cl_corpus *c, bool gold, cl_labels *labels,
                             cl_eval_tokens **out, cl_error *err);
void cl_eval_tokens_free(cl_eval_tokens *t);
cl_status cl_eval_tokens_score(const cl_eval_tokens *gold, const cl_eval_tokens *pred,
                               const cl_labels *labels, const cl_eval_params *params,
                               cl_eval_result *out, cl_error *err);
/* Token level against LLM output: block i is aligned to the gold's sentence
 * unit i (as above); the block count must equal the unit count. */
cl_status cl_eval_paperlines(const cl_corpus *gold, const cl_paperlines *pred,
                             const char *pred_file, const cl_eval_params *params,
                             cl_eval_result *out, cl_error *err);
/* Span level: documents matched by id.  Predicted entities are the pred
 * document's entities, or, when it has none but has tags, the entities its
 * tags spell (mapped onto the gold text through its tokens). */
cl_status cl_eval_span_corpora(const cl_corpus *gold, const cl_corpus *pred,
                               const cl_eval_params *params, cl_eval_result *out,
                               cl_error *err);

/* ---- files (what `clinner eval` does) ---- */

/* Which scoring the formats call for: paper-lines predictions are aligned
 * by position (token-level gold); BRAT gold, or match_given (an explicit
 * span match mode) with other predictions, is span level; else token level.
 * CL_ERR_ARG, naming the format, for a combination that cannot be scored
 * (paper-lines or text as gold, text predictions, paper-lines against
 * span-level gold). */
cl_status cl_eval_scoring_check(cl_format gold_fmt, cl_format pred_fmt, bool match_given,
                                bool *span_level, cl_error *err);
/* Score the prediction file pred_path (pred_fmt) against the gold corpus
 * as cl_eval_scoring_check decided (span_level); messages name the file. */
cl_status cl_eval_file(const cl_corpus *gold, const char *pred_path, cl_format pred_fmt,
                       bool span_level, const cl_eval_params *params, cl_eval_result *out,
                       cl_error *err);
/* Token level, two token files, for large files: the gold is read and
 * reduced to its token view (cl_eval_tokens) and freed before the
 * predictions are read, so only one whole corpus is in memory at a time. */
cl_status cl_eval_token_files(const char *gold_path, cl_format gold_fmt, const char *pred_path,
                              cl_format pred_fmt, const cl_eval_params *params,
                              cl_eval_result *out, cl_error *err);

/* clinner eval: gold_path (gold_fmt) against the first prediction file,
 * into *out; with html_path, also every other prediction file, each scored
 * with its error breakdown, and a report comparing them written to
 * html_path (atomically; columns named by file name).  pred_fmts has npreds
 * formats, or one for all (nfmts 1).  Which scoring applies follows from
 * the gold format and the first prediction's (cl_eval_scoring_check); one
 * token-level pair without a report takes the lean path
 * (cl_eval_token_files). */
typedef struct cl_eval_files_params {
    const char *gold_path;
    cl_format gold_fmt;
    const char *const *pred_paths;
    int npreds;
    const cl_format *pred_fmts;
    int nfmts;
    bool match_given;       /* an explicit match mode: span level for token gold */
    const char *html_path;  /* NULL: no report */
    cl_eval_params eval;    /* errors are collected for the report either way */
} cl_eval_files_params;
cl_status cl_eval_files(const cl_eval_files_params *p, cl_eval_result *out, cl_error *err);

/* ---- reports ---- */

/* seqeval-like table (4 digits) plus the paper's average row; with errors
 * when the result has them. */
cl_status cl_eval_format_table(const cl_eval_result *r, cl_buf *out, cl_error *err);
/* One JSON object: per_type, average, micro, macro, weighted,
 * misaligned_sentences (when known), errors (when collected). */
cl_status cl_eval_format_json(const cl_eval_result *r, cl_buf *out, cl_error *err);
/* A self-contained HTML page (inline CSS and SVG, no scripts) comparing n
 * results side by side, names[i] naming results[i]: per-type precision,
 * recall and F1 as bar charts with the paper's average, the error breakdown
 * as a chart, a type confusion matrix per result, and the error examples
 * (results scored with errors) with gold and predicted spans highlighted.
 * title (may be NULL) heads the page; gold names the gold data. */
cl_status cl_eval_format_html(const cl_eval_result *const *results, const char *const *names,
                              int n, const char *title, const char *gold, cl_buf *out,
                              cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
