/*
 * fuzz_vocab.c - libFuzzer target for the medical term list parser
 * (cl_vocab_parse: "CATEGORY<TAB>term" lines, terms tokenized like text)
 * and the matcher over a sentence (cl_vocab_mark_sentence).  A refused list
 * must say why and name the file; an accepted one has 1 to 8 named
 * categories, and the marks of a sentence built from the list's own first
 * term plus fixed words use no category bit beyond them, with every I mark
 * after a token that has a B or I mark of that category.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_vocab
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/crf.h"
#include "clinner/tokenize.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* The term of the input's first line (after its tab), at most 200 bytes. */
static size_t first_term(const unsigned char *data, size_t size, char *out)
{
    const unsigned char *tab = memchr(data, '\t', size);
    if (!tab)
        return 0;
    size_t n = 0;
    for (const unsigned char *p = tab + 1; p < data + size && *p != '\n' && n < 200; p++)
        out[n++] = (char)*p;
    return n;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_error err;
    cl_error_clear(&err);
    cl_vocab *v = NULL;
    if (cl_vocab_parse("fuzz.tsv", (const char *)data, size, CL_TOKENIZER_CLINICAL, &v, &err) !=
        CL_OK) {
        if (!err.msg[0] || !strstr(err.msg, "fuzz.tsv"))
            abort();
        return 0;
    }
    int32_t nc = cl_vocab_ncats(v);
    if (nc < 1 || nc > 8 || !cl_vocab_cat_name(v, nc - 1) || cl_vocab_cat_name(v, nc))
        abort();
    char text[512];
    size_t n = (size_t)snprintf(text, sizeof text, "burning pain in ");
    n += first_term(data, size, text + n);
    n += (size_t)snprintf(text + n, sizeof text - n, " and pain");
    cl_doc *d = NULL;
    if (cl_doc_new("s", text, n, &d, &err) == CL_OK &&
        cl_tokenize_doc(d, CL_TOKENIZER_CLINICAL, &err) == CL_OK && d->nsentences > 0) {
        int32_t T = d->sentences[0].tok_end - d->sentences[0].tok_begin;
        uint32_t *marks = calloc((size_t)T + 1, sizeof *marks);
        if (!marks || cl_vocab_mark_sentence(v, d, 0, marks, &err) != CL_OK)
            abort();
        uint32_t cats = (1u << nc) - 1u;
        for (int32_t t = 0; t < T; t++) {
            uint32_t b = marks[t] & 0xffu, i = marks[t] >> CL_VOCAB_INSIDE;
            if ((b & ~cats) || (i & ~cats) || (marks[t] >> (2 * CL_VOCAB_INSIDE)))
                abort();
            uint32_t before = t > 0 ? (marks[t - 1] | marks[t - 1] >> CL_VOCAB_INSIDE) & 0xffu : 0;
            if (i & ~before)
                abort();
        }
        free(marks);
    }
    cl_doc_free(d);
    cl_vocab_free(v);
    return 0;
}
