/*
 * doc.c - the document and corpus containers (see doc.h).  Growth is
 * amortised doubling; every add copies its strings so callers keep theirs.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/doc.h"
#include "clinner/util.h"

const char *const cl_paper_types[CL_NUM_PAPER_TYPES] = {
    "DISEASE", "RAREDISEASE", "SKINRAREDISEASE", "SIGN", "SYMPTOM",
};
const char *const cl_all_types[CL_NUM_ALL_TYPES] = {
    "DISEASE", "RAREDISEASE", "SKINRAREDISEASE", "SIGN", "SYMPTOM", "ANAPHOR",
};

/* Ensure room for one more element in *arr (count n, capacity *cap). */
static int grow(void **arr, int32_t n, int32_t *cap, size_t elem)
{
    if (n < *cap)
        return 0;
    int32_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

cl_status cl_doc_new(const char *id, const char *text, size_t n, cl_doc **out, cl_error *err)
{
    *out = NULL;
    cl_doc *d = calloc(1, sizeof *d);
    if (!d)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    d->id = cl_strdup(id ? id : "");
    d->text = cl_strndup(text ? text : "", text ? n : 0);
    d->text_bytes = text ? n : 0;
    if (!d->id || !d->text) {
        cl_doc_free(d);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_status st = cl_text_index_init(&d->index, d->text, d->text_bytes, err);
    if (st != CL_OK) {
        cl_doc_free(d);
        return st;
    }
    *out = d;
    return CL_OK;
}

static void free_tags(cl_doc *d)
{
    if (d->tags) {
        for (int32_t i = 0; i < d->ntokens; i++)
            free(d->tags[i]);
        free(d->tags);
        d->tags = NULL;
    }
    free(d->tag_conf);
    d->tag_conf = NULL;
}

static void entity_free(cl_entity *e)
{
    free(e->id);
    free(e->type);
    free(e->frags);
    free(e->text);
}

static void relation_free(cl_relation *r)
{
    free(r->id);
    free(r->type);
    free(r->arg1);
    free(r->arg2);
}

void cl_doc_clear_entities(cl_doc *d)
{
    for (int32_t i = 0; i < d->nentities; i++)
        entity_free(&d->entities[i]);
    d->nentities = 0;
    /* Relations name entities by id: without their entities they would
     * dangle, or worse, point at new entities that reuse the ids. */
    for (int32_t i = 0; i < d->nrelations; i++)
        relation_free(&d->relations[i]);
    d->nrelations = 0;
}

void cl_doc_free(cl_doc *d)
{
    if (!d)
        return;
    free_tags(d);
    cl_doc_clear_entities(d);
    free(d->entities);
    free(d->relations);
    free(d->tokens);
    free(d->sentences);
    cl_text_index_free(&d->index);
    free(d->id);
    free(d->text);
    free(d);
}

cl_status cl_doc_add_entity(cl_doc *d, const char *id, const char *type, const cl_span *frags,
                            int32_t nfrags, const char *text, cl_error *err)
{
    if (nfrags < 1)
        return cl_error_set(err, CL_ERR_ARG, "entity %s has no fragment", id ? id : "?");
    for (int32_t i = 0; i < nfrags; i++) {
        if (frags[i].start < 0 || frags[i].start > frags[i].end ||
            frags[i].end > d->index.nchars)
            return cl_error_set(err, CL_ERR_RANGE,
                                "entity %s: offsets %d-%d outside the text (%d characters)",
                                id ? id : "?", frags[i].start, frags[i].end, d->index.nchars);
    }
    if (grow((void **)&d->entities, d->nentities, &d->cap_entities, sizeof *d->entities) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_entity *e = &d->entities[d->nentities];
    memset(e, 0, sizeof *e);
    char idbuf[32];
    if (!id) {
        snprintf(idbuf, sizeof idbuf, "T%d", d->nentities + 1);
        id = idbuf;
    }
    e->id = cl_strdup(id);
    e->type = cl_strdup(type);
    e->frags = malloc((size_t)nfrags * sizeof *frags);
    e->text = text ? cl_strdup(text) : NULL;
    e->confidence = -1.0f;
    if (!e->id || !e->type || !e->frags || (text && !e->text)) {
        free(e->id);
        free(e->type);
        free(e->frags);
        free(e->text);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    memcpy(e->frags, frags, (size_t)nfrags * sizeof *frags);
    e->nfrags = nfrags;
    d->nentities++;
    return CL_OK;
}

cl_status cl_doc_add_relation(cl_doc *d, const char *id, const char *type, const char *arg1,
                              const char *arg2, cl_error *err)
{
    if (grow((void **)&d->relations, d->nrelations, &d->cap_relations, sizeof *d->relations) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    cl_relation *r = &d->relations[d->nrelations];
    r->id = cl_strdup(id);
    r->type = cl_strdup(type);
    r->arg1 = cl_strdup(arg1);
    r->arg2 = cl_strdup(arg2);
    if (!r->id || !r->type || !r->arg1 || !r->arg2) {
        free(r->id);
        free(r->type);
        free(r->arg1);
        free(r->arg2);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    d->nrelations++;
    return CL_OK;
}

void cl_doc_clear_tokens(cl_doc *d)
{
    free_tags(d);
    d->ntokens = 0;
    d->nsentences = 0;
}

cl_status cl_doc_push_token(cl_doc *d, int32_t start, int32_t end, cl_error *err)
{
    if (start < 0 || start >= end || end > d->index.nchars)
        return cl_error_set(err, CL_ERR_RANGE, "%s: token %d-%d outside the text", d->id, start, end);
    if (d->tags)
        return cl_error_set(err, CL_ERR_INTERNAL, "tokens added after tags were set");
    if (grow((void **)&d->tokens, d->ntokens, &d->cap_tokens, sizeof *d->tokens) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    d->tokens[d->ntokens].start = start;
    d->tokens[d->ntokens].end = end;
    d->ntokens++;
    return CL_OK;
}

cl_status cl_doc_push_sentence(cl_doc *d, int32_t tok_begin, int32_t tok_end, cl_error *err)
{
    if (tok_begin < 0 || tok_begin > tok_end || tok_end > d->ntokens)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentence tokens %d-%d out of range", d->id,
                            tok_begin, tok_end);
    if (grow((void **)&d->sentences, d->nsentences, &d->cap_sentences, sizeof *d->sentences) != 0)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    d->sentences[d->nsentences].tok_begin = tok_begin;
    d->sentences[d->nsentences].tok_end = tok_end;
    d->nsentences++;
    return CL_OK;
}

cl_status cl_doc_reset_tags(cl_doc *d, cl_error *err)
{
    free_tags(d);
    if (d->ntokens == 0)
        return CL_OK;
    d->tags = calloc((size_t)d->ntokens, sizeof *d->tags);
    if (!d->tags)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < d->ntokens; i++) {
        d->tags[i] = cl_strdup("O");
        if (!d->tags[i]) {
            free_tags(d);
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        }
    }
    return CL_OK;
}

cl_status cl_doc_begin_tagging(cl_doc *d, int32_t sb, int32_t se, cl_error *err)
{
    if (sb < 0 || se > d->nsentences || sb > se)
        return cl_error_set(err, CL_ERR_RANGE, "%s: sentences [%d, %d) out of range (%d)",
                            d->id ? d->id : "?", sb, se, d->nsentences);
    if (!d->tags && cl_doc_reset_tags(d, err) != CL_OK)
        return err ? err->code : CL_ERR_NOMEM;
    if (!d->tag_conf && d->ntokens > 0) {
        if (!(d->tag_conf = malloc((size_t)d->ntokens * sizeof *d->tag_conf)))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        for (int32_t i = 0; i < d->ntokens; i++)
            d->tag_conf[i] = -1.0f;
    }
    return CL_OK;
}

cl_status cl_doc_set_tag(cl_doc *d, int32_t token, const char *tag, cl_error *err)
{
    if (!d->tags && cl_doc_reset_tags(d, err) != CL_OK)
        return err ? err->code : CL_ERR_NOMEM;
    if (token < 0 || token >= d->ntokens)
        return cl_error_set(err, CL_ERR_RANGE, "%s: token index %d out of range", d->id, token);
    char *t = cl_strdup(tag);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    free(d->tags[token]);
    d->tags[token] = t;
    return CL_OK;
}

static bool type_kept(const char *type, const char *const *types, int ntypes)
{
    for (int i = 0; i < ntypes; i++)
        if (!strcmp(type, types[i]))
            return true;
    return false;
}

/* The entity id an argument names: "Arg1:T4" -> "T4". */
static const char *relation_arg_id(const char *arg)
{
    const char *colon = strchr(arg, ':');
    return colon ? colon + 1 : arg;
}

/* Whether id names an entity that keep_types is removing (kept[i] == 0). */
static int names_removed_entity(const cl_doc *d, const unsigned char *kept, const char *id)
{
    for (int32_t i = 0; i < d->nentities; i++)
        if (!kept[i] && strcmp(d->entities[i].id, id) == 0)
            return 1;
    return 0;
}

cl_status cl_doc_keep_types(cl_doc *d, const char *const *types, int ntypes, cl_error *err)
{
    if (!types)
        return CL_OK;
    unsigned char *kept = malloc(d->nentities ? (size_t)d->nentities : 1);
    if (!kept)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory filtering entity types");
    for (int32_t i = 0; i < d->nentities; i++)
        kept[i] = (unsigned char)type_kept(d->entities[i].type, types, ntypes);
    /* Relations first, while the removed entities' ids still exist: a
     * relation that loses an argument would be a dangling BRAT R line. */
    int32_t r = 0;
    for (int32_t i = 0; i < d->nrelations; i++) {
        cl_relation *rel = &d->relations[i];
        if (!names_removed_entity(d, kept, relation_arg_id(rel->arg1)) &&
            !names_removed_entity(d, kept, relation_arg_id(rel->arg2))) {
            d->relations[r++] = *rel;
        } else {
            relation_free(rel);
        }
    }
    d->nrelations = r;
    int32_t k = 0;
    for (int32_t i = 0; i < d->nentities; i++) {
        cl_entity *e = &d->entities[i];
        if (kept[i]) {
            d->entities[k++] = *e;
        } else {
            entity_free(e);
        }
    }
    d->nentities = k;
    free(kept);
    for (int32_t t = 0; d->tags && t < d->ntokens; t++) {
        const char *tag = d->tags[t];
        if (!tag || strlen(tag) < 3 || type_kept(tag + 2, types, ntypes))
            continue;
        cl_status st = cl_doc_set_tag(d, t, "O", err);
        if (st != CL_OK)
            return st;
    }
    return CL_OK;
}

const char *cl_doc_token_bytes(const cl_doc *d, int32_t token, size_t *nbytes)
{
    size_t b0 = cl_text_cp_to_byte(&d->index, d->tokens[token].start);
    size_t b1 = cl_text_cp_to_byte(&d->index, d->tokens[token].end);
    *nbytes = b1 - b0;
    return d->text + b0;
}

char *cl_doc_span_text(const cl_doc *d, int32_t start, int32_t end)
{
    size_t b0 = cl_text_cp_to_byte(&d->index, start);
    size_t b1 = cl_text_cp_to_byte(&d->index, end);
    if (b0 == SIZE_MAX || b1 == SIZE_MAX || b1 < b0)
        return NULL;
    return cl_strndup(d->text + b0, b1 - b0);
}

char *cl_doc_token_text(const cl_doc *d, int32_t token)
{
    return cl_doc_span_text(d, d->tokens[token].start, d->tokens[token].end);
}

cl_status cl_corpus_new(cl_corpus **out, cl_error *err)
{
    *out = calloc(1, sizeof(cl_corpus));
    return *out ? CL_OK : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
}

void cl_corpus_free(cl_corpus *c)
{
    if (!c)
        return;
    for (int32_t i = 0; i < c->ndocs; i++)
        cl_doc_free(c->docs[i]);
    free(c->docs);
    free(c);
}

cl_status cl_corpus_add(cl_corpus *c, cl_doc *doc, cl_error *err)
{
    if (grow((void **)&c->docs, c->ndocs, &c->cap, sizeof *c->docs) != 0) {
        cl_doc_free(doc);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    c->docs[c->ndocs++] = doc;
    return CL_OK;
}

int64_t cl_corpus_ntokens(const cl_corpus *c)
{
    int64_t n = 0;
    for (int32_t i = 0; i < c->ndocs; i++)
        n += c->docs[i]->ntokens;
    return n;
}

int64_t cl_corpus_nsentences(const cl_corpus *c)
{
    int64_t n = 0;
    for (int32_t i = 0; i < c->ndocs; i++)
        n += c->docs[i]->nsentences;
    return n;
}
