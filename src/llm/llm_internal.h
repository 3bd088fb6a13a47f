/*
 * llm_internal.h - what the files of src/llm share: the model handle with
 * its token-piece table, tokenizing helpers, and the answer automaton that
 * forced and grammar decoding follow.
 */
#ifndef CLINNER_LLM_INTERNAL_H
#define CLINNER_LLM_INTERNAL_H

#include <llama.h>

#include "clinner/llm.h"

/* A token's piece, for the table sorted by piece bytes. */
typedef struct cl_piece_ref {
    const char *piece;
    int32_t len;
    llama_token id;
} cl_piece_ref;

struct cl_llama_model {
    struct llama_model *model;
    const struct llama_vocab *vocab;
    char *path;
    char desc[128];
    const char *tmpl; /* the chat template in use, NULL: the plain one */
    char *tmpl_own;   /* tmpl when set by cl_llama_model_set_template */
    int32_t n_vocab;
    /* Token pieces as llama.cpp's grammar sees them (special tokens
     * rendered), built on first use by cl_llm_pieces. */
    char **pieces;
    int32_t *piece_len;
    bool *is_eog;
    /* The tokens an answer can use (piece non-empty, not starting with a
     * NUL byte, not end-of-generation), sorted by piece bytes, a piece
     * before its extensions: the tokens that continue an answer are found
     * by walking the answer's next bytes through this table instead of
     * testing the whole vocabulary.  Same first use as pieces. */
    cl_piece_ref *by_piece;
    int32_t n_by_piece;
    llama_token *eog; /* the end-of-generation tokens */
    int32_t n_eog;
};

/* The first token of highest logit among lg[0..n): greedy sampling's
 * choice, and ggml_argmax's. */
llama_token cl_llm_first_max(const float *lg, int32_t n);

/* Build the piece table (once). */
cl_status cl_llm_pieces(cl_llama_model *m, cl_error *err);

/* Tokenize text[0..n) into a new array (*out, *nout): add_special adds BOS
 * where the model wants it; parse_special reads "<|im_start|>" and the like
 * as the special tokens they name. */
cl_status cl_llm_tokenize(const cl_llama_model *m, const char *text, size_t n, bool add_special,
                          bool parse_special, llama_token **out, int32_t *nout, cl_error *err);

/* Model tokens whose pieces spell exactly a prefix of text[0..n): the
 * tokenizer's segmentation of text, cut where a piece stops matching (the
 * leading space some tokenizers add is avoided).  At most max tokens;
 * returns how many were written to out. */
int32_t cl_llm_guess_tokens(cl_llama_model *m, const char *text, size_t n, llama_token *out,
                            int32_t max);

/* Number of online CPUs (at least 1). */
int32_t cl_llm_ncpu(void);

/* Silence llama.cpp's log (or not); also initialises the backend once per call. */
void cl_llm_init_backend(bool verbose);

/* ---- the answer automaton ----
 * The answers a sentence's grammar allows, as a deterministic automaton
 * over bytes: line i is the fixed text F_i = "<token i> : " followed by a
 * label allowed after the previous one and "\n".  While inside a label the
 * state keeps the set of labels still possible (a bit mask). */
typedef struct cl_fsm_sentence {
    const cl_label_set *ls;
    int32_t n;           /* lines (tokens) */
    char **fixed;        /* F_i */
    size_t *fixed_len;
    char **lab;          /* label i + "\n" */
    size_t *lab_len;
} cl_fsm_sentence;

typedef struct cl_fsm {
    int32_t line;  /* current line; == n when the answer is complete */
    int32_t prev;  /* label of the previous line, -1 at the start */
    int32_t phase; /* 0: in the fixed text, 1: in the label */
    int32_t k;     /* bytes of the current part consumed */
    uint64_t mask; /* phase 1: labels still possible */
} cl_fsm;

cl_status cl_fsm_sentence_init(cl_fsm_sentence *s, const cl_label_set *ls,
                               const char *const *tokens, const size_t *lens, int32_t n,
                               cl_error *err);
void cl_fsm_sentence_free(cl_fsm_sentence *s);
void cl_fsm_start(cl_fsm *f);
bool cl_fsm_done(const cl_fsm_sentence *s, const cl_fsm *f);
/* Advance f by bytes b[0..n); false (f unchanged) when the answer cannot
 * continue so.  labels (may be NULL) gets the label of each line completed. */
bool cl_fsm_advance(const cl_fsm_sentence *s, cl_fsm *f, const char *b, size_t n,
                    int32_t *labels);
/* Whether the grammar sampler would let token tok through in state f: EOG
 * only when the answer is complete, others when their piece is non-empty,
 * does not start with a NUL byte and continues the answer. */
bool cl_fsm_allows(const cl_llama_model *m, const cl_fsm_sentence *s, const cl_fsm *f,
                   llama_token tok);
/* Greedy choice under the grammar: the first token of highest logit among
 * those allowed (-1 when none is).  Only the allowed tokens are looked at
 * (a walk of the piece table along the answer's possible next bytes), so
 * the cost does not grow with the vocabulary. */
llama_token cl_fsm_greedy(const cl_llama_model *m, const cl_fsm_sentence *s, const cl_fsm *f,
                          const float *logits);
/* The tokens allowed in state f, the set cl_fsm_allows accepts: up to cap
 * written to out (in piece order); returns how many there are. */
int32_t cl_fsm_allowed(const cl_llama_model *m, const cl_fsm_sentence *s, const cl_fsm *f,
                       llama_token *out, int32_t cap);
/* The answer's bytes from f up to the next choice (where labels still
 * possible differ), without the spaces just before it (a tokenizer joins
 * them to the next word); at most about max_bytes.  With spec_after (NULL:
 * none), a choice at the start of a label is not a stop: the label
 * spec_after[prev + 1] (prev: the previous line's label, -1 at the start)
 * is guessed whole when allowed, and the guess goes on.  out is reset. */
cl_status cl_fsm_guess_text(const cl_fsm_sentence *s, const cl_fsm *f, size_t max_bytes,
                            const int32_t *spec_after, cl_buf *out, cl_error *err);

/* ---- the decoding engine (decoder.c) ----
 * One llama context with a reserved sequence for the shared prompt prefix
 * and n_parallel sequences for sentences; jobs (one per sentence) are run
 * through it together, each round one llama_decode over every sequence's
 * pending tokens. */
typedef struct cl_llm_job {
    /* in */
    llama_token *prompt; /* the whole rendered prompt (owned) */
    int32_t nprompt;
    int32_t ntok;                /* lines the answer must have */
    cl_fsm_sentence fsm;         /* grammar and forced */
    char *grammar;               /* grammar: GBNF text (owned) */
    uint32_t seed;
    int32_t max_new;             /* free: answer tokens at most */
    /* out */
    int32_t *labels;             /* ntok label indexes (forced, grammar) */
    cl_buf answer;               /* the answer's text */
    int32_t answer_tokens;
    int32_t reused_tokens;       /* prompt tokens taken from the shared prefix's cells */
    bool complete;               /* grammar, forced: every line written */
    bool overflow;               /* ran out of context */
    bool inconsistent;           /* grammar: llama.cpp's grammar and the automaton differ */
} cl_llm_job;

void cl_llm_job_free(cl_llm_job *j);

typedef struct cl_llm_engine cl_llm_engine;

cl_llm_engine *cl_llm_engine_new(cl_llama_model *m, const cl_llama_params *p, cl_error *err);
/* Forced decoding: guess labels too (see cl_llama_params.speculate). */
cl_status cl_llm_engine_speculate(cl_llm_engine *e, const cl_label_set *ls, cl_error *err);
void cl_llm_engine_free(cl_llm_engine *e);
/* Make prefix[0..n) the shared prefix (decoded once into its sequence;
 * nothing happens when it already is). */
cl_status cl_llm_engine_set_prefix(cl_llm_engine *e, const llama_token *prefix, int32_t n,
                                   cl_error *err);
/* Run jobs[0..n) to completion. */
cl_status cl_llm_engine_run(cl_llm_engine *e, cl_llm_job *jobs, int32_t n, cl_error *err);
/* Per-sequence context (positions a sentence may use). */
int32_t cl_llm_engine_n_ctx(const cl_llm_engine *e);
/* Counters (prompt_tokens, reused_tokens, answer_tokens, draft_*, decode_*). */
void cl_llm_engine_stats(const cl_llm_engine *e, cl_llama_stats *out);

#endif
