/*
 * grammar.c - one GBNF grammar per sentence, so that a model sampling under
 * it can only write a well-formed answer: exactly one line per input token,
 * in order, each line the token's own text, " : ", a label of the set, and a
 * newline, with I-X only after B-X or I-X.
 *
 * The grammar is a chain: rule l<i>-<state> is line i given the state left
 * by line i-1 ("o": O or sentence start; "t<j>": B-/I- of type j).  Each
 * line rule is the token literal (rule k<i>, written once) followed by the
 * labels allowed in that state, each continuing with the rule for line i+1
 * in the state the label leaves.  Continuations are tail references, so
 * llama.cpp's grammar stacks do not grow with the sentence.  Rule names use
 * only letters, digits and '-', as GBNF requires.
 *
 *   root ::= l0-o
 *   k0 ::= "Fever : "
 *   l0-o ::= k0 ( "O\n" l1-o | "B-SIGN\n" l1-t0 | ... )
 *   ...
 *   l2-t0 ::= k2 ( "O\n" | "B-SIGN\n" | "I-SIGN\n" )      (last line)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/prompt.h"

cl_status cl_gbnf_literal(cl_buf *out, const char *s, size_t n, cl_error *err)
{
    int bad = cl_buf_putc(out, '"');
    for (size_t i = 0; i < n && !bad; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': bad = cl_buf_puts(out, "\\\""); break;
        case '\\': bad = cl_buf_puts(out, "\\\\"); break;
        case '\n': bad = cl_buf_puts(out, "\\n"); break;
        case '\r': bad = cl_buf_puts(out, "\\r"); break;
        case '\t': bad = cl_buf_puts(out, "\\t"); break;
        default:
            if (c < 0x20 || c == 0x7f)
                bad = cl_buf_printf(out, "\\x%02X", c) < 0;
            else
                bad = cl_buf_putc(out, (char)c);
        }
    }
    if (!bad)
        bad = cl_buf_putc(out, '"');
    return bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory") : CL_OK;
}

/* Append the label literal (label + "\n") and, unless line is the last,
 * the rule of the next line in the state the label leaves. */
static int put_alternative(cl_buf *out, const cl_label_set *ls, int32_t label, int32_t next_line,
                           int32_t ntokens)
{
    char lit[512];
    const char *name = ls->labels[label];
    size_t n = strlen(name);
    if (n + 2 > sizeof lit)
        return -1;
    memcpy(lit, name, n);
    lit[n++] = '\n';
    if (cl_gbnf_literal(out, lit, n, NULL) != CL_OK)
        return -1;
    if (next_line >= ntokens)
        return 0;
    if (label == 0)
        return cl_buf_printf(out, " l%d-o", next_line) < 0;
    return cl_buf_printf(out, " l%d-t%d", next_line, (label - 1) / 2) < 0;
}

static int put_line_rule(cl_buf *out, const cl_label_set *ls, int32_t line, int32_t state,
                         int32_t ntokens)
{
    /* state -1: "o"; else the type index j (previous label B-j or I-j) */
    int bad = state < 0 ? cl_buf_printf(out, "l%d-o ::= k%d (", line, line) < 0
                        : cl_buf_printf(out, "l%d-t%d ::= k%d (", line, state, line) < 0;
    int32_t prev = state < 0 ? 0 : 1 + 2 * state;
    bool first = true;
    for (int32_t l = 0; l < ls->nlabels && !bad; l++) {
        if (!cl_label_valid_after(ls, prev, l))
            continue;
        if (!first)
            bad = cl_buf_puts(out, " |");
        first = false;
        bad = bad || cl_buf_putc(out, ' ') || put_alternative(out, ls, l, line + 1, ntokens);
    }
    return bad || cl_buf_puts(out, " )\n");
}

cl_status cl_grammar_for_tokens(const cl_label_set *ls, const char *const *tokens,
                                const size_t *lens, int32_t ntokens, cl_buf *out,
                                cl_error *err)
{
    cl_buf_reset(out);
    if (ntokens <= 0)
        return cl_error_set(err, CL_ERR_ARG, "grammar: empty sentence (no tokens to label)");
    for (int32_t l = 0; l < ls->nlabels; l++)
        if (strlen(ls->labels[l]) > 500)
            return cl_error_set(err, CL_ERR_ARG, "grammar: label '%.40s...' too long",
                                ls->labels[l]);
    int bad = cl_buf_puts(out, "root ::= l0-o\n");
    for (int32_t i = 0; i < ntokens && !bad; i++) {
        size_t n = lens ? lens[i] : strlen(tokens[i]);
        if (n == 0)
            return cl_error_set(err, CL_ERR_ARG, "grammar: token %d is empty", i);
        bad = cl_buf_printf(out, "k%d ::= ", i) < 0;
        /* the token, then the separator, as one literal */
        cl_buf lit;
        cl_buf_init(&lit);
        bad = bad || cl_buf_append(&lit, tokens[i], n) || cl_buf_puts(&lit, CL_ANSWER_SEP);
        bad = bad || cl_gbnf_literal(out, lit.data, lit.len, NULL) != CL_OK;
        cl_buf_free(&lit);
        bad = bad || cl_buf_putc(out, '\n');
        /* line 0 only follows the sentence start */
        bad = bad || put_line_rule(out, ls, i, -1, ntokens);
        for (int32_t t = 0; i > 0 && t < ls->ntypes && !bad; t++)
            bad = put_line_rule(out, ls, i, t, ntokens);
    }
    return bad ? cl_error_set(err, CL_ERR_NOMEM, "out of memory") : CL_OK;
}

cl_status cl_grammar_for_sentence(const cl_label_set *ls, const cl_doc *doc, int32_t sent,
                                  cl_buf *out, cl_error *err)
{
    if (sent < 0 || sent >= doc->nsentences)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentence %d out of range",
                            doc->id ? doc->id : "?", sent);
    int32_t tb = doc->sentences[sent].tok_begin, te = doc->sentences[sent].tok_end;
    int32_t n = te - tb;
    if (n <= 0) {
        cl_buf_reset(out);
        return cl_error_set(err, CL_ERR_ARG, "%s: sentence %d is empty (no tokens to label)",
                            doc->id ? doc->id : "?", sent);
    }
    const char **toks = malloc((size_t)n * sizeof *toks);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    if (!toks || !lens) {
        free(toks);
        free(lens);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    for (int32_t i = 0; i < n; i++)
        toks[i] = cl_doc_token_bytes(doc, tb + i, &lens[i]);
    cl_status st = cl_grammar_for_tokens(ls, toks, lens, n, out, err);
    if (st != CL_OK)
        cl_error_prefix(err, "%s: sentence %d: ", doc->id ? doc->id : "?", sent);
    free(toks);
    free(lens);
    return st;
}
