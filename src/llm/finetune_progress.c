/*
 * finetune_progress.c - one line of fine-tuning progress (finetune.h:
 * cl_ft_progress_line): epoch, step, loss, learning rate, tokens/s, elapsed
 * time and ETA while training; the dev loss at the end of a validation;
 * and the sentence that sums a run up (cl_finetune_result_summary).
 */
#include <stdio.h>

#include "clinner/finetune.h"

/* 42s, 12m05s, 2.5h; "?" when unknown */
static void fmt_time(double s, char *buf, size_t n)
{
    if (s < 0)
        snprintf(buf, n, "?");
    else if (s < 90)
        snprintf(buf, n, "%.0fs", s);
    else if (s < 5400)
        snprintf(buf, n, "%ldm%02lds", (long)(s / 60), (long)s % 60);
    else
        snprintf(buf, n, "%.1fh", s / 3600);
}

bool cl_ft_progress_line(const cl_ft_progress *p, char *buf, size_t n)
{
    bool last = p->step == p->nsteps;
    char eta[32], el[32];
    fmt_time(p->eta_s, eta, sizeof eta);
    fmt_time(p->elapsed_s, el, sizeof el);
    if (p->train)
        snprintf(buf, n,
                 "epoch %d/%d  step %lld/%lld  loss %.4f (last %.4f)  lr %.3g  %.0f tokens/s  "
                 "elapsed %s  ETA %s",
                 p->epoch, p->epochs, (long long)p->step, (long long)p->nsteps, p->loss,
                 p->last_loss, p->lr, p->tokens_per_s, el, eta);
    else if (last && p->epochs == 0)
        snprintf(buf, n, "validation  dev %lld windows  loss %.4f  %.0f tokens/s",
                 (long long)p->nsteps, p->loss, p->tokens_per_s);
    else if (last)
        snprintf(buf, n, "epoch %d/%d  dev %lld windows  loss %.4f  %.0f tokens/s", p->epoch,
                 p->epochs, (long long)p->nsteps, p->loss, p->tokens_per_s);
    else
        return false;
    return true;
}

void cl_finetune_result_summary(const cl_finetune_result *r, const char *out_path, char *buf,
                                size_t n)
{
    int last = r->epochs_done - 1 < 64 ? r->epochs_done - 1 : 63; /* the arrays keep 64 */
    if (last < 0)
        last = 0;
    snprintf(buf, n,
             "wrote %s: %d examples, %d epochs, first loss %.4f, last epoch train loss %.4f, "
             "dev loss %.4f, %.0f s",
             out_path, r->examples, r->epochs_done, r->first_loss, r->train_loss[last],
             r->dev_loss[last], r->seconds);
}
