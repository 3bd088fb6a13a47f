/*
 * eval_internal.h - private pieces shared by the scorer's files: a table of
 * entity type names (types are small integers inside the scorer), an entity
 * record with type id and [start, end) positions, the seqeval chunkers that
 * turn labels into entities, result building from per-type counts, and the
 * error breakdown.
 */
#ifndef CLINNER_EVAL_INTERNAL_H
#define CLINNER_EVAL_INTERNAL_H

#include "clinner/eval.h"

/* ---- type names ---- */
typedef struct ev_types {
    char **names;
    int32_t n, cap;
} ev_types;

void cl__ev_types_free(ev_types *t);
/* Id of name[0..len), added when new; -1 on out of memory. */
int32_t cl__ev_types_intern(ev_types *t, const char *name, size_t len);

/* ---- entities ---- */
typedef struct ev_ent {
    int32_t type;
    int64_t start, end; /* [start, end) */
    int32_t shape;      /* 0: contiguous; else equal only for the same fragments */
} ev_ent;

typedef struct ev_ents {
    ev_ent *v;
    int64_t n, cap;
} ev_ents;

void cl__ev_ents_free(ev_ents *e);
int cl__ev_ents_push(ev_ents *e, int32_t type, int64_t start, int64_t end); /* -1 nomem */

/* seqeval's default get_entities as a stream: feed labels one by one
 * (separator "O"s included by the caller); finished chunks are pushed to out
 * with positions counted from the first label fed. */
typedef struct ev_chunker {
    int prev_tag;      /* first character of the previous label */
    int32_t prev_type; /* -1 for seqeval's initial '' */
    int64_t begin, pos;
} ev_chunker;

void cl__ev_chunker_init(ev_chunker *c);
/* -1 on out of memory. */
int cl__ev_chunker_feed(ev_chunker *c, const char *label, ev_types *types, ev_ents *out);

/* seqeval's strict IOB2 reading of one sentence: entities at base + index.
 * 0 on success, -1 on out of memory, 1 when a label is not O / B-X / I-X
 * (seqeval raises on it): *bad is then its index and nothing is added. */
int cl__ev_strict_sentence(const char *const *labels, int32_t n, int64_t base, ev_types *types,
                           ev_ents *out, int32_t *bad);
/* Index of the first label seqeval's IOB2 scheme rejects, or -1. */
int32_t cl__ev_first_not_iob2(const char *const *labels, int32_t n);
/* The error for a label strict mode rejects: index is 0-based, word (may be
 * NULL) the token's text. */
cl_status cl__ev_not_iob2(cl_error *err, const char *label, int32_t index, const char *word);

/* s as a message should show it (invisible characters as \u{XXXX}, bad
 * bytes as \xHH, cut with "..." to fit cap bytes); returns out. */
const char *cl__ev_visible(const char *s, char *out, size_t cap);

/* ---- results ---- */

/* Fill r's type scores and averages from per-type counts (indexed by type
 * id of types); r's other fields are left alone.  Types with no gold and no
 * predicted entity are left out. */
cl_status cl__ev_build_result(const ev_types *types, const int64_t *tp, const int64_t *npred,
                          const int64_t *ntrue, cl_eval_result *r, cl_error *err);
void cl__ev_result_init(cl_eval_result *r);

/* ---- error breakdown ----
 * Classify the entities of one unit (sentence or document).  words (n of
 * them, may be NULL) name the positions for examples; when NULL, positions
 * are printed as numbers. */
typedef struct ev_unit_view {
    const char *const *words; /* per position text, or NULL */
    int64_t nwords;
    const char *text; /* span level: document text (code-point positions), or NULL */
    const cl_text_index *index;
} ev_unit_view;

cl_status cl__ev_classify(const ev_ent *gold, int64_t ngold, const ev_ent *pred, int64_t npred,
                      const ev_types *types, const ev_unit_view *view, int64_t unit,
                      int max_examples, cl_eval_errors *errs, cl_error *err);
void cl__ev_errors_free(cl_eval_errors *e);
/* Deep copy of an error breakdown. */
cl_status cl__ev_errors_copy(cl_eval_errors *dst, const cl_eval_errors *src, cl_error *err);

#endif
