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

#ifdef __cplusplus
}
#endif
#endif
