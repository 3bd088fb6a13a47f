/* test_formats.c - the token formats (paper-csv, CoNLL, JSONL, paper-lines)
 * and the plain-text reader: byte-exact round trips on hand-made fixtures in
 * tests/fixtures/formats/ (quoting, non-ASCII, several documents), the
 * paper's global sentence counter, and malformed inputs that must be
 * refused with the file and line (and field) named.  With the shared data
 * present, the paper's own test CSV must read and write back byte for byte. */
#include "testutil.h"

#include <math.h>

#include "clinner/corpus.h"
#include "clinner/doc.h"
#include "clinner/util.h"
#include "corpus/formats.h"

#define FIX "tests/fixtures/formats"

/* Write every document of c in fmt into a new string (caller frees). */
static char *write_all(const cl_corpus *c, cl_format fmt, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_non_null(fp);
    cl_error err;
    int64_t counter = 0;
    assert_int_equal(cl_format_write_header(fmt, fp, &err), CL_OK);
    for (int32_t i = 0; i < c->ndocs; i++) {
        if (cl_doc_write(c->docs[i], fmt, fp, &counter, &err) != CL_OK)
            fail_msg("write %s: %s", c->docs[i]->id, err.msg);
    }
    fclose(fp);
    if (len)
        *len = n;
    return buf;
}

static char *slurp(const char *path, size_t *len)
{
    char *data;
    cl_error err;
    if (cl_read_file(path, &data, len, &err) != CL_OK)
        fail_msg("%s", err.msg);
    return data;
}

static void assert_token(const cl_doc *d, int32_t t, const char *text, const char *tag)
{
    char *s = cl_doc_token_text(d, t);
    assert_non_null(s);
    assert_string_equal(s, text);
    free(s);
    assert_string_equal(d->tags[t], tag);
}

/* Read path in fmt, expecting failure with code and every needle in the message. */
static void expect_error(cl_format fmt, const char *path, cl_status code, const char *needle1,
                         const char *needle2)
{
    cl_corpus *c;
    cl_error err;
    cl_error_clear(&err);
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    cl_status st = cl_corpus_read(c, fmt, path, &err);
    if (st != code)
        fail_msg("%s: expected status %d, got %d (%s)", path, code, st, err.msg);
    if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        fail_msg("%s: message '%s' lacks '%s' / '%s'", path, err.msg, needle1,
                 needle2 ? needle2 : "");
    cl_corpus_free(c);
}

/* ---- paper-csv ---- */

static void csv_quoting_round_trip(void **state)
{
    (void)state;
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_read(c, CL_FORMAT_PAPER_CSV, FIX "/quoting.csv", &err), CL_OK);
    assert_int_equal(c->ndocs, 2);
    const cl_doc *a = c->docs[0], *b = c->docs[1];
    assert_string_equal(a->id, "Doc-A");
    assert_string_equal(b->id, "Doc B");
    assert_int_equal(a->ntokens, 8);
    assert_int_equal(a->nsentences, 2);
    assert_int_equal(a->sentences[1].tok_begin, 6);
    assert_token(a, 1, ",", "O");
    assert_token(a, 2, "\"", "O");
    assert_token(a, 3, "caf\xc3\xa9", "B-DISEASE");
    assert_token(a, 4, "a,\"b\"", "I-DISEASE");
    assert_token(a, 6, "\xce\xb1-gal", "B-RAREDISEASE");
    /* text = tokens joined by single spaces; offsets in code points */
    assert_string_equal(a->text, "Fever , \" caf\xc3\xa9 a,\"b\" . \xce\xb1-gal (");
    assert_int_equal(a->tokens[3].start, 10);
    assert_int_equal(a->tokens[3].end, 14);
    assert_int_equal(a->tokens[4].start, 15);
    assert_token(b, 1, "line\nbreak", "O");
    /* write back: byte for byte the fixture (quoting, "\n" line ends, and
     * Doc B sharing global sentence 2 because Doc-A ends on "(") */
    size_t n, m;
    char *out = write_all(c, CL_FORMAT_PAPER_CSV, &n);
    char *orig = slurp(FIX "/quoting.csv", &m);
    assert_int_equal(n, m);
    assert_memory_equal(out, orig, n);
    free(out);
    free(orig);
    cl_corpus_free(c);
}

static cl_doc *make_doc(const char *id, const char *text, const int32_t (*toks)[2], int ntok,
                        const int32_t *sent_ends, int nsent)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text, strlen(text), &d, &err), CL_OK);
    for (int i = 0; i < ntok; i++)
        assert_int_equal(cl_doc_push_token(d, toks[i][0], toks[i][1], &err), CL_OK);
    int32_t b = 0;
    for (int s = 0; s < nsent; s++) {
        assert_int_equal(cl_doc_push_sentence(d, b, sent_ends[s], &err), CL_OK);
        b = sent_ends[s];
    }
    return d;
}

static void csv_writer_counts_like_brat2iob(void **state)
{
    (void)state;
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    /* "He said, \"no\" (x)" : He said , "no" ( x )  -- ends without "." */
    const int32_t t1[][2] = {{0, 2}, {3, 7}, {7, 8}, {9, 13}, {14, 15}, {15, 16}, {16, 17}};
    const int32_t s1[] = {4, 7};
    cl_doc *d1 = make_doc("one", "He said, \"no\" (x)", t1, 7, s1, 2);
    assert_int_equal(cl_doc_set_tag(d1, 3, "B-SIGN", &err), CL_OK);
    const int32_t t2[][2] = {{0, 2}, {2, 3}, {4, 6}, {6, 7}};
    const int32_t s2[] = {2, 4};
    cl_doc *d2 = make_doc("two", "Ok. Go!", t2, 4, s2, 2);
    const int32_t t3[][2] = {{0, 4}};
    const int32_t s3[] = {1};
    cl_doc *d3 = make_doc("three", "Last", t3, 1, s3, 1);
    assert_int_equal(cl_corpus_add(c, d1, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, d2, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, d3, &err), CL_OK);
    char *out = write_all(c, CL_FORMAT_PAPER_CSV, NULL);
    assert_string_equal(out, "Token,Tag,Sentence_Num,Sentence_Num_Global,File\n"
                             "He,O,1,1,one.txt\n"
                             "said,O,1,1,one.txt\n"
                             "\",\",O,1,1,one.txt\n"
                             "\"\"\"no\"\"\",B-SIGN,1,1,one.txt\n"
                             "(,O,2,2,one.txt\n"
                             "x,O,2,2,one.txt\n"
                             "),O,2,2,one.txt\n"
                             "Ok,O,1,2,two.txt\n" /* shares global 2: "one" ends on ")" */
                             ".,O,1,2,two.txt\n"
                             "Go,O,2,3,two.txt\n"
                             "!,O,2,3,two.txt\n"
                             "Last,O,1,4,three.txt\n");
    free(out);
    /* paper-lines groups the same way: one block for ( x ) Ok . */
    out = write_all(c, CL_FORMAT_PAPER_LINES, NULL);
    assert_string_equal(out, "######\nHe : O\nsaid : O\n, : O\n\"no\" : B-SIGN\n"
                             "######\n( : O\nx : O\n) : O\nOk : O\n. : O\n"
                             "######\nGo : O\n! : O\n"
                             "######\nLast : O\n");
    free(out);
    cl_corpus_free(c);
}

static void csv_malformed(void **state)
{
    (void)state;
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/bad_columns.csv", CL_ERR_PARSE,
                 "bad_columns.csv:3:", "expected 5 fields, found 4");
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/bad_sentnum.csv", CL_ERR_PARSE,
                 "bad_sentnum.csv:3:", "Sentence_Num");
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/bad_quote.csv", CL_ERR_PARSE, "bad_quote.csv:3:",
                 "quoting");
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/unclosed_quote.csv", CL_ERR_PARSE,
                 "unclosed_quote.csv:3:", "never closed");
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/bad_utf8.csv", CL_ERR_UTF8, "bad_utf8.csv:3:",
                 "byte 63");
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/split_doc.csv", CL_ERR_PARSE, "split_doc.csv:4:",
                 "contiguous");
    expect_error(CL_FORMAT_PAPER_CSV, FIX "/missing.csv", CL_ERR_IO, "missing.csv", NULL);
    /* from memory: header without File, empty token, bad tag */
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    const char *s1 = "Token,Tag,Sentence_Num\nA,O,1\n";
    assert_int_equal(cl_papercsv_parse(c, s1, strlen(s1), "m.csv", &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "m.csv:1: header has no 'File' column"));
    const char *s2 = "Token,Tag,Sentence_Num,Sentence_Num_Global,File\n\"\",O,1,1,a.txt\n";
    assert_int_equal(cl_papercsv_parse(c, s2, strlen(s2), "m.csv", &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "m.csv:2: field Token: empty"));
    const char *s3 = "Token,Tag,Sentence_Num,Sentence_Num_Global,File\r\nA,X-Y,1,1,a.txt\r\n";
    assert_int_equal(cl_papercsv_parse(c, s3, strlen(s3), "m.csv", &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "m.csv:2: field Tag"));
    assert_int_equal(c->ndocs, 0);
    cl_corpus_free(c);
}

/* ---- CoNLL ---- */

static void conll_round_trip(void **state)
{
    (void)state;
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_read(c, CL_FORMAT_CONLL, FIX "/two_docs.conll", &err), CL_OK);
    assert_int_equal(c->ndocs, 2);
    assert_string_equal(c->docs[0]->id, "Doc-A");
    assert_int_equal(c->docs[0]->nsentences, 2);
    assert_token(c->docs[0], 2, "caf\xc3\xa9", "B-DISEASE");
    assert_int_equal(c->docs[0]->tokens[3].start, 15); /* "Fever and café α-gal" */
    size_t n, m;
    char *out = write_all(c, CL_FORMAT_CONLL, &n);
    char *orig = slurp(FIX "/two_docs.conll", &m);
    assert_int_equal(n, m);
    assert_memory_equal(out, orig, n);
    free(out);
    free(orig);
    cl_corpus_free(c);

    /* CoNLL-2003 style: spaces, extra columns, -DOCSTART-, CRLF */
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_read(c, CL_FORMAT_CONLL, FIX "/spaces.conll", &err), CL_OK);
    assert_int_equal(c->ndocs, 2);
    assert_string_equal(c->docs[0]->id, "conll");
    assert_token(c->docs[0], 0, "Fever", "B-SIGN");
    assert_token(c->docs[0], 1, "and", "O");
    assert_string_equal(c->docs[1]->id, "doc1");
    assert_int_equal(c->docs[1]->ntokens, 1);
    assert_token(c->docs[1], 0, "X", "B-SIGN");
    cl_corpus_free(c);
}

static void conll_malformed(void **state)
{
    (void)state;
    expect_error(CL_FORMAT_CONLL, FIX "/bad_label.conll", CL_ERR_PARSE, "bad_label.conll:4:",
                 "B_SIGN");
    expect_error(CL_FORMAT_CONLL, FIX "/missing_label.conll", CL_ERR_PARSE,
                 "missing_label.conll:3:", "token<TAB>label");
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    const char *s = "A\tO\n# doc:   \nB\tO\n";
    assert_int_equal(cl_conll_parse(c, s, strlen(s), "m.conll", &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "m.conll:2:"));
    const char *u = "A\tO\n\nB\xc3\tO\n";
    assert_int_equal(cl_conll_parse(c, u, strlen(u), "m.conll", &err), CL_ERR_UTF8);
    assert_non_null(strstr(err.msg, "m.conll:3: invalid UTF-8 at byte 6"));
    /* CRLF is a line end; a bare CR inside a line is refused with its line */
    const char *cr = "A\tO\r\nB\rC\tO\r\n";
    assert_int_equal(cl_conll_parse(c, cr, strlen(cr), "m.conll", &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "m.conll:2: carriage return inside a line"));
    cl_corpus_free(c);

    /* the writer refuses a token it cannot represent, and writes nothing */
    cl_doc *d;
    assert_int_equal(cl_doc_new("t", "a\tb", 3, &d, &err), CL_OK);
    assert_int_equal(cl_doc_push_token(d, 0, 3, &err), CL_OK);
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    assert_int_equal(cl_doc_write(d, CL_FORMAT_CONLL, fp, NULL, &err), CL_ERR_FORMAT);
    fclose(fp);
    assert_int_equal(n, 0);
    free(buf);
    cl_doc_free(d);

    /* nor a token that would read back as a document line (from paper-csv, say) */
    const char *texts[] = {"-DOCSTART-", "# doc: x"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cl_doc_new("t", texts[i], strlen(texts[i]), &d, &err), CL_OK);
        assert_int_equal(cl_doc_push_token(d, 0, (int32_t)strlen(texts[i]), &err), CL_OK);
        buf = NULL;
        fp = open_memstream(&buf, &n);
        assert_int_equal(cl_doc_write(d, CL_FORMAT_CONLL, fp, NULL, &err), CL_ERR_FORMAT);
        assert_non_null(strstr(err.msg, "read back as a document line"));
        fclose(fp);
        assert_int_equal(n, 0);
        free(buf);
        cl_doc_free(d);
    }
}

/* ---- JSONL ---- */

static void assert_docs_equal(const cl_doc *a, const cl_doc *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->text, b->text);
    assert_int_equal(a->ntokens, b->ntokens);
    assert_int_equal(a->nsentences, b->nsentences);
    for (int32_t i = 0; i < a->ntokens; i++) {
        assert_int_equal(a->tokens[i].start, b->tokens[i].start);
        assert_int_equal(a->tokens[i].end, b->tokens[i].end);
        assert_string_equal(a->tags ? a->tags[i] : "O", b->tags ? b->tags[i] : "O");
    }
    for (int32_t i = 0; i < a->nsentences; i++) {
        assert_int_equal(a->sentences[i].tok_begin, b->sentences[i].tok_begin);
        assert_int_equal(a->sentences[i].tok_end, b->sentences[i].tok_end);
    }
    assert_int_equal(a->nentities, b->nentities);
    for (int32_t i = 0; i < a->nentities; i++) {
        const cl_entity *x = &a->entities[i], *y = &b->entities[i];
        assert_string_equal(x->id, y->id);
        assert_string_equal(x->type, y->type);
        assert_int_equal(x->nfrags, y->nfrags);
        assert_memory_equal(x->frags, y->frags, (size_t)x->nfrags * sizeof *x->frags);
        assert_true((x->text == NULL) == (y->text == NULL));
        if (x->text)
            assert_string_equal(x->text, y->text);
        assert_true(fabsf(x->confidence - y->confidence) < 1e-4f);
    }
    assert_int_equal(a->nrelations, b->nrelations);
}

static void jsonl_round_trip(void **state)
{
    (void)state;
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_read(c, CL_FORMAT_JSONL, FIX "/docs.jsonl", &err), CL_OK);
    assert_int_equal(c->ndocs, 2);
    const cl_doc *d = c->docs[0];
    assert_string_equal(d->id, "Doc-U");
    assert_int_equal(d->ntokens, 7);
    assert_int_equal(d->nsentences, 2);
    assert_token(d, 1, "\xce\xb1-gal", "B-RAREDISEASE");
    assert_token(d, 6, "\xf0\x9d\x9b\xbc", "O"); /* a 4-byte character, one code point */
    assert_int_equal(d->tokens[6].start, 42);
    assert_int_equal(d->nentities, 2);
    assert_int_equal(d->entities[0].nfrags, 2);
    assert_int_equal(d->entities[0].frags[1].start, 15);
    assert_true(d->entities[0].confidence < 0);
    assert_true(fabsf(d->entities[1].confidence - 0.75f) < 1e-6f);
    assert_int_equal(d->nrelations, 1);
    assert_int_equal(c->docs[1]->ntokens, 0);
    assert_null(c->docs[1]->tags);

    /* write, read back, compare; the second writing is byte-identical */
    size_t n1, n2;
    char *out1 = write_all(c, CL_FORMAT_JSONL, &n1);
    cl_corpus *c2;
    assert_int_equal(cl_corpus_new(&c2, &err), CL_OK);
    if (cl_jsonl_parse(c2, out1, n1, "gen1", &err) != CL_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(c2->ndocs, 2);
    for (int32_t i = 0; i < 2; i++)
        assert_docs_equal(c->docs[i], c2->docs[i]);
    char *out2 = write_all(c2, CL_FORMAT_JSONL, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(out1, out2, n1);
    /* raw UTF-8 kept, one line per document */
    assert_non_null(strstr(out1, "\"text\":\"Fi\xc3\xa8vre"));
    assert_non_null(strstr(out1, "\\n"));
    int lines = 0;
    for (size_t i = 0; i < n1; i++)
        lines += out1[i] == '\n';
    assert_int_equal(lines, 2);
    assert_int_equal(out1[n1 - 1], '\n');
    free(out1);
    free(out2);
    cl_corpus_free(c2);

    /* token confidences are written (rounded) only when the doc has them */
    cl_doc *dd = c->docs[0];
    dd->tag_conf = malloc((size_t)dd->ntokens * sizeof *dd->tag_conf);
    for (int32_t i = 0; i < dd->ntokens; i++)
        dd->tag_conf[i] = 0.93f;
    char *out3 = write_all(c, CL_FORMAT_JSONL, NULL);
    assert_non_null(strstr(out3, "\"label\":\"O\",\"confidence\":0.93}"));
    cl_corpus *c3;
    assert_int_equal(cl_corpus_new(&c3, &err), CL_OK);
    assert_int_equal(cl_jsonl_parse(c3, out3, strlen(out3), "gen3", &err), CL_OK);
    assert_non_null(c3->docs[0]->tag_conf);
    assert_true(fabsf(c3->docs[0]->tag_conf[2] - 0.93f) < 1e-6f);
    assert_null(c3->docs[1]->tag_conf);
    free(out3);
    cl_corpus_free(c3);
    cl_corpus_free(c);
}

static void jsonl_malformed(void **state)
{
    (void)state;
    expect_error(CL_FORMAT_JSONL, FIX "/bad_token_end.jsonl", CL_ERR_RANGE,
                 "bad_token_end.jsonl:2: field tokens[2].end:", "outside");
    expect_error(CL_FORMAT_JSONL, FIX "/bad_token_text.jsonl", CL_ERR_PARSE,
                 "bad_token_text.jsonl:1: field tokens[1].text:", "d\xc3\xa9" "f");
    expect_error(CL_FORMAT_JSONL, FIX "/bad_json.jsonl", CL_ERR_PARSE, "bad_json.jsonl:3:",
                 "invalid JSON");
    expect_error(CL_FORMAT_JSONL, FIX "/missing_text.jsonl", CL_ERR_PARSE,
                 "missing_text.jsonl:1: field text: missing", NULL);
    expect_error(CL_FORMAT_JSONL, FIX "/bad_fragment.jsonl", CL_ERR_RANGE,
                 "bad_fragment.jsonl:1: field entities[0].fragments[1][1]:", NULL);
    static const struct {
        const char *json, *needle;
    } cases[] = {
        {"[1,2]", "m.jsonl:1: expected a JSON object"},
        {"{\"id\":\"a\",\"text\":\"ab\"} x", "unexpected text after the JSON object"},
        {"{\"id\":3,\"text\":\"ab\"}", "field id: expected a string"},
        {"{\"id\":\"a\",\"text\":\"ab\",\"tokens\":[{\"start\":0.5,\"end\":1}]}",
         "field tokens[0].start: 0.5 is not an integer"},
        {"{\"id\":\"a\",\"text\":\"ab\",\"tokens\":[{\"start\":0,\"end\":1,\"label\":\"Q\"}]}",
         "field tokens[0].label"},
        {"{\"id\":\"a\",\"text\":\"ab\",\"tokens\":[{\"start\":0,\"end\":2},{\"start\":1,\"end\":2}]}",
         "field tokens[1].start"},
        {"{\"id\":\"a\",\"text\":\"ab\",\"tokens\":[{\"start\":0,\"end\":2}],\"sentences\":[[0,2]]}",
         "field sentences[0][1]"},
        {"{\"id\":\"a\",\"text\":\"ab\",\"entities\":[{\"type\":\"S\",\"fragments\":[]}]}",
         "field entities[0].fragments: expected a non-empty array"},
        {"{\"id\":\"a\",\"text\":\"ab\",\"entities\":[{\"type\":\"S\",\"fragments\":[[0,1]],"
         "\"confidence\":2}]}",
         "field entities[0].confidence"},
        {"{\"id\":\"a\",\"text\":\"\\ud800\"}", "m.jsonl:1:"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cl_corpus *c;
        cl_error err;
        cl_error_clear(&err);
        assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
        char buf[512];
        snprintf(buf, sizeof buf, "\n%s\n", cases[i].json); /* line 2 */
        cl_status st = cl_jsonl_parse(c, buf + 1, strlen(buf + 1), "m.jsonl", &err);
        if (st == CL_OK || !strstr(err.msg, cases[i].needle))
            fail_msg("case %zu: status %d, message '%s', wanted '%s'", i, st, err.msg,
                     cases[i].needle);
        assert_int_equal(c->ndocs, 0);
        cl_corpus_free(c);
    }
}

/* ---- text ---- */

static void text_reader(void **state)
{
    (void)state;
    char dir[] = "/tmp/clinner-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char good[256], bad[256];
    snprintf(good, sizeof good, "%s/Some.Note.txt", dir);
    snprintf(bad, sizeof bad, "%s/bad.txt", dir);
    FILE *fp = fopen(good, "wb");
    fputs("caf\xc3\xa9\nno final newline", fp);
    fclose(fp);
    fp = fopen(bad, "wb");
    fputs("line one\nli\xe2\x80ne", fp);
    fclose(fp);
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_read(c, CL_FORMAT_TEXT, good, &err), CL_OK);
    assert_int_equal(c->ndocs, 1);
    assert_string_equal(c->docs[0]->id, "Some.Note");
    assert_string_equal(c->docs[0]->text, "caf\xc3\xa9\nno final newline");
    assert_int_equal(c->docs[0]->index.nchars, 21);
    assert_int_equal(cl_corpus_read(c, CL_FORMAT_TEXT, bad, &err), CL_ERR_UTF8);
    assert_non_null(strstr(err.msg, "bad.txt: invalid UTF-8 at byte 11"));
    assert_int_equal(c->ndocs, 1);
    cl_corpus_free(c);
    unlink(good);
    unlink(bad);
    rmdir(dir);
}

/* ---- the paper's own files ---- */

static void paper_csv_reads_and_writes_back(void **state)
{
    (void)state;
    REQUIRE_SHARED(path, "data/paper/test_combined_IOB_data.csv");
    cl_corpus *c;
    cl_error err;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    if (cl_corpus_read(c, CL_FORMAT_PAPER_CSV, path, &err) != CL_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(c->ndocs, 208);
    assert_int_equal(cl_corpus_ntokens(c), 36973);
    assert_int_equal(cl_corpus_nsentences(c), 1743); /* 1,735 global numbers */
    size_t n, m;
    char *out = write_all(c, CL_FORMAT_PAPER_CSV, &n);
    char *orig = slurp(path, &m);
    assert_int_equal(n, m);
    assert_memory_equal(out, orig, n);
    free(out);
    free(orig);
    out = write_all(c, CL_FORMAT_PAPER_LINES, NULL);
    int blocks = 0;
    for (const char *p = out; (p = strstr(p, "######\n")); p += 7)
        blocks++;
    assert_int_equal(blocks, 1735);
    free(out);
    cl_corpus_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(csv_quoting_round_trip),
        cmocka_unit_test(csv_writer_counts_like_brat2iob),
        cmocka_unit_test(csv_malformed),
        cmocka_unit_test(conll_round_trip),
        cmocka_unit_test(conll_malformed),
        cmocka_unit_test(jsonl_round_trip),
        cmocka_unit_test(jsonl_malformed),
        cmocka_unit_test(text_reader),
        cmocka_unit_test(paper_csv_reads_and_writes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
