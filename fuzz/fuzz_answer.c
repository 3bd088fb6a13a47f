/*
 * fuzz_answer.c - libFuzzer target for reading a model's free answer
 * (cl_answer_parse: invalid UTF-8 replaced, the paper's line parse, aligned
 * by position) and for the exact-answer check of grammar decoding
 * (cl_answer_exact).  Model output is arbitrary text, so: no crash, every
 * label a valid index, "misaligned" exactly when the line count differs,
 * and an answer cl_answer_exact accepts must read back through
 * cl_answer_parse as aligned, with no invalid label and the same labels.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_answer
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/prompt.h"
#include "clinner/tokenize.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* A sentence with the awkward tokens: the separator's colon, a label-like
 * token, non-ASCII. */
static const char SENTENCE[] = "Fever : O B-SIGN in ACTH-deficient b\xC3\xA9" "b\xC3\xA9s";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_error err;
    cl_label_set ls;
    if (cl_label_set_init(&ls, NULL, 0, &err) != CL_OK)
        abort();
    const char *text = (const char *)data;
    int32_t labels[16], exact[16];
    for (int32_t ntok = 0; ntok < 16; ntok += 5) {
        cl_answer_info info;
        if (cl_answer_parse(&ls, text, size, ntok, labels, &info, &err) != CL_OK) {
            if (err.msg[0] == '\0')
                abort(); /* a failure must say why */
            continue;
        }
        if (info.lines < 0 || info.misaligned != (info.lines != ntok) ||
            info.invalid_labels < 0 || info.invalid_labels > ntok)
            abort();
        for (int32_t i = 0; i < ntok; i++)
            if (labels[i] < 0 || labels[i] >= ls.nlabels)
                abort();
    }
    cl_doc *doc;
    if (cl_doc_new("fuzz", SENTENCE, sizeof SENTENCE - 1, &doc, &err) != CL_OK ||
        cl_tokenize_doc(doc, CL_TOKENIZER_PAPER, &err) != CL_OK || doc->nsentences < 1 ||
        doc->sentences[0].tok_end - doc->sentences[0].tok_begin > 16)
        abort();
    if (cl_answer_exact(&ls, text, size, doc, 0, exact)) {
        int32_t ntok = doc->sentences[0].tok_end - doc->sentences[0].tok_begin;
        cl_answer_info info;
        if (cl_answer_parse(&ls, text, size, ntok, labels, &info, &err) != CL_OK ||
            info.misaligned || info.invalid_labels != 0 ||
            memcmp(labels, exact, (size_t)ntok * sizeof *labels) != 0)
            abort();
        int32_t prev = -1;
        for (int32_t i = 0; i < ntok; prev = exact[i++])
            if (!cl_label_valid_after(&ls, prev, exact[i]))
                abort();
    }
    cl_doc_free(doc);
    cl_label_set_free(&ls);
    return 0;
}
