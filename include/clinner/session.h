/*
 * session.h - a tagging session: everything one tagging backend needs, opened
 * from one plain config and freed in one call.
 *
 * This is the library's front door for tagging.  `clinner tag`, `clinner
 * serve`, the Spark integration and any C program do the same three steps:
 *
 *     cl_tag_config cfg = cl_tag_config_default();   // crf + shipped model
 *     cfg.backend = "llama";                          // (optional changes)
 *     cl_tag_session *s;
 *     if (cl_tag_session_open(&cfg, &s, &err) != CL_OK) ...
 *     cl_tag_session_tag_doc(s, doc, &err);           // doc: text, or tokens
 *     cl_tag_session_free(s);
 *
 * The session owns the backend's model, its dense table, the prompt builder,
 * the training examples and the retriever, and frees them in the right
 * order.  It decides what the strategy needs (training split, knowledge
 * base, BM25 or embedding retrieval), where default files live (the shipped
 * model, the training split, the cache folder) and the canonical form of the
 * config that a resumed run must match.
 *
 * Threads: cl_tag_session_tag_doc may be called from several threads at once
 * when cl_tag_session_reentrant() says so (crf); otherwise callers serialise
 * (llama, openai and encoder keep per-call state).
 */
#ifndef CLINNER_SESSION_H
#define CLINNER_SESSION_H

#include "clinner/corpus.h"
#include "clinner/run.h"
#include "clinner/tagger.h"
#include "clinner/tokenize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The model file `clinner tag` uses when no model is given: a CRF trained
 * by `make models` on the RareDis training split, shipped under models/ and
 * installed under share/clinner/. */
#define CL_DEFAULT_CRF_MODEL "raredis-crf.model"
/* The ensemble backend's default: that CRF with a fine-tuned MiniLM encoder
 * (ensemble.h), a manifest beside the two model files under models/. */
#define CL_DEFAULT_ENSEMBLE_MODEL "raredis-ensemble.json"

typedef struct cl_tag_config {
    const char *backend;       /* "crf", "llama", "openai", "encoder", "ensemble"; NULL:
                                * cl_tag_default_backend */
    const char *model;         /* model file (crf, llama, encoder) or the server's model name
                                * (openai); NULL: the backend's default (crf: the shipped
                                * model; llama: SmolLM2-135M-Instruct in the cache) */
    const char *dense;         /* crf: dense features of the input (NULL: none) */
    const char *tokenizer;     /* "paper" or "clinical"; NULL: the model's own, else clinical */

    /* LLM backends (llama, openai) */
    const char *strategy;      /* zero-shot (default), few-shot, knn-shot, rag */
    const char *decode;        /* forced (default; llama), grammar, free */
    const char *speculate;     /* llama, forced: auto (default), on, off */
    const char *train_dir;     /* examples for few-/knn-shot, rag's default knowledge base
                                * (NULL: $CLINNER_SHARED/data/raredis/train or ../shared) */
    const char *kb_dir;        /* rag: folder of .txt articles (NULL: the training texts) */
    const char *embed_model;   /* llama, rag: rank passages by this GGUF's embeddings */
    const char *chat_template; /* llama: chat format instead of the model's own */
    const char *api_base;      /* openai: server URL (NULL: the default) */
    const char *api_key_env;   /* openai: variable holding the key (NULL: OPENAI_API_KEY) */
    int32_t shots;             /* few-/knn-shot examples (default 5) */
    int32_t rag_k;             /* rag passages per prompt (default 2) */
    int32_t parallel;          /* sentences decoded together (llama) / requests in flight
                                * (openai); 0: the backend's default */
    int32_t max_tokens;        /* answer length limit (0: enough for every line) */
    int32_t retries;           /* openai: retries on 429, 5xx, connection errors (5) */
    int32_t ctx_tokens;        /* llama: context size (0: default) */
    int64_t seed;              /* sampling seed (-1: not set) */
    double temperature;        /* sampling temperature (0) */
    double timeout_s;          /* openai: seconds per request (300) */

    /* every backend */
    const char *cache_dir;     /* index and model cache (NULL: $CLINNER_CACHE, else
                                * ~/.cache/clinner) */
    int32_t threads;           /* crf: documents tagged at once; llama, encoder: CPU threads
                                * (0: the backend's default) */
    bool verbose;              /* llama: pass llama.cpp's own log through */
    cl_log_fn log;             /* notes for the user (a retried request, a busy CPU); may be
                                * NULL */
    void *log_ctx;
} cl_tag_config;

/* A config with every field at its default (crf backend, shipped model). */
cl_tag_config cl_tag_config_default(void);

typedef struct cl_tag_session cl_tag_session;

/* Open the backend cfg names with everything it needs.  Fails with a message
 * that names the field at fault ("model: ...", "strategy: ..."). */
cl_status cl_tag_session_open(const cl_tag_config *cfg, cl_tag_session **out, cl_error *err);
void cl_tag_session_free(cl_tag_session *s);

/* The backend's name ("crf", ...), the model actually loaded (a path, or the
 * server's model name) and the tokenizer the session uses for text. */
const char *cl_tag_session_backend(const cl_tag_session *s);
const char *cl_tag_session_model(const cl_tag_session *s);
cl_tokenizer_kind cl_tag_session_tokenizer(const cl_tag_session *s);

/* The entity types the backend can output (NULL-terminated, session-owned). */
const char *const *cl_tag_session_types(const cl_tag_session *s);

/* Whether tag_doc may run on several documents at once from several threads. */
bool cl_tag_session_reentrant(const cl_tag_session *s);

/* Bring a document into token form the session's way (see cl_doc_prepare in
 * doc.h): tokenize when it has no tokens, one sentence when it has tokens but
 * no breaks, tags all O.  Gold entities are kept as they are. */
cl_status cl_tag_session_prepare_doc(const cl_tag_session *s, cl_doc *doc, cl_error *err);

/* Prepare doc, tag every sentence, and set its entities to those its tags
 * spell (with confidences where the backend has them). */
cl_status cl_tag_session_tag_doc(cl_tag_session *s, cl_doc *doc, cl_error *err);

/* The canonical text of the options that shape the output (backend, model,
 * tokenizer, strategy, ...): a resumed run must have the same.  Session-owned. */
const char *cl_tag_session_fingerprint(const cl_tag_session *s);

/* The backend's tagger and its preferred sentences per tag() call, for the
 * batch runner (run.h); the session keeps ownership. */
cl_tagger *cl_tag_session_tagger(cl_tag_session *s);
int32_t cl_tag_session_batch(const cl_tag_session *s);

/* The backends by index (NULL past the last) and whether one is in this
 * build ("llama" needs llama.cpp at build time). */
const char *cl_tag_backend_name(int32_t i);
/* The backend a config without one gets: "ensemble" (the shipped CRF +
 * encoder, the most accurate on the RareDis dev split) when this build has
 * it and its manifest is found or a .json model is given; "crf" when the
 * config names a CRF model or dense features, or the ensemble is missing. */
const char *cl_tag_default_backend(const cl_tag_config *cfg);
/* The shipped model file that backend uses when the config names none
 * (crf: the CRF, ensemble: its manifest), found as cl_default_model_path
 * finds it; NULL when not found or the backend has no shipped model.
 * Caller frees. */
char *cl_tag_default_model(const char *backend);
bool cl_tag_backend_available(const char *name);

/* Whether backend uses config field `field` (a cl_tag_config member's
 * name, or the job's "answers_path"): fields such as ctx_tokens (llama),
 * api_base (openai) or strategy (llama, openai) mean nothing to others. */
bool cl_tag_config_field_applies(const char *backend, const char *field);
/* Of the fields given[0..n) (names as above), the first that backend does
 * not use, or -1: the crf backend's fields are looked at first, then
 * llama's, openai's and those of both LLM backends.  err then says whose
 * the field is, starting with its name: "ctx_tokens is for the llama
 * backend (the crf backend has no prompts)". */
int cl_tag_config_foreign_field(const char *backend, const char *const *given, size_t n,
                                cl_error *err);

/* Run the batch runner over c (prepared: cl_tag_session_prepare_doc) with
 * this session: the batch size and thread count are the session's, and so
 * is the fingerprint when p's is NULL. */
cl_status cl_tag_session_run(cl_tag_session *s, cl_corpus *c, const cl_run_params *p,
                             cl_run_summary *sum, cl_error *err);

/* The streaming runner (run.h, cl_run_stream) with this session: each
 * document prepared the session's way (unless p->prepare is set), p's
 * batch and threads from the session. */
cl_status cl_tag_session_stream(cl_tag_session *s, cl_doc_reader *in, const cl_stream_params *p,
                                cl_run_summary *sum, cl_error *err);
/* cl_tag_session_prepare_doc as a cl_prepare_fn (session: the session). */
cl_status cl_tag_session_prepare_fn(void *session, cl_doc *doc, cl_error *err);

/* ---- a tagging job ----
 * `clinner tag`'s run: one input path to one output path with a session.
 * A file output is written by the checkpointed runner (cl_tag_session_run)
 * with the session's fingerprint plus " from=FMT to=FMT"; an output to
 * stdout ("-") is streamed document by document (cl_tag_session_stream)
 * unless the input is brat. */
typedef struct cl_tag_job_params {
    const char *input;        /* file, brat folder, or "-" (stdin) (default "-") */
    cl_format from, to;       /* the input's and the output's format (default jsonl) */
    const char *out_path;     /* file, brat folder, or "-" (stdout) (default "-") */
    bool resume;              /* continue a checkpointed run (cl_run_params) */
    const char *answers_path; /* the raw answers, as cl_run_params (NULL: none) */
    const char *shard;        /* "K/N" (cl_shard_parse): only that shard (NULL: all) */
    const char *on_error;     /* malformed input records: "fail" (NULL) or "skip" */
    const char *rejects_path; /* skip: the raw text of each rejected record (NULL: none) */
} cl_tag_job_params;

cl_tag_job_params cl_tag_job_default_params(void);

typedef struct cl_tag_job cl_tag_job;

/* Check p's shard and on_error, create the rejects file and open the input;
 * unless streamed, read it all (prepared the session's way).  s is
 * borrowed: it must outlive the job. */
cl_status cl_tag_job_open(cl_tag_session *s, const cl_tag_job_params *p, cl_tag_job **out,
                          cl_error *err);
/* The sentences the job will tag (0 when streamed: not known in advance). */
int64_t cl_tag_job_sentences(const cl_tag_job *j);
/* Tag and write the output; progress may be NULL.  sum also counts the
 * records rejected and the documents left to other shards. */
cl_status cl_tag_job_run(cl_tag_job *j, cl_progress *progress, cl_run_summary *sum,
                         cl_error *err);
/* The run's summary line (cl_run_format_summary) and, for a fleet of openai
 * servers, a second one after a newline: the requests each server took. */
cl_status cl_tag_job_format_summary(cl_tag_job *j, const cl_run_summary *sum, cl_buf *out);
/* After a run: close the rejects file, failing if it could not be written. */
cl_status cl_tag_job_finish(cl_tag_job *j, cl_error *err);
void cl_tag_job_free(cl_tag_job *j);

/* Where a default file lives.  cl_default_model_path: the first of
 * $CLINNER_MODELS/NAME, <dir of the running program>/../models/NAME (a build
 * tree), <dir>/../share/clinner/NAME (an install), CL_DATADIR/NAME (the
 * install prefix compiled in); caller frees, NULL when none exists.  (The
 * cache folder's resolver, cl_default_cache_dir, is in util.h.) */
char *cl_default_model_path(const char *name);
/* The RareDis split `name` ("train", "dev", "test") from $CLINNER_SHARED/data/
 * raredis, else ../shared beside the build tree or the working directory;
 * caller frees, NULL when absent. */
char *cl_default_raredis_split(const char *name);

#ifdef __cplusplus
}
#endif
#endif
