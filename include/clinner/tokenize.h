/*
 * tokenize.h - word tokenizers, sentence splitters and the projection of
 * entities onto per-token BIO tags (and back).
 *
 *   paper    - exactly the brat2iob rules of Lu et al. 2024 (see
 *              shared/docs/paper-facts.md), so our token files match theirs
 *              row for row.
 *   clinical - clinner's default, built for clinical text: Unicode
 *              punctuation and dashes, slashes, parentheses, no-break
 *              spaces, numbers with units, abbreviations that do not end a
 *              sentence.  Exact code-point offsets.
 */
#ifndef CLINNER_TOKENIZE_H
#define CLINNER_TOKENIZE_H

#include "clinner/doc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_tokenizer_kind {
    CL_TOKENIZER_CLINICAL = 0, /* default */
    CL_TOKENIZER_PAPER = 1,
} cl_tokenizer_kind;

/* "paper" / "clinical" -> kind; CL_ERR_ARG names the bad value. */
cl_status cl_tokenizer_from_name(const char *name, cl_tokenizer_kind *out, cl_error *err);
const char *cl_tokenizer_name(cl_tokenizer_kind kind);

/* Replace doc's tokens and sentences with those of the tokenizer. */
cl_status cl_tokenize_doc(cl_doc *doc, cl_tokenizer_kind kind, cl_error *err);

/* What the BIO projection could not represent. */
typedef struct cl_bio_stats {
    int64_t entities;          /* entities considered */
    int64_t discontinuous;     /* entities with more than one fragment */
    int64_t overlapping;       /* entities whose span overlaps another's */
    int64_t lost;              /* entities not recovered exactly from the tags */
    int64_t boundary_in_token; /* entity boundaries (start or end) falling inside a token */
    int64_t boundaries;        /* entity boundaries checked */
    int64_t cross_sentence;    /* entities spanning a sentence end */
} cl_bio_stats;

typedef enum cl_bio_policy {
    /* brat2iob: first listed fragment only; types visited in order of first
     * appearance in the .ann, a later type overwrites an earlier one; B when
     * token start == span start, I when start > span start and end <= span end. */
    CL_BIO_PAPER = 0,
    /* clinner's: every fragment is tagged (later fragments continue with I- when
     * adjacent in tokens, else start a new B-), longest entity wins on overlap,
     * tokens partly covered by an entity are tagged. */
    CL_BIO_CLINICAL = 1,
} cl_bio_policy;

/* Set doc->tags from doc->entities (doc must be tokenized).  types/ntypes
 * restrict which entity types are kept (NULL: all).  stats may be NULL and
 * is added to, not reset. */
cl_status cl_bio_from_entities(cl_doc *doc, cl_bio_policy policy, const char *const *types,
                               int ntypes, cl_bio_stats *stats, cl_error *err);

/* Replace doc->entities with those decoded from doc->tags (lenient, conlleval
 * rules: an I- after O or of another type starts an entity), one fragment each,
 * spanning its tokens' characters.  Confidences come from doc->tag_conf when set
 * (mean over the entity's tokens). */
cl_status cl_bio_to_entities(cl_doc *doc, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
