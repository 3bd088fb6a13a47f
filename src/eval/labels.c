/*
 * labels.c - from BIO labels to entities, exactly as seqeval 1.2 reads them.
 *
 * Default mode replays seqeval.metrics.sequence_labeling.get_entities: a
 * label's "tag" is its first character and its type is what follows the
 * first '-' after that character (or all of it; '_' when empty), so "B-Sign"
 * is type "Sign", "I-ORGANIZATION" is its own type, and a stray "None" is a
 * one-token chunk of type "one" only if the tag rules say so.  Chunks end and
 * start by seqeval's end_of_chunk/start_of_chunk rules; a list of sentences
 * is read as one stream with an "O" after each sentence, which the caller
 * feeds.  Strict mode replays seqeval.scheme.IOB2: an entity is a B-X
 * followed by any I-X of the same type; a lone I-X is nothing; a label whose
 * first character is not B, I or O (E-X, S-X, "None") is rejected, as
 * seqeval raises on it (ValueError "Invalid token", or KeyError).
 */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

void cl__ev_types_free(ev_types *t)
{
    for (int32_t i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    t->names = NULL;
    t->n = t->cap = 0;
}

int32_t cl__ev_types_intern(ev_types *t, const char *name, size_t len)
{
    for (int32_t i = 0; i < t->n; i++)
        if (strlen(t->names[i]) == len && !memcmp(t->names[i], name, len))
            return i;
    if (t->n == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 16;
        char **v = realloc(t->names, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        t->names = v;
        t->cap = cap;
    }
    char *s = cl_strndup(name, len);
    if (!s)
        return -1;
    t->names[t->n] = s;
    return t->n++;
}

void cl__ev_ents_free(ev_ents *e)
{
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

int cl__ev_ents_push(ev_ents *e, int32_t type, int64_t start, int64_t end)
{
    if (e->n == e->cap) {
        int64_t cap = e->cap ? e->cap * 2 : 64;
        ev_ent *v = realloc(e->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = (ev_ent){type, start, end, 0};
    return 0;
}

/* Python's label[0] is a code point: skip its continuation bytes.  The tag
 * is the character when it is ASCII; other characters never equal one of
 * seqeval's tag letters, so they share one code. */
#define TAG_OTHER 0x100

static const char *after_first_char(const char *s, int *tag)
{
    unsigned char c = (unsigned char)s[0];
    *tag = c < 0x80 ? c : TAG_OTHER;
    s++;
    if (c >= 0x80)
        while (((unsigned char)*s & 0xC0) == 0x80)
            s++;
    return s;
}

void cl__ev_chunker_init(ev_chunker *c)
{
    c->prev_tag = 'O';
    c->prev_type = -1;
    c->begin = 0;
    c->pos = 0;
}

static bool end_of_chunk(int pt, int t, int32_t pty, int32_t ty)
{
    if (pt == 'E' || pt == 'S')
        return true;
    if ((pt == 'B' || pt == 'I') && (t == 'B' || t == 'S' || t == 'O'))
        return true;
    return pt != 'O' && pt != '.' && pty != ty;
}

static bool start_of_chunk(int pt, int t, int32_t pty, int32_t ty)
{
    if (t == 'B' || t == 'S')
        return true;
    if ((pt == 'E' || pt == 'S' || pt == 'O') && (t == 'E' || t == 'I'))
        return true;
    return t != 'O' && t != '.' && pty != ty;
}

int cl__ev_chunker_feed(ev_chunker *c, const char *label, ev_types *types, ev_ents *out)
{
    if (!label || !*label)
        label = "O";
    int tag;
    const char *rest = after_first_char(label, &tag);
    const char *dash = strchr(rest, '-');
    const char *ty = dash ? dash + 1 : rest;
    size_t tylen = strlen(ty);
    if (tylen == 0) {
        ty = "_";
        tylen = 1;
    }
    int32_t type = cl__ev_types_intern(types, ty, tylen);
    if (type < 0)
        return -1;
    if (end_of_chunk(c->prev_tag, tag, c->prev_type, type))
        if (cl__ev_ents_push(out, c->prev_type, c->begin, c->pos) < 0)
            return -1;
    if (start_of_chunk(c->prev_tag, tag, c->prev_type, type))
        c->begin = c->pos;
    c->prev_tag = tag;
    c->prev_type = type;
    c->pos++;
    return 0;
}

/* IOB2 prefix of a label ('B', 'I' or 'O'; 0 when seqeval would reject it)
 * and its tag: the rest with '-' stripped from both ends, '_' when empty. */
static int strict_prefix(const char *label, const char **tag, size_t *taglen)
{
    if (!label || !*label)
        return 'O';
    int p;
    const char *rest = after_first_char(label, &p);
    if (p != 'B' && p != 'I' && p != 'O')
        return 0;
    size_t n = strlen(rest);
    while (n && *rest == '-') {
        rest++;
        n--;
    }
    while (n && rest[n - 1] == '-')
        n--;
    if (n == 0) {
        rest = "_";
        n = 1;
    }
    *tag = rest;
    *taglen = n;
    return p;
}

int32_t cl__ev_first_not_iob2(const char *const *labels, int32_t n)
{
    const char *tag;
    size_t taglen;
    for (int32_t i = 0; i < n; i++)
        if (strict_prefix(labels[i], &tag, &taglen) == 0)
            return i;
    return -1;
}

int cl__ev_strict_sentence(const char *const *labels, int32_t n, int64_t base, ev_types *types,
                       ev_ents *out, int32_t *bad)
{
    const char *tag = NULL;
    size_t taglen = 0;
    *bad = cl__ev_first_not_iob2(labels, n);
    if (*bad >= 0)
        return 1;
    int32_t i = 0;
    while (i < n) {
        int p = strict_prefix(labels[i], &tag, &taglen);
        if (p != 'B') {
            i++;
            continue;
        }
        int32_t j = i + 1;
        while (j < n) {
            const char *t2 = NULL;
            size_t l2 = 0;
            int p2 = strict_prefix(labels[j], &t2, &l2);
            if (p2 != 'I' || l2 != taglen || memcmp(t2, tag, taglen))
                break;
            j++;
        }
        int32_t type = cl__ev_types_intern(types, tag, taglen);
        if (type < 0 || cl__ev_ents_push(out, type, base + i, base + j) < 0)
            return -1;
        i = j;
    }
    return 0;
}

cl_status cl__ev_not_iob2(cl_error *err, const char *label, int32_t index, const char *word)
{
    char shown[64];
    cl__ev_visible(label, shown, sizeof shown);
    if (word) {
        char w[64];
        cl__ev_visible(word, w, sizeof w);
        return cl_error_set(err, CL_ERR_PARSE,
                            "token %d ('%s'): label '%s' is not IOB2 (strict mode, like seqeval's "
                            "IOB2 scheme, accepts only O, B-TYPE and I-TYPE; use the default mode "
                            "for IOBES labels)",
                            index + 1, w, shown);
    }
    return cl_error_set(err, CL_ERR_PARSE,
                        "token %d: label '%s' is not IOB2 (strict mode, like seqeval's IOB2 "
                        "scheme, accepts only O, B-TYPE and I-TYPE; use the default mode for "
                        "IOBES labels)",
                        index + 1, shown);
}

void cl_eval_spans_free(cl_eval_span *spans, int32_t n)
{
    if (!spans)
        return;
    for (int32_t i = 0; i < n; i++)
        free(spans[i].type);
    free(spans);
}

cl_status cl_eval_entities(const char *const *labels, int32_t n, cl_eval_mode mode,
                           cl_eval_span **out, int32_t *nout, cl_error *err)
{
    *out = NULL;
    *nout = 0;
    if (n < 0 || (n > 0 && !labels))
        return cl_error_set(err, CL_ERR_ARG, "cl_eval_entities: bad label array");
    ev_types types = {0};
    ev_ents ents = {0};
    int rc = 0;
    int32_t bad = -1;
    if (mode == CL_EVAL_STRICT) {
        rc = cl__ev_strict_sentence(labels, n, 0, &types, &ents, &bad);
    } else {
        ev_chunker ch;
        cl__ev_chunker_init(&ch);
        for (int32_t i = 0; i < n && rc == 0; i++)
            rc = cl__ev_chunker_feed(&ch, labels[i], &types, &ents);
        if (rc == 0)
            rc = cl__ev_chunker_feed(&ch, "O", &types, &ents);
    }
    cl_eval_span *v = NULL;
    if (rc == 0 && ents.n > 0) {
        v = calloc((size_t)ents.n, sizeof *v);
        if (!v)
            rc = -1;
        for (int64_t i = 0; rc == 0 && i < ents.n; i++) {
            v[i].type = cl_strdup(types.names[ents.v[i].type]);
            v[i].start = (int32_t)ents.v[i].start;
            v[i].end = (int32_t)ents.v[i].end;
            if (!v[i].type)
                rc = -1;
        }
    }
    int32_t count = (int32_t)ents.n;
    cl__ev_types_free(&types);
    cl__ev_ents_free(&ents);
    if (rc > 0)
        return cl__ev_not_iob2(err, labels[bad], bad, NULL);
    if (rc != 0) {
        cl_eval_spans_free(v, count);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory reading entities");
    }
    *out = v;
    *nout = count;
    return CL_OK;
}
