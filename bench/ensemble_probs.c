/*
 * bench/ensemble_probs.c - what the ensemble (ensemble.h) mixes, per token:
 * a CRF's marginals and a fine-tuned encoder's label log-probabilities, with
 * the gold label, for every token of a corpus.  bench/ensemble_sweep.py
 * replays the ensemble's decoding over these numbers to compare weights and
 * document rules without re-running the encoder (seconds instead of minutes
 * a configuration).  Built and run by bench/ensemble_cv.sh.
 *
 *   ensemble_probs CRF ENCODER FORMAT PATH TOKENIZER > probs.txt
 *
 * Output: "#labels L1 L2 ..." (the CRF's label order), then per document
 * "#doc ID NSENTENCES", per sentence "#s", per token
 * "TOKEN<TAB>GOLD p_1 ... p_L<TAB>lp_1 ... lp_L" (CRF marginals, then the
 * encoder's log-probabilities mapped onto the CRF's labels).  Built by
 * `make bench` (build/bench/ensemble_probs); needs the encoder, so a build
 * without llama.cpp gets a stub that says so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/clinner.h"

#if CL_HAVE_LLAMA

static int fail(const cl_error *err)
{
    fprintf(stderr, "ensemble_probs: %s\n", err->msg);
    return 1;
}

static int dump_doc(const cl_crf_model *crf, const cl_encoder *enc, const cl_doc *doc,
                    int32_t L, int32_t Le, const int32_t *enc_of, cl_error *err)
{
    size_t n = (size_t)doc->ntokens + 1;
    float *pc = malloc(n * (size_t)L * sizeof *pc), *pe = malloc(n * (size_t)Le * sizeof *pe);
    cl_status st = pc && pe ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK && doc->nsentences > 0)
        st = cl_crf_marginals(crf, NULL, doc, 0, doc->nsentences, pc, err);
    if (st == CL_OK && doc->nsentences > 0)
        st = cl_encoder_log_probs(enc, doc, 0, doc->nsentences, 2, pe, err);
    if (st != CL_OK)
        cl_error_prefix(err, "%s: ", doc->id);
    for (int32_t s = 0; st == CL_OK && s < doc->nsentences; s++) {
        if (s == 0)
            printf("#doc %s %d\n", doc->id, doc->nsentences);
        printf("#s\n");
        for (int32_t i = doc->sentences[s].tok_begin; i < doc->sentences[s].tok_end; i++) {
            size_t nb;
            const char *b = cl_doc_token_bytes(doc, i, &nb);
            printf("%.*s\t%s", (int)nb, b, doc->tags ? doc->tags[i] : "O");
            for (int32_t l = 0; l < L; l++)
                printf(" %.6g", (double)pc[(size_t)i * (size_t)L + (size_t)l]);
            printf("\t");
            for (int32_t l = 0; l < L; l++)
                printf(" %.6g", (double)pe[(size_t)i * (size_t)Le + (size_t)enc_of[l]]);
            printf("\n");
        }
    }
    free(pc);
    free(pe);
    return st == CL_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: ensemble_probs CRF ENCODER FORMAT PATH TOKENIZER\n");
        return 2;
    }
    cl_error err = CL_ERROR_INIT;
    cl_crf_model *crf = NULL;
    cl_encoder *enc = NULL;
    cl_corpus *c = NULL;
    cl_format fmt;
    cl_prepare_params pp = cl_prepare_default_params();
    pp.types = cl_paper_types;
    pp.ntypes = CL_NUM_PAPER_TYPES;
    if (cl_crf_model_load(argv[1], &crf, &err) || cl_encoder_open(argv[2], &enc, &err) ||
        cl_format_from_name(argv[3], &fmt, &err) ||
        cl_tokenizer_from_name(argv[5], &pp.tokenizer, &err) ||
        cl_corpus_load(argv[4], fmt, &pp, &c, &err))
        return fail(&err);
    cl_crf_model_info info;
    cl_crf_model_get_info(crf, &info);
    const char *const *el = cl_encoder_labels(enc);
    int32_t L = info.nlabels, Le = 0, enc_of[64];
    while (el && el[Le])
        Le++;
    if (!el || L != Le || L > 64) {
        fprintf(stderr, "ensemble_probs: the CRF and the encoder have different labels\n");
        return 1;
    }
    printf("#labels");
    for (int32_t l = 0; l < L; l++) {
        const char *name = cl_crf_model_label(crf, l);
        printf(" %s", name);
        enc_of[l] = -1;
        for (int32_t k = 0; k < Le; k++)
            if (!strcmp(el[k], name))
                enc_of[l] = k;
        if (enc_of[l] < 0) {
            fprintf(stderr, "ensemble_probs: the encoder has no label %s\n", name);
            return 1;
        }
    }
    printf("\n");
    int rc = 0;
    for (int32_t d = 0; d < c->ndocs && rc == 0; d++)
        if ((rc = dump_doc(crf, enc, c->docs[d], L, Le, enc_of, &err)) != 0)
            fail(&err);
    cl_corpus_free(c);
    cl_encoder_free(enc);
    cl_crf_model_free(crf);
    return rc;
}
#else
int main(void)
{
    fprintf(stderr, "ensemble_probs: this build has no encoder (built without llama.cpp)\n");
    return 2;
}
#endif
