/*
 * fuzz_jsonl.c - libFuzzer target for the JSONL reader (from memory,
 * cl_jsonl_parse): JSON syntax, field types, offset and token-text checks,
 * entity fragments, confidences.  Whatever it accepts must write back
 * (cl_doc_write) as JSONL that reads again into the same documents, and
 * writing that again must give the same bytes.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "corpus/formats.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char *write_jsonl(const cl_corpus *c, size_t *n)
{
    char *buf = NULL;
    FILE *fp = open_memstream(&buf, n);
    cl_error err;
    if (!fp)
        abort();
    for (int32_t i = 0; i < c->ndocs; i++)
        if (cl_doc_write(c->docs[i], CL_FORMAT_JSONL, fp, NULL, &err) != CL_OK)
            abort();
    fclose(fp);
    return buf;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_error err;
    cl_corpus *c;
    if (cl_corpus_new(&c, &err) != CL_OK)
        abort();
    if (cl_jsonl_parse(c, (const char *)data, size, "fuzz.jsonl", &err) == CL_OK) {
        size_t n1 = 0, n2 = 0;
        char *out1 = write_jsonl(c, &n1);
        cl_corpus *c2;
        if (cl_corpus_new(&c2, &err) != CL_OK)
            abort();
        if (cl_jsonl_parse(c2, out1, n1, "rewritten.jsonl", &err) != CL_OK) {
            fprintf(stderr, "re-read failed: %s\n", err.msg);
            abort();
        }
        if (c2->ndocs != c->ndocs)
            abort();
        for (int32_t i = 0; i < c->ndocs; i++) {
            const cl_doc *x = c->docs[i], *y = c2->docs[i];
            if (strcmp(x->text, y->text) || x->ntokens != y->ntokens ||
                x->nentities != y->nentities || x->nsentences != y->nsentences)
                abort();
        }
        char *out2 = write_jsonl(c2, &n2);
        if (n1 != n2 || memcmp(out1, out2, n1) != 0)
            abort();
        free(out1);
        free(out2);
        cl_corpus_free(c2);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    cl_corpus_free(c);
    return 0;
}
