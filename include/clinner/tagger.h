/*
 * tagger.h - the one interface every tagging backend implements (crf,
 * llama, openai).  A backend receives a tokenized document and a range of
 * its sentences and fills doc->tags (and doc->tag_conf when it has
 * confidences) for those sentences' tokens.  It does not read files or
 * print; the CLI handles formats, progress and checkpoints.
 */
#ifndef CLINNER_TAGGER_H
#define CLINNER_TAGGER_H

#include "clinner/doc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cl_tagger_ops {
    const char *name;
    /* Tag sentences [sent_begin, sent_end) of doc.  doc->tags exists (all
     * "O") when this is called. */
    cl_status (*tag)(void *self, cl_doc *doc, int32_t sent_begin, int32_t sent_end,
                     cl_error *err);
    void (*free)(void *self);
} cl_tagger_ops;

typedef struct cl_tagger {
    const cl_tagger_ops *ops;
    void *self;
} cl_tagger;

/* Tag every sentence of doc (allocating doc->tags when absent). */
cl_status cl_tagger_tag_doc(cl_tagger *t, cl_doc *doc, cl_error *err);
/* Free the backend and reset t. */
void cl_tagger_free(cl_tagger *t);

#ifdef __cplusplus
}
#endif
#endif
