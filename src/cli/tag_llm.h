/*
 * tag_llm.h - what the LLM backends of `clinner tag` (llama, openai) share:
 * their options (strategy, shots, decoding, knowledge base, training data,
 * sampling, server), and the prompt set-up those options call for (training
 * examples, knowledge-base retriever, prompt builder).
 */
#ifndef CLINNER_CLI_TAG_LLM_H
#define CLINNER_CLI_TAG_LLM_H

#include <stdio.h>

#include "cli/cli_opts.h"
#include "clinner/prompt.h"
#include "clinner/retrieve.h"
#include "clinner/tokenize.h"

typedef struct llm_opts {
    const char *strategy;    /* --strategy (default zero-shot) */
    const char *decode;      /* --decode (default free) */
    const char *speculate;   /* --speculate auto|on|off (forced; default auto) */
    const char *kb;          /* --kb DIR (rag; default: the training texts) */
    const char *train;       /* --train DIR (default: shared RareDis train) */
    const char *api_base;    /* --api-base (openai) */
    const char *api_key_env; /* --api-key-env (openai) */
    const char *cache_dir;   /* --cache-dir (default $CLINNER_CACHE or ~/.cache/clinner) */
    long shots;              /* --shots (default 5) */
    long parallel;           /* --parallel (openai, default 1) */
    long max_tokens;         /* --max-tokens (0: enough for the answer) */
    long seed;               /* --seed (-1: not set) */
    long retries;            /* --retries (openai, default 5) */
    long rag_k;              /* --rag-k (default 2) */
    double temp;             /* --temp (default 0) */
    double timeout;          /* --timeout seconds per request (openai, default 300) */
    /* rag: a retriever other than BM25 over the knowledge base (e.g. the
     * llama backend's embedding retriever for --embed-model); takes kb. */
    cl_status (*make_retriever)(void *ctx, cl_kb *kb, cl_retriever *out, cl_error *err);
    void *make_retriever_ctx;
} llm_opts;

void llm_opts_init(llm_opts *o);
/* The LLM options as option-table entries writing into o: fills out[0 ..
 * n) and returns n, at most LLM_OPTS_MAX (checked when compiled). */
#define LLM_OPTS_MAX 16
size_t llm_opts_table(llm_opts *o, cli_opt *out);
/* Help lines for these options. */
void llm_opts_usage(FILE *fp);
/* The options that shape the output, as text (for the resume fingerprint). */
void llm_opts_fingerprint(const llm_opts *o, cl_buf *out);

typedef struct llm_prompt {
    cl_strategy strategy;
    cl_decode decode;
    cl_corpus *train;     /* few-/knn-shot examples, or NULL */
    cl_retriever retriever; /* rag */
    cl_prompt_builder *builder;
    char *cache_dir;
} llm_prompt;

/* Set up the prompt builder for the options, with documents tokenized by
 * tok (the run's tokenizer).  Training data and the knowledge base are read
 * only when the strategy needs them. */
cl_status llm_prompt_open(const llm_opts *o, cl_tokenizer_kind tok, llm_prompt *out,
                          cl_error *err);
void llm_prompt_close(llm_prompt *p);

#endif
