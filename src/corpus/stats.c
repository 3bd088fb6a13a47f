/*
 * stats.c - corpus statistics for `clinner stats`: documents, characters
 * (code points), sentences and tokens (when a tokenizer or a token format
 * provided them), entities per type (sorted by name, so two corpora print in
 * the same order), discontinuous entities, overlapping entities and
 * relations.
 *
 * "Overlapping" counts entities whose characters (the union of their
 * fragments) share at least one character with another entity of the same
 * document, identical spans with two types included: those are exactly the
 * entities a one-label-per-token BIO scheme cannot keep apart.
 */
#include <stdlib.h>
#include <string.h>

#include "clinner/corpus.h"
#include "clinner/util.h"

#define MAX_TYPES ((int)(sizeof(((cl_corpus_stats *)0)->type_names) / sizeof(char *)))

typedef struct frag_ref {
    int32_t start, end, entity;
} frag_ref;

static int cmp_frag(const void *a, const void *b)
{
    const frag_ref *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return (x->entity > y->entity) - (x->entity < y->entity);
}

/* Number of entities of doc that overlap another entity of doc. */
static cl_status count_overlapping(const cl_doc *doc, int64_t *out, cl_error *err)
{
    size_t nf = 0;
    for (int32_t i = 0; i < doc->nentities; i++)
        nf += (size_t)doc->entities[i].nfrags;
    if (nf < 2)
        return CL_OK;
    frag_ref *f = malloc(nf * sizeof *f);
    bool *hit = calloc((size_t)doc->nentities, sizeof *hit);
    if (!f || !hit) {
        free(f);
        free(hit);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (int32_t i = 0; i < doc->nentities; i++)
        for (int32_t j = 0; j < doc->entities[i].nfrags; j++)
            if (doc->entities[i].frags[j].end > doc->entities[i].frags[j].start)
                f[k++] = (frag_ref){doc->entities[i].frags[j].start,
                                    doc->entities[i].frags[j].end, i};
    nf = k;
    qsort(f, nf, sizeof *f, cmp_frag);
    /* Sorted by start: fragment a overlaps every later b with b.start < a.end. */
    for (size_t a = 0; a < nf; a++)
        for (size_t b = a + 1; b < nf && f[b].start < f[a].end; b++)
            if (f[a].entity != f[b].entity)
                hit[f[a].entity] = hit[f[b].entity] = true;
    for (int32_t i = 0; i < doc->nentities; i++)
        *out += hit[i];
    free(f);
    free(hit);
    return CL_OK;
}

static int cmp_type(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Index of type in st (adding it when new); -1 when the table is full or on
 * allocation failure. */
static int type_slot(cl_corpus_stats *st, const char *type)
{
    for (int i = 0; i < st->ntypes; i++)
        if (!strcmp(st->type_names[i], type))
            return i;
    if (st->ntypes >= MAX_TYPES || !(st->type_names[st->ntypes] = cl_strdup(type)))
        return -1;
    st->type_counts[st->ntypes] = 0;
    return st->ntypes++;
}

cl_status cl_corpus_stats_compute(const cl_corpus *c, cl_corpus_stats *st, cl_error *err)
{
    memset(st, 0, sizeof *st);
    for (int32_t d = 0; d < c->ndocs; d++) {
        const cl_doc *doc = c->docs[d];
        st->documents++;
        st->characters += doc->index.nchars;
        st->sentences += doc->nsentences;
        st->tokens += doc->ntokens;
        st->relations += doc->nrelations;
        st->entities += doc->nentities;
        for (int32_t i = 0; i < doc->nentities; i++) {
            const cl_entity *e = &doc->entities[i];
            st->discontinuous += e->nfrags > 1;
            int slot = type_slot(st, e->type ? e->type : "");
            if (slot < 0) {
                bool full = st->ntypes >= MAX_TYPES;
                cl_corpus_stats_free(st);
                return full ? cl_error_set(err, CL_ERR_RANGE,
                                           "document %s: more than %d entity types", doc->id,
                                           MAX_TYPES)
                            : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            }
            st->type_counts[slot]++;
        }
        cl_status s = count_overlapping(doc, &st->overlapping, err);
        if (s != CL_OK) {
            cl_corpus_stats_free(st);
            return s;
        }
    }
    /* Sort the names and carry their counts along. */
    for (int i = 0; i < st->ntypes; i++) {
        int best = i;
        for (int j = i + 1; j < st->ntypes; j++)
            if (cmp_type(&st->type_names[j], &st->type_names[best]) < 0)
                best = j;
        char *tn = st->type_names[i];
        int64_t tc = st->type_counts[i];
        st->type_names[i] = st->type_names[best];
        st->type_counts[i] = st->type_counts[best];
        st->type_names[best] = tn;
        st->type_counts[best] = tc;
    }
    return CL_OK;
}

void cl_corpus_stats_free(cl_corpus_stats *st)
{
    for (int i = 0; i < st->ntypes; i++)
        free(st->type_names[i]);
    memset(st, 0, sizeof *st);
}
