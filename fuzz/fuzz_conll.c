/*
 * fuzz_conll.c - libFuzzer target for the CoNLL reader (from memory,
 * cl_conll_parse): tab or space columns, several columns, "# doc:" and
 * -DOCSTART- lines, blank-line sentence breaks, CRLF, UTF-8.  Whatever it
 * accepts must write back as CoNLL and read again into the same documents,
 * tokens, sentences and tags; a write that the reader then refuses, or reads
 * differently, is a bug.  The JSONL writer must take it too.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_conll
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "corpus/formats.h"
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void round_trip(const cl_corpus *c, cl_format fmt)
{
    size_t n = 0;
    char *out = write_corpus(c, fmt, &n);
    cl_corpus *c2;
    cl_error err;
    if (cl_corpus_new(&c2, &err) != CL_OK)
        abort();
    cl_status st = fmt == CL_FORMAT_CONLL ? cl_conll_parse(c2, out, n, "rewritten.conll", &err)
                                          : cl_jsonl_parse(c2, out, n, "rewritten.jsonl", &err);
    if (st != CL_OK) {
        fprintf(stderr, "re-read failed: %s\n", err.msg);
        abort();
    }
    same_docs(c, c2);
    free(out);
    cl_corpus_free(c2);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_error err;
    cl_corpus *c;
    if (cl_corpus_new(&c, &err) != CL_OK)
        abort();
    if (cl_conll_parse(c, (const char *)data, size, "fuzz.conll", &err) == CL_OK) {
        round_trip(c, CL_FORMAT_CONLL);
        round_trip(c, CL_FORMAT_JSONL);
    } else if (err.msg[0] == '\0') {
        abort(); /* a failure must say why */
    }
    cl_corpus_free(c);
    return 0;
}
