/*
 * docwords.c - document-level context for the CRF: the document's most
 * frequent content words, given to every token as attributes "D=<word>".
 *
 * Why: some distinctions are properties of the whole document rather than
 * of a sentence.  In RareDis a rare disease is SKINRAREDISEASE when the
 * article is about a skin disease, and the article says so in many places
 * ("skin", "lesions", "blisters") but rarely in the sentence at hand.  A
 * linear-chain CRF sees one sentence; these attributes let it weigh labels
 * by what the document is about.  Content words: alphabetic, at least four
 * characters, not a common English function word, seen at least twice;
 * the top `k` by frequency (ties: first occurrence).
 */
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"

static const char *const stopwords[] = {
    "about", "above", "after", "again", "against", "also", "among", "another", "because",
    "been", "before", "being", "below", "between", "both", "called", "cannot", "could",
    "does", "doing", "down", "during", "each", "either", "else", "even", "ever", "every",
    "from", "further", "have", "having", "here", "however", "into", "itself", "just",
    "less", "like", "made", "make", "many", "more", "most", "much", "must", "near",
    "neither", "never", "none", "only", "other", "others", "over", "same", "should",
    "since", "some", "such", "than", "that", "their", "them", "then", "there", "these",
    "they", "this", "those", "through", "thus", "under", "until", "upon", "very", "were",
    "what", "when", "where", "whether", "which", "while", "whom", "whose", "will", "with",
    "within", "without", "would", "your", "known", "include", "includes", "including",
    "usually", "often",
};

static bool is_stopword(const char *w)
{
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (strcmp(w, stopwords[i]) == 0)
            return true;
    return false;
}

void cl__crf_doc_ctx_free(crf_doc_ctx *dc)
{
    if (!dc)
        return;
    for (int32_t i = 0; i < dc->n; i++)
        free(dc->attrs[i]);
    free(dc->attrs);
    free(dc->lens);
    memset(dc, 0, sizeof *dc);
}

cl_status cl__crf_doc_ctx_init(crf_doc_ctx *dc, const cl_doc *doc, int32_t k, cl_error *err)
{
    memset(dc, 0, sizeof *dc);
    if (k <= 0 || doc->ntokens == 0)
        return CL_OK;
    crf_dict words;
    cl__crf_dict_init(&words);
    int32_t *count = NULL;
    int32_t cap = 0;
    char low[256];
    cl_status st = CL_OK;
    for (int32_t t = 0; t < doc->ntokens && st == CL_OK; t++) {
        size_t n = cl__crf_token_lower(doc, t, low, sizeof low);
        if (n < 4)
            continue;
        bool alpha = true;
        for (size_t i = 0; i < n && alpha; i++)
            alpha = (low[i] >= 'a' && low[i] <= 'z') || (unsigned char)low[i] >= 0x80;
        if (!alpha || is_stopword(low))
            continue;
        int32_t id = cl__crf_dict_intern(&words, low, n, NULL);
        if (id >= cap) {
            int32_t nc = cap ? cap * 2 : 256;
            int32_t *c = realloc(count, (size_t)nc * sizeof *c);
            if (!c) {
                st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
                break;
            }
            memset(c + cap, 0, (size_t)(nc - cap) * sizeof *c);
            count = c;
            cap = nc;
        }
        if (id < 0) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        count[id]++;
    }
    if (st == CL_OK) {
        dc->attrs = calloc((size_t)k, sizeof *dc->attrs);
        dc->lens = calloc((size_t)k, sizeof *dc->lens);
        if (!dc->attrs || !dc->lens)
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    /* selection of the top k: k is small, a pass per pick is enough */
    while (st == CL_OK && dc->n < k) {
        int32_t best = -1;
        for (int32_t i = 0; i < words.n; i++)
            if (count[i] >= 2 && (best < 0 || count[i] > count[best]))
                best = i;
        if (best < 0)
            break;
        size_t n = words.klen[best];
        char *a = malloc(n + 3);
        if (!a) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(a, "D=", 2);
        memcpy(a + 2, words.keys[best], n + 1);
        dc->attrs[dc->n] = a;
        dc->lens[dc->n++] = n + 2;
        count[best] = 0;
    }
    free(count);
    cl__crf_dict_free(&words);
    if (st != CL_OK)
        cl__crf_doc_ctx_free(dc);
    return st;
}
