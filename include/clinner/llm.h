/*
 * llm.h - the local LLM backend: GGUF models run in-process through
 * llama.cpp (used only through llama.h), as a cl_tagger, plus an embedding
 * retriever for rag prompts.
 *
 * The tagger renders each sentence's prompt (prompt.h) with the model's own
 * chat template and decodes the answer in one of three ways (cl_decode):
 *
 *   free     generate (greedy at temperature 0, else sampled with the seed),
 *            stop at end of turn or once there are enough lines, read the
 *            lines back the paper's way and align them by position; answers
 *            of the wrong length are counted as misaligned.
 *   grammar  generate greedily under the sentence's GBNF grammar (prompt.h):
 *            one line per input token, its own text, a valid BIO label.
 *   forced   the same answer as greedy grammar decoding, computed without
 *            sampling the text: the token texts and separators are fed to
 *            the model as batches of guessed model tokens, and only where a
 *            choice exists (a label, or how the model splits a text into
 *            model tokens) is the grammar's greedy choice taken, the most
 *            likely model token that can still lead to an allowed answer.
 *            A guess that the model would not have made is dropped from the
 *            KV cache and replaced by its choice, so the labels are exactly
 *            those of greedy grammar decoding on the same model and prompt
 *            - on a CPU with one thread (n_threads = 1).  With more threads
 *            llama.cpp's CPU flash attention splits the attention of a
 *            micro-batch of one token of one sequence over a context of
 *            512+ cells across the threads and merges the parts: other
 *            rounding, and such micro-batches fall in different places in
 *            forced and grammar decoding, so near-ties can differ.
 *
 * The messages every sentence shares (instruction, fixed examples) are
 * decoded once into a reserved sequence and shared with each sentence's
 * sequence; several sentences run in parallel sequences of one batch.
 *
 * Errors: a missing, unreadable or non-GGUF model file, or one llama.cpp
 * cannot load, is CL_ERR_MODEL.  Empty sentences are skipped (nothing to
 * label); a sentence whose prompt and answer cannot fit in the context is
 * left all O, reported through the log callback and counted as skipped.
 * llama.cpp's own log output is silenced unless params.verbose is set.
 */
#ifndef CLINNER_LLM_H
#define CLINNER_LLM_H

#include "clinner/prompt.h"
#include "clinner/retrieve.h"
#include "clinner/tagger.h"

#ifdef __cplusplus
extern "C" {
#endif

/* File name of the default model (SmolLM2-135M-Instruct Q4_1) inside
 * "<cache>/models/", where cache is $CLINNER_CACHE or ~/.cache/clinner, as
 * scripts/fetch-models.sh places it. */
#define CL_LLAMA_DEFAULT_MODEL_FILE "smollm2-135m-instruct-q4_1.gguf"

/* The default model path into buf (CL_ERR_ARG when buf is too small or no
 * cache folder can be named; the file itself is not checked). */
cl_status cl_llama_default_model_path(char *buf, size_t n, cl_error *err);

/* Check that path is a readable GGUF file (magic "GGUF", known version)
 * before llama.cpp sees it: CL_ERR_MODEL with the reason otherwise. */
cl_status cl_gguf_check(const char *path, cl_error *err);

/* ---- models ---- */

typedef struct cl_llama_model cl_llama_model;

/* Load a GGUF model (checked with cl_gguf_check first).  verbose lets
 * llama.cpp log to stderr; otherwise its log is silenced (llama.cpp's log
 * callback is process-wide: the last model loaded decides). */
cl_status cl_llama_model_load(const char *path, bool verbose, cl_llama_model **out, cl_error *err);
void cl_llama_model_free(cl_llama_model *m);
/* A one-line description ("llama 135M Q4_1", as llama.cpp names it). */
const char *cl_llama_model_desc(const cl_llama_model *m);
/* Whether the model carries a chat template that llama.cpp knows; when it
 * does not, the plain template below is used. */
bool cl_llama_model_has_template(const cl_llama_model *m);
/* Use another chat template than the model's: a name llama.cpp knows
 * ("chatml", "gemma", "llama3", ... ; llama_chat_builtin_templates lists
 * them), template text it recognises, or CL_LLAMA_PLAIN_TEMPLATE_NAME.
 * CL_ERR_ARG, naming the known templates, when llama.cpp cannot apply it. */
cl_status cl_llama_model_set_template(cl_llama_model *m, const char *tmpl, cl_error *err);

/* The plain template for models without one: each message as
 *   "### System:\n<content>\n\n" / "### User:\n..." / "### Assistant:\n..."
 * and, for the answer, "### Assistant:\n". */
#define CL_LLAMA_PLAIN_TEMPLATE_NAME "plain"

/* Render messages[0..nmessages) of p with the model's chat template
 * (llama_chat_apply_template), ending with the assistant's opening when
 * add_assistant.  out is reset. */
cl_status cl_llama_chat_format(const cl_llama_model *m, const cl_prompt *p, int32_t nmessages,
                               bool add_assistant, cl_buf *out, cl_error *err);

/* ---- the tagger ---- */

typedef struct cl_llama_params {
    const char *model_path; /* NULL: cl_llama_default_model_path() */
    int32_t n_ctx;          /* tokens one sentence may use, prompt and answer (4096) */
    int32_t n_threads;      /* 0 (default): the number of online CPUs */
    int32_t n_batch;        /* tokens per llama_decode call (default 512) */
    uint32_t seed;          /* free/grammar decoding with temperature > 0 (default 42) */
    float temperature;      /* 0 (default): greedy */
    cl_decode decode;       /* default CL_DECODE_FORCED */
    int32_t max_new_tokens; /* free: answer tokens at most; 0 (default): enough for a full
                             * answer (grammar and forced always finish the answer) */
    int32_t n_parallel;     /* sentences decoded together (default 4) */
    int32_t draft;          /* forced: guessed tokens checked per step and sentence (32) */
    int32_t speculate;      /* forced: also guess labels (at first the one that continues the
                             * previous line's: O after O, I-X after B-X or I-X; then the one
                             * the model chose last after the same label), checked like the
                             * token text, so fewer rounds per sentence when the guesses
                             * are right, wasted work when not; the labels are the same
                             * either way.  -1 (default): on when the model runs on a GPU
                             * (a batch costs about one token there), 0 off, 1 on */
    const char *chat_template; /* NULL: the model's own (cl_llama_model_set_template) */
    bool verbose;           /* llama.cpp's own log on stderr */
    cl_log_fn log;          /* skipped sentences are reported here (may be NULL) */
    void *log_ctx;
} cl_llama_params;

cl_llama_params cl_llama_default_params(void);

/* A tagger that runs builder's prompts through the model at params->model_path.
 * builder is borrowed and must outlive the tagger.  Nothing is decoded until
 * the first sentence. */
cl_status cl_llama_tagger_new(const cl_llama_params *params, const cl_prompt_builder *builder,
                              cl_tagger *out, cl_error *err);

/* Counters beyond cl_tagger_stats, for benchmarks. */
typedef struct cl_llama_stats {
    int64_t prompt_tokens;   /* prompt tokens decoded (not counting the reused prefix) */
    int64_t reused_tokens;   /* prompt tokens taken from the shared prefix's cache */
    int64_t answer_tokens;   /* model tokens of the answers */
    int64_t draft_tokens;    /* forced: guessed tokens decoded */
    int64_t draft_rejected;  /* forced: of these, dropped (the model chose otherwise) */
    int64_t decode_calls;    /* llama_decode calls */
    double decode_seconds;   /* time spent in llama_decode, the device's work included */
    double seconds;          /* time spent in tag() */
} cl_llama_stats;

/* The counters of a tagger made by cl_llama_tagger_new (all 0 for another). */
void cl_llama_tagger_stats(const cl_tagger *t, cl_llama_stats *out);

/* The raw answer text of the last sentence tagged (free and grammar decoding
 * keep it; forced decoding keeps the text it fed), or "" (for tests). */
const char *cl_llama_tagger_last_answer(const cl_tagger *t);

/* ---- embeddings (rag retrieval with --embed-model) ---- */

typedef struct cl_llama_embed_params {
    const char *model_path; /* required: any GGUF model (an embedding model is best) */
    int32_t n_ctx;          /* tokens embedded per text, longer texts are cut (512) */
    int32_t n_threads;      /* 0: the number of online CPUs */
    const char *cache_dir;  /* where passage embeddings are kept (NULL: not kept) */
    bool verbose;
} cl_llama_embed_params;

cl_llama_embed_params cl_llama_embed_default_params(void);

typedef struct cl_llama_embedder cl_llama_embedder;

/* An embedder: pooling as the model says (mean for models that name none,
 * such as chat models), vectors L2-normalised. */
cl_status cl_llama_embedder_new(const cl_llama_embed_params *params, cl_llama_embedder **out,
                                cl_error *err);
void cl_llama_embedder_free(cl_llama_embedder *e);
int32_t cl_llama_embedder_dim(const cl_llama_embedder *e);
/* Embed texts[0..n) into out[i * dim .. (i + 1) * dim). */
cl_status cl_llama_embed(cl_llama_embedder *e, const char *const *texts, int32_t n, float *out,
                         cl_error *err);

/* A retriever (retrieve.h) ranking kb's passages by cosine similarity to the
 * query text.  Takes ownership of kb, also on failure.  Passage vectors are
 * computed once and cached in params->cache_dir, keyed by the knowledge
 * base's fingerprint and the model file. */
cl_status cl_llama_embed_retriever_new(const cl_llama_embed_params *params, cl_kb *kb,
                                       cl_retriever *out, cl_error *err);

#ifdef __cplusplus
}
#endif
#endif
