/*
 * report.c - the scorer's two outputs: a table laid out like seqeval's
 * classification_report (digits=4) with the paper's average as an extra
 * row, and one JSON object for programs (cJSON).
 */
#include <string.h>

#include <cjson/cJSON.h>

#include "eval/eval_internal.h"

static const char *AVG_LABEL = "average (paper)";

static int row(cl_buf *o, int width, const char *name, const cl_prf *p)
{
    return cl_buf_printf(o, "%*s  %9.4f %9.4f %9.4f %9lld\n", width, name, p->precision,
                         p->recall, p->f1, (long long)p->support);
}

cl_status cl_eval_format_table(const cl_eval_result *r, cl_buf *o, cl_error *err)
{
    int width = (int)strlen("weighted avg");
    if ((int)strlen(AVG_LABEL) > width)
        width = (int)strlen(AVG_LABEL);
    for (int32_t i = 0; i < r->ntypes; i++)
        if ((int)strlen(r->types[i].type) > width)
            width = (int)strlen(r->types[i].type);
    int rc = cl_buf_printf(o, "%*s  %9s %9s %9s %9s\n\n", width, "", "precision", "recall",
                           "f1-score", "support");
    for (int32_t i = 0; i < r->ntypes; i++)
        rc |= row(o, width, r->types[i].type, &r->types[i].prf);
    rc |= cl_buf_puts(o, "\n");
    rc |= row(o, width, "micro avg", &r->micro);
    rc |= row(o, width, "macro avg", &r->macro);
    rc |= row(o, width, "weighted avg", &r->weighted);
    rc |= row(o, width, AVG_LABEL, &r->average);
    if (r->misaligned >= 0) {
        rc |= cl_buf_printf(o, "\nmisaligned sentences: %lld of %lld", (long long)r->misaligned,
                            (long long)r->units);
        if (r->misaligned > 0)
            rc |= cl_buf_printf(o, " (%lld short, %lld long)", (long long)r->misaligned_short,
                                (long long)(r->misaligned - r->misaligned_short));
        rc |= cl_buf_printf(o, "\nright length, other token texts: %lld sentences (%lld lines)\n",
                            (long long)r->text_mismatch, (long long)r->text_mismatch_tokens);
    }
    if (r->missing_docs > 0)
        rc |= cl_buf_printf(o, "gold documents without predictions: %lld\n",
                            (long long)r->missing_docs);
    if (r->has_errors) {
        rc |= cl_buf_puts(o, "\nerrors:\n");
        for (int c = 0; c < CL_ERRC_COUNT; c++)
            rc |= cl_buf_printf(o, "  %-18s %lld\n", cl_err_class_name((cl_err_class)c),
                                (long long)r->errors.count[c]);
        for (int c = 0; c < CL_ERRC_COUNT; c++) {
            if (r->errors.nexamples[c] == 0)
                continue;
            rc |= cl_buf_printf(o, "\n%s examples:\n", cl_err_class_name((cl_err_class)c));
            for (int i = 0; i < r->errors.nexamples[c]; i++) {
                const cl_eval_example *ex = &r->errors.examples[c][i];
                rc |= cl_buf_printf(o, "  - %s\n", ex->sentence ? ex->sentence : "");
                if (ex->gold)
                    rc |= cl_buf_printf(o, "    gold: %s\n", ex->gold);
                if (ex->pred)
                    rc |= cl_buf_printf(o, "    pred: %s\n", ex->pred);
            }
        }
    }
    if (rc)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory formatting the report");
    return CL_OK;
}

static cJSON *prf_json(const cl_prf *p, bool support)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "precision", p->precision);
    cJSON_AddNumberToObject(o, "recall", p->recall);
    cJSON_AddNumberToObject(o, "f1", p->f1);
    if (support)
        cJSON_AddNumberToObject(o, "support", (double)p->support);
    return o;
}

static cJSON *errors_json(const cl_eval_errors *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *counts = cJSON_AddObjectToObject(o, "counts");
    cJSON *exs = cJSON_AddObjectToObject(o, "examples");
    if (!counts || !exs)
        return o;
    for (int c = 0; c < CL_ERRC_COUNT; c++) {
        const char *name = cl_err_class_name((cl_err_class)c);
        cJSON_AddNumberToObject(counts, name, (double)e->count[c]);
        cJSON *arr = cJSON_AddArrayToObject(exs, name);
        for (int i = 0; arr && i < e->nexamples[c]; i++) {
            const cl_eval_example *ex = &e->examples[c][i];
            cJSON *x = cJSON_CreateObject();
            if (!x)
                continue;
            cJSON_AddNumberToObject(x, "unit", (double)ex->unit);
            cJSON_AddStringToObject(x, "context", ex->sentence ? ex->sentence : "");
            if (ex->gold)
                cJSON_AddStringToObject(x, "gold", ex->gold);
            if (ex->pred)
                cJSON_AddStringToObject(x, "pred", ex->pred);
            cJSON_AddItemToArray(arr, x);
        }
    }
    return o;
}

cl_status cl_eval_format_json(const cl_eval_result *r, cl_buf *out, cl_error *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *pt = root ? cJSON_AddObjectToObject(root, "per_type") : NULL;
    if (!pt) {
        cJSON_Delete(root);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory formatting JSON");
    }
    for (int32_t i = 0; i < r->ntypes; i++) {
        cJSON *t = prf_json(&r->types[i].prf, true);
        if (t) {
            cJSON_AddNumberToObject(t, "predicted", (double)r->types[i].predicted);
            cJSON_AddNumberToObject(t, "correct", (double)r->types[i].tp);
            cJSON_AddItemToObject(pt, r->types[i].type, t);
        }
    }
    cJSON_AddItemToObject(root, "average", prf_json(&r->average, false));
    cJSON_AddItemToObject(root, "micro", prf_json(&r->micro, true));
    cJSON_AddItemToObject(root, "macro", prf_json(&r->macro, true));
    cJSON_AddItemToObject(root, "weighted", prf_json(&r->weighted, true));
    cJSON_AddNumberToObject(root, "units", (double)r->units);
    if (r->misaligned >= 0) {
        cJSON_AddNumberToObject(root, "misaligned_sentences", (double)r->misaligned);
        cJSON_AddNumberToObject(root, "misaligned_short", (double)r->misaligned_short);
        cJSON_AddNumberToObject(root, "text_mismatch_sentences", (double)r->text_mismatch);
        cJSON_AddNumberToObject(root, "text_mismatch_lines", (double)r->text_mismatch_tokens);
    }
    if (r->missing_docs > 0)
        cJSON_AddNumberToObject(root, "missing_documents", (double)r->missing_docs);
    if (r->has_errors)
        cJSON_AddItemToObject(root, "errors", errors_json(&r->errors));
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s || cl_buf_puts(out, s) || cl_buf_putc(out, '\n')) {
        cJSON_free(s);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory formatting JSON");
    }
    cJSON_free(s);
    return CL_OK;
}
