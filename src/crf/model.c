/*
 * model.c - the CRF model object and its file.
 *
 * File layout: binfile.h's container (magic "CLNRCRF\0", format version
 * 1: the header this file has had since the first release), then
 *   payload (integers little-endian): u32 ntypes + type names; feature config (window, affix,
 *            gazetteer flag, gazetteer max length, document words), f32 O bias; u32 nmeta + key/value
 *            strings; u32 ngaz + (string, u32 type mask) entries; u32 A +
 *            attribute strings; u32 D; then every weight as float32 in the
 *            layout of crf_internal.h.  Strings are u32 length + bytes.
 * Version 2 (a model trained with a vocabulary, vocab.c) adds after the
 * gazetteer: u32 ncats + category names; u32 nkeys + (string, u32 category
 * mask) entries.  Models without one are still written as version 1; both
 * are the same container (the shipped models/raredis-crf.model is a
 * version-2 file written before the container existed and loads as is).
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
#include "clinner/binfile.h"

#define MODEL_MAGIC "CLNRCRF"
#define MODEL_VERSION 1u       /* written when the model has no vocabulary */
#define MODEL_VERSION_VOCAB 2u /* version 1 plus a vocabulary after the gazetteer */
#define CRF_MAX_TRANSITION 500.0

/* ---- construction ---- */

cl_crf_model *cl__crf_model_new(const char *const *types, int32_t ntypes, cl_error *err)
{
    if (ntypes < 1 || ntypes > CRF_MAX_TYPES) {
        cl_error_set(err, CL_ERR_ARG, "a CRF needs 1 to %d entity types, not %d", CRF_MAX_TYPES,
                     ntypes);
        return NULL;
    }
    cl_crf_model *m = calloc(1, sizeof *m);
    if (!m)
        goto nomem;
    cl__crf_dict_init(&m->attrs);
    m->dims.L = 1 + 2 * ntypes;
    m->labels = calloc((size_t)m->dims.L, sizeof *m->labels);
    m->types = calloc((size_t)ntypes, sizeof *m->types);
    if (!m->labels || !m->types)
        goto nomem;
    cl__crf_gaz_init(&m->gaz, ntypes, 0);
    cl__crf_vocab_init(&m->vocab);
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
    cl__crf_dict_free(&m->attrs);
    cl__crf_gaz_free(&m->gaz);
    cl__crf_vocab_free(&m->vocab);
    free(m->w);
    for (int32_t i = 0; i < m->nmeta; i++) {
        free(m->meta_keys[i]);
        free(m->meta_vals[i]);
    }
    free(m->meta_keys);
    free(m->meta_vals);
    free(m);
}

int32_t cl__crf_model_label_id(const cl_crf_model *m, const char *tag)
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

cl_status cl_crf_model_set_train_meta(cl_crf_model *m, const cl_crf_train_params *p,
                                      cl_tokenizer_kind tokenizer, cl_format format,
                                      cl_error *err)
{
    char num[256];
    snprintf(num, sizeof num,
             "c1=%g c2=%g max_iter=%d threads=%d seed=%llu min_count=%d doc_words=%d "
             "gazetteer=%d",
             p->c1, p->c2, p->max_iter, p->threads, (unsigned long long)p->seed, p->min_count,
             p->doc_words, p->gazetteer ? 1 : 0);
    const char *vocab_name = p->vocab_path ? strrchr(p->vocab_path, '/') : NULL;
    vocab_name = vocab_name ? vocab_name + 1 : p->vocab_path;
    cl_status st = cl_crf_model_set_meta(m, "tokenizer", cl_tokenizer_name(tokenizer), err);
    if (st == CL_OK)
        st = cl_crf_model_set_meta(m, "labels", cl_crf_labels_name(p->labels), err);
    if (st == CL_OK)
        st = cl_crf_model_set_meta(m, "format", cl_format_name(format), err);
    if (st == CL_OK)
        st = cl_crf_model_set_meta(m, "params", num, err);
    if (st == CL_OK && vocab_name)
        st = cl_crf_model_set_meta(m, "vocab", vocab_name, err);
    return st;
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

static void put_cstr(cl_binw *w, const char *s) { cl_binw_str(w, s, strlen(s)); }

cl_status cl_crf_model_save(const cl_crf_model *m, const char *path, cl_error *err)
{
    cl_binw w;
    cl_binw_init(&w);
    int32_t ntypes = (m->dims.L - 1) / 2;
    cl_binw_u32(&w, (uint32_t)ntypes);
    for (int32_t t = 0; t < ntypes; t++)
        put_cstr(&w, m->types[t]);
    cl_binw_u32(&w, (uint32_t)m->cfg.window);
    cl_binw_u32(&w, (uint32_t)m->cfg.affix);
    cl_binw_u32(&w, m->cfg.gazetteer ? 1u : 0u);
    cl_binw_u32(&w, (uint32_t)m->cfg.gaz_max_len);
    cl_binw_u32(&w, (uint32_t)m->cfg.doc_words);
    cl_binw_f32(&w, (float)m->o_bias);
    cl_binw_u32(&w, (uint32_t)m->nmeta);
    for (int32_t i = 0; i < m->nmeta; i++) {
        put_cstr(&w, m->meta_keys[i]);
        put_cstr(&w, m->meta_vals[i]);
    }
    cl_binw_u32(&w, (uint32_t)m->gaz.keys.n);
    for (int32_t i = 0; i < m->gaz.keys.n; i++) {
        cl_binw_str(&w, m->gaz.keys.keys[i], m->gaz.keys.klen[i]);
        cl_binw_u32(&w, m->gaz.types[i]);
    }
    bool vocab = m->vocab.keys.n > 0;
    if (vocab) {
        cl_binw_u32(&w, (uint32_t)m->vocab.ncats);
        for (int32_t c = 0; c < m->vocab.ncats; c++)
            put_cstr(&w, m->vocab.cat_names[c]);
        cl_binw_u32(&w, (uint32_t)m->vocab.keys.n);
        for (int32_t i = 0; i < m->vocab.keys.n; i++) {
            cl_binw_str(&w, m->vocab.keys.keys[i], m->vocab.keys.klen[i]);
            cl_binw_u32(&w, m->vocab.cats[i]);
        }
    }
    cl_binw_u32(&w, (uint32_t)m->dims.A);
    for (int32_t i = 0; i < m->dims.A; i++)
        cl_binw_str(&w, m->attrs.keys[i], m->attrs.klen[i]);
    cl_binw_u32(&w, (uint32_t)m->dims.D);
    int64_t nw = crf_nweights(m->dims);
    for (int64_t i = 0; i < nw; i++)
        cl_binw_f32(&w, (float)m->w[i]);
    cl_status st = cl_binw_save(&w, path, MODEL_MAGIC,
                                vocab ? MODEL_VERSION_VOCAB : MODEL_VERSION, err);
    cl_binw_free(&w);
    return st;
}

/* ---- reading ---- */

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

static cl_status corrupt(cl_error *err, const char *path, const char *what)
{
    return cl_error_set(err, CL_ERR_MODEL, "%s: corrupt CRF model (%s)", path, what);
}

/* The entity types at the start of the payload; a new model for them. */
static cl_status read_types(cl_binr *r, const char *path, cl_crf_model **out, cl_error *err)
{
    *out = NULL;
    uint32_t ntypes = cl_binr_u32(r);
    if (r->bad || ntypes < 1 || ntypes > CRF_MAX_TYPES)
        return corrupt(err, path, "entity type count");
    char **types = calloc(ntypes, sizeof *types);
    if (!types)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (uint32_t t = 0; t < ntypes; t++)
        types[t] = cl_binr_strdup(r);
    cl_status st = CL_OK;
    if (r->bad || !valid_type_names(types, ntypes))
        st = corrupt(err, path, "entity type names");
    else if (!(*out = cl__crf_model_new((const char *const *)types, (int32_t)ntypes, err)))
        st = err ? err->code : CL_ERR_NOMEM;
    for (uint32_t t = 0; t < ntypes; t++)
        free(types[t]);
    free(types);
    return st;
}

/* Feature configuration and O bias, then metadata. */
static cl_status read_config(cl_binr *r, const char *path, cl_crf_model *m, cl_error *err)
{
    m->cfg.window = (int32_t)cl_binr_u32(r);
    m->cfg.affix = (int32_t)cl_binr_u32(r);
    m->cfg.gazetteer = cl_binr_u32(r) != 0;
    m->cfg.gaz_max_len = (int32_t)cl_binr_u32(r);
    m->cfg.doc_words = (int32_t)cl_binr_u32(r);
    m->o_bias = cl_binr_f32(r);
    m->gaz.max_len = m->cfg.gaz_max_len;
    if (r->bad || m->cfg.window < 0 || m->cfg.window > 2 || m->cfg.affix < 0 ||
        m->cfg.affix > 8 || m->cfg.gaz_max_len < 0 || m->cfg.gaz_max_len > 64 ||
        m->cfg.doc_words < 0 || m->cfg.doc_words > 1000 ||
        !(m->o_bias >= 0.0 && m->o_bias < 100.0))
        return corrupt(err, path, "feature configuration");
    uint32_t nmeta = cl_binr_u32(r);
    for (uint32_t i = 0; i < nmeta && !r->bad; i++) {
        char *k = cl_binr_strdup(r), *v = cl_binr_strdup(r);
        if (!r->bad && cl_crf_model_set_meta(m, k, v, err) != CL_OK)
            r->bad = true;
        free(k);
        free(v);
    }
    return r->bad ? corrupt(err, path, "metadata") : CL_OK;
}

/* The vocabulary section (version 2): category names, then keys with their
 * category masks (0 for a trie node that is only a prefix). */
static bool read_vocab(cl_binr *r, crf_vocab *v)
{
    uint32_t ncats = cl_binr_u32(r);
    if (r->bad || ncats < 1 || ncats > CRF_VOCAB_MAX_CATS)
        return false;
    for (uint32_t c = 0; c < ncats; c++) {
        v->cat_names[c] = cl_binr_strdup(r);
        if (r->bad)
            return false;
        v->ncats = (int32_t)c + 1;
    }
    if (!valid_type_names(v->cat_names, ncats))
        return false;
    uint32_t n = cl_binr_u32(r);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        size_t len;
        const char *s = cl_binr_str(r, &len);
        uint32_t mask = cl_binr_u32(r);
        if (r->bad || (mask >> ncats) != 0 || cl__crf_vocab_add(v, s, len, mask) != 0)
            return false;
    }
    return !r->bad && n > 0 && v->keys.n == (int32_t)n;
}

/* Gazetteer entries, the vocabulary (version 2), the attribute dictionary
 * and the dense dimension. */
static cl_status read_dictionaries(cl_binr *r, const char *path, uint32_t version,
                                   cl_crf_model *m, cl_error *err)
{
    int32_t ntypes = (m->dims.L - 1) / 2;
    uint32_t ngaz = cl_binr_u32(r);
    for (uint32_t i = 0; i < ngaz && !r->bad; i++) {
        size_t n;
        const char *s = cl_binr_str(r, &n);
        uint32_t mask = cl_binr_u32(r);
        if (r->bad)
            break;
        for (int32_t t = 0; t < ntypes; t++)
            if ((mask & (1u << t)) && cl__crf_gaz_add(&m->gaz, s, n, t, -1) != 0)
                r->bad = true;
    }
    if (r->bad || m->gaz.keys.n != (int32_t)ngaz)
        return corrupt(err, path, "gazetteer");
    if (version == MODEL_VERSION_VOCAB && !read_vocab(r, &m->vocab))
        return corrupt(err, path, "vocabulary");
    uint32_t A = cl_binr_u32(r);
    for (uint32_t i = 0; i < A && !r->bad; i++) {
        size_t n;
        const char *s = cl_binr_str(r, &n);
        bool added;
        if (!r->bad && (cl__crf_dict_intern(&m->attrs, s, n, &added) < 0 || !added))
            r->bad = true;
    }
    if (r->bad)
        return corrupt(err, path, "attribute dictionary");
    m->dims.A = (int32_t)A;
    uint32_t D = cl_binr_u32(r);
    if (r->bad || D > (1u << 20))
        return corrupt(err, path, "dense dimension");
    m->dims.D = (int32_t)D;
    return CL_OK;
}

/* Every weight, checked: training and tagging take exp() of the transition
 * weights as they are (infer.c), so one beyond +-CRF_MAX_TRANSITION would
 * turn every confidence into NaN: no model trained here has one (those of
 * RareDis are within a few units), and a NaN anywhere is a broken file. */
static cl_status read_weights(cl_binr *r, const char *path, cl_crf_model *m, cl_error *err)
{
    int64_t nw = crf_nweights(m->dims);
    if ((uint64_t)cl_binr_left(r) != (uint64_t)nw * 4)
        return corrupt(err, path, "weight count");
    m->w = malloc((size_t)nw * sizeof *m->w + 1);
    if (!m->w)
        return cl_error_set(err, CL_ERR_NOMEM, "%s: out of memory for %lld weights", path,
                            (long long)nw);
    for (int64_t i = 0; i < nw; i++)
        m->w[i] = cl_binr_f32(r);
    for (int64_t i = 0; i < nw; i++) {
        bool trans = i >= crf_trans_off(m->dims) && i < crf_dense_off(m->dims);
        if (!isfinite(m->w[i]) || (trans && fabs(m->w[i]) > CRF_MAX_TRANSITION)) {
            char what[96];
            snprintf(what, sizeof what, "weight %lld is %g", (long long)i, m->w[i]);
            return corrupt(err, path, what);
        }
    }
    return CL_OK;
}

cl_status cl_crf_model_load(const char *path, cl_crf_model **out, cl_error *err)
{
    *out = NULL;
    char *data;
    size_t size;
    cl_error e2;
    if (cl_read_file(path, &data, &size, &e2) != CL_OK)
        return cl_error_set(err, CL_ERR_MODEL, "cannot load CRF model: %s", e2.msg);
    cl_binr r;
    cl_crf_model *m = NULL;
    /* payload: checksummed, so errors after the container's checks mean a
     * writer bug or a forged file */
    uint32_t version = 0;
    cl_status st = cl_binr_open(&r, data, size, MODEL_MAGIC, MODEL_VERSION, MODEL_VERSION_VOCAB,
                                &version, path, "CRF model", CL_ERR_MODEL, err);
    if (st == CL_OK)
        st = read_types(&r, path, &m, err);
    if (st == CL_OK)
        st = read_config(&r, path, m, err);
    if (st == CL_OK)
        st = read_dictionaries(&r, path, version, m, err);
    if (st == CL_OK)
        st = read_weights(&r, path, m, err);
    free(data);
    if (st != CL_OK) {
        cl_crf_model_free(m);
        return st;
    }
    *out = m;
    return CL_OK;
}
