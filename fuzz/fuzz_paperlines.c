/*
 * fuzz_paperlines.c - libFuzzer target for the paper-lines parser
 * (cl_paperlines_parse, from memory): separators anywhere, line ends,
 * brackets, ": " splitting, Python whitespace stripping, UTF-8.  Whatever it
 * accepts must give non-empty labels without surrounding spaces, and the
 * labels scored against themselves, in both modes, must be all correct:
 * every type's correct == predicted == support.
 *
 *   scripts/build-fuzzers.sh --run 60 fuzz_paperlines
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/eval.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void self_score(const cl_paperlines *pl, cl_eval_mode mode)
{
    cl_eval_params p = cl_eval_default_params();
    p.mode = mode;
    p.errors = true;
    cl_error err;
    cl_scorer *s = NULL;
    if (cl_scorer_new(&p, &s, &err) != CL_OK)
        abort();
    for (int32_t i = 0; i < pl->nblocks; i++) {
        const cl_pl_block *b = &pl->blocks[i];
        const char *const *l = (const char *const *)b->labels;
        cl_status st = cl_scorer_add(s, l, l, b->n, (const char *const *)b->tokens, &err);
        if (st == CL_ERR_PARSE && mode == CL_EVAL_STRICT) { /* seqeval raises on S-X etc. */
            cl_scorer_free(s);
            return;
        }
        if (st != CL_OK)
            abort();
    }
    cl_eval_result r;
    if (cl_scorer_result(s, &r, &err) != CL_OK)
        abort();
    for (int32_t i = 0; i < r.ntypes; i++)
        if (r.types[i].tp != r.types[i].predicted || r.types[i].tp != r.types[i].support)
            abort();
    if (r.errors.count[CL_ERRC_CORRECT] != r.micro.support)
        abort();
    cl_buf out;
    cl_buf_init(&out);
    if (cl_eval_format_json(&r, &out, &err) != CL_OK ||
        cl_eval_format_table(&r, &out, &err) != CL_OK)
        abort();
    cl_buf_free(&out);
    cl_eval_result_free(&r);
    cl_scorer_free(s);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cl_paperlines pl;
    cl_error err;
    if (cl_paperlines_parse((const char *)data, size, "fuzz", &pl, &err) != CL_OK)
        return 0;
    for (int32_t i = 0; i < pl.nblocks; i++) {
        const cl_pl_block *b = &pl.blocks[i];
        for (int32_t j = 0; j < b->n; j++) {
            const char *l = b->labels[j];
            size_t n = strlen(l);
            if (n == 0 || l[0] == ' ' || l[n - 1] == ' ' || l[n - 1] == '\n' ||
                strchr(l, '[') || strchr(l, ']'))
                abort();
        }
    }
    self_score(&pl, CL_EVAL_DEFAULT);
    self_score(&pl, CL_EVAL_STRICT);
    cl_paperlines_free(&pl);
    return 0;
}
