/* test_tokenize.c - the paper and clinical tokenizers, sentence splitting,
 * BIO projection under both policies, decoding, and their statistics. */
#include <unistd.h>

#include "testutil.h"

#include "clinner/corpus.h"
#include "clinner/doc.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

static cl_doc *make_doc(const char *text)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new("t", text, strlen(text), &d, &err), CL_OK);
    return d;
}

/* Tokens joined by "|", sentences separated by " || ". */
static char *render(const cl_doc *d)
{
    cl_buf b;
    cl_buf_init(&b);
    for (int32_t s = 0; s < d->nsentences; s++) {
        if (s)
            cl_buf_puts(&b, " || ");
        for (int32_t t = d->sentences[s].tok_begin; t < d->sentences[s].tok_end; t++) {
            char *x = cl_doc_token_text(d, t);
            if (t > d->sentences[s].tok_begin)
                cl_buf_putc(&b, '|');
            cl_buf_puts(&b, x);
            free(x);
        }
    }
    return cl_buf_detach(&b);
}

static void expect_tokens(const char *text, cl_tokenizer_kind kind, const char *want)
{
    cl_error err;
    cl_doc *d = make_doc(text);
    assert_int_equal(cl_tokenize_doc(d, kind, &err), CL_OK);
    /* sentences cover every token, in order */
    int32_t next = 0;
    for (int32_t s = 0; s < d->nsentences; s++) {
        assert_int_equal(d->sentences[s].tok_begin, next);
        next = d->sentences[s].tok_end;
    }
    assert_int_equal(next, d->ntokens);
    char *got = render(d);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "text: %s\n got: %s\nwant: %s\n", text, got, want);
    assert_string_equal(got, want);
    free(got);
    cl_doc_free(d);
}

static char *tags_of(const cl_doc *d)
{
    cl_buf b;
    cl_buf_init(&b);
    for (int32_t t = 0; t < d->ntokens; t++) {
        if (t)
            cl_buf_putc(&b, ' ');
        cl_buf_puts(&b, d->tags ? d->tags[t] : "O");
    }
    return cl_buf_detach(&b);
}

static void add(cl_doc *d, const char *type, int32_t s, int32_t e)
{
    cl_error err;
    cl_span sp = {s, e};
    assert_int_equal(cl_doc_add_entity(d, NULL, type, &sp, 1, NULL, &err), CL_OK);
}

/* ---- names ---- */

static void tokenizer_names(void **state)
{
    (void)state;
    cl_error err;
    cl_tokenizer_kind k;
    assert_int_equal(cl_tokenizer_from_name("paper", &k, &err), CL_OK);
    assert_int_equal(k, CL_TOKENIZER_PAPER);
    assert_int_equal(cl_tokenizer_from_name("clinical", &k, &err), CL_OK);
    assert_int_equal(k, CL_TOKENIZER_CLINICAL);
    assert_string_equal(cl_tokenizer_name(CL_TOKENIZER_PAPER), "paper");
    assert_int_equal(cl_tokenizer_from_name("spacy", &k, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "spacy"));
}

/* ---- paper tokenizer ---- */

static void paper_peels_punctuation(void **state)
{
    (void)state;
    expect_tokens("(AP-4-HSP), \"x\" a.b", CL_TOKENIZER_PAPER,
                  "(|AP-4-HSP|)|,|\"|x|\"|a.b");
    /* leading one by one, then trailing in text order; a piece of only
     * punctuation becomes single characters */
    expect_tokens("--x?! ... ok", CL_TOKENIZER_PAPER, "-|-|x|?|! || .|.|. || ok");
    /* curly quotes and en dashes are not ASCII punctuation */
    expect_tokens("“spina bifida” a–b", CL_TOKENIZER_PAPER, "“spina|bifida”|a–b");
}

static void paper_splits_on_python_space(void **state)
{
    (void)state;
    /* U+00A0, U+2009 and U+3000 split; U+200B does not */
    expect_tokens("a\xc2\xa0" "b\xe2\x80\x89" "c\xe3\x80\x80" "d\xe2\x80\x8b" "e",
                  CL_TOKENIZER_PAPER, "a|b|c|d\xe2\x80\x8b" "e");
}

static void paper_sentence_ends(void **state)
{
    (void)state;
    /* ".", "?" or "!" ending a piece ends a sentence; "e.g." too (paper rule) */
    expect_tokens("One. Two? Three! e.g. four", CL_TOKENIZER_PAPER,
                  "One|. || Two|? || Three|! || e.g|. || four");
    /* not followed by whitespace: "3.5", "x.)" */
    expect_tokens("pH 3.5 (x.) y.", CL_TOKENIZER_PAPER, "pH|3.5|(|x|.|)|y|.");
    /* end of text without a newline ends the last sentence */
    expect_tokens("Last one.", CL_TOKENIZER_PAPER, "Last|one|.");
    expect_tokens("No stop", CL_TOKENIZER_PAPER, "No|stop");
    expect_tokens("", CL_TOKENIZER_PAPER, "");
    expect_tokens("  \n ", CL_TOKENIZER_PAPER, "");
}

static void paper_offsets_are_code_points(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = make_doc("é\xc2\xa0(ü).");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    assert_int_equal(d->ntokens, 5);
    int32_t want[5][2] = {{0, 1}, {2, 3}, {3, 4}, {4, 5}, {5, 6}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(d->tokens[i].start, want[i][0]);
        assert_int_equal(d->tokens[i].end, want[i][1]);
    }
    cl_doc_free(d);
}

/* ---- clinical tokenizer ---- */

static void clinical_abbreviations(void **state)
{
    (void)state;
    expect_tokens("Signs (e.g. fever, i.e. heat) vs. Dr. Smith et al. in the U.S. are rare. Next",
                  CL_TOKENIZER_CLINICAL,
                  "Signs|(|e.g.|fever|,|i.e.|heat|)|vs.|Dr.|Smith|et|al.|in|the|U.S.|are|rare|. || "
                  "Next");
    expect_tokens("approx. 5 cases. E. coli and T. p. endemicum were found.",
                  CL_TOKENIZER_CLINICAL,
                  "approx.|5|cases|. || E.|coli|and|T.|p.|endemicum|were|found|.");
    /* "etc." may close a sentence when an uppercase word follows */
    expect_tokens("fever, rash, etc. The end", CL_TOKENIZER_CLINICAL,
                  "fever|,|rash|,|etc. || The|end");
}

static void clinical_numbers_and_units(void **state)
{
    (void)state;
    expect_tokens("3.5 1,000 10mg 5% 2,3 .17 3q 1990s 46,XY", CL_TOKENIZER_CLINICAL,
                  "3.5|1,000|10|mg|5|%|2|,|3|.17|3q|1990s|46|,|XY");
    expect_tokens("10mg/kg 20µg", CL_TOKENIZER_CLINICAL, "10|mg|/|kg|20|µg");
}

static void clinical_punctuation(void **state)
{
    (void)state;
    expect_tokens("epileptic/infantile spasms, tumor(s) and “spina bifida”", CL_TOKENIZER_CLINICAL,
                  "epileptic|/|infantile|spasms|,|tumor|(|s|)|and|“|spina|bifida|”");
    expect_tokens("a–b c—d (cysteine)--or", CL_TOKENIZER_CLINICAL,
                  "a|–|b|c|—|d|(|cysteine|)|--|or");
    expect_tokens("the disorder’s and Crohn's; O'Brien disorders’ x",
                  CL_TOKENIZER_CLINICAL,
                  "the|disorder|’s|and|Crohn|'s|;|O'Brien|disorders|’|x");
    expect_tokens("wait... really", CL_TOKENIZER_CLINICAL, "wait|...|really");
}

static void clinical_hyphens(void **state)
{
    (void)state;
    expect_tokens("AP-4-associated X-linked COVID-19 influenza-like HIV-positive anti-GERD",
                  CL_TOKENIZER_CLINICAL,
                  "AP-4-associated|X-linked|COVID-19|influenza|-|like|HIV|-|positive|anti|-|GERD");
}

static void clinical_spaces_and_offsets(void **state)
{
    (void)state;
    cl_error err;
    /* no-break space, narrow no-break space, zero-width space all separate */
    cl_doc *d = make_doc("é\xc2\xa0" "ü\xe2\x80\xaf" "x\xe2\x80\x8b" "𝛼—b");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    assert_int_equal(d->ntokens, 6);
    int32_t want[6][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {7, 8}, {8, 9}};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(d->tokens[i].start, want[i][0]);
        assert_int_equal(d->tokens[i].end, want[i][1]);
    }
    cl_doc_free(d);
}

static void clinical_sentences(void **state)
{
    (void)state;
    /* closing quotes/brackets stay with the sentence; lowercase continues */
    expect_tokens("He said “stop.” Then (see below.) 3 cases. then more",
                  CL_TOKENIZER_CLINICAL,
                  "He|said|“|stop|.|” || Then|(|see|below|.|) || 3|cases|.|then|more");
    /* line breaks end sentences; end of text without newline */
    expect_tokens("Title line\nBody text. Second\n\nNew paragraph", CL_TOKENIZER_CLINICAL,
                  "Title|line || Body|text|. || Second || New|paragraph");
    expect_tokens("Is it? Yes! Done.", CL_TOKENIZER_CLINICAL, "Is|it|? || Yes|! || Done|.");
    expect_tokens("", CL_TOKENIZER_CLINICAL, "");
}

/* ---- BIO projection ---- */

static void paper_policy_rules(void **state)
{
    (void)state;
    cl_error err;
    /*               0123456789012345678901234 */
    cl_doc *d = make_doc("big red ball and cat x");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    add(d, "SIGN", 0, 12);   /* big red ball */
    add(d, "DISEASE", 4, 7); /* red: a later type overwrites the earlier one */
    add(d, "SIGN", 17, 20);  /* cat */
    add(d, "SIGN", 17, 18);  /* same type, later: the first match decides */
    cl_span frags[2] = {{21, 22}, {0, 3}}; /* only the first fragment counts */
    assert_int_equal(cl_doc_add_entity(d, "T9", "SYMPTOM", frags, 2, NULL, &err), CL_OK);
    cl_bio_stats st = {0};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_PAPER, NULL, 0, &st, &err), CL_OK);
    char *t = tags_of(d);
    assert_string_equal(t, "B-SIGN B-DISEASE I-SIGN O B-SIGN B-SYMPTOM");
    free(t);
    assert_int_equal(st.entities, 5);
    assert_int_equal(st.discontinuous, 1);
    assert_int_equal(st.overlapping, 5); /* 0-12 with 4-7 and the SYMPTOM's 0-3; 17-20 with 17-18 */
    /* lost: big red ball (split), cat's 17-18 twin (token ends at 20) */
    assert_int_equal(st.lost, 2);
    assert_int_equal(st.boundaries, 12);
    assert_int_equal(st.boundary_in_token, 1); /* 18 is inside "cat" */

    /* types filter: only SIGN */
    const char *only[] = {"SIGN"};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_PAPER, only, 1, NULL, &err), CL_OK);
    t = tags_of(d);
    assert_string_equal(t, "B-SIGN I-SIGN I-SIGN O B-SIGN O");
    free(t);
    cl_doc_free(d);
}

static void paper_policy_b_ignores_end(void **state)
{
    (void)state;
    cl_error err;
    /* B when the token starts at the span start, even if it runs past its end;
     * I requires the token to end within the span */
    cl_doc *d = make_doc("abcdef gh ij");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    add(d, "SIGN", 0, 3);
    add(d, "SYMPTOM", 7, 11); /* "gh i": ij ends past it */
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_PAPER, NULL, 0, NULL, &err), CL_OK);
    char *t = tags_of(d);
    assert_string_equal(t, "B-SIGN B-SYMPTOM O");
    free(t);
    cl_doc_free(d);
}

static void clinical_policy_longest_wins(void **state)
{
    (void)state;
    cl_error err;
    /*                    0         1         2
     *                    0123456789012345678901234567 */
    cl_doc *d = make_doc("big red ball and small cats");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    add(d, "DISEASE", 4, 7); /* nested, shorter: loses */
    add(d, "SIGN", 0, 12);
    add(d, "SYMPTOM", 23, 26); /* "cat" inside "cats": partly covered token is tagged */
    add(d, "SIGN", 23, 26);    /* same length: first in file wins */
    cl_bio_stats st = {0};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_CLINICAL, NULL, 0, &st, &err), CL_OK);
    char *t = tags_of(d);
    assert_string_equal(t, "B-SIGN I-SIGN I-SIGN O O B-SYMPTOM");
    free(t);
    assert_int_equal(st.entities, 4);
    assert_int_equal(st.overlapping, 4);
    assert_int_equal(st.boundary_in_token, 2); /* 26 is not a token end, twice */
    assert_int_equal(st.lost, 3);              /* red, and both cats (span 23-27 decoded) */
    cl_doc_free(d);
}

static void clinical_policy_discontinuous(void **state)
{
    (void)state;
    cl_error err;
    /*                    0         1         2
     *                    0123456789012345678901234567 */
    cl_doc *d = make_doc("weak arms and legs, weak legs");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    /* "weak ... legs": fragments not adjacent -> two mentions */
    cl_span f1[2] = {{0, 4}, {14, 18}};
    assert_int_equal(cl_doc_add_entity(d, "T1", "SIGN", f1, 2, NULL, &err), CL_OK);
    /* fragments listed out of order but adjacent in tokens -> one mention */
    cl_span f2[2] = {{25, 29}, {20, 24}};
    assert_int_equal(cl_doc_add_entity(d, "T2", "SYMPTOM", f2, 2, NULL, &err), CL_OK);
    cl_bio_stats st = {0};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_CLINICAL, NULL, 0, &st, &err), CL_OK);
    char *t = tags_of(d);
    assert_string_equal(t, "B-SIGN O O B-SIGN O B-SYMPTOM I-SYMPTOM");
    free(t);
    assert_int_equal(st.discontinuous, 2);
    assert_int_equal(st.lost, 0);
    assert_int_equal(st.boundaries, 8);
    assert_int_equal(st.boundary_in_token, 0);

    /* the paper policy keeps only the first listed fragment */
    cl_bio_stats ps = {0};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_PAPER, NULL, 0, &ps, &err), CL_OK);
    t = tags_of(d);
    assert_string_equal(t, "B-SIGN O O O O O B-SYMPTOM");
    free(t);
    assert_int_equal(ps.lost, 0); /* the first fragments are recovered */
    cl_doc_free(d);
}

static void cross_sentence_counted(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = make_doc("Bad cough. Fever now");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    add(d, "SIGN", 4, 16); /* "cough. Fever" */
    cl_bio_stats st = {0};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_CLINICAL, NULL, 0, &st, &err), CL_OK);
    char *t = tags_of(d);
    assert_string_equal(t, "O B-SIGN I-SIGN B-SIGN O"); /* a new sentence starts a new B- */
    free(t);
    assert_int_equal(st.cross_sentence, 1);
    assert_int_equal(st.lost, 1);
    cl_doc_free(d);
}

/* ---- decoding ---- */

static void set_tags(cl_doc *d, const char *const *tags)
{
    cl_error err;
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    for (int32_t i = 0; i < d->ntokens; i++)
        assert_int_equal(cl_doc_set_tag(d, i, tags[i], &err), CL_OK);
}

static void decode_lenient(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = make_doc("a b c d e f g h");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    const char *tags[] = {"I-SIGN", "I-SIGN", "B-SIGN", "I-DISEASE", "O", "B-X", "junk", "I-"};
    set_tags(d, tags);
    d->tag_conf = malloc(8 * sizeof *d->tag_conf);
    for (int i = 0; i < 8; i++)
        d->tag_conf[i] = (float)i / 10.0f;
    add(d, "OLD", 0, 1); /* replaced */
    /* a gold relation names the old ids, which the new entities reuse: it must go */
    assert_int_equal(cl_doc_add_relation(d, "R1", "Is_a", "Arg1:T1", "Arg2:T1", &err), CL_OK);
    assert_int_equal(cl_bio_to_entities(d, &err), CL_OK);
    assert_int_equal(d->nrelations, 0);
    assert_int_equal(d->nentities, 4);
    assert_string_equal(d->entities[0].type, "SIGN");
    assert_int_equal(d->entities[0].frags[0].start, 0);
    assert_int_equal(d->entities[0].frags[0].end, 3);
    assert_string_equal(d->entities[0].text, "a b");
    assert_true(d->entities[0].confidence > 0.049f && d->entities[0].confidence < 0.051f);
    assert_string_equal(d->entities[1].type, "SIGN"); /* B- always starts */
    assert_int_equal(d->entities[1].frags[0].start, 4);
    assert_string_equal(d->entities[2].type, "DISEASE"); /* I- of another type starts */
    assert_string_equal(d->entities[3].type, "X");
    assert_int_equal(d->entities[3].nfrags, 1);
    assert_string_equal(d->entities[3].id, "T4");
    cl_doc_free(d);
}

static void decode_breaks_at_sentences_and_without_tags(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = make_doc("Bad cough. Fever now");
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    add(d, "SIGN", 0, 3);
    assert_int_equal(cl_bio_to_entities(d, &err), CL_OK); /* no tags: no entities */
    assert_int_equal(d->nentities, 0);
    const char *tags[] = {"O", "B-SIGN", "I-SIGN", "I-SIGN", "O"};
    set_tags(d, tags);
    assert_int_equal(cl_bio_to_entities(d, &err), CL_OK);
    assert_int_equal(d->nentities, 2);
    assert_int_equal(d->entities[0].frags[0].end, 10);
    assert_true(d->entities[0].confidence < 0);
    assert_int_equal(d->entities[1].frags[0].start, 11);
    cl_doc_free(d);
}

static void round_trip(void **state)
{
    (void)state;
    cl_error err;
    const char *text = "Patients with “AP-4-HSP” (spastic paraplegia) show\xc2\xa0"
                       "épilepsie/seizures. Males are affected.";
    for (int k = 0; k < 2; k++) {
        cl_doc *d = make_doc(text);
        cl_tokenizer_kind kind = k ? CL_TOKENIZER_PAPER : CL_TOKENIZER_CLINICAL;
        assert_int_equal(cl_tokenize_doc(d, kind, &err), CL_OK);
        add(d, "RAREDISEASE", 26, 44); /* spastic paraplegia */
        add(d, "SIGN", 71, 76);        /* Males */
        if (k == 0) { /* split apart only by the clinical tokenizer */
            add(d, "RAREDISEASE", 15, 23); /* AP-4-HSP inside curly quotes */
            add(d, "SIGN", 51, 60);        /* épilepsie */
            add(d, "SIGN", 61, 69);        /* seizures */
        }
        cl_bio_stats st = {0};
        cl_bio_policy pol = k ? CL_BIO_PAPER : CL_BIO_CLINICAL;
        assert_int_equal(cl_bio_from_entities(d, pol, NULL, 0, &st, &err), CL_OK);
        int32_t n = d->nentities;
        cl_span want[8];
        for (int32_t i = 0; i < n; i++)
            want[i] = d->entities[i].frags[0];
        assert_int_equal(cl_bio_to_entities(d, &err), CL_OK);
        assert_int_equal(d->nentities, n);
        for (int32_t i = 0; i < n; i++) {
            /* decoded in text order */
            bool found = false;
            for (int32_t j = 0; j < n; j++)
                found |= d->entities[j].frags[0].start == want[i].start &&
                         d->entities[j].frags[0].end == want[i].end;
            assert_true(found);
        }
        assert_int_equal(st.lost, 0);
        assert_int_equal(st.boundary_in_token, 0);
        cl_doc_free(d);
    }
}

static void rejects_bad_arguments(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = make_doc("a b");
    assert_int_equal(cl_tokenize_doc(d, (cl_tokenizer_kind)9, &err), CL_ERR_ARG);
    assert_int_equal(cl_tokenize_doc(NULL, CL_TOKENIZER_PAPER, &err), CL_ERR_ARG);
    assert_int_equal(cl_doc_push_token(d, 2, 3, &err), CL_OK);
    assert_int_equal(cl_doc_push_token(d, 0, 1, &err), CL_OK);
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_PAPER, NULL, 0, NULL, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "out of order"));
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    assert_int_equal(cl_bio_from_entities(d, (cl_bio_policy)7, NULL, 0, NULL, &err), CL_ERR_ARG);
    cl_doc_free(d);
}

/* clinner convert: BRAT to CoNLL with the paper's types, and the pairs
 * that cannot be converted. */
static void convert_files(void **state)
{
    (void)state;
    cl_error err;
    char dir[] = "/tmp/clinner-convert-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *out = cl_path_join(dir, "out.conll");
    cl_convert_params p = {.from = CL_FORMAT_BRAT, .to = CL_FORMAT_CONLL,
                           .tokenizer = CL_TOKENIZER_CLINICAL};
    assert_int_equal(cl_label_set_from_name("paper", &p.types, &p.ntypes, &err), CL_OK);
    assert_int_equal(p.ntypes, CL_NUM_PAPER_TYPES);
    assert_int_equal(cl_corpus_convert("tests/fixtures/crf/train", out, &p, &err), CL_OK);
    size_t n = 0;
    char *text = NULL;
    assert_int_equal(cl_read_file(out, &text, &n, &err), CL_OK);
    assert_non_null(strstr(text, "B-RAREDISEASE"));
    assert_null(strstr(text, "ANAPHOR")); /* not one of the paper's types */
    free(text);
    assert_int_equal(cl_label_set_from_name("some", &p.types, &p.ntypes, &err), CL_ERR_ARG);
    p.to = CL_FORMAT_BRAT;
    assert_int_equal(cl_corpus_convert("tests/fixtures/crf/train", "-", &p, &err), CL_ERR_ARG);
    p.from = CL_FORMAT_PAPER_LINES;
    p.to = CL_FORMAT_CONLL;
    assert_int_equal(cl_corpus_convert("x", out, &p, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "paper-lines"));
    remove(out);
    rmdir(dir);
    free(out);
}

/* clinner stats over files: counts, the tokenizer's projection, and an
 * error that names the file. */
static void report_files(void **state)
{
    (void)state;
    cl_error err;
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    assert_non_null(fp);
    const char *paths[] = {"tests/fixtures/crf/train"};
    cl_tokenizer_kind tok = CL_TOKENIZER_CLINICAL;
    assert_int_equal(cl_corpus_report_files(fp, true, paths, 1, NULL, &tok, &err), CL_OK);
    fclose(fp);
    assert_non_null(strstr(buf, "\"documents\":\t3"));
    assert_non_null(strstr(buf, "\"tokenizer\":\t\"clinical\""));
    assert_non_null(strstr(buf, "\"bio\":")); /* brat + tokenizer: the projection */
    free(buf);
    buf = NULL;
    fp = open_memstream(&buf, &len);
    assert_int_equal(cl_corpus_report_files(fp, false, paths, 1, NULL, NULL, &err), CL_OK);
    fclose(fp);
    assert_null(strstr(buf, "tokens")); /* no tokenizer, no token format: no token rows */
    free(buf);
    const char *missing[] = {"tests/fixtures/no-such-corpus.conll"};
    fp = open_memstream(&buf, &len);
    assert_int_not_equal(cl_corpus_report_files(fp, false, missing, 1, NULL, NULL, &err), CL_OK);
    fclose(fp);
    free(buf);
    assert_non_null(strstr(err.msg, "no-such-corpus.conll"));
}

/* ---- fixture: discontinuous, overlapping, UTF-8, no final newline ---- */

static void fixture_pair(void **state)
{
    (void)state;
    cl_error err;
    cl_doc *d = NULL;
    assert_int_equal(cl_brat_read_pair("tests/fixtures/tokenize/mixed.txt",
                                       "tests/fixtures/tokenize/mixed.ann", &d, &err),
                     CL_OK);
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_PAPER, &err), CL_OK);
    cl_bio_stats ps = {0}, cs = {0};
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_PAPER, NULL, 0, &ps, &err), CL_OK);
    char *t = render(d);
    assert_string_equal(t, "“Café-au-lait|spots”|and|weak|arms|and|legs|. || "
                           "Épilepsie|(|seizures|)|in|the|U.S|. || "
                           "Cats");
    free(t);
    t = tags_of(d);
    assert_string_equal(t, "O O O B-SIGN I-SIGN O O O B-DISEASE O B-SYMPTOM O O O O O O");
    free(t);
    assert_int_equal(cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err), CL_OK);
    assert_int_equal(cl_bio_from_entities(d, CL_BIO_CLINICAL, NULL, 0, &cs, &err), CL_OK);
    t = render(d);
    assert_string_equal(t, "“|Café-au-lait|spots|”|and|weak|arms|and|legs|. || "
                           "Épilepsie|(|seizures|)|in|the|U.S.|Cats");
    free(t);
    t = tags_of(d);
    assert_string_equal(t, "O B-SIGN I-SIGN O O B-SIGN I-SIGN O B-SIGN O "
                           "B-DISEASE O B-SYMPTOM O O O O O");
    free(t);
    assert_int_equal(ps.entities, 5);
    assert_int_equal(cs.entities, 5);
    assert_int_equal(ps.discontinuous, 1);
    assert_int_equal(ps.overlapping, 2);
    assert_int_equal(ps.boundary_in_token, 2); /* “Café... and spots” */
    assert_int_equal(cs.boundary_in_token, 0);
    assert_int_equal(ps.lost, 2); /* Café-au-lait spots; "weak" merged into "weak arms" */
    assert_int_equal(cs.lost, 1); /* weak ... legs: "weak" went to the longer "weak arms" */
    cl_doc_free(d);
}

/* ---- the paper's released CSVs, row for row ---- */

static void reproduce_paper_csv(const char *split, const char *csv_rel)
{
    char brat_rel[64];
    snprintf(brat_rel, sizeof brat_rel, "data/raredis/%s", split);
    char brat_buf[4096], csv_buf[4096];
    const char *brat = test_shared_path(brat_buf, sizeof brat_buf, brat_rel);
    const char *csv = test_shared_path(csv_buf, sizeof csv_buf, csv_rel);
    if (!brat || !csv)
        skip();
    cl_error err;
    cl_corpus *gold, *ours;
    assert_int_equal(cl_corpus_new(&gold, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&ours, &err), CL_OK);
    assert_int_equal(cl_corpus_read(gold, CL_FORMAT_PAPER_CSV, csv, &err), CL_OK);
    assert_int_equal(cl_corpus_read(ours, CL_FORMAT_BRAT, brat, &err), CL_OK);
    assert_int_equal(gold->ndocs, ours->ndocs);
    int64_t rows = 0;
    for (int32_t i = 0; i < ours->ndocs; i++) {
        cl_doc *o = ours->docs[i], *g = gold->docs[i];
        assert_int_equal(cl_tokenize_doc(o, CL_TOKENIZER_PAPER, &err), CL_OK);
        assert_int_equal(cl_bio_from_entities(o, CL_BIO_PAPER, NULL, 0, NULL, &err), CL_OK);
        assert_int_equal(o->ntokens, g->ntokens);
        assert_int_equal(o->nsentences, g->nsentences);
        for (int32_t s = 0; s < o->nsentences; s++)
            assert_int_equal(o->sentences[s].tok_end, g->sentences[s].tok_end);
        for (int32_t t = 0; t < o->ntokens; t++) {
            size_t on, gn;
            const char *ob = cl_doc_token_bytes(o, t, &on), *gb = cl_doc_token_bytes(g, t, &gn);
            if (on != gn || memcmp(ob, gb, on) != 0 || strcmp(o->tags[t], g->tags[t]) != 0)
                fail_msg("%s token %d: %.*s %s vs %.*s %s", o->id, t, (int)on, ob, o->tags[t],
                         (int)gn, gb, g->tags[t]);
        }
        rows += o->ntokens;
    }
    fprintf(stderr, "%s: %lld rows match the paper's CSV\n", split, (long long)rows);
    cl_corpus_free(gold);
    cl_corpus_free(ours);
}

static void paper_csv_dev(void **state)
{
    (void)state;
    reproduce_paper_csv("dev", "data/paper/dev_combined_IOB_data.csv");
}

static void paper_csv_test(void **state)
{
    (void)state;
    reproduce_paper_csv("test", "data/paper/test_combined_IOB_data.csv");
}

/* A trainer's splits by name: names refused before any reading, each
 * path's format guessed, the given types kept. */
static void train_data_by_names(void **state)
{
    (void)state;
    cl_error err;
    cl_train_data d;
    assert_int_equal(cl_train_data_init(&d, NULL, "nope", NULL, 0, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "tokenizer 'nope'"));
    assert_int_equal(cl_train_data_init(&d, "nope", "clinical", NULL, 0, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "format 'nope'"));

    static const char *const sign[] = {"SIGN"};
    assert_int_equal(cl_train_data_init(&d, NULL, "paper", sign, 1, &err), CL_OK);
    assert_int_equal(cl_train_data_load(&d, "tests/fixtures/tokenize/mixed.txt",
                                        "tests/fixtures/formats/two_docs.conll", &err),
                     CL_OK);
    assert_int_equal(d.format, CL_FORMAT_BRAT); /* the training split's, guessed */
    assert_int_equal(d.train->ndocs, 1);
    assert_int_equal(d.dev->ndocs, 2);
    for (int32_t i = 0; i < d.train->docs[0]->nentities; i++)
        assert_string_equal(d.train->docs[0]->entities[i].type, "SIGN");
    assert_true(d.train->docs[0]->ntokens > 0);
    cl_train_data_free(&d);
    assert_null(d.train);
    assert_null(d.dev);

    /* a given format holds for both; on error nothing is kept */
    assert_int_equal(cl_train_data_init(&d, "conll", "clinical", NULL, 0, &err), CL_OK);
    assert_int_equal(cl_train_data_load(&d, "tests/fixtures/formats/two_docs.conll",
                                        "tests/fixtures/formats/no_such.conll", &err),
                     CL_ERR_IO);
    assert_null(d.train);
    assert_null(d.dev);
    /* only a dev split */
    assert_int_equal(cl_train_data_load(&d, NULL, "tests/fixtures/formats/two_docs.conll", &err),
                     CL_OK);
    assert_null(d.train);
    assert_int_equal(d.dev->ndocs, 2);
    cl_train_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tokenizer_names),
        cmocka_unit_test(paper_peels_punctuation),
        cmocka_unit_test(paper_splits_on_python_space),
        cmocka_unit_test(paper_sentence_ends),
        cmocka_unit_test(paper_offsets_are_code_points),
        cmocka_unit_test(clinical_abbreviations),
        cmocka_unit_test(clinical_numbers_and_units),
        cmocka_unit_test(clinical_punctuation),
        cmocka_unit_test(clinical_hyphens),
        cmocka_unit_test(clinical_spaces_and_offsets),
        cmocka_unit_test(clinical_sentences),
        cmocka_unit_test(paper_policy_rules),
        cmocka_unit_test(paper_policy_b_ignores_end),
        cmocka_unit_test(clinical_policy_longest_wins),
        cmocka_unit_test(clinical_policy_discontinuous),
        cmocka_unit_test(cross_sentence_counted),
        cmocka_unit_test(decode_lenient),
        cmocka_unit_test(decode_breaks_at_sentences_and_without_tags),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(rejects_bad_arguments),
        cmocka_unit_test(fixture_pair),
        cmocka_unit_test(report_files),
        cmocka_unit_test(convert_files),
        cmocka_unit_test(paper_csv_dev),
        cmocka_unit_test(paper_csv_test),
        cmocka_unit_test(train_data_by_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
