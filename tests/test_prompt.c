/* test_prompt.c - label sets and BIO validity, answer lines, GBNF literals
 * and grammars (text form, and acceptance checked with a small GBNF
 * matcher), answer parsing, and the prompt builder's strategies on
 * hand-made data and on the real ACTH-Deficiency document. */
#include "testutil.h"

#include "clinner/corpus.h"
#include "clinner/prompt.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

#define STARTS(s, lit) (strncmp((s), (lit), sizeof(lit) - 1) == 0)

/* ---- a small GBNF matcher for the grammars we write (literals, rule
 * references, parenthesised alternatives, sequences) ---- */

typedef enum { N_LIT, N_REF, N_SEQ, N_ALT } ntype;
typedef struct node {
    ntype t;
    char *s; /* literal bytes / rule name */
    size_t n;
    struct node **kids;
    int nkids;
} node;

typedef struct rule {
    char name[64];
    node *body;
} rule;

typedef struct gram {
    rule rules[4096];
    int nrules;
} gram;

static node *new_node(ntype t)
{
    node *n = calloc(1, sizeof *n);
    n->t = t;
    return n;
}

static void add_kid(node *p, node *k)
{
    p->kids = realloc(p->kids, (size_t)(p->nkids + 1) * sizeof *p->kids);
    p->kids[p->nkids++] = k;
}

static void free_node(node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->nkids; i++)
        free_node(n->kids[i]);
    free(n->kids);
    free(n->s);
    free(n);
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ')
        p++;
    return p;
}

static node *parse_alt(const char **pp);

static node *parse_seq(const char **pp)
{
    node *seq = new_node(N_SEQ);
    const char *p = *pp;
    for (;;) {
        p = skip_ws(p);
        if (*p == '"') {
            p++;
            node *l = new_node(N_LIT);
            l->s = malloc(strlen(p) + 1);
            while (*p != '"') {
                assert_true(*p != '\0' && *p != '\n');
                if (*p == '\\') {
                    p++;
                    char c = *p++;
                    if (c == 'n')
                        l->s[l->n++] = '\n';
                    else if (c == 'r')
                        l->s[l->n++] = '\r';
                    else if (c == 't')
                        l->s[l->n++] = '\t';
                    else if (c == 'x') {
                        char hex[3] = {p[0], p[1], 0};
                        l->s[l->n++] = (char)strtol(hex, NULL, 16);
                        p += 2;
                    } else {
                        assert_true(c == '"' || c == '\\');
                        l->s[l->n++] = c;
                    }
                } else {
                    l->s[l->n++] = *p++;
                }
            }
            p++;
            add_kid(seq, l);
        } else if (*p == '(') {
            p++;
            add_kid(seq, parse_alt(&p));
            p = skip_ws(p);
            assert_int_equal(*p, ')');
            p++;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                   *p == '-') {
            node *r = new_node(N_REF);
            const char *s = p;
            while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '-')
                p++;
            r->s = cl_strndup(s, (size_t)(p - s));
            add_kid(seq, r);
        } else {
            break;
        }
    }
    *pp = p;
    return seq;
}

static node *parse_alt(const char **pp)
{
    node *alt = new_node(N_ALT);
    add_kid(alt, parse_seq(pp));
    while (*skip_ws(*pp) == '|') {
        *pp = skip_ws(*pp) + 1;
        add_kid(alt, parse_seq(pp));
    }
    return alt;
}

static void parse_grammar(gram *g, const char *text)
{
    g->nrules = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        const char *def = strstr(p, " ::= ");
        assert_true(def && def < nl);
        /* rule names: letters, digits and '-' only */
        for (const char *c = p; c < def; c++)
            assert_true((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                        (*c >= '0' && *c <= '9') || *c == '-');
        rule *r = &g->rules[g->nrules++];
        assert_true(def - p < 63);
        memcpy(r->name, p, (size_t)(def - p));
        r->name[def - p] = '\0';
        const char *q = def + 5;
        r->body = parse_alt(&q);
        assert_true(q == nl);
        p = nl + 1;
    }
}

static void free_grammar(gram *g)
{
    for (int i = 0; i < g->nrules; i++)
        free_node(g->rules[i].body);
    g->nrules = 0;
}

static node *find_rule(gram *g, const char *name)
{
    for (int i = 0; i < g->nrules; i++)
        if (!strcmp(g->rules[i].name, name))
            return g->rules[i].body;
    fail_msg("undefined rule %s", name);
    return NULL;
}

/* Does node match s[at..len) entirely, followed by the continuation? Our
 * grammars are deterministic enough for a depth-first search. */
typedef struct cont {
    node **items;
    int n;
} cont;

static bool match(gram *g, node **stack, int depth, const char *s, size_t len, size_t at)
{
    if (depth == 0)
        return at == len;
    node *top = stack[depth - 1];
    depth--;
    switch (top->t) {
    case N_LIT:
        if (len - at < top->n || memcmp(s + at, top->s, top->n) != 0)
            return false;
        return match(g, stack, depth, s, len, at + top->n);
    case N_REF:
        stack[depth++] = find_rule(g, top->s);
        return match(g, stack, depth, s, len, at);
    case N_SEQ:
        for (int i = top->nkids - 1; i >= 0; i--)
            stack[depth++] = top->kids[i];
        return match(g, stack, depth, s, len, at);
    case N_ALT: {
        node **copy = malloc(4096 * sizeof *copy);
        for (int i = 0; i < top->nkids; i++) {
            memcpy(copy, stack, (size_t)depth * sizeof *copy);
            copy[depth] = top->kids[i];
            if (match(g, copy, depth + 1, s, len, at)) {
                free(copy);
                return true;
            }
        }
        free(copy);
        return false;
    }
    }
    return false;
}

static bool accepts(const char *grammar, const char *answer)
{
    static gram g;
    parse_grammar(&g, grammar);
    node **stack = malloc(4096 * sizeof *stack);
    stack[0] = find_rule(&g, "root");
    bool ok = match(&g, stack, 1, answer, strlen(answer), 0);
    free(stack);
    free_grammar(&g);
    return ok;
}

/* ---- labels ---- */

static void label_set_and_bio_validity(void **state)
{
    (void)state;
    cl_label_set ls;
    cl_error err;
    assert_int_equal(cl_label_set_init(&ls, NULL, 0, &err), CL_OK);
    assert_int_equal(ls.ntypes, 5);
    assert_int_equal(ls.nlabels, 11);
    assert_string_equal(ls.labels[0], "O");
    assert_string_equal(ls.labels[1], "B-DISEASE");
    assert_string_equal(ls.labels[2], "I-DISEASE");
    assert_string_equal(ls.labels[10], "I-SYMPTOM");
    assert_int_equal(cl_label_set_find(&ls, "B-SIGN"), 7);
    assert_int_equal(cl_label_set_find(&ls, "B-ANAPHOR"), -1);
    /* I-X only after B-X or I-X */
    assert_true(cl_label_valid_after(&ls, -1, 0));
    assert_true(cl_label_valid_after(&ls, -1, 7));
    assert_false(cl_label_valid_after(&ls, -1, 8));
    assert_false(cl_label_valid_after(&ls, 0, 8));
    assert_true(cl_label_valid_after(&ls, 7, 8));
    assert_true(cl_label_valid_after(&ls, 8, 8));
    assert_false(cl_label_valid_after(&ls, 1, 8)); /* I-SIGN after B-DISEASE */
    assert_false(cl_label_valid_after(&ls, 0, 11));
    bool allowed[11];
    assert_int_equal(cl_label_allowed(&ls, -1, allowed), 6); /* O + five B- */
    assert_int_equal(cl_label_allowed(&ls, 3, allowed), 7);  /* + I-RAREDISEASE */
    assert_true(allowed[4]);
    assert_false(allowed[2]);
    cl_label_set_free(&ls);

    const char *bad[] = {"SIGN", "SIGN"};
    assert_int_equal(cl_label_set_init(&ls, bad, 2, &err), CL_ERR_ARG);
    const char *space[] = {"A B"};
    assert_int_equal(cl_label_set_init(&ls, space, 1, &err), CL_ERR_ARG);
    const char *colon[] = {"A:B"};
    assert_int_equal(cl_label_set_init(&ls, colon, 1, &err), CL_ERR_ARG);
}

static void answer_lines_and_names(void **state)
{
    (void)state;
    cl_buf b;
    cl_buf_init(&b);
    cl_error err;
    assert_int_equal(cl_answer_line(&b, "fever", 5, "B-SIGN", &err), CL_OK);
    assert_int_equal(cl_answer_line(&b, "(xyz", 1, "O", &err), CL_OK);
    assert_string_equal(b.data, "fever : B-SIGN\n( : O\n");
    cl_buf_free(&b);
    cl_strategy s;
    assert_int_equal(cl_strategy_from_name("knn-shot", &s, &err), CL_OK);
    assert_int_equal(s, CL_STRATEGY_KNN_SHOT);
    assert_string_equal(cl_strategy_name(CL_STRATEGY_RAG), "rag");
    assert_int_equal(cl_strategy_from_name("two-shot", &s, &err), CL_ERR_ARG);
    assert_non_null(strstr(err.msg, "two-shot"));
    cl_decode d;
    assert_int_equal(cl_decode_from_name("forced", &d, &err), CL_OK);
    assert_int_equal(d, CL_DECODE_FORCED);
    assert_string_equal(cl_decode_name(CL_DECODE_GRAMMAR), "grammar");
    assert_int_equal(cl_decode_from_name("greedy", &d, &err), CL_ERR_ARG);
}

/* ---- grammar ---- */

static void gbnf_literal_escapes(void **state)
{
    (void)state;
    cl_buf b;
    cl_buf_init(&b);
    const char s[] = "a\"b\\c\nd\re\tf\x01g\x7f\xC3\xA9[x]";
    assert_int_equal(cl_gbnf_literal(&b, s, sizeof s - 1, NULL), CL_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\re\\tf\\x01g\\x7F\xC3\xA9[x]\"");
    cl_buf_free(&b);
}

static void grammar_text_form(void **state)
{
    (void)state;
    cl_label_set ls;
    cl_error err;
    const char *types[] = {"SIGN"};
    assert_int_equal(cl_label_set_init(&ls, types, 1, &err), CL_OK);
    const char *toks[] = {"Fever", "a\"b"};
    cl_buf g;
    cl_buf_init(&g);
    assert_int_equal(cl_grammar_for_tokens(&ls, toks, NULL, 2, &g, &err), CL_OK);
    assert_string_equal(g.data, "root ::= l0-o\n"
                                "k0 ::= \"Fever : \"\n"
                                "l0-o ::= k0 ( \"O\\n\" l1-o | \"B-SIGN\\n\" l1-t0 )\n"
                                "k1 ::= \"a\\\"b : \"\n"
                                "l1-o ::= k1 ( \"O\\n\" | \"B-SIGN\\n\" )\n"
                                "l1-t0 ::= k1 ( \"O\\n\" | \"B-SIGN\\n\" | \"I-SIGN\\n\" )\n");
    assert_true(accepts(g.data, "Fever : B-SIGN\na\"b : I-SIGN\n"));
    assert_true(accepts(g.data, "Fever : O\na\"b : B-SIGN\n"));
    assert_false(accepts(g.data, "Fever : O\na\"b : I-SIGN\n")); /* I after O */
    assert_false(accepts(g.data, "Fever : O\n"));                /* a line missing */
    assert_false(accepts(g.data, "Fever : O\na\"b : O\nx : O\n"));
    assert_false(accepts(g.data, "fever : O\na\"b : O\n")); /* not the token's text */
    assert_false(accepts(g.data, "Fever : O\na\"b : O"));    /* no final newline */
    /* empty sentence, empty token */
    assert_int_equal(cl_grammar_for_tokens(&ls, toks, NULL, 0, &g, &err), CL_ERR_ARG);
    const char *empty[] = {""};
    assert_int_equal(cl_grammar_for_tokens(&ls, empty, NULL, 1, &g, &err), CL_ERR_ARG);
    cl_buf_free(&g);
    cl_label_set_free(&ls);
}

/* Every BIO-valid labelling of a sentence is accepted, every invalid one
 * refused, with the paper's five types and awkward token texts. */
static void grammar_accepts_exactly_valid_answers(void **state)
{
    (void)state;
    cl_label_set ls;
    cl_error err;
    assert_int_equal(cl_label_set_init(&ls, NULL, 0, &err), CL_OK);
    const char *toks[] = {"\"", "\\n", "\xC3\xA9t\xC3\xA9", ":"};
    cl_buf g, a;
    cl_buf_init(&g);
    cl_buf_init(&a);
    assert_int_equal(cl_grammar_for_tokens(&ls, toks, NULL, 4, &g, &err), CL_OK);
    unsigned seed = 12345;
    for (int trial = 0; trial < 300; trial++) {
        cl_buf_reset(&a);
        bool valid = true;
        int32_t prev = -1;
        for (int i = 0; i < 4; i++) {
            seed = seed * 1103515245u + 12345u;
            int32_t l = (int32_t)((seed >> 16) % (unsigned)ls.nlabels);
            valid &= cl_label_valid_after(&ls, prev, l);
            prev = l;
            assert_int_equal(cl_answer_line(&a, toks[i], strlen(toks[i]), ls.labels[l], &err),
                             CL_OK);
        }
        assert_int_equal(accepts(g.data, a.data), valid);
    }
    cl_buf_free(&g);
    cl_buf_free(&a);
    cl_label_set_free(&ls);
}

/* ---- answers ---- */

static void answer_parse_aligns_like_the_paper(void **state)
{
    (void)state;
    cl_label_set ls;
    cl_error err;
    assert_int_equal(cl_label_set_init(&ls, NULL, 0, &err), CL_OK);
    int32_t lab[4];
    cl_answer_info info;
    const char *ok = "Fever : B-SIGN\nand : O\nrash : B-SIGN\n. : O\n";
    assert_int_equal(cl_answer_parse(&ls, ok, strlen(ok), 4, lab, &info, &err), CL_OK);
    assert_false(info.misaligned);
    assert_int_equal(info.lines, 4);
    assert_int_equal(lab[0], 7);
    assert_int_equal(lab[1], 0);
    /* too short: padded with O; unknown label read as O */
    const char *shortans = "Fever : B-Sign\nand : O";
    assert_int_equal(cl_answer_parse(&ls, shortans, strlen(shortans), 4, lab, &info, &err), CL_OK);
    assert_true(info.misaligned);
    assert_int_equal(info.lines, 2);
    assert_int_equal(info.invalid_labels, 1);
    assert_int_equal(lab[0], 0);
    assert_int_equal(lab[3], 0);
    /* too long: cut; invalid UTF-8 does not stop the parse */
    const char *longans = "a : O\nb : B-DISEASE\nc : I-DISEASE\nd : O\ne\xff : O\n";
    assert_int_equal(cl_answer_parse(&ls, longans, strlen(longans), 4, lab, &info, &err), CL_OK);
    assert_true(info.misaligned);
    assert_int_equal(lab[2], 2);
    /* empty answer */
    assert_int_equal(cl_answer_parse(&ls, "", 0, 4, lab, &info, &err), CL_OK);
    assert_true(info.misaligned);
    assert_int_equal(info.lines, 0);
    cl_label_set_free(&ls);
}

/* ---- builder ---- */

/* A document from space-separated tokens, sentences of the given lengths,
 * tags from a parallel array (NULL: none). */
static cl_doc *make_doc(const char *id, const char *text, const int *lens, int nsent,
                        const char *const *tags)
{
    cl_error err;
    cl_doc *d;
    assert_int_equal(cl_doc_new(id, text, strlen(text), &d, &err), CL_OK);
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
    assert_int_equal(t, d->ntokens);
    if (tags) {
        assert_int_equal(cl_doc_reset_tags(d, &err), CL_OK);
        for (int32_t i = 0; i < d->ntokens; i++)
            assert_int_equal(cl_doc_set_tag(d, i, tags[i], &err), CL_OK);
    }
    return d;
}

static void answer_exact_checks_every_line(void **state)
{
    (void)state;
    cl_label_set ls;
    cl_error err;
    assert_int_equal(cl_label_set_init(&ls, NULL, 0, &err), CL_OK);
    cl_doc *d = make_doc("x", "Fever and rash . Ok", (int[]){3, 2}, 2, NULL);
    int32_t lab[3];
    const char *ok = "Fever : B-SIGN\nand : O\nrash : B-SIGN\n";
    assert_true(cl_answer_exact(&ls, ok, strlen(ok), d, 0, lab));
    assert_int_equal(lab[0], 7);
    assert_int_equal(lab[2], 7);
    assert_true(cl_answer_exact(&ls, ok, strlen(ok) - 1, d, 0, lab)); /* no final newline */
    const char *bad[] = {
        "Fever : B-SIGN\nand : O\n",                       /* a line short */
        "Fever : B-SIGN\nand : O\nrash : B-SIGN\nx : O\n", /* a line more */
        "fever : B-SIGN\nand : O\nrash : B-SIGN\n",        /* token text */
        "Fever : O\nand : I-SIGN\nrash : O\n",             /* I after O */
        "Fever : B-Sign\nand : O\nrash : O\n",             /* label not in the set */
        "Fever: B-SIGN\nand : O\nrash : O\n",              /* separator */
        "Fever : B-SIGN\nand : O\nrash : O\n\n",          /* trailing blank line */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cl_answer_exact(&ls, bad[i], strlen(bad[i]), d, 0, lab))
            fail_msg("accepted bad answer %zu", i);
    const char *s1 = ". : O\nOk : B-DISEASE\n";
    assert_true(cl_answer_exact(&ls, s1, strlen(s1), d, 1, lab));
    assert_false(cl_answer_exact(&ls, s1, strlen(s1), d, 2, lab));
    cl_doc_free(d);
    cl_label_set_free(&ls);
}

static void zero_shot_prompt(void **state)
{
    (void)state;
    cl_error err;
    cl_prompt_params p = cl_prompt_default_params();
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    int lens[] = {3, 2};
    cl_doc *d = make_doc("x", "Fever and rash . Ok", lens, 2, NULL);
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_build(b, d, 0, &pr, &err), CL_OK);
    assert_int_equal(pr.nmessages, 2);
    assert_int_equal(pr.nshared, 1);
    assert_string_equal(pr.messages[0].role, "system");
    const char *sys = pr.messages[0].content;
    for (int i = 0; i < CL_NUM_PAPER_TYPES; i++)
        assert_non_null(strstr(sys, cl_paper_types[i]));
    assert_non_null(strstr(sys, "I-SYMPTOM"));
    assert_non_null(strstr(sys, "\"token : label\""));
    assert_null(strstr(sys, "ANAPHOR"));
    assert_string_equal(pr.messages[1].role, "user");
    assert_string_equal(pr.messages[1].content, "Fever\nand\nrash");
    assert_int_equal(cl_prompt_build(b, d, 1, &pr, &err), CL_OK);
    assert_string_equal(pr.messages[1].content, ".\nOk");
    assert_int_equal(cl_prompt_build(b, d, 2, &pr, &err), CL_ERR_RANGE);
    assert_int_equal(pr.nmessages, 0);
    cl_prompt_free(&pr);
    cl_prompt_builder_free(b);
    cl_doc_free(d);
    /* strategies that need data refuse to start without it */
    p.strategy = CL_STRATEGY_FEW_SHOT;
    {
        cl_prompt_builder *none = NULL;
        assert_int_equal(cl_prompt_builder_new(&p, &none, &err), CL_ERR_ARG);
        assert_null(none);
    }
    assert_non_null(strstr(err.msg, "training data"));
    p.strategy = CL_STRATEGY_RAG;
    {
        cl_prompt_builder *none = NULL;
        assert_int_equal(cl_prompt_builder_new(&p, &none, &err), CL_ERR_ARG);
        assert_null(none);
    }
    assert_non_null(strstr(err.msg, "knowledge base"));
}

/* Hand-made stand-in for ACTH-Deficiency: 7 sentences, the 6th starts with
 * the paper's marker. */
static cl_corpus *fewshot_corpus(void)
{
    static const char text[] = "s1 a . s2 b . s3 c . s4 d . s5 e . When ACTH deficiency is "
                               "suspected . s7 f .";
    static const int lens[] = {3, 3, 3, 3, 3, 6, 3};
    static const char *const tags[] = {
        "O", "B-SIGN",      "O", "O", "I-SIGN", "O", /* I-SIGN after O: shown as B-SIGN */
        "O", "B-ANAPHOR",   "O", "O", "O",      "O", "O", "O", "O",
        "O", "B-RAREDISEASE", "I-RAREDISEASE", "O", "O", "O", "O", "O", "O"};
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("Other", "x y .", (int[]){3}, 1,
                                               (const char *const[]){"O", "O", "O"}),
                                   &err),
                     CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("ACTH-Deficiency", text, lens, 7, tags), &err),
                     CL_OK);
    return c;
}

static void few_shot_fixed_examples(void **state)
{
    (void)state;
    cl_error err;
    cl_corpus *train = fewshot_corpus();
    cl_prompt_params p = cl_prompt_default_params();
    p.strategy = CL_STRATEGY_FEW_SHOT;
    p.train = train;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    int lens[] = {2};
    cl_doc *d = make_doc("t", "Hello there", lens, 1, NULL);
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_build(b, d, 0, &pr, &err), CL_OK);
    assert_int_equal(pr.nmessages, 12);
    assert_int_equal(pr.nshared, 11);
    assert_string_equal(pr.messages[1].role, "user");
    assert_string_equal(pr.messages[1].content, "s1\na\n.");
    assert_string_equal(pr.messages[2].role, "assistant");
    assert_string_equal(pr.messages[2].content, "s1 : O\na : B-SIGN\n. : O\n");
    assert_string_equal(pr.messages[4].content, "s2 : O\nb : B-SIGN\n. : O\n");
    assert_string_equal(pr.messages[6].content, "s3 : O\nc : O\n. : O\n"); /* ANAPHOR -> O */
    assert_string_equal(pr.messages[7].content, "s4\nd\n.");
    assert_string_equal(pr.messages[9].content, "When\nACTH\ndeficiency\nis\nsuspected\n.");
    assert_string_equal(pr.messages[10].content, "When : O\nACTH : B-RAREDISEASE\n"
                                                 "deficiency : I-RAREDISEASE\nis : O\n"
                                                 "suspected : O\n. : O\n");
    assert_string_equal(pr.messages[11].content, "Hello\nthere");
    cl_prompt_builder_free(b);

    /* fewer shots: the first ones; more: the document's other sentences */
    p.shots = 2;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    assert_int_equal(cl_prompt_build(b, d, 0, &pr, &err), CL_OK);
    assert_int_equal(pr.nmessages, 6);
    assert_string_equal(pr.messages[3].content, "s2\nb\n.");
    cl_prompt_builder_free(b);
    p.shots = 7;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    assert_int_equal(cl_prompt_build(b, d, 0, &pr, &err), CL_OK);
    assert_int_equal(pr.nmessages, 16);
    assert_string_equal(pr.messages[11].content, "s5\ne\n.");
    assert_string_equal(pr.messages[13].content, "s7\nf\n.");
    cl_prompt_builder_free(b);

    /* a missing document or marker is a clear error */
    p.shots = 5;
    p.fewshot_doc = "Nope";
    {
        cl_prompt_builder *none = NULL;
        assert_int_equal(cl_prompt_builder_new(&p, &none, &err), CL_ERR_ARG);
        assert_null(none);
    }
    assert_non_null(strstr(err.msg, "'Nope' not found"));
    p.fewshot_doc = NULL;
    p.fewshot_extra = "Never there";
    {
        cl_prompt_builder *none = NULL;
        assert_int_equal(cl_prompt_builder_new(&p, &none, &err), CL_ERR_ARG);
        assert_null(none);
    }
    assert_non_null(strstr(err.msg, "Never there"));

    cl_prompt_free(&pr);
    cl_doc_free(d);
    cl_corpus_free(train);
}

static cl_corpus *knn_corpus(void)
{
    cl_error err;
    cl_corpus *c;
    assert_int_equal(cl_corpus_new(&c, &err), CL_OK);
    /* doc A: the sentence we tag and an identical copy elsewhere */
    assert_int_equal(cl_corpus_add(c, make_doc("A", "fever and rash . fever rash rash", (int[]){4, 3}, 2,
                                               (const char *const[]){"B-SIGN", "O", "B-SIGN", "O",
                                                                     "B-SIGN", "B-SIGN", "I-SIGN"}),
                                   &err),
                     CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("B", "fever and rash . cough", (int[]){4, 1}, 2,
                                               (const char *const[]){"O", "O", "O", "O", "O"}),
                                   &err),
                     CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("C", "rash with fever today . nothing here", (int[]){5, 2}, 2,
                                               (const char *const[]){"O", "O", "O", "O", "O", "O", "O"}),
                                   &err),
                     CL_OK);
    assert_int_equal(cl_corpus_add(c, make_doc("D", "unrelated words", (int[]){2}, 1,
                                               (const char *const[]){"O", "O"}),
                                   &err),
                     CL_OK);
    return c;
}

static void knn_shot_never_same_doc_or_sentence(void **state)
{
    (void)state;
    cl_error err;
    cl_corpus *train = knn_corpus();
    char tmpl[] = "/tmp/clinner-knn-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    cl_prompt_params p = cl_prompt_default_params();
    p.strategy = CL_STRATEGY_KNN_SHOT;
    p.train = train;
    p.shots = 2;
    p.cache_dir = dir;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    /* tagging training document A, sentence 0 ("fever and rash ."): B's copy is
     * identical (never used) and A is the same document; C's sentence is the
     * best, then one of the rest */
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_build(b, train->docs[0], 0, &pr, &err), CL_OK);
    assert_int_equal(pr.nmessages, 6);
    assert_int_equal(pr.nshared, 1);
    for (int i = 1; i < 5; i += 2) {
        assert_string_not_equal(pr.messages[i].content, "fever\nand\nrash\n.");
        assert_string_not_equal(pr.messages[i].content, "fever\nrash\nrash");
    }
    /* most similar last, right before the question */
    assert_string_equal(pr.messages[3].content, "rash\nwith\nfever\ntoday\n.");
    assert_string_equal(pr.messages[5].content, "fever\nand\nrash\n.");
    /* a document from elsewhere may use A's sentences */
    cl_doc *t = make_doc("T", "rash rash fever", (int[]){3}, 1, NULL);
    assert_int_equal(cl_prompt_build(b, t, 0, &pr, &err), CL_OK);
    assert_string_equal(pr.messages[3].content, "fever\nrash\nrash");
    assert_string_equal(pr.messages[4].content, "fever : B-SIGN\nrash : B-SIGN\nrash : I-SIGN\n");
    cl_prompt_builder_free(b);
    /* the index was cached and a second builder gives the same prompts */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls %s/bm25-*.bin >/dev/null 2>&1", dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    cl_prompt pr2;
    cl_prompt_init(&pr2);
    assert_int_equal(cl_prompt_build(b, t, 0, &pr2, &err), CL_OK);
    assert_int_equal(pr2.nmessages, pr.nmessages);
    for (int i = 0; i < pr.nmessages; i++)
        assert_string_equal(pr.messages[i].content, pr2.messages[i].content);
    cl_prompt_builder_free(b);
    cl_prompt_free(&pr);
    cl_prompt_free(&pr2);
    cl_doc_free(t);
    cl_corpus_free(train);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* A retriever that records what it was asked. */
typedef struct fake_retriever {
    char exclude[64];
    int calls;
} fake_retriever;

static cl_status fake_top_k(void *self, const char *query_text, const char *const *terms,
                            int32_t nterms, const char *exclude_doc_id, int32_t k,
                            cl_retrieved *out, int32_t *nout, cl_error *err)
{
    (void)terms;
    (void)err;
    fake_retriever *f = self;
    f->calls++;
    snprintf(f->exclude, sizeof f->exclude, "%s", exclude_doc_id ? exclude_doc_id : "");
    assert_string_equal(query_text, "Fever and rash");
    assert_int_equal(nterms, 3);
    assert_int_equal(k, 2);
    out[0] = (cl_retrieved){4, 2.0, "kb1", "Passage one about fever."};
    out[1] = (cl_retrieved){9, 1.0, "kb2", "Passage two."};
    *nout = 2;
    return CL_OK;
}

static const cl_retriever_ops fake_ops = {.name = "fake", .top_k = fake_top_k, .free = NULL};

static void rag_prompt_has_passages(void **state)
{
    (void)state;
    cl_error err;
    fake_retriever f = {{0}, 0};
    cl_retriever r = {&fake_ops, &f};
    cl_prompt_params p = cl_prompt_default_params();
    p.strategy = CL_STRATEGY_RAG;
    p.retriever = &r;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    cl_doc *d = make_doc("Doc-1", "Fever and rash", (int[]){3}, 1, NULL);
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_build(b, d, 0, &pr, &err), CL_OK);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.exclude, "Doc-1");
    assert_int_equal(pr.nmessages, 2);
    assert_int_equal(pr.nshared, 0);
    const char *sys = pr.messages[0].content;
    assert_non_null(strstr(sys, "[1] Passage one about fever."));
    assert_non_null(strstr(sys, "[2] Passage two."));
    assert_true(strstr(sys, "RAREDISEASE") < strstr(sys, "[1]"));
    cl_prompt_free(&pr);
    cl_prompt_builder_free(b);
    cl_doc_free(d);
}

/* The paper's five few-shot sentences, on the real ACTH-Deficiency document. */
static void few_shot_real_acth(void **state)
{
    (void)state;
    REQUIRE_SHARED(train_dir, "data/raredis/train");
    char txt[4200], ann[4200];
    snprintf(txt, sizeof txt, "%s/ACTH-Deficiency.txt", train_dir);
    snprintf(ann, sizeof ann, "%s/ACTH-Deficiency.ann", train_dir);
    cl_error err;
    cl_doc *doc;
    assert_int_equal(cl_brat_read_pair(txt, ann, &doc, &err), CL_OK);
    cl_corpus *train;
    assert_int_equal(cl_corpus_new(&train, &err), CL_OK);
    assert_int_equal(cl_corpus_add(train, doc, &err), CL_OK);
    assert_int_equal(cl_prompt_prepare_train(train, CL_TOKENIZER_PAPER, NULL, 0, &err), CL_OK);
    cl_prompt_params p = cl_prompt_default_params();
    p.strategy = CL_STRATEGY_FEW_SHOT;
    p.train = train;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    cl_prompt pr;
    cl_prompt_init(&pr);
    assert_int_equal(cl_prompt_build(b, doc, 7, &pr, &err), CL_OK);
    assert_int_equal(pr.nmessages, 12);
    const char *u1 = pr.messages[1].content, *a1 = pr.messages[2].content;
    assert_true(STARTS(u1, "ACTH\ndeficiency\narises\n"));
    assert_true(STARTS(a1, "ACTH : B-RAREDISEASE\ndeficiency : I-RAREDISEASE\narises : O\n"));
    assert_true(STARTS(pr.messages[3].content, "A\ndecline\n"));
    assert_non_null(strstr(pr.messages[4].content, "decline : B-SIGN\nin : I-SIGN\n"));
    assert_true(STARTS(pr.messages[5].content, "Adrenal\ninsufficiency\nleads\n"));
    assert_true(STARTS(pr.messages[7].content, "Because\nthese\n"));
    assert_true(STARTS(pr.messages[9].content, "When\nACTH\ndeficiency\nis\nsuspected\n,\n"));
    assert_true(STARTS(pr.messages[10].content, "When : O\nACTH : B-RAREDISEASE\ndeficiency : I-RAREDISEASE\n"));
    /* the anaphor "The disorder" of sentence 7 is not a paper type */
    assert_null(strstr(a1, "ANAPHOR"));
    cl_prompt_free(&pr);
    cl_prompt_builder_free(b);
    cl_corpus_free(train);
}

/* knn-shot over the real training split never picks a sentence of the
 * document being tagged (checked on one document's sentences). */
static void knn_real_never_same_doc(void **state)
{
    (void)state;
    REQUIRE_SHARED(train_dir, "data/raredis/train");
    cl_error err;
    cl_corpus *train;
    assert_int_equal(cl_corpus_new(&train, &err), CL_OK);
    assert_int_equal(cl_corpus_read(train, CL_FORMAT_BRAT, train_dir, &err), CL_OK);
    assert_int_equal(cl_prompt_prepare_train(train, CL_TOKENIZER_PAPER, NULL, 0, &err), CL_OK);
    cl_prompt_params p = cl_prompt_default_params();
    p.strategy = CL_STRATEGY_KNN_SHOT;
    p.train = train;
    cl_prompt_builder *b = NULL;
    assert_int_equal(cl_prompt_builder_new(&p, &b, &err), CL_OK);
    const cl_doc *doc = NULL;
    for (int32_t i = 0; i < train->ndocs && !doc; i++)
        if (!strcmp(train->docs[i]->id, "ACTH-Deficiency"))
            doc = train->docs[i];
    assert_non_null(doc);
    cl_buf sb;
    cl_buf_init(&sb);
    cl_prompt pr;
    cl_prompt_init(&pr);
    for (int32_t s = 0; s < doc->nsentences; s++) {
        assert_int_equal(cl_prompt_build(b, doc, s, &pr, &err), CL_OK);
        assert_int_equal(pr.nmessages, 12);
        for (int i = 1; i < 11; i += 2)
            for (int32_t s2 = 0; s2 < doc->nsentences; s2++) {
                assert_int_equal(cl_prompt_tokens_text(doc, doc->sentences[s2].tok_begin,
                                                       doc->sentences[s2].tok_end, &sb, &err),
                                 CL_OK);
                assert_string_not_equal(pr.messages[i].content, sb.data);
            }
    }
    cl_buf_free(&sb);
    cl_prompt_free(&pr);
    cl_prompt_builder_free(b);
    cl_corpus_free(train);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_set_and_bio_validity),
        cmocka_unit_test(answer_lines_and_names),
        cmocka_unit_test(gbnf_literal_escapes),
        cmocka_unit_test(grammar_text_form),
        cmocka_unit_test(grammar_accepts_exactly_valid_answers),
        cmocka_unit_test(answer_parse_aligns_like_the_paper),
        cmocka_unit_test(answer_exact_checks_every_line),
        cmocka_unit_test(zero_shot_prompt),
        cmocka_unit_test(few_shot_fixed_examples),
        cmocka_unit_test(knn_shot_never_same_doc_or_sentence),
        cmocka_unit_test(rag_prompt_has_passages),
        cmocka_unit_test(few_shot_real_acth),
        cmocka_unit_test(knn_real_never_same_doc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
