/*
 * llm_prompt.c - what the LLM backends of a tagging session need before the
 * first prompt: the strategy's examples (few-/knn-shot: the training split,
 * tokenized like the input), rag's knowledge base and retriever (BM25, or
 * the caller's embedding retriever), and the prompt builder over them.
 *
 * Only what the strategy needs is read: zero-shot opens nothing, so `clinner
 * tag --backend llama` works without the corpus.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "clinner/util.h"
#include "session/session_internal.h"

/* The training split for examples or rag's knowledge base, or an error that
 * says how to give one. */
static cl_status train_dir_for(const cl_tag_config *cfg, cl_strategy strategy, char **out,
                               cl_error *err)
{
    *out = cfg->train_dir ? cl_strdup(cfg->train_dir) : cl_default_raredis_split("train");
    if (*out)
        return CL_OK;
    return cl_error_set(err, CL_ERR_ARG,
                        "train_dir: %s needs the training split and no default was found "
                        "(set CLINNER_SHARED or give the folder)",
                        strategy == CL_STRATEGY_RAG ? "rag's default knowledge base"
                                                    : cl_strategy_name(strategy));
}

static cl_status open_kb(const cl_tag_config *cfg, const char *dir, cl_tokenizer_kind tok,
                         const cl_session_hooks *hooks, cl_session_prompt *out, cl_error *err)
{
    cl_kb *kb = NULL;
    cl_status st = cl_kb_new(&kb, err);
    if (st != CL_OK)
        return st;
    st = cl_kb_read_dir(kb, dir, tok, CL_RAG_DEFAULT_CHUNK_TOKENS, err);
    if (st != CL_OK) {
        cl_kb_free(kb);
        return cl_error_prefix(err, "kb_dir: ");
    }
    /* the retriever takes kb, on failure too */
    if (hooks && hooks->make_retriever)
        st = hooks->make_retriever(hooks->ctx, cfg, out->cache_dir, kb, &out->retriever, err);
    else
        st = cl_bm25_retriever_new(kb, out->cache_dir, &out->retriever, err);
    return st == CL_OK ? CL_OK : cl_error_prefix(err, "kb_dir: ");
}

cl_status cl_session_prompt_open(const cl_tag_config *cfg, cl_tokenizer_kind tok,
                                 const cl_session_hooks *hooks, cl_session_prompt *out,
                                 cl_error *err)
{
    memset(out, 0, sizeof *out);
    cl_status st = cl_strategy_from_name(cfg->strategy, &out->strategy, err);
    if (st != CL_OK)
        return cl_error_prefix(err, "strategy: ");
    out->cache_dir = cfg->cache_dir ? cl_path_join(cfg->cache_dir, "index")
                                  : cl_default_cache_dir("index");
    bool examples = out->strategy == CL_STRATEGY_FEW_SHOT ||
                    out->strategy == CL_STRATEGY_KNN_SHOT;
    bool rag = out->strategy == CL_STRATEGY_RAG;
    char *train_dir = NULL;
    if ((examples || (rag && !cfg->kb_dir)) &&
        (st = train_dir_for(cfg, out->strategy, &train_dir, err)) != CL_OK)
        return st;
    if (examples) {
        st = cl_corpus_new(&out->train, err);
        if (st == CL_OK)
            st = cl_corpus_read(out->train, CL_FORMAT_BRAT, train_dir, err);
        if (st == CL_OK)
            st = cl_prompt_prepare_train(out->train, tok, NULL, 0, err);
        if (st != CL_OK)
            cl_error_prefix(err, "train_dir: ");
    }
    if (st == CL_OK && rag)
        st = open_kb(cfg, cfg->kb_dir ? cfg->kb_dir : train_dir, tok, hooks, out, err);
    free(train_dir);
    if (st != CL_OK)
        return st;
    cl_prompt_params pp = cl_prompt_default_params();
    pp.strategy = out->strategy;
    pp.shots = cfg->shots;
    pp.train = out->train;
    pp.retriever = out->retriever.ops ? &out->retriever : NULL;
    pp.rag_top_k = cfg->rag_k;
    pp.cache_dir = out->cache_dir;
    return cl_prompt_builder_new(&pp, &out->builder, err);
}

void cl_session_prompt_close(cl_session_prompt *p)
{
    cl_prompt_builder_free(p->builder);
    cl_retriever_free(&p->retriever);
    cl_corpus_free(p->train);
    free(p->cache_dir);
    memset(p, 0, sizeof *p);
}
