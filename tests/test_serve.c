/*
 * test_serve.c - the parts of `clinner serve` and of `clinner eval --html`
 * that need no socket: the POST /v1/tag body parser (both forms, ids,
 * tokenizer, and a message naming the problem for each kind of bad body),
 * the Prometheus text of the counters, and the HTML report of a hand-made
 * scoring (its chart, the paper average, the confusion cells and the
 * highlighted examples, all counted by hand below).
 */
#include "testutil.h"

#include "clinner/eval.h"
#include "clinner/serve.h"
#include "serve/serve_internal.h"

static cl_tag_request parse_ok(const char *body)
{
    cl_tag_request r;
    cl_error err;
    cl_error_clear(&err);
    cl_status st = cl_tag_request_parse(body, strlen(body), 10, &r, &err);
    if (st != CL_OK)
        fail_msg("'%s' refused: %s", body, err.msg);
    return r;
}

/* The body is refused with code and a message containing want. */
static void parse_bad(const char *body, size_t n, cl_status code, const char *want)
{
    cl_tag_request r;
    cl_error err;
    cl_error_clear(&err);
    cl_status st = cl_tag_request_parse(body, n, 3, &r, &err);
    if (st == CL_OK)
        fail_msg("'%.*s' accepted", (int)n, body);
    if (st != code || !strstr(err.msg, want))
        fail_msg("'%.*s': got %d '%s', want %d containing '%s'", (int)n, body, st, err.msg, code,
                 want);
    assert_null(r.docs);
}

static void test_request_text(void **state)
{
    (void)state;
    /* UTF-8 text: its code points, not bytes, are what offsets count */
    cl_tag_request r = parse_ok("{\"text\": \"Fabry disease \\u00e9 \xf0\x9f\x98\x80 pain\"}");
    assert_int_equal(r.docs->ndocs, 1);
    assert_string_equal(r.docs->docs[0]->id, "text");
    assert_string_equal(r.docs->docs[0]->text, "Fabry disease \xc3\xa9 \xf0\x9f\x98\x80 pain");
    assert_int_equal(r.docs->docs[0]->index.nchars, 22);
    assert_false(r.has_tokenizer);
    assert_int_equal(r.docs->docs[0]->ntokens, 0);
    cl_tag_request_free(&r);
}

static void test_request_documents(void **state)
{
    (void)state;
    cl_tag_request r = parse_ok("{\"documents\": [{\"id\": \"a\", \"text\": \"x\"}, {\"text\": \"y\"},"
                                " {\"id\": 42, \"text\": \"\"}], \"tokenizer\": \"paper\"}");
    assert_int_equal(r.docs->ndocs, 3);
    assert_string_equal(r.docs->docs[0]->id, "a");
    assert_string_equal(r.docs->docs[1]->id, "2"); /* its position */
    assert_string_equal(r.docs->docs[2]->id, "42");
    assert_string_equal(r.docs->docs[2]->text, "");
    assert_true(r.has_tokenizer);
    assert_int_equal(r.tokenizer, CL_TOKENIZER_PAPER);
    cl_tag_request_free(&r);
}

static void test_request_errors(void **state)
{
    (void)state;
    const char *s;
    parse_bad("{\"text\": ", 9, CL_ERR_PARSE, "invalid JSON near byte");
    parse_bad("", 0, CL_ERR_PARSE, "invalid JSON");
    s = "{\"text\": \"a\"} x";
    parse_bad(s, strlen(s), CL_ERR_PARSE, "unexpected text after the object at byte 14");
    s = "{\"text\": \"caf\xc3\"}";
    parse_bad(s, strlen(s), CL_ERR_UTF8, "invalid UTF-8 at byte 13");
    s = "[1, 2]";
    parse_bad(s, strlen(s), CL_ERR_ARG, "expected a JSON object");
    s = "{\"txt\": \"a\"}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field txt: unknown");
    s = "{}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field text or documents: missing");
    s = "{\"text\": 3}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field text: expected a string");
    s = "{\"text\": \"a\", \"documents\": []}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "not both");
    s = "{\"documents\": {}}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents: expected an array");
    s = "{\"documents\": []}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents: empty");
    s = "{\"documents\": [{\"text\": \"a\"}, 7]}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents[1]: expected an object");
    s = "{\"documents\": [{\"text\": \"a\"}, {\"id\": \"b\"}]}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents[1].text: missing");
    s = "{\"documents\": [{\"text\": \"a\", \"id\": [1]}]}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents[0].id: expected a string or an integer");
    s = "{\"documents\": [{\"text\": \"a\", \"id\": 1.5}]}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents[0].id");
    s = "{\"documents\": [{\"text\": \"a\", \"lang\": \"en\"}]}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field documents[0].lang: unknown");
    s = "{\"documents\": [{\"text\": \"a\"}, {\"text\": \"a\"}, {\"text\": \"a\"}, {\"text\": \"a\"}]}";
    parse_bad(s, strlen(s), CL_ERR_RANGE, "4 documents, more than the limit of 3");
    s = "{\"text\": \"a\", \"tokenizer\": \"bpe\"}";
    parse_bad(s, strlen(s), CL_ERR_ARG, "field tokenizer: expected \"paper\" or \"clinical\"");
    /* a NUL inside the body is not JSON text */
    parse_bad("{\"text\": \"a\0b\"}", 15, CL_ERR_PARSE, "a NUL character at byte 11");
    s = "{\"text\": \"a\\u0000b\"}";
    parse_bad(s, strlen(s), CL_ERR_PARSE, "a NUL character at byte 11");
    /* an escaped backslash followed by u0000 is text, not a NUL */
    cl_tag_request r = parse_ok("{\"text\": \"a\\\\u0000\"}");
    assert_string_equal(r.docs->docs[0]->text, "a\\u0000");
    cl_tag_request_free(&r);
}

static void test_metrics_text(void **state)
{
    (void)state;
    serve_metrics m;
    memset(&m, 0, sizeof m);
    cl__serve_metrics_request(&m, 200, 0.004);  /* bucket le=0.005 */
    cl__serve_metrics_request(&m, 200, 0.2);    /* le=0.25 */
    cl__serve_metrics_request(&m, 413, 100.0);  /* +Inf only */
    m.tokens = 17;
    m.queue_requests = 2;
    cl_buf b;
    cl_buf_init(&b);
    assert_int_equal(cl__serve_metrics_format(&m, &b), 0);
    const char *want[] = {
        "clinner_http_requests_total{code=\"200\"} 2\n",
        "clinner_http_requests_total{code=\"413\"} 1\n",
        "clinner_http_request_duration_seconds_bucket{le=\"0.0025\"} 0\n",
        "clinner_http_request_duration_seconds_bucket{le=\"0.005\"} 1\n",
        "clinner_http_request_duration_seconds_bucket{le=\"0.25\"} 2\n",
        "clinner_http_request_duration_seconds_bucket{le=\"30\"} 2\n",
        "clinner_http_request_duration_seconds_bucket{le=\"+Inf\"} 3\n",
        "clinner_http_request_duration_seconds_count 3\n",
        "clinner_http_request_duration_seconds_sum 100.204000\n",
        "# TYPE clinner_tokens_tagged_total counter\nclinner_tokens_tagged_total 17\n",
        "# TYPE clinner_queue_requests gauge\nclinner_queue_requests 2\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(b.data, want[i]))
            fail_msg("missing '%s' in:\n%s", want[i], b.data);
    assert_null(strstr(b.data, "code=\"404\""));
    cl_buf_free(&b);
}

/* Gold and predicted labels of two sentences, scored with errors:
 *   s1: gold [Fabry disease]RAREDISEASE causes [pain]SYMPTOM
 *       pred [Fabry disease]RAREDISEASE causes [pain]SIGN        -> correct, wrong type
 *   s2: gold [acid ceramidase deficiency]RAREDISEASE <rest O>
 *       pred acid [ceramidase deficiency]RAREDISEASE is [rare]DISEASE -> boundary, false pos.
 * plus a gold SIGN nobody predicts in s2 ("fever") -> false negative. */
static void score_fixture(cl_eval_result *res)
{
    cl_eval_params p = cl_eval_default_params();
    p.errors = true;
    cl_error err;
    cl_scorer *s = NULL;
    assert_int_equal(cl_scorer_new(&p, &s, &err), CL_OK);
    const char *t1[] = {"Fabry", "disease", "causes", "pain"};
    const char *g1[] = {"B-RAREDISEASE", "I-RAREDISEASE", "O", "B-SYMPTOM"};
    const char *p1[] = {"B-RAREDISEASE", "I-RAREDISEASE", "O", "B-SIGN"};
    const char *t2[] = {"acid", "ceramidase", "deficiency", "is", "rare", "<fever>"};
    const char *g2[] = {"B-RAREDISEASE", "I-RAREDISEASE", "I-RAREDISEASE", "O", "O", "B-SIGN"};
    const char *p2[] = {"O", "B-RAREDISEASE", "I-RAREDISEASE", "O", "B-DISEASE", "O"};
    assert_int_equal(cl_scorer_add(s, g1, p1, 4, t1, &err), CL_OK);
    assert_int_equal(cl_scorer_add(s, g2, p2, 6, t2, &err), CL_OK);
    assert_int_equal(cl_scorer_result(s, res, &err), CL_OK);
    cl_scorer_free(s);
}

static int64_t cell(const cl_eval_errors *e, const char *g, const char *p)
{
    for (int32_t i = 0; i < e->nconfusion; i++)
        if (!strcmp(e->confusion[i].gold, g) && !strcmp(e->confusion[i].pred, p))
            return e->confusion[i].count;
    return 0;
}

static void test_eval_confusion(void **state)
{
    (void)state;
    cl_eval_result res;
    score_fixture(&res);
    const cl_eval_errors *e = &res.errors;
    assert_int_equal(e->count[CL_ERRC_CORRECT], 1);
    assert_int_equal(e->count[CL_ERRC_TYPE], 1);
    assert_int_equal(e->count[CL_ERRC_BOUNDARY], 1);
    assert_int_equal(e->count[CL_ERRC_FALSE_POSITIVE], 1);
    assert_int_equal(e->count[CL_ERRC_FALSE_NEGATIVE], 1);
    assert_int_equal(cell(e, "RAREDISEASE", "RAREDISEASE"), 2); /* correct + boundary */
    assert_int_equal(cell(e, "SYMPTOM", "SIGN"), 1);
    assert_int_equal(cell(e, "", "DISEASE"), 1);
    assert_int_equal(cell(e, "SIGN", ""), 1);
    assert_int_equal(e->nconfusion, 4);
    cl_eval_result_free(&res);
}

static void test_eval_html(void **state)
{
    (void)state;
    cl_eval_result res;
    score_fixture(&res);
    const cl_eval_result *rs[2] = {&res, &res};
    const char *names[2] = {"first <run>", "second"};
    cl_buf b;
    cl_buf_init(&b);
    cl_error err;
    assert_int_equal(cl_eval_format_html(rs, names, 2, "t", "gold.csv", &b, &err), CL_OK);
    const char *h = b.data;
    /* RAREDISEASE: 1 of 2 predicted right, 1 of 2 gold found: P = R = F1 = .5;
     * SIGN, SYMPTOM, DISEASE: 0; SKINRAREDISEASE absent: 0; paper average .1 */
    char avg[64];
    snprintf(avg, sizeof avg, "<td>%.4f</td>", res.average.f1);
    assert_true(res.average.f1 > 0.0999 && res.average.f1 < 0.1001);
    assert_non_null(strstr(h, avg));
    assert_non_null(strstr(h, "<svg class=\"chart\""));
    assert_non_null(strstr(h, "<title>F1 per type</title>"));
    assert_non_null(strstr(h, "average (paper)"));
    assert_non_null(strstr(h, ">.5000</text>")); /* RAREDISEASE's F1 bar label */
    assert_non_null(strstr(h, "first &lt;run&gt;"));  /* names escaped */
    assert_null(strstr(h, "first <run>"));
    assert_null(strstr(h, "<script"));
    /* the boundary example: gold span opens before the predicted one */
    assert_non_null(strstr(h, "<span class=\"g\">acid </span><span class=\"g p\">ceramidase "
                              "deficiency</span><sup class=\"pt\">RAREDISEASE</sup>"));
    /* the false negative's token, escaped */
    assert_non_null(strstr(h, "&lt;fever&gt;"));
    assert_int_equal(cl_eval_format_html(rs, names, 0, NULL, NULL, &b, &err), CL_ERR_ARG);
    cl_buf_free(&b);
    cl_eval_result_free(&res);
}

/* A config error names the field at fault (checked before anything starts). */
static void start_bad(cl_serve_config c, const char *want)
{
    cl_server *srv = (cl_server *)1;
    cl_error err;
    cl_error_clear(&err);
    assert_int_not_equal(cl_server_start(&c, NULL, &srv, &err), CL_OK);
    assert_null(srv);
    if (!strstr(err.msg, want))
        fail_msg("got '%s', want '%s'", err.msg, want);
}

static void test_server_config(void **state)
{
    (void)state;
    cl_serve_config d = cl_serve_config_default(), c;
    assert_string_equal(d.host, "127.0.0.1");
    assert_null(d.api_key);
    assert_null(d.cors_origin); /* CORS off by default */
    c = d, c.port = 70000, start_bad(c, "port: 70000 is not in [0, 65535]");
    c = d, c.workers = -1, start_bad(c, "workers: -1"); /* 0: one per CPU */
    c = d, c.queue = 0, start_bad(c, "queue: 0");
    c = d, c.max_docs = 0, start_bad(c, "max_docs: 0");
    c = d, c.max_body = 1, start_bad(c, "max_body");
    c = d, c.request_timeout_s = -1, start_bad(c, "timeouts");
    c = d, c.api_key = "", start_bad(c, "api_key: empty");
    start_bad(d, "session: none given");
    cl_server_free(NULL);
    assert_int_equal(cl_server_shutdown(NULL, 1), 0);
}

/* The scores file: the one given, else MODEL.scores.json when it exists. */
static void test_read_scores(void **state)
{
    (void)state;
    char dir[] = "/tmp/clinner-scores-XXXXXX", model[64], guess[80], bad[64];
    assert_non_null(mkdtemp(dir));
    snprintf(model, sizeof model, "%s/m.crf", dir);
    snprintf(guess, sizeof guess, "%s.scores.json", model);
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    cl_error err;
    char *json = (char *)1;
    assert_int_equal(cl_serve_read_scores(NULL, model, &json, &err), CL_OK);
    assert_null(json); /* none beside the model: none shown */
    FILE *f = fopen(guess, "w");
    fputs("{\"average\": {\"f1\": 0.5}}", f);
    fclose(f);
    assert_int_equal(cl_serve_read_scores(NULL, model, &json, &err), CL_OK);
    assert_non_null(strstr(json, "0.5"));
    free(json);
    f = fopen(bad, "w");
    fputs("[1]", f);
    fclose(f);
    assert_int_equal(cl_serve_read_scores(bad, model, &json, &err), CL_ERR_PARSE);
    assert_null(json);
    assert_non_null(strstr(err.msg, "bad.json is not a JSON object"));
    assert_int_not_equal(cl_serve_read_scores("/nonexistent.json", model, &json, &err), CL_OK);
    unlink(guess);
    unlink(bad);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_text),     cmocka_unit_test(test_request_documents),
        cmocka_unit_test(test_request_errors),   cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_eval_confusion),   cmocka_unit_test(test_eval_html),
        cmocka_unit_test(test_server_config),
        cmocka_unit_test(test_read_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
