/*
 * bench/fsm_greedy.c - the host's share of a forced-decoding step: the
 * constrained arg-max (cl_fsm_greedy) against the vocabulary scan the
 * engine used before (first max over every logit, then, when that token
 * is refused, every token tested with cl_fsm_allows), on one model's
 * vocabulary, along a hand-made answer, with random logits.
 *
 *   make bench && build/bench/fsm_greedy MODEL.gguf [ROUNDS]
 *
 * Two cases per row: "refused" (random logits: the first max is usually not
 * allowed, the scan's slow path) and "allowed" (the allowed choice is made
 * the first max, the scan's fast path, the usual case in a real run).  The
 * two methods must agree on every row; the program says so or fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/util.h"

#ifdef CL_HAVE_LLAMA
#include "clinner/llm.h"
#include "llm/llm_internal.h"

static llama_token scan_greedy(const cl_llama_model *m, const cl_fsm_sentence *s,
                               const cl_fsm *f, const float *logits)
{
    llama_token best = cl_llm_first_max(logits, m->n_vocab);
    if (cl_fsm_allows(m, s, f, best))
        return best;
    best = -1;
    for (llama_token i = 0; i < m->n_vocab; i++)
        if ((best < 0 || logits[i] > logits[best]) && cl_fsm_allows(m, s, f, i))
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: fsm_greedy MODEL.gguf [ROUNDS]\n");
        return 2;
    }
    int rounds = argc == 3 ? atoi(argv[2]) : 20;
    if (rounds < 1) {
        fprintf(stderr, "fsm_greedy: ROUNDS must be a positive number (got '%s')\n", argv[2]);
        return 2;
    }
    cl_error err;
    cl_llm_init_backend(false);
    cl_llama_model *m = NULL;
    if (cl_llama_model_load(argv[1], false, &m, &err) != CL_OK) {
        fprintf(stderr, "fsm_greedy: %s\n", err.msg);
        return 1;
    }
    double t0 = cl_now();
    if (cl_llm_pieces(m, &err) != CL_OK) {
        fprintf(stderr, "fsm_greedy: %s\n", err.msg);
        cl_llama_model_free(m);
        return 1;
    }
    printf("%s: %d tokens; piece tables built in %.3f s\n", argv[1], m->n_vocab,
           cl_now() - t0);
    cl_label_set ls;
    cl_fsm_sentence s;
    const char *toks[] = {"Fever", "and", "rash", "are", "common", "in", "Fabry", "disease", "."};
    const char *labs[] = {"B-SIGN", "O", "B-SIGN", "O", "O", "O", "B-RAREDISEASE",
                          "I-RAREDISEASE", "O"};
    if (cl_label_set_init(&ls, NULL, 0, &err) != CL_OK) {
        fprintf(stderr, "fsm_greedy: %s\n", err.msg);
        cl_llama_model_free(m);
        return 1;
    }
    if (cl_fsm_sentence_init(&s, &ls, toks, NULL, 9, &err) != CL_OK) {
        fprintf(stderr, "fsm_greedy: %s\n", err.msg);
        cl_label_set_free(&ls);
        cl_llama_model_free(m);
        return 1;
    }
    int rc = 1; /* until every row has been compared */
    char ans[512];
    size_t n = 0;
    for (int i = 0; i < 9; i++)
        n += (size_t)snprintf(ans + n, sizeof ans - n, "%s : %s\n", toks[i], labs[i]);
    float *lg = malloc((size_t)m->n_vocab * sizeof *lg);
    if (!lg) {
        fprintf(stderr, "fsm_greedy: out of memory\n");
        goto done;
    }
    uint32_t r = 1;
    for (int32_t i = 0; i < m->n_vocab; i++) {
        r = r * 1664525u + 1013904223u;
        lg[i] = (float)(r >> 8) / 16777216.0f;
    }
    for (int allowed_first = 0; allowed_first < 2; allowed_first++) {
        double t_scan = 0, t_walk = 0;
        long rows = 0;
        for (int rep = 0; rep < rounds; rep++) {
            cl_fsm f;
            cl_fsm_start(&f);
            for (size_t at = 0; at < n; at++) {
                llama_token w = cl_fsm_greedy(m, &s, &f, lg);
                if (w < 0) {
                    /* a vocabulary that cannot spell the answer */
                    fprintf(stderr, "fsm_greedy: no token continues the answer at byte %zu\n", at);
                    goto done;
                }
                float keep = lg[w];
                if (allowed_first)
                    lg[w] = 2.0f; /* above every random logit */
                double a = cl_now();
                llama_token x = scan_greedy(m, &s, &f, lg);
                double b = cl_now();
                llama_token y = cl_fsm_greedy(m, &s, &f, lg);
                double c = cl_now();
                lg[w] = keep;
                if (x != y) {
                    fprintf(stderr, "fsm_greedy: the methods differ at byte %zu: %d vs %d\n", at,
                            x, y);
                    goto done;
                }
                t_scan += b - a;
                t_walk += c - b;
                rows++;
                cl_fsm_advance(&s, &f, ans + at, 1, NULL);
            }
        }
        printf("%-8s %ld rows, same choices: vocabulary scan %.1f us a row, piece walk %.2f us a "
               "row\n",
               allowed_first ? "allowed" : "refused", rows, t_scan / (double)rows * 1e6,
               t_walk / (double)rows * 1e6);
    }
    rc = 0;
done:
    free(lg);
    cl_fsm_sentence_free(&s);
    cl_label_set_free(&ls);
    cl_llama_model_free(m);
    return rc;
}
#else
int main(void)
{
    fprintf(stderr, "fsm_greedy: built without llama.cpp\n");
    return 77;
}
#endif
