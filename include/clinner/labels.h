/*
 * labels.h - the label table: BIO label strings ("O", "B-SIGN", ...)
 * interned as small integer ids, each with its reading split once (prefix
 * B / I / O, entity type id, validity), so that code holding many labels
 * (a scored corpus has one per token) keeps an int per token instead of a
 * string, and compares ids instead of strings.
 *
 * A label is valid when it is "O", or "B-X" / "I-X" with a non-empty type
 * X (the rule of tokenize/bio.c and the CRF); any other string is interned
 * too, as itself, with prefix CL_BIO_INVALID, so that readers that must
 * keep what they read (the scorer reads odd labels seqeval's way) lose
 * nothing.  NULL and "" intern as "O".  Id 0 is always "O".
 */
#ifndef CLINNER_LABELS_H
#define CLINNER_LABELS_H

#include "clinner/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cl_bio_prefix {
    CL_BIO_O = 0,
    CL_BIO_B,
    CL_BIO_I,
    CL_BIO_INVALID, /* neither O nor B-X / I-X */
} cl_bio_prefix;

typedef struct cl_labels cl_labels;

cl_status cl_labels_new(cl_labels **out, cl_error *err);
void cl_labels_free(cl_labels *l);

/* Id of label[0..len), added when new; -1 when out of memory. */
int32_t cl_labels_intern(cl_labels *l, const char *label, size_t len);
/* Id of label[0..len), or -1 when it is not in the table. */
int32_t cl_labels_find(const cl_labels *l, const char *label, size_t len);
int32_t cl_labels_count(const cl_labels *l);
/* The label's string (NUL-terminated, owned by the table), NULL for a bad id. */
const char *cl_labels_name(const cl_labels *l, int32_t id);
cl_bio_prefix cl_labels_prefix(const cl_labels *l, int32_t id);
/* Entity type id of a B-X / I-X label (types numbered from 0 in order of
 * first appearance), -1 for O and invalid labels. */
int32_t cl_labels_type(const cl_labels *l, int32_t id);
int32_t cl_labels_ntypes(const cl_labels *l);
const char *cl_labels_type_name(const cl_labels *l, int32_t type);

/* ---- the BIO chunker ----
 * The entities of a label sequence read the lenient (conlleval) way, the
 * reading of the CRF's dev F1 and of cl_bio_to_entities: a B-X starts an
 * entity, so does an I-X that does not continue one of type X on the token
 * before (after O, another type, or a sentence start), and an entity goes
 * on over the I-X that follow.  Per token: type[t] its entity type (< 0: O,
 * or a label read as O), is_b[t] whether it is a B-; starts (may be NULL)
 * true where a sentence starts.  out has room for n chunks (sorted by
 * begin); returns their count.  The scorer (eval.h) reads odd labels
 * seqeval's way and keeps its own. */
typedef struct cl_bio_chunk {
    int32_t begin, end; /* tokens [begin, end) */
    int32_t type;
} cl_bio_chunk;

int32_t cl_bio_chunks(const int32_t *type, const bool *is_b, const bool *starts, int32_t n,
                      cl_bio_chunk *out);

#ifdef __cplusplus
}
#endif
#endif
