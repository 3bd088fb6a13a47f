/*
 * request.c - the body of POST /v1/tag, parsed into documents.
 *
 * Two forms: {"text": "..."} (one document, id "text") and {"documents":
 * [{"id": ..., "text": ...}, ...]} (ids may be strings or integers; a
 * missing id becomes the document's 1-based position), both with an
 * optional "tokenizer" ("paper" or "clinical").  Anything else is refused
 * with a message that names the problem, because the client is a program
 * whose author needs to know what to fix: invalid UTF-8 and invalid JSON
 * with the byte offset, a missing or mistyped field with its path
 * ("documents[2].text: expected a string"), unknown top-level fields by
 * name (a typo such as "txt" would otherwise tag nothing silently).
 *
 * This file does no I/O and holds no state, so the fuzz target
 * (fuzz/fuzz_serve_request.c) runs it on arbitrary bytes.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clinner/serve.h"
#include "clinner/text.h"
#include "clinner/tokenize.h"

/* Strings longer than this in an id are refused (ids become file names in
 * BRAT downloads and log-free identifiers; they need not be long). */
#define MAX_ID_BYTES 256

static cl_status field_error(cl_error *err, cl_status code, const char *field, const char *what)
{
    return cl_error_set(err, code, "field %s: %s", field, what);
}

/* One document object documents[i] (or the top level for the text form). */
static cl_status add_document(cl_corpus *c, const cJSON *text, const cJSON *id,
                              const char *prefix, int32_t pos, cl_error *err)
{
    char field[64], idbuf[32];
    snprintf(field, sizeof field, "%stext", prefix);
    if (!text)
        return field_error(err, CL_ERR_ARG, field, "missing");
    if (!cJSON_IsString(text) || !text->valuestring)
        return field_error(err, CL_ERR_ARG, field, "expected a string");
    const char *idv = idbuf;
    snprintf(field, sizeof field, "%sid", prefix);
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "%d", pos);
    } else if (cJSON_IsString(id) && id->valuestring) {
        idv = id->valuestring;
        size_t idn = strlen(idv);
        if (idn == 0)
            return field_error(err, CL_ERR_ARG, field, "empty");
        if (idn > MAX_ID_BYTES)
            return field_error(err, CL_ERR_ARG, field, "longer than 256 bytes");
        if (!cl_utf8_valid(idv, idn, NULL))
            return field_error(err, CL_ERR_UTF8, field, "not valid UTF-8 (an escaped surrogate?)");
    } else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) &&
               fabs(id->valuedouble) < 1e15) {
        snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
    } else {
        return field_error(err, CL_ERR_ARG, field, "expected a string or an integer");
    }
    const char *t = text->valuestring;
    snprintf(field, sizeof field, "%stext", prefix);
    cl_error derr;
    cl_error_clear(&derr);
    cl_doc *doc;
    if (cl_doc_new(idv, t, strlen(t), &doc, &derr) != CL_OK)
        return cl_error_set(err, derr.code == CL_ERR_NOMEM ? CL_ERR_NOMEM : CL_ERR_UTF8,
                            "field %s: %s", field, derr.msg);
    return cl_corpus_add(c, doc, err);
}

static cl_status check_keys(const cJSON *obj, const char *const *known, const char *prefix,
                            cl_error *err)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        bool ok = false;
        for (int k = 0; known[k]; k++)
            ok |= it->string && !strcmp(it->string, known[k]);
        if (!ok) {
            char name[48];
            snprintf(name, sizeof name, "%s", it->string ? it->string : "");
            return cl_error_set(err, CL_ERR_ARG, "field %s%s: unknown (expected %s)", prefix,
                                name, prefix[0] ? "id and text" : "text or documents, tokenizer");
        }
    }
    return CL_OK;
}

static cl_status read_documents(cl_corpus *c, const cJSON *docs, int32_t max_docs, cl_error *err)
{
    if (!cJSON_IsArray(docs))
        return field_error(err, CL_ERR_ARG, "documents", "expected an array of objects");
    int32_t n = cJSON_GetArraySize(docs);
    if (n == 0)
        return field_error(err, CL_ERR_ARG, "documents", "empty");
    if (n > max_docs)
        return cl_error_set(err, CL_ERR_RANGE,
                            "field documents: %d documents, more than the limit of %d", n,
                            max_docs);
    static const char *const doc_keys[] = {"id", "text", NULL};
    int32_t i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, docs)
    {
        char prefix[40];
        snprintf(prefix, sizeof prefix, "documents[%d].", i);
        if (!cJSON_IsObject(d)) {
            prefix[strlen(prefix) - 1] = '\0';
            return field_error(err, CL_ERR_ARG, prefix, "expected an object");
        }
        cl_status st = check_keys(d, doc_keys, prefix, err);
        if (st == CL_OK)
            st = add_document(c, cJSON_GetObjectItemCaseSensitive(d, "text"),
                              cJSON_GetObjectItemCaseSensitive(d, "id"), prefix, i + 1, err);
        if (st != CL_OK)
            return st;
        i++;
    }
    return CL_OK;
}

static cl_status read_body(const cJSON *root, int32_t max_docs, cl_tag_request *out,
                           cl_error *err)
{
    static const char *const top_keys[] = {"text", "documents", "tokenizer", NULL};
    if (!cJSON_IsObject(root))
        return cl_error_set(err, CL_ERR_ARG,
                            "expected a JSON object: {\"text\": ...} or {\"documents\": [...]}");
    cl_status st = check_keys(root, top_keys, "", err);
    if (st != CL_OK)
        return st;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    if (tok) {
        if (!cJSON_IsString(tok) || !tok->valuestring)
            return field_error(err, CL_ERR_ARG, "tokenizer", "expected \"paper\" or \"clinical\"");
        cl_error terr;
        cl_error_clear(&terr);
        if (cl_tokenizer_from_name(tok->valuestring, &out->tokenizer, &terr) != CL_OK)
            return field_error(err, CL_ERR_ARG, "tokenizer", "expected \"paper\" or \"clinical\"");
        out->has_tokenizer = true;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(root, "documents");
    if (text && docs)
        return cl_error_set(err, CL_ERR_ARG, "give either text or documents, not both");
    if (!text && !docs)
        return cl_error_set(err, CL_ERR_ARG, "field text or documents: missing");
    if (text) {
        static const cJSON idv = {.type = cJSON_String, .valuestring = (char *)"text"};
        return add_document(out->docs, text, &idv, "", 1, err);
    }
    return read_documents(out->docs, docs, max_docs, err);
}

/* The offset of a NUL in the body, raw or escaped (\u0000 after an odd
 * number of backslashes), or n.  cJSON would end the string there and
 * tag a cut text; documents cannot hold NUL, so such bodies are refused. */
static size_t find_nul(const char *b, size_t n)
{
    const char *z = memchr(b, '\0', n);
    size_t raw = z ? (size_t)(z - b) : n;
    for (size_t i = 1; i + 5 <= raw; i++) {
        if (b[i] != 'u' || strncmp(b + i + 1, "0000", 4) != 0)
            continue;
        size_t k = 0;
        while (k < i && b[i - 1 - k] == '\\')
            k++;
        if (k % 2 == 1)
            return i - 1;
    }
    return raw;
}

cl_status cl_tag_request_parse(const char *body, size_t n, int32_t max_docs,
                               cl_tag_request *out, cl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t bad = 0;
    if (!cl_utf8_valid(body, n, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "invalid UTF-8 at byte %zu of the body", bad);
    size_t nul = find_nul(body, n);
    if (nul < n)
        return cl_error_set(err, CL_ERR_PARSE,
                            "a NUL character at byte %zu of the body (texts cannot hold one)",
                            nul);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, n, &end, false);
    if (!root) {
        size_t at = end && end >= body && end <= body + n ? (size_t)(end - body) : 0;
        return cl_error_set(err, CL_ERR_PARSE, "invalid JSON near byte %zu of the body", at);
    }
    cl_status st = CL_OK;
    for (const char *p = end; p && p < body + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            st = cl_error_set(err, CL_ERR_PARSE,
                              "invalid JSON: unexpected text after the object at byte %zu",
                              (size_t)(p - body));
            break;
        }
    }
    if (st == CL_OK)
        st = cl_corpus_new(&out->docs, err);
    if (st == CL_OK)
        st = read_body(root, max_docs < 1 ? 1 : max_docs, out, err);
    cJSON_Delete(root);
    if (st != CL_OK)
        cl_tag_request_free(out);
    return st;
}

void cl_tag_request_free(cl_tag_request *r)
{
    if (!r)
        return;
    cl_corpus_free(r->docs);
    memset(r, 0, sizeof *r);
}
