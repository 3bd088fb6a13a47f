/*
 * vocab.c - medical vocabularies: a term list (HPO signs and symptoms,
 * Orphanet / OMIM disease names, skin diseases; built at set-up by
 * scripts/setup-vocab.sh, never shipped) matched over a sentence's
 * lower-cased tokens in one left-to-right pass.
 *
 * The list is a text file of "CATEGORY<TAB>term" lines.  Each term is
 * tokenized with the model's tokenizer, so that it splits where text does,
 * and its lower-cased tokens joined by ' ' are the key.  The keys form a
 * token trie kept in one hash dictionary: every proper prefix of a term is
 * a node (category mask 0) and a term's last token carries its categories,
 * so a walk from a token stops at the first prefix that no term has, and
 * each start costs at most the length of the longest term that begins
 * there.  The walk (cl__crf_vocab_walk) gives each token B- (first token)
 * and I- (the others) marks of the longest term starting at each position:
 * features.c turns them into attributes "v=B-PHENO" (also at +-1), and the
 * public cl_vocab handle (crf.h) gives them to the encoder.
 *
 * A trained CRF stores the keys (model.c, format version 2), an encoder the
 * list's text, so tagging needs no vocabulary file; such a model holds the
 * vocabulary's terms and is therefore for local use, not for shipping
 * (HPO's terms may not be redistributed modified).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/tokenize.h"
#include "clinner/util.h"
#include "crf/crf_internal.h"

void cl__crf_vocab_init(crf_vocab *v) { memset(v, 0, sizeof *v); }

void cl__crf_vocab_free(crf_vocab *v)
{
    cl__crf_dict_free(&v->keys);
    free(v->cats);
    for (int32_t c = 0; c < v->ncats; c++)
        free(v->cat_names[c]);
    memset(v, 0, sizeof *v);
}

int cl__crf_vocab_add(crf_vocab *v, const char *key, size_t n, uint32_t mask)
{
    bool added;
    int32_t id = cl__crf_dict_intern(&v->keys, key, n, &added);
    if (id < 0)
        return -1;
    if (v->keys.cap > v->cap) {
        uint32_t *c = realloc(v->cats, (size_t)v->keys.cap * sizeof *c);
        if (!c)
            return -1;
        v->cats = c;
        v->cap = v->keys.cap;
    }
    if (added)
        v->cats[id] = 0;
    v->cats[id] |= mask;
    int32_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += key[i] == ' ';
    if (len > v->max_len)
        v->max_len = len;
    return 0;
}

/* Category index of name (added when new); -1 when there are too many. */
static int32_t category(crf_vocab *v, const char *name, size_t n)
{
    for (int32_t c = 0; c < v->ncats; c++)
        if (strlen(v->cat_names[c]) == n && !memcmp(v->cat_names[c], name, n))
            return c;
    if (v->ncats == CRF_VOCAB_MAX_CATS)
        return -1;
    v->cat_names[v->ncats] = cl_strndup(name, n);
    return v->cat_names[v->ncats] ? v->ncats++ : -1;
}

/* Add one term: tokenized like text, lower-cased, with its prefixes. */
static cl_status add_term(crf_vocab *v, const char *term, size_t n, uint32_t mask,
                          cl_tokenizer_kind tok, cl_buf *key, cl_error *err)
{
    cl_doc *d;
    cl_status st = cl_doc_new("vocab", term, n, &d, err);
    if (st != CL_OK)
        return st;
    st = cl_tokenize_doc(d, tok, err);
    char low[256];
    cl_buf_reset(key);
    for (int32_t t = 0; st == CL_OK && t < d->ntokens; t++) {
        size_t k = cl__crf_token_lower(d, t, low, sizeof low);
        if ((t > 0 && cl_buf_putc(key, ' ') != 0) || cl_buf_append(key, low, k) != 0 ||
            cl__crf_vocab_add(v, key->data, key->len, t + 1 == d->ntokens ? mask : 0) != 0)
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory reading the vocabulary");
    }
    cl_doc_free(d);
    return st;
}

/* Parse a term list's text (name: for messages, the file's path). */
static cl_status vocab_parse(crf_vocab *v, const char *name, const char *data, size_t n,
                             cl_tokenizer_kind tok, cl_error *err)
{
    cl_status st = CL_OK;
    cl_buf key;
    cl_buf_init(&key);
    size_t pos = 0;
    long line = 0;
    while (st == CL_OK && pos < n) {
        line++;
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + (nl != NULL);
        if (len && s[len - 1] == '\r')
            len--;
        if (len == 0 || s[0] == '#')
            continue;
        const char *tab = memchr(s, '\t', len);
        if (!tab || tab == s || tab + 1 == s + len) {
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: expected CATEGORY<TAB>term", name,
                              line);
            break;
        }
        int32_t c = category(v, s, (size_t)(tab - s));
        if (c < 0) {
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: more than %d categories", name, line,
                              CRF_VOCAB_MAX_CATS);
            break;
        }
        st = add_term(v, tab + 1, (size_t)(s + len - tab - 1), 1u << c, tok, &key, err);
        if (st != CL_OK)
            cl_error_prefix(err, "%s:%ld: ", name, line);
    }
    cl_buf_free(&key);
    if (st == CL_OK && v->keys.n == 0)
        st = cl_error_set(err, CL_ERR_PARSE, "%s: no terms", name);
    return st;
}

cl_status cl__crf_vocab_read(crf_vocab *v, const char *path, cl_tokenizer_kind tok, cl_error *err)
{
    char *data = NULL;
    size_t n = 0;
    cl_status st = cl_read_file(path, &data, &n, err);
    if (st == CL_OK)
        st = vocab_parse(v, path, data, n, tok, err);
    free(data);
    return st;
}

cl_status cl__crf_vocab_walk(const crf_vocab *v, int32_t T, crf_token_text_fn text, void *ud,
                             uint32_t *vB, uint32_t *vI, cl_error *err)
{
    if (!v || v->keys.n == 0)
        return CL_OK;
    cl_buf key;
    cl_buf_init(&key);
    for (int32_t i = 0; i < T; i++) {
        cl_buf_reset(&key);
        int32_t best = 0;
        uint32_t cats = 0;
        for (int32_t k = i; k < T && k - i < v->max_len; k++) {
            size_t n;
            const char *t = text(ud, k, &n);
            if ((k > i && cl_buf_putc(&key, ' ') != 0) || cl_buf_append(&key, t, n) != 0) {
                cl_buf_free(&key);
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            }
            int32_t id = cl__crf_dict_find(&v->keys, key.data, key.len);
            if (id < 0)
                break; /* no term goes on this way */
            if (v->cats[id]) {
                best = k - i + 1;
                cats = v->cats[id];
            }
        }
        if (best > 0) {
            vB[i] |= cats;
            for (int32_t k = 1; k < best; k++)
                vI[i + k] |= cats;
        }
    }
    cl_buf_free(&key);
    return CL_OK;
}

/* ---- the public handle (crf.h): the same matching for other taggers ---- */

struct cl_vocab {
    crf_vocab v;
};

cl_status cl_vocab_parse(const char *name, const char *text, size_t n, cl_tokenizer_kind tok,
                         cl_vocab **out, cl_error *err)
{
    *out = NULL;
    cl_vocab *x = calloc(1, sizeof *x);
    if (!x)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl__crf_vocab_init(&x->v);
    cl_status st = vocab_parse(&x->v, name, text, n, tok, err);
    if (st != CL_OK) {
        cl_vocab_free(x);
        return st;
    }
    *out = x;
    return CL_OK;
}

void cl_vocab_free(cl_vocab *v)
{
    if (!v)
        return;
    cl__crf_vocab_free(&v->v);
    free(v);
}

int32_t cl_vocab_ncats(const cl_vocab *v) { return v->v.ncats; }

const char *cl_vocab_cat_name(const cl_vocab *v, int32_t c)
{
    return c >= 0 && c < v->v.ncats ? v->v.cat_names[c] : NULL;
}

typedef struct lowered {
    char (*lw)[256];
    size_t *n;
} lowered;

static const char *lowered_text(void *ud, int32_t i, size_t *n)
{
    lowered *l = ud;
    *n = l->n[i];
    return l->lw[i];
}

cl_status cl_vocab_mark_sentence(const cl_vocab *v, const cl_doc *doc, int32_t si,
                                 uint32_t *marks, cl_error *err)
{
    if (si < 0 || si >= doc->nsentences)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentence %d out of range", doc->id, si);
    const cl_sentence *s = &doc->sentences[si];
    int32_t T = s->tok_end - s->tok_begin;
    if (T <= 0)
        return CL_OK;
    lowered l = {malloc((size_t)T * sizeof *l.lw), malloc((size_t)T * sizeof *l.n)};
    uint32_t *vB = calloc((size_t)T * 2, sizeof *vB);
    cl_status st = l.lw && l.n && vB ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t t = 0; st == CL_OK && t < T; t++)
        l.n[t] = cl__crf_token_lower(doc, s->tok_begin + t, l.lw[t], sizeof l.lw[t]);
    if (st == CL_OK)
        st = cl__crf_vocab_walk(&v->v, T, lowered_text, &l, vB, vB + T, err);
    for (int32_t t = 0; st == CL_OK && t < T; t++)
        marks[t] = (vB[t] & 0xffu) | (vB[T + t] & 0xffu) << CL_VOCAB_INSIDE;
    free(l.lw);
    free(l.n);
    free(vB);
    return st;
}
