/*
 * session_internal.h - pieces of the tagging session shared between its
 * files (not installed): the LLM prompt set-up and the backend table.
 */
#ifndef CLINNER_SESSION_INTERNAL_H
#define CLINNER_SESSION_INTERNAL_H

#include "clinner/prompt.h"
#include "clinner/retrieve.h"
#include "clinner/session.h"

/* What a backend may plug into the prompt set-up (the llama backend's
 * embedding retriever for rag). */
typedef struct cl_session_hooks {
    /* takes kb, also on failure */
    cl_status (*make_retriever)(void *ctx, const cl_tag_config *cfg, const char *cache_dir,
                                cl_kb *kb, cl_retriever *out, cl_error *err);
    void *ctx;
} cl_session_hooks;

typedef struct cl_session_prompt {
    cl_strategy strategy;
    cl_corpus *train;        /* few-/knn-shot examples, or NULL */
    cl_retriever retriever;  /* rag */
    cl_prompt_builder *builder;
    char *cache_dir;         /* <cache>/index */
} cl_session_prompt;

/* Build the prompt builder cfg's strategy calls for, over documents
 * tokenized by tok; reads only what the strategy needs. */
cl_status cl_session_prompt_open(const cl_tag_config *cfg, cl_tokenizer_kind tok,
                                 const cl_session_hooks *hooks, cl_session_prompt *out,
                                 cl_error *err);
void cl_session_prompt_close(cl_session_prompt *p);

#endif
