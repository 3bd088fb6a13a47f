/*
 * model.c - the CRF model object and its file.
 *
 * File layout (integers little-endian):
 *   header (32 bytes): magic "CLNRCRF\0", u32 format version (1), u32 0,
 *                      u64 payload length, u64 FNV-1a-64 of the payload
 *   payload: u32 ntypes + type names; feature config (window, affix,
 *            gazetteer flag, gazetteer max length, document words), f32 O bias; u32 nmeta + key/value
 *            strings; u32 ngaz + (string, u32 type mask) entries; u32 A +
 *            attribute strings; u32 D; then every weight as float32 in the
 *            layout of crf_internal.h.  Strings are u32 length + bytes.
 * Version 2 (a model trained with a vocabulary, vocab.c) adds after the
 * gazetteer: u32 ncats + category names; u32 nkeys + (string, u32 category
 * mask) entries.  Models without one are still written as version 1.
 *
 * Weights are float32 in the file and the trainer rounds its doubles to
 * float before building the model, so a model tags identically before and
 * after a save/load round trip.  Saving goes through cl_atomic_* (temporary
 * file, fsync, rename): an interrupted training never leaves half a model.
 * Every way a file can be wrong (missing, foreign, other version, truncated,
 * corrupt) is reported as CL_ERR_MODEL naming the file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"
#include "clinner/util.h"

#define MODEL_MAGIC "CLNRCRF"
#define MODEL_VERSION 1u       /* written when the model has no vocabulary */
#define MODEL_VERSION_VOCAB 2u /* version 1 plus a vocabulary after the gazetteer */
#define HEADER_BYTES 32
#define CRF_MAX_TRANSITION 500.0

/* ---- construction ---- */

cl_crf_model *crf_model_new(const char *const *types, int32_t ntypes, cl_error *err)
{
    if (ntypes < 1 || ntypes > CRF_MAX_TYPES) {
        cl_error_set(err, CL_ERR_ARG, "a CRF needs 1 to %d entity types, not %d", CRF_MAX_TYPES,
                     ntypes);
        return NULL;
    }
    cl_crf_model *m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    crf_dict_init(&m->attrs);
    m->dims.L = 1 + 2 * ntypes;
    m->labels = calloc((size_t)m->dims.L, sizeof *m->labels);
    m->types = calloc((size_t)ntypes, sizeof *m->types);
    if (!m->labels || !m->types)
        goto nomem;
    crf_gaz_init(&m->gaz, ntypes, 0);
    crf_vocab_init(&m->vocab);
    m->labels[0] = cl_strdup("O");
    if (!m->labels[0])
        goto nomem;
    for (int32_t t = 0; t < ntypes; t++) {
        size_t n = strlen(types[t]) + 3;
        m->types[t] = cl_strdup(types[t]);
        m->labels[1 + 2 * t] = malloc(n);
        m->labels[2 + 2 * t] = malloc(n);
        if (!m->types[t] || !m->labels[1 + 2 * t] || !m->labels[2 + 2 * t])
            goto nomem;
        snprintf(m->labels[1 + 2 * t], n, "B-%s", types[t]);
        snprintf(m->labels[2 + 2 * t], n, "I-%s", types[t]);
    }
    return m;
nomem:
    cl_crf_model_free(m);
    cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return NULL;
}

void cl_crf_model_free(cl_crf_model *m)
{
    if (!m)
        return;
    int32_t ntypes = (m->dims.L - 1) / 2;
    if (m->labels)
        for (int32_t i = 0; i < m->dims.L; i++)
            free(m->labels[i]);
    if (m->types)
        for (int32_t t = 0; t < ntypes; t++)
            free(m->types[t]);
    free(m->labels);
    free(m->types);
    crf_dict_free(&m->attrs);
    crf_gaz_free(&m->gaz);
    crf_vocab_free(&m->vocab);
    free(m->w);
    for (int32_t i = 0; i < m->nmeta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_vals[i]);
    }
    free(m->meta_keys);
    free(m->meta_vals);
    free(m);
}

int32_t crf_model_label_id(const cl_crf_model *m, const char *tag)
{
    if (!tag)
        return 0;
    for (int32_t i = 1; i < m->dims.L; i++)
        if (strcmp(m->labels[i], tag) == 0)
            return i;
    return 0;
}

cl_status cl_crf_model_set_meta(cl_crf_model *m, const char *key, const char *value,
                                cl_error *err)
{
    for (int32_t i = 0; i < m->nmeta; i++) {
        if (strcmp(m->meta_keys[i], key) == 0) {
            char *v = cl_strdup(value);
            if (!v)
                return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
            free(m->meta_vals[i]);
            m->meta_vals[i] = v;
            return CL_OK;
        }
    }
    char **k = realloc(m->meta_keys, (size_t)(m->nmeta + 1) * sizeof *k);
    if (!k)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    m->meta_keys = k;
    char **v = realloc(m->meta_vals, (size_t)(m->nmeta + 1) * sizeof *v);
    if (!v)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    m->meta_vals = v;
    m->meta_keys[m->nmeta] = cl_strdup(key);
    m->meta_vals[m->nmeta] = cl_strdup(value);
    if (!m->meta_keys[m->nmeta] || !m->meta_vals[m->nmeta]) {
        free(m->meta_keys[m->nmeta]);
        free(m->meta_vals[m->nmeta]);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    m->nmeta++;
    return CL_OK;
}

const char *cl_crf_model_get_meta(const cl_crf_model *m, const char *key)
{
    for (int32_t i = 0; i < m->nmeta; i++)
        if (strcmp(m->meta_keys[i], key) == 0)
            return m->meta_vals[i];
    return NULL;
}

void cl_crf_model_get_info(const cl_crf_model *m, cl_crf_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->nlabels = m->dims.L;
    info->nattrs = m->dims.A;
    info->dense_dim = m->dims.D;
    info->nweights = crf_nweights(m->dims);
    for (int64_t i = 0; i < info->nweights; i++)
        info->nonzero += m->w[i] != 0.0;
    info->gazetteer = m->gaz.keys.n;
    info->o_bias = m->o_bias;
}

const char *cl_crf_model_label(const cl_crf_model *m, int32_t i)
{
    return i >= 0 && i < m->dims.L ? m->labels[i] : NULL;
}

/* ---- writing ---- */

static int put_u32(cl_buf *b, uint32_t v)
{
    char c[4] = {(char)(v & 0xff), (char)((v >> 8) & 0xff), (char)((v >> 16) & 0xff),
                 (char)((v >> 24) & 0xff)};
    return cl_buf_append(b, c, 4);
}

static int put_u64(cl_buf *b, uint64_t v)
{
    return put_u32(b, (uint32_t)(v & 0xffffffffu)) || put_u32(b, (uint32_t)(v >> 32));
}

static int put_str(cl_buf *b, const char *s, size_t n)
{
    return put_u32(b, (uint32_t)n) || cl_buf_append(b, s, n);
}

static int put_f32(cl_buf *b, double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    return put_u32(b, u);
}

cl_status cl_crf_model_save(const cl_crf_model *m, const char *path, cl_error *err)
{
    cl_buf p;
    cl_buf_init(&p);
    int32_t ntypes = (m->dims.L - 1) / 2;
    int bad = put_u32(&p, (uint32_t)ntypes);
    for (int32_t t = 0; t < ntypes && !bad; t++)
        bad = put_str(&p, m->types[t], strlen(m->types[t]));
    bad = bad || put_u32(&p, (uint32_t)m->cfg.window) || put_u32(&p, (uint32_t)m->cfg.affix) ||
          put_u32(&p, m->cfg.gazetteer ? 1u : 0u) || put_u32(&p, (uint32_t)m->cfg.gaz_max_len) ||
          put_u32(&p, (uint32_t)m->cfg.doc_words) || put_f32(&p, m->o_bias);
    bad = bad || put_u32(&p, (uint32_t)m->nmeta);
    for (int32_t i = 0; i < m->nmeta && !bad; i++)
        bad = put_str(&p, m->meta_keys[i], strlen(m->meta_keys[i])) ||
              put_str(&p, m->meta_vals[i], strlen(m->meta_vals[i]));
    bad = bad || put_u32(&p, (uint32_t)m->gaz.keys.n);
    for (int32_t i = 0; i < m->gaz.keys.n && !bad; i++)
        bad = put_str(&p, m->gaz.keys.keys[i], m->gaz.keys.klen[i]) ||
              put_u32(&p, m->gaz.types[i]);
    bool vocab = m->vocab.keys.n > 0;
    if (vocab) {
        bad = bad || put_u32(&p, (uint32_t)m->vocab.ncats);
        for (int32_t c = 0; c < m->vocab.ncats && !bad; c++)
            bad = put_str(&p, m->vocab.cat_names[c], strlen(m->vocab.cat_names[c]));
        bad = bad || put_u32(&p, (uint32_t)m->vocab.keys.n);
        for (int32_t i = 0; i < m->vocab.keys.n && !bad; i++)
            bad = put_str(&p, m->vocab.keys.keys[i], m->vocab.keys.klen[i]) ||
                  put_u32(&p, m->vocab.cats[i]);
    }
    bad = bad || put_u32(&p, (uint32_t)m->dims.A);
    for (int32_t i = 0; i < m->dims.A && !bad; i++)
        bad = put_str(&p, m->attrs.keys[i], m->attrs.klen[i]);
    bad = bad || put_u32(&p, (uint32_t)m->dims.D);
    int64_t nw = crf_nweights(m->dims);
    for (int64_t i = 0; i < nw && !bad; i++)
        bad = put_f32(&p, m->w[i]);
    if (bad) {
        cl_buf_free(&p);
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory while serialising the model",
                            path);
    }
    cl_buf h;
    cl_buf_init(&h);
    bad = cl_buf_append(&h, MODEL_MAGIC, 8) ||
          put_u32(&h, vocab ? MODEL_VERSION_VOCAB : MODEL_VERSION) || put_u32(&h, 0) ||
          put_u64(&h, p.len) || put_u64(&h, crf_fnv1a(p.data, p.len, CRF_FNV_INIT));
    if (bad) {
        cl_buf_free(&p);
        cl_buf_free(&h);
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    }
    cl_atomic_file f;
    cl_status st = cl_atomic_open(&f, path, err);
    if (st == CL_OK) {
        if (fwrite(h.data, 1, h.len, f.fp) != h.len || fwrite(p.data, 1, p.len, f.fp) != p.len) {
            st = cl_error_set(err, CL_ERR_IO, "%s: write error: %s", path, strerror(errno));
            cl_atomic_abort(&f);
        } else {
            st = cl_atomic_commit(&f, err);
        }
    }
    cl_buf_free(&p);
    cl_buf_free(&h);
    return st;
}

/* ---- reading ---- */

typedef struct reader {
    const unsigned char *p;
    size_t n, off;
    bool bad;
} reader;

static uint32_t get_u32(reader *r)
{
    if (r->bad || r->n - r->off < 4) {
        r->bad = true;
        return 0;
    }
    const unsigned char *c = r->p + r->off;
    r->off += 4;
    return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

static uint64_t get_u64(reader *r)
{
    uint64_t lo = get_u32(r);
    return lo | (uint64_t)get_u32(r) << 32;
}

/* Pointer to a string's bytes (not NUL-terminated) and its length. */
static const char *get_str(reader *r, size_t *len)
{
    uint32_t n = get_u32(r);
    if (r->bad || r->n - r->off < n) {
        r->bad = true;
        *len = 0;
        return NULL;
    }
    const char *s = (const char *)r->p + r->off;
    r->off += n;
    *len = n;
    return s;
}

static char *get_strdup(reader *r)
{
    size_t n;
    const char *s = get_str(r, &n);
    if (!s)
        return NULL;
    if (memchr(s, '\0', n)) { /* names and metadata are C strings */
        r->bad = true;
        return NULL;
    }
    char *c = cl_strndup(s, n);
    if (!c)
        r->bad = true;
    return c;
}

/* Type names become labels ("B-" name) and BRAT types: non-empty, printable,
 * no spaces, each once. */
static bool valid_type_names(char *const *types, uint32_t ntypes)
{
    for (uint32_t t = 0; t < ntypes; t++) {
        const unsigned char *c = (const unsigned char *)types[t];
        if (!c || !*c)
            return false;
        for (; *c; c++)
            if (*c <= ' ' || *c == 0x7f)
                return false;
        for (uint32_t u = 0; u < t; u++)
            if (strcmp(types[u], types[t]) == 0)
                return false;
    }
    return true;
}

/* The vocabulary section (version 2): category names, then keys with their
 * category masks (0 for a trie node that is only a prefix). */
static bool read_vocab(reader *r, crf_vocab *v)
{
    uint32_t ncats = get_u32(r);
    if (r->bad || ncats < 1 || ncats > CRF_VOCAB_MAX_CATS)
        return false;
    for (uint32_t c = 0; c < ncats; c++) {
        v->cat_names[c] = get_strdup(r);
        if (r->bad)
            return false;
        v->ncats = (int32_t)c + 1;
    }
    if (!valid_type_names(v->cat_names, ncats))
        return false;
    uint32_t n = get_u32(r);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        size_t len;
        const char *s = get_str(r, &len);
        uint32_t mask = get_u32(r);
        if (r->bad || (mask >> ncats) != 0 || crf_vocab_add(v, s, len, mask) != 0)
            return false;
    }
    return !r->bad && n > 0 && v->keys.n == (int32_t)n;
}

static cl_status corrupt(cl_error *err, const char *path, const char *what)
{
    return cl_error_set(err, CL_ERR_MODEL, "%s: corrupt CRF model (%s)", path, what);
}

cl_status cl_crf_model_load(const char *path, cl_crf_model **out, cl_error *err)
{
    *out = NULL;
    char *data;
    size_t size;
    cl_error e2;
    if (cl_read_file(path, &data, &size, &e2) != CL_OK)
        return cl_error_set(err, CL_ERR_MODEL, "cannot load CRF model: %s", e2.msg);
    cl_crf_model *m = NULL;
    char **types = NULL;
    uint32_t ntypes = 0;
    cl_status st = CL_OK;
    if (size < 8 || memcmp(data, MODEL_MAGIC, 8) != 0) {
        st = cl_error_set(err, CL_ERR_MODEL, "%s: not a clinner CRF model (bad magic bytes)",
                          path);
        goto done;
    }
    reader r = {(const unsigned char *)data, size, 8, false};
    uint32_t version = get_u32(&r);
    get_u32(&r);
    uint64_t plen = get_u64(&r), sum = get_u64(&r);
    if (r.bad) {
        st = cl_error_set(err, CL_ERR_MODEL, "%s: truncated CRF model (%zu bytes, header is %d)",
                          path, size, HEADER_BYTES);
        goto done;
    }
    if (version != MODEL_VERSION && version != MODEL_VERSION_VOCAB) {
        st = cl_error_set(err, CL_ERR_MODEL,
                          "%s: CRF model format version %u is not supported (this clinner reads "
                          "versions %u and %u)",
                          path, version, MODEL_VERSION, MODEL_VERSION_VOCAB);
        goto done;
    }
    if (size - HEADER_BYTES < plen) {
        st = cl_error_set(err, CL_ERR_MODEL,
                          "%s: truncated CRF model (%zu of %llu payload bytes present)", path,
                          size - HEADER_BYTES, (unsigned long long)plen);
        goto done;
    }
    if (size - HEADER_BYTES > plen) {
        st = corrupt(err, path, "trailing bytes after the payload");
        goto done;
    }
    if (crf_fnv1a(data + HEADER_BYTES, plen, CRF_FNV_INIT) != sum) {
        st = cl_error_set(err, CL_ERR_MODEL, "%s: corrupt CRF model (checksum mismatch)", path);
        goto done;
    }
    /* payload: checksummed, so errors below mean a writer bug or a forged file */
    ntypes = get_u32(&r);
    if (r.bad || ntypes < 1 || ntypes > CRF_MAX_TYPES) {
        st = corrupt(err, path, "entity type count");
        goto done;
    }
    types = calloc(ntypes, sizeof *types);
    if (!types) {
        st = cl_error_set(err, CL_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (uint32_t t = 0; t < ntypes; t++)
        types[t] = get_strdup(&r);
    if (r.bad || !valid_type_names(types, ntypes)) {
        st = corrupt(err, path, "entity type names");
        goto done;
    }
    m = crf_model_new((const char *const *)types, (int32_t)ntypes, err);
    if (!m) {
        st = err ? err->code : CL_ERR_NOMEM;
        goto done;
    }
    m->cfg.window = (int32_t)get_u32(&r);
    m->cfg.affix = (int32_t)get_u32(&r);
    m->cfg.gazetteer = get_u32(&r) != 0;
    m->cfg.gaz_max_len = (int32_t)get_u32(&r);
    m->cfg.doc_words = (int32_t)get_u32(&r);
    {
        uint32_t u = get_u32(&r);
        float f;
        memcpy(&f, &u, 4);
        m->o_bias = f;
    }
    m->gaz.max_len = m->cfg.gaz_max_len;
    if (r.bad || m->cfg.window < 0 || m->cfg.window > 2 || m->cfg.affix < 0 ||
        m->cfg.affix > 8 || m->cfg.gaz_max_len < 0 || m->cfg.gaz_max_len > 64 || m->cfg.doc_words < 0 ||
        m->cfg.doc_words > 1000 || !(m->o_bias >= 0.0 && m->o_bias < 100.0)) {
        st = corrupt(err, path, "feature configuration");
        goto done;
    }
    uint32_t nmeta = get_u32(&r);
    for (uint32_t i = 0; i < nmeta && !r.bad; i++) {
        char *k = get_strdup(&r), *v = get_strdup(&r);
        if (!r.bad && cl_crf_model_set_meta(m, k, v, err) != CL_OK)
            r.bad = true;
        free(k);
        free(v);
    }
    if (r.bad) {
        st = corrupt(err, path, "metadata");
        goto done;
    }
    uint32_t ngaz = get_u32(&r);
    for (uint32_t i = 0; i < ngaz && !r.bad; i++) {
        size_t n;
        const char *s = get_str(&r, &n);
        uint32_t mask = get_u32(&r);
        if (r.bad)
            break;
        for (int32_t t = 0; t < (int32_t)ntypes; t++)
            if ((mask & (1u << t)) && crf_gaz_add(&m->gaz, s, n, t, -1) != 0)
                r.bad = true;
    }
    if (r.bad || m->gaz.keys.n != (int32_t)ngaz) {
        st = corrupt(err, path, "gazetteer");
        goto done;
    }
    if (version == MODEL_VERSION_VOCAB && !read_vocab(&r, &m->vocab)) {
        st = corrupt(err, path, "vocabulary");
        goto done;
    }
    uint32_t A = get_u32(&r);
    for (uint32_t i = 0; i < A && !r.bad; i++) {
        size_t n;
        const char *s = get_str(&r, &n);
        bool added;
        if (!r.bad && (crf_dict_intern(&m->attrs, s, n, &added) < 0 || !added))
            r.bad = true;
    }
    if (r.bad) {
        st = corrupt(err, path, "attribute dictionary");
        goto done;
    }
    m->dims.A = (int32_t)A;
    uint32_t D = get_u32(&r);
    if (r.bad || D > (1u << 20)) {
        st = corrupt(err, path, "dense dimension");
        goto done;
    }
    m->dims.D = (int32_t)D;
    int64_t nw = crf_nweights(m->dims);
    if ((uint64_t)(r.n - r.off) != (uint64_t)nw * 4) {
        st = corrupt(err, path, "weight count");
        goto done;
    }
    m->w = malloc((size_t)nw * sizeof *m->w);
    if (!m->w) {
        st = cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory for %lld weights", path,
                          (long long)nw);
        goto done;
    }
    for (int64_t i = 0; i < nw; i++) {
        uint32_t u = get_u32(&r);
        float f;
        memcpy(&f, &u, 4);
        m->w[i] = f;
    }
    /* Training and tagging take exp() of the transition weights as they are
     * (infer.c), so one beyond +-CRF_MAX_TRANSITION would turn every
     * confidence into NaN: no model trained here has one (those of RareDis
     * are within a few units), and a NaN anywhere is a broken file. */
    for (int64_t i = 0; i < nw; i++) {
        bool trans = i >= crf_trans_off(m->dims) && i < crf_dense_off(m->dims);
        if (!isfinite(m->w[i]) || (trans && fabs(m->w[i]) > CRF_MAX_TRANSITION)) {
            char what[96];
            snprintf(what, sizeof what, "weight %lld is %g", (long long)i, m->w[i]);
            st = corrupt(err, path, what);
            goto done;
        }
    }
done:
    if (types)
        for (uint32_t t = 0; t < ntypes; t++)
            free(types[t]);
    free(types);
    free(data);
    if (st != CL_OK) {
        cl_crf_model_free(m);
        return st;
    }
    *out = m;
    return CL_OK;
}
