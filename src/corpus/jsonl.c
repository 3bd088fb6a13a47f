/*
 * jsonl.c - clinner's own interchange format: one JSON document per line,
 * holding everything the document model has, so that no information is
 * lost between tools:
 *
 *   {"id":"AP","text":"...","sentences":[[0,12],[12,30]],
 *    "tokens":[{"start":0,"end":4,"text":"AP-4","label":"B-RAREDISEASE",
 *               "confidence":0.93},...],
 *    "entities":[{"id":"T1","type":"SIGN","fragments":[[5,9],[14,20]],
 *                 "text":"...","confidence":0.8}],
 *    "relations":[{"id":"R1","type":"Produces","arg1":"Arg1:T4","arg2":"Arg2:T2"}]}
 *
 * Offsets count Unicode code points (as BRAT does and as Python's str
 * indexing does), end exclusive.  Token confidences appear only when the
 * document has them, entity confidences only when known (>= 0).
 *
 * The reader requires id and text; sentences, tokens, entities and
 * relations are optional.  It checks every offset against the text and a
 * token's "text" (when given) against the characters at its offsets, and
 * names the line and the field at fault: "f.jsonl:3: field tokens[3].end:
 * 120 is past the end of the text (98 characters)".
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clinner/text.h"
#include "clinner/util.h"
#include "corpus/formats.h"

/* ---- reader ---- */

typedef struct jctx {
    const char *file;
    long line;
    cl_error *err;
} jctx;

static cl_status jfail(const jctx *j, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cl_status jfail(const jctx *j, const char *field, const char *fmt, ...)
{
    if (!j->err)
        return CL_ERR_PARSE;
    va_list ap;
    va_start(ap, fmt);
    cl_error_vset(j->err, CL_ERR_PARSE, fmt, ap);
    va_end(ap);
    return cl_error_prefix(j->err, "%s:%ld: field %s: ", j->file, j->line, field);
}

/* An integer-valued JSON number in [lo, hi]. */
static cl_status get_int(const jctx *j, const cJSON *v, const char *field, int32_t lo, int32_t hi,
                         int32_t *out)
{
    if (!cJSON_IsNumber(v))
        return jfail(j, field, "expected an integer");
    double x = v->valuedouble;
    if (x != floor(x) || x < -2147483648.0 || x > 2147483647.0)
        return jfail(j, field, "%g is not an integer offset", x);
    if (x < lo || x > hi) {
        jfail(j, field, "%.0f is outside [%d, %d]", x, lo, hi);
        if (j->err)
            j->err->code = CL_ERR_RANGE;
        return CL_ERR_RANGE;
    }
    *out = (int32_t)x;
    return CL_OK;
}

static cl_status get_conf(const jctx *j, const cJSON *v, const char *field, float *out)
{
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble <= 1.0))
        return jfail(j, field, "expected a number in [0, 1]");
    *out = (float)v->valuedouble;
    return CL_OK;
}

static const char *get_str(const jctx *j, const cJSON *obj, const char *key, const char *field,
                           bool required, cl_status *st)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *st = CL_OK;
    if (!v) {
        if (required)
            *st = jfail(j, field, "missing");
        return NULL;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        *st = jfail(j, field, "expected a string");
        return NULL;
    }
    return v->valuestring;
}

static cl_status read_tokens(const jctx *j, cl_doc *doc, const cJSON *toks)
{
    char field[96];
    if (!cJSON_IsArray(toks))
        return jfail(j, "tokens", "expected an array");
    int32_t n = cJSON_GetArraySize(toks);
    bool any_label = false, any_conf = false;
    const cJSON *t;
    cJSON_ArrayForEach(t, toks)
    {
        any_label |= cJSON_GetObjectItemCaseSensitive(t, "label") != NULL;
        any_conf |= cJSON_GetObjectItemCaseSensitive(t, "confidence") != NULL;
    }
    char **tags = any_label ? calloc((size_t)n + 1, sizeof *tags) : NULL;
    float *conf = any_conf ? calloc((size_t)n + 1, sizeof *conf) : NULL;
    if ((any_label && !tags) || (any_conf && !conf)) {
        free(tags);
        free(conf);
        return cl_error_set(j->err, CL_ERR_NOMEM, "out of memory");
    }
    cl_status st = CL_OK;
    int32_t i = 0, prev_end = 0;
    cJSON_ArrayForEach(t, toks)
    {
        if (!cJSON_IsObject(t)) {
            snprintf(field, sizeof field, "tokens[%d]", i);
            st = jfail(j, field, "expected an object");
            goto out;
        }
        int32_t s, e;
        snprintf(field, sizeof field, "tokens[%d].start", i);
        if ((st = get_int(j, cJSON_GetObjectItemCaseSensitive(t, "start"), field, 0,
                          doc->index.nchars, &s)) != CL_OK)
            goto out;
        snprintf(field, sizeof field, "tokens[%d].end", i);
        if ((st = get_int(j, cJSON_GetObjectItemCaseSensitive(t, "end"), field, 0,
                          doc->index.nchars, &e)) != CL_OK)
            goto out;
        if (e <= s) {
            st = jfail(j, field, "%d is not after start %d", e, s);
            goto out;
        }
        if (s < prev_end) {
            snprintf(field, sizeof field, "tokens[%d].start", i);
            st = jfail(j, field, "%d overlaps or precedes the previous token (ends at %d)", s,
                       prev_end);
            goto out;
        }
        prev_end = e;
        snprintf(field, sizeof field, "tokens[%d].text", i);
        const char *tt = get_str(j, t, "text", field, false, &st);
        if (st != CL_OK)
            goto out;
        if (tt) {
            size_t b0 = cl_text_cp_to_byte(&doc->index, s);
            size_t b1 = cl_text_cp_to_byte(&doc->index, e);
            if (strlen(tt) != b1 - b0 || memcmp(tt, doc->text + b0, b1 - b0) != 0) {
                st = jfail(j, field, "\"%.40s\" differs from the text at %d-%d (\"%.*s\")", tt, s,
                           e, (int)(b1 - b0 < 40 ? b1 - b0 : 40), doc->text + b0);
                goto out;
            }
        }
        if (tags) {
            snprintf(field, sizeof field, "tokens[%d].label", i);
            const char *lab = get_str(j, t, "label", field, false, &st);
            if (st != CL_OK)
                goto out;
            if (lab && !cl_bio_tag_valid(lab, strlen(lab))) {
                st = jfail(j, field, "'%.40s' is not O or B-/I-TYPE", lab);
                goto out;
            }
            tags[i] = cl_strdup(lab ? lab : "O");
            if (!tags[i]) {
                st = cl_error_set(j->err, CL_ERR_NOMEM, "out of memory");
                goto out;
            }
        }
        if (conf) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "confidence");
            snprintf(field, sizeof field, "tokens[%d].confidence", i);
            conf[i] = 1.0f;
            if (c && (st = get_conf(j, c, field, &conf[i])) != CL_OK)
                goto out;
        }
        if ((st = cl_doc_push_token(doc, s, e, j->err)) != CL_OK)
            goto out;
        i++;
    }
    if (n > 0) {
        doc->tags = tags;
        doc->tag_conf = conf;
        tags = NULL;
        conf = NULL;
    }
out:
    if (tags)
        for (int32_t k = 0; k < n; k++)
            free(tags[k]);
    free(tags);
    free(conf);
    return st;
}

static cl_status read_sentences(const jctx *j, cl_doc *doc, const cJSON *sents)
{
    char field[96];
    if (!cJSON_IsArray(sents))
        return jfail(j, "sentences", "expected an array");
    int32_t i = 0, prev_end = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, sents)
    {
        snprintf(field, sizeof field, "sentences[%d]", i);
        if (!cJSON_IsArray(s) || cJSON_GetArraySize(s) != 2)
            return jfail(j, field, "expected [tok_begin, tok_end]");
        int32_t b, e;
        cl_status st;
        snprintf(field, sizeof field, "sentences[%d][0]", i);
        if ((st = get_int(j, cJSON_GetArrayItem(s, 0), field, prev_end, doc->ntokens, &b)) !=
            CL_OK)
            return st;
        snprintf(field, sizeof field, "sentences[%d][1]", i);
        if ((st = get_int(j, cJSON_GetArrayItem(s, 1), field, b, doc->ntokens, &e)) != CL_OK)
            return st;
        if ((st = cl_doc_push_sentence(doc, b, e, j->err)) != CL_OK)
            return st;
        prev_end = e;
        i++;
    }
    return CL_OK;
}

static cl_status read_entities(const jctx *j, cl_doc *doc, const cJSON *ents)
{
    char field[96];
    if (!cJSON_IsArray(ents))
        return jfail(j, "entities", "expected an array");
    int32_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, ents)
    {
        cl_status st;
        snprintf(field, sizeof field, "entities[%d]", i);
        if (!cJSON_IsObject(e))
            return jfail(j, field, "expected an object");
        snprintf(field, sizeof field, "entities[%d].id", i);
        const char *id = get_str(j, e, "id", field, false, &st);
        if (st != CL_OK)
            return st;
        snprintf(field, sizeof field, "entities[%d].type", i);
        const char *type = get_str(j, e, "type", field, true, &st);
        if (st != CL_OK)
            return st;
        if (!*type)
            return jfail(j, field, "empty");
        snprintf(field, sizeof field, "entities[%d].text", i);
        const char *text = get_str(j, e, "text", field, false, &st);
        if (st != CL_OK)
            return st;
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(e, "fragments");
        snprintf(field, sizeof field, "entities[%d].fragments", i);
        if (!fr)
            return jfail(j, field, "missing");
        if (!cJSON_IsArray(fr) || cJSON_GetArraySize(fr) < 1)
            return jfail(j, field, "expected a non-empty array of [start, end]");
        int32_t nf = cJSON_GetArraySize(fr);
        cl_span *spans = malloc((size_t)nf * sizeof *spans);
        if (!spans)
            return cl_error_set(j->err, CL_ERR_NOMEM, "out of memory");
        int32_t k = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, fr)
        {
            snprintf(field, sizeof field, "entities[%d].fragments[%d]", i, k);
            if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) != 2) {
                free(spans);
                return jfail(j, field, "expected [start, end]");
            }
            snprintf(field, sizeof field, "entities[%d].fragments[%d][0]", i, k);
            if ((st = get_int(j, cJSON_GetArrayItem(f, 0), field, 0, doc->index.nchars,
                              &spans[k].start)) != CL_OK) {
                free(spans);
                return st;
            }
            snprintf(field, sizeof field, "entities[%d].fragments[%d][1]", i, k);
            if ((st = get_int(j, cJSON_GetArrayItem(f, 1), field, spans[k].start + 1,
                              doc->index.nchars, &spans[k].end)) != CL_OK) {
                free(spans);
                return st;
            }
            k++;
        }
        st = cl_doc_add_entity(doc, id, type, spans, nf, text, j->err);
        free(spans);
        if (st != CL_OK)
            return cl_error_prefix(j->err, "%s:%ld: entities[%d]: ", j->file, j->line, i);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "confidence");
        if (c) {
            snprintf(field, sizeof field, "entities[%d].confidence", i);
            if ((st = get_conf(j, c, field, &doc->entities[doc->nentities - 1].confidence)) !=
                CL_OK)
                return st;
        }
        i++;
    }
    return CL_OK;
}

static cl_status read_relations(const jctx *j, cl_doc *doc, const cJSON *rels)
{
    char field[96];
    if (!cJSON_IsArray(rels))
        return jfail(j, "relations", "expected an array");
    int32_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, rels)
    {
        cl_status st;
        const char *v[4];
        static const char *const keys[4] = {"id", "type", "arg1", "arg2"};
        snprintf(field, sizeof field, "relations[%d]", i);
        if (!cJSON_IsObject(r))
            return jfail(j, field, "expected an object");
        for (int k = 0; k < 4; k++) {
            snprintf(field, sizeof field, "relations[%d].%s", i, keys[k]);
            v[k] = get_str(j, r, keys[k], field, true, &st);
            if (st != CL_OK)
                return st;
        }
        if ((st = cl_doc_add_relation(doc, v[0], v[1], v[2], v[3], j->err)) != CL_OK)
            return st;
        i++;
    }
    return CL_OK;
}

/* One line: a JSON object describing one document. */
static cl_status read_doc(cl_corpus *c, const char *s, size_t n, const jctx *j)
{
    const char *at = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &at, false);
    if (!root) {
        long col = at && at >= s && at <= s + n ? (long)(at - s) + 1 : 0;
        return cl_error_set(j->err, CL_ERR_PARSE, "%s:%ld: invalid JSON near column %ld", j->file,
                            j->line, col);
    }
    cl_status st = CL_OK;
    cl_doc *doc = NULL;
    for (const char *p = at; p && p < s + n; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r') {
            st = cl_error_set(j->err, CL_ERR_PARSE,
                              "%s:%ld: unexpected text after the JSON object at column %ld",
                              j->file, j->line, (long)(p - s) + 1);
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = cl_error_set(j->err, CL_ERR_PARSE, "%s:%ld: expected a JSON object", j->file,
                          j->line);
        goto out;
    }
    const char *id = get_str(j, root, "id", "id", true, &st);
    if (st != CL_OK)
        goto out;
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(root, "text");
    if (!tv) {
        st = jfail(j, "text", "missing");
        goto out;
    }
    if (!cJSON_IsString(tv) || !tv->valuestring) {
        st = jfail(j, "text", "expected a string");
        goto out;
    }
    /* cJSON ends a string at an escaped NUL (\u0000): the text is what
     * comes before it. */
    if (cl_doc_new(id, tv->valuestring, strlen(tv->valuestring), &doc, j->err) != CL_OK) {
        st = cl_error_prefix(j->err, "%s:%ld: field text: ", j->file, j->line);
        goto out;
    }
    const cJSON *toks = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    if (toks && (st = read_tokens(j, doc, toks)) != CL_OK)
        goto out;
    const cJSON *sents = cJSON_GetObjectItemCaseSensitive(root, "sentences");
    if (sents) {
        if ((st = read_sentences(j, doc, sents)) != CL_OK)
            goto out;
    } else if (doc->ntokens > 0) {
        if ((st = cl_doc_push_sentence(doc, 0, doc->ntokens, j->err)) != CL_OK)
            goto out;
    }
    const cJSON *ents = cJSON_GetObjectItemCaseSensitive(root, "entities");
    if (ents && (st = read_entities(j, doc, ents)) != CL_OK)
        goto out;
    const cJSON *rels = cJSON_GetObjectItemCaseSensitive(root, "relations");
    if (rels && (st = read_relations(j, doc, rels)) != CL_OK)
        goto out;
    st = cl_corpus_add(c, doc, j->err);
    doc = NULL;
out:
    cl_doc_free(doc);
    cJSON_Delete(root);
    return st;
}

cl_status cl_jsonl_parse_line(cl_corpus *c, const char *s, size_t len, const char *file,
                              long line, cl_error *err)
{
    jctx j = {file, line, err};
    size_t bad;
    if (!cl_utf8_valid(s, len, &bad))
        return cl_error_set(err, CL_ERR_UTF8, "%s:%ld: invalid UTF-8 at byte %zu of the line",
                            file, line, bad);
    size_t k = 0;
    while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
        k++;
    if (k == len)
        return CL_OK; /* blank line */
    return read_doc(c, s, len, &j);
}

cl_status cl_jsonl_parse(cl_corpus *c, const char *d, size_t n, const char *file, cl_error *err)
{
    long line = 0;
    size_t pos = 0;
    while (pos < n) {
        const char *s = d + pos;
        const char *nl = memchr(s, '\n', n - pos);
        size_t len = nl ? (size_t)(nl - s) : n - pos;
        pos += len + (nl ? 1 : 0);
        line++;
        size_t bad;
        if (!cl_utf8_valid(s, len, &bad))
            return cl_error_set(err, CL_ERR_UTF8, "%s:%ld: invalid UTF-8 at byte %zu", file,
                                line, (size_t)(s - d) + bad);
        cl_status st = cl_jsonl_parse_line(c, s, len, file, line, err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

cl_status cl_jsonl_read(cl_corpus *c, const char *path, cl_error *err)
{
    return cl_read_parsed(c, path, cl_jsonl_parse, err);
}

/* ---- writer ---- */

/* A confidence rounded to 4 decimals, so a float prints as 0.93, not as
 * 0.93000000715255737. */
static double round_conf(float c) { return round((double)c * 10000.0) / 10000.0; }

static cJSON *pair(int32_t a, int32_t b)
{
    cJSON *p = cJSON_CreateArray();
    if (!p)
        return NULL;
    if (!cJSON_AddItemToArray(p, cJSON_CreateNumber(a)) ||
        !cJSON_AddItemToArray(p, cJSON_CreateNumber(b))) {
        cJSON_Delete(p);
        return NULL;
    }
    return p;
}

static cJSON *doc_to_json(const cl_doc *doc)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddStringToObject(o, "id", doc->id) && cJSON_AddStringToObject(o, "text", doc->text);
    if (ok && doc->ntokens > 0) {
        cJSON *sa = cJSON_AddArrayToObject(o, "sentences");
        ok = sa != NULL;
        for (int32_t s = 0; ok && s < doc->nsentences; s++)
            ok = cJSON_AddItemToArray(sa, pair(doc->sentences[s].tok_begin,
                                               doc->sentences[s].tok_end));
        cJSON *ta = ok ? cJSON_AddArrayToObject(o, "tokens") : NULL;
        ok = ta != NULL;
        for (int32_t t = 0; ok && t < doc->ntokens; t++) {
            cJSON *to = cJSON_CreateObject();
            char *tt = cl_doc_token_text(doc, t);
            ok = to && tt && cJSON_AddItemToArray(ta, to) &&
                 cJSON_AddNumberToObject(to, "start", doc->tokens[t].start) &&
                 cJSON_AddNumberToObject(to, "end", doc->tokens[t].end) &&
                 cJSON_AddStringToObject(to, "text", tt) &&
                 cJSON_AddStringToObject(to, "label",
                                         doc->tags && doc->tags[t] ? doc->tags[t] : "O");
            if (ok && doc->tag_conf)
                ok = cJSON_AddNumberToObject(to, "confidence", round_conf(doc->tag_conf[t])) != NULL;
            if (!ok && to && !tt)
                cJSON_Delete(to);
            free(tt);
        }
    }
    cJSON *ea = ok ? cJSON_AddArrayToObject(o, "entities") : NULL;
    ok = ok && ea;
    for (int32_t i = 0; ok && i < doc->nentities; i++) {
        const cl_entity *e = &doc->entities[i];
        cJSON *eo = cJSON_CreateObject();
        ok = eo && cJSON_AddItemToArray(ea, eo) && cJSON_AddStringToObject(eo, "id", e->id) &&
             cJSON_AddStringToObject(eo, "type", e->type);
        cJSON *fa = ok ? cJSON_AddArrayToObject(eo, "fragments") : NULL;
        ok = ok && fa;
        for (int32_t k = 0; ok && k < e->nfrags; k++)
            ok = cJSON_AddItemToArray(fa, pair(e->frags[k].start, e->frags[k].end));
        if (ok && e->text)
            ok = cJSON_AddStringToObject(eo, "text", e->text) != NULL;
        if (ok && e->confidence >= 0)
            ok = cJSON_AddNumberToObject(eo, "confidence", round_conf(e->confidence)) != NULL;
    }
    if (ok && doc->nrelations > 0) {
        cJSON *ra = cJSON_AddArrayToObject(o, "relations");
        ok = ra != NULL;
        for (int32_t i = 0; ok && i < doc->nrelations; i++) {
            const cl_relation *r = &doc->relations[i];
            cJSON *ro = cJSON_CreateObject();
            ok = ro && cJSON_AddItemToArray(ra, ro) && cJSON_AddStringToObject(ro, "id", r->id) &&
                 cJSON_AddStringToObject(ro, "type", r->type) &&
                 cJSON_AddStringToObject(ro, "arg1", r->arg1) &&
                 cJSON_AddStringToObject(ro, "arg2", r->arg2);
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cl_status cl_jsonl_write_doc(const cl_doc *doc, FILE *fp, cl_error *err)
{
    if (memchr(doc->text, '\0', doc->text_bytes))
        return cl_error_set(err, CL_ERR_FORMAT, "%s: text holds a NUL character", doc->id);
    cJSON *o = doc_to_json(doc);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory", doc->id);
    fputs(s, fp);
    fputc('\n', fp);
    cJSON_free(s);
    if (ferror(fp))
        return cl_error_set(err, CL_ERR_IO, "write error: %s", strerror(errno));
    return CL_OK;
}
