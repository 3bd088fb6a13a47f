/*
 * fuzz_brat_ann.c - libFuzzer target for cl_brat_parse_ann: arbitrary bytes
 * as the .ann of a fixed small text with multi-byte characters, so offset
 * checks, the text-column comparison (quotes, code points vs bytes) and
 * every line kind are exercised.  Whatever it accepts must also survive
 * cl_brat_write_ann and read back to the same entities.
 *
 *   scripts/build-fuzzers.sh --run 60
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"

static const char TEXT[] = "Caf\xc3\xa9 \"au\" lait\xc2\xa0spots (\xe2\x80\x9c" "CALS\xe2\x80\x9d),\n"
                           "\xf0\x9d\x9b\xbc-thalassemia\tand pain.";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_error err;
    cl_doc *doc;
    if (cl_doc_new("fuzz", TEXT, sizeof TEXT - 1, &doc, &err) != CL_OK)
        abort();
    if (cl_brat_parse_ann(doc, (const char *)data, size, "fuzz.ann", &err) == CL_OK) {
        char *buf = NULL;
        size_t n = 0;
        FILE *fp = open_memstream(&buf, &n);
        if (!fp)
            abort();
        cl_status st = cl_brat_write_ann(doc, fp, &err);
        fclose(fp);
        if (st == CL_OK) {
            /* what we write, we must read back, with the same entities */
            cl_doc *again;
            if (cl_doc_new("fuzz", TEXT, sizeof TEXT - 1, &again, &err) != CL_OK ||
                cl_brat_parse_ann(again, buf, n, "rewritten.ann", &err) != CL_OK) {
                fprintf(stderr, "rewritten .ann does not read back: %s\n%s\n", err.msg, buf);
                abort();
            }
            if (again->nentities != doc->nentities || again->nrelations != doc->nrelations)
                abort();
            for (int32_t i = 0; i < doc->nentities; i++) {
                const cl_entity *a = &doc->entities[i], *b = &again->entities[i];
                if (strcmp(a->type, b->type) || a->nfrags != b->nfrags ||
                    memcmp(a->frags, b->frags, (size_t)a->nfrags * sizeof *a->frags))
                    abort();
            }
            cl_doc_free(again);
        }
        free(buf);
    }
    cl_doc_free(doc);
    return 0;
}
