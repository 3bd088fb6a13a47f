/* test_llm.c - the llama backend: GGUF checks and bad model files, the
 * answer automaton (what a sentence's grammar allows, greedy choice, the
 * guesses forced decoding feeds), chat formatting, and with the small
 * models from scripts/fetch-models.sh: forced decoding gives exactly the
 * labels of greedy grammar decoding (stories260K on hand-made sentences,
 * SmolLM2 on real dev sentences), output is aligned and BIO-valid, empty
 * and too-long sentences are skipped and counted, and the embedding
 * retriever ranks a passage first for its own text.  Tests that need a
 * model skip when it has not been fetched. */
#include "testutil.h"

#include "clinner/corpus.h"
#include "clinner/prompt.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

#ifdef CL_HAVE_LLAMA
#include "clinner/llm.h"
#include "llm/llm_internal.h"

/* Path of a fetched model ("<cache>/models/<file>"), or NULL (skip). */
static const char *model_path(char *buf, size_t n, const char *file)
{
    const char *cache = getenv("CLINNER_CACHE");
    const char *home = getenv("HOME");
    if (cache && *cache)
        snprintf(buf, n, "%s/models/%s", cache, file);
    else
        snprintf(buf, n, "%s/.cache/clinner/models/%s", home ? home : ".", file);
    struct stat st;
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (run scripts/fetch-models.sh)\n", buf);
        return NULL;
    }
    return buf;
}

#define REQUIRE_MODEL(var, file)                                      \
    char var##_buf[4096];                                             \
    const char *var = model_path(var##_buf, sizeof var##_buf, file);  \
    if (!var)                                                         \
        skip()

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

/* ---- GGUF checks ---- */

static void test_gguf_check(void **state)
{
    (void)state;
    cl_error err;
    char dir[] = "/tmp/clinner-llm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];

    snprintf(path, sizeof path, "%s/missing.gguf", dir);
    assert_int_equal(cl_gguf_check(path, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "missing.gguf"));
    assert_non_null(strstr(err.msg, "cannot open"));

    snprintf(path, sizeof path, "%s/short.gguf", dir);
    write_file(path, "GGU", 3);
    assert_int_equal(cl_gguf_check(path, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "too short"));

    snprintf(path, sizeof path, "%s/text.gguf", dir);
    write_file(path, "hello, world\n", 13);
    assert_int_equal(cl_gguf_check(path, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "not a GGUF model"));

    snprintf(path, sizeof path, "%s/v9.gguf", dir);
    write_file(path, "GGUF\x09\0\0\0", 8);
    assert_int_equal(cl_gguf_check(path, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "version 9"));

    snprintf(path, sizeof path, "%s/ok.gguf", dir);
    write_file(path, "GGUF\x03\0\0\0", 8);
    assert_int_equal(cl_gguf_check(path, &err), CL_OK);
    remove(path);

    /* right header, corrupt body: llama.cpp refuses it, we report it */
    snprintf(path, sizeof path, "%s/corrupt.gguf", dir);
    char junk[4096];
    memset(junk, 0xA5, sizeof junk);
    memcpy(junk, "GGUF\x03\0\0\0", 8);
    write_file(path, junk, sizeof junk);
    cl_llama_model *m = NULL;
    assert_int_equal(cl_llama_model_load(path, false, &m, &err), CL_ERR_MODEL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "could not load"));

    /* the tagger reports the same, and frees what it made */
    cl_prompt_params pp = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    cl_llama_params lp = cl_llama_default_params();
    lp.model_path = path;
    cl_tagger t;
    assert_int_equal(cl_llama_tagger_new(&lp, b, &t, &err), CL_ERR_MODEL);
    assert_null(t.ops);
    snprintf(path, sizeof path, "%s/missing.gguf", dir);
    lp.model_path = path;
    assert_int_equal(cl_llama_tagger_new(&lp, b, &t, &err), CL_ERR_MODEL);
    assert_non_null(strstr(err.msg, "missing.gguf"));
    lp.n_parallel = 0;
    assert_int_equal(cl_llama_tagger_new(&lp, b, &t, &err), CL_ERR_ARG);
    lp = cl_llama_default_params();
    lp.temperature = 0.5f; /* forced decoding is greedy */
    assert_int_equal(cl_llama_tagger_new(&lp, b, &t, &err), CL_ERR_ARG);
    cl_prompt_builder_free(b);
    remove(path);
    snprintf(path, sizeof path, "%s/short.gguf", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/text.gguf", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/v9.gguf", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/corrupt.gguf", dir);
    remove(path);
    rmdir(dir);
}

static void test_default_path(void **state)
{
    (void)state;
    char buf[4096];
    cl_error err;
    assert_int_equal(cl_llama_default_model_path(buf, sizeof buf, &err), CL_OK);
    assert_non_null(strstr(buf, "/models/" CL_LLAMA_DEFAULT_MODEL_FILE));
    char tiny[8];
    assert_int_equal(cl_llama_default_model_path(tiny, sizeof tiny, &err), CL_ERR_ARG);
    cl_llama_params p = cl_llama_default_params();
    assert_int_equal(p.decode, CL_DECODE_FORCED);
    assert_true(p.n_ctx >= 2048);
    assert_true(p.n_parallel >= 1);
}

/* ---- the answer automaton ---- */

static void test_fsm(void **state)
{
    (void)state;
    cl_error err;
    cl_label_set ls;
    assert_int_equal(cl_label_set_init(&ls, NULL, 0, &err), CL_OK);
    const char *toks[] = {"Fever", "a:b", "\xc3\xa9t\xc3\xa9"};
    cl_fsm_sentence s;
    assert_int_equal(cl_fsm_sentence_init(&s, &ls, toks, NULL, 3, &err), CL_OK);
    int32_t labels[3] = {-1, -1, -1};
    cl_fsm f;
    cl_fsm_start(&f);
    cl_buf g;
    cl_buf_init(&g);

    /* the first choice: the trailing space is left to the chosen label */
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, NULL, &g, &err), CL_OK);
    assert_string_equal(g.data, "Fever :");

    /* I-X cannot start a sentence; anything but the token text is refused */
    cl_fsm t = f;
    assert_false(cl_fsm_advance(&s, &t, "Fever : I", 9, labels));
    assert_false(cl_fsm_advance(&s, &t, "Fevers", 6, labels));
    assert_false(cl_fsm_advance(&s, &t, "Fever : X", 9, labels));
    assert_memory_equal(&t, &f, sizeof t);

    assert_true(cl_fsm_advance(&s, &f, "Fever : B", 9, labels));
    assert_int_equal(f.line, 0);
    assert_int_equal(f.phase, 1);
    /* all B- labels share "-" */
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, NULL, &g, &err), CL_OK);
    assert_string_equal(g.data, "-");
    assert_true(cl_fsm_advance(&s, &f, "-SIG", 4, labels));
    /* one label left: the guess runs to the next choice */
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, NULL, &g, &err), CL_OK);
    assert_string_equal(g.data, "N\na:b :");
    assert_true(cl_fsm_advance(&s, &f, "N\na:b : I-SIGN\n", 15, labels));
    assert_int_equal(labels[0], cl_label_set_find(&ls, "B-SIGN"));
    assert_int_equal(labels[1], cl_label_set_find(&ls, "I-SIGN"));
    assert_int_equal(f.line, 2);
    /* after I-SIGN: I-DISEASE is not allowed, I-SIGN is */
    t = f;
    assert_false(cl_fsm_advance(&s, &t, "\xc3\xa9t\xc3\xa9 : I-D", 11, NULL));
    /* a partial UTF-8 sequence matches as a byte prefix */
    assert_true(cl_fsm_advance(&s, &f, "\xc3", 1, labels));
    assert_true(cl_fsm_advance(&s, &f, "\xa9t\xc3\xa9 : O\n", 9, labels));
    assert_true(cl_fsm_done(&s, &f));
    assert_int_equal(labels[2], 0);
    assert_false(cl_fsm_advance(&s, &f, "x", 1, labels));
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, NULL, &g, &err), CL_OK);
    assert_string_equal(g.data, "");

    /* speculation: a whole label is guessed at a label's start and the guess
     * goes on; a guess not allowed after the previous label stops it */
    int32_t spec[11];
    for (int32_t i = 0; i < 11; i++)
        spec[i] = 0; /* O after anything */
    cl_fsm_start(&f);
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, spec, &g, &err), CL_OK);
    assert_string_equal(g.data, "Fever : O\na:b : O\n\xc3\xa9t\xc3\xa9 : O\n");
    int32_t isign = cl_label_set_find(&ls, "I-SIGN");
    spec[0] = isign; /* I-SIGN cannot start a sentence: a plain stop */
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, spec, &g, &err), CL_OK);
    assert_string_equal(g.data, "Fever :");
    spec[0] = cl_label_set_find(&ls, "B-SIGN");
    spec[spec[0] + 1] = isign;
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, spec, &g, &err), CL_OK);
    /* after I-SIGN spec says O */
    assert_string_equal(g.data, "Fever : B-SIGN\na:b : I-SIGN\n\xc3\xa9t\xc3\xa9 : O\n");
    /* inside a label (after " B") there is no speculation */
    assert_true(cl_fsm_advance(&s, &f, "Fever : B", 9, labels));
    assert_int_equal(cl_fsm_guess_text(&s, &f, 1000, spec, &g, &err), CL_OK);
    assert_string_equal(g.data, "-");
    /* the byte budget is respected (roughly: whole parts) */
    cl_fsm_start(&f);
    spec[0] = 0;
    assert_int_equal(cl_fsm_guess_text(&s, &f, 5, spec, &g, &err), CL_OK);
    assert_true(g.len < 20);

    /* empty tokens are refused */
    const char *bad[] = {"a", ""};
    cl_fsm_sentence s2;
    assert_int_equal(cl_fsm_sentence_init(&s2, &ls, bad, NULL, 2, &err), CL_ERR_ARG);

    cl_buf_free(&g);
    cl_fsm_sentence_free(&s);
    cl_label_set_free(&ls);
}

/* ---- with models ---- */

/* A hand-made document: three sentences, the second empty. */
static cl_doc *make_doc(void)
{
    static const char text[] = "Fever and rash are common in Fabry disease . "
                               "Patients with ACTH deficiency feel tired .";
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new("fixture", text, sizeof text - 1, &d, &err), CL_OK);
    int32_t at = 0, n = (int32_t)strlen(text), ntok = 0;
    while (at < n) {
        int32_t e = at;
        while (e < n && text[e] != ' ')
            e++;
        assert_int_equal(cl_doc_push_token(d, at, e, &err), CL_OK);
        ntok++;
        at = e + 1;
    }
    assert_int_equal(cl_doc_push_sentence(d, 0, 9, &err), CL_OK);
    assert_int_equal(cl_doc_push_sentence(d, 9, 9, &err), CL_OK); /* empty */
    assert_int_equal(cl_doc_push_sentence(d, 9, ntok, &err), CL_OK);
    return d;
}

static void assert_bio_valid(const cl_label_set *ls, const cl_doc *d)
{
    for (int32_t s = 0; s < d->nsentences; s++) {
        int32_t prev = -1;
        for (int32_t t = d->sentences[s].tok_begin; t < d->sentences[s].tok_end; t++) {
            int32_t l = cl_label_set_find(ls, d->tags[t]);
            assert_true(l >= 0);
            assert_true(cl_label_valid_after(ls, prev, l));
            prev = l;
        }
    }
}

typedef struct logbuf {
    int n;          /* messages but the chat-template note */
    int no_template; /* "no chat template" notes (stories260K has none) */
    char last[1024];
} logbuf;

static void log_to(void *ctx, const char *msg)
{
    logbuf *lb = ctx;
    if (strstr(msg, "has no chat template llama.cpp can apply")) {
        lb->no_template++;
        return;
    }
    lb->n++;
    snprintf(lb->last, sizeof lb->last, "%s", msg);
}

/* Tag doc with model under decode; returns the stats (and the engine's in
 * *ls when not NULL). */
static cl_tagger_stats run_tagger_ls(const char *model, const cl_prompt_builder *b,
                                     cl_decode decode, int32_t n_parallel, int32_t n_ctx,
                                     cl_doc *d, logbuf *lb, cl_llama_stats *ls)
{
    cl_error err;
    cl_llama_params p = cl_llama_default_params();
    p.model_path = model;
    p.decode = decode;
    p.n_parallel = n_parallel;
    p.n_threads = 1;
    if (n_ctx > 0)
        p.n_ctx = n_ctx;
    p.log = log_to;
    p.log_ctx = lb;
    cl_tagger t;
    cl_status st = cl_llama_tagger_new(&p, b, &t, &err);
    if (st != CL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CL_OK);
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    st = cl_tagger_tag_doc(&t, d, &err);
    if (st != CL_OK)
        fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, CL_OK);
    if (decode == CL_DECODE_GRAMMAR) {
        /* the grammar's answer is the last sentence's lines, exactly */
        const cl_sentence *se = &d->sentences[d->nsentences - 1];
        cl_buf want;
        cl_buf_init(&want);
        for (int32_t i = se->tok_begin; i < se->tok_end; i++) {
            size_t nb;
            const char *tb = cl_doc_token_bytes(d, i, &nb);
            assert_int_equal(cl_answer_line(&want, tb, nb, d->tags[i], &err), CL_OK);
        }
        assert_string_equal(cl_llama_tagger_last_answer(&t), want.data);
        cl_buf_free(&want);
    }
    cl_tagger_stats s;
    cl_tagger_get_stats(&t, &s);
    if (ls)
        cl_llama_tagger_stats(&t, ls);
    cl_tagger_free(&t);
    return s;
}

static cl_tagger_stats run_tagger(const char *model, const cl_prompt_builder *b, cl_decode decode,
                                  int32_t n_parallel, int32_t n_ctx, cl_doc *d, logbuf *lb)
{
    return run_tagger_ls(model, b, decode, n_parallel, n_ctx, d, lb, NULL);
}

static char **copy_tags(const cl_doc *d)
{
    char **c = calloc((size_t)d->ntokens, sizeof *c);
    for (int32_t i = 0; i < d->ntokens; i++)
        c[i] = cl_strdup(d->tags[i]);
    return c;
}

static void free_tags(char **c, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        free(c[i]);
    free(c);
}

static void test_stories_forced_equals_grammar(void **state)
{
    (void)state;
    REQUIRE_MODEL(model, "stories260K.gguf");
    cl_error err;
    cl_prompt_params pp = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    const cl_label_set *ls = cl_prompt_builder_labels(b);
    cl_doc *d = make_doc();
    logbuf lb = {0};

    cl_tagger_stats g = run_tagger(model, b, CL_DECODE_GRAMMAR, 1, 0, d, &lb);
    assert_bio_valid(ls, d);
    char **gt = copy_tags(d);
    assert_int_equal(g.sentences, 2);
    assert_int_equal(g.skipped, 1); /* the empty sentence */
    assert_int_equal(g.misaligned, 0);
    assert_int_equal(g.tokens, d->ntokens);

    for (int32_t par = 1; par <= 4; par += 3) {
        cl_tagger_stats f = run_tagger(model, b, CL_DECODE_FORCED, par, 0, d, &lb);
        assert_bio_valid(ls, d);
        for (int32_t i = 0; i < d->ntokens; i++)
            assert_string_equal(d->tags[i], gt[i]);
        assert_int_equal(f.sentences, 2);
        assert_int_equal(f.skipped, 1);
        assert_int_equal(f.generated_tokens, g.generated_tokens);
    }

    /* free decoding runs and is read back the paper's way */
    cl_tagger_stats fr = run_tagger(model, b, CL_DECODE_FREE, 2, 0, d, &lb);
    assert_int_equal(fr.sentences, 2);
    assert_true(fr.misaligned <= 2);
    assert_int_equal(lb.n, 0);
    /* stories260K has no chat template: each tagger says so, once */
    assert_int_equal(lb.no_template, 4);

    /* a context too small for the prompt: logged, skipped, left O */
    cl_tagger_stats sk = run_tagger(model, b, CL_DECODE_FORCED, 1, 128, d, &lb);
    assert_int_equal(sk.skipped, 3);
    assert_int_equal(sk.sentences, 0);
    assert_int_equal(lb.n, 2);
    assert_non_null(strstr(lb.last, "do not fit the context of 128 tokens"));
    for (int32_t i = 0; i < d->ntokens; i++)
        assert_string_equal(d->tags[i], "O");

    free_tags(gt, d->ntokens);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
}

/* rag prompts share their instruction, the start of the system message
 * before this sentence's passages: its KV cache is reused, and forced
 * decoding still gives grammar decoding's labels. */
static void test_stories_rag_shared_instruction(void **state)
{
    (void)state;
    REQUIRE_MODEL(model, "stories260K.gguf");
    cl_error err;
    cl_kb *kb = NULL;
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    const char *passages[] = {"Fabry disease causes pain and rash in the hands .",
                              "A dog ran in the park with a cat ."};
    for (int i = 0; i < 2; i++) {
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        cl_doc *p;
        assert_int_equal(cl_doc_new(id, passages[i], strlen(passages[i]), &p, &err), CL_OK);
        assert_int_equal(cl_tokenize_doc(p, CL_TOKENIZER_PAPER, &err), CL_OK);
        assert_int_equal(cl_kb_add_doc(kb, p, 512, &err), CL_OK);
        cl_doc_free(p);
    }
    cl_retriever r;
    assert_int_equal(cl_bm25_retriever_new(kb, NULL, &r, &err), CL_OK);
    cl_prompt_params pp = cl_prompt_default_params();
    pp.strategy = CL_STRATEGY_RAG;
    pp.retriever = &r;
    pp.rag_top_k = 1;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    static const char text[] = "Fever and rash in Fabry disease . Fabry disease hurts the hands . "
                               "The dog ran in the park .";
    cl_doc *d;
    assert_int_equal(cl_doc_new("rag", text, sizeof text - 1, &d, &err), CL_OK);
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    assert_int_equal(d->nsentences, 3);

    /* the instruction alone, in model tokens */
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_build(b, d, 0, &pr, &err), CL_OK);
    assert_int_equal(pr.nshared, 0);
    assert_true(pr.shared_bytes > 100);
    assert_non_null(strstr(pr.messages[0].content, "Background passages"));
    assert_true(strstr(pr.messages[0].content, "Background passages") - pr.messages[0].content >
                (ptrdiff_t)pr.shared_bytes - 1);
    cl_llama_model *m = NULL;
    assert_int_equal(cl_llama_model_load(model, false, &m, &err), CL_OK);
    llama_token *tok;
    int32_t ninstr;
    assert_int_equal(cl_llm_tokenize(m, pr.messages[0].content, pr.shared_bytes, false, false,
                                     &tok, &ninstr, &err),
                     CL_OK);
    free(tok);
    cl_llama_model_free(m);
    cl_prompt_free(&pr);

    logbuf lb = {0};
    cl_llama_stats gs, fs;
    cl_tagger_stats g = run_tagger_ls(model, b, CL_DECODE_GRAMMAR, 1, 0, d, &lb, &gs);
    assert_int_equal(g.sentences, 3);
    assert_int_equal(g.misaligned, 0);
    char **gt = copy_tags(d);
    for (int32_t par = 1; par <= 4; par += 3) {
        cl_tagger_stats f = run_tagger_ls(model, b, CL_DECODE_FORCED, par, 0, d, &lb, &fs);
        assert_int_equal(f.sentences, 3);
        for (int32_t i = 0; i < d->ntokens; i++)
            assert_string_equal(d->tags[i], gt[i]);
        assert_int_equal(fs.reused_tokens, gs.reused_tokens);
        assert_int_equal(f.cached_prompt_tokens, fs.reused_tokens);
    }
    assert_int_equal(g.cached_prompt_tokens, gs.reused_tokens);
    /* every sentence starts from the instruction's cache (give or take the
     * tokens at its end, which the template may merge with what follows) */
    assert_true(gs.reused_tokens >= 3 * (ninstr - 3));
    assert_int_equal(lb.n, 0);
    free_tags(gt, d->ntokens);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
    cl_retriever_free(&r);
}

static void test_chat_format(void **state)
{
    (void)state;
    REQUIRE_MODEL(stories, "stories260K.gguf");
    cl_error err;
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_add(&pr, "system", "Label tokens.", &err), CL_OK);
    assert_int_equal(cl_prompt_add(&pr, "user", "Fever", &err), CL_OK);
    cl_buf out;
    cl_buf_init(&out);
    cl_llama_model *m = NULL;
    assert_int_equal(cl_llama_model_load(stories, false, &m, &err), CL_OK);
    assert_false(cl_llama_model_has_template(m)); /* stories260K has none */
    assert_int_equal(cl_llama_chat_format(m, &pr, 2, true, &out, &err), CL_OK);
    assert_string_equal(out.data,
                        "### System:\nLabel tokens.\n\n### User:\nFever\n\n### Assistant:\n");
    assert_int_equal(cl_llama_chat_format(m, &pr, 1, false, &out, &err), CL_OK);
    assert_string_equal(out.data, "### System:\nLabel tokens.\n\n");
    /* another template by name (--chat-template), then back to plain */
    assert_int_equal(cl_llama_model_set_template(m, "chatml", &err), CL_OK);
    assert_true(cl_llama_model_has_template(m));
    assert_int_equal(cl_llama_chat_format(m, &pr, 2, true, &out, &err), CL_OK);
    assert_string_equal(out.data, "<|im_start|>system\nLabel tokens.<|im_end|>\n"
                                  "<|im_start|>user\nFever<|im_end|>\n"
                                  "<|im_start|>assistant\n");
    assert_int_equal(cl_llama_model_set_template(m, "no-such-template", &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "'no-such-template' is not one llama.cpp can apply"));
    assert_non_null(strstr(err.msg, "gemma"));
    assert_true(cl_llama_model_has_template(m)); /* unchanged by the refusal */
    assert_int_equal(cl_llama_model_set_template(m, CL_LLAMA_PLAIN_TEMPLATE_NAME, &err), CL_OK);
    assert_false(cl_llama_model_has_template(m));
    assert_int_equal(cl_llama_chat_format(m, &pr, 1, false, &out, &err), CL_OK);
    assert_string_equal(out.data, "### System:\nLabel tokens.\n\n");
    cl_llama_model_free(m);

    char sbuf[4096];
    const char *smol = model_path(sbuf, sizeof sbuf, CL_LLAMA_DEFAULT_MODEL_FILE);
    if (smol) {
        assert_int_equal(cl_llama_model_load(smol, false, &m, &err), CL_OK);
        assert_true(cl_llama_model_has_template(m));
        assert_int_equal(cl_llama_chat_format(m, &pr, 2, true, &out, &err), CL_OK);
        assert_string_equal(out.data, "<|im_start|>system\nLabel tokens.<|im_end|>\n"
                                      "<|im_start|>user\nFever<|im_end|>\n"
                                      "<|im_start|>assistant\n");
        cl_llama_model_free(m);
    }
    cl_buf_free(&out);
    cl_prompt_free(&pr);
}

static int cmp_token(const void *a, const void *b)
{
    llama_token x = *(const llama_token *)a, y = *(const llama_token *)b;
    return (x > y) - (x < y);
}

/* The walk of the piece table finds exactly the tokens cl_fsm_allows
 * accepts (the grammar sampler's rules) in every state along an answer,
 * and cl_fsm_greedy picks the first max among them, ties included. */
static void check_allowed_walk(const char *path)
{
    cl_error err;
    cl_llama_model *m = NULL;
    assert_int_equal(cl_llama_model_load(path, false, &m, &err), CL_OK);
    assert_int_equal(cl_llm_pieces(m, &err), CL_OK);
    cl_label_set ls;
    assert_int_equal(cl_label_set_init(&ls, NULL, 0, &err), CL_OK);
    const char *toks[] = {"Fever", "a:b", "\xc3\xa9t\xc3\xa9", "ACTH", "(", "deficiency", "."};
    const char *labs[] = {"B-SIGN", "I-SIGN", "O", "B-RAREDISEASE", "I-RAREDISEASE",
                          "I-RAREDISEASE", "O"};
    cl_fsm_sentence s;
    assert_int_equal(cl_fsm_sentence_init(&s, &ls, toks, NULL, 7, &err), CL_OK);
    cl_buf ans;
    cl_buf_init(&ans);
    for (int i = 0; i < 7; i++)
        assert_int_equal(cl_buf_printf(&ans, "%s : %s\n", toks[i], labs[i]), 0);
    int32_t nv = m->n_vocab;
    llama_token *walked = malloc((size_t)nv * sizeof *walked);
    llama_token *brute = malloc((size_t)nv * sizeof *brute);
    float *lg = malloc((size_t)nv * sizeof *lg);
    assert_true(walked && brute && lg);
    uint32_t rng = 12345;
    int choices = 0;
    cl_fsm f;
    cl_fsm_start(&f);
    for (size_t at = 0; at <= ans.len; at++) {
        int32_t nb = 0;
        for (llama_token t = 0; t < nv; t++)
            if (cl_fsm_allows(m, &s, &f, t))
                brute[nb++] = t;
        int32_t nw = cl_fsm_allowed(m, &s, &f, walked, nv);
        assert_int_equal(nw, nb);
        qsort(walked, (size_t)nw, sizeof *walked, cmp_token);
        assert_memory_equal(walked, brute, (size_t)nb * sizeof *brute);
        assert_true(nb >= 1);
        if (nb > 1)
            choices++;
        for (int trial = 0; trial < 4; trial++) {
            /* few distinct values, so ties happen; trial 0 favours an
             * allowed token, the others usually a refused one */
            for (int32_t t = 0; t < nv; t++) {
                rng = rng * 1664525u + 1013904223u;
                lg[t] = (float)(rng >> 29);
            }
            if (trial == 0)
                lg[brute[nb - 1]] = 9.0f;
            llama_token want = -1;
            for (int32_t i = 0; i < nb; i++)
                if (want < 0 || lg[brute[i]] > lg[want])
                    want = brute[i];
            assert_int_equal(cl_fsm_greedy(m, &s, &f, lg), want);
        }
        if (at < ans.len)
            assert_true(cl_fsm_advance(&s, &f, ans.data + at, 1, NULL));
    }
    assert_true(cl_fsm_done(&s, &f));
    /* many states offer more than one token (tokenizations, labels) */
    assert_true(choices > (int)ans.len / 4);
    free(walked);
    free(brute);
    free(lg);
    cl_buf_free(&ans);
    cl_fsm_sentence_free(&s);
    cl_label_set_free(&ls);
    cl_llama_model_free(m);
}

static void test_allowed_walk_stories(void **state)
{
    (void)state;
    REQUIRE_MODEL(model, "stories260K.gguf");
    check_allowed_walk(model);
}

static void test_allowed_walk_smollm2(void **state)
{
    (void)state;
    REQUIRE_MODEL(model, CL_LLAMA_DEFAULT_MODEL_FILE);
    check_allowed_walk(model);
}

/* SmolLM2 on real dev sentences: forced == greedy grammar, label for label. */
static void test_smollm2_forced_equals_grammar(void **state)
{
    (void)state;
    REQUIRE_MODEL(model, CL_LLAMA_DEFAULT_MODEL_FILE);
    REQUIRE_SHARED(dev, "data/raredis/dev");
    cl_error err;
    char txt[4200];
    snprintf(txt, sizeof txt, "%s/Acanthosis-Nigricans.txt", dev);
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    if (cl_corpus_read(c, CL_FORMAT_BRAT, txt, &err) != CL_OK || c->ndocs != 1) {
        cl_corpus_free(c);
        skip();
    }
    cl_doc *d = c->docs[0];
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    if (d->nsentences > 3)
        d->nsentences = 3; /* keep the test short */
    cl_prompt_params pp = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    logbuf lb = {0};
    cl_tagger_stats g = run_tagger(model, b, CL_DECODE_GRAMMAR, 1, 0, d, &lb);
    char **gt = copy_tags(d);
    cl_tagger_stats f = run_tagger(model, b, CL_DECODE_FORCED, 2, 0, d, &lb);
    int32_t ntok = d->sentences[d->nsentences - 1].tok_end;
    for (int32_t i = 0; i < ntok; i++)
        assert_string_equal(d->tags[i], gt[i]);
    assert_int_equal(g.misaligned, 0);
    assert_int_equal(f.skipped, 0);
    assert_int_equal(lb.no_template, 0); /* SmolLM2 brings its own */
    assert_bio_valid(cl_prompt_builder_labels(b), d);
    free_tags(gt, d->ntokens);
    cl_prompt_builder_free(b);
    cl_corpus_free(c);
}

static void test_embed_retriever(void **state)
{
    (void)state;
    REQUIRE_MODEL(model, "stories260K.gguf");
    cl_error err;
    cl_kb *kb = NULL;
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK);
    const char *texts[] = {"The cat sat on the mat .", "Fever and rash in Fabry disease .",
                           "A dog ran in the park ."};
    const char *ids[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) {
        cl_doc *d;
        assert_int_equal(cl_doc_new(ids[i], texts[i], strlen(texts[i]), &d, &err), CL_OK);
        assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
        assert_int_equal(cl_kb_add_doc(kb, d, 512, &err), CL_OK);
        cl_doc_free(d);
    }
    char dir[] = "/tmp/clinner-emb-XXXXXX";
    assert_non_null(mkdtemp(dir));
    cl_llama_embed_params ep = cl_llama_embed_default_params();
    ep.model_path = model;
    ep.cache_dir = dir;
    ep.n_threads = 1;
    for (int round = 0; round < 2; round++) { /* the second loads the cache */
        cl_retriever r;
        cl_kb *k2 = NULL;
        assert_int_equal(cl_kb_new(&k2, &err), CL_OK);
        for (int32_t i = 0; i < kb->npassages; i++) {
            cl_doc *d;
            assert_int_equal(cl_doc_new(kb->passages[i].doc_id, kb->passages[i].text,
                                        strlen(kb->passages[i].text), &d, &err),
                             CL_OK);
            assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
            assert_int_equal(cl_kb_add_doc(k2, d, 512, &err), CL_OK);
            cl_doc_free(d);
        }
        assert_int_equal(cl_llama_embed_retriever_new(&ep, k2, &r, &err), CL_OK);
        cl_retrieved hits[3];
        int32_t n;
        for (int i = 0; i < 3; i++) {
            assert_int_equal(cl_retriever_top_k(&r, texts[i], NULL, 0, NULL, 3, hits, &n, &err),
                             CL_OK);
            assert_int_equal(n, 3);
            assert_string_equal(hits[0].doc_id, ids[i]);
            assert_true(hits[0].score > 0.999 && hits[0].score < 1.001);
            assert_true(hits[0].score >= hits[1].score && hits[1].score >= hits[2].score);
        }
        assert_int_equal(cl_retriever_top_k(&r, texts[1], NULL, 0, "b", 2, hits, &n, &err),
                         CL_OK);
        assert_int_equal(n, 2);
        assert_string_not_equal(hits[0].doc_id, "b");
        assert_string_not_equal(hits[1].doc_id, "b");
        cl_retriever_free(&r);
    }
    cl_kb_free(kb);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);

    /* a missing model is a model error */
    ep.model_path = "/nonexistent/model.gguf";
    cl_retriever r;
    assert_int_equal(cl_kb_new(&kb, &err), CL_OK); /* (the retriever frees it, even on failure) */
    assert_int_equal(cl_llama_embed_retriever_new(&ep, kb, &r, &err), CL_ERR_MODEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf_check),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_fsm),
        cmocka_unit_test(test_chat_format),
        cmocka_unit_test(test_allowed_walk_stories),
        cmocka_unit_test(test_allowed_walk_smollm2),
        cmocka_unit_test(test_stories_forced_equals_grammar),
        cmocka_unit_test(test_stories_rag_shared_instruction),
        cmocka_unit_test(test_embed_retriever),
        cmocka_unit_test(test_smollm2_forced_equals_grammar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else

static void test_no_llama(void **state)
{
    (void)state;
    fprintf(stderr, "SKIP: built without llama.cpp\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_llama)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
