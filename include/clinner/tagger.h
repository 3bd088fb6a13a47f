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

/* Counters a backend keeps over its lifetime; a backend fills what it
 * counts and leaves the rest 0. */
typedef struct cl_tagger_stats {
    int64_t sentences;        /* sentences tagged */
    int64_t tokens;           /* word tokens labelled */
    int64_t prompt_tokens;    /* model tokens read (LLM backends) */
    int64_t generated_tokens; /* model tokens generated or scored */
    int64_t misaligned;       /* answers whose line count differed from the sentence's */
    int64_t invalid_labels;   /* answer labels outside the label set, read as O */
    int64_t skipped;          /* sentences left all O (empty, longer than the context) */
    int64_t retries;          /* remote backends: requests sent again */
    int64_t model_rounds;     /* local LLM: llama_decode calls (each a batch of sequences) */
    int64_t draft_tokens;     /* local LLM, forced: guessed tokens checked */
    int64_t draft_rejected;   /* of these, dropped because the model chose otherwise */
    int64_t cached_prompt_tokens; /* local LLM: of prompt_tokens, those read from the KV
                                   * cache of the shared prefix instead of decoded again */
    int64_t model_usec;       /* local LLM: microseconds in llama_decode (the device's
                               * work included); the rest of a run is on the host */
} cl_tagger_stats;

/* A backend reports what the user should know but is not an error (a
 * retried request, a skipped sentence) through a cl_log_fn (common.h). */

/* What an LLM backend answered for one sentence, kept so that users can
 * study the raw answers (`clinner tag --answers FILE`). */
typedef struct cl_tagger_answer {
    char *text;             /* the model's answer as it came (free and grammar: generated;
                             * forced: the text fed); NULL: none (the sentence was skipped) */
    size_t len;
    int32_t lines;          /* answer lines read the paper's way */
    bool misaligned;        /* its line count differed from the sentence's tokens (or, for
                             * a grammar answer from a server, it broke the grammar) */
    int32_t invalid_labels; /* labels outside the label set, read as O */
} cl_tagger_answer;

/* The answers of the sentences of one tag() call, for backends to keep. */
typedef struct cl_tagger_answers {
    int32_t sent_begin, n;
    cl_tagger_answer *a;
} cl_tagger_answers;

void cl_tagger_answers_init(cl_tagger_answers *as);
/* Forget the kept answers and make room for sentences [sb, se). */
cl_status cl_tagger_answers_reset(cl_tagger_answers *as, int32_t sb, int32_t se, cl_error *err);
/* Keep sentence sent's answer (a copy of text); sent must lie in the range. */
cl_status cl_tagger_answers_set(cl_tagger_answers *as, int32_t sent, const char *text, size_t len,
                                int32_t lines, bool misaligned, int32_t invalid_labels,
                                cl_error *err);
/* Sentence sent's answer, or NULL when none is kept. */
const cl_tagger_answer *cl_tagger_answers_get(const cl_tagger_answers *as, int32_t sent);
void cl_tagger_answers_free(cl_tagger_answers *as);

typedef struct cl_tagger_ops {
    const char *name;
    /* Tag sentences [sent_begin, sent_end) of doc.  doc->tags exists (all
     * "O") when this is called. */
    cl_status (*tag)(void *self, cl_doc *doc, int32_t sent_begin, int32_t sent_end,
                     cl_error *err);
    void (*free)(void *self);
    /* Optional (may be NULL): the counters so far. */
    void (*stats)(void *self, cl_tagger_stats *out);
    /* Optional (may be NULL): sentence sent's answer from the last tag()
     * call, NULL when it has none; valid until the next call. */
    const cl_tagger_answer *(*answer)(void *self, int32_t sent);
} cl_tagger_ops;

typedef struct cl_tagger {
    const cl_tagger_ops *ops;
    void *self;
} cl_tagger;

/* Tag every sentence of doc (allocating doc->tags when absent). */
cl_status cl_tagger_tag_doc(cl_tagger *t, cl_doc *doc, cl_error *err);
/* The backend's counters (all 0 when it keeps none). */
void cl_tagger_get_stats(const cl_tagger *t, cl_tagger_stats *out);
/* Whether the backend keeps its raw answers (LLM backends). */
bool cl_tagger_keeps_answers(const cl_tagger *t);
/* Sentence sent's answer from the last tag() call, or NULL. */
const cl_tagger_answer *cl_tagger_answer_of(const cl_tagger *t, int32_t sent);
/* Free the backend and reset t. */
void cl_tagger_free(cl_tagger *t);

#ifdef __cplusplus
}
#endif
#endif
