/*
 * fuzz_csv.c - libFuzzer target for the paper-csv reader (from memory,
 * cl_papercsv_parse): quoting, line ends, header lookup, numbers, UTF-8,
 * document and sentence splitting.  Whatever it accepts must write back
 * (cl_doc_write) and read again into the same documents, tokens, sentences
 * and tags; a write that the reader then refuses is a bug.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_csv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "corpus/formats.h"
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_error err;
    cl_corpus *c;
    if (cl_corpus_new(&c, &err) != CL_OK)
        abort();
    if (cl_papercsv_parse(c, (const char *)data, size, "fuzz.csv", &err) == CL_OK) {
        size_t n = 0;
        char *out = write_corpus(c, CL_FORMAT_PAPER_CSV, &n);
        cl_corpus *c2;
        if (cl_corpus_new(&c2, &err) != CL_OK)
            abort();
        if (cl_papercsv_parse(c2, out, n, "rewritten.csv", &err) != CL_OK) {
            fprintf(stderr, "re-read failed: %s\n", err.msg);
            abort();
        }
        same_docs(c, c2);
        free(out);
        cl_corpus_free(c2);
        /* the other token writers must not fail on what the reader built,
         * except CoNLL on tokens holding a tab or line break */
        out = write_corpus(c, CL_FORMAT_JSONL, &n);
        cl_corpus *c3;
        if (cl_corpus_new(&c3, &err) != CL_OK)
            abort();
        if (cl_jsonl_parse(c3, out, n, "rewritten.jsonl", &err) != CL_OK) {
            fprintf(stderr, "jsonl re-read failed: %s\n", err.msg);
            abort();
        }
        same_docs(c, c3);
        free(out);
        cl_corpus_free(c3);
        out = write_corpus(c, CL_FORMAT_PAPER_LINES, &n);
        free(out);
    } else if (err.msg[0] == '\0') {
        abort(); /* a failure must say why */
    }
    cl_corpus_free(c);
    return 0;
}
