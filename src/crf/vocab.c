/*
 * vocab.c - medical vocabularies as CRF features: a term list (HPO signs
 * and symptoms, Orphanet / OMIM disease names, skin diseases; built at
 * set-up by scripts/setup-vocab.sh, never shipped) matched over a
 * sentence's lower-cased tokens in one left-to-right pass.
 *
 * The list is a text file of "CATEGORY<TAB>term" lines.  Each term is
 * tokenized with the model's tokenizer, so that it splits where text does,
 * and its lower-cased tokens joined by ' ' are the key.  The keys form a
 * token trie kept in one hash dictionary: every proper prefix of a term is
 * a node (category mask 0) and a term's last token carries its categories,
 * so a walk from a token stops at the first prefix that no term has, and
 * each start costs at most the length of the longest term that begins
 * there.  features.c does that walk over a sentence (vocab_mark): tokens
 * get B-CAT (first token) and I-CAT (the others) marks of the longest term
 * starting at each position, and attributes "v=B-PHENO" (also at +-1).
 *
 * A trained model stores the keys (model.c, format version 2), so tagging
 * needs no vocabulary file; such a model holds the vocabulary's terms and
 * is therefore for local use, not for shipping (HPO's terms may not be
 * redistributed modified).
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

cl_status cl__crf_vocab_read(crf_vocab *v, const char *path, cl_tokenizer_kind tok, cl_error *err)
{
    char *data = NULL;
    size_t n = 0;
    cl_status st = cl_read_file(path, &data, &n, err);
    if (st != CL_OK)
        return st;
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
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: expected CATEGORY<TAB>term", path,
                              line);
            break;
        }
        int32_t c = category(v, s, (size_t)(tab - s));
        if (c < 0) {
            st = cl_error_set(err, CL_ERR_PARSE, "%s:%ld: more than %d categories", path, line,
                              CRF_VOCAB_MAX_CATS);
            break;
        }
        st = add_term(v, tab + 1, (size_t)(s + len - tab - 1), 1u << c, tok, &key, err);
        if (st != CL_OK)
            cl_error_prefix(err, "%s:%ld: ", path, line);
    }
    cl_buf_free(&key);
    free(data);
    if (st == CL_OK && v->keys.n == 0)
        st = cl_error_set(err, CL_ERR_PARSE, "%s: no terms", path);
    return st;
}
