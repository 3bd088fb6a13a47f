/*
 * decoder.c - the decoding engine behind the llama tagger: one llama.cpp
 * context, the shared prompt prefix kept in a sequence of its own, and
 * several sentences decoded at once in parallel sequences of one batch.
 *
 * Sequence 0 holds the prefix every prompt shares (instruction and fixed
 * examples).  A sentence's sequence starts as a copy of the part of it that
 * equals the start of its own prompt (llama_memory_seq_cp of the prefix's
 * KV stream, then llama_memory_seq_rm of what differs), so only the rest of
 * the prompt is decoded.  Reuse is decided by token equality at equal positions, which
 * makes it exact for a causal model whatever the prefix holds.
 *
 * Each round gathers the pending tokens of every busy sequence into one
 * batch, decodes it, and lets each sequence pick its next tokens:
 *
 *   free     one sampled token per round;
 *   grammar  one token per round, greedy (or sampled) after llama.cpp's
 *            grammar sampler has removed what the grammar forbids.  As in
 *            llama.cpp's common sampling code, the unconstrained best token
 *            is tried first and the grammar applied to the whole vocabulary
 *            only when it rejects it - the same choice, much cheaper;
 *   forced   the pending tokens are the last certain token followed by a
 *            guess: the answer's bytes up to its next choice (the rest of
 *            the token text and " :", or of a label once only one label is
 *            still possible, and on into the next line), cut into model
 *            tokens by the tokenizer.  Logits come back for every position;
 *            walking them, the greedy choice under the answer automaton
 *            (answer_fsm.c) is compared with the guess: equal, the guess is
 *            kept and the walk goes on; different, the rest of the guess is
 *            removed from the KV cache and the choice becomes the next
 *            round's first token.  The kept tokens are thus exactly those
 *            greedy grammar decoding would produce.  Without speculation
 *            no label is guessed, so nothing is decoded in vain but where
 *            the model splits a text differently from the tokenizer; with
 *            it (cl_llm_engine_speculate: the default on a GPU) whole
 *            labels are guessed too, fewer rounds for some wasted tokens.
 *
 * Exactness needs the logits of a position not to depend on how the batch
 * was made up.  On the CPU, llama.cpp's flash-attention path has that
 * property and its plain attention path does not (measured: logits of the
 * same tokens differed by up to 1.2 between one batch and one token at a
 * time), so flash attention is always on.  With more than one thread it
 * is not enough: ggml's CPU flash attention splits the context of a
 * one-token, one-sequence micro-batch (context of 512+ cells) over the
 * threads and merges the partial sums (ops.cpp, use_split_kv_path), and
 * where such micro-batches occur depends on the decoding mode.  With one
 * thread the split is a single part, the same arithmetic; so exactness is
 * promised (and tested) for n_threads = 1 on a CPU.
 *
 * The prompt itself must always be cut the same way: ggml's CPU flash
 * attention takes a tiled path for micro-batches of 64 tokens or more and
 * a row-by-row path below (other rounding), so a prompt token's cells
 * depend on the size of the micro-batch it came in.  Every prompt is fed
 * from the end of the shared prefix in batches of n_batch, whatever ran
 * before.  Reusing the cells of a sequence's previous prompt as well (as
 * llama-server's prompt cache does) was tried and dropped for this
 * reason: it changed labels (3 test documents, rag and few-shot, forced).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "llm/llm_internal.h"

typedef struct slot {
    cl_llm_job *job; /* NULL: free */
    llama_seq_id seq;
    llama_pos pos;     /* position of pend[0] */
    llama_token *pend; /* tokens for the next round */
    int32_t npend;
    int32_t ncertain; /* pend[0..ncertain) are certain, the rest guesses */
    int32_t at;       /* batch index of pend[0] */
    cl_fsm fsm;
    struct llama_sampler *chain;   /* free: the sampler; grammar: temp + dist (or NULL) */
    struct llama_sampler *grammar; /* grammar mode */
    int32_t lines;                 /* free: complete non-empty lines */
    int32_t learned;               /* forced, speculating: lines whose labels were learned */
    bool line_has_text;
} slot;

struct cl_llm_engine {
    cl_llama_model *m;
    cl_llama_params p;
    struct llama_context *ctx;
    llama_memory_t mem;
    struct llama_batch batch;
    int32_t n_batch;
    int32_t n_ctx_seq;
    llama_token *prefix;
    int32_t nprefix;
    slot *slots;
    int32_t nslots;
    llama_token_data *cand; /* n_vocab */
    cl_buf guess;
    int32_t *spec_after; /* forced with speculation: label guessed after label i-1 */
    cl_llama_stats st;
};

void cl_llm_job_free(cl_llm_job *j)
{
    if (!j)
        return;
    free(j->prompt);
    free(j->grammar);
    free(j->labels);
    cl_fsm_sentence_free(&j->fsm);
    cl_buf_free(&j->answer);
    memset(j, 0, sizeof *j);
}

cl_llm_engine *cl_llm_engine_new(cl_llama_model *m, const cl_llama_params *p, cl_error *err)
{
    if (cl_llm_pieces(m, err) != CL_OK)
        return NULL;
    cl_llm_engine *e = calloc(1, sizeof *e);
    if (!e) {
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    e->m = m;
    e->p = *p;
    e->nslots = p->n_parallel;
    e->n_ctx_seq = p->n_ctx;
    int32_t per_round = p->n_parallel * (p->draft + 1);
    e->n_batch = p->n_batch > per_round ? p->n_batch : per_round;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)p->n_ctx * ((uint32_t)p->n_parallel + 1);
    cp.n_batch = (uint32_t)e->n_batch;
    cp.n_ubatch = (uint32_t)(e->n_batch < 512 ? e->n_batch : 512);
    cp.n_seq_max = (uint32_t)p->n_parallel + 1;
    cp.n_threads = p->n_threads;
    cp.n_threads_batch = p->n_threads;
    /* On a CPU, one KV stream per sequence: a sentence's cells then always
     * sit in position order, whatever the other sentences do, so its
     * attention sums are made in the same order in every decoding mode.
     * The price: llama.cpp cuts a batch whose sequences bring different
     * numbers of tokens into micro-batches of equal counts per sequence
     * (llama_batch_allocr::split_equal), one pass of the model each.  On a
     * GPU a pass costs about the same for 1 or 100 tokens and the labels
     * depend on the batch shape anyway (other kernels), so one unified
     * stream there: one pass per round. */
    cp.kv_unified = llama_supports_gpu_offload();
    cp.swa_full = true;   /* sliding-window layers keep what prefix reuse needs */
    cp.no_perf = true;
    /* see the top of the file: forced == grammar needs it */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_ENABLED;
    e->ctx = llama_init_from_model(m->model, cp);
    if (!e->ctx) {
        cl_error_set(err, CL_ERR_MODEL,
                     "%s: llama.cpp could not create a context of %u tokens (%d per sentence "
                     "x %d parallel); try a smaller n_ctx",
                     m->path, cp.n_ctx, p->n_ctx, p->n_parallel);
        free(e);
        return NULL;
    }
    e->mem = llama_get_memory(e->ctx);
    e->batch = llama_batch_init(e->n_batch, 0, 1);
    e->slots = calloc((size_t)e->nslots, sizeof *e->slots);
    e->cand = malloc((size_t)m->n_vocab * sizeof *e->cand);
    bool ok = e->slots && e->cand && e->batch.token;
    for (int32_t i = 0; ok && i < e->nslots; i++) {
        e->slots[i].seq = i + 1;
        e->slots[i].pend = malloc(((size_t)p->draft + 2) * sizeof(llama_token));
        ok = e->slots[i].pend != NULL;
    }
    cl_buf_init(&e->guess);
    if (!ok) {
        cl_llm_engine_free(e);
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return e;
}

cl_status cl_llm_engine_speculate(cl_llm_engine *e, const cl_label_set *ls, cl_error *err)
{
    /* to start with, the label that continues the previous line's: O after
     * O (and at the start), I-X after B-X or I-X - the commonest next label
     * in the corpus; add_guesses then learns what the model itself does */
    int32_t *a = malloc(((size_t)ls->nlabels + 1) * sizeof *a);
    if (!a)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    a[0] = 0;
    for (int32_t prev = 0; prev < ls->nlabels; prev++)
        a[prev + 1] = prev == 0 ? 0 : prev % 2 ? prev + 1 : prev;
    free(e->spec_after);
    e->spec_after = a;
    return CL_OK;
}

static void slot_release(cl_llm_engine *e, slot *s)
{
    if (s->chain)
        llama_sampler_free(s->chain);
    if (s->grammar)
        llama_sampler_free(s->grammar);
    s->chain = s->grammar = NULL;
    if (s->job)
        llama_memory_seq_rm(e->mem, s->seq, -1, -1);
    s->job = NULL;
    s->npend = 0;
}

void cl_llm_engine_free(cl_llm_engine *e)
{
    if (!e)
        return;
    for (int32_t i = 0; e->slots && i < e->nslots; i++) {
        slot_release(e, &e->slots[i]);
        free(e->slots[i].pend);
    }
    free(e->slots);
    free(e->cand);
    free(e->prefix);
    cl_buf_free(&e->guess);
    free(e->spec_after);
    if (e->batch.token)
        llama_batch_free(e->batch);
    if (e->ctx)
        llama_free(e->ctx);
    free(e);
}

int32_t cl_llm_engine_n_ctx(const cl_llm_engine *e) { return e->n_ctx_seq; }

void cl_llm_engine_stats(const cl_llm_engine *e, cl_llama_stats *out) { *out = e->st; }

/* ---- batches ---- */

static void batch_add(struct llama_batch *b, llama_token t, llama_pos pos, llama_seq_id seq,
                      bool logits)
{
    int32_t i = b->n_tokens++;
    b->token[i] = t;
    b->pos[i] = pos;
    b->n_seq_id[i] = 1;
    b->seq_id[i][0] = seq;
    b->logits[i] = logits;
}

static cl_status decode(cl_llm_engine *e, cl_error *err)
{
    double t0 = cl_now();
    int32_t rc = llama_decode(e->ctx, e->batch);
    /* on a GPU llama_decode only queues the work; the logits are read right
     * after anyway, so waiting here costs nothing and makes decode_seconds
     * the model's whole share of a round (the rest is ours, on the host) */
    llama_synchronize(e->ctx);
    e->st.decode_seconds += cl_now() - t0;
    e->st.decode_calls++;
    if (rc != 0)
        return cl_error_set(err, CL_ERR_MODEL,
                            "llama_decode failed (%d) on a batch of %d tokens%s", rc,
                            e->batch.n_tokens, rc == 1 ? ": the KV cache is full" : "");
    return CL_OK;
}

/* Decode tokens[0..n) into seq from position pos, no logits. */
static cl_status feed(cl_llm_engine *e, llama_seq_id seq, llama_pos pos, const llama_token *t,
                      int32_t n, cl_error *err)
{
    for (int32_t i = 0; i < n;) {
        e->batch.n_tokens = 0;
        int32_t k = n - i < e->n_batch ? n - i : e->n_batch;
        for (int32_t j = 0; j < k; j++)
            batch_add(&e->batch, t[i + j], pos + i + j, seq, false);
        cl_status st = decode(e, err);
        if (st != CL_OK)
            return st;
        i += k;
    }
    return CL_OK;
}

cl_status cl_llm_engine_set_prefix(cl_llm_engine *e, const llama_token *prefix, int32_t n,
                                   cl_error *err)
{
    if (n == e->nprefix && (n == 0 || memcmp(prefix, e->prefix, (size_t)n * sizeof *prefix) == 0))
        return CL_OK;
    llama_memory_seq_rm(e->mem, 0, -1, -1);
    free(e->prefix);
    e->prefix = NULL;
    e->nprefix = 0;
    if (n <= 0)
        return CL_OK;
    if (n >= e->n_ctx_seq)
        return CL_OK; /* too long to share: every sentence will be skipped anyway */
    llama_token *copy = malloc((size_t)n * sizeof *copy);
    if (!copy)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    memcpy(copy, prefix, (size_t)n * sizeof *copy);
    cl_status st = feed(e, 0, 0, copy, n, err);
    if (st != CL_OK) {
        llama_memory_seq_rm(e->mem, 0, -1, -1);
        free(copy);
        return st;
    }
    e->st.prompt_tokens += n;
    e->prefix = copy;
    e->nprefix = n;
    return CL_OK;
}

/* ---- per-sequence steps ---- */

static void append_piece(cl_llm_engine *e, cl_llm_job *j, llama_token t)
{
    cl_buf_append(&j->answer, e->m->pieces[t], (size_t)e->m->piece_len[t]);
    j->answer_tokens++;
    e->st.answer_tokens++;
}

/* Forced: append to pend a guess of the answer from the current state. */
static void add_guesses(cl_llm_engine *e, slot *s)
{
    int32_t room = e->p.draft;
    int32_t left = e->n_ctx_seq - (s->pos + s->npend);
    if (left < room)
        room = left;
    if (room <= 0 || cl_fsm_done(&s->job->fsm, &s->fsm))
        return;
    if (e->spec_after) {
        /* learn the model's own habits: after label p, guess what it chose
         * after p last time (a model that copies its labels down the
         * sentence is then guessed right) */
        for (int32_t i = s->learned; i < s->fsm.line; i++)
            e->spec_after[(i ? s->job->labels[i - 1] : -1) + 1] = s->job->labels[i];
        s->learned = s->fsm.line;
    }
    if (cl_fsm_guess_text(&s->job->fsm, &s->fsm, (size_t)e->p.draft * 16 + 16, e->spec_after,
                          &e->guess, NULL) != CL_OK)
        return;
    int32_t k = cl_llm_guess_tokens(e->m, e->guess.data, e->guess.len, s->pend + s->npend, room);
    s->npend += k;
    e->st.draft_tokens += k;
}

static void finish(cl_llm_engine *e, slot *s)
{
    cl_llm_job *j = s->job;
    if (e->p.decode != CL_DECODE_FREE)
        j->complete = cl_fsm_done(&j->fsm, &s->fsm);
    slot_release(e, s);
}

static cl_status start_job(cl_llm_engine *e, slot *s, cl_llm_job *j, cl_error *err)
{
    s->job = j;
    s->npend = 0;
    s->lines = 0;
    s->learned = 0;
    s->line_has_text = false;
    cl_fsm_start(&s->fsm);
    cl_buf_reset(&j->answer);
    cl_buf_append(&j->answer, "", 0);
    if (!j->labels && !(j->labels = calloc((size_t)j->ntok + 1, sizeof *j->labels)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (j->nprompt < 1 || j->nprompt >= e->n_ctx_seq) {
        j->overflow = true;
        slot_release(e, s);
        return CL_OK;
    }
    int32_t reuse = 0;
    while (reuse < e->nprefix && reuse < j->nprompt - 1 && e->prefix[reuse] == j->prompt[reuse])
        reuse++;
    if (reuse > 0) {
        /* streams differ: the prefix's whole stream is copied, then cut */
        llama_memory_seq_cp(e->mem, 0, s->seq, -1, -1);
        if (reuse < e->nprefix)
            llama_memory_seq_rm(e->mem, s->seq, reuse, -1);
    }
    e->st.reused_tokens += reuse;
    j->reused_tokens = reuse;
    e->st.prompt_tokens += j->nprompt - reuse;
    cl_status st = feed(e, s->seq, reuse, j->prompt + reuse, j->nprompt - 1 - reuse, err);
    if (st != CL_OK) {
        slot_release(e, s);
        return st;
    }
    s->pos = j->nprompt - 1;
    s->pend[0] = j->prompt[j->nprompt - 1];
    s->npend = 1;
    s->ncertain = 1;
    const struct llama_vocab *v = e->m->vocab;
    if (e->p.decode == CL_DECODE_FORCED) {
        add_guesses(e, s);
    } else if (e->p.decode == CL_DECODE_GRAMMAR) {
        s->grammar = llama_sampler_init_grammar(v, j->grammar, "root");
        if (!s->grammar) {
            slot_release(e, s);
            return cl_error_set(err, CL_ERR_INTERNAL, "llama.cpp rejected the sentence grammar");
        }
        if (e->p.temperature > 0) {
            s->chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
            llama_sampler_chain_add(s->chain, llama_sampler_init_temp(e->p.temperature));
            llama_sampler_chain_add(s->chain, llama_sampler_init_dist(j->seed));
        }
    } else {
        s->chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
        if (e->p.temperature > 0) {
            llama_sampler_chain_add(s->chain, llama_sampler_init_temp(e->p.temperature));
            llama_sampler_chain_add(s->chain, llama_sampler_init_dist(j->seed));
        } else {
            llama_sampler_chain_add(s->chain, llama_sampler_init_greedy());
        }
    }
    return CL_OK;
}

static void step_forced(cl_llm_engine *e, slot *s)
{
    cl_llm_job *j = s->job;
    const cl_llama_model *m = e->m;
    int32_t k = s->ncertain - 1;
    for (;;) {
        const float *lg = llama_get_logits_ith(e->ctx, s->at + k);
        llama_token g = lg ? cl_fsm_greedy(m, &j->fsm, &s->fsm, lg) : -1;
        if (g < 0 || m->is_eog[g] ||
            !cl_fsm_advance(&j->fsm, &s->fsm, m->pieces[g], (size_t)m->piece_len[g], j->labels)) {
            /* no token can continue the answer (a vocabulary that cannot
             * spell the text): give up on this sentence */
            j->inconsistent = true;
            e->st.draft_rejected += s->npend - 1 - k;
            finish(e, s);
            return;
        }
        append_piece(e, j, g);
        bool done = cl_fsm_done(&j->fsm, &s->fsm);
        if (k + 1 < s->npend && s->pend[k + 1] == g) {
            k++; /* the guess was right: its logits are next */
            if (done) {
                e->st.draft_rejected += s->npend - 1 - k;
                finish(e, s);
                return;
            }
            continue;
        }
        int32_t nrej = s->npend - (k + 1);
        e->st.draft_rejected += nrej;
        s->pos += k + 1;
        if (nrej > 0)
            llama_memory_seq_rm(e->mem, s->seq, s->pos, -1);
        if (done) {
            finish(e, s);
            return;
        }
        if (s->pos + 1 > e->n_ctx_seq) {
            j->overflow = true;
            finish(e, s);
            return;
        }
        s->pend[0] = g;
        s->npend = 1;
        s->ncertain = 1;
        add_guesses(e, s);
        return;
    }
}

llama_token cl_llm_first_max(const float *lg, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (lg[i] > lg[best])
            best = i;
    return best;
}

static void step_grammar(cl_llm_engine *e, slot *s)
{
    cl_llm_job *j = s->job;
    const cl_llama_model *m = e->m;
    const float *lg = llama_get_logits_ith(e->ctx, s->at + s->npend - 1);
    int32_t nv = m->n_vocab;
    llama_token tok = -1;
    if (lg && !s->chain) {
        llama_token best = cl_llm_first_max(lg, nv);
        llama_token_data one = {best, lg[best], 0.0f};
        llama_token_data_array arr = {&one, 1, -1, false};
        llama_sampler_apply(s->grammar, &arr);
        if (one.logit != -INFINITY) {
            tok = best;
        } else {
            for (int32_t i = 0; i < nv; i++)
                e->cand[i] = (llama_token_data){i, lg[i], 0.0f};
            llama_token_data_array all = {e->cand, (size_t)nv, -1, false};
            llama_sampler_apply(s->grammar, &all);
            int32_t b = 0;
            for (int32_t i = 1; i < nv; i++)
                if (e->cand[i].logit > e->cand[b].logit)
                    b = i;
            tok = e->cand[b].logit == -INFINITY ? -1 : e->cand[b].id;
        }
    } else if (lg) {
        for (int32_t i = 0; i < nv; i++)
            e->cand[i] = (llama_token_data){i, lg[i], 0.0f};
        llama_token_data_array all = {e->cand, (size_t)nv, -1, false};
        llama_sampler_apply(s->grammar, &all);
        llama_sampler_apply(s->chain, &all);
        if (all.selected >= 0 && all.data[all.selected].logit != -INFINITY)
            tok = all.data[all.selected].id;
    }
    if (tok < 0) {
        j->inconsistent = true;
        finish(e, s);
        return;
    }
    llama_sampler_accept(s->grammar, tok);
    if (m->is_eog[tok]) {
        finish(e, s);
        return;
    }
    if (!cl_fsm_advance(&j->fsm, &s->fsm, m->pieces[tok], (size_t)m->piece_len[tok],
                        j->labels)) {
        /* llama.cpp's grammar let through what the automaton does not */
        j->inconsistent = true;
        append_piece(e, j, tok);
        finish(e, s);
        return;
    }
    append_piece(e, j, tok);
    if (cl_fsm_done(&j->fsm, &s->fsm)) {
        finish(e, s);
        return;
    }
    s->pos++;
    if (s->pos + 1 > e->n_ctx_seq) {
        j->overflow = true;
        finish(e, s);
        return;
    }
    s->pend[0] = tok;
    s->npend = 1;
}

static void step_free(cl_llm_engine *e, slot *s)
{
    cl_llm_job *j = s->job;
    const cl_llama_model *m = e->m;
    llama_token tok = llama_sampler_sample(s->chain, e->ctx, s->at + s->npend - 1);
    if (tok < 0 || tok >= m->n_vocab || m->is_eog[tok]) {
        finish(e, s);
        return;
    }
    append_piece(e, j, tok);
    const char *p = m->pieces[tok];
    for (int32_t i = 0; i < m->piece_len[tok]; i++) {
        if (p[i] == '\n') {
            if (s->line_has_text)
                s->lines++;
            s->line_has_text = false;
        } else if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            s->line_has_text = true;
        }
    }
    if (s->lines >= j->ntok || j->answer_tokens >= j->max_new) {
        finish(e, s);
        return;
    }
    s->pos++;
    if (s->pos + 1 > e->n_ctx_seq) {
        j->overflow = true;
        finish(e, s);
        return;
    }
    s->pend[0] = tok;
    s->npend = 1;
}

cl_status cl_llm_engine_run(cl_llm_engine *e, cl_llm_job *jobs, int32_t n, cl_error *err)
{
    int32_t next = 0;
    cl_status st = CL_OK;
    for (;;) {
        for (int32_t i = 0; i < e->nslots && next < n && st == CL_OK; i++)
            if (!e->slots[i].job)
                st = start_job(e, &e->slots[i], &jobs[next++], err);
        if (st != CL_OK)
            break;
        e->batch.n_tokens = 0;
        for (int32_t i = 0; i < e->nslots; i++) {
            slot *s = &e->slots[i];
            if (!s->job)
                continue;
            s->at = e->batch.n_tokens;
            for (int32_t k = 0; k < s->npend; k++) {
                bool want = e->p.decode == CL_DECODE_FORCED ? k >= s->ncertain - 1
                                                             : k == s->npend - 1;
                batch_add(&e->batch, s->pend[k], s->pos + k, s->seq, want);
            }
        }
        if (e->batch.n_tokens == 0) {
            if (next >= n)
                break;
            continue;
        }
        if ((st = decode(e, err)) != CL_OK)
            break;
        for (int32_t i = 0; i < e->nslots; i++) {
            slot *s = &e->slots[i];
            if (!s->job)
                continue;
            if (e->p.decode == CL_DECODE_FORCED)
                step_forced(e, s);
            else if (e->p.decode == CL_DECODE_GRAMMAR)
                step_grammar(e, s);
            else
                step_free(e, s);
        }
    }
    if (st != CL_OK)
        for (int32_t i = 0; i < e->nslots; i++)
            slot_release(e, &e->slots[i]);
    return st;
}
