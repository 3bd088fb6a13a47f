/*
 * bm25.c - an Okapi BM25 index over bags of terms, with a versioned,
 * checksummed file format so that kNN-shot and RAG indexes are built once
 * and reused from a cache.
 *
 * Layout: a vocabulary (open-addressing hash of term -> id), each
 * document's length, and postings in compressed-row form: for term t the
 * pairs (doc, tf) at post[start[t] .. start[t+1]), documents ascending.
 * Documents are added in order, so building the postings is one counting
 * sort of (term, doc, tf) triples.  A query accumulates scores into a dense
 * per-document array (the corpora here have thousands of documents, not
 * millions) and keeps the best k in a small sorted array.
 *
 * File: binfile.h's container (magic "CLBM25\n\0", version 2) whose payload
 * (little-endian) is u64 key, f64 k1, f64 b, i32 ndocs, i32 nterms, i64
 * npost, i32 doc_len[ndocs], terms (u32 length + bytes), i32 start[nterms +
 * 1], i32 post_doc[npost], i32 post_tf[npost].  Version 1 (native byte
 * order, checksum at the end) is refused with a "rebuild" message.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/retrieve.h"
#include "clinner/binfile.h"

#define BM25_MAGIC "CLBM25\n"
#define BM25_VERSION 2u /* 1: native byte order, checksum at the end (refused) */

typedef struct triple {
    int32_t term, doc, tf;
} triple;

struct cl_bm25 {
    cl_bm25_params p;
    int32_t ndocs, cap_docs;
    int32_t *doc_len;
    double avgdl;

    char **terms;
    int32_t nterms, cap_terms;
    int32_t *slots; /* hash slots: term id or -1 */
    size_t nslots;  /* power of two */

    triple *trips; /* while building */
    int64_t ntrips, cap_trips;

    bool finished;
    int32_t *start; /* nterms + 1 */
    int32_t *post_doc, *post_tf;
    int64_t npost;
};

cl_bm25_params cl_bm25_default_params(void)
{
    cl_bm25_params p = {1.2, 0.75};
    return p;
}

cl_status cl_bm25_new(const cl_bm25_params *params, cl_bm25 **out, cl_error *err)
{
    *out = NULL;
    cl_bm25_params p = params ? *params : cl_bm25_default_params();
    if (!(p.k1 >= 0 && p.k1 <= 1000) || !(p.b >= 0 && p.b <= 1))
        return cl_error_set(err, CL_ERR_ARG,
                            "bm25: k1 must be in [0, 1000] and b in [0, 1] (got %g, %g)", p.k1,
                            p.b);
    cl_bm25 *ix = calloc(1, sizeof *ix);
    if (!ix)
        return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
    ix->p = p;
    *out = ix;
    return CL_OK;
}

void cl_bm25_free(cl_bm25 *ix)
{
    if (!ix)
        return;
    for (int32_t i = 0; i < ix->nterms; i++)
        free(ix->terms[i]);
    free(ix->terms);
    free(ix->slots);
    free(ix->doc_len);
    free(ix->trips);
    free(ix->start);
    free(ix->post_doc);
    free(ix->post_tf);
    free(ix);
}

int32_t cl_bm25_ndocs(const cl_bm25 *ix) { return ix->ndocs; }

static uint64_t term_hash(const char *s)
{
    return cl_fnv1a64(CL_FNV64_INIT, s, strlen(s));
}

/* Slot of term s: its id, or -1 with *slot the empty slot to fill. */
static int32_t vocab_find(const cl_bm25 *ix, const char *s, size_t *slot)
{
    if (ix->nslots == 0) {
        *slot = 0;
        return -1;
    }
    size_t mask = ix->nslots - 1;
    size_t i = (size_t)term_hash(s) & mask;
    for (;;) {
        int32_t id = ix->slots[i];
        if (id < 0) {
            *slot = i;
            return -1;
        }
        if (strcmp(ix->terms[id], s) == 0) {
            *slot = i;
            return id;
        }
        i = (i + 1) & mask;
    }
}

/* Rebuild the hash slots: -1 when out of memory, -2 when a term is there
 * twice (only a loaded file can have that). */
static int vocab_rehash(cl_bm25 *ix, size_t nslots)
{
    int32_t *slots = malloc(nslots * sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < nslots; i++)
        slots[i] = -1;
    free(ix->slots);
    ix->slots = slots;
    ix->nslots = nslots;
    for (int32_t id = 0; id < ix->nterms; id++) {
        size_t slot;
        if (vocab_find(ix, ix->terms[id], &slot) >= 0)
            return -2;
        ix->slots[slot] = id;
    }
    return 0;
}

/* Id of term s, added to the vocabulary when new; -1 on allocation failure. */
static int32_t vocab_intern(cl_bm25 *ix, const char *s)
{
    if ((size_t)(ix->nterms + 1) * 2 > ix->nslots) {
        if (vocab_rehash(ix, ix->nslots ? ix->nslots * 2 : 1024) != 0)
            return -1;
    }
    size_t slot;
    int32_t id = vocab_find(ix, s, &slot);
    if (id >= 0)
        return id;
    if (ix->nterms == ix->cap_terms) {
        int32_t cap = ix->cap_terms ? ix->cap_terms * 2 : 1024;
        char **t = realloc(ix->terms, (size_t)cap * sizeof *t);
        if (!t)
            return -1;
        ix->terms = t;
        ix->cap_terms = cap;
    }
    char *copy = cl_strdup(s);
    if (!copy)
        return -1;
    id = ix->nterms++;
    ix->terms[id] = copy;
    ix->slots[slot] = id;
    return id;
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

cl_status cl_bm25_add(cl_bm25 *ix, const char *const *terms, int32_t nterms, cl_error *err)
{
    if (ix->finished)
        return cl_error_set(err, CL_ERR_ARG, "bm25: index already finished");
    if (nterms < 0)
        return cl_error_set(err, CL_ERR_ARG, "bm25: negative term count");
    if (ix->ndocs == ix->cap_docs) {
        int32_t cap = ix->cap_docs ? ix->cap_docs * 2 : 256;
        int32_t *d = realloc(ix->doc_len, (size_t)cap * sizeof *d);
        if (!d)
            return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
        ix->doc_len = d;
        ix->cap_docs = cap;
    }
    int32_t *ids = malloc(((size_t)nterms + 1) * sizeof *ids);
    if (!ids)
        return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
    for (int32_t i = 0; i < nterms; i++) {
        ids[i] = vocab_intern(ix, terms[i]);
        if (ids[i] < 0) {
            free(ids);
            return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
        }
    }
    qsort(ids, (size_t)nterms, sizeof *ids, cmp_int32);
    int32_t doc = ix->ndocs;
    for (int32_t i = 0; i < nterms;) {
        int32_t j = i;
        while (j < nterms && ids[j] == ids[i])
            j++;
        if (ix->ntrips == ix->cap_trips) {
            int64_t cap = ix->cap_trips ? ix->cap_trips * 2 : 4096;
            triple *t = realloc(ix->trips, (size_t)cap * sizeof *t);
            if (!t) {
                free(ids);
                return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
            }
            ix->trips = t;
            ix->cap_trips = cap;
        }
        ix->trips[ix->ntrips++] = (triple){ids[i], doc, j - i};
        i = j;
    }
    free(ids);
    ix->doc_len[ix->ndocs++] = nterms;
    return CL_OK;
}

static void compute_avgdl(cl_bm25 *ix)
{
    double total = 0;
    for (int32_t d = 0; d < ix->ndocs; d++)
        total += ix->doc_len[d];
    ix->avgdl = ix->ndocs ? total / ix->ndocs : 0;
}

cl_status cl_bm25_finish(cl_bm25 *ix, cl_error *err)
{
    if (ix->finished)
        return CL_OK;
    ix->start = calloc((size_t)ix->nterms + 1, sizeof *ix->start);
    size_t np = ix->ntrips ? (size_t)ix->ntrips : 1;
    ix->post_doc = malloc(np * sizeof *ix->post_doc);
    ix->post_tf = malloc(np * sizeof *ix->post_tf);
    if (!ix->start || !ix->post_doc || !ix->post_tf)
        return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
    if (ix->ntrips > INT32_MAX)
        return cl_error_set(err, CL_ERR_RANGE, "bm25: too many postings");
    for (int64_t i = 0; i < ix->ntrips; i++)
        ix->start[ix->trips[i].term + 1]++;
    for (int32_t t = 0; t < ix->nterms; t++)
        ix->start[t + 1] += ix->start[t];
    int32_t *fill = malloc(((size_t)ix->nterms + 1) * sizeof *fill);
    if (!fill)
        return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
    memcpy(fill, ix->start, ((size_t)ix->nterms + 1) * sizeof *fill);
    /* triples are in document order, so each term's postings come out sorted */
    for (int64_t i = 0; i < ix->ntrips; i++) {
        int32_t at = fill[ix->trips[i].term]++;
        ix->post_doc[at] = ix->trips[i].doc;
        ix->post_tf[at] = ix->trips[i].tf;
    }
    free(fill);
    ix->npost = ix->ntrips;
    free(ix->trips);
    ix->trips = NULL;
    ix->ntrips = ix->cap_trips = 0;
    compute_avgdl(ix);
    ix->finished = true;
    return CL_OK;
}

static double idf(const cl_bm25 *ix, int32_t term)
{
    double df = ix->start[term + 1] - ix->start[term];
    return log(1.0 + (ix->ndocs - df + 0.5) / (df + 0.5));
}

static double term_weight(const cl_bm25 *ix, double w_idf, int32_t tf, int32_t doc)
{
    double norm = ix->avgdl > 0 ? ix->doc_len[doc] / ix->avgdl : 0;
    return w_idf * tf * (ix->p.k1 + 1) / (tf + ix->p.k1 * (1 - ix->p.b + ix->p.b * norm));
}

static int32_t lookup(const cl_bm25 *ix, const char *s)
{
    size_t slot;
    return vocab_find(ix, s, &slot);
}

double cl_bm25_score(const cl_bm25 *ix, const char *const *terms, int32_t nterms, int32_t doc)
{
    if (!ix->finished || doc < 0 || doc >= ix->ndocs)
        return 0;
    double s = 0;
    for (int32_t i = 0; i < nterms; i++) {
        int32_t t = lookup(ix, terms[i]);
        if (t < 0)
            continue;
        /* binary search doc in the term's postings */
        int32_t lo = ix->start[t], hi = ix->start[t + 1];
        while (lo < hi) {
            int32_t mid = lo + (hi - lo) / 2;
            if (ix->post_doc[mid] < doc)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < ix->start[t + 1] && ix->post_doc[lo] == doc)
            s += term_weight(ix, idf(ix, t), ix->post_tf[lo], doc);
    }
    return s;
}

static bool better(cl_bm25_hit a, cl_bm25_hit b)
{
    return a.score > b.score || (a.score == b.score && a.doc < b.doc);
}

cl_status cl_bm25_query(const cl_bm25 *ix, const char *const *terms, int32_t nterms, int32_t k,
                        cl_bm25_exclude_fn exclude, void *ctx, cl_bm25_hit *out, int32_t *nout,
                        cl_error *err)
{
    *nout = 0;
    if (!ix->finished)
        return cl_error_set(err, CL_ERR_ARG, "bm25: query before cl_bm25_finish");
    if (k <= 0 || ix->ndocs == 0)
        return CL_OK;
    double *acc = calloc((size_t)ix->ndocs, sizeof *acc);
    if (!acc)
        return cl_error_set(err, CL_ERR_NOMEM, "bm25: out of memory");
    for (int32_t i = 0; i < nterms; i++) {
        int32_t t = lookup(ix, terms[i]);
        if (t < 0)
            continue;
        double w = idf(ix, t);
        for (int32_t j = ix->start[t]; j < ix->start[t + 1]; j++)
            acc[ix->post_doc[j]] += term_weight(ix, w, ix->post_tf[j], ix->post_doc[j]);
    }
    int32_t n = 0;
    for (int32_t d = 0; d < ix->ndocs; d++) {
        cl_bm25_hit h = {d, acc[d]};
        if (n == k && !better(h, out[n - 1]))
            continue;
        if (exclude && exclude(ctx, d))
            continue;
        int32_t at = n < k ? n++ : k - 1;
        while (at > 0 && better(h, out[at - 1])) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = h;
    }
    free(acc);
    *nout = n;
    return CL_OK;
}

/* ---- file format ---- */

cl_status cl_bm25_save(const cl_bm25 *ix, const char *path, uint64_t key, cl_error *err)
{
    if (!ix->finished)
        return cl_error_set(err, CL_ERR_ARG, "%s: bm25 index not finished", path);
    cl_binw w;
    cl_binw_init(&w);
    cl_binw_u64(&w, key);
    cl_binw_f64(&w, ix->p.k1);
    cl_binw_f64(&w, ix->p.b);
    cl_binw_i32(&w, ix->ndocs);
    cl_binw_i32(&w, ix->nterms);
    cl_binw_i64(&w, ix->npost);
    cl_binw_i32s(&w, ix->doc_len, (size_t)ix->ndocs);
    for (int32_t t = 0; t < ix->nterms; t++)
        cl_binw_str(&w, ix->terms[t], strlen(ix->terms[t]));
    cl_binw_i32s(&w, ix->start, (size_t)ix->nterms + 1);
    cl_binw_i32s(&w, ix->post_doc, (size_t)ix->npost);
    cl_binw_i32s(&w, ix->post_tf, (size_t)ix->npost);
    cl_status st = cl_binw_save(&w, path, BM25_MAGIC, BM25_VERSION, err);
    cl_binw_free(&w);
    return st;
}

/* count int32 values into a new array; false when the payload has fewer */
static bool take_array(cl_binr *r, int32_t **dst, size_t count)
{
    if (count > cl_binr_left(r) / 4)
        return false;
    *dst = malloc(count ? count * 4 : 4);
    return *dst && cl_binr_i32s(r, *dst, count);
}

/* The vocabulary: nterms strings, each without NUL. */
static const char *read_terms(cl_binr *r, cl_bm25 *ix, int32_t nterms)
{
    /* each term takes at least its length (4 bytes) and its postings start
     * (4 bytes): a count the file cannot hold is refused before it is
     * allocated */
    if ((size_t)nterms > cl_binr_left(r) / 8)
        return "truncated vocabulary";
    ix->terms = calloc(nterms ? (size_t)nterms : 1, sizeof *ix->terms);
    if (!ix->terms)
        return "out of memory";
    ix->cap_terms = nterms;
    for (int32_t t = 0; t < nterms; t++) {
        size_t len;
        const char *s = cl_binr_str(r, &len);
        if (!s)
            return "truncated vocabulary";
        if (memchr(s, '\0', len))
            return "vocabulary term with a NUL byte";
        if (!(ix->terms[t] = cl_strndup(s, len)))
            return "out of memory";
        ix->nterms = t + 1;
    }
    return NULL;
}

/* Everything a query indexes with, checked. */
static const char *check_postings(const cl_bm25 *ix)
{
    int32_t nterms = ix->nterms, ndocs = ix->ndocs;
    int64_t npost = ix->npost;
    if (ix->start[0] != 0 || ix->start[nterms] != npost)
        return "inconsistent postings";
    for (int32_t t = 0; t < nterms; t++)
        if (ix->start[t + 1] < ix->start[t])
            return "inconsistent postings";
    /* a term occurs in a document at most as often as the document has
     * terms: that keeps every length >= 1 where a score is computed, so
     * scores are finite and >= 0 */
    for (int32_t d = 0; d < ndocs; d++)
        if (ix->doc_len[d] < 0)
            return "negative document length";
    for (int64_t i = 0; i < npost; i++)
        if (ix->post_doc[i] < 0 || ix->post_doc[i] >= ndocs || ix->post_tf[i] <= 0 ||
            ix->post_tf[i] > ix->doc_len[ix->post_doc[i]])
            return "posting out of range";
    /* cl_bm25_score binary-searches a term's postings: documents ascending,
     * each once */
    for (int32_t t = 0; t < nterms; t++)
        for (int32_t i = ix->start[t] + 1; i < ix->start[t + 1]; i++)
            if (ix->post_doc[i] <= ix->post_doc[i - 1])
                return "postings out of order";
    return NULL;
}

/* The payload after the container's checks; NULL or why it is refused. */
static const char *read_index(cl_binr *r, uint64_t key, cl_bm25 **out)
{
    uint64_t fkey = cl_binr_u64(r);
    cl_bm25_params p;
    p.k1 = cl_binr_f64(r);
    p.b = cl_binr_f64(r);
    int32_t ndocs = cl_binr_i32(r), nterms = cl_binr_i32(r);
    int64_t npost = cl_binr_i64(r);
    if (r->bad || ndocs < 0 || nterms < 0 || npost < 0 || npost > INT32_MAX)
        return "bad header";
    if (fkey != key)
        return "built from other data (key mismatch)";
    if (cl_bm25_new(&p, out, NULL) != CL_OK)
        return "bad parameters";
    cl_bm25 *ix = *out;
    ix->ndocs = ix->cap_docs = ndocs;
    if (!take_array(r, &ix->doc_len, (size_t)ndocs))
        return "truncated document lengths";
    const char *why = read_terms(r, ix, nterms);
    if (why)
        return why;
    ix->npost = npost;
    if (!take_array(r, &ix->start, (size_t)nterms + 1) ||
        !take_array(r, &ix->post_doc, (size_t)npost) ||
        !take_array(r, &ix->post_tf, (size_t)npost) || !cl_binr_done(r))
        return "truncated or oversized postings";
    if ((why = check_postings(ix)))
        return why;
    size_t nslots = 1024;
    while (nslots < (size_t)nterms * 2 + 2)
        nslots *= 2;
    int rehash = vocab_rehash(ix, nslots);
    if (rehash != 0)
        return rehash == -2 ? "a vocabulary term is there twice" : "out of memory";
    compute_avgdl(ix);
    ix->finished = true;
    return NULL;
}

cl_status cl_bm25_load(const char *path, uint64_t key, cl_bm25 **out, cl_error *err)
{
    *out = NULL;
    char *data;
    size_t n;
    cl_status st = cl_read_file(path, &data, &n, err);
    if (st != CL_OK)
        return st;
    const unsigned char *u = (const unsigned char *)data;
    if (cl_bin_has_magic(data, n, BM25_MAGIC) && n >= 12 && u[8] == 1 && !u[9] && !u[10] &&
        !u[11]) {
        free(data);
        return cl_error_set(err, CL_ERR_FORMAT,
                            "%s: a BM25 index of the first format (version 1); rebuild it "
                            "with this clinner (as a cache it is rebuilt by itself)",
                            path);
    }
    cl_binr r;
    st = cl_binr_open(&r, data, n, BM25_MAGIC, BM25_VERSION, BM25_VERSION, NULL, path,
                      "BM25 index", CL_ERR_FORMAT, err);
    if (st != CL_OK) {
        free(data);
        return st;
    }
    cl_bm25 *ix = NULL;
    const char *why = read_index(&r, key, &ix);
    free(data);
    if (why) {
        cl_bm25_free(ix);
        return cl_error_set(err, CL_ERR_FORMAT, "%s: %s", path, why);
    }
    *out = ix;
    return CL_OK;
}

cl_status cl_bm25_cached(const char *cache_dir, uint64_t key, const cl_bm25_params *params,
                         cl_bm25_build_fn build, void *ctx, cl_bm25 **out, cl_error *err)
{
    *out = NULL;
    char *path = NULL;
    if (cache_dir && *cache_dir) {
        char name[64];
        snprintf(name, sizeof name, "bm25-%016llx.bin", (unsigned long long)key);
        path = cl_path_join(cache_dir, name);
        if (!path)
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        cl_bm25 *ix;
        if (cl_bm25_load(path, key, &ix, NULL) == CL_OK) {
            cl_bm25_params want = params ? *params : cl_bm25_default_params();
            if (ix->p.k1 == want.k1 && ix->p.b == want.b) {
                free(path);
                *out = ix;
                return CL_OK;
            }
            cl_bm25_free(ix);
        }
    }
    cl_bm25 *ix = NULL;
    cl_status st = cl_bm25_new(params, &ix, err);
    if (st == CL_OK)
        st = build(ctx, ix, err);
    if (st == CL_OK)
        st = cl_bm25_finish(ix, err);
    if (st != CL_OK) {
        cl_bm25_free(ix);
        free(path);
        return st;
    }
    if (path && cl_mkdir_p(cache_dir, NULL) == CL_OK)
        cl_bm25_save(ix, path, key, NULL); /* a cache that cannot be written is not an error */
    free(path);
    *out = ix;
    return CL_OK;
}
