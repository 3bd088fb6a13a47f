/*
 * manifest.c - an ensemble from its manifest, the small JSON file beside
 * the two model files (the format: include/clinner/ensemble.h).  Every
 * error names the manifest and the field.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/ensemble.h"
#include "clinner/util.h"

/* A string member of obj, or NULL when absent; a present non-string is an error. */
static cl_status get_string(const cJSON *obj, const char *key, const char *path, bool required,
                            const char **out, cl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = cJSON_IsString(v) ? v->valuestring : NULL;
    if ((v && !cJSON_IsString(v)) || (required && !*out))
        return cl_error_set(err, CL_ERR_PARSE, "%s: field \"%s\": %s", path, key,
                            v ? "not a string" : "missing");
    return CL_OK;
}

static cl_status get_number(const cJSON *obj, const char *key, const char *path, double *out,
                            cl_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v && !cJSON_IsNumber(v))
        return cl_error_set(err, CL_ERR_PARSE, "%s: field \"%s\": not a number", path, key);
    if (v)
        *out = v->valuedouble;
    return CL_OK;
}

/* document_type.cue_words: an array of strings, borrowed from obj into the
 * array *cues (caller frees). */
static cl_status get_cues(const cJSON *obj, const char *path, cl_ensemble_params *p,
                          const char ***cues, cl_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, "cue_words"), *v;
    if (!a)
        return CL_OK;
    if (!cJSON_IsArray(a))
        return cl_error_set(err, CL_ERR_PARSE, "%s: field \"cue_words\": not an array", path);
    int n = cJSON_GetArraySize(a), i = 0;
    if (!(*cues = calloc((size_t)n + 1, sizeof **cues)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsString(v) || !v->valuestring[0])
            return cl_error_set(err, CL_ERR_PARSE,
                                "%s: field \"cue_words\": item %d is not a non-empty string",
                                path, i + 1);
        (*cues)[i++] = v->valuestring;
    }
    p->doc_cue_words = *cues;
    p->doc_ncue_words = n;
    return CL_OK;
}

/* A JSON array of n numbers into out[0..n). */
static cl_status get_numbers(const cJSON *a, int32_t n, const char *path, const char *what,
                             double *out, cl_error *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return cl_error_set(err, CL_ERR_PARSE, "%s: field \"stack\": %s: not an array of %d numbers",
                            path, what, n);
    const cJSON *v;
    int32_t i = 0;
    cJSON_ArrayForEach(v, a) {
        if (!cJSON_IsNumber(v))
            return cl_error_set(err, CL_ERR_PARSE,
                                "%s: field \"stack\": %s: item %d is not a number", path, what,
                                i + 1);
        out[i++] = v->valuedouble;
    }
    return CL_OK;
}

/* Arrays the manifest's "stack" fills (owned), borrowed by the params. */
typedef struct stack_arrays {
    const char **labels;
    double *weights, *bias;
} stack_arrays;

/* The optional "stack" object: labels (n strings), weights (2n arrays of n
 * numbers), bias (n numbers). */
static cl_status get_stack(const cJSON *root, const char *path, cl_ensemble_params *p,
                           stack_arrays *sa, cl_error *err)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "stack");
    if (!o)
        return CL_OK;
    const cJSON *lab = cJSON_GetObjectItemCaseSensitive(o, "labels");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
    if (!cJSON_IsObject(o) || !cJSON_IsArray(lab) || cJSON_GetArraySize(lab) < 1 ||
        cJSON_GetArraySize(lab) > 64)
        return cl_error_set(err, CL_ERR_PARSE,
                            "%s: field \"stack\": not an object with \"labels\" (1 to 64 names)",
                            path);
    int32_t n = cJSON_GetArraySize(lab), i = 0;
    sa->labels = calloc((size_t)n, sizeof *sa->labels);
    sa->weights = malloc((size_t)(2 * n) * (size_t)n * sizeof *sa->weights);
    sa->bias = malloc((size_t)n * sizeof *sa->bias);
    if (!sa->labels || !sa->weights || !sa->bias)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    const cJSON *v;
    cJSON_ArrayForEach(v, lab) {
        if (!cJSON_IsString(v))
            return cl_error_set(err, CL_ERR_PARSE,
                                "%s: field \"stack\": labels: item %d is not a string", path,
                                i + 1);
        sa->labels[i++] = v->valuestring;
    }
    if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != 2 * n)
        return cl_error_set(err, CL_ERR_PARSE,
                            "%s: field \"stack\": weights: not an array of %d rows (2 x %d labels)",
                            path, 2 * n, n);
    char what[32];
    i = 0;
    cJSON_ArrayForEach(v, w) {
        snprintf(what, sizeof what, "weights row %d", i + 1);
        cl_status st = get_numbers(v, n, path, what, sa->weights + (size_t)i++ * n, err);
        if (st != CL_OK)
            return st;
    }
    cl_status st = get_numbers(cJSON_GetObjectItemCaseSensitive(o, "bias"), n, path, "bias",
                               sa->bias, err);
    if (st != CL_OK)
        return st;
    p->stack_labels = sa->labels;
    p->stack_nlabels = n;
    p->stack_weights = sa->weights;
    p->stack_bias = sa->bias;
    return CL_OK;
}

/* The manifest's fields into p (strings borrowed from root; model paths
 * joined to dir into crf / enc, which the caller frees). */
static cl_status read_manifest(const cJSON *root, const char *path, const char *dir,
                               cl_ensemble_params *p, char **crf, char **enc,
                               const char ***cues, const char **tokenizer, cl_error *err)
{
    const char *format, *c, *e;
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    cl_status st = get_string(root, "format", path, true, &format, err);
    if (st == CL_OK && strcmp(format, "clinner-ensemble") != 0)
        st = cl_error_set(err, CL_ERR_PARSE, "%s: field \"format\": \"%s\", not "
                          "\"clinner-ensemble\"", path, format);
    if (st == CL_OK && !(cJSON_IsNumber(ver) && ver->valueint == 1))
        st = cl_error_set(err, CL_ERR_PARSE, "%s: field \"version\": this clinner reads "
                          "version 1", path);
    if (st == CL_OK)
        st = get_string(root, "crf", path, true, &c, err);
    if (st == CL_OK)
        st = get_string(root, "encoder", path, true, &e, err);
    if (st == CL_OK)
        st = get_string(root, "tokenizer", path, false, tokenizer, err);
    if (st == CL_OK)
        st = get_number(root, "crf_weight", path, &p->crf_weight, err);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "document_type");
    if (st == CL_OK && dt && !cJSON_IsObject(dt))
        st = cl_error_set(err, CL_ERR_PARSE, "%s: field \"document_type\": not an object", path);
    if (st == CL_OK && dt)
        st = get_string(dt, "type", path, true, &p->doc_type, err);
    if (st == CL_OK && dt)
        st = get_string(dt, "base", path, true, &p->doc_base, err);
    if (st == CL_OK && dt)
        st = get_number(dt, "min_share", path, &p->doc_min_share, err);
    if (st == CL_OK && dt)
        st = get_number(dt, "cue_min_per_1000", path, &p->doc_cue_min, err);
    if (st == CL_OK && dt)
        st = get_cues(dt, path, p, cues, err);
    if (st != CL_OK)
        return st;
    *crf = c[0] == '/' ? cl_strdup(c) : cl_path_join(dir, c);
    *enc = e[0] == '/' ? cl_strdup(e) : cl_path_join(dir, e);
    p->crf_path = *crf;
    p->encoder_path = *enc;
    if (!*crf || !*enc)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

cl_status cl_ensemble_tagger_open(const char *manifest_path, int32_t threads, cl_tagger *out,
                                  char **tokenizer, cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    if (tokenizer)
        *tokenizer = NULL;
    char *text = NULL, *dir = cl_strdup(manifest_path), *crf = NULL, *enc = NULL;
    const char **cues = NULL;
    stack_arrays sa = {0};
    size_t len = 0;
    cl_status st = dir ? cl_read_file(manifest_path, &text, &len, err)
                       : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cJSON *root = st == CL_OK ? cJSON_ParseWithLength(text, len) : NULL;
    if (st == CL_OK && !cJSON_IsObject(root))
        st = cl_error_set(err, CL_ERR_PARSE, "%s: not an ensemble manifest (a JSON object)",
                          manifest_path);
    if (st == CL_OK) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(dir, ".");
        cl_ensemble_params p = cl_ensemble_default_params();
        const char *tok = NULL;
        p.threads = threads;
        st = read_manifest(root, manifest_path, dir, &p, &crf, &enc, &cues, &tok, err);
        if (st == CL_OK)
            st = get_stack(root, manifest_path, &p, &sa, err);
        if (st == CL_OK && (st = cl_ensemble_tagger_new(&p, out, err)) != CL_OK)
            cl_error_prefix(err, "%s: ", manifest_path);
        if (st == CL_OK && tokenizer && tok && !(*tokenizer = cl_strdup(tok))) {
            cl_tagger_free(out);
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
    }
    cJSON_Delete(root);
    free(text);
    free(dir);
    free(crf);
    free(enc);
    free(cues);
    free(sa.labels);
    free(sa.weights);
    free(sa.bias);
    return st;
}
