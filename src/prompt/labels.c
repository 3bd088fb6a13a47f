/*
 * labels.c - chat message lists, the BIO label set with its validity rule,
 * answer lines, strategy and decoding names: the small shared vocabulary of every LLM
 * backend.
 *
 * Label indexes are fixed: 0 is O, 1 + 2i is B-<type i>, 2 + 2i is
 * I-<type i>.  Grammar rules, forced decoding and the prompt examples all
 * use the one validity rule here (I-X only after B-X or I-X), so they can
 * never disagree about what a well-formed answer is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/prompt.h"

/* ---- chat messages ---- */

void cl_prompt_init(cl_prompt *p) { memset(p, 0, sizeof *p); }

void cl_prompt_free(cl_prompt *p)
{
    if (!p)
        return;
    for (int32_t i = 0; i < p->nmessages; i++) {
        free(p->messages[i].role);
        free(p->messages[i].content);
    }
    free(p->messages);
    cl_prompt_init(p);
}

cl_status cl_prompt_add(cl_prompt *p, const char *role, const char *content, cl_error *err)
{
    if (p->nmessages == p->cap) {
        int32_t cap = p->cap ? p->cap * 2 : 16;
        cl_chat_message *m = realloc(p->messages, (size_t)cap * sizeof *m);
        if (!m)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        p->messages = m;
        p->cap = cap;
    }
    cl_chat_message *m = &p->messages[p->nmessages];
    m->role = cl_strdup(role);
    m->content = cl_strdup(content);
    if (!m->role || !m->content) {
        free(m->role);
        free(m->content);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    p->nmessages++;
    return CL_OK;
}

/* ---- labels ---- */

void cl_label_set_free(cl_label_set *ls)
{
    if (!ls)
        return;
    for (int32_t i = 0; i < ls->ntypes; i++)
        free(ls->types[i]);
    for (int32_t i = 0; i < ls->nlabels; i++)
        free(ls->labels[i]);
    free(ls->types);
    free(ls->labels);
    memset(ls, 0, sizeof *ls);
}

static bool type_name_ok(const char *t)
{
    if (!*t)
        return false;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p <= ' ' || *p == ':' || *p == 0x7f)
            return false;
    return true;
}

cl_status cl_label_set_init(cl_label_set *ls, const char *const *types, int32_t ntypes,
                            cl_error *err)
{
    memset(ls, 0, sizeof *ls);
    if (!types) {
        types = (const char *const *)cl_paper_types;
        ntypes = CL_NUM_PAPER_TYPES;
    }
    if (ntypes <= 0)
        return cl_error_set(err, CL_ERR_ARG, "label set: no entity types");
    for (int32_t i = 0; i < ntypes; i++) {
        if (!type_name_ok(types[i]))
            return cl_error_set(err, CL_ERR_ARG,
                                "label set: bad entity type '%s' (empty, or has a space, "
                                "a colon or a control character)",
                                types[i]);
        for (int32_t j = 0; j < i; j++)
            if (strcmp(types[i], types[j]) == 0)
                return cl_error_set(err, CL_ERR_ARG, "label set: type '%s' given twice",
                                    types[i]);
    }
    ls->types = calloc((size_t)ntypes, sizeof *ls->types);
    ls->labels = calloc((size_t)ntypes * 2 + 1, sizeof *ls->labels);
    if (!ls->types || !ls->labels) {
        cl_label_set_free(ls);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    ls->ntypes = ntypes;
    ls->nlabels = ntypes * 2 + 1;
    ls->labels[0] = cl_strdup("O");
    bool bad = !ls->labels[0];
    for (int32_t i = 0; i < ntypes && !bad; i++) {
        size_t n = strlen(types[i]) + 3;
        ls->types[i] = cl_strdup(types[i]);
        ls->labels[1 + 2 * i] = malloc(n);
        ls->labels[2 + 2 * i] = malloc(n);
        bad = !ls->types[i] || !ls->labels[1 + 2 * i] || !ls->labels[2 + 2 * i];
        if (!bad) {
            snprintf(ls->labels[1 + 2 * i], n, "B-%s", types[i]);
            snprintf(ls->labels[2 + 2 * i], n, "I-%s", types[i]);
        }
    }
    if (bad) {
        cl_label_set_free(ls);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    return CL_OK;
}

int32_t cl_label_set_find(const cl_label_set *ls, const char *label)
{
    for (int32_t i = 0; i < ls->nlabels; i++)
        if (strcmp(ls->labels[i], label) == 0)
            return i;
    return -1;
}

bool cl_label_valid_after(const cl_label_set *ls, int32_t prev, int32_t next)
{
    if (next < 0 || next >= ls->nlabels)
        return false;
    if (next == 0 || next % 2 == 1) /* O or B-X */
        return true;
    /* I-X (index 2 + 2i) after B-X (1 + 2i) or I-X (2 + 2i) */
    return prev == next - 1 || prev == next;
}

int32_t cl_label_allowed(const cl_label_set *ls, int32_t prev, bool *allowed)
{
    int32_t n = 0;
    for (int32_t i = 0; i < ls->nlabels; i++) {
        allowed[i] = cl_label_valid_after(ls, prev, i);
        n += allowed[i];
    }
    return n;
}

cl_status cl_answer_line(cl_buf *out, const char *token, size_t ntoken, const char *label,
                         cl_error *err)
{
    if (cl_buf_append(out, token, ntoken) != 0 || cl_buf_puts(out, CL_ANSWER_SEP) != 0 ||
        cl_buf_puts(out, label) != 0 || cl_buf_putc(out, '\n') != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

/* ---- strategies ---- */

static const char *const strategy_names[] = {"zero-shot", "few-shot", "knn-shot", "rag"};

cl_status cl_strategy_from_name(const char *name, cl_strategy *out, cl_error *err)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, strategy_names[i]) == 0) {
            *out = (cl_strategy)i;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG,
                        "unknown strategy '%s' (expected zero-shot, few-shot, knn-shot or rag)",
                        name);
}

const char *cl_strategy_name(cl_strategy s)
{
    return (unsigned)s < 4 ? strategy_names[s] : "?";
}

/* ---- decoding modes ---- */

static const char *const decode_names[] = {"free", "grammar", "forced"};

cl_status cl_decode_from_name(const char *name, cl_decode *out, cl_error *err)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(name, decode_names[i]) == 0) {
            *out = (cl_decode)i;
            return CL_OK;
        }
    return cl_error_set(err, CL_ERR_ARG,
                        "unknown decoding '%s' (expected free, grammar or forced)", name);
}

const char *cl_decode_name(cl_decode d) { return (unsigned)d < 3 ? decode_names[d] : "?"; }
