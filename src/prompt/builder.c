/*
 * builder.c - the prompt builder: sentence -> chat messages for the four
 * strategies of the paper (zero-shot, few-shot, rag) and ours (knn-shot).
 *
 *   system     the instruction: what each label means (our wording of the
 *              paper's definitions), how B-/I-/O work, the answer format;
 *              for rag also the retrieved passages
 *   user       an example sentence, one token per line     } K times
 *   assistant  its gold answer, "token : label" lines      } (few/knn-shot)
 *   user       the sentence to tag, one token per line
 *
 * Few-shot examples are fixed (the paper's five from ACTH-Deficiency), so
 * the instruction and examples form a prefix shared by every sentence
 * (cl_prompt.nshared) whose KV cache a backend can keep; rag shares its
 * instruction, the start of the system message (cl_prompt.shared_bytes).
 * knn-shot picks, for each sentence, the K training sentences BM25 ranks
 * highest (least similar first, so the closest example sits next to the
 * question), never one from the same document and never an identical
 * sentence.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/prompt.h"

struct cl_prompt_builder {
    cl_prompt_params p;
    cl_label_set labels;
    char *instruction; /* system message (rag appends passages per sentence) */

    /* few-shot: fixed examples, rendered once */
    int32_t nfixed;
    char **fixed_user, **fixed_assistant;

    /* knn-shot: one BM25 document per non-empty training sentence */
    cl_bm25 *knn;
    int32_t nsent;
    int32_t *sent_doc, *sent_idx; /* corpus document / sentence of each entry */
    uint64_t *sent_hash;          /* hash of the sentence's token texts */
};

cl_prompt_params cl_prompt_default_params(void)
{
    cl_prompt_params p;
    memset(&p, 0, sizeof p);
    p.strategy = CL_STRATEGY_ZERO_SHOT;
    p.shots = CL_PROMPT_DEFAULT_SHOTS;
    p.rag_top_k = CL_RAG_DEFAULT_TOP_K;
    p.fewshot_doc = CL_FEWSHOT_DEFAULT_DOC;
    p.fewshot_extra = CL_FEWSHOT_DEFAULT_EXTRA;
    p.exclude_same_doc = true;
    return p;
}

/* ---- the instruction ---- */

static const struct {
    const char *type, *meaning;
} meanings[] = {
    {"DISEASE", "a disease that is not rare, one that many people have"},
    {"RAREDISEASE", "a rare disease, one that affects only a small part of the population"},
    {"SKINRAREDISEASE", "a rare disease that affects the skin"},
    {"SIGN",
     "an objective finding: something a physical examination or a laboratory test reveals "
     "that points to a condition"},
    {"SYMPTOM",
     "a subjective complaint: a physical or mental problem the patient feels, which others "
     "cannot see and tests do not show"},
    {"ANAPHOR", "a word or phrase (such as \"the disorder\") that refers back to a disease "
                "named earlier"},
};

static const char *meaning_of(const char *type)
{
    for (size_t i = 0; i < sizeof meanings / sizeof meanings[0]; i++)
        if (strcmp(meanings[i].type, type) == 0)
            return meanings[i].meaning;
    return NULL;
}

static char *make_instruction(const cl_label_set *ls)
{
    cl_buf b;
    cl_buf_init(&b);
    int bad = cl_buf_puts(&b, "You are a clinical named-entity recognition system. You label "
                              "each token of a sentence from a medical article.\n\n"
                              "Entity types:\n");
    for (int32_t i = 0; i < ls->ntypes && !bad; i++) {
        const char *m = meaning_of(ls->types[i]);
        bad = m ? cl_buf_printf(&b, "- %s: %s.\n", ls->types[i], m)
                : cl_buf_printf(&b, "- %s: an entity of type %s.\n", ls->types[i],
                                ls->types[i]);
    }
    bad = bad || cl_buf_puts(&b, "\nLabels: B-TYPE marks the first token of an entity of that "
                                 "type, I-TYPE every following token of the same entity, and O "
                                 "a token outside every entity. The labels are:");
    for (int32_t l = 0; l < ls->nlabels && !bad; l++)
        bad = cl_buf_printf(&b, "%s %s", l ? "," : "", ls->labels[l]);
    bad = bad || cl_buf_puts(&b, ".\n\nThe user gives one sentence, one token per line. Answer "
                                 "with exactly one line per token, in the same order, written "
                                 "as \"token" CL_ANSWER_SEP "label\", and nothing else.");
    if (bad) {
        cl_buf_free(&b);
        return NULL;
    }
    return cl_buf_detach(&b);
}

/* ---- rendering examples ---- */

cl_status cl_prompt_tokens_text(const cl_doc *doc, int32_t tb, int32_t te, cl_buf *out,
                                cl_error *err)
{
    cl_buf_reset(out);
    for (int32_t t = tb; t < te; t++) {
        size_t n;
        const char *p = cl_doc_token_bytes(doc, t, &n);
        if (!p)
            return cl_error_set(err, CL_ERR_RANGE, "%s: token %d out of range",
                                doc->id ? doc->id : "?", t);
        if ((t > tb && cl_buf_putc(out, '\n') != 0) || cl_buf_append(out, p, n) != 0)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    if (!out->data && cl_buf_append(out, "", 0) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

cl_status cl_prompt_answer_text(const cl_label_set *ls, const cl_doc *doc, int32_t tb,
                                int32_t te, cl_buf *out, cl_error *err)
{
    cl_buf_reset(out);
    int32_t prev = -1;
    for (int32_t t = tb; t < te; t++) {
        size_t n;
        const char *p = cl_doc_token_bytes(doc, t, &n);
        if (!p)
            return cl_error_set(err, CL_ERR_RANGE, "%s: token %d out of range",
                                doc->id ? doc->id : "?", t);
        int32_t l = doc->tags && doc->tags[t] ? cl_label_set_find(ls, doc->tags[t]) : 0;
        if (l < 0)
            l = 0;
        if (!cl_label_valid_after(ls, prev, l))
            l -= 1; /* I-X -> B-X */
        cl_status st = cl_answer_line(out, p, n, ls->labels[l], err);
        if (st != CL_OK)
            return st;
        prev = l;
    }
    if (!out->data && cl_buf_append(out, "", 0) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

/* Render sentence s of doc as a user turn and an assistant turn. */
static cl_status render_example(const cl_label_set *ls, const cl_doc *doc, int32_t s,
                                char **user, char **assistant, cl_error *err)
{
    cl_buf u, a;
    cl_buf_init(&u);
    cl_buf_init(&a);
    int32_t tb = doc->sentences[s].tok_begin, te = doc->sentences[s].tok_end;
    cl_status st = cl_prompt_tokens_text(doc, tb, te, &u, err);
    if (st == CL_OK)
        st = cl_prompt_answer_text(ls, doc, tb, te, &a, err);
    if (st != CL_OK) {
        cl_buf_free(&u);
        cl_buf_free(&a);
        return st;
    }
    *user = cl_buf_detach(&u);
    *assistant = cl_buf_detach(&a);
    return CL_OK;
}

/* ---- few-shot ---- */

static const cl_doc *find_doc(const cl_corpus *c, const char *id)
{
    for (int32_t i = 0; c && i < c->ndocs; i++)
        if (c->docs[i]->id && strcmp(c->docs[i]->id, id) == 0)
            return c->docs[i];
    return NULL;
}

static bool sentence_starts_with(const cl_doc *doc, int32_t s, const char *prefix)
{
    const cl_sentence *se = &doc->sentences[s];
    if (se->tok_end <= se->tok_begin)
        return false;
    size_t from = cl_text_cp_to_byte(&doc->index, doc->tokens[se->tok_begin].start);
    size_t n = strlen(prefix);
    return from != SIZE_MAX && from + n <= doc->text_bytes &&
           memcmp(doc->text + from, prefix, n) == 0;
}

static cl_status setup_fewshot(cl_prompt_builder *b, cl_error *err)
{
    const cl_prompt_params *p = &b->p;
    const char *id = p->fewshot_doc ? p->fewshot_doc : CL_FEWSHOT_DEFAULT_DOC;
    const cl_doc *doc = find_doc(p->train, id);
    if (!doc)
        return cl_error_set(err, CL_ERR_ARG,
                            "few-shot: training document '%s' not found in the training data",
                            id);
    if (!doc->tags)
        return cl_error_set(err, CL_ERR_ARG, "few-shot: training document '%s' has no labels",
                            id);
    /* the paper's choice: sentences 1..4 and the one starting with extra;
     * more shots continue with the document's other sentences in order */
    int32_t *pick = malloc(((size_t)doc->nsentences + 1) * sizeof *pick);
    if (!pick)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t n = 0;
    for (int32_t s = 0; s < doc->nsentences && s < 4; s++)
        pick[n++] = s;
    const char *extra = p->fewshot_extra ? p->fewshot_extra : CL_FEWSHOT_DEFAULT_EXTRA;
    if (*extra) {
        int32_t found = -1;
        for (int32_t s = 0; s < doc->nsentences && found < 0; s++)
            if (sentence_starts_with(doc, s, extra))
                found = s;
        if (found < 0) {
            free(pick);
            return cl_error_set(err, CL_ERR_ARG,
                                "few-shot: no sentence of '%s' starts with \"%s\"", id, extra);
        }
        bool dup = false;
        for (int32_t i = 0; i < n; i++)
            dup |= pick[i] == found;
        if (!dup)
            pick[n++] = found;
    }
    for (int32_t s = 4; s < doc->nsentences && n < p->shots; s++) {
        bool dup = false;
        for (int32_t i = 0; i < n; i++)
            dup |= pick[i] == s;
        if (!dup)
            pick[n++] = s;
    }
    if (n > p->shots)
        n = p->shots;
    b->fixed_user = calloc((size_t)n + 1, sizeof *b->fixed_user);
    b->fixed_assistant = calloc((size_t)n + 1, sizeof *b->fixed_assistant);
    if (!b->fixed_user || !b->fixed_assistant) {
        free(pick);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_status st = CL_OK;
    for (int32_t i = 0; i < n && st == CL_OK; i++) {
        st = render_example(&b->labels, doc, pick[i], &b->fixed_user[i], &b->fixed_assistant[i],
                            err);
        if (st == CL_OK)
            b->nfixed = i + 1;
    }
    free(pick);
    return st;
}

/* ---- knn-shot ---- */

static uint64_t sentence_hash(const cl_doc *doc, int32_t s)
{
    uint64_t h = CL_FNV64_INIT;
    for (int32_t t = doc->sentences[s].tok_begin; t < doc->sentences[s].tok_end; t++) {
        size_t n;
        const char *p = cl_doc_token_bytes(doc, t, &n);
        h = cl_fnv1a64(h, p, n);
        h = cl_fnv1a64(h, "\x1f", 1);
    }
    return h;
}

static cl_status build_knn(void *ctx, cl_bm25 *ix, cl_error *err)
{
    cl_prompt_builder *b = ctx;
    for (int32_t i = 0; i < b->nsent; i++) {
        const cl_doc *doc = b->p.train->docs[b->sent_doc[i]];
        const cl_sentence *se = &doc->sentences[b->sent_idx[i]];
        char **terms;
        int32_t n;
        cl_status st = cl_doc_terms(doc, se->tok_begin, se->tok_end, &terms, &n, err);
        if (st == CL_OK)
            st = cl_bm25_add(ix, (const char *const *)terms, n, err);
        cl_terms_free(terms, n);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

static cl_status setup_knn(cl_prompt_builder *b, cl_error *err)
{
    const cl_corpus *c = b->p.train;
    int64_t total = c ? cl_corpus_nsentences(c) : 0;
    if (total == 0)
        return cl_error_set(err, CL_ERR_ARG, "knn-shot: the training data has no sentences");
    b->sent_doc = malloc((size_t)total * sizeof *b->sent_doc);
    b->sent_idx = malloc((size_t)total * sizeof *b->sent_idx);
    b->sent_hash = malloc((size_t)total * sizeof *b->sent_hash);
    if (!b->sent_doc || !b->sent_idx || !b->sent_hash)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    /* the cache key covers every input of the index: ids, token texts and
     * sentence boundaries (so a change of tokenizer changes the key) */
    uint64_t key = cl_fnv1a64(CL_FNV64_INIT, "knn-v1", 6);
    for (int32_t d = 0; d < c->ndocs; d++) {
        const cl_doc *doc = c->docs[d];
        if (!doc->tags)
            return cl_error_set(err, CL_ERR_ARG, "knn-shot: training document '%s' has no labels",
                                doc->id ? doc->id : "?");
        key = cl_fnv1a64(key, doc->id ? doc->id : "", doc->id ? strlen(doc->id) + 1 : 1);
        for (int32_t s = 0; s < doc->nsentences; s++) {
            if (doc->sentences[s].tok_end <= doc->sentences[s].tok_begin)
                continue;
            uint64_t h = sentence_hash(doc, s);
            key = cl_fnv1a64(key, &h, sizeof h);
            b->sent_doc[b->nsent] = d;
            b->sent_idx[b->nsent] = s;
            b->sent_hash[b->nsent] = h;
            b->nsent++;
        }
        key = cl_fnv1a64(key, "\x1e", 1);
    }
    if (b->nsent == 0)
        return cl_error_set(err, CL_ERR_ARG, "knn-shot: the training data has no sentences");
    cl_bm25_params bp = cl_bm25_default_params();
    cl_status st = cl_bm25_cached(b->p.cache_dir, key, &bp, build_knn, b, &b->knn, err);
    if (st == CL_OK && cl_bm25_ndocs(b->knn) != b->nsent)
        st = cl_error_set(err, CL_ERR_INTERNAL, "knn-shot: index size mismatch");
    return st;
}

typedef struct knn_exclude {
    const cl_prompt_builder *b;
    const char *doc_id;
    uint64_t hash;
} knn_exclude;

static bool knn_excluded(void *ctx, int32_t i)
{
    knn_exclude *x = ctx;
    if (x->b->sent_hash[i] == x->hash)
        return true;
    const cl_doc *doc = x->b->p.train->docs[x->b->sent_doc[i]];
    return x->doc_id && doc->id && strcmp(doc->id, x->doc_id) == 0;
}

static cl_status add_knn_examples(const cl_prompt_builder *b, const cl_doc *doc, int32_t sent,
                                  cl_prompt *out, cl_error *err)
{
    const cl_sentence *se = &doc->sentences[sent];
    char **terms;
    int32_t nterms;
    cl_status st = cl_doc_terms(doc, se->tok_begin, se->tok_end, &terms, &nterms, err);
    if (st != CL_OK)
        return st;
    int32_t k = b->p.shots, n = 0;
    cl_bm25_hit *hits = malloc(((size_t)k + 1) * sizeof *hits);
    if (!hits) {
        cl_terms_free(terms, nterms);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    knn_exclude x = {b, b->p.exclude_same_doc ? doc->id : NULL, sentence_hash(doc, sent)};
    st = cl_bm25_query(b->knn, (const char *const *)terms, nterms, k, knn_excluded, &x, hits, &n,
                       err);
    cl_terms_free(terms, nterms);
    /* least similar first: the closest example ends up next to the question */
    for (int32_t i = n - 1; i >= 0 && st == CL_OK; i--) {
        const cl_doc *ed = b->p.train->docs[b->sent_doc[hits[i].doc]];
        char *u = NULL, *a = NULL;
        st = render_example(&b->labels, ed, b->sent_idx[hits[i].doc], &u, &a, err);
        if (st == CL_OK)
            st = cl_prompt_add(out, "user", u, err);
        if (st == CL_OK)
            st = cl_prompt_add(out, "assistant", a, err);
        free(u);
        free(a);
    }
    free(hits);
    return st;
}

/* ---- rag ---- */

static cl_status rag_instruction(const cl_prompt_builder *b, const cl_doc *doc, int32_t sent,
                                 cl_buf *out, cl_error *err)
{
    const cl_sentence *se = &doc->sentences[sent];
    char **terms;
    int32_t nterms;
    cl_status st = cl_doc_terms(doc, se->tok_begin, se->tok_end, &terms, &nterms, err);
    if (st != CL_OK)
        return st;
    char *query = NULL;
    if (se->tok_end > se->tok_begin)
        query = cl_doc_span_text(doc, doc->tokens[se->tok_begin].start,
                                 doc->tokens[se->tok_end - 1].end);
    int32_t k = b->p.rag_top_k, n = 0;
    cl_retrieved *hits = malloc(((size_t)k + 1) * sizeof *hits);
    if (!hits || (se->tok_end > se->tok_begin && !query)) {
        free(hits);
        free(query);
        cl_terms_free(terms, nterms);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    st = cl_retriever_top_k(b->p.retriever, query ? query : "", (const char *const *)terms,
                            nterms, b->p.exclude_same_doc ? doc->id : NULL, k, hits, &n, err);
    free(query);
    cl_terms_free(terms, nterms);
    int bad = 0;
    if (st == CL_OK) {
        bad = cl_buf_puts(out, b->instruction);
        if (n > 0)
            bad = bad || cl_buf_puts(out, "\n\nBackground passages from a medical knowledge "
                                          "base, which may help you decide:");
        for (int32_t i = 0; i < n && !bad; i++)
            bad = cl_buf_printf(out, "\n\n[%d] %s", i + 1, hits[i].text);
    }
    free(hits);
    if (st == CL_OK && bad)
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return st;
}

/* ---- the builder ---- */

cl_status cl_prompt_builder_new(const cl_prompt_params *params, cl_prompt_builder **out,
                                cl_error *err)
{
    *out = NULL;
    cl_prompt_params p = params ? *params : cl_prompt_default_params();
    if ((unsigned)p.strategy > CL_STRATEGY_RAG)
        return cl_error_set(err, CL_ERR_ARG, "prompt: unknown strategy %d", (int)p.strategy);
    if ((p.strategy == CL_STRATEGY_FEW_SHOT || p.strategy == CL_STRATEGY_KNN_SHOT) &&
        (p.shots < 1 || p.shots > 1000))
        return cl_error_set(err, CL_ERR_ARG, "prompt: shots must be in 1..1000 (got %d)", p.shots);
    if ((p.strategy == CL_STRATEGY_FEW_SHOT || p.strategy == CL_STRATEGY_KNN_SHOT) && !p.train)
        return cl_error_set(err, CL_ERR_ARG, "prompt: %s needs training data (train)",
                            cl_strategy_name(p.strategy));
    if (p.strategy == CL_STRATEGY_RAG && (!p.retriever || !p.retriever->ops))
        return cl_error_set(err, CL_ERR_ARG, "prompt: rag needs a knowledge base (retriever)");
    if (p.strategy == CL_STRATEGY_RAG && (p.rag_top_k < 1 || p.rag_top_k > 100))
        return cl_error_set(err, CL_ERR_ARG, "prompt: rag top-k must be in 1..100 (got %d)",
                            p.rag_top_k);
    cl_prompt_builder *b = calloc(1, sizeof *b);
    if (!b)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    b->p = p;
    b->p.types = NULL; /* not kept: the label set has copies */
    cl_status st = cl_label_set_init(&b->labels, p.types, p.types ? p.ntypes : 0, err);
    if (st == CL_OK && !(b->instruction = make_instruction(&b->labels)))
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK && p.strategy == CL_STRATEGY_FEW_SHOT)
        st = setup_fewshot(b, err);
    if (st == CL_OK && p.strategy == CL_STRATEGY_KNN_SHOT)
        st = setup_knn(b, err);
    if (st != CL_OK) {
        cl_prompt_builder_free(b);
        return st;
    }
    *out = b;
    return CL_OK;
}

void cl_prompt_builder_free(cl_prompt_builder *b)
{
    if (!b)
        return;
    cl_label_set_free(&b->labels);
    free(b->instruction);
    for (int32_t i = 0; i < b->nfixed; i++) {
        free(b->fixed_user[i]);
        free(b->fixed_assistant[i]);
    }
    free(b->fixed_user);
    free(b->fixed_assistant);
    cl_bm25_free(b->knn);
    free(b->sent_doc);
    free(b->sent_idx);
    free(b->sent_hash);
    free(b);
}

const cl_label_set *cl_prompt_builder_labels(const cl_prompt_builder *b) { return &b->labels; }

cl_strategy cl_prompt_builder_strategy(const cl_prompt_builder *b) { return b->p.strategy; }

cl_status cl_prompt_build(const cl_prompt_builder *b, const cl_doc *doc, int32_t sent,
                          cl_prompt *out, cl_error *err)
{
    cl_prompt_free(out);
    if (sent < 0 || sent >= doc->nsentences)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentence %d out of range (%d sentences)",
                            doc->id ? doc->id : "?", sent, doc->nsentences);
    cl_status st;
    if (b->p.strategy == CL_STRATEGY_RAG) {
        cl_buf sys;
        cl_buf_init(&sys);
        st = rag_instruction(b, doc, sent, &sys, err);
        if (st == CL_OK)
            st = cl_prompt_add(out, "system", sys.data, err);
        cl_buf_free(&sys);
    } else {
        st = cl_prompt_add(out, "system", b->instruction, err);
    }
    for (int32_t i = 0; i < b->nfixed && st == CL_OK; i++) {
        st = cl_prompt_add(out, "user", b->fixed_user[i], err);
        if (st == CL_OK)
            st = cl_prompt_add(out, "assistant", b->fixed_assistant[i], err);
    }
    out->nshared = b->p.strategy == CL_STRATEGY_RAG ? 0 : out->nmessages;
    /* rag's system message starts with the instruction every sentence shares */
    out->shared_bytes = b->p.strategy == CL_STRATEGY_RAG ? strlen(b->instruction) : 0;
    if (st == CL_OK && b->p.strategy == CL_STRATEGY_KNN_SHOT)
        st = add_knn_examples(b, doc, sent, out, err);
    if (st == CL_OK) {
        cl_buf u;
        cl_buf_init(&u);
        st = cl_prompt_tokens_text(doc, doc->sentences[sent].tok_begin,
                                   doc->sentences[sent].tok_end, &u, err);
        if (st == CL_OK)
            st = cl_prompt_add(out, "user", u.data, err);
        cl_buf_free(&u);
    }
    if (st != CL_OK)
        cl_prompt_free(out);
    return st;
}
