/*
 * fuzz_roundtrip.h - shared by the format fuzzers that write what a reader
 * accepted and read it back: write a corpus to memory in a format, and
 * abort unless two corpora hold the same documents, tokens, sentences and
 * tags.  Header-only: each fuzz target is built from its one .c file.
 */
#ifndef CLINNER_FUZZ_ROUNDTRIP_H
#define CLINNER_FUZZ_ROUNDTRIP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"

static char *write_corpus(const cl_corpus *c, cl_format fmt, size_t *n)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, n);
    cl_error err;
    int64_t counter = 0;
    if (!fp || cl_format_write_header(fmt, fp, &err) != CL_OK)
        abort();
    for (int32_t i = 0; i < c->ndocs; i++)
        if (cl_doc_write(c->docs[i], fmt, fp, &counter, &err) != CL_OK) {
            fprintf(stderr, "write failed: %s\n", err.msg);
            abort();
        }
    fclose(fp);
    return buf;
}

static void same_docs(const cl_corpus *a, const cl_corpus *b)
{
    if (a->ndocs != b->ndocs)
        abort();
    for (int32_t i = 0; i < a->ndocs; i++) {
        const cl_doc *x = a->docs[i], *y = b->docs[i];
        if (strcmp(x->id, y->id) || strcmp(x->text, y->text) || x->ntokens != y->ntokens ||
            x->nsentences != y->nsentences)
            abort();
        if (x->ntokens && memcmp(x->tokens, y->tokens, (size_t)x->ntokens * sizeof *x->tokens))
            abort();
        if (x->nsentences &&
            memcmp(x->sentences, y->sentences, (size_t)x->nsentences * sizeof *x->sentences))
            abort();
        if (!x->tags != !y->tags)
            abort();
        for (int32_t t = 0; x->tags && t < x->ntokens; t++)
            if (strcmp(x->tags[t], y->tags[t]))
                abort();
    }
}

#endif
