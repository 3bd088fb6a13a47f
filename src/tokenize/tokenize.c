/*
 * tokenize.c - the table of tokenizer names and cl_tokenize_doc, which
 * clears a document's tokens and hands its decoded code points to one
 * tokenizer (paper.c, clinical.c).  Tokenizers work on code points so that
 * token offsets are code points by construction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize/tok_internal.h"

static const struct {
    const char *name;
    cl_tokenizer_kind kind;
} tokenizers[] = {
    {"clinical", CL_TOKENIZER_CLINICAL},
    {"paper", CL_TOKENIZER_PAPER},
};

cl_status cl_tokenizer_from_name(const char *name, cl_tokenizer_kind *out, cl_error *err)
{
    for (size_t i = 0; i < sizeof tokenizers / sizeof tokenizers[0]; i++) {
        if (name && strcmp(name, tokenizers[i].name) == 0) {
            *out = tokenizers[i].kind;
            return CL_OK;
        }
    }
    return cl_error_set(err, CL_ERR_ARG, "unknown tokenizer '%s' (expected clinical or paper)",
                        name ? name : "(null)");
}

const char *cl_tokenizer_name(cl_tokenizer_kind kind)
{
    for (size_t i = 0; i < sizeof tokenizers / sizeof tokenizers[0]; i++)
        if (tokenizers[i].kind == kind)
            return tokenizers[i].name;
    return "unknown";
}

int32_t *cl_tok_decode(const cl_doc *doc, cl_error *err)
{
    int32_t n = doc->index.nchars;
    int32_t *cps = malloc(((size_t)n + 1) * sizeof *cps);
    if (!cps) {
        cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        return NULL;
    }
    size_t b = 0;
    for (int32_t i = 0; i < n; i++) {
        int len = cl_utf8_decode(doc->text + b, doc->text_bytes - b, &cps[i]);
        if (len < 1) { /* cannot happen: cl_doc_new validated the text */
            free(cps);
            cl_error_set(err, CL_ERR_UTF8, "%s: invalid UTF-8 at byte offset %zu", doc->id, b);
            return NULL;
        }
        b += (size_t)len;
    }
    cps[n] = 0;
    return cps;
}

cl_status cl_tokenize_doc(cl_doc *doc, cl_tokenizer_kind kind, cl_error *err)
{
    if (!doc)
        return cl_error_set(err, CL_ERR_ARG, "no document to tokenize");
    cl_doc_clear_tokens(doc);
    int32_t *cps = cl_tok_decode(doc, err);
    if (!cps)
        return err ? err->code : CL_ERR_NOMEM;
    cl_status st;
    switch (kind) {
    case CL_TOKENIZER_PAPER:
        st = cl_tok_paper(doc, cps, err);
        break;
    case CL_TOKENIZER_CLINICAL:
        st = cl_tok_clinical(doc, cps, err);
        break;
    default:
        st = cl_error_set(err, CL_ERR_ARG, "unknown tokenizer kind %d", (int)kind);
    }
    free(cps);
    if (st != CL_OK)
        cl_doc_clear_tokens(doc);
    return st;
}
