/*
 * session.c - the tagging session (session.h): one config in, one backend
 * with everything it needs out.
 *
 * A backend is one open function and one row in `backends`.  The session
 * owns what the backend borrows (the CRF model and its dense table; the LLM
 * prompt builder with its examples and retriever) and frees it after the
 * tagger.  The fingerprint is written from the config after defaults are
 * resolved, so two configs that tag the same way have the same one.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clinner/crf.h"
#ifdef CL_HAVE_LLAMA
#include "clinner/encoder.h"
#include "clinner/ensemble.h"
#include "clinner/llm.h"
#endif
#include "clinner/openai.h"
#include "clinner/util.h"
#include "session/session_internal.h"

struct cl_tag_session {
    const struct backend *be;
    char *model;              /* resolved path, or the server's model name */
    cl_tokenizer_kind tok;
    cl_tagger tagger;
    int32_t batch;            /* sentences per tag() call */
    int32_t threads;          /* documents at once (reentrant backends) */
    cl_log_fn log;
    void *log_ctx;
    cl_crf_model *crf;
    cl_dense_table *dense;
    cl_session_prompt prompt; /* LLM backends */
    const char *types[CL_NUM_ALL_TYPES + 1];
    char *fingerprint;
};

typedef struct backend {
    const char *name;
    /* opens s->tagger and sets s->model, s->tok, s->batch; NULL: not in this build */
    cl_status (*open)(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err);
    bool reentrant;        /* tag() may run on several documents at once */
    const char *default_decode;
} backend;

cl_tag_config cl_tag_config_default(void)
{
    cl_tag_config c;
    memset(&c, 0, sizeof c);
    c.backend = NULL; /* cl_tag_default_backend */
    c.strategy = "zero-shot";
    c.speculate = "auto";
    c.shots = CL_PROMPT_DEFAULT_SHOTS;
    c.rag_k = CL_RAG_DEFAULT_TOP_K;
    c.retries = 5;
    c.seed = -1;
    c.timeout_s = 300;
    return c;
}

/* The tokenizer cfg asks for, else the model's (NULL: clinical). */
static cl_status pick_tokenizer(cl_tag_session *s, const cl_tag_config *cfg,
                                const char *model_tok, cl_error *err)
{
    const char *name = cfg->tokenizer ? cfg->tokenizer : model_tok ? model_tok : "clinical";
    if (cl_tokenizer_from_name(name, &s->tok, err) != CL_OK)
        return cl_error_prefix(err, "tokenizer: ");
    return CL_OK;
}

/* ---- crf ---- */

static cl_status open_crf(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err)
{
    s->model = cfg->model ? cl_strdup(cfg->model) : cl_default_model_path(CL_DEFAULT_CRF_MODEL);
    if (!s->model)
        return cl_error_set(err, CL_ERR_MODEL,
                            "model: none given, and the shipped default " CL_DEFAULT_CRF_MODEL
                            " is not in $CLINNER_MODELS, <build>/../models, "
                            "<prefix>/share/clinner"
#ifdef CL_DATADIR
                            " or " CL_DATADIR
#endif
                            " (make models rebuilds it from the corpus)");
    cl_status st = cl_crf_model_load(s->model, &s->crf, err);
    if (st == CL_OK && cfg->dense)
        st = cl_dense_read(cfg->dense, &s->dense, err);
    if (st == CL_OK)
        st = pick_tokenizer(s, cfg, cl_crf_model_get_meta(s->crf, "tokenizer"), err);
    if (st == CL_OK)
        st = cl_crf_tagger_new_dense(s->crf, s->dense, &s->tagger, err);
    if (st != CL_OK)
        return st;
    /* the model's label set gives the types it can output */
    cl_crf_model_info info;
    cl_crf_model_get_info(s->crf, &info);
    int nt = 0;
    for (int32_t i = 0; i < info.nlabels && nt < CL_NUM_ALL_TYPES; i++) {
        const char *l = cl_crf_model_label(s->crf, i);
        if (strncmp(l, "B-", 2) != 0)
            continue;
        s->types[nt++] = l + 2;
    }
    s->types[nt] = NULL;
    s->batch = 8;
    return CL_OK;
}

/* ---- openai ---- */

static cl_status open_openai(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err)
{
    cl_openai_params p = cl_openai_default_params();
    cl_status st = pick_tokenizer(s, cfg, NULL, err);
    if (st == CL_OK)
        st = cl_session_prompt_open(cfg, s->tok, NULL, &s->prompt, err);
    if (st == CL_OK && (st = cl_decode_from_name(cfg->decode, &p.decode, err)) != CL_OK)
        cl_error_prefix(err, "decode: ");
    if (st == CL_OK && p.decode == CL_DECODE_FORCED)
        st = cl_error_set(err, CL_ERR_ARG,
                          "decode: forced needs the model's scores, which an OpenAI-compatible "
                          "server does not give (use grammar or free)");
    if (st != CL_OK)
        return st;
    if (cfg->api_base)
        p.api_base = cfg->api_base;
    p.model = cfg->model; /* the model name on the server (NULL: not sent) */
    s->model = cl_strdup(cfg->model ? cfg->model : "");
    p.api_key_env = cfg->api_key_env;
    p.temperature = cfg->temperature;
    p.seed = cfg->seed;
    p.max_tokens = cfg->max_tokens;
    p.timeout_s = cfg->timeout_s;
    p.retries = cfg->retries;
    p.parallel = cfg->parallel > 0 ? cfg->parallel : 1;
    p.log = cfg->log;
    p.log_ctx = cfg->log_ctx;
    s->batch = p.parallel * 2 > 8 ? p.parallel * 2 : 8;
    return cl_openai_tagger_new(&p, s->prompt.builder, &s->tagger, err);
}

/* ---- llama ---- */

#ifdef CL_HAVE_LLAMA
static cl_status embed_retriever(void *ctx, const cl_tag_config *cfg, const char *cache_dir,
                                 cl_kb *kb, cl_retriever *out, cl_error *err)
{
    (void)ctx;
    cl_llama_embed_params ep = cl_llama_embed_default_params();
    ep.model_path = cfg->embed_model;
    ep.n_threads = cfg->threads;
    ep.cache_dir = cache_dir;
    ep.verbose = cfg->verbose;
    return cl_llama_embed_retriever_new(&ep, kb, out, err);
}

/* llama.cpp's threads spin while they wait for each other: on busy CPUs
 * fewer threads are faster, so say so. */
static void note_busy_cpus(const cl_tag_config *cfg, int32_t nthreads)
{
    double load;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cfg->log && getloadavg(&load, 1) == 1 && cl_threads_oversubscribed(load, ncpu, nthreads))
        cl_logf(cfg->log, cfg->log_ctx,
                "the CPUs are busy (load %.1f on %d): llama.cpp's threads spin while they wait "
                "for each other, so fewer threads (1 when all are busy) can be many times faster",
                load, ncpu);
}

static cl_status llama_params(const cl_tag_config *cfg, cl_llama_params *p, cl_error *err)
{
    if (cl_decode_from_name(cfg->decode, &p->decode, err) != CL_OK)
        return cl_error_prefix(err, "decode: ");
    if (cfg->ctx_tokens > 0)
        p->n_ctx = cfg->ctx_tokens;
    p->n_threads = cfg->threads;
    if (cfg->seed >= 0)
        p->seed = (uint32_t)cfg->seed;
    p->temperature = (float)cfg->temperature;
    if (!strcmp(cfg->speculate, "on"))
        p->speculate = 1;
    else if (!strcmp(cfg->speculate, "off"))
        p->speculate = 0;
    else if (strcmp(cfg->speculate, "auto"))
        return cl_error_set(err, CL_ERR_ARG, "speculate: '%s' is not auto, on or off",
                            cfg->speculate);
    p->max_new_tokens = cfg->max_tokens;
    if (cfg->parallel > 0)
        p->n_parallel = cfg->parallel;
    p->chat_template = cfg->chat_template;
    p->verbose = cfg->verbose;
    p->log = cfg->log;
    p->log_ctx = cfg->log_ctx;
    return CL_OK;
}

static cl_status open_llama(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err)
{
    cl_session_hooks hooks = {.make_retriever = embed_retriever};
    cl_llama_params p = cl_llama_default_params();
    cl_status st = pick_tokenizer(s, cfg, NULL, err);
    if (st == CL_OK)
        st = cl_session_prompt_open(cfg, s->tok, cfg->embed_model ? &hooks : NULL, &s->prompt,
                                    err);
    if (st == CL_OK)
        st = llama_params(cfg, &p, err);
    if (st != CL_OK)
        return st;
    char path[4096];
    if (cfg->model)
        s->model = cl_strdup(cfg->model);
    else if ((st = cl_llama_default_model_path(path, sizeof path, err)) == CL_OK)
        s->model = cl_strdup(path);
    if (st != CL_OK)
        return cl_error_prefix(err, "model: ");
    p.model_path = s->model;
    note_busy_cpus(cfg, p.n_threads);
    s->batch = p.n_parallel * 4;
    return cl_llama_tagger_new(&p, s->prompt.builder, &s->tagger, err);
}
#define OPEN_LLAMA open_llama

/* ---- encoder (a model from `clinner train encoder`; encoder.h) ---- */

static cl_status open_encoder(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err)
{
    if (!cfg->model)
        return cl_error_set(err, CL_ERR_ARG,
                            "model: the encoder backend needs a model from `clinner train "
                            "encoder`");
    s->model = cl_strdup(cfg->model);
    cl_status st = cl_encoder_tagger_open(s->model, cfg->threads > 0 ? cfg->threads : 2,
                                          &s->tagger, err);
    if (st != CL_OK)
        return st;
    char *tok = cl_encoder_model_tokenizer(s->model, err); /* the words it was trained on */
    st = pick_tokenizer(s, cfg, tok, err);
    free(tok);
    /* whole documents per tag() call: a model trained with --pack reads the
     * sentences around each one (a sentence model gives the same either way) */
    s->batch = 1 << 24;
    return st;
}
#define OPEN_ENCODER open_encoder

/* ---- ensemble (CRF + encoder, from a manifest; ensemble.h) ---- */

static cl_status open_ensemble(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err)
{
    s->model = cfg->model ? cl_strdup(cfg->model)
                          : cl_default_model_path(CL_DEFAULT_ENSEMBLE_MODEL);
    if (!s->model)
        return cl_error_set(err, CL_ERR_MODEL,
                            "model: none given, and the shipped default " CL_DEFAULT_ENSEMBLE_MODEL
                            " is not in $CLINNER_MODELS, <build>/../models or "
                            "<prefix>/share/clinner");
    char *tok = NULL;
    cl_status st = cl_ensemble_tagger_open(s->model, cfg->threads > 0 ? cfg->threads : 2,
                                           &s->tagger, &tok, err);
    if (st == CL_OK)
        st = pick_tokenizer(s, cfg, tok, err);
    free(tok);
    /* whole documents per tag() call: the document-level type needs them */
    s->batch = 1 << 24;
    return st;
}
#define OPEN_ENSEMBLE open_ensemble
#else
#define OPEN_ENSEMBLE NULL
#define OPEN_LLAMA NULL
#define OPEN_ENCODER NULL
#endif

static const backend backends[] = {
    {"crf", open_crf, true, NULL},
    {"llama", OPEN_LLAMA, false, "forced"},
    {"openai", open_openai, false, "free"},
    {"encoder", OPEN_ENCODER, false, NULL}, /* threads: its CPU threads */
    {"ensemble", OPEN_ENSEMBLE, false, NULL}, /* threads: the encoder's */
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

char *cl_tag_default_model(const char *name)
{
    if (!strcmp(name, "crf"))
        return cl_default_model_path(CL_DEFAULT_CRF_MODEL);
    if (!strcmp(name, "ensemble"))
        return cl_default_model_path(CL_DEFAULT_ENSEMBLE_MODEL);
    return NULL;
}

const char *cl_tag_default_backend(const cl_tag_config *cfg)
{
    size_t n = cfg && cfg->model ? strlen(cfg->model) : 0;
    bool manifest = n >= 5 && !strcmp(cfg->model + n - 5, ".json");
    if (cfg && (cfg->dense || (cfg->model && !manifest)))
        return "crf"; /* a CRF's options or model file */
#ifdef CL_HAVE_LLAMA
    if (manifest)
        return "ensemble";
    char *m = cl_default_model_path(CL_DEFAULT_ENSEMBLE_MODEL);
    free(m);
    return m ? "ensemble" : "crf";
#else
    return "crf";
#endif
}

const char *cl_tag_backend_name(int32_t i)
{
    return i >= 0 && (size_t)i < NBACKENDS ? backends[i].name : NULL;
}

bool cl_tag_backend_available(const char *name)
{
    for (size_t i = 0; i < NBACKENDS; i++)
        if (!strcmp(name, backends[i].name))
            return backends[i].open != NULL;
    return false;
}

/* The options that shape the output, canonical: defaults resolved, LLM
 * options only for LLM backends. */
static cl_status make_fingerprint(cl_tag_session *s, const cl_tag_config *cfg, cl_error *err)
{
    cl_buf fp;
    cl_buf_init(&fp);
    cl_buf_printf(&fp, "backend=%s model=%s dense=%s tokenizer=%s", s->be->name,
                  s->model ? s->model : "", cfg->dense ? cfg->dense : "",
                  cl_tokenizer_name(s->tok));
    if (s->prompt.builder)
        cl_buf_printf(&fp,
                      " strategy=%s decode=%s shots=%d kb=%s train=%s api=%s temp=%g seed=%lld "
                      "max=%d ragk=%d",
                      cfg->strategy, cfg->decode, cfg->shots, cfg->kb_dir ? cfg->kb_dir : "",
                      cfg->train_dir ? cfg->train_dir : "", cfg->api_base ? cfg->api_base : "",
                      cfg->temperature, (long long)cfg->seed, cfg->max_tokens, cfg->rag_k);
    if (cfg->chat_template)
        cl_buf_printf(&fp, " chat=%s", cfg->chat_template);
    if (cfg->ctx_tokens > 0) /* decides which sentences are skipped as too long */
        cl_buf_printf(&fp, " ctx=%d", cfg->ctx_tokens);
    /* ggml's CPU arithmetic depends on the thread count (llama, encoder) */
    if (cfg->threads > 0 && !s->be->reentrant)
        cl_buf_printf(&fp, " threads=%d", cfg->threads);
    if (!fp.data) {
        cl_buf_free(&fp);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    s->fingerprint = fp.data; /* the buffer's bytes become the session's */
    return CL_OK;
}

cl_status cl_tag_session_open(const cl_tag_config *cfg_in, cl_tag_session **out, cl_error *err)
{
    *out = NULL;
    cl_tag_config cfg = cfg_in ? *cfg_in : cl_tag_config_default();
    const char *name = cfg.backend ? cfg.backend : cl_tag_default_backend(&cfg);
    const backend *be = NULL;
    for (size_t i = 0; i < NBACKENDS; i++)
        if (!strcmp(name, backends[i].name))
            be = &backends[i];
    if (!be)
        return cl_error_set(err, CL_ERR_ARG,
                            "backend: unknown backend '%s' (valid: crf, llama, openai, encoder, ensemble)", name);
    if (!be->open)
        return cl_error_set(err, CL_ERR_ARG, "backend: '%s' is not available in this build%s",
                            name,
                            !strcmp(name, "llama") ? " (built without llama.cpp: run make setup, "
                                                     "then make)"
                                                   : "");
    if (!cfg.decode)
        cfg.decode = be->default_decode;
    if (!cfg.strategy)
        cfg.strategy = "zero-shot";
    if (!cfg.speculate)
        cfg.speculate = "auto";
    cl_tag_session *s = calloc(1, sizeof *s);
    if (!s)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    s->be = be;
    s->log = cfg.log;
    s->log_ctx = cfg.log_ctx;
    for (int i = 0; i < CL_NUM_PAPER_TYPES; i++)
        s->types[i] = cl_paper_types[i];
    cl_status st = be->open(s, &cfg, err);
    if (st == CL_OK)
        st = make_fingerprint(s, &cfg, err);
    if (st != CL_OK) {
        cl_tag_session_free(s);
        return st;
    }
    s->threads = be->reentrant && cfg.threads > 0 ? cfg.threads : 1;
    *out = s;
    return CL_OK;
}

void cl_tag_session_free(cl_tag_session *s)
{
    if (!s)
        return;
    cl_tagger_free(&s->tagger); /* before what it borrows */
    cl_crf_model_free(s->crf);
    cl_dense_free(s->dense);
    cl_session_prompt_close(&s->prompt);
    free(s->model);
    free(s->fingerprint);
    free(s);
}

const char *cl_tag_session_backend(const cl_tag_session *s) { return s->be->name; }
const char *cl_tag_session_model(const cl_tag_session *s) { return s->model ? s->model : ""; }
cl_tokenizer_kind cl_tag_session_tokenizer(const cl_tag_session *s) { return s->tok; }
const char *const *cl_tag_session_types(const cl_tag_session *s) { return s->types; }
bool cl_tag_session_reentrant(const cl_tag_session *s) { return s->be->reentrant; }
const char *cl_tag_session_fingerprint(const cl_tag_session *s) { return s->fingerprint; }
cl_tagger *cl_tag_session_tagger(cl_tag_session *s) { return &s->tagger; }
int32_t cl_tag_session_batch(const cl_tag_session *s) { return s->batch; }

cl_status cl_tag_session_prepare_doc(const cl_tag_session *s, cl_doc *doc, cl_error *err)
{
    cl_prepare_params p = cl_prepare_default_params();
    p.tokenizer = s->tok;
    p.gold_tags = false; /* tagging replaces the tags: projecting gold would be wasted */
    return cl_doc_prepare(doc, &p, err);
}

cl_status cl_tag_session_tag_doc(cl_tag_session *s, cl_doc *doc, cl_error *err)
{
    cl_status st = cl_tag_session_prepare_doc(s, doc, err);
    if (st == CL_OK)
        st = cl_tagger_tag_doc(&s->tagger, doc, err);
    if (st == CL_OK)
        st = cl_bio_to_entities(doc, err);
    return st;
}

cl_status cl_tag_session_run(cl_tag_session *s, cl_corpus *c, const cl_run_params *p,
                             cl_run_summary *sum, cl_error *err)
{
    cl_run_params rp = *p;
    if (!rp.fingerprint)
        rp.fingerprint = s->fingerprint;
    rp.batch = s->batch > 0 ? s->batch : 8;
    rp.threads = s->threads;
    if (!rp.log) {
        rp.log = s->log;
        rp.log_ctx = s->log_ctx;
    }
    return cl_run_tag(&s->tagger, c, &rp, sum, err);
}

cl_status cl_tag_session_prepare_fn(void *session, cl_doc *doc, cl_error *err)
{
    return cl_tag_session_prepare_doc(session, doc, err);
}

cl_status cl_tag_session_stream(cl_tag_session *s, cl_doc_reader *in, const cl_stream_params *p,
                                cl_run_summary *sum, cl_error *err)
{
    cl_stream_params sp = *p;
    if (!sp.prepare) {
        sp.prepare = cl_tag_session_prepare_fn;
        sp.prepare_ctx = s;
    }
    sp.batch = s->batch > 0 ? s->batch : 8;
    sp.threads = s->threads;
    if (!sp.log) {
        sp.log = s->log;
        sp.log_ctx = s->log_ctx;
    }
    return cl_run_stream(&s->tagger, in, &sp, sum, err);
}
