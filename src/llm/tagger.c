/*
 * tagger.c - the llama backend as a cl_tagger (tagger.h): for each sentence
 * the prompt builder's messages are rendered with the model's chat
 * template, tokenized, checked against the context, and handed to the
 * decoding engine (decoder.c) with what its decoding mode needs (the answer
 * automaton, the GBNF grammar); the answers come back as labels.
 *
 * Free answers are read the paper's way (cl_answer_parse: lines, position
 * alignment) and counted as misaligned when their length is wrong.  Grammar
 * and forced answers are followed byte by byte by the answer automaton, so
 * their labels are taken from it directly, never parsed back.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_internal.h"

#define SENTENCES_PER_RUN 64

typedef struct llama_tagger {
    cl_llama_params p;
    char *model_path;
    const cl_prompt_builder *b;
    const cl_label_set *ls;
    cl_llama_model *m;
    cl_llm_engine *e;
    char *shared_text; /* rendered shared messages of the prefix in the engine */
    int32_t label_tokens; /* model tokens of the longest answer line tail */
    cl_tagger_stats st;
    double seconds;
    cl_buf last;
    cl_tagger_answers answers; /* of the last tag() call */
} llama_tagger;

cl_llama_params cl_llama_default_params(void)
{
    cl_llama_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 4096;
    p.n_batch = 512;
    p.seed = 42;
    p.temperature = 0.0f;
    p.decode = CL_DECODE_FORCED;
    p.n_parallel = 4;
    p.draft = 32;
    p.speculate = -1;
    return p;
}

static uint32_t sentence_seed(uint32_t seed, const char *doc_id, int32_t sent)
{
    uint64_t h = cl_fnv1a64(CL_FNV64_INIT, &seed, sizeof seed);
    if (doc_id)
        h = cl_fnv1a64(h, doc_id, strlen(doc_id));
    h = cl_fnv1a64(h, &sent, sizeof sent);
    return (uint32_t)(h ^ h >> 32);
}

/* Render the shared part of pr: its first nshared messages, and when
 * shared_bytes is set the shared start of the next one as a message of its
 * own.  That message's closing markup is not in the full prompt, so the
 * prefix reuse (token equality) stops just before it. */
static cl_status shared_text(const llama_tagger *t, const cl_prompt *pr, cl_buf *out,
                             cl_error *err)
{
    if (pr->shared_bytes == 0 || pr->nshared >= pr->nmessages)
        return cl_llama_chat_format(t->m, pr, pr->nshared, false, out, err);
    cl_prompt part;
    cl_prompt_init(&part);
    cl_status st = CL_OK;
    for (int32_t i = 0; i < pr->nshared && st == CL_OK; i++)
        st = cl_prompt_add(&part, pr->messages[i].role, pr->messages[i].content, err);
    const cl_chat_message *next = &pr->messages[pr->nshared];
    size_t n = strlen(next->content);
    char *start = cl_strndup(next->content, pr->shared_bytes < n ? pr->shared_bytes : n);
    if (st == CL_OK && !start)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = cl_prompt_add(&part, next->role, start, err);
    if (st == CL_OK)
        st = cl_llama_chat_format(t->m, &part, part.nmessages, false, out, err);
    free(start);
    cl_prompt_free(&part);
    return st;
}

/* Keep the engine's shared prefix in line with this prompt's shared part. */
static cl_status update_prefix(llama_tagger *t, const cl_prompt *pr, cl_error *err)
{
    if (pr->nshared <= 0 && pr->shared_bytes == 0)
        return CL_OK;
    cl_buf text;
    cl_buf_init(&text);
    cl_status st = shared_text(t, pr, &text, err);
    if (st == CL_OK && (!t->shared_text || strcmp(t->shared_text, text.data) != 0)) {
        llama_token *tok;
        int32_t n;
        st = cl_llm_tokenize(t->m, text.data, text.len, true, true, &tok, &n, err);
        if (st == CL_OK) {
            st = cl_llm_engine_set_prefix(t->e, tok, n, err);
            free(tok);
        }
        if (st == CL_OK) {
            free(t->shared_text);
            t->shared_text = cl_buf_detach(&text);
        }
    }
    cl_buf_free(&text);
    return st;
}

/* Build the job for sentence sent of doc; *skip when it cannot run. */
static cl_status make_job(llama_tagger *t, const cl_doc *doc, int32_t sent, cl_llm_job *j,
                          bool *skip, cl_error *err)
{
    *skip = false;
    memset(j, 0, sizeof *j);
    cl_buf_init(&j->answer);
    const cl_sentence *se = &doc->sentences[sent];
    int32_t n = se->tok_end - se->tok_begin;
    j->ntok = n;
    cl_prompt pr;
    cl_prompt_init(&pr);
    cl_buf text;
    cl_buf_init(&text);
    cl_status st = cl_prompt_build(t->b, doc, sent, &pr, err);
    if (st == CL_OK)
        st = update_prefix(t, &pr, err);
    if (st == CL_OK)
        st = cl_llama_chat_format(t->m, &pr, pr.nmessages, true, &text, err);
    if (st == CL_OK)
        st = cl_llm_tokenize(t->m, text.data, text.len, true, true, &j->prompt, &j->nprompt,
                             err);
    /* the answer: the sentence's text again plus a label per line */
    int32_t user_tokens = 0;
    if (st == CL_OK && pr.nmessages > 0) {
        const char *u = pr.messages[pr.nmessages - 1].content;
        llama_token *ut;
        if (cl_llm_tokenize(t->m, u, strlen(u), false, false, &ut, &user_tokens, err) == CL_OK)
            free(ut);
    }
    cl_prompt_free(&pr);
    cl_buf_free(&text);
    if (st != CL_OK)
        return st;
    int32_t est = user_tokens + n * (t->label_tokens + 1) + 8;
    int32_t n_ctx = cl_llm_engine_n_ctx(t->e);
    if (j->nprompt + est > n_ctx) {
        cl_logf(t->p.log, t->p.log_ctx,
              "%s: sentence %d skipped (left O): its prompt (%d tokens) and answer (about %d) "
              "do not fit the context of %d tokens",
              doc->id ? doc->id : "?", sent, j->nprompt, est, n_ctx);
        *skip = true;
        return CL_OK;
    }
    j->seed = sentence_seed(t->p.seed, doc->id, sent);
    j->max_new = t->p.max_new_tokens > 0 ? t->p.max_new_tokens : est + n * 2 + 32;
    if (j->max_new > n_ctx - j->nprompt)
        j->max_new = n_ctx - j->nprompt;
    if (t->p.decode != CL_DECODE_FREE) {
        const char **toks = malloc((size_t)n * sizeof *toks);
        size_t *lens = malloc((size_t)n * sizeof *lens);
        if (!toks || !lens) {
            free(toks);
            free(lens);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
        for (int32_t i = 0; i < n; i++)
            toks[i] = cl_doc_token_bytes(doc, se->tok_begin + i, &lens[i]);
        st = cl_fsm_sentence_init(&j->fsm, t->ls, toks, lens, n, err);
        free(toks);
        free(lens);
        if (st != CL_OK)
            return st;
    }
    if (t->p.decode == CL_DECODE_GRAMMAR) {
        cl_buf g;
        cl_buf_init(&g);
        st = cl_grammar_for_sentence(t->ls, doc, sent, &g, err);
        if (st != CL_OK) {
            cl_buf_free(&g);
            return st;
        }
        j->grammar = cl_buf_detach(&g);
    }
    return CL_OK;
}

/* Store job j's answer as the tags of sentence sent. */
static cl_status store(llama_tagger *t, cl_doc *doc, int32_t sent, cl_llm_job *j, cl_error *err)
{
    const cl_sentence *se = &doc->sentences[sent];
    int32_t n = j->ntok;
    const char *id = doc->id ? doc->id : "?";
    cl_buf_reset(&t->last);
    cl_buf_append(&t->last, j->answer.data ? j->answer.data : "", j->answer.len);
    t->st.generated_tokens += j->answer_tokens;
    t->st.prompt_tokens += j->nprompt;
    t->st.cached_prompt_tokens += j->reused_tokens;
    bool all_o = false;
    if (t->p.decode == CL_DECODE_FREE) {
        cl_answer_info info;
        cl_status st = cl_answer_parse(t->ls, j->answer.data, j->answer.len, n, j->labels, &info,
                                       err);
        if (st != CL_OK)
            return st;
        if (j->overflow)
            cl_logf(t->p.log, t->p.log_ctx, "%s: sentence %d: the answer ran into the end of the context", id, sent);
        if (info.misaligned)
            t->st.misaligned++;
        t->st.invalid_labels += info.invalid_labels;
        st = cl_tagger_answers_set(&t->answers, sent, t->last.data, t->last.len, info.lines,
                                   info.misaligned, info.invalid_labels, err);
        if (st != CL_OK)
            return st;
    } else if (!j->complete) {
        all_o = true;
        t->st.skipped++;
        if (j->overflow)
            cl_logf(t->p.log, t->p.log_ctx, "%s: sentence %d skipped (left O): the answer ran out of context", id, sent);
        else
            cl_logf(t->p.log, t->p.log_ctx, "%s: sentence %d skipped (left O): the model's vocabulary cannot write "
                     "the answer%s",
                  id, sent, j->inconsistent ? " (grammar and answer automaton disagree)" : "");
    }
    if (!all_o && t->p.decode != CL_DECODE_FREE) {
        cl_status st = cl_tagger_answers_set(&t->answers, sent, t->last.data, t->last.len, n,
                                             false, 0, err);
        if (st != CL_OK)
            return st;
    }
    if (!all_o)
        t->st.sentences++;
    t->st.tokens += n;
    for (int32_t i = 0; i < n; i++) {
        int32_t l = all_o ? 0 : j->labels[i];
        if (l < 0 || l >= t->ls->nlabels)
            l = 0;
        cl_status st = cl_doc_set_tag(doc, se->tok_begin + i, t->ls->labels[l], err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

static cl_status tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    llama_tagger *t = self;
    double t0 = cl_now();
    if (sb < 0 || se > doc->nsentences || sb > se)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentences [%d, %d) out of range (%d)",
                            doc->id ? doc->id : "?", sb, se, doc->nsentences);
    if (!doc->tags && cl_doc_reset_tags(doc, err) != CL_OK)
        return err ? err->code : CL_ERR_NOMEM;
    cl_llm_job jobs[SENTENCES_PER_RUN];
    int32_t sents[SENTENCES_PER_RUN];
    cl_status st = cl_tagger_answers_reset(&t->answers, sb, se, err);
    if (st != CL_OK)
        return st;
    for (int32_t s = sb; s < se && st == CL_OK;) {
        int32_t nj = 0;
        for (; s < se && nj < SENTENCES_PER_RUN && st == CL_OK; s++) {
            const cl_sentence *sn = &doc->sentences[s];
            if (sn->tok_end <= sn->tok_begin) {
                t->st.skipped++; /* nothing to label */
                continue;
            }
            bool skip;
            st = make_job(t, doc, s, &jobs[nj], &skip, err);
            if (st == CL_OK && skip) {
                t->st.skipped++;
                t->st.tokens += jobs[nj].ntok;
                for (int32_t i = sn->tok_begin; i < sn->tok_end && st == CL_OK; i++)
                    st = cl_doc_set_tag(doc, i, "O", err);
                cl_llm_job_free(&jobs[nj]);
                continue;
            }
            if (st != CL_OK) {
                cl_llm_job_free(&jobs[nj]);
                break;
            }
            sents[nj++] = s;
        }
        if (st == CL_OK && nj > 0)
            st = cl_llm_engine_run(t->e, jobs, nj, err);
        for (int32_t i = 0; i < nj; i++) {
            if (st == CL_OK)
                st = store(t, doc, sents[i], &jobs[i], err);
            cl_llm_job_free(&jobs[i]);
        }
    }
    if (st != CL_OK)
        cl_error_prefix(err, "%s: ", doc->id ? doc->id : "?");
    t->seconds += cl_now() - t0;
    return st;
}

static void tagger_free(void *self)
{
    llama_tagger *t = self;
    if (!t)
        return;
    cl_llm_engine_free(t->e);
    cl_llama_model_free(t->m);
    free(t->model_path);
    free(t->shared_text);
    cl_buf_free(&t->last);
    cl_tagger_answers_free(&t->answers);
    free(t);
}

static void tagger_stats(void *self, cl_tagger_stats *out)
{
    llama_tagger *t = self;
    *out = t->st;
    cl_llama_stats ls;
    cl_llm_engine_stats(t->e, &ls);
    out->model_rounds = ls.decode_calls;
    out->model_usec = (int64_t)(ls.decode_seconds * 1e6 + 0.5);
    out->draft_tokens = ls.draft_tokens;
    out->draft_rejected = ls.draft_rejected;
}

static const cl_tagger_answer *tagger_answer(void *self, int32_t sent)
{
    return cl_tagger_answers_get(&((llama_tagger *)self)->answers, sent);
}

static const cl_tagger_ops llama_ops = {
    .name = "llama",
    .tag = tag,
    .free = tagger_free,
    .stats = tagger_stats,
    .answer = tagger_answer,
};

void cl_llama_tagger_stats(const cl_tagger *t, cl_llama_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!t || t->ops != &llama_ops)
        return;
    const llama_tagger *lt = t->self;
    cl_llm_engine_stats(lt->e, out);
    out->seconds = lt->seconds;
}

const char *cl_llama_tagger_last_answer(const cl_tagger *t)
{
    if (!t || t->ops != &llama_ops)
        return "";
    const llama_tagger *lt = t->self;
    return lt->last.data ? lt->last.data : "";
}

/* Model tokens of the longest " : <label>\n" (what a line adds to its token). */
static int32_t longest_label_tokens(cl_llama_model *m, const cl_label_set *ls)
{
    int32_t most = 1;
    for (int32_t l = 0; l < ls->nlabels; l++) {
        char buf[600];
        int w = snprintf(buf, sizeof buf, "%s%s\n", CL_ANSWER_SEP, ls->labels[l]);
        if (w < 0 || (size_t)w >= sizeof buf)
            continue;
        llama_token *tok;
        int32_t n;
        if (cl_llm_tokenize(m, buf, (size_t)w, false, false, &tok, &n, NULL) == CL_OK) {
            free(tok);
            if (n > most)
                most = n;
        }
    }
    return most;
}

cl_status cl_llama_tagger_new(const cl_llama_params *params, const cl_prompt_builder *builder,
                              cl_tagger *out, cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    cl_llama_params p = params ? *params : cl_llama_default_params();
    if (!builder)
        return cl_error_set(err, CL_ERR_ARG, "llama: no prompt builder");
    if (p.n_ctx < 64 || p.n_ctx > 1 << 20)
        return cl_error_set(err, CL_ERR_ARG, "llama: n_ctx must be in 64..1048576 (got %d)",
                            p.n_ctx);
    if (p.n_parallel < 1 || p.n_parallel > 64)
        return cl_error_set(err, CL_ERR_ARG, "llama: parallel sequences must be in 1..64 (got %d)",
                            p.n_parallel);
    if (p.draft < 0 || p.draft > 1024)
        return cl_error_set(err, CL_ERR_ARG, "llama: draft must be in 0..1024 (got %d)", p.draft);
    if (!(p.temperature >= 0.0f) || p.temperature > 100.0f)
        return cl_error_set(err, CL_ERR_ARG, "llama: temperature must be in 0..100");
    if ((unsigned)p.decode > CL_DECODE_FORCED)
        return cl_error_set(err, CL_ERR_ARG, "llama: unknown decoding mode %d", (int)p.decode);
    if (p.decode == CL_DECODE_FORCED && p.temperature > 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "llama: forced decoding is greedy (temperature must be 0)");
    if (p.n_threads <= 0)
        p.n_threads = cl_llm_ncpu();
    if (p.n_batch < 16)
        p.n_batch = 16;
    if (p.max_new_tokens < 0)
        p.max_new_tokens = 0;
    llama_tagger *t = calloc(1, sizeof *t);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_buf_init(&t->last);
    char path[4096];
    cl_status st = CL_OK;
    if (!p.model_path) {
        st = cl_llama_default_model_path(path, sizeof path, err);
        p.model_path = path;
    }
    if (st == CL_OK && !(t->model_path = cl_strdup(p.model_path)))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    p.model_path = t->model_path;
    t->p = p;
    t->b = builder;
    t->ls = cl_prompt_builder_labels(builder);
    if (st == CL_OK)
        st = cl_llama_model_load(t->model_path, p.verbose, &t->m, err);
    if (st == CL_OK && !(t->e = cl_llm_engine_new(t->m, &t->p, err)))
        st = err ? err->code : CL_ERR_MODEL;
    if (st == CL_OK && p.chat_template)
        st = cl_llama_model_set_template(t->m, p.chat_template, err);
    /* Worth knowing when reading its results: the model's own chat format
     * is not what it sees (no template in the file, or one llama.cpp does
     * not know). */
    if (st == CL_OK && !p.chat_template && !cl_llama_model_has_template(t->m))
        cl_logf(t->p.log, t->p.log_ctx, "llama: %s has no chat template llama.cpp can apply; prompts use a plain "
                  "'### System: / ### User: / ### Assistant:' layout",
               t->model_path);
    if (st == CL_OK && p.decode == CL_DECODE_FORCED &&
        (p.speculate > 0 || (p.speculate < 0 && llama_supports_gpu_offload()))) {
        st = cl_llm_engine_speculate(t->e, t->ls, err);
        if (st == CL_OK && p.speculate < 0)
            cl_logf(t->p.log, t->p.log_ctx, "llama: the model runs on a GPU: forced decoding guesses labels too "
                      "(speculate = 0 stops it; the labels are the same)");
    }
    if (st != CL_OK) {
        tagger_free(t);
        return st;
    }
    t->label_tokens = longest_label_tokens(t->m, t->ls);
    out->ops = &llama_ops;
    out->self = t;
    return CL_OK;
}
