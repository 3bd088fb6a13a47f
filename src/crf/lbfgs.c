/*
 * lbfgs.c - limited-memory BFGS, and OWL-QN (Andrew & Gao 2007) when an L1
 * term c1 |x|_1 is added to the smooth objective.
 *
 * Our own ~200 lines rather than liblbfgs: the method is short and well
 * understood, the trainer needs iteration callbacks (early stopping) and an
 * int64 problem size, and clinner then builds with no optimisation library.
 *
 * OWL-QN differs from L-BFGS in three places: the pseudo-gradient of the L1
 * term replaces the gradient in the search direction; the direction is
 * clipped to the orthant the pseudo-gradient points into; and every trial
 * point of the line search is projected onto the orthant of the current
 * point, so weights cross zero only by becoming exactly zero, which is what
 * makes L1 models sparse.  The line search is backtracking with the Armijo
 * condition (as CRFsuite uses for OWL-QN); curvature pairs with s'y <= 0
 * are skipped so the inverse Hessian approximation stays positive definite.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crf/crf_internal.h"

static double dot(const double *a, const double *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double l1norm(const double *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += fabs(x[i]);
    return s;
}

/* Pseudo-gradient of f + c1|x|_1 (the minimum-norm subgradient). */
static void pseudo_gradient(double *pg, const double *x, const double *g, int64_t n, double c1)
{
    for (int64_t i = 0; i < n; i++) {
        if (x[i] < 0.0)
            pg[i] = g[i] - c1;
        else if (x[i] > 0.0)
            pg[i] = g[i] + c1;
        else if (g[i] + c1 < 0.0)
            pg[i] = g[i] + c1;
        else if (g[i] - c1 > 0.0)
            pg[i] = g[i] - c1;
        else
            pg[i] = 0.0;
    }
}

int cl__crf_lbfgs(int64_t n, double *x, double *fx, crf_eval_fn eval, crf_iter_fn iter, void *ud,
              const crf_lbfgs_params *p)
{
    const int m = p->m > 0 ? p->m : 6;
    const double c1 = p->c1 > 0.0 ? p->c1 : 0.0;
    const size_t bytes = (size_t)n * sizeof(double);
    double *g = malloc(bytes), *pg = malloc(bytes), *d = malloc(bytes);
    double *xp = malloc(bytes), *gp = malloc(bytes);
    double *s = malloc(bytes * (size_t)m), *y = malloc(bytes * (size_t)m);
    double *rho = calloc((size_t)m, sizeof *rho), *alpha = calloc((size_t)m, sizeof *alpha);
    double *hist = calloc((size_t)(p->period > 0 ? p->period : 1), sizeof *hist);
    int ret = 0;
    if (!g || !pg || !d || !xp || !gp || !s || !y || !rho || !alpha || !hist) {
        ret = -1;
        goto done;
    }
    double f = eval(ud, x, g, n) + c1 * l1norm(x, n);
    if (c1 > 0.0)
        pseudo_gradient(pg, x, g, n, c1);
    else
        memcpy(pg, g, bytes);
    int stored = 0, head = 0; /* ring buffer of (s, y) pairs */
    for (int k = 1; k <= p->max_iter; k++) {
        double gnorm = sqrt(dot(pg, pg, n)), xnorm = sqrt(dot(x, x, n));
        if (gnorm / (xnorm > 1.0 ? xnorm : 1.0) <= p->epsilon)
            break;
        /* two-loop recursion: d = -H pg */
        for (int64_t i = 0; i < n; i++)
            d[i] = -pg[i];
        for (int j = 0; j < stored; j++) {
            int b = (head - 1 - j + m) % m;
            alpha[b] = rho[b] * dot(s + (size_t)b * n, d, n);
            const double *yb = y + (size_t)b * n;
            for (int64_t i = 0; i < n; i++)
                d[i] -= alpha[b] * yb[i];
        }
        if (stored > 0) {
            int b = (head - 1 + m) % m;
            const double *yb = y + (size_t)b * n;
            double gamma = 1.0 / (rho[b] * dot(yb, yb, n));
            for (int64_t i = 0; i < n; i++)
                d[i] *= gamma;
        }
        for (int j = stored - 1; j >= 0; j--) {
            int b = (head - 1 - j + m) % m;
            double beta = rho[b] * dot(y + (size_t)b * n, d, n);
            const double *sb = s + (size_t)b * n;
            for (int64_t i = 0; i < n; i++)
                d[i] += (alpha[b] - beta) * sb[i];
        }
        if (c1 > 0.0) /* keep only the components that descend along -pg */
            for (int64_t i = 0; i < n; i++)
                if (d[i] * pg[i] >= 0.0)
                    d[i] = 0.0;
        double dg = dot(d, pg, n);
        if (dg >= 0.0) { /* not a descent direction: restart from steepest descent */
            for (int64_t i = 0; i < n; i++)
                d[i] = -pg[i];
            dg = dot(d, pg, n);
            stored = 0;
        }
        /* backtracking line search */
        memcpy(xp, x, bytes);
        memcpy(gp, g, bytes);
        double fprev = f;
        double step = (k == 1) ? 1.0 / sqrt(dot(d, d, n)) : 1.0;
        int ls;
        for (ls = 0; ls < p->max_linesearch; ls++) {
            for (int64_t i = 0; i < n; i++)
                x[i] = xp[i] + step * d[i];
            if (c1 > 0.0) { /* project onto the orthant of xp (or of -pg at zero) */
                for (int64_t i = 0; i < n; i++) {
                    double orth = xp[i] != 0.0 ? xp[i] : -pg[i];
                    if (x[i] * orth <= 0.0)
                        x[i] = 0.0;
                }
            }
            f = eval(ud, x, g, n) + c1 * l1norm(x, n);
            double decrease = 0.0; /* pg . (x - xp), the first-order change */
            for (int64_t i = 0; i < n; i++)
                decrease += pg[i] * (x[i] - xp[i]);
            if (f <= fprev + 1e-4 * decrease && isfinite(f))
                break;
            step *= 0.5;
        }
        if (ls == p->max_linesearch) { /* no progress possible: keep the last good point */
            memcpy(x, xp, bytes);
            memcpy(g, gp, bytes);
            f = fprev;
            ret = 1;
            break;
        }
        if (c1 > 0.0)
            pseudo_gradient(pg, x, g, n, c1);
        else
            memcpy(pg, g, bytes);
        /* curvature pair */
        double *sb = s + (size_t)head * n, *yb = y + (size_t)head * n;
        for (int64_t i = 0; i < n; i++) {
            sb[i] = x[i] - xp[i];
            yb[i] = g[i] - gp[i];
        }
        double sy = dot(sb, yb, n);
        if (sy > 1e-12) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % m;
            if (stored < m)
                stored++;
        }
        if (iter && iter(ud, x, n, f, k) != 0)
            break;
        /* relative improvement over the last `period` iterations */
        if (p->period > 0) {
            if (k > p->period) {
                double old = hist[k % p->period];
                if ((old - f) / (fabs(f) > 1.0 ? fabs(f) : 1.0) < p->delta)
                    break;
            }
            hist[k % p->period] = f;
        }
    }
    *fx = f;
done:
    free(g);
    free(pg);
    free(d);
    free(xp);
    free(gp);
    free(s);
    free(y);
    free(rho);
    free(alpha);
    free(hist);
    return ret;
}
