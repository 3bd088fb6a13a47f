/*
 * ensemble.c - the CRF + encoder tagger (ensemble.h); its manifest: manifest.c.
 *
 * Per range of sentences: the CRF's marginals and the encoder's
 * log-probabilities, mapped onto the CRF's label order, are mixed as
 * w log p_crf + (1 - w) log p_enc (each floored at 1e-9, so one model's
 * certainty cannot veto the other outright), or, when the manifest has a
 * stacking layer, put through it (a softmax over [ln p_crf, ln p_enc] W + b,
 * fitted on out-of-fold scores: per label, how far to trust each model);
 * Viterbi over valid BIO picks
 * each sentence's labels; then the document-level type is settled on the
 * arithmetic mixture's probabilities (a plain average: it keeps the weak
 * evidence that the log mix lets the stronger model drown), or by the
 * density of its cue words in the text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clinner/crf.h"
#include "clinner/encoder.h"
#include "clinner/ensemble.h"
#include "clinner/tokenize.h"
#include "clinner/util.h"

#define ENS_FLOOR 1e-9

typedef struct ens_tagger {
    cl_crf_model *crf;
    cl_encoder *enc;
    int32_t L;            /* the CRF's labels */
    const char **labels;  /* the CRF's label names (borrowed from crf) */
    int32_t *enc_of;      /* the encoder's index of each CRF label */
    int32_t Le;           /* the encoder's labels */
    double w;
    double *stack_w;      /* 2L x L in the CRF's label order (rows: CRF then encoder
                           * features), or NULL: the log-linear mix */
    double *stack_b;      /* L */
    int32_t doc_b, doc_i, base_b, base_i; /* document-level type's labels; -1: none */
    double min_share;
    char **cues;          /* cue words (owned; a trailing '*' makes a prefix) */
    int32_t ncues;
    double cue_min;
    int32_t threads;
    cl_tagger_stats stats;
} ens_tagger;

cl_ensemble_params cl_ensemble_default_params(void)
{
    cl_ensemble_params p;
    memset(&p, 0, sizeof p);
    p.crf_weight = 0.5;
    p.doc_min_share = 0.2;
    return p;
}

static int32_t label_index(const ens_tagger *t, const char *prefix, const char *type)
{
    for (int32_t l = 0; l < t->L; l++)
        if (!strncmp(t->labels[l], prefix, 2) && !strcmp(t->labels[l] + 2, type))
            return l;
    return -1;
}

/* Token i's stacked log-probabilities into lp_row: logits from both models'
 * floored log-probabilities through the layer, then a log-softmax. */
static void stack_row(const ens_tagger *t, const float *pc, const float *lpe, int32_t i,
                      float *lp_row)
{
    const int32_t L = t->L;
    double f[128], z[64]; /* 2L features, L logits: L <= 64 (checked at open) */
    for (int32_t l = 0; l < L; l++) {
        f[l] = log(pc[(size_t)i * L + l] + ENS_FLOOR);
        f[L + l] = log(exp((double)lpe[(size_t)i * t->Le + t->enc_of[l]]) + ENS_FLOOR);
    }
    double mx = -INFINITY, sum = 0;
    for (int32_t j = 0; j < L; j++) {
        z[j] = t->stack_b[j];
        for (int32_t k = 0; k < 2 * L; k++)
            z[j] += f[k] * t->stack_w[(size_t)k * L + j];
        mx = z[j] > mx ? z[j] : mx;
    }
    for (int32_t j = 0; j < L; j++)
        sum += exp(z[j] - mx);
    for (int32_t j = 0; j < L; j++)
        lp_row[j] = (float)(z[j] - mx - log(sum));
}

/* Mix the two models' scores of n tokens: lp (log mix or the stacking
 * layer, for Viterbi) and avg (plain average of the probabilities), both
 * n x L. */
static void mix(const ens_tagger *t, const float *pc, const float *lpe, int32_t n, float *lp,
                float *avg)
{
    for (int32_t i = 0; i < n; i++)
        for (int32_t l = 0; l < t->L; l++) {
            double c = pc[(size_t)i * t->L + l];
            double e = exp((double)lpe[(size_t)i * t->Le + t->enc_of[l]]);
            lp[(size_t)i * t->L + l] =
                (float)(t->w * log(c + ENS_FLOOR) + (1.0 - t->w) * log(e + ENS_FLOOR));
            avg[(size_t)i * t->L + l] = (float)(t->w * c + (1.0 - t->w) * e);
        }
    for (int32_t i = 0; t->stack_w && i < n; i++)
        stack_row(t, pc, lpe, i, lp + (size_t)i * t->L);
}

static bool is_cue(const ens_tagger *t, const char *w, size_t n)
{
    for (int32_t i = 0; i < t->ncues; i++) {
        size_t k = strlen(t->cues[i]);
        if (k > 0 && t->cues[i][k - 1] == '*' ? n >= k - 1 && !memcmp(w, t->cues[i], k - 1)
                                              : n == k && !memcmp(w, t->cues[i], k))
            return true;
    }
    return false;
}

/* Cue words per 1,000 words of the document's text (words: runs of ASCII
 * letters, lower-cased). */
static double cue_density(const ens_tagger *t, const cl_doc *doc)
{
    char w[64];
    size_t n = 0, words = 0, cues = 0;
    for (size_t i = 0; i <= doc->text_bytes; i++) {
        unsigned char c = i < doc->text_bytes ? (unsigned char)doc->text[i] : ' ';
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            if (n < sizeof w)
                w[n] = (char)(c | 0x20);
            n++;
            continue;
        }
        if (n > 0) {
            words++;
            cues += n <= sizeof w && is_cue(t, w, n);
        }
        n = 0;
    }
    return words ? 1000.0 * (double)cues / (double)words : 0.0;
}

/* Give every doc_type / doc_base label of path[0..n) the type that holds at
 * least min_share of the two types' averaged probability over those tokens
 * (or doc_type when the text is dense in its cue words); changed[i] marks
 * the tokens retyped. */
static void settle_doc_type(const ens_tagger *t, const cl_doc *doc, const float *avg, int32_t n,
                            int32_t *path, bool *changed)
{
    double share_doc = 0, share_base = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t l = path[i];
        if (l != t->doc_b && l != t->doc_i && l != t->base_b && l != t->base_i)
            continue;
        const float *a = avg + (size_t)i * t->L;
        share_doc += a[t->doc_b] + a[t->doc_i];
        share_base += a[t->base_b] + a[t->base_i];
    }
    if (share_doc + share_base <= 0)
        return;
    bool to_doc = share_doc / (share_doc + share_base) >= t->min_share ||
                  (t->cue_min > 0 && cue_density(t, doc) >= t->cue_min);
    for (int32_t i = 0; i < n; i++) {
        int32_t l = path[i], nl = l;
        if (to_doc && (l == t->base_b || l == t->base_i))
            nl = l == t->base_b ? t->doc_b : t->doc_i;
        else if (!to_doc && (l == t->doc_b || l == t->doc_i))
            nl = l == t->doc_b ? t->base_b : t->base_i;
        changed[i] = nl != l;
        path[i] = nl;
    }
}

/* The normalized log-mix probability of label l at a token (its
 * confidence); a retyped token's is that of either type (the entity). */
static float confidence(const ens_tagger *t, const float *lp_row, int32_t l, int32_t other)
{
    double mx = lp_row[0], z = 0;
    for (int32_t k = 1; k < t->L; k++)
        mx = lp_row[k] > mx ? lp_row[k] : mx;
    for (int32_t k = 0; k < t->L; k++)
        z += exp(lp_row[k] - mx);
    double p = exp(lp_row[l] - mx) / z;
    if (other >= 0)
        p += exp(lp_row[other] - mx) / z;
    return (float)(p > 1.0 ? 1.0 : p);
}

static cl_status ens_tag(void *self, cl_doc *doc, int32_t sb, int32_t se, cl_error *err)
{
    ens_tagger *t = self;
    cl_status st0 = cl_doc_begin_tagging(doc, sb, se, err);
    if (st0 != CL_OK || sb == se)
        return st0;
    const int32_t base = doc->sentences[sb].tok_begin;
    const size_t n = (size_t)(doc->sentences[se - 1].tok_end - base);
    float *pc = malloc((n + 1) * (size_t)t->L * sizeof *pc);
    float *lpe = malloc((n + 1) * (size_t)t->Le * sizeof *lpe);
    float *lp = malloc((n + 1) * (size_t)t->L * sizeof *lp);
    float *avg = malloc((n + 1) * (size_t)t->L * sizeof *avg);
    int32_t *path = malloc((n + 1) * sizeof *path);
    bool *changed = calloc(n + 1, sizeof *changed);
    cl_status st = pc && lpe && lp && avg && path && changed
                       ? CL_OK
                       : cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    if (st == CL_OK)
        st = cl_crf_marginals(t->crf, NULL, doc, sb, se, pc, err);
    if (st == CL_OK)
        st = cl_encoder_log_probs(t->enc, doc, sb, se, t->threads, lpe, err);
    if (st == CL_OK) {
        mix(t, pc, lpe, (int32_t)n, lp, avg);
        for (int32_t s = sb; s < se; s++) {
            size_t t0 = (size_t)(doc->sentences[s].tok_begin - base);
            int32_t len = doc->sentences[s].tok_end - doc->sentences[s].tok_begin;
            cl_bio_viterbi(t->labels, t->L, lp + t0 * (size_t)t->L, len, path + t0);
        }
        if (t->doc_b >= 0)
            settle_doc_type(t, doc, avg, (int32_t)n, path, changed);
    }
    for (size_t i = 0; i < n && st == CL_OK; i++) {
        int32_t l = path[i], other = -1;
        if (changed[i]) /* the label it had before: its probability counts too */
            other = l == t->doc_b ? t->base_b : l == t->doc_i ? t->base_i
                  : l == t->base_b ? t->doc_b : t->doc_i;
        doc->tag_conf[base + (int32_t)i] = confidence(t, lp + i * (size_t)t->L, l, other);
        st = cl_doc_set_tag(doc, base + (int32_t)i, t->labels[l], err);
    }
    if (st == CL_OK) {
        t->stats.sentences += se - sb;
        t->stats.tokens += (int64_t)n;
    }
    free(pc);
    free(lpe);
    free(lp);
    free(avg);
    free(path);
    free(changed);
    return st;
}

static void ens_free(void *self)
{
    ens_tagger *t = self;
    if (!t)
        return;
    cl_crf_model_free(t->crf);
    cl_encoder_free(t->enc);
    free(t->labels);
    free(t->enc_of);
    free(t->stack_w);
    free(t->stack_b);
    for (int32_t i = 0; i < t->ncues; i++)
        free(t->cues[i]);
    free(t->cues);
    free(t);
}

static void ens_stats(void *self, cl_tagger_stats *out) { *out = ((ens_tagger *)self)->stats; }

static const cl_tagger_ops ens_ops = {
    .name = "ensemble", .tag = ens_tag, .free = ens_free, .stats = ens_stats,
};

/* Map the CRF's labels onto the encoder's: the two must have the same set. */
static cl_status match_labels(ens_tagger *t, const cl_ensemble_params *p, cl_error *err)
{
    cl_crf_model_info info;
    cl_crf_model_get_info(t->crf, &info);
    const char *const *el = cl_encoder_labels(t->enc);
    if (!el)
        return cl_error_set(err, CL_ERR_MODEL, "encoder_path: %s is a base encoder, not a tagger",
                            p->encoder_path);
    t->L = info.nlabels;
    for (t->Le = 0; el[t->Le]; t->Le++)
        ;
    t->labels = malloc((size_t)t->L * sizeof *t->labels);
    t->enc_of = malloc((size_t)t->L * sizeof *t->enc_of);
    if (!t->labels || !t->enc_of)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t l = 0; l < t->L; l++) {
        t->labels[l] = cl_crf_model_label(t->crf, l);
        t->enc_of[l] = -1;
        for (int32_t k = 0; k < t->Le; k++)
            if (!strcmp(el[k], t->labels[l]))
                t->enc_of[l] = k;
        if (t->enc_of[l] < 0)
            return cl_error_set(err, CL_ERR_MODEL,
                                "encoder_path: %s has no label %s, which the CRF %s has (the "
                                "two must be trained on the same labels)",
                                p->encoder_path, t->labels[l], p->crf_path);
    }
    if (t->Le != t->L)
        return cl_error_set(err, CL_ERR_MODEL,
                            "encoder_path: %s has %d labels, the CRF %s has %d (the two must be "
                            "trained on the same labels)",
                            p->encoder_path, t->Le, p->crf_path, t->L);
    return CL_OK;
}

static cl_status set_doc_type(ens_tagger *t, const cl_ensemble_params *p, cl_error *err)
{
    t->doc_b = t->doc_i = t->base_b = t->base_i = -1;
    if (!p->doc_type)
        return CL_OK;
    if (!p->doc_base)
        return cl_error_set(err, CL_ERR_ARG, "doc_base: needed with doc_type %s", p->doc_type);
    if (!(p->doc_min_share >= 0 && p->doc_min_share <= 1))
        return cl_error_set(err, CL_ERR_ARG, "doc_min_share: %g is not in [0, 1]",
                            p->doc_min_share);
    t->doc_b = label_index(t, "B-", p->doc_type);
    t->doc_i = label_index(t, "I-", p->doc_type);
    t->base_b = label_index(t, "B-", p->doc_base);
    t->base_i = label_index(t, "I-", p->doc_base);
    if (t->doc_b < 0 || t->doc_i < 0 || t->base_b < 0 || t->base_i < 0)
        return cl_error_set(err, CL_ERR_ARG,
                            "doc_type / doc_base: the models' labels lack B-/I- of %s or %s",
                            p->doc_type, p->doc_base);
    t->min_share = p->doc_min_share;
    if (!(p->doc_cue_min >= 0))
        return cl_error_set(err, CL_ERR_ARG, "doc_cue_min: %g is negative", p->doc_cue_min);
    t->cue_min = p->doc_ncue_words > 0 ? p->doc_cue_min : 0;
    if (p->doc_ncue_words > 0 && !(t->cues = calloc((size_t)p->doc_ncue_words, sizeof *t->cues)))
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < p->doc_ncue_words; i++, t->ncues++)
        if (!(t->cues[i] = cl_strdup(p->doc_cue_words[i])))
            return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    return CL_OK;
}

/* The stacking layer, its labels mapped onto the CRF's order. */
static cl_status set_stack(ens_tagger *t, const cl_ensemble_params *p, cl_error *err)
{
    if (!p->stack_weights && !p->stack_bias && !p->stack_labels)
        return CL_OK;
    const int32_t L = t->L, n = p->stack_nlabels;
    if (!p->stack_weights || !p->stack_bias || !p->stack_labels)
        return cl_error_set(err, CL_ERR_ARG, "stack: labels, weights and bias go together");
    if (n != L || L > 64)
        return cl_error_set(err, CL_ERR_ARG, "stack: %d labels, the models have %d", n, L);
    int32_t crf_of[64];
    for (int32_t k = 0; k < n; k++) {
        crf_of[k] = -1;
        for (int32_t l = 0; l < L; l++)
            if (!strcmp(p->stack_labels[k], t->labels[l]))
                crf_of[k] = l;
        for (int32_t j = 0; j < k && crf_of[k] >= 0; j++)
            if (crf_of[j] == crf_of[k])
                crf_of[k] = -1;
        if (crf_of[k] < 0)
            return cl_error_set(err, CL_ERR_ARG,
                                "stack: label %d (%s) is not one of the models' or comes twice",
                                k + 1, p->stack_labels[k]);
    }
    t->stack_w = malloc((size_t)(2 * L) * (size_t)L * sizeof *t->stack_w);
    t->stack_b = malloc((size_t)L * sizeof *t->stack_b);
    if (!t->stack_w || !t->stack_b)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    for (int32_t r = 0; r < 2 * n; r++) {
        int32_t src = r < n ? crf_of[r] : L + crf_of[r - n];
        for (int32_t j = 0; j < n; j++)
            t->stack_w[(size_t)src * L + crf_of[j]] = p->stack_weights[(size_t)r * n + j];
    }
    for (int32_t j = 0; j < n; j++)
        t->stack_b[crf_of[j]] = p->stack_bias[j];
    return CL_OK;
}

cl_status cl_ensemble_tagger_new(const cl_ensemble_params *p, cl_tagger *out, cl_error *err)
{
    out->ops = NULL;
    out->self = NULL;
    if (!p->crf_path || !p->encoder_path)
        return cl_error_set(err, CL_ERR_ARG, "%s: no model file given",
                            p->crf_path ? "encoder_path" : "crf_path");
    if (!(p->crf_weight >= 0 && p->crf_weight <= 1))
        return cl_error_set(err, CL_ERR_ARG, "crf_weight: %g is not in [0, 1]", p->crf_weight);
    ens_tagger *t = calloc(1, sizeof *t);
    if (!t)
        return cl_error_set(err, CL_ERR_NOMEM, "out of memory");
    t->w = p->crf_weight;
    t->threads = p->threads > 0 ? p->threads : 2;
    cl_status st = cl_crf_model_load(p->crf_path, &t->crf, err);
    if (st == CL_OK) {
        cl_crf_model_info info;
        cl_crf_model_get_info(t->crf, &info);
        if (info.dense_dim > 0)
            st = cl_error_set(err, CL_ERR_MODEL,
                              "crf_path: %s uses dense features, which an ensemble cannot give it",
                              p->crf_path);
    }
    if (st == CL_OK)
        st = cl_encoder_open(p->encoder_path, &t->enc, err);
    if (st == CL_OK)
        st = match_labels(t, p, err);
    if (st == CL_OK)
        st = set_doc_type(t, p, err);
    if (st == CL_OK)
        st = set_stack(t, p, err);
    if (st != CL_OK) {
        ens_free(t);
        return st;
    }
    out->ops = &ens_ops;
    out->self = t;
    return CL_OK;
}
