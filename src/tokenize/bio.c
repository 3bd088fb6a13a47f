/*
 * bio.c - projection of entities onto one BIO tag per token, the reverse
 * decoding, and the count of what the projection cannot represent.
 *
 * Two policies (tokenize.h):
 *   CL_BIO_PAPER reproduces brat2iob.py: first fragment only; types in order
 *   of first appearance, a later type that matches a token overwrites an
 *   earlier one; within a type the first entity in file order that matches
 *   decides (B when the token starts where the span starts, whatever its
 *   end; I when the token lies after the span start and ends within it).
 *   CL_BIO_CLINICAL tags every fragment, lets the longest entity (most
 *   characters over all fragments; ties: first in file) own each token it
 *   touches by at least one character, and starts a new B- wherever the
 *   owner changes, a sentence starts or a fragment does not continue in the
 *   next token, so a discontinuous entity becomes several mentions.
 *
 * Decoding follows conlleval's lenient rules (B- always starts an entity,
 * I- starts one after O, after another type or at a sentence start) so that
 * what we count as "lost" is what a seqeval scorer would miss.
 */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/labels.h"
#include "tokenize/tok_internal.h"

typedef struct mention {
    const char *type; /* points into doc->tags (after the "B-"/"I-") */
    int32_t tok_b, tok_e;
    int32_t start, end;
} mention;

static bool type_kept(const char *type, const char *const *types, int ntypes)
{
    if (!types)
        return true;
    for (int i = 0; i < ntypes; i++)
        if (types[i] && strcmp(types[i], type) == 0)
            return true;
    return false;
}

/* 1 where token i starts a sentence (all 0 when the doc has no sentences). */
static char *sentence_starts(const cl_doc *doc)
{
    char *ss = calloc((size_t)doc->ntokens + 1, 1);
    if (!ss)
        return NULL;
    for (int32_t s = 0; s < doc->nsentences; s++)
        if (doc->sentences[s].tok_begin < doc->ntokens)
            ss[doc->sentences[s].tok_begin] = 1;
    return ss;
}

/* Sentence index of every token (-1 where none covers it), or NULL. */
static int32_t *sentence_of_token(const cl_doc *doc)
{
    int32_t *so = malloc(((size_t)doc->ntokens + 1) * sizeof *so);
    if (!so)
        return NULL;
    for (int32_t i = 0; i < doc->ntokens; i++)
        so[i] = -1;
    for (int32_t s = 0; s < doc->nsentences; s++)
        for (int32_t i = doc->sentences[s].tok_begin; i < doc->sentences[s].tok_end; i++)
            so[i] = s;
    return so;
}

/* Per token the entity type id (-1: O or a label read as O) and whether it
 * is a B-, through a label table of the document's tags. */
static cl_status read_tags(const cl_doc *doc, int32_t *type, bool *is_b, cl_error *err)
{
    cl_labels *l;
    cl_status st = cl_labels_new(&l, err);
    for (int32_t i = 0; i < doc->ntokens && st == CL_OK; i++) {
        const char *tag = doc->tags[i];
        int32_t id = cl_labels_intern(l, tag, tag ? strlen(tag) : 0);
        if (id < 0) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        cl_bio_prefix p = cl_labels_prefix(l, id);
        type[i] = p == CL_BIO_B || p == CL_BIO_I ? cl_labels_type(l, id) : -1;
        is_b[i] = p == CL_BIO_B;
    }
    cl_labels_free(l);
    return st;
}

/* Decode doc->tags into mentions (labels.h's lenient chunker, a sentence
 * start closing any entity).  *out NULL when none. */
static cl_status decode(const cl_doc *doc, mention **out, int32_t *nout, cl_error *err)
{
    *out = NULL;
    *nout = 0;
    if (!doc->tags || doc->ntokens == 0)
        return CL_OK;
    size_t n = (size_t)doc->ntokens;
    bool *starts = calloc(n, sizeof *starts), *is_b = malloc(n * sizeof *is_b);
    int32_t *type = malloc(n * sizeof *type);
    cl_bio_chunk *c = malloc(n * sizeof *c);
    mention *m = malloc(n * sizeof *m);
    cl_status st = starts && is_b && type && c && m
                       ? CL_OK
                       : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK) {
        for (int32_t s = 0; s < doc->nsentences; s++)
            if (doc->sentences[s].tok_begin < doc->ntokens)
                starts[doc->sentences[s].tok_begin] = true;
        st = read_tags(doc, type, is_b, err);
    }
    if (st == CL_OK) {
        int32_t k = cl_bio_chunks(type, is_b, starts, doc->ntokens, c);
        for (int32_t j = 0; j < k; j++)
            m[j] = (mention){doc->tags[c[j].begin] + 2, c[j].begin, c[j].end,
                             doc->tokens[c[j].begin].start, doc->tokens[c[j].end - 1].end};
        *out = m;
        *nout = k;
        m = NULL;
    }
    free(starts);
    free(is_b);
    free(type);
    free(c);
    free(m);
    return st;
}

cl_status cl_bio_to_entities(cl_doc *doc, cl_error *err)
{
    mention *m;
    int32_t n;
    cl_status st = decode(doc, &m, &n, err);
    if (st != CL_OK)
        return st;
    cl_doc_clear_entities(doc);
    for (int32_t k = 0; k < n && st == CL_OK; k++) {
        cl_span sp = {m[k].start, m[k].end};
        char *text = cl_doc_span_text(doc, sp.start, sp.end);
        char id[32];
        snprintf(id, sizeof id, "T%d", k + 1);
        st = text ? cl_doc_add_entity(doc, id, m[k].type, &sp, 1, text, err)
                  : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        free(text);
        if (st == CL_OK && doc->tag_conf) {
            double sum = 0;
            for (int32_t i = m[k].tok_b; i < m[k].tok_e; i++)
                sum += doc->tag_conf[i];
            doc->entities[doc->nentities - 1].confidence =
                (float)(sum / (double)(m[k].tok_e - m[k].tok_b));
        }
    }
    free(m);
    return st;
}

/* Token range [*tb, *te) of the tokens sharing at least one character with
 * [start, end); empty (*tb == *te) when none does.  Tokens are in text order. */
static void tokens_touching(const cl_doc *doc, int32_t start, int32_t end, int32_t *tb,
                            int32_t *te)
{
    int32_t lo = 0, hi = doc->ntokens;
    while (lo < hi) { /* first token ending after start */
        int32_t mid = lo + (hi - lo) / 2;
        if (doc->tokens[mid].end <= start)
            lo = mid + 1;
        else
            hi = mid;
    }
    int32_t i = lo;
    while (i < doc->ntokens && doc->tokens[i].start < end)
        i++;
    *tb = lo;
    *te = i > lo ? i : lo;
}

static cl_status project_paper(cl_doc *doc, const char *const *types, int ntypes,
                               cl_error *err)
{
    /* distinct kept types in order of first appearance */
    const char **order = malloc(((size_t)doc->nentities + 1) * sizeof *order);
    if (!order)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    int32_t norder = 0;
    for (int32_t k = 0; k < doc->nentities; k++) {
        const char *t = doc->entities[k].type;
        if (!type_kept(t, types, ntypes))
            continue;
        int32_t j = 0;
        while (j < norder && strcmp(order[j], t) != 0)
            j++;
        if (j == norder)
            order[norder++] = t;
    }
    cl_status st = CL_OK;
    char tag[256];
    for (int32_t i = 0; i < doc->ntokens && st == CL_OK; i++) {
        int32_t ts = doc->tokens[i].start, te = doc->tokens[i].end;
        const char *type = NULL;
        char prefix = 0;
        for (int32_t j = 0; j < norder; j++) {
            for (int32_t k = 0; k < doc->nentities; k++) {
                const cl_entity *e = &doc->entities[k];
                if (strcmp(e->type, order[j]) != 0)
                    continue;
                if (ts == e->frags[0].start) {
                    type = e->type, prefix = 'B';
                    break;
                }
                if (ts > e->frags[0].start && te <= e->frags[0].end) {
                    type = e->type, prefix = 'I';
                    break;
                }
            }
        }
        if (type) {
            snprintf(tag, sizeof tag, "%c-%s", prefix, type);
            st = cl_doc_set_tag(doc, i, tag, err);
        }
    }
    free(order);
    return st;
}

static int32_t entity_length(const cl_entity *e)
{
    int32_t n = 0;
    for (int32_t f = 0; f < e->nfrags; f++)
        n += e->frags[f].end - e->frags[f].start;
    return n;
}

typedef struct ranked {
    int32_t length, index;
} ranked;

/* Longest first; ties: first in file. */
static int by_length_then_order(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->length != y->length)
        return x->length > y->length ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static cl_status project_clinical(cl_doc *doc, const char *const *types, int ntypes,
                                  cl_error *err)
{
    ranked *rank = malloc(((size_t)doc->nentities + 1) * sizeof *rank);
    int32_t *owner = malloc(((size_t)doc->ntokens + 1) * sizeof *owner);
    char *ss = sentence_starts(doc);
    if (!rank || !owner || !ss) {
        free(rank);
        free(owner);
        free(ss);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    int32_t nrank = 0;
    for (int32_t k = 0; k < doc->nentities; k++)
        if (type_kept(doc->entities[k].type, types, ntypes))
            rank[nrank++] = (ranked){entity_length(&doc->entities[k]), k};
    qsort(rank, (size_t)nrank, sizeof *rank, by_length_then_order);
    for (int32_t i = 0; i < doc->ntokens; i++)
        owner[i] = -1;
    for (int32_t r = 0; r < nrank; r++) {
        const cl_entity *e = &doc->entities[rank[r].index];
        for (int32_t f = 0; f < e->nfrags; f++) {
            int32_t tb, te;
            tokens_touching(doc, e->frags[f].start, e->frags[f].end, &tb, &te);
            for (int32_t i = tb; i < te; i++)
                if (owner[i] < 0)
                    owner[i] = rank[r].index;
        }
    }
    cl_status st = CL_OK;
    char tag[256];
    for (int32_t i = 0; i < doc->ntokens && st == CL_OK; i++) {
        if (owner[i] < 0)
            continue;
        bool cont = i > 0 && owner[i - 1] == owner[i] && !ss[i];
        snprintf(tag, sizeof tag, "%c-%s", cont ? 'I' : 'B', doc->entities[owner[i]].type);
        st = cl_doc_set_tag(doc, i, tag, err);
    }
    free(rank);
    free(owner);
    free(ss);
    return st;
}

static bool spans_overlap(const cl_entity *a, const cl_entity *b)
{
    for (int32_t f = 0; f < a->nfrags; f++)
        for (int32_t g = 0; g < b->nfrags; g++)
            if (a->frags[f].start < b->frags[g].end && b->frags[g].start < a->frags[f].end)
                return true;
    return false;
}

static bool has_mention(const mention *m, int32_t n, const char *type, int32_t start,
                        int32_t end)
{
    for (int32_t k = 0; k < n; k++)
        if (m[k].start == start && m[k].end == end && strcmp(m[k].type, type) == 0)
            return true;
    return false;
}

static int by_start(const void *a, const void *b)
{
    const cl_span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Whether decoding the tags gives back e: under the paper policy its first
 * fragment; under ours every run of fragments whose tokens follow each other
 * (a run is expected as one mention from its first start to its last end).
 * 1 yes, 0 no, -1 out of memory. */
static int recovered(const cl_doc *doc, const cl_entity *e, cl_bio_policy policy,
                     const mention *m, int32_t nm)
{
    if (policy == CL_BIO_PAPER)
        return has_mention(m, nm, e->type, e->frags[0].start, e->frags[0].end);
    int32_t nf = e->nfrags;
    cl_span *fr = malloc((size_t)nf * sizeof *fr);
    if (!fr)
        return -1;
    memcpy(fr, e->frags, (size_t)nf * sizeof *fr);
    qsort(fr, (size_t)nf, sizeof *fr, by_start);
    int ok = 1;
    int32_t f = 0;
    while (f < nf && ok) {
        int32_t start = fr[f].start, end = fr[f].end, tb, te;
        tokens_touching(doc, fr[f].start, fr[f].end, &tb, &te);
        f++;
        while (f < nf) {
            int32_t nb, ne;
            tokens_touching(doc, fr[f].start, fr[f].end, &nb, &ne);
            if (nb > te)
                break;
            if (fr[f].end > end)
                end = fr[f].end;
            if (ne > te)
                te = ne;
            f++;
        }
        ok = has_mention(m, nm, e->type, start, end);
    }
    free(fr);
    return ok;
}

/* Whether position p is the start (want_start) or end of some token. */
static bool at_token_edge(const cl_doc *doc, int32_t p, bool want_start)
{
    int32_t lo = 0, hi = doc->ntokens;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        int32_t v = want_start ? doc->tokens[mid].start : doc->tokens[mid].end;
        if (v < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < doc->ntokens && (want_start ? doc->tokens[lo].start : doc->tokens[lo].end) == p;
}

static cl_status add_stats(const cl_doc *doc, cl_bio_policy policy, const char *const *types,
                           int ntypes, cl_bio_stats *stats, cl_error *err)
{
    mention *m;
    int32_t nm;
    cl_status st = decode(doc, &m, &nm, err);
    if (st != CL_OK)
        return st;
    int32_t *so = sentence_of_token(doc);
    if (!so) {
        free(m);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    for (int32_t k = 0; k < doc->nentities; k++) {
        const cl_entity *e = &doc->entities[k];
        if (!type_kept(e->type, types, ntypes))
            continue;
        stats->entities++;
        if (e->nfrags > 1)
            stats->discontinuous++;
        for (int32_t j = 0; j < doc->nentities; j++) {
            if (j != k && type_kept(doc->entities[j].type, types, ntypes) &&
                spans_overlap(e, &doc->entities[j])) {
                stats->overlapping++;
                break;
            }
        }
        int32_t smin = INT32_MAX, smax = -1;
        for (int32_t f = 0; f < e->nfrags; f++) {
            stats->boundaries += 2;
            stats->boundary_in_token += !at_token_edge(doc, e->frags[f].start, true);
            stats->boundary_in_token += !at_token_edge(doc, e->frags[f].end, false);
            int32_t tb, te;
            tokens_touching(doc, e->frags[f].start, e->frags[f].end, &tb, &te);
            for (int32_t i = tb; i < te; i++) {
                if (so[i] < 0)
                    continue;
                if (so[i] < smin)
                    smin = so[i];
                if (so[i] > smax)
                    smax = so[i];
            }
        }
        if (smax >= 0 && smin != smax)
            stats->cross_sentence++;
        int r = recovered(doc, e, policy, m, nm);
        if (r < 0) {
            st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            break;
        }
        stats->lost += r == 0;
    }
    free(so);
    free(m);
    return st;
}

cl_status cl_bio_from_entities(cl_doc *doc, cl_bio_policy policy, const char *const *types,
                               int ntypes, cl_bio_stats *stats, cl_error *err)
{
    if (!doc)
        return cl_error_set(err, CL_ERR_ARG, "no document");
    if (policy != CL_BIO_PAPER && policy != CL_BIO_CLINICAL)
        return cl_error_set(err, CL_ERR_ARG, "unknown BIO policy %d", (int)policy);
    for (int32_t i = 1; i < doc->ntokens; i++)
        if (doc->tokens[i].start < doc->tokens[i - 1].end)
            return cl_error_set(err, CL_ERR_ARG, "%s: tokens %d and %d overlap or are out of order",
                                doc->id, i - 1, i);
    cl_status st = cl_doc_reset_tags(doc, err);
    if (st != CL_OK)
        return st;
    st = policy == CL_BIO_PAPER ? project_paper(doc, types, ntypes, err)
                                : project_clinical(doc, types, ntypes, err);
    if (st == CL_OK && stats)
        st = add_stats(doc, policy, types, ntypes, stats, err);
    return st;
}

/* I-X may follow only B-X or I-X; label 0.. with "O", "B-X", "I-X" names. */
static bool bio_allowed(const char *prev, const char *cur)
{
    if (strncmp(cur, "I-", 2) != 0)
        return true;
    if (!prev || (strncmp(prev, "B-", 2) != 0 && strncmp(prev, "I-", 2) != 0))
        return false;
    return !strcmp(prev + 2, cur + 2);
}

void cl_bio_viterbi(const char *const *labels, int32_t L, const float *lp, int32_t n,
                     int32_t *out)
{
    if (n <= 0)
        return;
    double *score = malloc((size_t)n * (size_t)L * sizeof *score);
    int32_t *back = malloc((size_t)n * (size_t)L * sizeof *back);
    if (!score || !back) { /* degrade to per-word argmax over B/O (still valid BIO) */
        for (int32_t t = 0; t < n; t++) {
            int32_t best = 0;
            for (int32_t l = 1; l < L; l++)
                if (strncmp(labels[l], "I-", 2) && lp[t * L + l] > lp[t * L + best])
                    best = l;
            out[t] = best;
        }
        free(score);
        free(back);
        return;
    }
    for (int32_t l = 0; l < L; l++)
        score[l] = bio_allowed(NULL, labels[l]) ? lp[l] : -INFINITY;
    for (int32_t t = 1; t < n; t++)
        for (int32_t l = 0; l < L; l++) {
            double best = -INFINITY;
            int32_t arg = 0;
            for (int32_t p = 0; p < L; p++) {
                double v = score[(t - 1) * L + p];
                if (v > best && bio_allowed(labels[p], labels[l])) {
                    best = v;
                    arg = p;
                }
            }
            score[t * L + l] = best + lp[t * L + l];
            back[t * L + l] = arg;
        }
    int32_t cur = 0;
    for (int32_t l = 1; l < L; l++)
        if (score[(n - 1) * L + l] > score[(n - 1) * L + cur])
            cur = l;
    for (int32_t t = n - 1; t >= 0; t--) {
        out[t] = cur;
        if (t > 0)
            cur = back[t * L + cur];
    }
    free(score);
    free(back);
}
