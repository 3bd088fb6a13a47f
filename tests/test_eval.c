/* test_eval.c - the scorer: seqeval's entity rules (default and strict),
 * averages, the paper's average, paper-lines parsing and alignment,
 * span-level scoring and the error breakdown. */
#include <unistd.h>

#include "testutil.h"

#include <math.h>

#include "clinner/corpus.h"
#include "clinner/eval.h"

#define NL(a) ((int32_t)(sizeof(a) / sizeof((a)[0])))
#define assert_close(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

/* Entities of labels read as one sentence, as "TYPE:start-end" joined by ' '. */
static char *ents_str(const char *const *labels, int32_t n, cl_eval_mode mode)
{
    cl_eval_span *e = NULL;
    int32_t ne = 0;
    cl_error err;
    assert_int_equal(cl_eval_entities(labels, n, mode, &e, &ne, &err), CL_OK);
    static char buf[512];
    buf[0] = '\0';
    for (int32_t i = 0; i < ne; i++) {
        char one[64];
        snprintf(one, sizeof one, "%s%s:%d-%d", i ? " " : "", e[i].type, e[i].start, e[i].end);
        strncat(buf, one, sizeof buf - strlen(buf) - 1);
    }
    cl_eval_spans_free(e, ne);
    return buf;
}

static void i_after_o_default_vs_strict(void **state)
{
    (void)state;
    const char *l[] = {"O", "I-SIGN", "I-SIGN", "O"};
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_DEFAULT), "SIGN:1-3");
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_STRICT), "");
    /* at the very start too */
    const char *m[] = {"I-SIGN", "O"};
    assert_string_equal(ents_str(m, NL(m), CL_EVAL_DEFAULT), "SIGN:0-1");
    assert_string_equal(ents_str(m, NL(m), CL_EVAL_STRICT), "");
}

static void entity_at_sentence_end(void **state)
{
    (void)state;
    const char *l[] = {"O", "B-DISEASE", "I-DISEASE"};
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_DEFAULT), "DISEASE:1-3");
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_STRICT), "DISEASE:1-3");
}

static void type_change_inside_a_run(void **state)
{
    (void)state;
    const char *l[] = {"B-A", "I-B", "I-B"};
    /* default: the type change ends A and starts B */
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_DEFAULT), "A:0-1 B:1-3");
    /* strict: B-A alone; I-B without B-B is nothing */
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_STRICT), "A:0-1");
}

static void b_after_i_starts_new(void **state)
{
    (void)state;
    const char *l[] = {"B-A", "I-A", "B-A", "I-A", "B-A"};
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_DEFAULT), "A:0-2 A:2-4 A:4-5");
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_STRICT), "A:0-2 A:2-4 A:4-5");
}

static void iobes_and_odd_labels(void **state)
{
    (void)state;
    const char *l[] = {"S-A", "B-A", "E-A", "B-A", "I-A", "E-A", "S-B", "O"};
    assert_string_equal(ents_str(l, NL(l), CL_EVAL_DEFAULT), "A:0-1 A:1-3 A:3-6 B:6-7");
    /* E- and S- are not IOB2: strict mode rejects them, as seqeval raises
     * ValueError("Invalid token is found: S-A ...") */
    cl_eval_span *e = NULL;
    int32_t ne = -1;
    cl_error err;
    assert_int_equal(cl_eval_entities(l, NL(l), CL_EVAL_STRICT, &e, &ne, &err), CL_ERR_PARSE);
    assert_null(e);
    assert_int_equal(ne, 0);
    assert_non_null(strstr(err.msg, "token 1: label 'S-A' is not IOB2"));
    /* types are what follows the first '-' after the tag letter */
    const char *m[] = {"B-Sign", "I-Sign", "B-FOO-BAR", "B", "O"};
    assert_string_equal(ents_str(m, NL(m), CL_EVAL_DEFAULT), "Sign:0-2 FOO-BAR:2-3 _:3-4");
    /* empty or NULL labels read as O */
    const char *n[] = {"B-X", "", NULL, "I-X"};
    assert_string_equal(ents_str(n, NL(n), CL_EVAL_DEFAULT), "X:0-1 X:3-4");
}

/* Score sentences (gold/pred pairs) into r. */
static void score(const char *const *const *gold, const char *const *const *pred,
                  const int32_t *len, int n, cl_eval_mode mode, cl_eval_result *r)
{
    cl_eval_params p = cl_eval_default_params();
    p.mode = mode;
    cl_error err;
    cl_scorer *s = NULL;
    assert_int_equal(cl_scorer_new(&p, &s, &err), CL_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(cl_scorer_add(s, gold[i], pred[i], len[i], NULL, &err), CL_OK);
    assert_int_equal(cl_scorer_result(s, r, &err), CL_OK);
    cl_scorer_free(s);
}

static void sentences_are_separated(void **state)
{
    (void)state;
    /* B-A | I-A across a sentence boundary: seqeval's "O" separator makes
     * two entities; the same labels in one sentence make one. */
    const char *g1[] = {"O", "B-A"}, *g2[] = {"I-A", "O"};
    const char *const *gold[] = {g1, g2};
    const int32_t len[] = {2, 2};
    const char *one[] = {"O", "B-A", "I-A", "O"};
    const char *const *pone[] = {one};
    const int32_t lone[] = {4};
    cl_eval_result r;
    score(gold, gold, len, 2, CL_EVAL_DEFAULT, &r);
    const cl_type_score *a = cl_eval_result_type(&r, "A");
    assert_non_null(a);
    assert_int_equal(a->support, 2);
    assert_int_equal(a->tp, 2);
    cl_eval_result_free(&r);
    score(pone, pone, lone, 1, CL_EVAL_DEFAULT, &r);
    assert_int_equal(cl_eval_result_type(&r, "A")->support, 1);
    cl_eval_result_free(&r);
}

static void empty_predictions_give_zero(void **state)
{
    (void)state;
    const char *g[] = {"B-SIGN", "O"}, *p[] = {"O", "O"};
    const char *const *gold[] = {g}, *const *pred[] = {p};
    const int32_t len[] = {2};
    cl_eval_result r;
    score(gold, pred, len, 1, CL_EVAL_DEFAULT, &r);
    const cl_type_score *s = cl_eval_result_type(&r, "SIGN");
    assert_non_null(s);
    assert_close(s->prf.precision, 0); /* 0/0 -> 0 */
    assert_close(s->prf.recall, 0);
    assert_close(s->prf.f1, 0);
    assert_int_equal(s->support, 1);
    assert_close(r.micro.precision, 0);
    assert_close(r.weighted.f1, 0);
    cl_eval_result_free(&r);
    /* nothing at all: every number is 0, no type listed */
    const char *o[] = {"O"};
    const char *const *oo[] = {o};
    const int32_t l1[] = {1};
    score(oo, oo, l1, 1, CL_EVAL_DEFAULT, &r);
    assert_int_equal(r.ntypes, 0);
    assert_close(r.macro.f1, 0);
    assert_close(r.weighted.precision, 0);
    assert_close(r.average.recall, 0);
    cl_eval_result_free(&r);
}

static void averages_by_hand(void **state)
{
    (void)state;
    /* sentence 1 gold: A[0,2) B[3,4) A[5,6); pred: A[0,2) A[3,4)
     * sentence 2 gold: nothing;               pred: C[0,1)
     *   A: tp 1, pred 2, true 2 -> P .5, R .5, F .5
     *   B: tp 0, pred 0, true 1 -> 0, 0, 0
     *   C: tp 0, pred 1, true 0 -> 0, 0, 0 (listed, support 0)
     * micro: tp 1 / pred 3 = 1/3, recall 1/3, F 1/3, support 3
     * macro over A, B, C: P = R = F = .5 / 3 = 1/6
     * weighted by support (2, 1, 0): P = R = F = (.5 * 2) / 3 = 1/3 */
    const char *g1[] = {"B-A", "I-A", "O", "B-B", "O", "B-A"};
    const char *p1[] = {"B-A", "I-A", "O", "B-A", "O", "O"};
    const char *g2[] = {"O"}, *p2[] = {"B-C"};
    const char *const *gold[] = {g1, g2}, *const *pred[] = {p1, p2};
    const int32_t len[] = {6, 1};
    cl_eval_result r;
    score(gold, pred, len, 2, CL_EVAL_DEFAULT, &r);
    assert_int_equal(r.ntypes, 3);
    assert_string_equal(r.types[0].type, "A");
    assert_string_equal(r.types[2].type, "C");
    assert_close(r.types[0].prf.f1, 0.5);
    assert_int_equal(r.types[2].support, 0);
    assert_int_equal(r.types[2].predicted, 1);
    assert_close(r.micro.precision, 1.0 / 3);
    assert_close(r.micro.recall, 1.0 / 3);
    assert_close(r.micro.f1, 1.0 / 3);
    assert_int_equal(r.micro.support, 3);
    assert_close(r.macro.precision, 1.0 / 6);
    assert_close(r.macro.f1, 1.0 / 6);
    assert_close(r.weighted.precision, 1.0 / 3);
    assert_close(r.weighted.recall, 1.0 / 3);
    assert_close(r.weighted.f1, 1.0 / 3);
    assert_int_equal(r.units, 2);
    assert_int_equal(r.misaligned, -1);
    cl_eval_result_free(&r);
}

static void paper_average_over_five_types(void **state)
{
    (void)state;
    /* SIGN perfect, ANAPHOR missed, the rest absent: the paper's average is
     * (1 + 0 * 4) / 5 and ignores ANAPHOR. */
    const char *g[] = {"B-SIGN", "O", "B-ANAPHOR"}, *p[] = {"B-SIGN", "O", "O"};
    const char *const *gold[] = {g}, *const *pred[] = {p};
    const int32_t len[] = {3};
    cl_eval_result r;
    score(gold, pred, len, 1, CL_EVAL_DEFAULT, &r);
    assert_close(r.average.precision, 0.2);
    assert_close(r.average.recall, 0.2);
    assert_close(r.average.f1, 0.2);
    assert_int_equal(r.average.support, 1);
    assert_non_null(cl_eval_result_type(&r, "ANAPHOR"));
    assert_close(r.macro.recall, 0.5);
    cl_eval_result_free(&r);
}

static void strict_rejects_labels_not_iob2(void **state)
{
    (void)state;
    const char *g[] = {"B-A", "I-A", "O"}, *p[] = {"B-A", "E-A", "x"};
    const char *w[] = {"Fever", "high", "."};
    cl_eval_params prm = cl_eval_default_params();
    prm.mode = CL_EVAL_STRICT;
    cl_error err;
    cl_scorer *s = NULL;
    assert_int_equal(cl_scorer_new(&prm, &s, &err), CL_OK);
    /* the first bad label of the predictions, named with its token */
    assert_int_equal(cl_scorer_add(s, g, p, 3, w, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "predictions token 2 ('high'): label 'E-A' is not IOB2"));
    /* the gold side is checked first; a label that is no prefix at all, too */
    const char *g2[] = {"O", "None", "O"};
    assert_int_equal(cl_scorer_add(s, g2, g, 3, NULL, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "gold token 2: label 'None' is not IOB2"));
    /* a rejected sentence adds nothing: the scorer goes on */
    assert_int_equal(cl_scorer_add(s, g, g, 3, NULL, &err), CL_OK);
    cl_eval_result r;
    assert_int_equal(cl_scorer_result(s, &r, &err), CL_OK);
    assert_int_equal(r.units, 1);
    assert_int_equal(cl_eval_result_type(&r, "A")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "A")->support, 1);
    cl_eval_result_free(&r);
    cl_scorer_free(s);
    /* default mode reads E- as the end of the entity: B-A E-A is [0,2) */
    const char *const *gold[] = {g}, *const *pred[] = {p};
    const int32_t len[] = {3};
    score(gold, pred, len, 1, CL_EVAL_DEFAULT, &r);
    assert_int_equal(cl_eval_result_type(&r, "A")->tp, 1);
    cl_eval_result_free(&r);
}

/* ---- paper-lines ---- */

static void paperlines_parse_rules(void **state)
{
    (void)state;
    const char *txt = "######\n"
                      "AEC : B-SKINRAREDISEASE\n"
                      "syndrome : I-SKINRAREDISEASE\n"
                      "### Output:\n"   /* no label: O */
                      "(\n"             /* no label: O */
                      ": : B-SIGN\n"    /* a colon token: three parts, O */
                      "[x] : [B-Sign]\n" /* brackets dropped, label kept as written */
                      "y :   \n"        /* empty label: O */
                      "\n"              /* blank line: skipped */
                      "z : I-SIGNS \n"
                      "######\r\n"
                      "a : O\r\n"
                      "######\n"
                      "######";
    cl_paperlines pl;
    cl_error err;
    assert_int_equal(cl_paperlines_parse(txt, strlen(txt), "t", &pl, &err), CL_OK);
    /* the trailing "######" is stripped away with the whitespace before it?
     * no: strip removes whitespace only, so the last separator opens an
     * empty block, as Python's split gives. */
    assert_int_equal(pl.nblocks, 4);
    cl_pl_block *b = &pl.blocks[0];
    assert_int_equal(b->n, 8);
    const char *want[] = {"B-SKINRAREDISEASE", "I-SKINRAREDISEASE", "O", "O", "O",
                          "B-Sign", "O", "I-SIGNS"};
    for (int i = 0; i < 8; i++)
        assert_string_equal(b->labels[i], want[i]);
    assert_string_equal(b->tokens[0], "AEC");
    assert_string_equal(b->tokens[5], "x");
    assert_int_equal(b->line, 1);
    assert_int_equal(pl.blocks[1].n, 1);
    assert_int_equal(pl.blocks[1].line, 11);
    assert_int_equal(pl.blocks[2].n, 0);
    assert_int_equal(pl.blocks[3].n, 0);
    cl_paperlines_free(&pl);

    /* text before the first separator is kept when not blank; a separator in
     * the middle of a line cuts it, as str.split does */
    const char *t2 = "a : B-X\nb ######c : I-X\n";
    assert_int_equal(cl_paperlines_parse(t2, strlen(t2), "t2", &pl, &err), CL_OK);
    assert_int_equal(pl.nblocks, 2);
    assert_int_equal(pl.blocks[0].n, 2);
    assert_string_equal(pl.blocks[0].labels[1], "O");
    assert_string_equal(pl.blocks[1].labels[0], "I-X");
    cl_paperlines_free(&pl);

    assert_int_equal(cl_paperlines_parse("", 0, "e", &pl, &err), CL_OK);
    assert_int_equal(pl.nblocks, 0);
    cl_paperlines_free(&pl);
    assert_int_equal(cl_paperlines_parse("######\n\xff", 8, "bad", &pl, &err), CL_ERR_UTF8);
    assert_non_null(strstr(err.msg, "bad"));
    assert_int_equal(cl_paperlines_parse("######\na : O\nb\0 : O", 19, "nul", &pl, &err),
                     CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "nul:3:"));
}

static void align_cuts_and_pads(void **state)
{
    (void)state;
    const char *p[] = {"B-A", "I-A", "O", "B-B"};
    const char *out[6];
    assert_true(cl_eval_align(p, 4, 2, out)); /* too long: cut */
    assert_string_equal(out[1], "I-A");
    assert_true(cl_eval_align(p, 2, 4, out)); /* too short: padded */
    assert_string_equal(out[2], "O");
    assert_string_equal(out[3], "O");
    assert_false(cl_eval_align(p, 4, 4, out));
    assert_string_equal(out[3], "B-B");
}

/* A token document: words joined by spaces, sentences cut at "|". */
static cl_doc *token_doc(const char *id, const char *const *words, const char *const *tags,
                         int n)
{
    cl_buf text;
    cl_buf_init(&text);
    int32_t starts[64], ends[64], k = 0, pos = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(words[i], "|"))
            continue;
        if (text.len) {
            cl_buf_putc(&text, ' ');
            pos++;
        }
        starts[k] = pos;
        cl_buf_puts(&text, words[i]);
        pos += cl_utf8_length(words[i], strlen(words[i]));
        ends[k++] = pos;
    }
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text.data, text.len, &d, &err), CL_OK);
    cl_buf_free(&text);
    for (int32_t i = 0; i < k; i++)
        assert_int_equal(cl_doc_push_token(d, starts[i], ends[i], &err), CL_OK);
    assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
    int32_t t = 0, sb = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(words[i], "|")) {
            assert_int_equal(cl_doc_push_sentence(d, sb, t, &err), CL_OK);
            sb = t;
            continue;
        }
        assert_int_equal(cl_doc_set_tag(d, t++, tags[i] ? tags[i] : "O", &err), CL_OK);
    }
    assert_int_equal(cl_doc_push_sentence(d, sb, t, &err), CL_OK);
    return d;
}

static void paperlines_against_gold(void **state)
{
    (void)state;
    cl_error err;
    cl_corpus *g;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    /* doc1 ends without ".": its last sentence runs on into doc2's first, as
     * brat2iob's Sentence_Num_Global does, so 3 paper sentences, not 4 */
    const char *w1[] = {"Fever", "occurs", ".", "|", "See", "(", "rash", ")"};
    const char *t1[] = {"B-SIGN", NULL, NULL, NULL, NULL, NULL, "B-SIGN", NULL};
    const char *w2[] = {"Pain", "is", "rare", ".", "|", "Ok", "."};
    const char *t2[] = {"B-SYMPTOM", NULL, NULL, NULL, NULL, NULL, NULL};
    assert_int_equal(cl_corpus_add(g, token_doc("d1", w1, t1, NL(w1)), &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d2", w2, t2, NL(w2)), &err), CL_OK);
    /* the first block has the right length, one token written otherwise
     * ("ocurs") and one in the brackets the paper's parser drops */
    const char *txt = "######\n[Fever] : B-SIGN\nocurs : O\n. : O\n"
                      "######\nSee : O\n( : O\nrash : B-SIGN\n) : O\nPain : B-SYMPTOM\n"
                      "is : O\nrare : O\n. : O\nextra : B-SIGN\n" /* too long */
                      "######\nOk : B-DISEASE\n";                 /* too short */
    cl_paperlines pl;
    assert_int_equal(cl_paperlines_parse(txt, strlen(txt), "p", &pl, &err), CL_OK);
    assert_int_equal(pl.nblocks, 3);
    cl_eval_result r;
    cl_eval_params prm = cl_eval_default_params();
    prm.errors = true;
    assert_int_equal(cl_eval_paperlines(g, &pl, "p", &prm, &r, &err), CL_OK);
    assert_int_equal(r.units, 3);
    assert_int_equal(r.misaligned, 2);
    assert_int_equal(r.misaligned_short, 1);
    assert_int_equal(r.text_mismatch, 1);
    assert_int_equal(r.text_mismatch_tokens, 1);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->tp, 2); /* extra one cut */
    assert_int_equal(cl_eval_result_type(&r, "SYMPTOM")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "DISEASE")->predicted, 1);
    assert_true(r.has_errors);
    assert_int_equal(r.errors.count[CL_ERRC_CORRECT], 3);
    assert_int_equal(r.errors.count[CL_ERRC_FALSE_POSITIVE], 1);
    assert_string_equal(r.errors.examples[CL_ERRC_FALSE_POSITIVE][0].sentence,
                        "{{Ok}}DISEASE .");
    assert_string_equal(r.errors.examples[CL_ERRC_CORRECT][1].sentence,
                        "See ( [[{{rash}}SIGN]]SIGN ) Pain is rare .");

    cl_buf out;
    cl_buf_init(&out);
    assert_int_equal(cl_eval_format_json(&r, &out, &err), CL_OK);
    assert_non_null(strstr(out.data, "\"misaligned_sentences\":2,\"misaligned_short\":1,"
                                     "\"text_mismatch_sentences\":1,\"text_mismatch_lines\":1"));
    assert_non_null(strstr(out.data, "\"per_type\":{"));
    cl_buf_reset(&out);
    assert_int_equal(cl_eval_format_table(&r, &out, &err), CL_OK);
    assert_non_null(strstr(out.data, "average (paper)"));
    assert_non_null(strstr(out.data, "misaligned sentences: 2 of 3 (1 short, 1 long)\n"
                                     "right length, other token texts: 1 sentences (1 lines)"));
    cl_buf_free(&out);
    cl_eval_result_free(&r);
    cl_paperlines_free(&pl);

    /* one block too many: an error naming the file and line */
    const char *t3 = "######\na : O\n######\nb : O\n######\nc : O\n######\nd : O\n";
    assert_int_equal(cl_paperlines_parse(t3, strlen(t3), "p3", &pl, &err), CL_OK);
    assert_int_equal(cl_eval_paperlines(g, &pl, "p3", NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "p3:7:"));
    cl_paperlines_free(&pl);
    cl_corpus_free(g);
}

static void token_corpora_must_agree(void **state)
{
    (void)state;
    cl_error err;
    const char *w[] = {"Fever", "and", "pain", "."};
    const char *tg[] = {"B-SIGN", NULL, "B-SYMPTOM", NULL};
    const char *tp[] = {"B-SIGN", NULL, "B-SIGN", NULL};
    const char *w2[] = {"Fever", "and", "pains", "."};
    cl_corpus *g, *p, *q;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&p, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&q, &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d", w, tg, 4), &err), CL_OK);
    assert_int_equal(cl_corpus_add(p, token_doc("d", w, tp, 4), &err), CL_OK);
    assert_int_equal(cl_corpus_add(q, token_doc("d", w2, tp, 4), &err), CL_OK);
    cl_eval_result r;
    assert_int_equal(cl_eval_corpora(g, p, NULL, &r, &err), CL_OK);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->predicted, 2);
    assert_int_equal(cl_eval_result_type(&r, "SYMPTOM")->tp, 0);
    cl_eval_result_free(&r);
    assert_int_equal(cl_eval_corpora(g, q, NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "'pain'"));
    const char *w3[] = {"Fever", "and", "|", "pain", "."};
    const char *t3[] = {NULL, NULL, NULL, NULL, NULL};
    cl_corpus *s;
    assert_int_equal(cl_corpus_new(&s, &err), CL_OK);
    assert_int_equal(cl_corpus_add(s, token_doc("d", w3, t3, 5), &err), CL_OK);
    assert_int_equal(cl_eval_corpora(g, s, NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "gold has 1 sentences, predictions 2"));
    assert_non_null(strstr(err.msg, "sentence 1: gold document d, sentence 1 (4 tokens), "
                                    "predictions document d, sentence 1 (2 tokens)"));
    cl_corpus_free(g);
    cl_corpus_free(p);
    cl_corpus_free(q);
    cl_corpus_free(s);
}

/* The same two sentences, but the gold has them in two documents, the first
 * without a closing ".": the gold's paper units join them, the predictions'
 * do not.  The message must say so, not "2 sentences but the gold has 2". */
static void token_corpora_laid_out_differently(void **state)
{
    (void)state;
    cl_error err;
    const char *w1[] = {"Fever"}, *w2[] = {"pain", "."};
    const char *t1[] = {"B-SIGN"}, *t2[] = {"B-SYMPTOM", NULL};
    const char *wp[] = {"Fever", "|", "pain", "."};
    const char *tp[] = {"B-SIGN", NULL, "B-SYMPTOM", NULL};
    cl_corpus *g, *p;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&p, &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d1", w1, t1, 1), &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d2", w2, t2, 2), &err), CL_OK);
    assert_int_equal(cl_corpus_add(p, token_doc("d1", wp, tp, 4), &err), CL_OK);
    cl_eval_params prm = cl_eval_default_params();
    prm.gold_name = "g.conll";
    prm.pred_name = "p.conll";
    cl_eval_result r;
    assert_int_equal(cl_eval_corpora(g, p, &prm, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "sentence 1: gold (g.conll) has 3 tokens (document d1, "
                                    "sentence 1 + document d2, sentence 1), predictions "
                                    "(p.conll) 1 (document d1, sentence 1)"));
    assert_non_null(strstr(err.msg, "split the text into documents differently"));
    assert_non_null(strstr(err.msg, "does not end in . ? !"));
    cl_corpus_free(g);
    cl_corpus_free(p);
}

/* A byte-order mark or a no-break space in one file only: the message shows
 * the invisible character instead of "gold 'a', predictions 'a'". */
static void token_mismatch_shows_invisible_characters(void **state)
{
    (void)state;
    cl_error err;
    const char *wg[] = {"\xef\xbb\xbf" "a", "b\xc2\xa0" "c"}, *wp[] = {"a", "b c"};
    const char *wq[] = {"a", "b\xc2\xa0" "c"};
    const char *t[] = {NULL, NULL};
    cl_corpus *g, *p;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&p, &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d", wg, t, 2), &err), CL_OK);
    assert_int_equal(cl_corpus_add(p, token_doc("d", wp, t, 2), &err), CL_OK);
    cl_eval_result r;
    assert_int_equal(cl_eval_corpora(g, p, NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "token 1: gold '\\u{FEFF}a', predictions 'a'"));
    /* once the first token agrees: the no-break space */
    cl_corpus_free(g);
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d", wq, t, 2), &err), CL_OK);
    assert_int_equal(cl_eval_corpora(g, p, NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "token 2: gold 'b\\u{00A0}c', predictions 'b c'"));
    cl_corpus_free(g);
    cl_corpus_free(p);
}

/* Strict mode over whole corpora and against LLM output: the error names
 * the side, document, sentence, token and label (the file, for paper-lines). */
static void strict_corpora_name_the_bad_label(void **state)
{
    (void)state;
    cl_error err;
    const char *w[] = {"Fever", ".", "|", "Pain", "hurts", "."};
    const char *tg[] = {"B-SIGN", NULL, NULL, "B-SYMPTOM", NULL, NULL};
    const char *tp[] = {"B-SIGN", NULL, NULL, "S-SYMPTOM", NULL, NULL};
    cl_corpus *g, *p;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&p, &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, token_doc("d", w, tg, NL(w)), &err), CL_OK);
    assert_int_equal(cl_corpus_add(p, token_doc("d", w, tp, NL(w)), &err), CL_OK);
    cl_eval_params prm = cl_eval_default_params();
    prm.mode = CL_EVAL_STRICT;
    prm.pred_name = "p.conll";
    cl_eval_result r;
    assert_int_equal(cl_eval_corpora(g, p, &prm, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "predictions (p.conll), sentence 2 (document d, sentence "
                                    "2), token 1 ('Pain'): label 'S-SYMPTOM' is not IOB2"));
    /* a unit over two documents (d1 does not end in "."): the token is
     * counted in its own document's sentence */
    {
        const char *w1[] = {"Fever"}, *w2[] = {"then", "pain", "."};
        const char *t1[] = {NULL}, *t2[] = {NULL, "B-SYMPTOM", NULL};
        const char *t2p[] = {NULL, "S-SYMPTOM", NULL};
        cl_corpus *g2, *p2;
        assert_int_equal(cl_corpus_new(&g2, &err), CL_OK);
        assert_int_equal(cl_corpus_new(&p2, &err), CL_OK);
        assert_int_equal(cl_corpus_add(g2, token_doc("d1", w1, t1, 1), &err), CL_OK);
        assert_int_equal(cl_corpus_add(g2, token_doc("d2", w2, t2, 3), &err), CL_OK);
        assert_int_equal(cl_corpus_add(p2, token_doc("d1", w1, t1, 1), &err), CL_OK);
        assert_int_equal(cl_corpus_add(p2, token_doc("d2", w2, t2p, 3), &err), CL_OK);
        assert_int_equal(cl_eval_corpora(g2, p2, &prm, &r, &err), CL_ERR_PARSE);
        assert_non_null(strstr(err.msg, "sentence 1 (document d2, sentence 1), token 2 ('pain'): "
                                        "label 'S-SYMPTOM'"));
        cl_corpus_free(g2);
        cl_corpus_free(p2);
    }
    prm.mode = CL_EVAL_DEFAULT; /* default mode reads S- as a one-token entity */
    assert_int_equal(cl_eval_corpora(g, p, &prm, &r, &err), CL_OK);
    assert_int_equal(cl_eval_result_type(&r, "SYMPTOM")->tp, 1);
    cl_eval_result_free(&r);
    const char *txt = "######\nFever : B-SIGN\n. : O\n######\nPain : B-SYMPTOM\n"
                      "hurts : E-SYMPTOM\n. : O\n";
    cl_paperlines pl;
    assert_int_equal(cl_paperlines_parse(txt, strlen(txt), "a.lines", &pl, &err), CL_OK);
    prm.mode = CL_EVAL_STRICT;
    assert_int_equal(cl_eval_paperlines(g, &pl, "a.lines", &prm, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "a.lines:4: sentence block 2 (it starts here), answer token "
                                    "2 ('hurts'): label 'E-SYMPTOM' is not IOB2"));
    cl_paperlines_free(&pl);
    cl_corpus_free(g);
    cl_corpus_free(p);
}

/* ---- span level ---- */

static cl_doc *span_doc(const char *id, const char *text)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text, strlen(text), &d, &err), CL_OK);
    return d;
}

static void add_ent(cl_doc *d, const char *type, int32_t s, int32_t e, int32_t s2, int32_t e2)
{
    cl_error err;
    cl_span f[2] = {{s, e}, {s2, e2}};
    assert_int_equal(cl_doc_add_entity(d, NULL, type, f, s2 >= 0 ? 2 : 1, NULL, &err), CL_OK);
}

static void span_exact_vs_overlap(void **state)
{
    (void)state;
    cl_error err;
    /*            0123456789012345678901234 */
    const char *text = "fever and skin rash here";
    cl_corpus *g, *p;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&p, &err), CL_OK);
    cl_doc *gd = span_doc("doc", text);
    add_ent(gd, "SIGN", 0, 5, -1, -1);             /* fever */
    add_ent(gd, "SKINRAREDISEASE", 10, 19, -1, -1); /* skin rash */
    add_ent(gd, "SYMPTOM", 15, 19, 0, 5);         /* discontinuous rash..fever */
    assert_int_equal(cl_corpus_add(g, gd, &err), CL_OK);
    assert_int_equal(cl_corpus_add(g, span_doc("empty", "nothing"), &err), CL_OK);
    cl_doc *pd = span_doc("doc", text);
    add_ent(pd, "SIGN", 0, 5, -1, -1);             /* exact */
    add_ent(pd, "SKINRAREDISEASE", 15, 19, -1, -1); /* overlap only */
    add_ent(pd, "SYMPTOM", 0, 19, -1, -1);         /* covers, not the fragments */
    add_ent(pd, "SIGN", 20, 24, -1, -1);           /* spurious */
    assert_int_equal(cl_corpus_add(p, pd, &err), CL_OK);

    cl_eval_params prm = cl_eval_default_params();
    cl_eval_result r;
    assert_int_equal(cl_eval_span_corpora(g, p, &prm, &r, &err), CL_OK);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->predicted, 2);
    assert_int_equal(cl_eval_result_type(&r, "SKINRAREDISEASE")->tp, 0);
    assert_int_equal(cl_eval_result_type(&r, "SYMPTOM")->tp, 0);
    assert_int_equal(r.missing_docs, 1);
    assert_int_equal(r.units, 2);
    cl_eval_result_free(&r);

    prm.match = CL_MATCH_OVERLAP;
    prm.errors = true;
    assert_int_equal(cl_eval_span_corpora(g, p, &prm, &r, &err), CL_OK);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "SKINRAREDISEASE")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "SYMPTOM")->tp, 1);
    assert_close(r.micro.precision, 3.0 / 4);
    assert_close(r.micro.recall, 1.0);
    assert_int_equal(r.errors.count[CL_ERRC_CORRECT], 1);
    assert_int_equal(r.errors.count[CL_ERRC_FALSE_POSITIVE], 1);
    assert_int_equal(r.errors.count[CL_ERRC_BOUNDARY], 2);
    assert_string_equal(r.errors.examples[CL_ERRC_FALSE_POSITIVE][0].sentence,
                        "fever and skin rash {{here}}SIGN");
    cl_eval_result_free(&r);

    /* one gold entity is matched at most once */
    cl_corpus *p2;
    assert_int_equal(cl_corpus_new(&p2, &err), CL_OK);
    cl_doc *pd2 = span_doc("doc", text);
    add_ent(pd2, "SIGN", 0, 3, -1, -1);
    add_ent(pd2, "SIGN", 2, 5, -1, -1);
    assert_int_equal(cl_corpus_add(p2, pd2, &err), CL_OK);
    prm.errors = false;
    assert_int_equal(cl_eval_span_corpora(g, p2, &prm, &r, &err), CL_OK);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->tp, 1);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->predicted, 2);
    cl_eval_result_free(&r);

    /* a predicted document the gold lacks is an error */
    assert_int_equal(cl_corpus_add(p2, span_doc("stranger", "x"), &err), CL_OK);
    assert_int_equal(cl_eval_span_corpora(g, p2, &prm, &r, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "stranger"));
    cl_corpus_free(p2);
    cl_corpus_free(g);
    cl_corpus_free(p);
}

static void span_from_token_labels(void **state)
{
    (void)state;
    cl_error err;
    /* gold text has no space before "," or "."; the predicted token document
     * (as a CSV rebuilds it) has: tokens are placed on the gold text */
    const char *text = "Fever, then skin rash.";
    cl_corpus *g, *p;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_new(&p, &err), CL_OK);
    cl_doc *gd = span_doc("d", text);
    add_ent(gd, "SIGN", 0, 5, -1, -1);
    add_ent(gd, "SIGN", 12, 21, -1, -1);
    assert_int_equal(cl_corpus_add(g, gd, &err), CL_OK);
    const char *w[] = {"Fever", ",", "then", "skin", "rash", "."};
    const char *t[] = {"B-SIGN", NULL, NULL, "B-SIGN", "I-SIGN", NULL};
    assert_int_equal(cl_corpus_add(p, token_doc("d", w, t, 6), &err), CL_OK);
    cl_eval_result r;
    assert_int_equal(cl_eval_span_corpora(g, p, NULL, &r, &err), CL_OK);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->tp, 2);
    assert_int_equal(cl_eval_result_type(&r, "SIGN")->predicted, 2);
    cl_eval_result_free(&r);
    /* a token that is not in the gold text */
    cl_corpus *q;
    assert_int_equal(cl_corpus_new(&q, &err), CL_OK);
    const char *w2[] = {"Fever", ";"};
    assert_int_equal(cl_corpus_add(q, token_doc("d", w2, t, 2), &err), CL_OK);
    assert_int_equal(cl_eval_span_corpora(g, q, NULL, &r, &err), CL_ERR_PARSE);
    assert_non_null(strstr(err.msg, "';'"));
    cl_corpus_free(q);
    cl_corpus_free(g);
    cl_corpus_free(p);
}

static void error_classes(void **state)
{
    (void)state;
    /* gold: A[0,2) B[3,5) A[6,7) C[8,9)
     * pred: A[0,2) correct; A[3,5) wrong type; A[6,8) boundary (overlaps
     * A[6,7)); B[9,10) false positive; C[8,9) missed: false negative */
    const char *g[] = {"B-A", "I-A", "O", "B-B", "I-B", "O", "B-A", "O", "B-C", "O"};
    const char *p[] = {"B-A", "I-A", "O", "B-A", "I-A", "O", "B-A", "I-A", "O", "B-B"};
    const char *w[] = {"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"};
    cl_eval_params prm = cl_eval_default_params();
    prm.errors = true;
    cl_error err;
    cl_scorer *s = NULL;
    assert_int_equal(cl_scorer_new(&prm, &s, &err), CL_OK);
    assert_int_equal(cl_scorer_add(s, g, p, 10, w, &err), CL_OK);
    cl_eval_result r;
    assert_int_equal(cl_scorer_result(s, &r, &err), CL_OK);
    assert_int_equal(r.errors.count[CL_ERRC_CORRECT], 1);
    assert_int_equal(r.errors.count[CL_ERRC_TYPE], 1);
    assert_int_equal(r.errors.count[CL_ERRC_BOUNDARY], 1);
    assert_int_equal(r.errors.count[CL_ERRC_BOUNDARY_TYPE], 0);
    assert_int_equal(r.errors.count[CL_ERRC_FALSE_POSITIVE], 1);
    assert_int_equal(r.errors.count[CL_ERRC_FALSE_NEGATIVE], 1);
    assert_string_equal(r.errors.examples[CL_ERRC_BOUNDARY][0].gold, "w6 (A)");
    assert_string_equal(r.errors.examples[CL_ERRC_BOUNDARY][0].pred, "w6 w7 (A)");
    assert_string_equal(r.errors.examples[CL_ERRC_BOUNDARY][0].sentence,
                        "w0 w1 w2 w3 w4 w5 [[{{w6]]A w7}}A w8 w9");
    cl_eval_result_free(&r);
    /* more than three of a kind: three examples kept, all counted */
    for (int i = 0; i < 4; i++)
        assert_int_equal(cl_scorer_add(s, g, p, 10, NULL, &err), CL_OK);
    assert_int_equal(cl_scorer_result(s, &r, &err), CL_OK);
    assert_int_equal(r.errors.count[CL_ERRC_TYPE], 5);
    assert_int_equal(r.errors.nexamples[CL_ERRC_TYPE], 3);
    cl_eval_result_free(&r);
    cl_scorer_free(s);
}

/* clinner eval over files: the lean token path, the report comparing two
 * predictions, and the parameter checks. */
static void files_and_report(void **state)
{
    (void)state;
    cl_error err;
    const char *const preds[] = {"tests/fixtures/eval/gold.conll", "tests/fixtures/eval/pred.conll"};
    cl_format fmts[] = {CL_FORMAT_CONLL};
    cl_eval_files_params p = {.gold_path = "tests/fixtures/eval/gold.conll",
                              .gold_fmt = CL_FORMAT_CONLL, .pred_paths = preds, .npreds = 1,
                              .pred_fmts = fmts, .nfmts = 1, .eval = cl_eval_default_params()};
    cl_eval_result self, other;
    assert_int_equal(cl_eval_files(&p, &self, &err), CL_OK);
    assert_true(self.micro.f1 > 0.999); /* gold against itself */
    cl_eval_result_free(&self);
    char html[] = "/tmp/clinner-eval-XXXXXX";
    int fd = mkstemp(html);
    assert_true(fd >= 0);
    close(fd);
    p.pred_paths = preds + 1;
    assert_int_equal(cl_eval_files(&p, &other, &err), CL_OK);
    p.pred_paths = preds;
    p.npreds = 2;
    assert_int_equal(cl_eval_files(&p, &self, &err), CL_ERR_ARG); /* two need a report */
    p.html_path = html;
    assert_int_equal(cl_eval_files(&p, &self, &err), CL_OK);
    assert_true(self.micro.f1 > 0.999);
    assert_true(self.has_errors); /* collected for the report */
    char *text = NULL;
    size_t n = 0;
    assert_int_equal(cl_read_file(html, &text, &n, &err), CL_OK);
    assert_non_null(strstr(text, "pred.conll")); /* the second column */
    assert_non_null(strstr(text, "gold.conll"));
    free(text);
    cl_eval_result_free(&self);
    cl_eval_result_free(&other);
    remove(html);
    p.nfmts = 3;
    assert_int_equal(cl_eval_files(&p, &self, &err), CL_ERR_ARG);
}

/* Which scoring two formats call for, and the pairs that cannot be scored. */
static void scoring_follows_the_formats(void **state)
{
    (void)state;
    cl_error err;
    bool span = true;
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_CONLL, CL_FORMAT_PAPER_CSV, false, &span, &err),
                     CL_OK);
    assert_false(span);
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_CONLL, CL_FORMAT_JSONL, true, &span, &err),
                     CL_OK);
    assert_true(span); /* --match asks for spans */
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_BRAT, CL_FORMAT_CONLL, false, &span, &err),
                     CL_OK);
    assert_true(span);
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_PAPER_CSV, CL_FORMAT_PAPER_LINES, true, &span,
                                           &err),
                     CL_OK);
    assert_false(span); /* LLM lines align by position whatever --match says */
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_BRAT, CL_FORMAT_PAPER_LINES, false, &span, &err),
                     CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "token-level gold"));
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_PAPER_LINES, CL_FORMAT_CONLL, false, &span, &err),
                     CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "gold cannot be paper-lines"));
    assert_int_equal(cl_eval_scoring_check(CL_FORMAT_CONLL, CL_FORMAT_TEXT, false, &span, &err),
                     CL_ERR_ARG);
}

static void paper_gpt4_row(void **state)
{
    (void)state;
    REQUIRE_SHARED(csv, "data/paper/test_combined_IOB_data.csv");
    REQUIRE_SHARED(out, "data/paper/gpt4-1106-preview-chat_all_5shot_result_test.txt");
    cl_error err;
    cl_corpus *g;
    assert_int_equal(cl_corpus_new(&g, &err), CL_OK);
    assert_int_equal(cl_corpus_read(g, CL_FORMAT_PAPER_CSV, csv, &err), CL_OK);
    cl_paperlines pl;
    assert_int_equal(cl_paperlines_read(out, &pl, &err), CL_OK);
    assert_int_equal(pl.nblocks, 1735);
    cl_eval_result r;
    assert_int_equal(cl_eval_paperlines(g, &pl, out, NULL, &r, &err), CL_OK);
    assert_int_equal(r.misaligned, 46);
    assert_int_equal(r.misaligned_short, 3); /* 43 answers too long */
    /* two right-length answers wrote "occur" as "ocur" */
    assert_int_equal(r.text_mismatch, 2);
    assert_int_equal(r.text_mismatch_tokens, 2);
    const cl_type_score *s = cl_eval_result_type(&r, "RAREDISEASE");
    assert_int_equal(s->tp, 547);
    assert_int_equal(s->predicted, 910);
    assert_int_equal(s->support, 927);
    assert_true(fabs(r.average.f1 - 0.3214) < 0.0001);
    cl_eval_result_free(&r);
    cl_paperlines_free(&pl);
    cl_corpus_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(i_after_o_default_vs_strict),
        cmocka_unit_test(entity_at_sentence_end),
        cmocka_unit_test(type_change_inside_a_run),
        cmocka_unit_test(b_after_i_starts_new),
        cmocka_unit_test(iobes_and_odd_labels),
        cmocka_unit_test(sentences_are_separated),
        cmocka_unit_test(empty_predictions_give_zero),
        cmocka_unit_test(averages_by_hand),
        cmocka_unit_test(paper_average_over_five_types),
        cmocka_unit_test(strict_rejects_labels_not_iob2),
        cmocka_unit_test(paperlines_parse_rules),
        cmocka_unit_test(align_cuts_and_pads),
        cmocka_unit_test(paperlines_against_gold),
        cmocka_unit_test(token_corpora_must_agree),
        cmocka_unit_test(token_corpora_laid_out_differently),
        cmocka_unit_test(token_mismatch_shows_invisible_characters),
        cmocka_unit_test(strict_corpora_name_the_bad_label),
        cmocka_unit_test(span_exact_vs_overlap),
        cmocka_unit_test(span_from_token_labels),
        cmocka_unit_test(error_classes),
        cmocka_unit_test(paper_gpt4_row),
        cmocka_unit_test(scoring_follows_the_formats),
        cmocka_unit_test(files_and_report),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
