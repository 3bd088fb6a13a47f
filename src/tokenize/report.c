/*
 * report.c - the corpus statistics report of `clinner stats` (tokenize.h:
 * cl_corpus_report): counts of documents, tokens, entities per type, and what
 * the BIO projection could not represent, as an aligned table or as JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clinner/tokenize.h"

static double rate(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

static cJSON *stats_json(const cl_corpus_stats *st, bool have_tokens, bool have_bio,
                         const cl_bio_stats *bio, const char *tokenizer)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "documents", (double)st->documents);
    cJSON_AddNumberToObject(o, "characters", (double)st->characters);
    if (have_tokens) {
        if (tokenizer)
            cJSON_AddStringToObject(o, "tokenizer", tokenizer);
        cJSON_AddNumberToObject(o, "sentences", (double)st->sentences);
        cJSON_AddNumberToObject(o, "tokens", (double)st->tokens);
    }
    cJSON_AddNumberToObject(o, "entities", (double)st->entities);
    cJSON *types = cJSON_AddObjectToObject(o, "types");
    for (int i = 0; i < st->ntypes; i++)
        cJSON_AddNumberToObject(types, st->type_names[i], (double)st->type_counts[i]);
    cJSON_AddNumberToObject(o, "discontinuous", (double)st->discontinuous);
    cJSON_AddNumberToObject(o, "overlapping", (double)st->overlapping);
    cJSON_AddNumberToObject(o, "relations", (double)st->relations);
    if (have_bio) {
        cJSON *b = cJSON_AddObjectToObject(o, "bio");
        cJSON_AddStringToObject(b, "policy", tokenizer);
        cJSON_AddNumberToObject(b, "entities", (double)bio->entities);
        cJSON_AddNumberToObject(b, "boundaries", (double)bio->boundaries);
        cJSON_AddNumberToObject(b, "boundary_in_token", (double)bio->boundary_in_token);
        cJSON_AddNumberToObject(b, "boundary_in_token_rate",
                                rate(bio->boundary_in_token, bio->boundaries));
        cJSON_AddNumberToObject(b, "cross_sentence", (double)bio->cross_sentence);
        cJSON_AddNumberToObject(b, "discontinuous", (double)bio->discontinuous);
        cJSON_AddNumberToObject(b, "overlapping", (double)bio->overlapping);
        cJSON_AddNumberToObject(b, "lost", (double)bio->lost);
    }
    return o;
}

static void print_table(FILE *fp, const cl_corpus_stats *st, bool have_tokens, bool have_bio,
                        const cl_bio_stats *bio, const char *tokenizer)
{
    fprintf(fp, "%-22s %10lld\n", "documents", (long long)st->documents);
    fprintf(fp, "%-22s %10lld\n", "characters", (long long)st->characters);
    if (have_tokens) {
        fprintf(fp, "%-22s %10lld%s%s%s\n", "sentences", (long long)st->sentences,
               tokenizer ? "  (" : "", tokenizer ? tokenizer : "",
               tokenizer ? " tokenizer)" : "");
        fprintf(fp, "%-22s %10lld\n", "tokens", (long long)st->tokens);
    }
    fprintf(fp, "%-22s %10lld\n", "entities", (long long)st->entities);
    for (int i = 0; i < st->ntypes; i++)
        fprintf(fp, "  %-20s %10lld\n", st->type_names[i], (long long)st->type_counts[i]);
    fprintf(fp, "%-22s %10lld\n", "discontinuous", (long long)st->discontinuous);
    fprintf(fp, "%-22s %10lld\n", "overlapping", (long long)st->overlapping);
    fprintf(fp, "%-22s %10lld\n", "relations", (long long)st->relations);
    if (have_bio) {
        fprintf(fp, "\nBIO projection (%s policy):\n", tokenizer);
        fprintf(fp, "  %-30s %10lld\n", "entities", (long long)bio->entities);
        fprintf(fp, "  %-30s %10lld of %lld (%.2f%%)\n", "boundaries inside a token",
               (long long)bio->boundary_in_token, (long long)bio->boundaries,
               100.0 * rate(bio->boundary_in_token, bio->boundaries));
        fprintf(fp, "  %-30s %10lld\n", "cross-sentence entities", (long long)bio->cross_sentence);
        fprintf(fp, "  %-30s %10lld\n", "discontinuous", (long long)bio->discontinuous);
        fprintf(fp, "  %-30s %10lld\n", "overlapping", (long long)bio->overlapping);
        fprintf(fp, "  %-30s %10lld (%.2f%%)\n", "lost (not recoverable)", (long long)bio->lost,
               100.0 * rate(bio->lost, bio->entities));
    }
}

cl_status cl_corpus_report(FILE *fp, bool json, const cl_corpus_stats *st, bool have_tokens,
                           const cl_bio_stats *bio, const char *tokenizer, cl_error *err)
{
    if (!json) {
        print_table(fp, st, have_tokens, bio != NULL, bio, tokenizer);
        return CL_OK;
    }
    cJSON *o = stats_json(st, have_tokens, bio != NULL, bio, tokenizer);
    char *s = o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    fprintf(fp, "%s\n", s);
    free(s);
    return CL_OK;
}

cl_status cl_corpus_report_files(FILE *fp, bool json, const char *const *paths, int n,
                                 const cl_format *fmt, const cl_tokenizer_kind *tok,
                                 cl_error *err)
{
    cl_corpus *c;
    cl_status cst = cl_corpus_new(&c, err);
    if (cst != CL_OK)
        return cst;
    bool any_brat = false, any_token_format = false;
    cl_corpus_stats st;
    memset(&st, 0, sizeof st);
    cl_bio_stats bio;
    memset(&bio, 0, sizeof bio);
    cl_prepare_params pp = cl_prepare_default_params();
    pp.tokenizer = tok ? *tok : CL_TOKENIZER_CLINICAL;
    pp.tokenize = tok != NULL;
    pp.entities_from_tags = true; /* token formats carry entities as tags */
    cl_status rc = CL_OK;
    for (int i = 0; i < n && rc == CL_OK; i++) {
        cl_format f = fmt ? *fmt : cl_format_guess(paths[i]);
        int32_t first = c->ndocs;
        rc = cl_corpus_read(c, f, paths[i], err);
        any_token_format |= cl_format_has_tokens(f);
        any_brat |= f == CL_FORMAT_BRAT && tok;
        pp.bio_stats = f == CL_FORMAT_BRAT ? &bio : NULL;
        for (int32_t d = first; d < c->ndocs && rc == CL_OK; d++)
            rc = cl_doc_prepare(c->docs[d], &pp, err);
    }
    if (rc == CL_OK)
        rc = cl_corpus_stats_compute(c, &st, err);
    if (rc == CL_OK)
        rc = cl_corpus_report(fp, json, &st, tok || any_token_format, any_brat ? &bio : NULL,
                              tok ? cl_tokenizer_name(*tok) : NULL, err);
    cl_corpus_stats_free(&st);
    cl_corpus_free(c);
    return rc;
}
