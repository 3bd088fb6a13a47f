/*
 * fuzz_reader.c - libFuzzer target for the streaming document reader
 * (corpus.h, cl_doc_reader) against the whole-file parsers: the first byte
 * picks jsonl or conll, the rest is the input.  The reader must never
 * crash, must always end, and must hand out every record once (a document
 * or a rejection); whatever the whole-file parser accepts, the reader must
 * hand out as the same documents without rejecting anything; with a filter
 * on ids (half of them, by hash), exactly the accepted documents it keeps:
 * the light id scan of jsonl lines must agree with the parser.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_reader
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "clinner/run.h"
#include "corpus/formats.h"
#include "fuzz_roundtrip.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static bool even_shard(void *ctx, const char *id)
{
    (void)ctx;
    return cl_shard_of(id, 2) == 0;
}

/* Every document the reader hands out (rejections skipped) into a corpus;
 * *rejected counts the rejections. */
static cl_corpus *read_all(const char *in, size_t n, cl_format fmt, bool filter, int *rejected)
{
    cl_error err;
    FILE *fp = n ? fmemopen((void *)in, n, "r") : fopen("/dev/null", "r");
    cl_doc_reader *r;
    if (!fp || cl_doc_reader_open(fp, fmt, "in", &r, &err) != CL_OK)
        abort();
    if (filter)
        cl_doc_reader_set_filter(r, even_shard, NULL);
    cl_corpus *c;
    if (cl_corpus_new(&c, &err) != CL_OK)
        abort();
    *rejected = 0;
    for (size_t calls = 0;; calls++) {
        if (calls > 2 * n + 4) {
            fprintf(stderr, "the reader does not end\n");
            abort();
        }
        cl_doc *doc;
        cl_status st = cl_doc_reader_next(r, &doc, &err);
        if (st != CL_OK) {
            if (!cl_doc_reader_rejected(r, NULL))
                break; /* the stream itself failed */
            (*rejected)++;
            continue;
        }
        if (!doc)
            break;
        if (cl_corpus_add(c, doc, &err) != CL_OK)
            abort();
    }
    cl_doc_reader_free(r);
    fclose(fp);
    return c;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 1)
        return 0;
    cl_format fmt = data[0] & 1 ? CL_FORMAT_CONLL : CL_FORMAT_JSONL;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    cl_error err;
    cl_corpus *whole;
    if (cl_corpus_new(&whole, &err) != CL_OK)
        abort();
    cl_status wst = fmt == CL_FORMAT_CONLL ? cl_conll_parse(whole, in, n, "in", &err)
                                           : cl_jsonl_parse(whole, in, n, "in", &err);
    int rejected, rejected_f;
    cl_corpus *streamed = read_all(in, n, fmt, false, &rejected);
    cl_corpus *filtered = read_all(in, n, fmt, true, &rejected_f);
    if (wst == CL_OK) {
        if (rejected || rejected_f) {
            fprintf(stderr, "the reader rejected what the parser accepts\n");
            abort();
        }
        same_docs(whole, streamed);
        /* whole's documents the filter keeps, borrowed */
        cl_doc **kept = calloc((size_t)whole->ndocs + 1, sizeof *kept);
        cl_corpus view = {kept, 0, whole->ndocs};
        for (int32_t i = 0; kept && i < whole->ndocs; i++)
            if (even_shard(NULL, whole->docs[i]->id))
                kept[view.ndocs++] = whole->docs[i];
        same_docs(&view, filtered);
        free(kept);
    }
    cl_corpus_free(streamed);
    cl_corpus_free(filtered);
    cl_corpus_free(whole);
    return 0;
}
