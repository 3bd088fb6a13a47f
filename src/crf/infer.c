/*
 * infer.c - the linear-chain CRF's mathematics: state scores, Viterbi
 * decoding, forward-backward marginals, and the negative log-likelihood with
 * its gradient that the trainer minimises.
 *
 * Forward-backward runs in scaled probability space rather than log space:
 * each position's state scores are shifted by their maximum before exp()
 * (so nothing overflows whatever the weights) and alpha/beta are normalised
 * per position (so nothing underflows however long the sentence).  That costs
 * L*L multiplications per position instead of L*L exp/log pairs, which is
 * most of the training time saved.  log Z is recovered as the sum of the log
 * scale factors plus the shifts.  The unit tests compare it against brute
 * force enumeration and finite differences.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"

void cl__crf_seq_free(crf_seq *s)
{
    if (!s)
        return;
    free(s->off);
    free(s->attr);
    free(s->labels);
    memset(s, 0, sizeof *s);
}

void cl__crf_work_init(crf_work *w, int32_t L)
{
    memset(w, 0, sizeof *w);
    w->L = L;
}

void cl__crf_work_free(crf_work *w)
{
    free(w->S);
    free(w->alpha);
    free(w->beta);
    free(w->scale);
    free(w->shift);
    free(w->expT);
    free(w->marg);
    free(w->back);
    memset(w, 0, sizeof *w);
}

int cl__crf_work_reserve(crf_work *w, int32_t T)
{
    if (!w->expT) {
        w->expT = malloc((size_t)w->L * w->L * sizeof *w->expT);
        if (!w->expT)
            return -1;
    }
    if (T <= w->cap_T)
        return 0;
    int32_t cap = T < 64 ? 64 : T;
    size_t tl = (size_t)cap * w->L;
    double *S = realloc(w->S, tl * sizeof(double));
    if (!S)
        return -1;
    w->S = S;
    double *a = realloc(w->alpha, tl * sizeof(double));
    if (!a)
        return -1;
    w->alpha = a;
    double *b = realloc(w->beta, tl * sizeof(double));
    if (!b)
        return -1;
    w->beta = b;
    double *m = realloc(w->marg, tl * sizeof(double));
    if (!m)
        return -1;
    w->marg = m;
    double *sc = realloc(w->scale, (size_t)cap * sizeof(double));
    if (!sc)
        return -1;
    w->scale = sc;
    double *sh = realloc(w->shift, (size_t)cap * sizeof(double));
    if (!sh)
        return -1;
    w->shift = sh;
    int32_t *bk = realloc(w->back, tl * sizeof(int32_t));
    if (!bk)
        return -1;
    w->back = bk;
    w->cap_T = cap;
    return 0;
}

void cl__crf_state_scores(crf_dims d, const double *w, const crf_seq *s, double *S)
{
    const int32_t L = d.L;
    const double *wd = w + crf_dense_off(d);
    for (int32_t t = 0; t < s->T; t++) {
        double *st = S + (size_t)t * L;
        for (int32_t y = 0; y < L; y++)
            st[y] = 0.0;
        for (int32_t k = s->off[t]; k < s->off[t + 1]; k++) {
            const double *wa = w + (size_t)s->attr[k] * L;
            for (int32_t y = 0; y < L; y++)
                st[y] += wa[y];
        }
        if (s->dense && d.D > 0) {
            const float *x = s->dense + (size_t)t * d.D;
            for (int32_t k = 0; k < d.D; k++) {
                double v = x[k];
                if (v == 0.0)
                    continue;
                const double *wk = wd + (size_t)k * L;
                for (int32_t y = 0; y < L; y++)
                    st[y] += v * wk[y];
            }
        }
    }
}

double cl__crf_viterbi(crf_dims d, const double *w, const double *S, int32_t T, crf_work *wk,
                   int32_t *out)
{
    const int32_t L = d.L;
    const double *tr = w + crf_trans_off(d);
    if (T <= 0)
        return 0.0;
    double *delta = wk->alpha; /* reused: T * L */
    int32_t *back = wk->back;
    memcpy(delta, S, (size_t)L * sizeof *delta);
    for (int32_t t = 1; t < T; t++) {
        const double *prev = delta + (size_t)(t - 1) * L;
        double *cur = delta + (size_t)t * L;
        for (int32_t j = 0; j < L; j++) {
            /* ties go to the lowest label id, so decoding is deterministic */
            double best = prev[0] + tr[j];
            int32_t arg = 0;
            for (int32_t i = 1; i < L; i++) {
                double v = prev[i] + tr[(size_t)i * L + j];
                if (v > best) {
                    best = v;
                    arg = i;
                }
            }
            cur[j] = best + S[(size_t)t * L + j];
            back[(size_t)t * L + j] = arg;
        }
    }
    const double *last = delta + (size_t)(T - 1) * L;
    int32_t y = 0;
    for (int32_t j = 1; j < L; j++)
        if (last[j] > last[y])
            y = j;
    double score = last[y];
    for (int32_t t = T - 1; t >= 0; t--) {
        out[t] = y;
        if (t > 0)
            y = back[(size_t)t * L + y];
    }
    return score;
}

double cl__crf_path_score(crf_dims d, const double *w, const double *S, int32_t T, const int32_t *y)
{
    const double *tr = w + crf_trans_off(d);
    double s = 0.0;
    for (int32_t t = 0; t < T; t++) {
        s += S[(size_t)t * d.L + y[t]];
        if (t > 0)
            s += tr[(size_t)y[t - 1] * d.L + y[t]];
    }
    return s;
}

double cl__crf_forward_backward(crf_dims d, const double *w, int32_t T, crf_work *wk)
{
    const int32_t L = d.L;
    const double *tr = w + crf_trans_off(d);
    double *S = wk->S, *alpha = wk->alpha, *beta = wk->beta, *scale = wk->scale;
    double *E = wk->expT;
    if (T <= 0)
        return 0.0;
    for (int32_t i = 0; i < L * L; i++)
        E[i] = exp(tr[i]);
    /* exp(state scores - max) in place; remember the shifts for log Z */
    double logz = 0.0;
    for (int32_t t = 0; t < T; t++) {
        double *st = S + (size_t)t * L;
        double mx = st[0];
        for (int32_t y = 1; y < L; y++)
            if (st[y] > mx)
                mx = st[y];
        for (int32_t y = 0; y < L; y++)
            st[y] = exp(st[y] - mx);
        wk->shift[t] = mx;
        logz += mx;
    }
    /* forward: alpha[t] normalised to sum 1; scale[t] = 1 / sum */
    double sum = 0.0;
    for (int32_t y = 0; y < L; y++) {
        alpha[y] = S[y];
        sum += alpha[y];
    }
    scale[0] = 1.0 / sum;
    for (int32_t y = 0; y < L; y++)
        alpha[y] *= scale[0];
    for (int32_t t = 1; t < T; t++) {
        const double *ap = alpha + (size_t)(t - 1) * L;
        double *ac = alpha + (size_t)t * L;
        const double *st = S + (size_t)t * L;
        for (int32_t j = 0; j < L; j++)
            ac[j] = 0.0;
        for (int32_t i = 0; i < L; i++) {
            double a = ap[i];
            const double *Ei = E + (size_t)i * L;
            for (int32_t j = 0; j < L; j++)
                ac[j] += a * Ei[j];
        }
        sum = 0.0;
        for (int32_t j = 0; j < L; j++) {
            ac[j] *= st[j];
            sum += ac[j];
        }
        scale[t] = 1.0 / sum;
        for (int32_t j = 0; j < L; j++)
            ac[j] *= scale[t];
    }
    for (int32_t t = 0; t < T; t++)
        logz -= log(scale[t]);
    /* backward with the same scale factors */
    double *bl = beta + (size_t)(T - 1) * L;
    for (int32_t y = 0; y < L; y++)
        bl[y] = scale[T - 1];
    for (int32_t t = T - 2; t >= 0; t--) {
        const double *bn = beta + (size_t)(t + 1) * L;
        const double *sn = S + (size_t)(t + 1) * L;
        double *bc = beta + (size_t)t * L;
        double v[CRF_MAX_LABELS];
        for (int32_t j = 0; j < L; j++)
            v[j] = bn[j] * sn[j];
        for (int32_t i = 0; i < L; i++) {
            const double *Ei = E + (size_t)i * L;
            double s = 0.0;
            for (int32_t j = 0; j < L; j++)
                s += Ei[j] * v[j];
            bc[i] = s * scale[t];
        }
    }
    /* state marginals: alpha * beta / scale */
    for (int32_t t = 0; t < T; t++) {
        const double *a = alpha + (size_t)t * L, *b = beta + (size_t)t * L;
        double *m = wk->marg + (size_t)t * L;
        double inv = 1.0 / scale[t];
        for (int32_t y = 0; y < L; y++)
            m[y] = a[y] * b[y] * inv;
    }
    return logz;
}

double cl__crf_seq_nll(crf_dims d, const double *w, const crf_seq *s, crf_work *wk, double *grad)
{
    const int32_t L = d.L, T = s->T;
    if (T <= 0)
        return 0.0;
    cl__crf_state_scores(d, w, s, wk->S);
    double gold = cl__crf_path_score(d, w, wk->S, T, s->labels);
    double logz = cl__crf_forward_backward(d, w, T, wk);
    if (!grad)
        return logz - gold;
    /* d nll / d w = expected counts - observed counts */
    const double *M = wk->marg;
    double *gd = grad + crf_dense_off(d);
    for (int32_t t = 0; t < T; t++) {
        const double *m = M + (size_t)t * L;
        int32_t yt = s->labels[t];
        for (int32_t k = s->off[t]; k < s->off[t + 1]; k++) {
            double *ga = grad + (size_t)s->attr[k] * L;
            for (int32_t y = 0; y < L; y++)
                ga[y] += m[y];
            ga[yt] -= 1.0;
        }
        if (s->dense && d.D > 0) {
            const float *x = s->dense + (size_t)t * d.D;
            for (int32_t k = 0; k < d.D; k++) {
                double v = x[k];
                if (v == 0.0)
                    continue;
                double *gk = gd + (size_t)k * L;
                for (int32_t y = 0; y < L; y++)
                    gk[y] += v * m[y];
                gk[yt] -= v;
            }
        }
    }
    /* transitions: p(y_t = i, y_t+1 = j) = alpha[t][i] E[i][j] S'[t+1][j] beta[t+1][j] */
    double *gt = grad + crf_trans_off(d);
    const double *E = wk->expT;
    for (int32_t t = 0; t + 1 < T; t++) {
        const double *a = wk->alpha + (size_t)t * L;
        const double *sn = wk->S + (size_t)(t + 1) * L;
        const double *bn = wk->beta + (size_t)(t + 1) * L;
        double tmp[CRF_MAX_LABELS];
        for (int32_t j = 0; j < L; j++)
            tmp[j] = sn[j] * bn[j];
        for (int32_t i = 0; i < L; i++) {
            const double *Ei = E + (size_t)i * L;
            double *g = gt + (size_t)i * L;
            double ai = a[i];
            for (int32_t j = 0; j < L; j++)
                g[j] += ai * Ei[j] * tmp[j];
        }
        gt[(size_t)s->labels[t] * L + s->labels[t + 1]] -= 1.0;
    }
    return logz - gold;
}
