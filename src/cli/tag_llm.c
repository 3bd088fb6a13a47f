/*
 * tag_llm.c - options and prompt set-up shared by the LLM backends of
 * `clinner tag` (tag_llm.h).
 *
 * Default locations: the training split is $CLINNER_SHARED/data/raredis/train,
 * else ../shared/data/raredis/train beside the repository holding the
 * clinner binary, else the same relative to the working directory; the
 * knowledge base for rag defaults to the training texts; indexes are cached
 * in $CLINNER_CACHE, else ~/.cache/clinner.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_io.h"
#include "cli/tag_llm.h"
#include "clinner/corpus.h"
#include "clinner/openai.h"
#include "clinner/util.h"

void llm_opts_init(llm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->strategy = "zero-shot";
    o->decode = "free";
    o->speculate = "auto";
    o->shots = CL_PROMPT_DEFAULT_SHOTS;
    o->parallel = 0; /* 0: the backend's default (openai 1, llama 4) */
    o->seed = -1;
    o->retries = 5;
    o->rag_k = CL_RAG_DEFAULT_TOP_K;
    o->timeout = 300;
}

size_t llm_opts_table(llm_opts *o, cli_opt *out)
{
    const cli_opt t[] = {
        CLI_STRING("--strategy", &o->strategy),
        CLI_STRING("--decode", &o->decode),
        CLI_STRING("--speculate", &o->speculate),
        CLI_STRING("--kb", &o->kb),
        CLI_STRING("--train", &o->train),
        CLI_STRING("--api-base", &o->api_base),
        CLI_STRING("--api-key-env", &o->api_key_env),
        CLI_STRING("--cache-dir", &o->cache_dir),
        CLI_INTEGER("--shots", CLI_OPT_LONG, &o->shots, 1, 1000),
        CLI_INTEGER("--parallel", CLI_OPT_LONG, &o->parallel, 1, 256),
        CLI_INTEGER("--max-tokens", CLI_OPT_LONG, &o->max_tokens, 0, 1000000),
        CLI_INTEGER("--seed", CLI_OPT_LONG, &o->seed, 0, LONG_MAX),
        CLI_INTEGER("--retries", CLI_OPT_LONG, &o->retries, 0, 100),
        CLI_INTEGER("--rag-k", CLI_OPT_LONG, &o->rag_k, 1, 100),
        CLI_NUMBER("--temp", &o->temp, 0.0),
        CLI_NUMBER("--timeout", &o->timeout, 0.001),
    };
    _Static_assert(CLI_NOPTS(t) <= LLM_OPTS_MAX, "raise LLM_OPTS_MAX in tag_llm.h");
    memcpy(out, t, sizeof t);
    return CLI_NOPTS(t);
}

void llm_opts_usage(FILE *fp)
{
    fprintf(fp,
            "LLM backends (llama, openai):\n"
            "  --strategy NAME     zero-shot (default), few-shot (the paper's 5 examples from\n"
            "                      ACTH-Deficiency), knn-shot (the most similar training\n"
            "                      sentences, BM25) or rag (knowledge-base passages, BM25)\n"
            "  --shots K           examples for few-shot / knn-shot (default 5)\n"
            "  --decode MODE       free (parse the answer, align by position), grammar (GBNF:\n"
            "                      one line per token, BIO-valid labels) or forced (llama)\n"
            "  --speculate MODE    forced: also guess each label (O after O, I-X after B-X\n"
            "                      or I-X) and check it in the same batch: same labels,\n"
            "                      fewer rounds; auto (default: on when the model runs on\n"
            "                      a GPU), on or off\n"
            "  --train DIR         training split (BRAT) for examples (default\n"
            "                      $CLINNER_SHARED/data/raredis/train)\n"
            "  --kb DIR            folder of .txt articles for rag (default: the training\n"
            "                      texts), chunked to ~512 tokens\n"
            "  --rag-k N           passages per prompt (default 2)\n"
            "  --temp T            sampling temperature (default 0)\n"
            "  --seed N            sampling seed\n"
            "  --max-tokens N      answer length limit (default: enough for every line)\n"
            "  --cache-dir DIR     index cache (default $CLINNER_CACHE or ~/.cache/clinner)\n"
            "  --resume            continue an interrupted run of the same command (-o OUT;\n"
            "                      other options, --ctx or --threads included, are refused)\n"
            "openai backend:\n"
            "  --api-base URL      server (default " CL_OPENAI_DEFAULT_API_BASE "); a fleet:\n"
            "                      URL1,URL2,... (least-loaded healthy server, failover)\n"
            "  --model NAME        model name sent to the server\n"
            "  --api-key-env VAR   environment variable holding the API key (default\n"
            "                      OPENAI_API_KEY; the key is never printed)\n"
            "  --parallel N        requests in flight (openai, default 1); sentences decoded\n"
            "                      together (llama, default 4)\n"
            "  --retries N         retries on 429, 5xx and connection errors (default 5)\n"
            "  --timeout S         seconds per request (default 300)\n");
}

void llm_opts_fingerprint(const llm_opts *o, cl_buf *out)
{
    cl_buf_printf(out, " strategy=%s decode=%s shots=%ld kb=%s train=%s api=%s temp=%g seed=%ld "
                       "max=%ld ragk=%ld",
                  o->strategy, o->decode, o->shots, o->kb ? o->kb : "", o->train ? o->train : "",
                  o->api_base ? o->api_base : "", o->temp, o->seed, o->max_tokens, o->rag_k);
}

/* ---- default locations ---- */

static char *existing(const char *dir, const char *rel)
{
    char *p = cl_path_join(dir, rel);
    if (p && cl_is_dir(p))
        return p;
    free(p);
    return NULL;
}

/* The default training folder, or NULL. */
static char *default_train(void)
{
    const char *shared = getenv("CLINNER_SHARED");
    if (shared && *shared)
        return existing(shared, "data/raredis/train");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* <repo>/<build>/clinner -> <repo>/../shared */
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(exe, '/');
            if (slash)
                *slash = '\0';
        }
        char *p = existing(exe, "../shared/data/raredis/train");
        if (p)
            return p;
    }
    return existing(".", "../shared/data/raredis/train");
}

static char *default_cache(void)
{
    const char *c = getenv("CLINNER_CACHE");
    if (c && *c)
        return cl_strdup(c);
    const char *home = getenv("HOME");
    if (home && *home)
        return cl_path_join(home, ".cache/clinner");
    return NULL;
}

cl_status llm_prompt_open(const llm_opts *o, cl_tokenizer_kind tok, llm_prompt *out,
                          cl_error *err)
{
    memset(out, 0, sizeof *out);
    cl_status st = cl_strategy_from_name(o->strategy, &out->strategy, err);
    if (st == CL_OK)
        st = cl_decode_from_name(o->decode, &out->decode, err);
    if (st != CL_OK)
        return st;
    char *cache = o->cache_dir ? cl_strdup(o->cache_dir) : default_cache();
    if (cache) {
        out->cache_dir = cl_path_join(cache, "index");
        free(cache);
    }
    bool need_train = out->strategy == CL_STRATEGY_FEW_SHOT ||
                      out->strategy == CL_STRATEGY_KNN_SHOT ||
                      (out->strategy == CL_STRATEGY_RAG && !o->kb);
    char *train_dir = NULL;
    if (need_train) {
        train_dir = o->train ? cl_strdup(o->train) : default_train();
        if (!train_dir)
            return cl_error_set(err, CL_ERR_ARG,
                                "%s needs the training split: --train DIR (no default found: "
                                "set CLINNER_SHARED)",
                                out->strategy == CL_STRATEGY_RAG ? "rag's default knowledge base"
                                                                 : cl_strategy_name(out->strategy));
    }
    if (out->strategy == CL_STRATEGY_FEW_SHOT || out->strategy == CL_STRATEGY_KNN_SHOT) {
        out->train = cl_corpus_new();
        st = out->train ? cl_corpus_read(out->train, CL_FORMAT_BRAT, train_dir, err)
                        : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        if (st == CL_OK)
            st = cl_prompt_prepare_train(out->train, tok, NULL, 0, err);
        if (st != CL_OK) {
            free(train_dir);
            return cl_error_prefix(err, "--train: ");
        }
    }
    if (out->strategy == CL_STRATEGY_RAG) {
        cl_kb *kb = cl_kb_new();
        const char *dir = o->kb ? o->kb : train_dir;
        st = kb ? cl_kb_read_dir(kb, dir, tok, CL_RAG_DEFAULT_CHUNK_TOKENS, err)
                : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        if (st == CL_OK && o->make_retriever)
            st = o->make_retriever(o->make_retriever_ctx, kb, &out->retriever, err);
        else if (st == CL_OK)
            st = cl_bm25_retriever_new(kb, out->cache_dir, &out->retriever, err);
        else
            cl_kb_free(kb);
        if (st != CL_OK) {
            free(train_dir);
            return cl_error_prefix(err, "--kb: ");
        }
    }
    free(train_dir);
    cl_prompt_params pp = cl_prompt_default_params();
    pp.strategy = out->strategy;
    pp.shots = (int32_t)o->shots;
    pp.train = out->train;
    pp.retriever = out->retriever.ops ? &out->retriever : NULL;
    pp.rag_top_k = (int32_t)o->rag_k;
    pp.cache_dir = out->cache_dir;
    out->builder = cl_prompt_builder_new(&pp, err);
    return out->builder ? CL_OK : (err ? err->code : CL_ERR_NOMEM);
}

void llm_prompt_close(llm_prompt *p)
{
    cl_prompt_builder_free(p->builder);
    cl_retriever_free(&p->retriever);
    cl_corpus_free(p->train);
    free(p->cache_dir);
    memset(p, 0, sizeof *p);
}
