/*
 * prompt.h - what an LLM tagger sends to its model: chat prompts for the
 * paper's prompting strategies, the answer format ("token : label" lines),
 * the BIO label set with its validity rule, and GBNF grammars that make a
 * model's answer line up with the input tokens by construction.
 *
 * Backends (llama, openai) share all of this, so a prompt, an answer line
 * or a grammar is written in exactly one place:
 *
 *   cl_prompt_builder  sentence -> chat messages (zero-shot, few-shot,
 *                      knn-shot, rag); apply a chat template afterwards
 *   cl_label_set       O, B-X, I-X labels; which may follow which
 *   cl_answer_line     the exact text of one answer line (forced decoding
 *                      feeds these bytes; free decoding parses them back)
 *   cl_grammar_*       one GBNF grammar per sentence (grammar decoding)
 */
#ifndef CLINNER_PROMPT_H
#define CLINNER_PROMPT_H

#include "clinner/doc.h"
#include "clinner/retrieve.h"
#include "clinner/util.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- chat messages ---- */

typedef struct cl_chat_message {
    char *role;    /* "system", "user", "assistant" */
    char *content;
} cl_chat_message;

typedef struct cl_prompt {
    cl_chat_message *messages;
    int32_t nmessages, cap;
    /* The first nshared messages are identical for every sentence a builder
     * renders (instruction and fixed examples): a backend may keep their
     * KV cache across sentences. */
    int32_t nshared;
    /* Then the first shared_bytes bytes of message nshared are identical
     * too (rag: the instruction, before the passages of this sentence). */
    size_t shared_bytes;
} cl_prompt;

void cl_prompt_init(cl_prompt *p);
void cl_prompt_free(cl_prompt *p); /* frees the messages; p is reset */
/* Append a message (copies role and content). */
cl_status cl_prompt_add(cl_prompt *p, const char *role, const char *content, cl_error *err);

/* ---- labels ---- */

typedef struct cl_label_set {
    int32_t ntypes;
    char **types;    /* entity types, in order */
    int32_t nlabels; /* 1 + 2 ntypes */
    char **labels;   /* [0] "O", [1 + 2i] "B-<type i>", [2 + 2i] "I-<type i>" */
} cl_label_set;

/* Labels for types[0..ntypes); types NULL means the paper's five. */
cl_status cl_label_set_init(cl_label_set *ls, const char *const *types, int32_t ntypes,
                            cl_error *err);
void cl_label_set_free(cl_label_set *ls);
/* Index of label, or -1 when it is not in the set. */
int32_t cl_label_set_find(const cl_label_set *ls, const char *label);
/* Whether label next may follow label prev (prev -1: sentence start): every
 * label but I-X, and I-X only after B-X or I-X. */
bool cl_label_valid_after(const cl_label_set *ls, int32_t prev, int32_t next);
/* Fill allowed[0..nlabels) for the position after prev (-1: first token);
 * returns how many are allowed. */
int32_t cl_label_allowed(const cl_label_set *ls, int32_t prev, bool *allowed);

/* Append one answer line, "<token> : <label>\n", to out. */
cl_status cl_answer_line(cl_buf *out, const char *token, size_t ntoken, const char *label,
                         cl_error *err);
/* The separator between token and label on an answer line. */
#define CL_ANSWER_SEP " : "

/* What cl_answer_parse found in an answer. */
typedef struct cl_answer_info {
    int32_t lines;          /* answer lines read (the paper's parse) */
    bool misaligned;        /* lines != the sentence's tokens (cut or padded with O) */
    int32_t invalid_labels; /* labels outside the set, read as O */
} cl_answer_info;

/* Read a model's free answer for a sentence of ntokens tokens the paper's
 * way (eval.h: cl_paperlines_parse, first block; cl_eval_align: by position,
 * cut when too long, padded with O when too short) into labels[0..ntokens)
 * as label indexes of ls.  Invalid UTF-8 in text is replaced first. */
cl_status cl_answer_parse(const cl_label_set *ls, const char *text, size_t n, int32_t ntokens,
                          int32_t *labels, cl_answer_info *info, cl_error *err);

/* Whether text is exactly the well-formed answer for sentence sent of doc:
 * one "<token> : <label>\n" line per token, each token's own text, labels
 * of ls, BIO-valid (the final newline may be missing).  When it is, labels
 * (room for the sentence's tokens) gets the label indexes.  Grammar
 * decoding should always produce such answers; this checks it did. */
bool cl_answer_exact(const cl_label_set *ls, const char *text, size_t n, const cl_doc *doc,
                     int32_t sent, int32_t *labels);

/* ---- strategies and the prompt builder ---- */

typedef enum cl_strategy {
    CL_STRATEGY_ZERO_SHOT = 0, /* instruction only */
    CL_STRATEGY_FEW_SHOT,      /* + K fixed examples (the paper's five) */
    CL_STRATEGY_KNN_SHOT,      /* + the K most similar training sentences */
    CL_STRATEGY_RAG,           /* + retrieved knowledge-base passages */
} cl_strategy;

/* "zero-shot", "few-shot", "knn-shot", "rag" -> strategy. */
cl_status cl_strategy_from_name(const char *name, cl_strategy *out, cl_error *err);
const char *cl_strategy_name(cl_strategy s);

#define CL_PROMPT_DEFAULT_SHOTS 5
#define CL_RAG_DEFAULT_TOP_K 2
#define CL_RAG_DEFAULT_CHUNK_TOKENS 512
#define CL_FEWSHOT_DEFAULT_DOC "ACTH-Deficiency"
#define CL_FEWSHOT_DEFAULT_EXTRA "When ACTH deficiency is suspected"

typedef struct cl_prompt_params {
    cl_strategy strategy;
    int32_t shots;              /* few-/knn-shot examples (default 5) */
    const char *const *types;   /* entity types (NULL: the paper's five) */
    int32_t ntypes;
    /* Training data for examples (few-shot, knn-shot): tokenized with the
     * tokenizer of the run, doc->tags holding gold labels (see
     * cl_prompt_prepare_train).  Borrowed: must outlive the builder. */
    const cl_corpus *train;
    /* Knowledge base for rag (borrowed). */
    cl_retriever *retriever;
    int32_t rag_top_k;          /* passages per prompt (default 2) */
    /* Folder for the knn-shot BM25 index cache (NULL: not cached). */
    const char *cache_dir;
    /* Few-shot examples: sentences 1..4 of this training document and its
     * first sentence starting with fewshot_extra (then, when shots > 5, its
     * other sentences in order). */
    const char *fewshot_doc;
    const char *fewshot_extra;
    /* knn-shot and rag never use the document being tagged (same id),
     * default true; identical sentences are never knn examples. */
    bool exclude_same_doc;
} cl_prompt_params;

cl_prompt_params cl_prompt_default_params(void);

typedef struct cl_prompt_builder cl_prompt_builder;

/* Check the parameters and prepare the strategy (few-shot examples, knn
 * index: built once, loaded from cache_dir when there). */
cl_status cl_prompt_builder_new(const cl_prompt_params *params, cl_prompt_builder **out,
                                cl_error *err);
void cl_prompt_builder_free(cl_prompt_builder *b);
const cl_label_set *cl_prompt_builder_labels(const cl_prompt_builder *b);
cl_strategy cl_prompt_builder_strategy(const cl_prompt_builder *b);

/* The prompt for sentence sent of doc (tokenized): the instruction (system
 * message), the examples as user/assistant turns, the sentence's tokens one
 * per line as the last user turn.  out is reset first.  Safe to call from
 * several threads at once. */
cl_status cl_prompt_build(const cl_prompt_builder *b, const cl_doc *doc, int32_t sent,
                          cl_prompt *out, cl_error *err);

/* The user turn for tokens [tb, te) of doc: one token per line. */
cl_status cl_prompt_tokens_text(const cl_doc *doc, int32_t tb, int32_t te, cl_buf *out,
                                cl_error *err);
/* The assistant turn for them: answer lines with doc->tags (labels outside
 * ls become O; an I-X that may not follow its predecessor becomes B-X). */
cl_status cl_prompt_answer_text(const cl_label_set *ls, const cl_doc *doc, int32_t tb,
                                int32_t te, cl_buf *out, cl_error *err);

/* Tokenize every training document with kind and set its tags from its gold
 * entities, restricted to types (NULL: the paper's five) with the BIO
 * policy that matches the tokenizer (paper -> brat2iob rules). */
cl_status cl_prompt_prepare_train(cl_corpus *train, cl_tokenizer_kind kind,
                                  const char *const *types, int32_t ntypes, cl_error *err);

/* ---- decoding modes ---- */

typedef enum cl_decode {
    CL_DECODE_FREE = 0, /* sample freely, parse the lines, align by position */
    CL_DECODE_GRAMMAR,  /* sample under the sentence's GBNF grammar */
    CL_DECODE_FORCED,   /* feed the token texts, choose only among labels */
} cl_decode;

/* "free", "grammar", "forced" -> mode. */
cl_status cl_decode_from_name(const char *name, cl_decode *out, cl_error *err);
const char *cl_decode_name(cl_decode d);

/* ---- GBNF grammars (grammar decoding) ---- */

/* Append s[0..n) to out as a GBNF string literal, quotes included: '"' and
 * '\' escaped, newline/CR/tab as \n \r \t, other control bytes as \xHH,
 * everything else (UTF-8 included) as is. */
cl_status cl_gbnf_literal(cl_buf *out, const char *s, size_t n, cl_error *err);

/* A grammar whose only sentences are answers for the given tokens: one line
 * per token, in order, "<token> : <label>\n", labels from ls obeying BIO
 * validity.  Rule l<i>-<state> is line i when the previous label was O or
 * absent (state "o") or B-/I- of type j (state "t<j>").  out is reset. */
cl_status cl_grammar_for_tokens(const cl_label_set *ls, const char *const *tokens,
                                const size_t *lens, int32_t ntokens, cl_buf *out,
                                cl_error *err);
/* The same for sentence sent of doc.  CL_ERR_ARG for an empty sentence. */
cl_status cl_grammar_for_sentence(const cl_label_set *ls, const cl_doc *doc, int32_t sent,
                                  cl_buf *out, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
