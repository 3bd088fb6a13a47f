/*
 * test_session.c - the tagging session (session.h), the one document
 * preparation step (cl_doc_prepare) and the format guesser, on hand-made
 * documents: a CRF trained here on BRAT text written for the test is opened
 * through the session, found as the default model through CLINNER_MODELS,
 * and tags new text into entities with code-point offsets.
 */
#include "testutil.h"

#include "clinner/crf.h"
#include "clinner/session.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

/* Sentences where the disease names are the entities (UTF-8 included). */
static const char *const train_text =
    "Fabry disease causes pain. Gaucher disease causes fatigue. "
    "Pompe disease causes weakness. Fabry disease is rare. "
    "Behçet disease causes ulcers. Gaucher disease is rare.";

static cl_doc *annotated_doc(void)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new("train", train_text, strlen(train_text), &d, &err), CL_OK);
    const char *names[] = {"Fabry disease", "Gaucher disease", "Pompe disease", "Behçet disease"};
    /* every occurrence of each name, in code points */
    for (size_t n = 0; n < 4; n++) {
        const char *p = train_text;
        int k = 0;
        while ((p = strstr(p, names[n]))) {
            int32_t start = cl_text_byte_to_cp(&d->index, (size_t)(p - train_text));
            int32_t end = cl_text_byte_to_cp(&d->index, (size_t)(p - train_text) + strlen(names[n]));
            cl_span sp = {start, end};
            char id[16];
            snprintf(id, sizeof id, "T%zu%d", n, k++);
            assert_int_equal(cl_doc_add_entity(d, id, "RAREDISEASE", &sp, 1, NULL, &err), CL_OK);
            p += strlen(names[n]);
        }
    }
    return d;
}

/* Train a small CRF on the annotated text and save it as dir/NAME. */
static void train_model(const char *dir)
{
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, annotated_doc(), &err), CL_OK);
    cl_prepare_params pp = cl_prepare_default_params();
    assert_int_equal(cl_doc_prepare(c->docs[0], &pp, &err), CL_OK);
    cl_crf_train_params p = cl_crf_train_default_params();
    p.max_iter = 60;
    p.min_count = 1;
    p.threads = 1;
    cl_crf_model *m = NULL;
    assert_int_equal(cl_crf_train(c, NULL, &p, &m, &err), CL_OK);
    assert_int_equal(cl_crf_model_set_meta(m, "tokenizer", "clinical", &err), CL_OK);
    char *path = cl_path_join(dir, CL_DEFAULT_CRF_MODEL);
    assert_int_equal(cl_crf_model_save(m, path, &err), CL_OK);
    free(path);
    cl_crf_model_free(m);
    cl_corpus_free(c);
}

static void test_default_model_session(void **state)
{
    (void)state;
    char dir[] = "/tmp/clinner-session-XXXXXX";
    assert_non_null(mkdtemp(dir));
    train_model(dir);
    setenv("CLINNER_MODELS", dir, 1);
    cl_error err;
    cl_tag_config cfg = cl_tag_config_default();
    cl_tag_session *s = NULL;
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_OK);
    assert_string_equal(cl_tag_session_backend(s), "crf");
    assert_non_null(strstr(cl_tag_session_model(s), dir));
    char *dm = cl_tag_default_model("crf"); /* what --version names */
    assert_non_null(dm);
    assert_string_equal(dm, cl_tag_session_model(s));
    free(dm);
    assert_null(cl_tag_default_model("llama"));
    assert_true(cl_tag_session_reentrant(s));
    assert_int_equal(cl_tag_session_tokenizer(s), CL_TOKENIZER_CLINICAL);
    /* the model's label set (the paper's five types by default) */
    const char *const *types = cl_tag_session_types(s);
    int ntypes = 0, rare = 0;
    for (; types[ntypes]; ntypes++)
        rare |= !strcmp(types[ntypes], "RAREDISEASE");
    assert_int_equal(ntypes, 5);
    assert_true(rare);

    /* new text: "Behçet" puts a 2-byte character before the entity */
    const char *text = "Behçet is here. Fabry disease causes pain.";
    cl_doc *d;
    assert_int_equal(cl_doc_new("x", text, strlen(text), &d, &err), CL_OK);
    assert_int_equal(cl_tag_session_tag_doc(s, d, &err), CL_OK);
    assert_true(d->ntokens > 0);
    int found = 0;
    for (int32_t i = 0; i < d->nentities; i++) {
        char *t = cl_doc_span_text(d, d->entities[i].frags[0].start, d->entities[i].frags[0].end);
        if (!strcmp(t, "Fabry disease") && !strcmp(d->entities[i].type, "RAREDISEASE")) {
            found = 1;
            assert_int_equal(d->entities[i].frags[0].start, 16); /* code points, not bytes */
            assert_true(d->entities[i].confidence > 0.0f && d->entities[i].confidence <= 1.0f);
        }
        free(t);
    }
    assert_true(found);
    cl_doc_free(d);

    /* the fingerprint is canonical: same config, same text; another tokenizer, another */
    char *fp1 = cl_strdup(cl_tag_session_fingerprint(s));
    cl_tag_session_free(s);
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_OK);
    assert_string_equal(cl_tag_session_fingerprint(s), fp1);
    cl_tag_session_free(s);
    cfg.tokenizer = "paper";
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_OK);
    assert_string_not_equal(cl_tag_session_fingerprint(s), fp1);
    assert_int_equal(cl_tag_session_tokenizer(s), CL_TOKENIZER_PAPER);
    cl_tag_session_free(s);
    free(fp1);

    /* a job: text in, jsonl out, with the session's fingerprint and the formats */
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_OK);
    char in[128], out[128];
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    FILE *f = fopen(in, "w");
    fputs("Fabry disease causes pain.", f);
    fclose(f);
    cl_tag_job_params jp = cl_tag_job_default_params();
    jp.input = in;
    jp.from = CL_FORMAT_TEXT;
    jp.out_path = out;
    jp.shard = "3/3";
    cl_tag_job *job = NULL;
    assert_int_equal(cl_tag_job_open(s, &jp, &job, &err), CL_ERR_ARG);
    assert_null(job);
    assert_true(!strncmp(err.msg, "shard: ", 7));
    jp.shard = NULL;
    assert_int_equal(cl_tag_job_open(s, &jp, &job, &err), CL_OK);
    assert_int_equal(cl_tag_job_sentences(job), 1);
    cl_run_summary sum;
    assert_int_equal(cl_tag_job_run(job, NULL, &sum, &err), CL_OK);
    assert_int_equal(sum.documents, 1);
    cl_buf line;
    cl_buf_init(&line);
    assert_int_equal(cl_tag_job_format_summary(job, &sum, &line), CL_OK);
    assert_null(strchr(line.data, '\n')); /* no fleet line */
    cl_buf_free(&line);
    assert_int_equal(cl_tag_job_finish(job, &err), CL_OK);
    cl_tag_job_free(job);
    cl_tag_session_free(s);
    char *got = NULL;
    size_t n;
    assert_int_equal(cl_read_file(out, &got, &n, &err), CL_OK);
    assert_non_null(strstr(got, "Fabry disease"));
    free(got);
    unlink(in);
    unlink(out);

    /* no model where the default is looked for: the error names the field */
    char empty[] = "/tmp/clinner-session-empty-XXXXXX";
    assert_non_null(mkdtemp(empty));
    setenv("CLINNER_MODELS", empty, 1);
    cfg = cl_tag_config_default();
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_ERR_MODEL);
    assert_null(s);
    assert_true(!strncmp(err.msg, "model: ", 7));
    unsetenv("CLINNER_MODELS");
    rmdir(empty);
    char *p = cl_path_join(dir, CL_DEFAULT_CRF_MODEL);
    unlink(p);
    free(p);
    rmdir(dir);
}

static void test_bad_config(void **state)
{
    (void)state;
    cl_error err;
    cl_tag_session *s = (cl_tag_session *)1;
    cl_tag_config cfg = cl_tag_config_default();
    cfg.backend = "nope";
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_ERR_ARG);
    assert_null(s);
    assert_non_null(strstr(err.msg, "backend: unknown backend 'nope'"));
    cfg = cl_tag_config_default();
    cfg.model = "/nonexistent/model.crf";
    assert_int_not_equal(cl_tag_session_open(&cfg, &s, &err), CL_OK);
    assert_non_null(strstr(err.msg, "/nonexistent/model.crf"));
    cfg = cl_tag_config_default();
    cfg.backend = "openai";
    cfg.strategy = "sideways";
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_ERR_ARG);
    assert_true(!strncmp(err.msg, "strategy: ", 10));
    cfg.strategy = "zero-shot";
    cfg.decode = "forced"; /* a server gives no scores to force with */
    assert_int_equal(cl_tag_session_open(&cfg, &s, &err), CL_ERR_ARG);
    assert_true(!strncmp(err.msg, "decode: ", 8));
}

/* Which backends use which fields, and the refusal of the others'. */
static void test_foreign_fields(void **state)
{
    (void)state;
    assert_true(cl_tag_config_field_applies("llama", "ctx_tokens"));
    assert_false(cl_tag_config_field_applies("openai", "ctx_tokens"));
    assert_true(cl_tag_config_field_applies("openai", "strategy"));
    assert_false(cl_tag_config_field_applies("crf", "answers_path"));
    assert_true(cl_tag_config_field_applies("encoder", "model")); /* every backend's */
    cl_error err;
    const char *given[] = {"model", "strategy", NULL, "ctx_tokens"};
    assert_int_equal(cl_tag_config_foreign_field("llama", given, 4, &err), -1);
    /* llama's fields are looked at before the LLM backends' */
    assert_int_equal(cl_tag_config_foreign_field("crf", given, 4, &err), 3);
    assert_string_equal(err.msg, "ctx_tokens is for the llama backend (the crf backend has no "
                                 "prompts)");
    assert_int_equal(cl_tag_config_foreign_field("openai", given, 4, &err), 3);
    assert_non_null(strstr(err.msg, "(the openai backend leaves it to the server)"));
    assert_int_equal(cl_tag_config_foreign_field("encoder", given, 2, &err), 1);
    assert_string_equal(err.msg, "strategy is for the LLM backends (llama, openai), not encoder");
    const char *dense[] = {"dense"};
    assert_int_equal(cl_tag_config_foreign_field("openai", dense, 1, &err), 0);
    assert_string_equal(err.msg, "dense is for the crf backend, not openai");
}

static void test_prepare(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = annotated_doc();
    cl_prepare_params p = cl_prepare_default_params();
    p.gold_tags = false; /* tagging: all O even though the document has entities */
    assert_int_equal(cl_doc_prepare(d, &p, &err), CL_OK);
    assert_true(d->ntokens > 10 && d->nsentences == 6);
    for (int32_t i = 0; i < d->ntokens; i++)
        assert_string_equal(d->tags[i], "O");
    assert_true(d->nentities > 0); /* gold kept as it is */
    cl_doc_free(d);
    d = annotated_doc();
    p.gold_tags = true; /* training / evaluation: the entities' tags */
    assert_int_equal(cl_doc_prepare(d, &p, &err), CL_OK);
    assert_string_equal(d->tags[0], "B-RAREDISEASE");
    assert_string_equal(d->tags[1], "I-RAREDISEASE");
    assert_string_equal(d->tags[2], "O");
    /* a type filter drops the entities of other types */
    static const char *const only_sign[] = {"SIGN"};
    p.types = only_sign;
    p.ntypes = 1;
    assert_int_equal(cl_doc_prepare(d, &p, &err), CL_OK);
    assert_int_equal(d->nentities, 0);
    cl_doc_free(d);
}

static void test_format_guess(void **state)
{
    (void)state;
    char dir[] = "/tmp/clinner-guess-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(cl_format_guess(dir), CL_FORMAT_BRAT);
    assert_int_equal(cl_format_guess("-"), CL_FORMAT_TEXT);
    assert_int_equal(cl_format_guess("a.csv"), CL_FORMAT_PAPER_CSV);
    assert_int_equal(cl_format_guess("a.conll"), CL_FORMAT_CONLL);
    assert_int_equal(cl_format_guess("a.tsv"), CL_FORMAT_CONLL);
    assert_int_equal(cl_format_guess("a.jsonl"), CL_FORMAT_JSONL);
    assert_int_equal(cl_format_guess("a.ann"), CL_FORMAT_BRAT);
    char txt[512], ann[512];
    snprintf(txt, sizeof txt, "%s/doc.txt", dir);
    snprintf(ann, sizeof ann, "%s/doc.ann", dir);
    FILE *f = fopen(txt, "w");
    fputs("x", f);
    fclose(f);
    assert_int_equal(cl_format_guess(txt), CL_FORMAT_TEXT); /* a lone .txt is text */
    f = fopen(ann, "w");
    fclose(f);
    assert_int_equal(cl_format_guess(txt), CL_FORMAT_BRAT); /* with its .ann, a pair */
    unlink(txt);
    unlink(ann);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model_session),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_foreign_fields),
        cmocka_unit_test(test_prepare),
        cmocka_unit_test(test_format_guess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
