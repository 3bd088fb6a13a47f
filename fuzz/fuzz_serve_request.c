/*
 * fuzz_serve_request.c - libFuzzer target for the body parser of `clinner
 * serve`'s POST /v1/tag (cl_tag_request_parse): arbitrary bytes, as a
 * client on the network may send.  A refused body must come with a
 * message; an accepted one must hold 1..max documents of valid UTF-8
 * without NUL, and each, tokenized as the server would and written with
 * the JSONL writer the server answers with, must read back (cl_jsonl_parse)
 * with the same id and text.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_serve_request
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "clinner/serve.h"
#include "clinner/text.h"
#include "clinner/tokenize.h"
#include "corpus/formats.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define MAX_DOCS 8

static void check_doc(cl_doc *doc, cl_tokenizer_kind tok)
{
    cl_error err;
    if (!cl_utf8_valid(doc->text, doc->text_bytes, NULL) ||
        memchr(doc->text, '\0', doc->text_bytes) || !doc->id || !*doc->id)
        abort();
    if (cl_tokenize_doc(doc, tok, &err) != CL_OK)
        abort();
    char *buf = NULL;
    size_t n = 0;
    FILE *fp = open_memstream(&buf, &n);
    if (!fp)
        abort();
    if (cl_doc_write(doc, CL_FORMAT_JSONL, fp, NULL, &err) != CL_OK)
        abort();
    fclose(fp);
    cl_corpus *back;
    if (cl_corpus_new(&back, &err) != CL_OK ||
        cl_jsonl_parse(back, buf, n, "answer", &err) != CL_OK || back->ndocs != 1 ||
        strcmp(back->docs[0]->id, doc->id) || strcmp(back->docs[0]->text, doc->text) ||
        back->docs[0]->ntokens != doc->ntokens)
        abort();
    cl_corpus_free(back);
    free(buf);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_tag_request r;
    cl_error err;
    cl_error_clear(&err);
    if (cl_tag_request_parse((const char *)data, size, MAX_DOCS, &r, &err) != CL_OK) {
        if (!err.msg[0] || r.docs)
            abort();
        return 0;
    }
    if (!r.docs || r.docs->ndocs < 1 || r.docs->ndocs > MAX_DOCS)
        abort();
    for (int32_t i = 0; i < r.docs->ndocs; i++)
        check_doc(r.docs->docs[i], r.has_tokenizer ? r.tokenizer : CL_TOKENIZER_CLINICAL);
    cl_tag_request_free(&r);
    return 0;
}
