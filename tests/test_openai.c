/* test_openai.c - the chat-completions backend against a fake server: a
 * thread on 127.0.0.1 (random port) that answers canned completions, fails
 * first with 429/500 to exercise the retries, refuses a wrong key with 401,
 * and echoes the key in error bodies to check it never reaches a message. */
#define _GNU_SOURCE /* strcasestr */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "clinner/openai.h"
#include "clinner/prompt.h"
#include "clinner/util.h"

#define GOOD_KEY "sk-test-GOODKEY-0123456789abcdef"
#define BAD_KEY "sk-test-BADKEY-fedcba9876543210"

typedef enum reply_mode {
    REPLY_ALIGNED = 0, /* one line per token; "fever"/"rash" B-SIGN */
    REPLY_SHORT,       /* only the first line */
    REPLY_CONTEXT,     /* 400: longer than the context */
    REPLY_BAD_REQUEST, /* 400 echoing the key */
    REPLY_GARBAGE,     /* 200 with a body that is not a completion */
    REPLY_ODD_USAGE,   /* aligned, but token counts of 1e300 and -5 */
    REPLY_HUGE,        /* 200 with a 20 MiB body */
} reply_mode;

typedef struct fake {
    int fd, port;
    pthread_t th;
    pthread_mutex_t mu;
    bool stop;
    /* behaviour */
    int fail_first, fail_code; /* the first fail_first requests get fail_code */
    const char *expect_key;    /* NULL: any */
    reply_mode mode;
    /* observations */
    int requests;
    char last_body[65536];
} fake;

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int code, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     code, strlen(body));
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* The answer for the last user turn (tokens one per line). */
static char *completion(const char *req, reply_mode mode)
{
    cJSON *root = cJSON_Parse(req);
    cJSON *msgs = cJSON_GetObjectItem(root, "messages");
    cJSON *last = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
    const char *toks = cJSON_GetObjectItem(last, "content")->valuestring;
    cl_buf ans;
    cl_buf_init(&ans);
    const char *p = toks;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        bool ent = (n == 5 && !memcmp(p, "fever", 5)) || (n == 4 && !memcmp(p, "rash", 4));
        cl_answer_line(&ans, p, n, ent ? "B-SIGN" : "O", NULL);
        if (mode == REPLY_SHORT)
            break;
        p += n + (nl ? 1 : 0);
    }
    cJSON_Delete(root);
    cJSON *r = cJSON_CreateObject();
    cJSON *choices = cJSON_AddArrayToObject(r, "choices");
    cJSON *c0 = cJSON_CreateObject();
    cJSON *m = cJSON_AddObjectToObject(c0, "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "content", ans.data ? ans.data : "");
    cJSON_AddStringToObject(c0, "finish_reason", "stop");
    cJSON_AddItemToArray(choices, c0);
    cJSON *u = cJSON_AddObjectToObject(r, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", mode == REPLY_ODD_USAGE ? 1e300 : 10);
    cJSON_AddNumberToObject(u, "completion_tokens", mode == REPLY_ODD_USAGE ? -5 : 5);
    char *out = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    cl_buf_free(&ans);
    return out;
}

static void serve_one(fake *f, int c)
{
    cl_buf req;
    cl_buf_init(&req);
    char chunk[8192];
    size_t body_at = 0, clen = 0;
    for (;;) {
        ssize_t r = recv(c, chunk, sizeof chunk, 0);
        if (r <= 0)
            break;
        cl_buf_append(&req, chunk, (size_t)r);
        if (!body_at) {
            char *e = strstr(req.data, "\r\n\r\n");
            if (!e)
                continue;
            body_at = (size_t)(e - req.data) + 4;
            const char *cl = strcasestr(req.data, "content-length:");
            clen = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
        }
        if (req.len >= body_at + clen)
            break;
    }
    if (!body_at) {
        cl_buf_free(&req);
        return;
    }
    pthread_mutex_lock(&f->mu);
    int n = ++f->requests;
    snprintf(f->last_body, sizeof f->last_body, "%s", req.data + body_at);
    int fail_first = f->fail_first, fail_code = f->fail_code;
    const char *key = f->expect_key;
    reply_mode mode = f->mode;
    pthread_mutex_unlock(&f->mu);

    char auth[256] = "";
    const char *a = strcasestr(req.data, "\r\nAuthorization: Bearer ");
    if (a) {
        a += strlen("\r\nAuthorization: Bearer ");
        size_t k = strcspn(a, "\r\n");
        snprintf(auth, sizeof auth, "%.*s", (int)k, a);
    }
    char msg[512];
    if (key && strcmp(auth, key) != 0) {
        snprintf(msg, sizeof msg, "{\"error\":{\"message\":\"Incorrect API key provided: %s\"}}",
                 auth);
        respond(c, 401, msg);
    } else if (n <= fail_first) {
        snprintf(msg, sizeof msg, "{\"error\":{\"message\":\"busy, key was %s\"}}", auth);
        respond(c, fail_code, msg);
    } else if (mode == REPLY_CONTEXT) {
        respond(c, 400, "{\"error\":{\"code\":400,\"message\":\"the request exceeds the "
                        "available context size, try increasing it\"}}");
    } else if (mode == REPLY_BAD_REQUEST) {
        snprintf(msg, sizeof msg, "{\"error\":{\"message\":\"bad field; your key %s\"}}", auth);
        respond(c, 400, msg);
    } else if (mode == REPLY_GARBAGE) {
        respond(c, 200, "{\"hello\":1}");
    } else if (mode == REPLY_HUGE) {
        size_t big = 20u << 20;
        char *body = malloc(big + 1);
        if (body) {
            memset(body, ' ', big);
            body[big] = '\0';
            respond(c, 200, body);
            free(body);
        }
    } else {
        char *body = completion(req.data + body_at, mode);
        respond(c, 200, body);
        free(body);
    }
    cl_buf_free(&req);
}

static void *serve(void *arg)
{
    fake *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        bool stop = f->stop;
        pthread_mutex_unlock(&f->mu);
        if (stop)
            break;
        struct pollfd pfd = {f->fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            continue;
        serve_one(f, c);
        close(c);
    }
    return NULL;
}

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 64), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static fake *fake_start(void)
{
    fake *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->fd = listen_loopback(&f->port);
    assert_int_equal(pthread_create(&f->th, NULL, serve, f), 0);
    return f;
}

static void fake_stop(fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->th, NULL);
    close(f->fd);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- helpers ---- */

static cl_doc *make_doc(const char *text, const int *lens, int nsent)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new("doc-1", text, strlen(text), &d, &err), CL_OK);
    int32_t cp = 0, n = d->index.nchars;
    while (cp < n) {
        if (d->text[cl_text_cp_to_byte(&d->index, cp)] == ' ') {
            cp++;
            continue;
        }
        int32_t s = cp;
        while (cp < n && d->text[cl_text_cp_to_byte(&d->index, cp)] != ' ')
            cp++;
        assert_int_equal(cl_doc_push_token(d, s, cp, &err), CL_OK);
    }
    int32_t t = 0;
    for (int i = 0; i < nsent; i++) {
        assert_int_equal(cl_doc_push_sentence(d, t, t + lens[i], &err), CL_OK);
        t += lens[i];
    }
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    return d;
}

typedef struct logbook {
    char all[16384];
    int lines;
} logbook;

static void log_to_book(void *ctx, const char *msg)
{
    logbook *b = ctx;
    size_t n = strlen(b->all);
    snprintf(b->all + n, sizeof b->all - n, "%s\n", msg);
    b->lines++;
}

static char api_base[64];

static cl_openai_params params_for(fake *f, logbook *book)
{
    cl_openai_params p = cl_openai_default_params();
    snprintf(api_base, sizeof api_base, "http://127.0.0.1:%d/v1/", f ? f->port : 9);
    p.api_base = api_base;
    p.model = "test-model";
    p.backoff_s = 0.01;
    p.timeout_s = 10;
    p.retries = 3;
    p.log = log_to_book;
    p.log_ctx = book;
    return p;
}

static cl_prompt_builder *zero_shot(void)
{
    cl_error err;
    cl_prompt_params pp = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&pp, &b, &err), CL_OK);
    return b;
}

/* ---- tests ---- */

static void tags_sentences_and_counts(void **state)
{
    (void)state;
    unsetenv("OPENAI_API_KEY");
    fake *f = fake_start();
    logbook book = {{0}, 0};
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = params_for(f, &book);
    p.parallel = 4;
    p.seed = 7;
    cl_tagger t;
    cl_error err;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_OK);
    int lens[] = {3, 2, 2, 1, 3, 2};
    cl_doc *d = make_doc("fever and rash . ok no fever x y rash z fever q", lens, 6);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    assert_string_equal(d->tags[0], "B-SIGN");
    assert_string_equal(d->tags[1], "O");
    assert_string_equal(d->tags[2], "B-SIGN");
    assert_string_equal(d->tags[6], "B-SIGN");
    assert_string_equal(d->tags[11], "B-SIGN");
    assert_string_equal(d->tags[12], "O");
    cl_tagger_stats st;
    cl_tagger_get_stats(&t, &st);
    assert_int_equal(st.sentences, 6);
    assert_int_equal(st.tokens, 13);
    assert_int_equal(st.prompt_tokens, 60);
    assert_int_equal(st.generated_tokens, 30);
    assert_int_equal(st.misaligned, 0);
    assert_int_equal(st.retries, 0);
    assert_int_equal(f->requests, 6);
    /* the request: model, seed, no grammar in free mode, no key sent */
    cJSON *req = cJSON_Parse(f->last_body);
    assert_string_equal(cJSON_GetObjectItem(req, "model")->valuestring, "test-model");
    assert_int_equal((int)cJSON_GetObjectItem(req, "seed")->valuedouble, 7);
    assert_null(cJSON_GetObjectItem(req, "grammar"));
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(req, "messages"), 0)
                            ->child->valuestring,
                        "system");
    cJSON_Delete(req);
    cl_tagger_free(&t);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
    fake_stop(f);
}

static void grammar_mode_sends_grammar(void **state)
{
    (void)state;
    fake *f = fake_start();
    logbook book = {{0}, 0};
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = params_for(f, &book);
    p.decode = CL_DECODE_GRAMMAR;
    cl_tagger t;
    cl_error err;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_OK);
    int lens[] = {2};
    cl_doc *d = make_doc("a\"b fever", lens, 1);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    assert_string_equal(d->tags[1], "B-SIGN");
    cJSON *req = cJSON_Parse(f->last_body);
    cJSON *g = cJSON_GetObjectItem(req, "grammar");
    assert_non_null(g);
    cl_buf want;
    cl_buf_init(&want);
    assert_int_equal(cl_grammar_for_sentence(cl_prompt_builder_labels(b), d, 0, &want, &err),
                     CL_OK);
    assert_string_equal(g->valuestring, want.data);
    cl_buf_free(&want);
    cJSON_Delete(req);
    cl_tagger_free(&t);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
    fake_stop(f);
}

static void retries_429_and_500_then_succeeds(void **state)
{
    (void)state;
    setenv("CLINNER_TEST_KEY", GOOD_KEY, 1);
    fake *f = fake_start();
    f->fail_first = 2;
    f->fail_code = 429;
    f->expect_key = GOOD_KEY;
    logbook book = {{0}, 0};
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = params_for(f, &book);
    p.api_key_env = "CLINNER_TEST_KEY";
    cl_tagger t;
    cl_error err;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_OK);
    int lens[] = {2};
    cl_doc *d = make_doc("rash now", lens, 1);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    assert_string_equal(d->tags[0], "B-SIGN");
    cl_tagger_stats st;
    cl_tagger_get_stats(&t, &st);
    assert_int_equal(st.retries, 2);
    assert_int_equal(f->requests, 3);
    assert_int_equal(book.lines, 2);
    assert_non_null(strstr(book.all, "HTTP 429"));
    assert_non_null(strstr(book.all, "retry 1 of 3"));
    /* the server echoed the key in its error body: never in the log */
    assert_null(strstr(book.all, "GOODKEY"));
    assert_null(strstr(book.all, "0123456789abcdef"));

    /* 500 more times than the retries allow: a clear error, no key */
    f->requests = 0;
    f->fail_first = 100;
    f->fail_code = 500;
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_ERR_NET);
    assert_non_null(strstr(err.msg, "HTTP 500"));
    assert_non_null(strstr(err.msg, "gave up after 4 attempts"));
    assert_null(strstr(err.msg, "GOODKEY"));
    assert_int_equal(f->requests, 4);
    cl_tagger_free(&t);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
    fake_stop(f);
    unsetenv("CLINNER_TEST_KEY");
}

static void wrong_key_is_refused_and_never_shown(void **state)
{
    (void)state;
    setenv("CLINNER_TEST_KEY", BAD_KEY, 1);
    fake *f = fake_start();
    f->expect_key = GOOD_KEY;
    logbook book = {{0}, 0};
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = params_for(f, &book);
    p.api_key_env = "CLINNER_TEST_KEY";
    cl_tagger t;
    cl_error err;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_OK);
    int lens[] = {2};
    cl_doc *d = make_doc("rash now", lens, 1);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_ERR_NET);
    assert_non_null(strstr(err.msg, "401"));
    assert_non_null(strstr(err.msg, "refused the API key"));
    assert_non_null(strstr(err.msg, "$CLINNER_TEST_KEY"));
    assert_null(strstr(err.msg, "BADKEY"));
    assert_null(strstr(err.msg, "fedcba9876543210"));
    assert_int_equal(f->requests, 1); /* 401 is not retried */

    /* a server error that quotes the key: scrubbed */
    f->expect_key = NULL;
    f->mode = REPLY_BAD_REQUEST;
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_ERR_NET);
    assert_non_null(strstr(err.msg, "HTTP 400"));
    assert_non_null(strstr(err.msg, "bad field"));
    assert_null(strstr(err.msg, "BADKEY"));
    assert_null(strstr(err.msg, "sk-test-"));
    cl_tagger_free(&t);

    /* a named variable that is not set */
    unsetenv("CLINNER_TEST_KEY");
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "$CLINNER_TEST_KEY is not set"));
    cl_doc_free(d);
    cl_prompt_builder_free(b);
    fake_stop(f);
}

static void unreachable_server(void **state)
{
    (void)state;
    int port;
    int fd = listen_loopback(&port);
    close(fd); /* nothing listens there now */
    logbook book = {{0}, 0};
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = params_for(NULL, &book);
    snprintf(api_base, sizeof api_base, "http://127.0.0.1:%d/v1", port);
    p.retries = 2;
    cl_tagger t;
    cl_error err;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_OK);
    int lens[] = {1};
    cl_doc *d = make_doc("x", lens, 1);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_ERR_NET);
    assert_non_null(strstr(err.msg, api_base));
    assert_non_null(strstr(err.msg, "gave up after 3 attempts"));
    assert_int_equal(book.lines, 2);
    cl_tagger_free(&t);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
}

static void misaligned_context_and_bad_replies(void **state)
{
    (void)state;
    unsetenv("OPENAI_API_KEY");
    fake *f = fake_start();
    logbook book = {{0}, 0};
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = params_for(f, &book);
    cl_tagger t;
    cl_error err;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_OK);
    /* short answers: padded with O and counted */
    f->mode = REPLY_SHORT;
    int lens[] = {3, 0, 2};
    cl_doc *d = make_doc("fever rash x rash y", lens, 3);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    assert_string_equal(d->tags[0], "B-SIGN");
    assert_string_equal(d->tags[1], "O"); /* padded */
    assert_string_equal(d->tags[3], "B-SIGN");
    cl_tagger_stats st;
    cl_tagger_get_stats(&t, &st);
    assert_int_equal(st.misaligned, 2);
    assert_int_equal(st.skipped, 1); /* the empty sentence */
    assert_non_null(strstr(book.all, "sentence 1 skipped"));
    /* longer than the server's context: skipped with a message */
    f->mode = REPLY_CONTEXT;
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    cl_tagger_get_stats(&t, &st);
    assert_int_equal(st.skipped, 4);
    assert_non_null(strstr(book.all, "context size"));
    assert_string_equal(d->tags[0], "O");
    /* token counts no server could mean are left out of the summary */
    f->mode = REPLY_ODD_USAGE;
    cl_tagger_stats before = st;
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_OK);
    cl_tagger_get_stats(&t, &st);
    assert_int_equal(st.prompt_tokens, before.prompt_tokens);
    assert_int_equal(st.generated_tokens, before.generated_tokens);
    assert_int_equal(st.sentences, before.sentences + 2);
    /* a 200 that is not a completion */
    f->mode = REPLY_GARBAGE;
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_ERR_NET);
    assert_non_null(strstr(err.msg, "not a chat completion"));
    /* a reply too large for any completion: cut off, said so, not retried */
    f->mode = REPLY_HUGE;
    int before_requests = f->requests;
    assert_int_equal(cl_tagger_tag_doc(&t, d, &err), CL_ERR_NET);
    assert_non_null(strstr(err.msg, "passed 16 MiB and was cut off"));
    assert_true(f->requests - before_requests <= 2); /* the sentences in flight, once each */
    cl_tagger_free(&t);
    cl_doc_free(d);
    cl_prompt_builder_free(b);
    fake_stop(f);
}

static void bad_parameters(void **state)
{
    (void)state;
    cl_prompt_builder *b = zero_shot();
    cl_openai_params p = cl_openai_default_params();
    cl_tagger t;
    cl_error err;
    p.decode = CL_DECODE_FORCED;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "llama"));
    p = cl_openai_default_params();
    p.parallel = 0;
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_ERR_ARG);
    p = cl_openai_default_params();
    p.api_base = "ftp://127.0.0.1/";
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_ERR_ARG);
    setenv("CLINNER_TEST_KEY", "line\nSECRETPART", 1);
    p = cl_openai_default_params();
    p.api_key_env = "CLINNER_TEST_KEY";
    assert_int_equal(cl_openai_tagger_new(&p, b, &t, &err), CL_ERR_ARG);
    assert_null(strstr(err.msg, "SECRETPART"));
    unsetenv("CLINNER_TEST_KEY");
    cl_prompt_builder_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tags_sentences_and_counts),
        cmocka_unit_test(grammar_mode_sends_grammar),
        cmocka_unit_test(retries_429_and_500_then_succeeds),
        cmocka_unit_test(wrong_key_is_refused_and_never_shown),
        cmocka_unit_test(unreachable_server),
        cmocka_unit_test(misaligned_context_and_bad_replies),
        cmocka_unit_test(bad_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
